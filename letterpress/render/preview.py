"""A local preview server (stdlib ``http.server``): the issue at desktop and mobile widths and
its text part side by side, rebuilt whenever the issue file, an image or a template changes.

Content and template errors are shown in the page, never as a crash: an editor keeps the
preview open, saves, and sees either the new issue or what is wrong with it.
"""

from __future__ import annotations

import hashlib
import html
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import ContentError, LetterpressError
from ..settings import Settings
from .issue import render_issue
from .lint import lint
from .rendered import RenderedIssue

__all__ = ["PreviewServer", "PreviewState"]

_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                ".gif": "image/gif", ".webp": "image/webp", ".svg": "image/svg+xml"}


@dataclass
class _Build:
    signature: str
    rendered: RenderedIssue | None
    errors: list[str]
    warnings: list[str]


class PreviewState:
    """Renders the issue on demand, again only when one of its inputs changed (mtime check)."""

    def __init__(self, issue_path: Path, settings: Settings,
                 loader: Callable[[Path, Settings], Any] | None = None):
        self.issue_path = Path(issue_path)
        self.settings = settings
        self._loader = loader
        self._lock = threading.Lock()
        self._build: _Build | None = None

    def _load(self, path: Path, settings: Settings) -> Any:
        if self._loader is not None:
            return self._loader(path, settings)
        from ..content import load_issue  # content → render: the one-way flow

        return load_issue(path, settings)

    def _inputs(self) -> list[Path]:
        paths = [self.issue_path]
        templates = self.settings.templates_dir
        if templates.is_dir():
            paths += sorted(p for p in templates.rglob("*") if p.is_file())
        if self._build and self._build.rendered:
            paths += sorted(self._build.rendered.assets.values())
        return paths

    def signature(self) -> str:
        """A digest of every input's path, mtime and size: it changes when any input does."""
        digest = hashlib.sha256()
        for path in self._inputs():
            try:
                stat = path.stat()
                digest.update(f"{path}\0{stat.st_mtime_ns}\0{stat.st_size}\n".encode())
            except OSError:
                digest.update(f"{path}\0missing\n".encode())
        return digest.hexdigest()[:16]

    def current(self) -> _Build:
        """The latest build, re-rendered first if an input changed since."""
        with self._lock:
            signature = self.signature()
            if self._build is None or self._build.signature != signature:
                self._build = self._render(signature)
                # The asset list may have changed: fold the new images into the signature.
                self._build.signature = self.signature()
            return self._build

    def _render(self, signature: str) -> _Build:
        try:
            issue = self._load(self.issue_path, self.settings)
            rendered = render_issue(issue, self.settings)
        except ContentError as exc:
            return _Build(signature, None, [str(p) for p in exc.problems], [])
        except LetterpressError as exc:
            return _Build(signature, None, [str(exc)], [])
        except Exception as exc:  # noqa: BLE001 - the preview must survive anything and say it
            return _Build(signature, None, [f"{exc.__class__.__name__}: {exc}"], [])
        problems = lint(rendered)
        return _Build(signature, rendered,
                      [str(p) for p in problems if p.severity == "error"],
                      [str(p) for p in problems if p.severity != "error"])


class PreviewServer:
    """Serves the preview on ``host:port`` (port 0 picks a free one) until :meth:`stop`."""

    def __init__(self, issue_path: Path, settings: Settings, *, host: str = "127.0.0.1",
                 port: int = 8000, loader: Callable[[Path, Settings], Any] | None = None):
        handler = type("_Handler", (_Handler,), {})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        actual = self.httpd.server_address[1]
        # Images are served by the preview itself, so the mail is rendered against its URL.
        self.url = f"http://{host}:{actual}"
        handler.state = PreviewState(issue_path, settings.with_overrides(base_url=self.url), loader)
        self.state: PreviewState = handler.state
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        """Serve in the calling thread (the CLI), until interrupted."""
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> PreviewServer:
        """Serve in a background thread (tests, embedding)."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    state: PreviewState
    server_version = "letterpress-preview"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return  # quiet: the editor watches the page, not the terminal

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = unquote(urlsplit(self.path).path)
        build = self.state.current()
        if path == "/":
            self._send(HTTPStatus.OK, "text/html; charset=utf-8", _page(self.state, build))
        elif path == "/version":
            body = json.dumps({"version": build.signature, "ok": build.rendered is not None})
            self._send(HTTPStatus.OK, "application/json", body)
        elif path == "/mail.html":
            if build.rendered is None:
                self._send(HTTPStatus.OK, "text/html; charset=utf-8", _error_page(build.errors))
            else:
                self._send(HTTPStatus.OK, "text/html; charset=utf-8", build.rendered.archive_html())
        elif path == "/mail.txt":
            text = build.rendered.archive_text() if build.rendered else "\n".join(build.errors)
            self._send(HTTPStatus.OK, "text/plain; charset=utf-8", text)
        elif path.startswith("/assets/") and build.rendered is not None:
            source = build.rendered.assets.get(path.removeprefix("/assets/"))
            if source is None or not source.is_file():
                self._send(HTTPStatus.NOT_FOUND, "text/plain", "not found")
                return
            kind = _IMAGE_TYPES.get(source.suffix.lower(), "application/octet-stream")
            self._send(HTTPStatus.OK, kind, source.read_bytes())
        else:
            self._send(HTTPStatus.NOT_FOUND, "text/plain", "not found")

    def _send(self, status: HTTPStatus, kind: str, body: str | bytes) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)


_STYLE = """
body{margin:0;font:14px/1.4 system-ui,sans-serif;background:#eceff3;color:#1e1e1e}
header{padding:10px 16px;background:#1e1e1e;color:#fff;display:flex;gap:16px;align-items:baseline}
header small{color:#bbb}
main{display:flex;gap:16px;padding:16px;align-items:flex-start;overflow-x:auto}
figure{margin:0}figcaption{font-weight:bold;margin:0 0 6px}
iframe{border:1px solid #c8ccd2;background:#fff;height:calc(100vh - 120px)}
pre{margin:0;background:#fff;border:1px solid #c8ccd2;padding:12px;width:74ch;
    height:calc(100vh - 146px);overflow:auto;white-space:pre;font:13px/1.35 monospace}
.errors{margin:16px;padding:12px 16px;background:#fff0f0;border:2px solid #c00;color:#600}
.errors pre,.warnings pre{width:auto;height:auto;border:0;background:none;padding:0}
.inbox{margin:12px 16px 0;padding:8px 12px;background:#fff;border:1px solid #c8ccd2}
.inbox span{color:#666}
.warnings{margin:16px 16px 0;padding:8px 16px;background:#fff8e0;border:1px solid #d9a400}
"""

_SCRIPT = """
let version = %s;
setInterval(async () => {
  try {
    const r = await fetch('/version', {cache: 'no-store'});
    const v = (await r.json()).version;
    if (v !== version) { location.reload(); }
  } catch (e) {}
}, 1000);
"""


def _page(state: PreviewState, build: _Build) -> str:
    name = html.escape(state.issue_path.name)
    head = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>Preview · {name}</title><style>{_STYLE}</style></head><body>"
            f"<header><strong>{name}</strong><small>rebuilds on save · build {build.signature}"
            f"</small></header>")
    script = f"<script>{_SCRIPT % json.dumps(build.signature)}</script></body></html>"
    if build.rendered is None:
        items = html.escape("\n".join(build.errors))
        return (head + f"<section class='errors'><h2>The issue cannot be built</h2>"
                f"<pre>{items}</pre></section>" + script)
    rendered = build.rendered
    notes = ""
    if build.errors or build.warnings:
        lines = html.escape("\n".join(build.errors + build.warnings))
        notes = f"<section class='warnings'><strong>Lint</strong><pre>{lines}</pre></section>"
    size = len(rendered.html.encode("utf-8")) / 1024
    # What the inbox list shows: sender, subject and the first line of the mail.
    inbox = (f"<section class='inbox'><strong>{html.escape(rendered.publication.sender)}</strong>"
             f" · {html.escape(rendered.subject)} <span>— {html.escape(rendered.preheader)}"
             "</span></section>")
    return (head + notes + inbox + "<main>"
            f"<figure><figcaption>Desktop · 600 px · {size:.1f} KB</figcaption>"
            "<iframe src='/mail.html' width='620' title='Desktop'></iframe></figure>"
            "<figure><figcaption>Mobile · 375 px</figcaption>"
            "<iframe src='/mail.html' width='375' title='Mobile'></iframe></figure>"
            f"<figure><figcaption>Text part · {html.escape(rendered.subject)}</figcaption>"
            f"<pre>{html.escape(rendered.archive_text())}</pre></figure>"
            "</main>" + script)


def _error_page(errors: list[str]) -> str:
    body = html.escape("\n".join(errors))
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><style>{_STYLE}</style>"
            f"</head><body><section class='errors'><pre>{body}</pre></section></body></html>")
