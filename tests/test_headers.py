"""Header encoding within RFC 2047 and RFC 5322 for any input, checked as properties.

Every header letterpress encodes (Subject, display names in From/Reply-To/To, List-Id) is
generated here from many strings — emoji, combining characters, controls and line breaks,
long words, mixed ASCII and non-ASCII — and must stay within the limits and decode back.
"""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.utils import parseaddr

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from letterpress.content import load_issue
from letterpress.headers import clean, name_addr, unstructured
from letterpress.message import MessageTemplate, build_simple_message
from letterpress.render import render_issue
from letterpress.settings import load_settings

from .conftest import ROOT

BASE = "https://lettre.example.org"
LONG_FRENCH_SUBJECT = ("Été à Saint-Étienne : résidences d'artistes, friches réhabilitées et "
                       "mobilités douces pour les élus")
ENCODED_WORD = re.compile(r"=\?utf-8\?b\?([A-Za-z0-9+/=]*)\?=")
PROPERTY = settings(max_examples=400, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text a header may be given: anything Unicode has, weighted towards the hard cases.
_HARD = ("é", "É", "à", "œ", "ç", "ñ", "e\u0301", "\u0301", "🌿", "👩\u200d👩\u200d👧",
         "🇫🇷", "👍🏽", "中", "\u00a0", "\u202f", " ", "  ", "\t", "\r\n", "\n", "\r", "\x00",
         "\x7f", "\x85", "\u2028", "=?", "?=", "=?utf-8?b?SGk=?=", '"', "\\", "<", ">", ",",
         ";", ":", ".", "@", "(", ")")
_WORD = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC-'", min_size=1, max_size=120),
    st.lists(st.sampled_from(_HARD), max_size=6).map("".join),
)
TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(_WORD, max_size=30).map(" ".join),
    st.lists(_WORD, max_size=12).map("".join),
)
NAMES = st.sampled_from(["Subject", "Comments", "X-Mailer", "Thread-Topic",
                         "X-Letterpress-Rather-Long-Header-Name-For-Folding"])
ADDRESS = st.sampled_from(["a@b.fr", "marie.curie@example.org",
                           "une.adresse.vraiment.tres.longue.pour.un.elu.de.petite.ville"
                           "@mairie-de-saint-etienne-du-rouvray.example.fr"])


def assert_within_limits(field: bytes) -> None:
    """One header field (name to CRLF): ASCII, folded only by CRLF SP, RFC 2047 sizes."""
    assert field.endswith(b"\r\n")
    assert field.isascii(), field  # no raw 8-bit byte
    body = field[:-2]
    lines = body.split(b"\r\n")
    assert b"\r" not in body.replace(b"\r\n", b"") and b"\n" not in body.replace(b"\r\n", b"")
    assert not re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", body.replace(b"\r\n", b""))
    for i, line in enumerate(lines):
        if i:
            assert line[:1] == b" " and line.strip(), lines  # a fold, never an empty line
        text = line.decode("ascii")
        words = ENCODED_WORD.findall(text)
        assert "=?" not in ENCODED_WORD.sub("", text), text  # no broken or stray word
        if words:
            assert len(line) <= 76, (len(line), line)  # RFC 2047 §2
            for b64 in words:
                assert len("=?utf-8?b??=") + len(b64) <= 75
                base64.b64decode(b64, validate=True).decode("utf-8")  # whole characters (§5)
        elif i == 0 or not re.fullmatch(r" <?[^ ]+@[^ ]+>?", text):
            assert len(line) <= 78, (len(line), line)  # RFC 5322 §2.1.1
        assert len(line) <= 998


def _decode(raw: str) -> str:
    return str(make_header(decode_header(raw)))


def _unfold(field: bytes) -> str:
    return field.decode("ascii").partition(":")[2].replace("\r\n", "").strip()


@PROPERTY
@given(name=NAMES, text=TEXT)
@example(name="Subject", text=LONG_FRENCH_SUBJECT)
@example(name="Subject", text="🌿" * 100)
@example(name="Subject", text="x" * 1000)
@example(name="X-Letterpress-Rather-Long-Header-Name-For-Folding", text="é")
def test_unstructured_headers_stay_within_limits_and_decode_back(name, text):
    field = unstructured(name, text)
    assert field.startswith(name.encode() + b":")
    assert_within_limits(field)
    assert _decode(_unfold(field)) == clean(text)
    assert str(message_from_bytes(field + b"\r\n", policy=policy.default)[name]) == clean(text)


@PROPERTY
@given(name=st.sampled_from(["From", "To", "Reply-To", "Sender"]), display=TEXT,
       address=ADDRESS)
@example(name="To", display="Marie-Hélène de La Tour d'Auvergne-Lauraguais, cheffe de projet",
         address="marie.curie@example.org")
def test_display_names_stay_within_limits_and_decode_back(name, display, address):
    field = name_addr(name, display, address)
    assert_within_limits(field)
    value = _unfold(field)
    phrase, addr = parseaddr(value)
    assert addr == address
    assert _decode(phrase) == clean(display)
    parsed = message_from_bytes(field + b"\r\n", policy=policy.default)[name]
    (only,) = parsed.addresses
    assert only.addr_spec == address
    # CPython's address parser keeps the folding between encoded words as a space (RFC 2047
    # says to drop it): the name comes back whole but for whitespace.
    assert "".join(only.display_name.split()) == "".join(clean(display).split())


def test_a_header_name_too_long_for_any_encoded_word_folds_before_the_first():
    name = "X-" + "N" * 68
    field = unstructured(name, "é")
    assert field.startswith(name.encode() + b":\r\n =?utf-8?b?")
    assert_within_limits(field)
    assert _decode(_unfold(field)) == "é"


def test_list_id_keeps_its_angle_brackets_without_a_name():
    assert name_addr("List-Id", "", "pvd.example.org", bare=False) == b"List-Id: <pvd.example.org>\r\n"
    assert name_addr("To", "", "a@b.fr") == b"To: a@b.fr\r\n"


def test_long_french_subject_gives_encoded_words_of_at_most_75_and_lines_of_76():
    """The reported subject gave 76-character encoded words on 77-octet lines."""
    for subject in (LONG_FRENCH_SUBJECT, LONG_FRENCH_SUBJECT + " 🚲", "🚲 " + LONG_FRENCH_SUBJECT):
        field = unstructured("Subject", subject)
        assert_within_limits(field)
        lines = field[:-2].split(b"\r\n")
        assert max(len(line) for line in lines) <= 76
        assert max(len(w) for line in lines for w in line.split()
                   if w.startswith(b"=?")) <= 75
        assert str(message_from_bytes(field + b"\r\n", policy=policy.default)["Subject"]) \
            == subject


# --------------------------------------------------------------------------- whole messages

@pytest.fixture(scope="module")
def rendered_and_settings():
    """The repository's issue #42, rendered once (building messages needs no database)."""
    msg_settings = load_settings(ROOT, {"LETTERPRESS_BASE_URL": BASE,
                                        "LETTERPRESS_SECRET_KEY": "headers-test"})
    issue = load_issue(ROOT / "issues" / "2024-12-pvd-42.yaml", msg_settings)
    return render_issue(issue, msg_settings), msg_settings


def _head_fields(data: bytes) -> list[bytes]:
    head = data.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    return [f + b"\r\n" for f in re.split(rb"\r\n(?![ \t])", head[:-2])]


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subject=TEXT.filter(lambda s: clean(s) != ""), reader=TEXT, sender=TEXT)
@example(subject=LONG_FRENCH_SUBJECT, reader="Élu·e n°42 🌿", sender="Petites villes de demain")
def test_every_header_of_an_issue_message_stays_within_limits(rendered_and_settings, subject,
                                                              reader, sender):
    rendered, msg_settings = rendered_and_settings
    pub = replace(rendered.publication, sender_name=sender, name=sender or "Lettre")
    issue = replace(rendered, subject=subject, publication=pub)
    template = MessageTemplate.from_rendered(issue, msg_settings, sign=False)
    _, data = template.for_recipient("marie@example.org", reader, BASE + "/u/tok",
                                     BASE + "/p/pref")
    for field in _head_fields(data):
        assert_within_limits(field)
    msg = message_from_bytes(data, policy=policy.default)
    assert str(msg["Subject"]) == clean(subject)
    assert msg["To"].addresses[0].addr_spec == "marie@example.org"
    assert _decode(parseaddr(_unfold(_field(data, b"To")))[0]) == clean(reader)
    assert _decode(parseaddr(_unfold(_field(data, b"From")))[0]) == clean(sender)
    assert msg["From"].addresses[0].addr_spec == pub.sender_email


def _field(data: bytes, name: bytes) -> bytes:
    (field,) = [f for f in _head_fields(data) if f.split(b":", 1)[0] == name]
    return field


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subject=TEXT, reader=TEXT)
def test_every_header_of_a_one_off_message_stays_within_limits(rendered_and_settings, subject,
                                                               reader):
    _, msg_settings = rendered_and_settings
    data = build_simple_message(msg_settings.publication("acv"), msg_settings,
                                "lea@example.org", subject, "corps", to_name=reader)
    for field in _head_fields(data):
        assert_within_limits(field)
    assert _decode(_unfold(_field(data, b"Subject"))) == clean(subject)
    assert _decode(parseaddr(_unfold(_field(data, b"To")))[0]) == clean(reader)
