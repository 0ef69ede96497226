"""``subscribers import --from brevo|mailchimp|mailjet|listmonk`` on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .cli_runner import cli_runner
from .fixtures_audience import *  # noqa: F403 - fixtures

PRESETS = Path(__file__).parent / "data" / "presets"


@pytest.fixture
def lp(project_dir, project_env):
    return cli_runner(project_dir, project_env)


def _person(lp, email):
    return json.loads(lp("subscribers", "export-person", email).output)


def _unknown(lp, email) -> bool:
    """Whether the project holds nobody at ``email``."""
    return f"no subscriber {email}" in lp("subscribers", "show", email, ok=False).output


def _status(lp, email):
    data = _person(lp, email)
    return data["subscriptions"][0]["status"] if data.get("subscriptions") else None


def test_brevo_export(lp):
    result = lp("subscribers", "import", "--from", "brevo", str(PRESETS / "brevo.csv"))
    assert "added 2" in result.output and "rejected 1" in result.output
    # The file the user named, as written (not the converted copy in a temporary folder,
    # always UTF-8 with commas), and what was kept of it.
    assert (f"Read {PRESETS / 'brevo.csv'} as a brevo export: utf-8-sig, delimiter ';'\n"
            in result.output)
    assert (f"Kept from {PRESETS / 'brevo.csv'}: name: name; attributes: sms, commune, "
            "departement\n" in result.output)
    assert "letterpress-import-" not in result.output
    claire = _person(lp, "claire.dupont@example.org")
    assert claire["name"] == "Claire Dupont"
    # SMS_BLACKLISTED says nothing about email: neither a status nor an attribute.
    assert claire["attributes"] == {"commune": "Gap", "departement": "05", "sms": "33612345678"}
    sub = claire["subscriptions"][0]
    assert sub["status"] == "active"
    # ADDED_TIME is in the account's zone (the project's, Europe/Paris): 11:31:05 CEST.
    assert sub["consent"]["at"].startswith("2023-04-12T09:31:05")
    assert "Brevo" in sub["consent"]["text"]
    # Blocklisted: recorded, never active, and suppressed on every list.
    assert _status(lp, "marc.blanc@example.org") == "unsubscribed"
    assert any(s["scope"] == "all lists" for s in _person(lp, "marc.blanc@example.org")
               ["suppressions"])
    again = lp("subscribers", "add", "marc.blanc@example.org", "--list", "acv-elus", ok=False)
    assert again.exit_code == 1
    # No blocklisting date in Brevo: MODIFIED_TIME (08:15 CET) is the closest there is.
    marc = _person(lp, "marc.blanc@example.org")["subscriptions"][0]
    assert marc["unsubscribed_at"].startswith("2024-02-01T07:15:00")


def test_a_brevo_blocklist_value_that_is_neither_yes_nor_no_is_never_active(lp, tmp_path):
    source = tmp_path / "contacts.csv"
    source.write_text("EMAIL;ADDED_TIME;MODIFIED_TIME;EMAIL_BLACKLISTED\n"
                      "oui@example.org;2023-01-01 10:00:00;2024-01-01 10:00:00;peut-être\n"
                      "vide@example.org;2023-01-01 10:00:00;2024-01-01 10:00:00;\n"
                      "non@example.org;2023-01-01 10:00:00;2024-01-01 10:00:00;NON\n",
                      encoding="utf-8")
    lp("subscribers", "import", "--from", "brevo", str(source))
    assert _status(lp, "oui@example.org") == "unsubscribed"
    assert _status(lp, "vide@example.org") == _status(lp, "non@example.org") == "active"


def test_brevo_export_without_its_blocklist_column_is_refused(lp, tmp_path):
    # Without EMAIL_BLACKLISTED, the blocklisted contacts would be imported as active.
    lines = (PRESETS / "brevo.csv").read_text(encoding="utf-8").splitlines()
    cut = [";".join(line.split(";")[:8]) for line in lines]
    partial = tmp_path / "contacts.csv"
    partial.write_text("\n".join(cut) + "\n", encoding="utf-8")
    result = lp("subscribers", "import", "--from", "brevo", str(partial), ok=False)
    assert result.exit_code == 1
    assert "EMAIL_BLACKLISTED" in result.stderr
    assert "example.org" not in lp("subscribers", "list").output


def test_mailchimp_audience_export_files(lp, tmp_path):
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
    # The history names the file the user gave, not the converted copy.
    shown = lp("subscribers", "show", "ancien@example.org").output
    assert "mailchimp_cleaned_members_export.csv line 2" in shown
    assert ".mailchimp.csv" not in shown
    # The old contact file cannot bring the cleaned address back.
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("email;nom\nancien@example.org;Ancien\n", encoding="utf-8")
    out = lp("subscribers", "import", str(contacts))
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
    # UnsubscribedAt (contact) and IsUnsub (the list's subscription) both unsubscribe.
    henri = _person(lp, "henri.gris@example.org")["subscriptions"][0]
    assert henri["unsubscribed_at"].startswith("2023-05-06T07:08:09")
    assert _status(lp, "liste@example.org") == "unsubscribed"
    # The exclusion list covers every list, from the date the exclusion was set.
    exclu = _person(lp, "exclu@example.org")
    assert any(s["scope"] == "all lists" for s in exclu["suppressions"])
    assert exclu["subscriptions"][0]["unsubscribed_at"].startswith("2022-09-10T11:12:13")
    assert _person(lp, "henri.gris@example.org")["attributes"] == {
        "commune": "Forcalquier", "role": "agent"}


def test_mailjet_export_without_its_status_columns_is_refused(lp, tmp_path):
    plain = tmp_path / "contacts.csv"
    plain.write_text("Email,Name,CreatedAt\na@example.org,A,2022-03-04T10:11:12Z\n",
                     encoding="utf-8")
    result = lp("subscribers", "import", "--from", "mailjet", str(plain), ok=False)
    assert result.exit_code == 1 and "IsExcludedFromCampaigns" in result.stderr
    assert "a@example.org" not in lp("subscribers", "list").output


def test_listmonk_export(lp):
    lp("subscribers", "import", "--from", "listmonk", str(PRESETS / "listmonk.csv"))
    ines = _person(lp, "ines.or@example.org")
    assert ines["attributes"] == {"commune": "Castellane", "departement": "04"}
    assert ines["subscriptions"][0]["consent"]["at"].startswith("2023-02-03T10:00:00")
    blocked = _person(lp, "bloque@example.org")
    assert blocked["subscriptions"][0]["status"] == "unsubscribed"
    assert any(s["scope"] == "all lists" for s in blocked["suppressions"])
    # Go's time.Time.String() with its offset: 11:00 +0100 is 10:00 UTC; -0300 likewise.
    assert blocked["subscriptions"][0]["unsubscribed_at"].startswith("2024-04-05T06:07:08")
    disabled = _person(lp, "desactive@example.org")["subscriptions"][0]
    assert disabled["status"] == "unsubscribed"
    assert disabled["unsubscribed_at"].startswith("2022-07-08T12:10:11")
    assert disabled["consent"]["at"].startswith("2021-05-06T10:08:09")


@pytest.mark.parametrize(("preset", "status"), [("listmonk-unsubscribed", "unsubscribed"),
                                                ("listmonk-unconfirmed", "pending")])
def test_listmonk_list_export_filtered_on_its_subscription_status(lp, preset, status):
    # listmonk's CSV has the subscriber status only; the list status is the export's filter.
    lp("subscribers", "import", "--from", preset, str(PRESETS / "listmonk.csv"))
    assert _status(lp, "ines.or@example.org") == status
    assert _status(lp, "bloque@example.org") == "unsubscribed"
    listed = lp("subscribers", "list", "--status", "active").output
    assert "@example.org" not in listed


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


def test_an_export_with_a_byte_neither_utf8_nor_windows_1252_is_refused(lp, tmp_path):
    # The rewritten file is UTF-8: the byte would become a replacement character there.
    text = (PRESETS / "brevo.csv").read_text(encoding="utf-8")
    broken = tmp_path / "contacts.csv"
    broken.write_bytes(text.encode("cp1252", errors="replace").replace(b"Claire", b"Cl\x8dire"))
    result = lp("subscribers", "import", "--from", "brevo", str(broken), ok=False)
    assert result.exit_code == 1
    assert "byte 0x8D at line" in result.stderr and "save the file as CSV UTF-8" in result.stderr
    assert "example.org" not in lp("subscribers", "list").output


def test_mailchimp_non_subscribed_file_is_refused(lp, tmp_path):
    # Shop customers who never opted in: the same columns as the subscribed file, so the
    # name is what tells them apart; imported, they would be mailed without consent.
    named = tmp_path / "nonsubscribed_members_export_5d2f1a.csv"
    named.write_bytes((PRESETS / "mailchimp_subscribed_members_export.csv").read_bytes())
    result = lp("subscribers", "import", "--from", "mailchimp", str(named), ok=False)
    assert result.exit_code == 1
    assert "never opted in" in result.stderr and str(named) in result.stderr
    assert "example.org" not in lp("subscribers", "list").output


@pytest.mark.parametrize("name", ["mailchimp_unsubscribed_members_export.csv", "brevo.csv",
                                  "mailjet.csv", "listmonk.csv"])
def test_another_tools_export_is_refused_without_its_preset(lp, name):
    # Read as a plain file, its unsubscribed, cleaned and blocklisted people would be active.
    tool = name.split("_")[0].removesuffix(".csv")
    result = lp("subscribers", "import", str(PRESETS / name), ok=False)
    assert result.exit_code == 1
    assert f"--from {tool}" in result.stderr
    assert "example.org" not in lp("subscribers", "list", "--status", "all").output


def test_a_stray_quote_in_a_tool_export_refuses_its_line_only(lp, tmp_path):
    """The rows after a quote left open are read as rows of their own, as a plain import
    reads them: a blocklisted contact among them keeps its objection, and nobody's address
    ends up in another person's name."""
    export = tmp_path / "contacts.csv"
    export.write_text("EMAIL;PRENOM;NOM;EMAIL_BLACKLISTED\n"
                      "r1@example.org;Un;R;No\n"
                      'r2@example.org;"Deux;R;No\n'
                      "r3@example.org;Trois;R;Yes\n"
                      "r4@example.org;Quatre;R;No\n", encoding="utf-8")
    result = lp("subscribers", "import", "--from", "brevo", str(export))
    assert ("line 3: rejected 'r2@example.org': a double quote opened on line 3 is not closed"
            in result.output)
    assert "4 rows: added 3, updated 0, unchanged 0, rejected 1" in result.output
    assert _unknown(lp, "r2@example.org")
    assert _status(lp, "r3@example.org") == "unsubscribed"
    assert any(s["scope"] == "all lists" for s in _person(lp, "r3@example.org")["suppressions"])
    assert _person(lp, "r4@example.org")["name"] == "Quatre R"


def test_a_tool_export_keeps_its_line_numbers_after_a_value_over_two_lines(lp, tmp_path):
    export = tmp_path / "subscribed_members_export_x.csv"
    export.write_text('Email Address,First Name,Last Name,NOTES\n'
                      'a@example.org,Anne Marie,A,"vue au salon\nà rappeler"\n'
                      "pas-valide,B,B,\nc@example.org,C,C,\n", encoding="utf-8")
    result = lp("subscribers", "import", "--from", "mailchimp", str(export))
    assert "line 4: rejected 'pas-valide'" in result.output
    history = _person(lp, "c@example.org")["subscriptions"][0]["events"]
    assert history[0]["detail"] == "subscribed_members_export_x.csv line 5"
    assert _person(lp, "a@example.org")["name"] == "Anne Marie A"


def test_a_flag_or_status_the_tool_file_does_not_say_plainly_is_never_active(lp, tmp_path):
    """Mailjet: a stop flag that is not a plain false stops (as Brevo's blocklist does);
    listmonk: a row without a status listmonk writes is refused, not imported active."""
    mailjet = tmp_path / "mailjet.csv"
    header = (PRESETS / "mailjet.csv").read_text(encoding="utf-8").splitlines()[0]
    mailjet.write_text(header + "\n107,peutetre@example.org,Peut Etre,2022-03-04T10:11:12Z,"
                       "1,,maybe,false,false,,,,,false,Apt,\n", encoding="utf-8")
    lp("subscribers", "import", "--from", "mailjet", str(mailjet))
    assert _status(lp, "peutetre@example.org") == "unsubscribed"
    listmonk = tmp_path / "listmonk.csv"
    listmonk.write_text("uuid,email,name,attributes,status,created_at,updated_at\n"
                        "3b1c,vide@example.org,Vide,{},,2023-02-03 11:00:00 +0000 UTC,"
                        "2023-02-03 11:00:00 +0000 UTC\n"
                        "4b1c,ok@example.org,Ok,{},enabled,2023-02-03 11:00:00 +0000 UTC,"
                        "2023-02-03 11:00:00 +0000 UTC\n", encoding="utf-8")
    result = lp("subscribers", "import", "--from", "listmonk", str(listmonk))
    assert ("line 2: rejected 'vide@example.org': listmonk status '' is none of enabled, "
            "disabled, blocklisted") in result.output
    assert "2 rows: added 1, updated 0, unchanged 0, rejected 1" in result.output
    assert _status(lp, "ok@example.org") == "active"
    assert _unknown(lp, "vide@example.org")
