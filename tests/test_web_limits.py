"""`letterpress serve` refuses what it should not read: a real server, raw sockets.

An oversized body (by Content-Length or chunked) is answered 413 and the connection closed
while the client has sent only a small part of it, with no temporary file opened by the
server; oversized headers get 431; the connection limit and the slow-client timeout hold.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from .serving import LETTERPRESS, serving
from .smtpd import free_port

BIG = 300 * 1024 * 1024  # the 300 MB body of the report
CHUNK = 64 * 1024


@pytest.fixture
def start_server(project_dir, tmp_path):
    """Start `letterpress serve` with extra environment; yields (port, process, tmpdir)."""
    with contextlib.ExitStack() as servers:

        def start(**env_extra):
            port = free_port()
            tmpdir = tmp_path / f"tmp{port}"
            tmpdir.mkdir()
            env = {**os.environ, "LETTERPRESS_PROJECT": str(project_dir), "TMPDIR": str(tmpdir),
                   "LETTERPRESS_DATABASE_URL": f"sqlite:///{tmp_path / 'subscribers.db'}",
                   "LETTERPRESS_BASE_URL": f"http://127.0.0.1:{port}", **env_extra}
            proc = servers.enter_context(serving(env, port, tmp_path / f"serve{port}.log"))
            return port, proc, tmpdir

        yield start


def _connect(port: int, timeout: float = 5) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHUNK)  # keep kernel buffering small
    return sock


def _open_temp_files(pid: int, tmpdir: Path) -> list[str]:
    """Files under ``tmpdir`` (waitress's body spill files, deleted but open) the server holds."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(tmpdir)):
            found.append(target)
    return found


def _upload(sock: socket.socket, head: bytes, chunks, pid: int, tmpdir: Path
            ) -> tuple[int, bytes, list[str]]:
    """Send ``head`` then body chunks until the server answers or closes.

    (bytes of body sent, the answer, temp files the server held meanwhile).
    """
    sock.sendall(head)
    sent, held = 0, []
    sock.settimeout(0.05)
    for chunk in chunks:
        try:
            answer = sock.recv(65536)
            if answer:
                return sent, answer, held
        except (TimeoutError, BlockingIOError):
            pass
        except ConnectionResetError:
            return sent, b"", held
        try:
            sock.settimeout(5)
            sock.sendall(chunk)
            sock.settimeout(0.05)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(chunk)
        held += _open_temp_files(pid, tmpdir)
        if sent > 64 * 1024 * 1024:
            break  # it is reading the whole body
    sock.settimeout(5)
    try:
        return sent, sock.recv(65536), held
    except (ConnectionResetError, TimeoutError):
        return sent, b"", held


def test_a_300_mb_content_length_is_refused_before_the_body_is_read(start_server):
    port, proc, tmpdir = start_server()
    # The headers alone get the answer: the server does not wait for a byte of the body.
    with _connect(port) as sock:
        sock.sendall(b"POST /u/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/"
                     b"x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % BIG)
        sock.settimeout(5)
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
        assert b"Connection: close" in answer
    # A client that keeps sending is cut off after a small part of it, nothing spilled to disk.
    with _connect(port) as sock:
        head = (b"POST /u/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % BIG)
        sent, answer, held = _upload(sock, head, iter(lambda: b"a" * CHUNK, None), proc.pid,
                                     tmpdir)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert sent < 16 * 1024 * 1024, f"{sent} bytes sent before the server stopped reading"
    assert held == []
    assert list(tmpdir.iterdir()) == []
    print(f"Content-Length {BIG}: cut off after {sent} bytes")


def test_a_chunked_body_is_refused_once_past_the_limit(start_server):
    port, proc, tmpdir = start_server()
    chunk = b"%x\r\n" % CHUNK + b"a" * CHUNK + b"\r\n"
    with _connect(port) as sock:
        head = (b"POST /u/x HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")
        sent, answer, held = _upload(sock, head, (chunk for _ in range(BIG // CHUNK)),
                                     proc.pid, tmpdir)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert sent < 16 * 1024 * 1024, f"{sent} bytes sent before the server stopped reading"
    assert held == []
    print(f"chunked: cut off after {sent} bytes")


def test_small_requests_still_pass_and_the_limit_is_a_setting(start_server):
    port, proc, tmpdir = start_server(LETTERPRESS_MAX_REQUEST_BODY="1024")
    body = b"List-Unsubscribe=One-Click"
    with _connect(port) as sock:
        sock.sendall(b"POST /u/not-a-token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     b"application/x-www-form-urlencoded\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n%s" % (len(body), body))
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 4") and not answer.startswith(b"HTTP/1.1 413"), answer
    with _connect(port) as sock:
        sock.sendall(b"POST /u/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2048\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 413 ")


def test_oversized_headers_are_refused(start_server):
    port, _, _ = start_server()
    with _connect(port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     + b"X-Filler: " + b"a" * 20000 + b"\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.startswith((b"HTTP/1.1 431 ", b"HTTP/1.0 431 ")), answer[:200]


def test_connection_limit_and_slow_clients(start_server):
    port, _, _ = start_server(LETTERPRESS_MAX_CONNECTIONS="2", LETTERPRESS_CLIENT_TIMEOUT="2")
    idle = [_connect(port), _connect(port)]
    for sock in idle:  # two slow clients: half a request line each
        sock.sendall(b"GET /heal")
    time.sleep(0.5)
    waiting = _connect(port, timeout=1)
    waiting.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    with pytest.raises(TimeoutError):
        waiting.recv(65536)  # a third client waits: the two slow ones hold every slot
    # The slow clients are closed after client_timeout; the waiting one is then served.
    waiting.settimeout(10)
    assert waiting.recv(65536).startswith(b"HTTP/1.1 200 ")
    for sock in idle:
        sock.settimeout(1)
        assert sock.recv(65536) == b""  # closed by the server
        sock.close()
    waiting.close()


def test_limits_come_from_settings_and_bad_values_are_refused(project_dir):
    from letterpress.errors import ConfigError
    from letterpress.settings import load_settings
    from letterpress.web.server import server_limits

    defaults = server_limits(load_settings(project_dir, {}))
    # waitress refuses a body of max_request_body_size bytes or more: 65,536 itself passes.
    assert defaults["max_request_body_size"] == 65536 + 1
    assert defaults["max_request_header_size"] == 16384
    assert defaults["connection_limit"] == 100 + 2  # waitress counts its own two sockets
    assert defaults["channel_timeout"] == 30
    for value in ("lots", "0", "-5", "1.5"):
        with pytest.raises(ConfigError, match="max_request_body must be a positive"):
            load_settings(project_dir, {"LETTERPRESS_MAX_REQUEST_BODY": value})


def test_a_port_already_in_use_is_an_error_not_a_traceback(start_server, project_dir, tmp_path):
    port, _proc, _tmpdir = start_server()
    env = {**os.environ, "LETTERPRESS_PROJECT": str(project_dir),
           "LETTERPRESS_DATABASE_URL": f"sqlite:///{tmp_path / 'subscribers.db'}"}
    done = subprocess.run([*LETTERPRESS, "serve", "--port", str(port)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_body_of_exactly_the_limit_passes_one_byte_more_is_refused(start_server):
    port, _proc, _tmpdir = start_server(LETTERPRESS_MAX_REQUEST_BODY="1024")
    answers = {}
    for size in (1024, 1025):
        body = b"List-Unsubscribe=One-Click&x=" + b"a" * (size - 29)
        assert len(body) == size
        with _connect(port) as sock:
            sock.sendall(b"POST /u/not-a-token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                         b"application/x-www-form-urlencoded\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n%s" % (size, body))
            answers[size] = sock.recv(65536)
    assert not answers[1024].startswith(b"HTTP/1.1 413"), answers[1024][:80]
    assert answers[1025].startswith(b"HTTP/1.1 413"), answers[1025][:80]


def test_a_bad_value_from_the_environment_names_the_variable(project_dir):
    from letterpress.errors import ConfigError
    from letterpress.settings import load_settings

    with pytest.raises(ConfigError) as caught:
        load_settings(project_dir, {"LETTERPRESS_MAX_REQUEST_BODY": "abc"})
    assert str(caught.value).startswith("$LETTERPRESS_MAX_REQUEST_BODY: ")
    assert "letterpress.toml" not in str(caught.value)
