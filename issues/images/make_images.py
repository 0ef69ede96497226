"""Draw the illustrations of the sample issue as small PNG files (pure Python, zlib only).

The reference issue's photos cannot be redistributed, so the sample uses flat-colour
illustrations: each one a few shapes that suggest its subject.  Regenerate with

    python issues/images/make_images.py

Output is deterministic (same script → byte-identical files).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent.parent

Colour = tuple[int, int, int]


class Canvas:
    """An indexed-colour picture: a palette and one palette index per pixel."""

    def __init__(self, width: int, height: int, background: Colour):
        self.width = width
        self.height = height
        self.palette: list[Colour] = [background]
        self.pixels = bytearray(width * height)

    def _index(self, colour: Colour) -> int:
        if colour not in self.palette:
            self.palette.append(colour)
        return self.palette.index(colour)

    def fill(self, inside: Callable[[int, int], bool], colour: Colour,
             box: tuple[int, int, int, int] | None = None) -> None:
        """Paint every pixel for which ``inside(x, y)`` holds (within ``box`` if given)."""
        c = self._index(colour)
        x0, y0, x1, y1 = box or (0, 0, self.width, self.height)
        x0, y0 = max(0, x0), max(0, y0)
        x1, y1 = min(self.width, x1), min(self.height, y1)
        for y in range(y0, y1):
            row = y * self.width
            for x in range(x0, x1):
                if inside(x, y):
                    self.pixels[row + x] = c

    def rect(self, x0: int, y0: int, x1: int, y1: int, colour: Colour) -> None:
        c = self._index(colour)
        x0, y0 = max(0, x0), max(0, y0)
        x1, y1 = min(self.width, x1), min(self.height, y1)
        for y in range(y0, y1):
            self.pixels[y * self.width + x0:y * self.width + x1] = bytes([c]) * (x1 - x0)

    def circle(self, cx: int, cy: int, r: int, colour: Colour) -> None:
        self.fill(lambda x, y: (x - cx) ** 2 + (y - cy) ** 2 <= r * r, colour,
                  (cx - r, cy - r, cx + r + 1, cy + r + 1))

    def triangle(self, a: tuple[int, int], b: tuple[int, int], c: tuple[int, int],
                 colour: Colour) -> None:
        def side(p, q, x, y):
            return (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])

        def inside(x, y):
            s1, s2, s3 = side(a, b, x, y), side(b, c, x, y), side(c, a, x, y)
            return (s1 >= 0 and s2 >= 0 and s3 >= 0) or (s1 <= 0 and s2 <= 0 and s3 <= 0)

        xs, ys = (a[0], b[0], c[0]), (a[1], b[1], c[1])
        self.fill(inside, colour, (min(xs), min(ys), max(xs) + 1, max(ys) + 1))

    def png(self) -> bytes:
        """The picture as a PNG file (colour type 3: palette)."""
        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        raw = b"".join(b"\x00" + bytes(self.pixels[y * self.width:(y + 1) * self.width])
                       for y in range(self.height))
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 3, 0, 0, 0)
        palette = b"".join(bytes(c) for c in self.palette)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"PLTE", palette)
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


BLUE = (0, 0, 145)
RED = (225, 0, 15)
WHITE = (255, 255, 255)
SKY = (190, 220, 245)
SAND = (236, 214, 170)
GREEN = (70, 140, 80)
DARK_GREEN = (40, 95, 60)
ORANGE = (240, 150, 40)
GREY = (120, 120, 130)
LIGHT = (245, 245, 254)
ROOF = (180, 70, 50)
YELLOW = (250, 210, 60)
PURPLE = (110, 60, 150)


def houses(cv: Canvas, x: int, ground: int, count: int, width: int = 46) -> None:
    """A row of small houses with red roofs, standing on ``ground``."""
    for i in range(count):
        left = x + i * (width + 10)
        height = 50 + (i * 17) % 40
        cv.rect(left, ground - height, left + width, ground, SAND)
        cv.triangle((left - 4, ground - height), (left + width + 4, ground - height),
                    (left + width // 2, ground - height - 26), ROOF)
        cv.rect(left + width // 2 - 7, ground - 22, left + width // 2 + 7, ground, GREY)


def manosque() -> Canvas:
    """Provence hills at Manosque: sun, lavender fields, a hill town."""
    cv = Canvas(600, 300, SKY)
    cv.circle(500, 70, 38, YELLOW)
    cv.triangle((0, 230), (220, 90), (440, 230), DARK_GREEN)
    cv.triangle((260, 230), (450, 120), (600, 230), GREEN)
    cv.rect(0, 230, 600, 300, PURPLE)
    for x in range(0, 600, 40):
        cv.rect(x, 240, x + 18, 300, (150, 110, 200))
    houses(cv, 150, 230, 5)
    return cv


def barometre() -> Canvas:
    """A bar chart and a gauge: the financial health barometer."""
    cv = Canvas(600, 300, LIGHT)
    for i, h in enumerate((90, 130, 110, 170)):
        cv.rect(60 + i * 70, 260 - h, 110 + i * 70, 260, BLUE if i < 3 else RED)
    cv.rect(40, 260, 340, 264, GREY)
    cv.circle(470, 170, 90, BLUE)
    cv.circle(470, 170, 62, LIGHT)
    cv.rect(370, 170, 570, 270, LIGHT)
    cv.triangle((466, 170), (474, 170), (530, 110), RED)
    return cv


def atelier() -> Canvas:
    """A workshop table seen from above: people around plans of a town centre."""
    cv = Canvas(600, 300, (230, 236, 246))
    cv.rect(120, 80, 480, 220, (200, 170, 130))
    cv.rect(170, 105, 300, 195, WHITE)
    cv.rect(320, 105, 440, 195, WHITE)
    for x, y in ((190, 125), (230, 160), (260, 120), (340, 130), (390, 170)):
        cv.rect(x, y, x + 22, y + 18, ROOF)
    for cx, cy in ((90, 110), (90, 190), (510, 110), (510, 190), (200, 50), (300, 50),
                   (400, 50), (250, 250), (350, 250)):
        cv.circle(cx, cy, 22, BLUE if (cx + cy) % 3 else RED)
    return cv


def exposition() -> Canvas:
    """Exhibition panels in a row: a travelling exhibition."""
    cv = Canvas(300, 200, (240, 232, 220))
    for i, colour in enumerate((BLUE, RED, GREEN, ORANGE)):
        cv.rect(20 + i * 68, 40, 72 + i * 68, 150, colour)
        cv.rect(28 + i * 68, 50, 64 + i * 68, 90, WHITE)
    cv.rect(0, 160, 300, 200, GREY)
    return cv


def commerces() -> Canvas:
    """Shop fronts with awnings in a rural town centre."""
    cv = Canvas(300, 200, SKY)
    for i, colour in enumerate((RED, GREEN, ORANGE)):
        left = 15 + i * 95
        cv.rect(left, 60, left + 85, 180, SAND)
        cv.rect(left, 90, left + 85, 108, colour)
        cv.rect(left + 12, 120, left + 48, 180, (90, 150, 190))
        cv.rect(left + 56, 130, left + 76, 180, GREY)
    cv.rect(0, 180, 300, 200, GREY)
    return cv


def pole_culture() -> Canvas:
    """A new public building: culture and youth centre."""
    cv = Canvas(300, 200, (210, 232, 250))
    cv.rect(30, 80, 270, 175, WHITE)
    cv.rect(30, 70, 270, 82, BLUE)
    for x in range(50, 260, 40):
        cv.rect(x, 100, x + 24, 140, (90, 150, 190))
    cv.rect(135, 145, 165, 175, RED)
    cv.rect(0, 175, 300, 200, GREEN)
    return cv


def aides() -> Canvas:
    """A map pin over a grid of tiles: the aid finder."""
    cv = Canvas(600, 300, WHITE)
    for row in range(5):
        for col in range(10):
            shade = (225, 230, 250) if (row + col) % 2 else (205, 215, 245)
            cv.rect(col * 60, row * 60, col * 60 + 56, row * 60 + 56, shade)
    cv.circle(300, 120, 60, RED)
    cv.circle(300, 120, 24, WHITE)
    cv.triangle((248, 150), (352, 150), (300, 250), RED)
    return cv


def mobiliscope() -> Canvas:
    """Flows between districts: circles linked by lines, hour by hour."""
    cv = Canvas(600, 300, (20, 30, 70))
    nodes = ((100, 80), (260, 200), (420, 90), (520, 220), (180, 250))
    for (x0, y0), (x1, y1) in zip(nodes, nodes[1:], strict=False):
        steps = max(abs(x1 - x0), abs(y1 - y0))
        for s in range(0, steps, 3):
            x, y = x0 + (x1 - x0) * s // steps, y0 + (y1 - y0) * s // steps
            cv.rect(x - 2, y - 2, x + 2, y + 2, ORANGE)
    for i, (x, y) in enumerate(nodes):
        cv.circle(x, y, 18 + i * 5, YELLOW if i % 2 else (90, 200, 220))
    return cv


def livret() -> Canvas:
    """An open booklet: the Banque des Territoires publication."""
    cv = Canvas(600, 300, (232, 240, 236))
    cv.triangle((80, 60), (300, 80), (300, 260), WHITE)
    cv.triangle((80, 60), (80, 240), (300, 260), WHITE)
    cv.triangle((520, 60), (300, 80), (300, 260), (250, 250, 250))
    cv.triangle((520, 60), (520, 240), (300, 260), (250, 250, 250))
    for y in range(110, 220, 22):
        cv.rect(120, y, 270, y + 8, (0, 110, 90))
        cv.rect(330, y, 480, y + 8, (0, 110, 90))
    return cv


def image_numerique() -> Canvas:
    """A phone showing a small town: the digital image of small towns."""
    cv = Canvas(600, 300, (250, 236, 226))
    cv.rect(230, 20, 370, 285, (30, 30, 40))
    cv.rect(242, 45, 358, 255, SKY)
    houses(cv, 250, 255, 2, 40)
    cv.circle(300, 270, 7, GREY)
    for cx, cy, colour in ((120, 90, RED), (480, 110, BLUE), (110, 220, ORANGE),
                           (490, 220, GREEN)):
        cv.circle(cx, cy, 30, colour)
    return cv


def resilience() -> Canvas:
    """A town sheltered from rain and sun: resilience."""
    cv = Canvas(600, 300, (200, 215, 225))
    cv.circle(110, 70, 40, YELLOW)
    for x in range(330, 580, 30):
        for y in range(40, 120, 30):
            cv.rect(x, y, x + 3, y + 14, BLUE)
    cv.circle(300, 200, 150, GREEN)
    cv.rect(0, 200, 600, 300, GREEN)
    cv.circle(300, 200, 120, (200, 215, 225))
    cv.rect(150, 200, 450, 300, DARK_GREEN)
    houses(cv, 200, 250, 4)
    return cv


def presse() -> Canvas:
    """A newspaper page: press coverage."""
    cv = Canvas(600, 300, (226, 226, 226))
    cv.rect(140, 20, 460, 290, WHITE)
    cv.rect(160, 40, 440, 70, (30, 30, 30))
    cv.rect(160, 85, 290, 170, SKY)
    houses(cv, 170, 170, 2, 40)
    for y in range(90, 280, 16):
        cv.rect(305, y, 440, y + 6, GREY)
    for y in range(185, 280, 16):
        cv.rect(160, y, 290, y + 6, GREY)
    return cv


def paysage() -> Canvas:
    """A landscaped square with trees and a fountain: the landscape awards."""
    cv = Canvas(600, 300, SKY)
    cv.rect(0, 180, 600, 300, (120, 180, 90))
    for x in (70, 170, 430, 530):
        cv.rect(x - 6, 150, x + 6, 200, (110, 80, 50))
        cv.circle(x, 130, 42, DARK_GREEN)
    cv.circle(300, 230, 60, (90, 160, 210))
    cv.circle(300, 230, 20, WHITE)
    cv.triangle((240, 70), (360, 70), (300, 20), YELLOW)
    cv.rect(270, 70, 330, 110, YELLOW)
    return cv


def logo() -> Canvas:
    """The letter's masthead mark: blue, white and red bands beside a small town."""
    cv = Canvas(360, 120, WHITE)
    cv.rect(0, 0, 30, 120, BLUE)
    cv.rect(30, 0, 60, 120, WHITE)
    cv.rect(60, 0, 90, 120, RED)
    houses(cv, 110, 100, 4, 44)
    cv.rect(100, 100, 350, 106, BLUE)
    return cv


IMAGES: dict[Path, Callable[[], Canvas]] = {
    HERE / "rencontre-paca-manosque.png": manosque,
    HERE / "barometre-afl.png": barometre,
    HERE / "journee-acv-pvd-54.png": atelier,
    HERE / "projet-exposition-commentry.png": exposition,
    HERE / "projet-commerces-cretes.png": commerces,
    HERE / "projet-pole-culture-lassay.png": pole_culture,
    HERE / "aides-territoires.png": aides,
    HERE / "mobiliscope.png": mobiliscope,
    HERE / "livret-banque-des-territoires.png": livret,
    HERE / "webinaire-image-numerique.png": image_numerique,
    HERE / "webinaire-resilience.png": resilience,
    HERE / "veille-presse-tramayes.png": presse,
    HERE / "victoires-du-paysage.png": paysage,
    PROJECT / "images" / "logo-pvd.png": logo,
}


def main() -> None:
    for path, draw in IMAGES.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        data = draw().png()
        path.write_bytes(data)
        print(f"{path.relative_to(PROJECT)}: {len(data)} bytes")


if __name__ == "__main__":
    main()
