"""Transports against a real SMTP server on loopback (aiosmtpd), the outbox and memory."""

from __future__ import annotations

import threading
from email import message_from_bytes, policy

import pytest

from letterpress.clock import FrozenClock
from letterpress.errors import ConfigError, TransportError
from letterpress.settings import load_settings
from letterpress.transports import (
    MemoryTransport,
    OutboxTransport,
    RateLimiter,
    SMTPTransport,
    parse_smtp_url,
    transport_for,
)
from letterpress.transports.url import redact
from letterpress.wire import WireMessage

from .smtpd import SMTPTestServer


def _message(n: int = 0) -> bytes:
    return (f"From: a@example.org\r\nTo: b@example.org\r\nSubject: test {n}\r\n"
            f"Message-ID: <{n}@example.org>\r\n\r\nLine one\r\n.line starting with a dot\r\n"
            ).encode()


def test_url_parsing():
    u = parse_smtp_url("smtp://user%40x:p%3Ass@relay.example.org:587?tls=starttls&pool=4&rate=10")
    assert (u.host, u.port, u.tls, u.username, u.password, u.pool, u.rate) == (
        "relay.example.org", 587, "starttls", "user@x", "p:ss", 4, 10.0)
    assert parse_smtp_url("smtps://relay.example.org").port == 465
    assert parse_smtp_url("smtps://relay.example.org").tls == "ssl"
    assert parse_smtp_url("smtp://relay.example.org").tls == "starttls"  # never clear by default
    assert parse_smtp_url("smtp://127.0.0.1:2525").tls == "none"
    assert "p:ss" not in repr(u)
    assert redact("smtp://u:secret@h:25") == "smtp://u:***@h:25"
    for bad in ("http://x", "smtp://", "smtp://h?tls=maybe", "smtp://h?pool=0",
                "smtp://h?color=red", "smtp://h:99999"):
        with pytest.raises(ConfigError):
            parse_smtp_url(bad)
    with pytest.raises(ConfigError) as exc:
        parse_smtp_url("smtp://u:secret@h?tls=bogus")
    assert "secret" not in str(exc.value)


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelined"])
def test_smtp_delivers_the_exact_bytes(smtp_server, pipelining):
    transport = SMTPTransport.from_url(smtp_server.url, pipelining=pipelining)
    try:
        transport.send("bounces@example.org", ["b@example.org"], _message(1))
        transport.send("bounces@example.org", ["c@example.org"], _message(2))
    finally:
        transport.close()
    assert [r.rcpt_tos for r in smtp_server.received] == [["b@example.org"], ["c@example.org"]]
    assert smtp_server.received[0].mail_from == "bounces@example.org"
    assert smtp_server.received[0].data.replace(b"\r\n", b"\n") == _message(1).replace(
        b"\r\n", b"\n")
    msg = message_from_bytes(smtp_server.received[0].data, policy=policy.SMTP)
    assert ".line starting with a dot" in msg.get_content()
    # Both messages went over one persistent connection.
    assert smtp_server.received[0].peer == smtp_server.received[1].peer


def test_smtp_stuffs_dots_unless_the_message_says_it_has_none(smtp_server):
    """Plain bytes are scanned and stuffed; a WireMessage (the template's promise of no
    leading dot) goes out as it is — both arrive intact."""
    plain = b"Subject: x\r\n\r\n.one\r\n..two\r\nthree\r\n"
    wire = WireMessage(b"Subject: y\r\n\r\n=2Eone\r\nthree\r\n")
    transport = SMTPTransport.from_url(smtp_server.url)
    try:
        transport.send("b@example.org", ["r@example.org"], plain)
        transport.send("b@example.org", ["r@example.org"], wire)
    finally:
        transport.close()
    got = [r.data.replace(b"\r\n", b"\n") for r in smtp_server.received]
    assert got == [plain.replace(b"\r\n", b"\n"), bytes(wire).replace(b"\r\n", b"\n")]


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelined"])
def test_smtp_answers_become_transport_errors(smtp_server, pipelining):
    b = smtp_server.behaviour
    b.rcpt_replies["gone@example.org"] = "550 5.1.1 <gone@example.org>: user unknown"
    b.rcpt_replies["later@example.org"] = "451 4.7.1 try again later"
    transport = SMTPTransport.from_url(smtp_server.url, pipelining=pipelining)
    try:
        with pytest.raises(TransportError) as exc:
            transport.send("a@example.org", ["gone@example.org"], _message())
        assert (exc.value.code, exc.value.permanent, exc.value.enhanced) == (550, True, "5.1.1")
        with pytest.raises(TransportError) as exc:
            transport.send("a@example.org", ["later@example.org"], _message())
        assert (exc.value.code, exc.value.permanent) == (451, False)
        b.data_replies.append("552 5.3.4 message too big")
        with pytest.raises(TransportError) as exc:
            transport.send("a@example.org", ["ok@example.org"], _message())
        assert exc.value.code == 552 and exc.value.permanent
        transport.send("a@example.org", ["ok@example.org"], _message())  # session still usable
        transport.send("a@example.org", ["gone@example.org", "ok2@example.org"], _message())
        with pytest.raises(TransportError):
            transport.send("a@example.org", ["a b@example.org"], _message())
    finally:
        transport.close()
    assert [r.rcpt_tos for r in smtp_server.received] == [["ok@example.org"],
                                                          ["ok2@example.org"]]


def test_smtp_reconnects_after_the_server_drops_the_connection(smtp_server):
    smtp_server.behaviour.drop_after = 1
    transport = SMTPTransport.from_url(smtp_server.url)
    try:
        try:
            transport.send("a@example.org", ["b@example.org"], _message(1))
        except TransportError as exc:  # accepted, but the answer was lost with the connection
            assert exc.code == 0 and not exc.permanent
        transport.send("a@example.org", ["c@example.org"], _message(2))
    finally:
        transport.close()
    assert [r.rcpt_tos for r in smtp_server.received] == [["b@example.org"], ["c@example.org"]]
    assert smtp_server.received[0].peer != smtp_server.received[1].peer


def test_smtp_reports_an_unreachable_server():
    transport = SMTPTransport.from_url("smtp://127.0.0.1:1?tls=none&timeout=2")
    with pytest.raises(TransportError, match="cannot connect") as exc:
        transport.send("a@example.org", ["b@example.org"], _message())
    assert exc.value.code == 0


def test_smtp_auth():
    server = SMTPTestServer()
    server.behaviour.credentials = ("lettre", "s3cret")
    server.start()
    try:
        good = SMTPTransport.from_url(f"smtp://lettre:s3cret@127.0.0.1:{server.port}?tls=none")
        good.send("a@example.org", ["b@example.org"], _message())
        good.close()
        bad = SMTPTransport.from_url(f"smtp://lettre:wrong@127.0.0.1:{server.port}?tls=none")
        with pytest.raises(TransportError, match="authentication refused") as exc:
            bad.send("a@example.org", ["b@example.org"], _message())
        assert exc.value.permanent
    finally:
        server.stop()
    assert len(server.received) == 1


def test_starttls_is_required_when_asked(smtp_server):
    transport = SMTPTransport.from_url(smtp_server.url.replace("tls=none", "tls=starttls"))
    with pytest.raises(TransportError, match="STARTTLS"):
        transport.send("a@example.org", ["b@example.org"], _message())
    assert smtp_server.received == []


def test_smtp_pool_is_shared_by_threads_within_its_size(smtp_server):
    transport = SMTPTransport.from_url(smtp_server.url + "&pool=3")
    errors = []

    def worker(k):
        try:
            for i in range(10):
                transport.send("a@example.org", [f"t{k}-{i}@example.org"], _message(i))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    transport.close()
    assert errors == []
    assert len(smtp_server.received) == 60
    assert len({r.peer for r in smtp_server.received}) <= 3


def test_rate_limiter_spaces_sends():
    clock = FrozenClock()
    limiter = RateLimiter(5, clock)
    for _ in range(11):
        limiter.acquire()
    assert clock.monotonic() == pytest.approx(2.0)
    unlimited = RateLimiter(0, clock)
    unlimited.acquire()
    assert clock.monotonic() == pytest.approx(2.0)


def test_outbox_writes_whole_eml_files(tmp_path):
    outbox = OutboxTransport(tmp_path / "outbox")
    outbox.send("a@example.org", ["b@example.org"], _message(1))
    outbox.send("a@example.org", ["../../etc/passwd"], _message(2))
    files = sorted((tmp_path / "outbox").iterdir())
    assert len(files) == 2 and all(f.suffix == ".eml" for f in files)
    assert all(f.parent == tmp_path / "outbox" for f in files)
    msg = message_from_bytes(files[0].read_bytes(), policy=policy.SMTP)
    assert msg["X-Envelope-To"] == "<b@example.org>"
    assert msg["Subject"] == "test 1"


def test_memory_transport_records_and_can_fail():
    memory = MemoryTransport()
    memory.send("a@example.org", ["b@example.org"], _message())
    assert memory.to("B@example.org")[0].message["Subject"] == "test 0"

    def refuse(mail_from, rcpts, data):
        raise TransportError("no", code=554, permanent=True)

    with pytest.raises(TransportError):
        MemoryTransport(fail=refuse).send("a@example.org", ["b@example.org"], _message())


def test_transport_for_picks_smtp_only_when_configured(project_dir, smtp_server):
    settings = load_settings(project_dir, {})
    pub = settings.publication("pvd")
    outbox = transport_for(settings, pub)
    assert isinstance(outbox, OutboxTransport) and outbox.directory == settings.outbox_dir
    settings = load_settings(project_dir, {"LETTERPRESS_SMTP_URL": smtp_server.url + "&rate=7"})
    smtp = transport_for(settings, pub)
    assert isinstance(smtp, SMTPTransport)
    assert smtp.pool_size == pub.transport.pool and smtp.rate == 7


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (cert file, key file)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


def _server_context(tls_files):
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_files)
    return context


def test_starttls_with_auth(tls_files):
    server = SMTPTestServer(tls_context=_server_context(tls_files), require_starttls=True)
    server.behaviour.credentials = ("lettre", "s3cret")
    server.start()
    try:
        url = f"smtp://lettre:s3cret@127.0.0.1:{server.port}?tls=starttls&verify=false"
        transport = SMTPTransport.from_url(url)
        transport.send("a@example.org", ["b@example.org"], _message())
        transport.close()
        # The certificate is checked unless told otherwise.
        strict = SMTPTransport.from_url(url.replace("&verify=false", ""))
        with pytest.raises(TransportError, match="cannot connect"):
            strict.send("a@example.org", ["b@example.org"], _message())
    finally:
        server.stop()
    assert len(server.received) == 1


def test_implicit_tls(tls_files):
    server = SMTPTestServer(ssl_context=_server_context(tls_files))
    server.start()
    try:
        transport = SMTPTransport.from_url(f"smtps://127.0.0.1:{server.port}?verify=false")
        assert transport.url.tls == "ssl"
        transport.send("a@example.org", ["b@example.org"], _message())
        transport.close()
    finally:
        server.stop()
    assert len(server.received) == 1


def test_outbox_never_overwrites_a_message(tmp_path):
    """Two transports on one outbox (a send run and a notification) in the same second."""
    first, second = OutboxTransport(tmp_path), OutboxTransport(tmp_path)
    first.send("a@example.org", ["lea@example.org"], b"Subject: one\r\n\r\n1\r\n")
    second.send("a@example.org", ["lea@example.org"], b"Subject: two\r\n\r\n2\r\n")
    bodies = sorted(p.read_bytes().rsplit(b"\r\n\r\n", 1)[1] for p in tmp_path.glob("*.eml"))
    assert bodies == [b"1\r\n", b"2\r\n"]
    assert not list(tmp_path.glob(".*.tmp"))
