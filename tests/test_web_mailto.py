"""The mailto: unsubscribe channel and the web CLI commands, on both databases."""

from __future__ import annotations

import mailbox as mailboxes
from email.message import EmailMessage

from click.testing import CliRunner

from letterpress.audience.models import Subscription
from letterpress.cli import main
from letterpress.mailto import find_tokens, ingest, iter_messages
from letterpress.web.app import redact

from .fixtures_web import *  # noqa: F403 - the web fixtures
from .fixtures_web import status_of


def _mail(subject: str, body: str = "", sender: str = "dominique@example.org") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "desinscription@lettres.anct.gouv.fr"
    msg["Subject"] = subject
    msg["Message-ID"] = "<m1@example.org>"
    msg.set_content(body or "\n")
    return msg


def test_token_in_subject_or_body(project, app, reader, signer):
    token = signer.dumps("unsubscribe", reader.subscriber_id, reader.list_id, reader.link_key)
    assert find_tokens(_mail(f"Re: unsubscribe-{token}")) == [token]
    assert find_tokens(_mail("désinscription", f"> unsubscribe-{token}\n")) == [token]
    [result] = ingest(project, [_mail(f"unsubscribe-{token}")])
    assert result.outcome == "unsubscribed" and result.sender_matches is True
    assert status_of(project, reader.subscription_id) == "unsubscribed"
    with project.session() as session:
        assert session.get(Subscription, reader.subscription_id).unsubscribe_channel == "mailto"
    [again] = ingest(project, [_mail(f"unsubscribe-{token}", sender="alias@example.net")])
    assert again.outcome == "already" and again.sender_matches is False


def test_forged_or_missing_tokens_change_nothing(project, app, reader, signer):
    token = signer.dumps("unsubscribe", reader.subscriber_id, reader.list_id, reader.link_key)
    confirm = signer.dumps("confirm", reader.subscriber_id, reader.list_id, reader.link_key)
    results = ingest(project, [_mail("unsubscribe"), _mail(f"unsubscribe-{token[:-4]}abcd"),
                               _mail(f"unsubscribe-{confirm}")])
    assert [r.outcome for r in results] == ["no-token", "invalid", "invalid"]
    assert status_of(project, reader.subscription_id) == "active"


def test_mbox_maildir_and_stdin_through_the_cli(project, project_dir, project_env, app,
                                                make_reader, signer, tmp_path):
    readers = [make_reader(f"m{i}@example.org") for i in range(3)]
    mails = [_mail(f"unsubscribe-{signer.dumps('unsubscribe', r.subscriber_id, r.list_id, r.link_key)}",
                   sender=r.email) for r in readers]
    box = mailboxes.mbox(tmp_path / "unsub.mbox")
    box.add(mails[0])
    box.flush()
    maildir = mailboxes.Maildir(tmp_path / "Maildir")
    maildir.add(mails[1])
    assert [m["From"] for m in iter_messages(tmp_path / "unsub.mbox")] == ["m0@example.org"]

    runner = CliRunner()
    env = {**project_env, "LETTERPRESS_PROJECT": str(project_dir)}
    for args, stdin in ((["unsubscribe-mail", str(tmp_path / "unsub.mbox")], None),
                        (["unsubscribe-mail", str(tmp_path / "Maildir")], None),
                        (["unsubscribe-mail"], mails[2].as_bytes())):
        result = runner.invoke(main, args, env=env, input=stdin)
        assert result.exit_code == 0, result.output
        assert "unsubscribed" in result.output
    for r in readers:
        assert status_of(project, r.subscription_id) == "unsubscribed"


def test_publish_command_puts_the_issue_in_the_archive(project, project_dir, project_env,
                                                       client):
    runner = CliRunner()
    env = {**project_env, "LETTERPRESS_PROJECT": str(project_dir)}
    result = runner.invoke(main, ["publish", "issues/2024-12-pvd-42.yaml"], env=env,
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "https://lettre.example.org/pvd/42" in result.output
    assert client.get("/pvd/42").status_code == 200


def test_commands_have_help():
    runner = CliRunner()
    for command in ("serve", "unsubscribe-mail", "publish"):
        result = runner.invoke(main, [command, "--help"])
        assert result.exit_code == 0
        assert len(result.output.splitlines()) > 4


def test_tokens_are_redacted_from_logged_paths():
    assert redact("/u/WzEsMV0.aBc.dEf") == "/u/…"
    assert redact("/u/WzEsMV0.aBc.dEf/reason") == "/u/…/reason"
    assert redact("/confirm/xyz") == "/confirm/…"
    assert redact("/pvd/42") == "/pvd/42"


def test_publish_refuses_a_draft(project_dir, project_env):
    path = project_dir / "issues/2024-12-pvd-42.yaml"
    path.write_text(path.read_text().replace("status: ready", "status: draft"))
    env = {**project_env, "LETTERPRESS_PROJECT": str(project_dir)}
    result = CliRunner().invoke(main, ["publish", str(path)], env=env)
    assert result.exit_code == 1
    assert "draft" in result.output
