"""Local images: content-hashed public names, and their pixel size read from the file.

A local image ``photo.jpg`` is published as ``{base}/assets/photo-3f2a9c1b.jpg``: the hash
changes when the picture does, so an issue already sent keeps showing the picture it had.
"""

from __future__ import annotations

import hashlib
import re
import struct
from pathlib import Path

__all__ = ["AssetRegistry", "hashed_name", "image_size"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def hashed_name(path: Path) -> str:
    """``photo.jpg`` → ``photo-3f2a9c1b.jpg`` (first 8 hex digits of the sha256 of the bytes)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    stem = _UNSAFE.sub("-", path.stem).strip("-").lower() or "image"
    return f"{stem}-{digest}{path.suffix.lower()}"


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of a PNG, GIF, JPEG or WebP file, or None when it can't be read."""
    try:
        with path.open("rb") as fh:
            head = fh.read(64 * 1024)
    except OSError:
        return None
    try:
        if head.startswith(b"\x89PNG\r\n\x1a\n"):
            return struct.unpack(">II", head[16:24])
        if head[:6] in (b"GIF87a", b"GIF89a"):
            return struct.unpack("<HH", head[6:10])
        if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
            return _webp_size(head)
        if head.startswith(b"\xff\xd8"):
            return _jpeg_size(head)
    except struct.error:
        return None
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        i += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L":
        b = data[21:25]
        w = 1 + (((b[1] & 0x3F) << 8) | b[0])
        h = 1 + (((b[3] & 0xF) << 10) | (b[2] << 2) | ((b[1] & 0xC0) >> 6))
        return w, h
    if chunk == b"VP8X":
        w = 1 + int.from_bytes(data[24:27], "little")
        h = 1 + int.from_bytes(data[27:30], "little")
        return w, h
    return None


class AssetRegistry:
    """Collects the local files an issue uses and gives each its public URL."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.assets: dict[str, Path] = {}
        self._names: dict[Path, str] = {}

    def url_for(self, path: Path) -> str:
        """The public URL of a local file, registering it under its hashed name."""
        path = Path(path)
        name = self._names.get(path)
        if name is None:
            name = hashed_name(path)
            self._names[path] = name
            self.assets[name] = path
        return f"{self.base_url}/assets/{name}"

    def sorted_assets(self) -> dict[str, Path]:
        """The registered files, ordered by public name (deterministic output)."""
        return dict(sorted(self.assets.items()))
