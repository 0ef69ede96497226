"""``letterpress report``: every figure against the hand-computed fixture, on both databases."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from letterpress.cli import main
from letterpress.report import provider_of, render_text, report_for

from .fixtures_report import *  # noqa: F403 - fixtures
from .fixtures_report import EXPECTED, EXPECTED_RETURNS, LINK_A, LINK_B


@pytest.fixture
def lp(project_dir, project_env):
    runner = CliRunner(env=project_env)

    def run(*args, code=0):
        result = runner.invoke(main, ["-C", str(project_dir), *args], catch_exceptions=False)
        assert result.exit_code == code, result.output + result.stderr
        return result

    return run


def test_provider_table_in_one_place():
    assert provider_of("Jean@Wanadoo.FR") == "Orange/Wanadoo"
    assert provider_of("x@orange.fr") == "Orange/Wanadoo"
    assert provider_of("x@googlemail.com") == "Gmail"
    assert provider_of("x@hotmail.fr") == provider_of("x@outlook.com") == "Microsoft"
    assert provider_of("x@free.fr") == "Free"
    assert provider_of("x@neuf.fr") == "SFR"
    assert provider_of("x@laposte.net") == "La Poste"
    assert provider_of("x@ymail.com") == "Yahoo"
    assert provider_of("x@me.com") == "Apple"
    assert provider_of("x@anct.gouv.fr") == "autres"
    assert provider_of("erased:abc123") == "autres"


def test_each_figure_matches_the_hand_computed_fixture(project, report_run):
    data = report_for(project, report_run).as_dict()
    assert data["deliveries"] == EXPECTED["deliveries"]
    assert data["bounces"] == EXPECTED["bounces"]
    assert data["complaints"] == EXPECTED["complaints"]
    assert data["unsubscribes"] == EXPECTED["unsubscribes"]
    assert data["new_subscriptions"] == EXPECTED["new_subscriptions"]
    for name, value in EXPECTED["rates"].items():
        assert data["rates"][name] == pytest.approx(value)
    assert data["rates"]["complaint_limit"] == 0.003
    assert data["rates"]["complaints_over_limit"] is True
    providers = {row.pop("provider"): row for row in data["providers"]}
    assert providers == EXPECTED["providers"]
    assert list(providers) == list(EXPECTED["providers"])  # the table's order
    clicks = data["clicks"]
    assert (clicks["total"], clicks["scanner"]) == (5, 2)
    assert clicks["by_day"] == EXPECTED["clicks"]["by_day"]
    assert [link["url"] for link in clicks["links"]] == [LINK_A, LINK_B]
    assert [(link["clicks"], link["scanner"]) for link in clicks["links"]] == [(4, 0), (1, 2)]
    assert data["run"]["attribution_until"].startswith("2026-04-21T09:00")


def test_async_outcomes_match_the_hand_computed_fixture(project, report_run_with_returns):
    data = report_for(project, report_run_with_returns).as_dict()
    assert data["bounces"] == EXPECTED_RETURNS["bounces"]
    assert data["async_outcomes"] == EXPECTED_RETURNS["async_outcomes"]
    assert data["complaints"] == EXPECTED_RETURNS["complaints"]
    for name, value in EXPECTED_RETURNS["rates"].items():
        assert data["rates"][name] == pytest.approx(value)
    # The sender-policy rejection left its reader alone: still active, not suppressed.
    from letterpress.audience import find_subscriber
    from letterpress.audience.emails import email_key, key_hash
    from letterpress.audience.suppression import suppression_for

    with project.session() as s:
        person = find_subscriber(s, "a@orange.fr")
        assert [sub.status for sub in person.subscriptions] == ["active"]
        assert suppression_for(s, key_hash(email_key("a@orange.fr")), "pvd") is None


def test_async_outcomes_without_returns_are_zero(project, report_run):
    data = report_for(project, report_run).as_dict()
    assert data["async_outcomes"] == {"hard": 0, "soft": 0, "complaint": 0,
                                      "sender_policy": 0}


def test_sender_policy_is_a_sender_problem_in_every_format(lp, report_run_with_returns,
                                                           tmp_path):
    out = lp("report", str(report_run_with_returns)).output
    assert "(during sending 1, reported later 2)" in out
    assert "soft bounces reported later" in out
    assert "(hard 2, soft 1, complaints 1, sender policy 1)" in out
    sender = out[out.index("Sender problems"):]
    assert "refused by receiving policy" in sender and "        1" in sender
    data = json.loads(lp("report", str(report_run_with_returns), "--json").output)
    assert data["async_outcomes"]["sender_policy"] == 1
    assert data["bounces"]["total"] == 3  # the policy rejection is not a reader's bounce
    page = tmp_path / "report.html"
    lp("report", str(report_run_with_returns), "--html", "-o", str(page))
    html = page.read_text(encoding="utf-8")
    assert "problème d&#39;expéditeur" in html or "problème d'expéditeur" in html
    assert "politique d&#39;expéditeur 1" in html or "politique d'expéditeur 1" in html


def test_window_is_open_until_now_for_the_latest_run(project, report_run):
    with project.session() as s:
        from letterpress.delivery import SendRun

        s.query(SendRun).filter(SendRun.issue_number == 43).delete()
    data = report_for(project, report_run).as_dict()
    # i@yahoo.fr's unsubscribe of 04-25 now falls in the window.
    assert data["unsubscribes"]["total"] == 4
    assert data["unsubscribes"]["by_channel"]["one-click"] == 2
    assert data["new_subscriptions"] == 3  # o@free.fr of 04-22 too


def test_report_in_the_terminal(lp, report_run):
    out = lp("report", str(report_run)).output
    assert "Run 1: pvd#42 «Lettre de mars» → list pvd (done)" in out
    assert "sent" in out and "      7" in out
    assert "ABOVE THE LIMIT" in out and "(Gmail/Yahoo limit 0.3 %)" in out
    assert "14.286 %" in out  # 1 complaint / 7 sent
    assert "Orange/Wanadoo" in out and "La Poste" in out and "autres" in out
    assert "(during sending 1, reported later 1)" in out
    assert "(admin 1, one-click 1, page 1)" in out
    assert out.index(LINK_A) < out.index(LINK_B)


def test_report_as_json(lp, report_run):
    data = json.loads(lp("report", str(report_run), "--json").output)
    assert data["deliveries"] == EXPECTED["deliveries"]
    assert data["unsubscribes"]["by_day"] == EXPECTED["unsubscribes"]["by_day"]


def test_unknown_run_is_a_clear_error(lp, report_run):
    result = lp("report", "999", code=1)
    assert "999" in result.stderr


def test_html_needs_an_output_file(lp, report_run):
    assert "-o" in lp("report", str(report_run), "--html", code=2).stderr


def test_text_report_of_an_empty_run_has_no_rates(project, report_run):
    from letterpress.delivery import SendRun

    with project.session() as s:
        run = s.query(SendRun).filter(SendRun.issue_number == 43).one()
        run_id = run.id
    text = render_text(report_for(project, run_id))
    assert "complaints / sent" in text and "—" in text


def test_list_growth_month_by_month(project, report_run):
    from letterpress.report.series import list_growth

    with project.read_session() as s:
        g = list_growth(s, "pvd", now=project.clock.now())
    assert g.months[0] == "2025-06" and g.months[-1] == "2026-05"
    # 12 subscribed in January; in March p, m and n arrive, c, e, b, k unsubscribe and d, g, h
    # bounce or complain; in April o arrives and i leaves.  8 are active today.
    assert g.size == [0] * 7 + [12, 12, 8, 8, 8]
    assert g.subscribes == [0] * 7 + [12, 0, 3, 1, 0]
    assert g.unsubscribes == [0] * 9 + [4, 1, 0]
    assert g.other_departures == [0] * 9 + [3, 0, 0]


def test_delivery_timeline_counts_every_accepted_message(project, report_run):
    from letterpress.report.series import delivery_timeline

    with project.read_session() as s:
        points = delivery_timeline(s, report_run)
    assert sum(n for _, n in points) == 7
    assert points[0][0].strftime("%H:%M") == "09:01"


def test_html_report_is_self_contained(lp, report_run, tmp_path, browser, output_dir):
    path = tmp_path / "report.html"
    lp("report", str(report_run), "--html", "-o", str(path))
    page = path.read_text()
    assert "<script" not in page.lower()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "url(" not in page and "@import" not in page and "@font-face" not in page
    for key in ("deliveries", "providers", "clicks_links", "clicks_days", "growth", "movements"):
        assert f'id="chart-{key}"' in page
    assert page.count("<svg") >= 6
    assert "Taux de plaintes au-dessus de la limite" in page
    assert '<html lang="fr">' in page
    requests = []
    for width in (1280, 375):
        ctx = browser.new_context(viewport={"width": width, "height": 900})
        tab = ctx.new_page()
        tab.on("request", lambda r: requests.append(r.url))
        tab.goto(path.as_uri())
        assert tab.locator("figure svg").count() == 6
        tab.screenshot(path=str(output_dir / f"report-{width}.png"), full_page=True)
        ctx.close()
    assert all(url.startswith("file:") for url in requests)
