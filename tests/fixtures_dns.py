"""A real authoritative DNS server (Debian's NSD) and a real https server, on loopback.

``nsd_server(zones)`` writes each zone file in a tmp dir, checks it with ``nsd-checkzone``,
starts ``nsd -d`` on a free port of 127.0.0.1 and stops it afterwards.  ``https_server`` serves
``/healthz`` (200) and everything else (404) over TLS with a self-signed certificate for
127.0.0.1, whose PEM file the test may trust or not.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import dns.resolver
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NSD = shutil.which("nsd") or "/usr/sbin/nsd"
NSD_CHECKZONE = shutil.which("nsd-checkzone") or "/usr/sbin/nsd-checkzone"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (NSD listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


def zone_file(origin: str, records: list[str]) -> str:
    """A zone with SOA and NS, then ``records`` (zone-file lines, absolute or relative)."""
    return "\n".join([
        f"$ORIGIN {origin}.", "$TTL 300",
        f"@ IN SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 86400 300",
        f"@ IN NS ns.{origin}.", "ns IN A 127.0.0.1", *records, ""])


@dataclass
class NsdServer:
    """A running NSD: ask it at ``address``:``port``."""

    address: str
    port: int
    process: subprocess.Popen
    directory: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def nsd_server(directory: Path, zones: dict[str, list[str]]):
    """Serve ``zones`` ({origin: [record lines]}) from a throwaway NSD on loopback."""
    if not Path(NSD).exists():
        pytest.fail(f"{NSD} missing: run `make system-deps` (make test does it)")
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = [
        "server:", f"    ip-address: 127.0.0.1@{port}", f"    port: {port}",
        "    do-ip6: no", '    username: ""', '    chroot: ""',
        f'    zonesdir: "{directory}"', f'    pidfile: "{directory}/nsd.pid"',
        '    database: ""', f'    zonelistfile: "{directory}/zone.list"',
        f'    xfrdfile: "{directory}/xfrd.state"', f'    xfrdir: "{directory}"',
        f'    logfile: "{directory}/nsd.log"', "    server-count: 1", "    verbosity: 1",
        "    hide-version: yes", "remote-control:", "    control-enable: no"]
    for origin, records in zones.items():
        path = directory / f"{origin}.zone"
        path.write_text(zone_file(origin, records))
        check = subprocess.run([NSD_CHECKZONE, origin, str(path)], capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        conf += ["zone:", f"    name: {origin}", f"    zonefile: {path.name}"]
    (directory / "nsd.conf").write_text("\n".join(conf) + "\n")
    process = subprocess.Popen([NSD, "-d", "-c", str(directory / "nsd.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = NsdServer("127.0.0.1", port, process, directory)
    try:
        _wait_for_nsd(server, next(iter(zones)))
        yield server
    finally:
        server.stop()


def _wait_for_nsd(server: NsdServer, origin: str) -> None:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.address]
    resolver.port = server.port
    resolver.lifetime = 0.5
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log = (server.directory / "nsd.log").read_text(errors="replace")
            pytest.fail(f"nsd exited: {log}")
        try:
            resolver.resolve(origin, "SOA")
            return
        except Exception:
            time.sleep(0.1)
    pytest.fail("nsd did not answer within 15 s")


# --------------------------------------------------------------------------- https

def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "letterpress test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class _Pages(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        status = 200 if self.path == "/healthz" else 404
        body = b"ok\n" if status == 200 else b"not found\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@dataclass
class HttpsServer:
    """A running https server: ``base_url``, and the certificate a client may trust."""

    base_url: str
    certificate: Path


@pytest.fixture
def https_server(tmp_path):
    """An https server on 127.0.0.1 with a self-signed certificate (``.certificate``)."""
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpsServer(f"https://127.0.0.1:{httpd.server_address[1]}", cert)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
