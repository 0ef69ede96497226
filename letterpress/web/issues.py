"""Issues rendered on demand for the online archive, kept in a small in-process cache.

The cache key is the issue file's path, modification time and size: an editor correcting a
typo in an already-sent issue sees the archive follow without restarting the server.  Local
images of rendered issues are indexed by their content-hashed public name for ``/assets/``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from ..settings import Settings

__all__ = ["IssueCache"]

ASSET_RESCAN_SECONDS = 30.0


class IssueCache:
    """Renders issue files once per version; maps asset names to files."""

    def __init__(self, settings: Settings, *, max_entries: int = 32):
        self.settings = settings
        self.max_entries = max_entries
        self._rendered: OrderedDict[tuple[str, int, int], object] = OrderedDict()
        self._assets: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._last_scan = float("-inf")

    def rendered(self, path: str | Path):
        """The :class:`RenderedIssue` of the file at ``path`` (raises ContentError/RenderError)."""
        from ..content import load_issue
        from ..render import render_issue

        path = Path(path)
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            hit = self._rendered.get(key)
            if hit is not None:
                self._rendered.move_to_end(key)
                return hit
        # Rendering takes tens of milliseconds; do it outside the lock so other pages go on.
        rendered = render_issue(load_issue(path, self.settings), self.settings)
        with self._lock:
            self._rendered[key] = rendered
            while len(self._rendered) > self.max_entries:
                self._rendered.popitem(last=False)
            self._assets.update(getattr(rendered, "assets", {}) or {})
        return rendered

    def asset(self, name: str, candidates=None) -> Path | None:
        """The file behind the public asset ``name``; on a miss, renders ``candidates()``."""
        with self._lock:
            found = self._assets.get(name)
        if found is not None or not candidates:
            return found
        import time

        # Unknown names are cheap to ask for; re-rendering is not: rescan at most every 30 s.
        now = time.monotonic()
        with self._lock:
            if now - self._last_scan < ASSET_RESCAN_SECONDS:
                return None
            self._last_scan = now
        for path in candidates():
            try:
                self.rendered(path)
            except Exception:  # noqa: BLE001 - a broken issue must not hide the others' images
                continue
        with self._lock:
            return self._assets.get(name)
