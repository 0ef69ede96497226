"""``subscribers import --from brevo|mailchimp|mailjet|listmonk`` on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from letterpress.cli import main

from .fixtures_audience import *  # noqa: F403 - fixtures

PRESETS = Path(__file__).parent / "data" / "presets"


@pytest.fixture
def lp(project_dir, project_env):
    runner = CliRunner(env=project_env)

    def run(*args, ok=True):
        result = runner.invoke(main, ["-C", str(project_dir), *args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    return run


def _person(lp, email):
    return json.loads(lp("subscribers", "export-person", email).output)


def _status(lp, email):
    data = _person(lp, email)
    return data["subscriptions"][0]["status"] if data.get("subscriptions") else None


def test_brevo_export(lp):
    result = lp("subscribers", "import", "--from", "brevo", str(PRESETS / "brevo.csv"))
    assert "added 2" in result.output and "rejected 1" in result.output
    claire = _person(lp, "claire.dupont@example.org")
    assert claire["name"] == "Claire Dupont"
    assert claire["attributes"] == {"commune": "Gap", "departement": "05", "sms": "33612345678"}
    sub = claire["subscriptions"][0]
    assert sub["status"] == "active"
    assert sub["consent"]["at"].startswith("2023-04-12T09:31:05")
    assert "Brevo" in sub["consent"]["text"]
    # Blocklisted: recorded, never active, and suppressed on every list.
    assert _status(lp, "marc.blanc@example.org") == "unsubscribed"
    assert any(s["scope"] == "all lists" for s in _person(lp, "marc.blanc@example.org")
               ["suppressions"])
    again = lp("subscribers", "add", "marc.blanc@example.org", "--list", "acv-elus", ok=False)
    assert again.exit_code == 1


def test_mailchimp_audience_export_files(lp):
    for kind in ("subscribed", "unsubscribed", "cleaned"):
        lp("subscribers", "import", "--from", "mailchimp",
           str(PRESETS / f"mailchimp_{kind}_members_export.csv"))
    anne = _person(lp, "anne.roux@example.org")
    sub = anne["subscriptions"][0]
    assert (anne["name"], sub["status"]) == ("Anne Roux", "active")
    assert sub["consent"]["at"].startswith("2021-06-01T08:05:12")
    assert sub["consent"]["ip"] == "198.51.100.7"
    assert sub["confirmed_at"].startswith("2021-06-01T08:05:12")
    assert anne["attributes"]["commune"] == "Briançon"
    assert "member_rating" not in anne["attributes"] and "leid" not in anne["attributes"]
    sophie = _person(lp, "sophie.vert@example.org")["subscriptions"][0]
    assert (sophie["status"], sophie["unsubscribed_at"][:19]) == ("unsubscribed",
                                                                 "2023-03-03T09:09:09")
    assert _status(lp, "ancien@example.org") == "bounced"  # cleaned = hard bounce
    # The old contact file cannot bring the cleaned address back.
    out = lp("subscribers", "import", str(PRESETS / "mailchimp_cleaned_members_export.csv"))
    assert "suppressed" in out.stderr and "added 0" in out.output


def test_mailjet_export(lp):
    lp("subscribers", "import", "--from", "mailjet", str(PRESETS / "mailjet.csv"))
    assert _status(lp, "lucie.bleu@example.org") == "active"
    assert _person(lp, "lucie.bleu@example.org")["attributes"] == {
        "commune": "Barcelonnette", "role": "elu"}
    assert _status(lp, "henri.gris@example.org") == "unsubscribed"
    assert _status(lp, "exclu@example.org") == "unsubscribed"
    assert _status(lp, "plainte@example.org") == "complained"
    assert _status(lp, "attente@example.org") == "pending"
    listed = lp("subscribers", "list", "--status", "active").output
    assert listed.count("@example.org") == 1


def test_listmonk_export(lp):
    lp("subscribers", "import", "--from", "listmonk", str(PRESETS / "listmonk.csv"))
    ines = _person(lp, "ines.or@example.org")
    assert ines["attributes"] == {"commune": "Castellane", "departement": "04"}
    assert ines["subscriptions"][0]["consent"]["at"].startswith("2023-02-03T10:00:00")
    blocked = _person(lp, "bloque@example.org")
    assert blocked["subscriptions"][0]["status"] == "unsubscribed"
    assert any(s["scope"] == "all lists" for s in blocked["suppressions"])


def test_unknown_preset_is_a_usage_error(lp):
    result = lp("subscribers", "import", "--from", "sendgrid", str(PRESETS / "listmonk.csv"),
                ok=False)
    assert result.exit_code == 2


def test_a_file_that_is_not_the_tools_export_is_refused_as_a_whole(lp, tmp_path):
    plain = tmp_path / "subscribers.csv"
    plain.write_text("email,nom\na@example.org,A\nb@example.org,B\n", encoding="utf-8")
    result = lp("subscribers", "import", "--from", "mailchimp", str(plain), ok=False)
    assert result.exit_code == 1
    assert "not a mailchimp export" in result.stderr
    assert "a@example.org" not in lp("subscribers", "list").output
