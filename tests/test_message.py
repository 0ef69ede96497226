"""The message a reader receives: headers, MIME structure, personalisation, injection safety."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.header import decode_header, make_header

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from letterpress.content import load_issue
from letterpress.message import (
    MessageError,
    MessageTemplate,
    build_simple_message,
    sample_message,
)
from letterpress.render import PLACEHOLDERS, render_issue
from letterpress.settings import load_settings
from letterpress.wire import WireMessage

BASE = "https://lettre.example.org"
UNSUB = BASE + "/u/WzEsMV0.aBcDeF.signature-part_0123456789"
PREFS = BASE + "/p/WzEsMV0.aBcDeF.other-signature_9876543210"


@pytest.fixture
def msg_settings(project_dir):
    """Settings without a database: building messages never touches one."""
    return load_settings(project_dir, {"LETTERPRESS_BASE_URL": BASE})


@pytest.fixture
def rendered(msg_settings, project_dir):
    issue = load_issue(project_dir / "issues" / "2024-12-pvd-42.yaml", msg_settings)
    return render_issue(issue, msg_settings)


@pytest.fixture
def template(rendered, msg_settings):
    return MessageTemplate.from_rendered(rendered, msg_settings)


def _parse(data: bytes):
    return message_from_bytes(data, policy=policy.SMTP)


def _headers(data: bytes) -> list[tuple[str, bytes]]:
    head = data.split(b"\r\n\r\n", 1)[0]
    out = []
    for raw in re.split(rb"\r\n(?![ \t])", head):
        name, _, value = raw.partition(b":")
        out.append((name.decode("ascii"), value))
    return out


def _decoded(value: str) -> str:
    return str(make_header(decode_header(value)))


def test_headers_are_exactly_those_a_bulk_sender_needs(template, rendered):
    message_id, data = template.for_recipient("marie@example.org", "Marie Curie", UNSUB, PREFS)
    names = [n for n, _ in _headers(data)]
    for name in ("From", "To", "Date", "Message-ID", "Subject", "MIME-Version", "Content-Type",
                 "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Auto-Submitted",
                 "Precedence", "Reply-To", "Feedback-ID", "List-Archive"):
        assert names.count(name) == 1, name
    msg = _parse(data)
    assert msg["From"] == "Petites villes de demain <petitesvillesdedemain@anct.gouv.fr>"
    assert msg["To"] == "Marie Curie <marie@example.org>"
    assert msg["Reply-To"] == "petitesvillesdedemain@anct.gouv.fr"
    assert _decoded(msg["Subject"]) == rendered.subject
    assert msg["Message-ID"] == message_id
    assert re.fullmatch(r"<[0-9a-f]{32}@anct\.gouv\.fr>", message_id)
    assert msg["List-Id"] == ("Lettre d'information des Petites villes de demain "
                              "<pvd.lettres.anct.gouv.fr>")
    token = UNSUB.rsplit("/", 1)[1]
    assert " ".join(msg["List-Unsubscribe"].split()) == (
        f"<{UNSUB}>, <mailto:desinscription@lettres.anct.gouv.fr?subject=unsubscribe-{token}>")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Precedence"] == "bulk"
    assert msg["Feedback-ID"] == "pvd-42:pvd:newsletter:letterpress"
    assert msg["List-Archive"] == f"<{BASE}/pvd/>"
    assert msg["MIME-Version"] == "1.0"
    assert msg["Date"].datetime.tzinfo is not None


def test_wire_format_is_crlf_ascii_and_within_line_limits(template):
    _, data = template.for_recipient("marie@example.org", "Mårie Çurie", UNSUB, PREFS)
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert data.isascii()  # 8-bit text is quoted-printable, headers RFC 2047
    head, body = data.split(b"\r\n\r\n", 1)
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    assert max(len(line) for line in body.split(b"\r\n")) <= 76  # RFC 2045 QP limit
    assert b"\r\n." not in body  # nothing for SMTP dot-stuffing to change
    assert not any(p.encode() in data for p in PLACEHOLDERS)


def test_mime_structure_text_then_html_equal_to_the_rendered_issue(template, rendered):
    _, data = template.for_recipient("marie@example.org", "Marie <Curie> & fils", UNSUB, PREFS)
    msg = _parse(data)
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for part in parts:
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
    html, text = rendered.personalise(UNSUB, PREFS, "Marie <Curie> & fils")
    assert parts[0].get_content().replace("\r\n", "\n") == text.replace("\r\n", "\n")
    assert parts[1].get_content().replace("\r\n", "\n") == html.replace("\r\n", "\n")
    assert UNSUB in parts[0].get_content()  # the visible unsubscribe link, in both parts
    assert UNSUB in parts[1].get_content()


def test_non_ascii_names_are_encoded_and_come_back_intact(template):
    _, data = template.for_recipient("jose@example.org", "José Müller-Œuvray", UNSUB, PREFS)
    assert b"Jos\xc3\xa9" not in data
    msg = _parse(data)
    assert msg["To"].addresses[0].display_name == "José Müller-Œuvray"
    assert msg["To"].addresses[0].addr_spec == "jose@example.org"


def test_line_breaks_in_subscriber_data_never_reach_the_headers(template):
    evil = "Eve\r\nBcc: victim@example.org\r\n\r\n<script>"
    _, data = template.for_recipient("eve@example.org", evil, UNSUB, PREFS)
    names = [n.lower() for n, _ in _headers(data)]
    assert "bcc" not in names
    msg = _parse(data)
    assert "victim@example.org" not in [a.addr_spec for a in msg["To"].addresses]
    with pytest.raises(MessageError):
        template.for_recipient("eve@example.org\r\nBcc: x@example.org", "", UNSUB, PREFS)
    with pytest.raises(MessageError):
        template.for_recipient("eve@example.org", "", UNSUB + "\r\nBcc: x@example.org", PREFS)


def test_message_ids_are_unique_and_can_be_reused_for_a_resend(template):
    ids = {template.for_recipient(f"r{i}@example.org", "", UNSUB, PREFS)[0] for i in range(200)}
    assert len(ids) == 200
    mid, data = template.for_recipient("r@example.org", "", UNSUB, PREFS,
                                       message_id="<fixed@anct.gouv.fr>")
    assert mid == "<fixed@anct.gouv.fr>"
    assert b"Message-ID: <fixed@anct.gouv.fr>\r\n" in data


def test_test_sends_are_marked_in_the_subject(rendered, msg_settings):
    template = MessageTemplate.from_rendered(rendered, msg_settings, test=True)
    _, data = template.for_recipient("me@example.org", "", UNSUB, PREFS)
    assert _decoded(_parse(data)["Subject"]) == "[TEST] " + rendered.subject


def test_each_recipient_gets_only_their_own_links(template):
    _, a = template.for_recipient("a@example.org", "A", BASE + "/u/tokenA", BASE + "/p/prefA")
    _, b = template.for_recipient("b@example.org", "B", BASE + "/u/tokenB", BASE + "/p/prefB")
    text_a = "".join(p.get_content() for p in _parse(a).iter_parts())
    assert "tokenA" in text_a and "prefA" in text_a and "tokenB" not in text_a
    assert b"tokenA" not in b


def test_sample_message_is_a_complete_message_without_placeholders(rendered, msg_settings):
    data = sample_message(rendered, msg_settings)
    msg = _parse(data)
    assert msg["To"].addresses[0].addr_spec == "lectrice@example.org"
    assert not any(p.encode() in data for p in PLACEHOLDERS)
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]


def test_simple_messages_have_sender_headers_and_resist_injection(msg_settings):
    pub = msg_settings.publication("acv")
    data = build_simple_message(pub, msg_settings, "lea@example.org",
                                "Confirmez votre inscription\r\nBcc: x@example.org",
                                "Cliquez ici : https://lettre.example.org/confirm/abc",
                                "<p>Cliquez</p>", to_name="Léa")
    msg = _parse(data)
    assert msg["Bcc"] is None
    assert _decoded(msg["Subject"]) == "Confirmez votre inscription Bcc: x@example.org"
    assert msg["From"].addresses[0].display_name == "Action cœur de ville"
    assert msg["To"].addresses[0].display_name == "Léa"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Message-ID"].endswith("@anct.gouv.fr>")
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_simple_messages_keep_long_non_ascii_subjects_intact(msg_settings):
    """The email package's own folding breaks such subjects into garbled encoded words."""
    pub = msg_settings.publication("pvd")
    subject = ("[Lettre d'information des Petites villes de demain] Envoi programmé terminé : "
               "n°43 « Les rencontres régionales de l'été »")
    name = "Marie-Hélène de La Tour d'Auvergne-Lauraguais, cheffe de projet Petites villes"
    data = build_simple_message(pub, msg_settings, "mh@example.org", subject, "corps",
                                to_name=name)
    msg = _parse(data)
    assert _decoded(msg["Subject"]) == subject
    raw_to = data.split(b"\r\nTo: ", 1)[1].split(b" <mh@example.org>", 1)[0].decode()
    assert _decoded(raw_to) == name  # an RFC 2047 decoder gets the name exactly
    # CPython's address parser puts a space between encoded words; cut at spaces, the name
    # keeps its words whole (at worst a doubled space).
    assert " ".join(msg["To"].addresses[0].display_name.split()) == name
    head = data.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))


def test_long_french_subject_stays_within_rfc2047_limits(rendered, msg_settings):
    """This subject gave 76-character encoded words on 77-octet lines (RFC 2047: 75, 76)."""
    from dataclasses import replace

    subject = ("Été à Saint-Étienne : résidences d'artistes, friches réhabilitées et mobilités "
               "douces pour les élus")
    for text in (subject, subject + " 🚲"):
        template = MessageTemplate.from_rendered(replace(rendered, subject=text), msg_settings)
        _, data = template.for_recipient("marie@example.org", "Élu·e n°42 🌿", UNSUB, PREFS)
        field = [value for name, value in _headers(data) if name == "Subject"][0]
        lines = (b"Subject:" + field).split(b"\r\n")
        assert len(lines) > 1
        assert max(len(line) for line in lines) <= 76
        words = re.findall(rb"=\?[^?]+\?[bBqQ]\?[^?]*\?=", field)
        assert words and max(len(w) for w in words) <= 75
        assert _decoded(_parse(data)["Subject"]) == text
        assert str(_parse(data)["Subject"]) == text


_URL_TAIL = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~",
                    min_size=1, max_size=300)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=120), unsub=_URL_TAIL, prefs=_URL_TAIL)
@example(name=".", unsub="." * 300, prefs="a" * 74 + ".b")
def test_issue_messages_never_need_dot_stuffing(template, name, unsub, prefs):
    """The template promises the SMTP transport (WireMessage) that no line starts with a dot:
    whatever the reader's name and link tokens (dots are common in tokens), and wherever the
    quoted-printable soft breaks fall."""
    _, data = template.for_recipient("r@example.org", name, f"{BASE}/u/{unsub}",
                                     f"{BASE}/p/{prefs}")
    assert isinstance(data, WireMessage)
    assert data.endswith(b"\r\n")
    assert not data.startswith(b".") and b"\n." not in data
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert _parse(data)["To"] is not None


@settings(max_examples=400, deadline=None, database=None)
@given(text=st.one_of(
    st.text(alphabet=st.sampled_from("abcXYZ019-_~./:?&%"), max_size=400),
    st.text(max_size=200)))
@example(text="https://lettre.example.org/u/" + "W" * 46 + ".aw1RmA.fLu_s4ZfIFheAZrAeaF4u6sl")
@example(text="a" + "." * 200)
def test_personal_values_are_quoted_printable_without_leading_dots(text):
    """Links go through a fast fold (only soft breaks), anything else through b2a_qp: either
    way the value decodes back, lines keep to RFC 2045's 76, and none starts with a dot."""
    import binascii

    from letterpress.message import _qp

    text = text.replace("\r", "").replace("\n", "\r\n")
    encoded = _qp(text)
    assert binascii.a2b_qp(encoded) == text.encode("utf-8")
    lines = encoded.split(b"\r\n")
    assert all(len(line) <= 76 for line in lines)
    assert not any(line.startswith(b".") for line in lines)
