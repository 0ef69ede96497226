"""Aggregate click and open statistics: no reader identified anywhere, scanners counted apart."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select

from letterpress.audience.models import Subscriber, Subscription
from letterpress.delivery import prepare_run, send_run
from letterpress.stats.counting import BurstDetector, is_scanner_agent
from letterpress.stats.models import IssueLink, LinkClick, OpenCount
from letterpress.stats.rewrite import link_id_for, prepare_html
from letterpress.transports import MemoryTransport

from .fixtures_delivery import *  # noqa: F403 - fixtures
from .fixtures_web import *  # noqa: F403 - fixtures

BASE = "https://lettre.example.org"
CLICK = re.compile(r'href="(https://lettre\.example\.org/c/[^"]+)"')
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36"


@pytest.fixture
def project_dir(project_dir):
    """The reference project with click and open statistics turned on for pvd."""
    toml = project_dir / "letterpress.toml"
    toml.write_text(toml.read_text().replace(
        "[publications.pvd]\n", "[publications.pvd]\nclick_stats = true\nopen_stats = true\n", 1))
    return project_dir


@pytest.fixture(autouse=True)
def _counts_written_at_once(request):
    """Counts written on every request, so the tests read them at once."""
    if "client" in request.fixturenames:
        request.getfixturevalue("app").config["LETTERPRESS_STATS_FLUSH_SECONDS"] = 0


@pytest.fixture
def sent(project, rendered, add_subscribers):
    """Issue #42 sent to 5 subscribers through a memory transport: (transport, emails)."""
    emails = add_subscribers(5)
    with project.session() as session:
        run_id = prepare_run(session, rendered, "pvd", clock=project.clock).id
    transport = MemoryTransport()
    send_run(project, run_id, transport, rendered=rendered)
    return transport, emails


def html_and_text(message):
    msg = message.message
    return (msg.get_body(("html",)).get_content(), msg.get_body(("plain",)).get_content())


def test_statistics_are_off_by_default(project_dir):
    from letterpress.settings import load_settings

    toml = project_dir / "letterpress.toml"
    toml.write_text(toml.read_text().replace("click_stats = true\nopen_stats = true\n", ""))
    pub = load_settings(project_dir, {}).publication("pvd")
    assert pub.click_stats is False and pub.open_stats is False


def test_rewrite_leaves_placeholders_mailto_and_the_text_alone():
    html = ('<html><body><a href="https://ex.org/a?x=1&amp;y=2">A <b>bold</b></a>'
            '<a class="u" href="%%LP_UNSUBSCRIBE_URL%%">unsub</a><a href="mailto:x@ex.org">m</a>'
            '<a href="https://ex.org/a?x=1&amp;y=2">again</a></body></html>')
    out, links = prepare_html(html, publication="pvd", number=42, base_url=BASE,
                              click_stats=True, open_stats=True)
    lid = link_id_for("https://ex.org/a?x=1&y=2")
    assert [(link.link_id, link.url, link.label) for link in links] == [
        (lid, "https://ex.org/a?x=1&y=2", "A bold")]
    assert out.count(f'href="{BASE}/c/pvd-42/{lid}"') == 2
    assert 'href="%%LP_UNSUBSCRIBE_URL%%"' in out and 'href="mailto:x@ex.org"' in out
    assert out.endswith(f'<img src="{BASE}/o/pvd-42.gif" width="1" height="1" alt="" '
                        'style="display:block;border:0;width:1px;height:1px"></body></html>')
    same, none = prepare_html(html, publication="pvd", number=42, base_url=BASE,
                              click_stats=False, open_stats=False)
    assert same == html and none == ()


def test_click_urls_carry_no_subscriber_identifier(project, sent):
    transport, emails = sent
    per_recipient = []
    with project.session() as session:
        ids = {str(v) for s in session.scalars(select(Subscription))
               for v in (s.id, s.subscriber_id)}
        ids |= {str(s.id) for s in session.scalars(select(Subscriber))}
    for message in transport.messages:
        html, text = html_and_text(message)
        urls = CLICK.findall(html)
        assert urls, "the HTML part goes through the click redirect"
        assert "/c/" not in text and "https://agence-cohesion-territoires.gouv.fr/" in text
        for url in urls:
            path = url.removeprefix(BASE)
            assert re.fullmatch(r"/c/pvd-42/[0-9a-f]{12}", path)
            assert not any(e.split("@")[0] in url for e in emails)
        per_recipient.append(sorted(urls))
    # Every recipient receives exactly the same click URLs: none can tell readers apart.
    assert all(urls == per_recipient[0] for urls in per_recipient)
    assert '/o/pvd-42.gif"' in html_and_text(transport.messages[0])[0]


def test_click_redirects_and_counts_per_link_per_day(project, sent, client):
    transport, emails = sent
    urls = sorted(set(CLICK.findall(html_and_text(transport.messages[0])[0])))
    with project.session() as session:
        targets = dict(session.execute(select(IssueLink.link_id, IssueLink.url)).all())
    first = urls[0]
    lid = first.rsplit("/", 1)[1]
    for i in range(3):
        response = client.get(first.removeprefix(BASE), headers={"User-Agent": BROWSER},
                              environ_base={"REMOTE_ADDR": f"192.0.2.{i}"})
        assert response.status_code == 302
        assert response.headers["Location"] == targets[lid]
    project.clock.advance(days=1)
    client.get(first.removeprefix(BASE), headers={"User-Agent": BROWSER})
    with project.session() as session:
        rows = session.scalars(select(LinkClick).order_by(LinkClick.day)).all()
        assert [(r.link_id, r.clicks, r.scanner) for r in rows] == [(lid, 3, 0), (lid, 1, 0)]
        assert rows[1].day - rows[0].day == timedelta(days=1)
        stored = " ".join(str(v) for r in rows for v in vars(r).values())
        assert not any(e in stored or e.split("@")[0] in stored for e in emails)
        assert "192.0.2" not in stored and "Mozilla" not in stored
    # Nothing stored names a reader: no column for it, no value holding one.
    for table in ("link_clicks", "open_counts", "issue_links"):
        columns = {c["name"] for c in inspect(project.engine).get_columns(table)}
        assert not columns & {"email", "subscriber_id", "subscription_id", "ip", "user_agent",
                              "token", "message_id"}


@pytest.mark.parametrize("path", [
    "/c/pvd-42/000000000000",  # unknown id
    "/c/pvd-43/{lid}",  # the id of another issue
    "/c/pvd-42/{lid}x",  # altered
    "/c/pvd-42/https:%2F%2Fevil.example",  # a target in the URL is not a target
    "/c/acv-42/{lid}",
])
def test_unknown_or_altered_links_are_404_never_a_redirect(sent, client, path, project):
    with project.session() as session:
        lid = session.scalars(select(IssueLink.link_id)).first()
    response = client.get(path.format(lid=lid), headers={"User-Agent": BROWSER})
    assert response.status_code == 404 and "Location" not in response.headers


def counts(project):
    with project.session() as session:
        return {r.link_id: (r.clicks, r.scanner) for r in session.scalars(select(LinkClick))}


def test_scanners_are_counted_apart(project, sent, client):
    transport, _ = sent
    a, b, c = sorted(set(CLICK.findall(html_and_text(transport.messages[0])[0])))[:3]
    ida, idb, idc = (u.rsplit("/", 1)[1] for u in (a, b, c))
    # HEAD: a link checker.
    assert client.head(a.removeprefix(BASE), headers={"User-Agent": BROWSER}).status_code == 302
    # A known gateway's user agent, and no user agent at all.
    client.get(a.removeprefix(BASE), headers={"User-Agent": "Mimecast-URL-Protect/1.0"})
    client.get(a.removeprefix(BASE), headers={"User-Agent": ""})
    assert counts(project) == {ida: (0, 3)}
    # A burst: one client follows three different links within seconds of each other.
    scanner = {"REMOTE_ADDR": "203.0.113.9"}
    for url in (b, c, a):
        client.get(url.removeprefix(BASE), headers={"User-Agent": BROWSER}, environ_base=scanner)
        project.clock.advance(1)
    assert counts(project) == {ida: (0, 4), idb: (0, 1), idc: (0, 1)}
    # A person reading: one link, then another a minute later; and a double click.
    person = {"REMOTE_ADDR": "198.51.100.7"}
    project.clock.advance(60)
    client.get(b.removeprefix(BASE), headers={"User-Agent": BROWSER}, environ_base=person)
    client.get(b.removeprefix(BASE), headers={"User-Agent": BROWSER}, environ_base=person)
    project.clock.advance(60)
    client.get(c.removeprefix(BASE), headers={"User-Agent": BROWSER}, environ_base=person)
    assert counts(project) == {ida: (0, 4), idb: (2, 1), idc: (1, 1)}


def test_scanner_agents():
    for agent in ("Mozilla/5.0 (compatible; Barracuda Sentinel)", "python-requests/2.31",
                  "Proofpoint URL Defense", "curl/8.5.0", "Mozilla/5.0 ... BingPreview/1.0b", ""):
        assert is_scanner_agent(agent), agent
    for agent in (BROWSER, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
                  "AppleWebKit/605.1.15 Mobile/15E148", "Mozilla/5.0 (Windows NT 10.0; Win64; "
                  "x64; rv:128.0) Gecko/20100101 Firefox/128.0 Thunderbird/128.0"):
        assert not is_scanner_agent(agent), agent


def test_burst_detector_keeps_nothing_past_its_window():
    now = [0.0]
    d = BurstDetector(seconds=5, monotonic=lambda: now[0])
    assert not d.check("pvd-42", "a", "1.2.3.4", "ua").scanner
    now[0] = 6
    assert not d.check("pvd-42", "b", "1.2.3.4", "ua").scanner
    now[0] = 7
    verdict = d.check("pvd-42", "c", "1.2.3.4", "ua")
    assert verdict.scanner and verdict.reclassify == ("b",)


def test_open_pixel_is_aggregate(project, sent, client):
    r = client.get("/o/pvd-42.gif", headers={"User-Agent": BROWSER})
    assert r.status_code == 200 and r.mimetype == "image/gif" and r.data.startswith(b"GIF89a")
    client.get("/o/pvd-42.gif", headers={"User-Agent": BROWSER})
    client.head("/o/pvd-42.gif", headers={"User-Agent": BROWSER})
    assert client.get("/o/pvd-41.gif").status_code == 404  # never sent
    assert client.get("/o/acv-1.gif").status_code == 404  # opens off for acv
    with project.session() as session:
        rows = session.scalars(select(OpenCount)).all()
        assert [(r.publication, r.issue_number, r.opens, r.scanner) for r in rows] == [
            ("pvd", 42, 2, 1)]


def test_report_counts_clicks_of_the_sent_issue(project, sent, client):
    from letterpress.report import report_for

    transport, _ = sent
    url = CLICK.findall(html_and_text(transport.messages[0])[0])[0]
    client.get(url.removeprefix(BASE), headers={"User-Agent": BROWSER})
    client.head(url.removeprefix(BASE))
    with project.session() as session:
        from letterpress.delivery import SendRun

        run_id = session.scalars(select(SendRun.id)).one()
    data = report_for(project, run_id).as_dict()
    assert data["clicks"]["total"] == 1 and data["clicks"]["scanner"] == 1
    assert data["clicks"]["links"][0]["url"].startswith("https://")
    assert data["opens"] == {"total": 0, "scanner": 0, "by_day": {}}


def test_counts_are_buffered_and_written_together(project):
    from datetime import date

    from letterpress.stats.counting import CountBuffer, Verdict

    writes = []

    def write(apply):
        writes.append(1)
        with project.session() as session:
            apply(session)

    buffer = CountBuffer(write, seconds=3600)
    day = date(2026, 3, 17)
    for _ in range(5):
        buffer.click("pvd", 42, "aaaaaaaaaaaa", day, Verdict(False))
    buffer.click("pvd", 42, "bbbbbbbbbbbb", day, Verdict(True, ("aaaaaaaaaaaa",)))
    buffer.open("pvd", 42, day, False)
    assert counts(project) == {}  # nothing written yet: the redirect never waits for the lock
    buffer.close()
    assert writes == [1]
    assert counts(project) == {"aaaaaaaaaaaa": (4, 1), "bbbbbbbbbbbb": (0, 1)}
    with project.session() as session:
        assert [(r.opens, r.scanner) for r in session.scalars(select(OpenCount))] == [(1, 0)]
