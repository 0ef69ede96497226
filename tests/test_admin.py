"""The /admin dashboard: login on every route, roles, CSRF, rate limits, the audit trail."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from letterpress.admin.models import AdminAccount, AuditEntry
from letterpress.audience import find_subscriber
from letterpress.audience.emails import email_key, key_hash
from letterpress.cli import main
from letterpress.delivery import Delivery

from .fixtures_admin import *  # noqa: F403 - fixtures
from .fixtures_admin import PASSWORDS, token_of
from .fixtures_report import *  # noqa: F403 - fixtures
from .fixtures_web import *  # noqa: F403 - fixtures

PUBLIC = {"admin.login", "admin.static"}


def admin_rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")]


def url_of(rule) -> str:
    return rule.rule.replace("<int:", "<").replace("<run_id>", "1").replace(
        "<subscriber_id>", "1").replace("<subscription_id>", "1").replace("<path:filename>",
                                                                          "admin.css")


def audit_lines(project) -> list[tuple[str, str, str, str]]:
    with project.session() as s:
        return [(e.actor, e.action, e.subject, e.detail)
                for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_every_admin_route_needs_a_login(app, report_run):
    rules = admin_rules(app)
    endpoints = {r.endpoint for r in rules}
    assert {"admin.dashboard", "admin.run_report", "admin.schedule", "admin.lists",
            "admin.subscribers", "admin.subscriber", "admin.export", "admin.unsubscribe_one",
            "admin.forget_person", "admin.audit_log", "admin.logout"} <= endpoints
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    checked = 0
    for rule in rules:
        if rule.endpoint in PUBLIC:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            r = client.open(url_of(rule), method=method)
            assert r.status_code == 302, (rule.rule, method, r.status_code)
            assert r.headers["Location"].startswith("/admin/login"), rule.rule
            assert b"@" not in r.data and b"Lettre de mars" not in r.data
            checked += 1
    assert checked >= 12
    # A forged or altered session cookie is no login either.
    client.set_cookie("lp_admin", "eyJ1IjoiY2xhaXJlIn0.forged.sig", domain="localhost",
                      path="/admin")
    assert client.get("/admin/").status_code == 302


def test_login_sets_a_strict_session_cookie(app, accounts, project):
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    token = token_of(client, "/admin/login")
    r = client.post("/admin/login?next=/admin/audit", data={
        "username": "claire", "password": PASSWORDS["claire"], "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/admin/audit"
    cookie = r.headers["Set-Cookie"]
    for flag in ("lp_admin=", "Secure", "HttpOnly", "SameSite=Strict", "Path=/admin"):
        assert flag in cookie, cookie
    page = client.get("/admin/")
    assert page.status_code == 200 and "claire" in page.get_data(as_text=True)
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'none'" in csp and "default-src 'self'" in csp
    assert "<script" not in page.get_data(as_text=True)


def test_open_redirect_after_login_is_refused(app, accounts):
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    token = token_of(client, "/admin/login")
    r = client.post("/admin/login?next=//evil.example/admin/", data={
        "username": "claire", "password": PASSWORDS["claire"], "csrf_token": token})
    assert r.headers["Location"] == "/admin/"


def test_wrong_password_and_rate_limit(app, accounts, project):
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    token = token_of(client, "/admin/login")
    for _ in range(5):
        r = client.post("/admin/login", data={"username": "claire", "password": "nope" * 4,
                                              "csrf_token": token})
        assert r.status_code == 401 and "lp_admin" not in r.headers.get("Set-Cookie", "")
        assert "incorrect" in r.get_data(as_text=True)
    r = client.post("/admin/login", data={"username": "claire", "password": PASSWORDS["claire"],
                                          "csrf_token": token})
    assert r.status_code == 429 and "Retry-After" in r.headers
    assert [a for _, a, _, _ in audit_lines(project)] == ["login-failed"] * 5
    project.clock.advance(301)
    r = client.post("/admin/login", data={"username": "claire", "password": PASSWORDS["claire"],
                                          "csrf_token": token})
    assert r.status_code == 302


def test_every_form_needs_its_csrf_token(app, login, report_run, project):
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    client.get("/admin/login")
    r = client.post("/admin/login", data={"username": "claire", "password": PASSWORDS["claire"]})
    assert r.status_code == 400
    claire = login("claire")
    with project.session() as s:
        person = find_subscriber(s, "a@orange.fr")
        sub_id, person_id = person.subscriptions[0].id, person.id
    for path in (f"/admin/subscribers/{person_id}/unsubscribe/{sub_id}",
                 f"/admin/subscribers/{person_id}/forget", f"/admin/subscribers/{person_id}/export",
                 "/admin/logout"):
        assert claire.post(path, data={"confirm": "a@orange.fr"}).status_code == 400, path
    with project.session() as s:
        assert find_subscriber(s, "a@orange.fr").subscriptions[0].status == "active"


def test_editors_read_admins_also_unsubscribe_and_erase(app, login, report_run, project):
    paul, claire = login("paul"), login("claire")
    with project.session() as s:
        person = find_subscriber(s, "a@orange.fr")
        sub_id, person_id = person.subscriptions[0].id, person.id
    for path in ("/admin/", f"/admin/runs/{report_run}", "/admin/schedule", "/admin/lists",
                 "/admin/subscribers?q=orange", f"/admin/subscribers/{person_id}", "/admin/audit"):
        assert paul.get(path).status_code == 200, path
    page = paul.get(f"/admin/subscribers/{person_id}").get_data(as_text=True)
    assert "Effacer cette personne" not in page and "Désinscrire" not in page
    token = token_of(paul, f"/admin/subscribers/{person_id}",
                     f"/admin/subscribers/{person_id}/export")
    assert paul.post(f"/admin/subscribers/{person_id}/export",
                     data={"csrf_token": token}).status_code == 200
    assert paul.get(f"/admin/subscribers/{person_id}/forget").status_code == 403
    assert paul.post(f"/admin/subscribers/{person_id}/forget",
                     data={"confirm": "a@orange.fr"}).status_code == 403
    assert paul.post(f"/admin/subscribers/{person_id}/unsubscribe/{sub_id}").status_code == 403
    page = claire.get(f"/admin/subscribers/{person_id}").get_data(as_text=True)
    assert "Effacer cette personne" in page and "Désinscrire de cette liste" in page


def test_subscriber_page_shows_what_subscribers_show_shows(login, report_run, project,
                                                           project_dir, project_env):
    claire = login("claire")
    result = CliRunner(env=project_env).invoke(main, ["-C", str(project_dir), "subscribers",
                                                      "show", "c@gmail.com"])
    with project.session() as s:
        person_id = find_subscriber(s, "c@gmail.com").id
    page = claire.get(f"/admin/subscribers/{person_id}").get_data(as_text=True)
    for needle in ("c@gmail.com", "list pvd: unsubscribed", "via form", "via one-click",
                   "(new) -> active", "active -> unsubscribed"):
        assert needle in result.output
    for needle in ("c@gmail.com", "Liste pvd : unsubscribed", "via form", "via one-click",
                   "(nouveau) → active", "active → unsubscribed", "« oui »"):
        assert needle in page, needle


def test_audit_trail_of_each_action_and_erasure_keeps_it_hashed(login, report_run, project):
    claire = login("claire")
    with project.session() as s:
        person = find_subscriber(s, "a@orange.fr")
        sub_id, person_id = person.subscriptions[0].id, person.id
    claire.get("/admin/subscribers?q=orange")
    claire.get(f"/admin/subscribers/{person_id}")
    export = claire.post(f"/admin/subscribers/{person_id}/export",
                         data={"csrf_token": token_of(claire, f"/admin/subscribers/{person_id}",
                                                      f"/admin/subscribers/{person_id}/export")})
    assert json.loads(export.data)["email"] == "a@orange.fr"
    unsub_token = token_of(claire, f"/admin/subscribers/{person_id}",
                           f"/admin/subscribers/{person_id}/unsubscribe/{sub_id}")
    r = claire.post(f"/admin/subscribers/{person_id}/unsubscribe/{sub_id}",
                    data={"csrf_token": unsub_token})
    assert r.status_code == 302
    # The confirmation: a wrong address erases nothing.
    token = token_of(claire, f"/admin/subscribers/{person_id}/forget")
    r = claire.post(f"/admin/subscribers/{person_id}/forget",
                    data={"csrf_token": token, "confirm": "b@wanadoo.fr"})
    assert r.status_code == 400 and "rien n&#39;a été effacé" in r.get_data(as_text=True)
    r = claire.post(f"/admin/subscribers/{person_id}/forget",
                    data={"csrf_token": token, "confirm": "A@Orange.fr"})
    assert r.status_code == 200 and "effacée" in r.get_data(as_text=True)
    digest = key_hash(email_key("a@orange.fr"))
    lines = audit_lines(project)
    assert [(a, act) for a, act, _, _ in lines] == [
        ("claire", "login"), ("claire", "search"), ("claire", "view-subscriber"),
        ("claire", "view-subscriber"), ("claire", "export-person"),  # each page load counts
        ("claire", "view-subscriber"), ("claire", "unsubscribe"), ("claire", "forget")]
    assert lines[1][3] == "orange"
    for _, action, subject, _ in lines[2:]:
        assert subject == f"erased:{digest}", (action, subject)
    assert "a@orange.fr" not in json.dumps(lines)
    with project.session() as s:
        assert find_subscriber(s, "a@orange.fr") is None
        ledger = s.scalars(select(Delivery.email).where(Delivery.run_id == report_run)).all()
        assert "a@orange.fr" not in ledger and f"erased:{digest}" in ledger
    dashboard = claire.get("/admin/").get_data(as_text=True)
    assert "forget" in dashboard and f"erased:{digest}" in dashboard


def test_cli_forget_also_hashes_the_audit_lines(login, report_run, project, project_dir,
                                                project_env):
    claire = login("claire")
    claire.get("/admin/subscribers?q=k@example.org")
    with project.session() as s:
        person_id = find_subscriber(s, "k@example.org").id
    claire.get(f"/admin/subscribers/{person_id}")
    CliRunner(env=project_env).invoke(main, ["-C", str(project_dir), "subscribers", "forget",
                                             "k@example.org", "--yes"], catch_exceptions=False)
    assert "k@example.org" not in json.dumps(audit_lines(project))


def test_live_progress_refreshes_without_script(login, report_run, project):
    from letterpress.delivery import SendRun

    with project.session() as s:
        s.get(SendRun, report_run).state = "sending"
    claire = login("claire")
    for path in ("/admin/", f"/admin/runs/{report_run}"):
        page = claire.get(path).get_data(as_text=True)
        assert '<meta http-equiv="refresh" content="5">' in page and "<script" not in page
        assert "<progress" in page
    page = claire.get(f"/admin/runs/{report_run}").get_data(as_text=True)
    assert page.count('<img src="data:image/svg+xml;base64,') == 6


def test_proxy_header_is_off_by_default(app, accounts):
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    r = client.get("/admin/", headers={"X-Remote-User": "claire"},
                   environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert r.status_code == 302


@pytest.fixture
def project_env(project_env, request):
    if "proxy_header_when_configured" in request.node.name:
        return {**project_env, "LETTERPRESS_ADMIN_AUTH_HEADER": "X-Remote-User"}
    return project_env


def test_proxy_header_when_configured(app, accounts, request):
    client = app.test_client()
    ok = client.get("/admin/", headers={"X-Remote-User": "paul"},
                    environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert ok.status_code == 200 and "paul" in ok.get_data(as_text=True)
    # Only from the proxy (loopback), and only for a known account.
    assert client.get("/admin/", headers={"X-Remote-User": "paul"},
                      environ_base={"REMOTE_ADDR": "203.0.113.5"}).status_code == 302
    assert client.get("/admin/", headers={"X-Remote-User": "mallory"},
                      environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 302


def test_admin_add_command(project_dir, project_env, project):
    runner = CliRunner(env=project_env)
    base = ["-C", str(project_dir), "admin", "add"]
    r = runner.invoke(main, [*base, "claire", "--role", "admin", "--password-stdin"],
                      input="un mot de passe solide\n")
    assert r.exit_code == 0 and "claire: admin" in r.output
    r = runner.invoke(main, [*base, "claire", "--password-stdin"], input="encore un autre mdp\n")
    assert r.exit_code == 1 and "already exists" in r.stderr
    r = runner.invoke(main, [*base, "bob", "--password-stdin"], input="court\n")
    assert r.exit_code == 1 and "at least 12" in r.stderr
    r = runner.invoke(main, [*base, "bob"], input="un mot de passe solide\nun mot de passe solide\n")
    assert r.exit_code == 0 and "bob: editor" in r.output
    with project.session() as s:
        hashes = {a.username: a.password_hash for a in s.scalars(select(AdminAccount))}
    assert all(h.startswith("$argon2id$") for h in hashes.values())
    assert "solide" not in json.dumps(hashes)
    out = runner.invoke(main, ["-C", str(project_dir), "admin", "list"]).output
    assert "claire\tadmin\tpassword" in out and "bob\teditor" in out
    assert [a for _, a, _, _ in audit_lines(project)] == ["account-add", "account-add"]


def test_schedule_page_shows_next_and_missed_sends(login, project):
    from datetime import UTC, datetime

    from letterpress.schedule.models import ScheduledSend

    now = datetime(2026, 3, 1, 9, tzinfo=UTC)
    project.clock.set(now)
    with project.session() as s:
        s.add(ScheduledSend(publication="pvd", issue_number=41, issue_path="issues/x.yaml",
                            subject="Lettre de février", list_name="pvd",
                            approved_content_hash="0" * 64, approved_source_hash="0" * 64,
                            planned_at=datetime(2026, 2, 17, 9, tzinfo=UTC), state="missed",
                            occurrence_key="pvd@2026-02", message="server down",
                            created_at=now, updated_at=now))
    page = login("paul").get("/admin/schedule").get_data(as_text=True)
    upcoming, missed = page.split("Envois manqués")
    assert "2026-03-17 09:00 UTC" in upcoming and "third tuesday 10:00" in upcoming
    assert "2026-02-17 09:00 UTC" in missed and "n° 41" in missed and "server down" in missed


def test_the_dashboard_exports_and_erases_what_the_command_line_does(
        login, report_run_with_returns, project):
    """Access (art. 15) includes the delivery ledger and the bounce records; erasure
    (art. 17) reaches the bounce records and writes the erasure journal that a restore
    applies again, as `subscribers forget` does."""
    from letterpress.backup import ERASURE_JOURNAL
    from letterpress.bounces.models import BounceRecord

    claire = login("claire")
    with project.session() as s:
        person_id = find_subscriber(s, "a@orange.fr").id
    export = claire.post(f"/admin/subscribers/{person_id}/export",
                         data={"csrf_token": token_of(claire, f"/admin/subscribers/{person_id}",
                                                      f"/admin/subscribers/{person_id}/export")})
    held = json.loads(export.data)
    assert [(d["run"], d["address"], d["state"]) for d in held["deliveries"]] == [
        (report_run_with_returns, "a@orange.fr", "sent")]
    assert [(b["kind"], b["status"]) for b in held["bounces"]] == [("policy", "5.7.1")]
    token = token_of(claire, f"/admin/subscribers/{person_id}/forget")
    r = claire.post(f"/admin/subscribers/{person_id}/forget",
                    data={"csrf_token": token, "confirm": "a@orange.fr"})
    assert r.status_code == 200
    digest = key_hash(email_key("a@orange.fr"))
    with project.session() as s:
        recipients = s.scalars(select(BounceRecord.recipient)).all()
    assert "a@orange.fr" not in recipients and f"erased:{digest}" in recipients
    journal = (project.settings.project_dir / ERASURE_JOURNAL).read_text(encoding="utf-8")
    assert [json.loads(line)["email_hash"] for line in journal.splitlines()] == [digest]
