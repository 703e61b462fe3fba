"""Hershey single-stroke glyphs, arranged the way a pen traces them.

A Hershey glyph is a list of polylines in the order a plotter draws them, which is not the order
a hand does: the script `i` starts with its dot, the `t` bar sits between stem and exit. Here
each glyph becomes a list of `Piece`s in em units (cap height = 1, y down, baseline at 0, x from
the glyph's left edge), split into the body the pen draws without lifting, where the plotter's
strokes touch, and the marks written after the word (i and j dots, t and f bars, accents), so a
word can be drawn as one connected cursive path followed by its dots and bars.

Latin-1 letters outside ASCII are drawn as their base letter plus an accent piece (the Hershey
fonts cover ASCII only): é is e + acute, ç is c + cedilla, ø is o + a slash.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
from HersheyFonts import HersheyFonts

FloatArray = npt.NDArray[np.float64]

# Hershey geometry: cap line -12, base line 9 (y down), so the cap height is 21 units.
_CAP_LINE = -12.0
_BASE_LINE = 9.0
_EM = _BASE_LINE - _CAP_LINE

FONTS = ("scripts", "cursive", "futural")
# Within one glyph, plotter strokes closer than this (em) are one pen movement for a hand.
_JOIN_GAP = {"scripts": 10.5 / _EM, "cursive": 10.5 / _EM, "futural": 11.5 / _EM}
# Letters whose short horizontal strokes are crossing bars written after the word.
_BARRED = frozenset("tf")
_DOTTED = frozenset("ij")

_COMBINING = {
    "\u0300": "grave",
    "\u0301": "acute",
    "\u0302": "circumflex",
    "\u0303": "tilde",
    "\u0308": "diaeresis",
    "\u030a": "ring",
    "\u0327": "cedilla",
}
# Letters with no canonical decomposition: base letter and mark drawn over it.
_SPECIAL = {"ø": ("o", "slash"), "Ø": ("O", "slash")}


@dataclass(frozen=True)
class Piece:
    """One pen-down movement of a glyph: (n, 2) points in em units."""

    points: FloatArray
    deferred: bool  # a dot, bar or accent, written after the rest of the word


@dataclass(frozen=True)
class Glyph:
    """A character as pen movements, with its advance width (em)."""

    pieces: tuple[Piece, ...]
    width: float
    letter: bool  # the pen may run into it from the previous letter and out to the next


class Font:
    """The glyphs of one Hershey font, converted once and cached."""

    def __init__(self, name: str) -> None:
        if name not in FONTS:
            raise ValueError(f"unknown font {name!r}; expected one of {FONTS}")
        self.name = name
        self._join_gap = _JOIN_GAP[name]
        raw = HersheyFonts()
        raw.load_default_font(name)
        self._raw = raw.all_glyphs
        self._cache: dict[str, Glyph] = {}

    def glyph(self, char: str) -> Glyph:
        """The glyph of one character; ValueError for a character the fonts cannot draw."""
        found = self._cache.get(char)
        if found is None:
            found = self._make(char)
            self._cache[char] = found
        return found

    def _make(self, char: str) -> Glyph:
        if char in self._raw:
            return self._from_hershey(char)
        base, marks = _decompose(char)
        if base not in self._raw or not marks:
            raise ValueError(f"no glyph for {char!r} in the Hershey {self.name} font")
        glyph = self._from_hershey(base)
        # an accent replaces the dot of i and j (ï, í)
        pieces = [p for p in glyph.pieces if not (p.deferred and base in _DOTTED)]
        body = np.concatenate([p.points for p in pieces if not p.deferred] or [pieces[0].points])
        for mark in marks:
            pieces.extend(Piece(a, deferred=True) for a in _accent(mark, body, base.isupper()))
        return Glyph(tuple(pieces), glyph.width, glyph.letter)

    def _from_hershey(self, char: str) -> Glyph:
        raw = self._raw[char]
        left = float(raw.left_offset)
        strokes = [
            np.array([[(x - left) / _EM, (y - _BASE_LINE) / _EM] for x, y in stroke], np.float64)
            for stroke in raw.strokes
            if len(stroke)
        ]
        pieces = [Piece(s, _is_deferred(char, s, i)) for i, s in enumerate(strokes)]
        return Glyph(
            tuple(_join_body(pieces, self._join_gap)), float(raw.char_width) / _EM, char.isalpha()
        )


@cache
def font(name: str) -> Font:
    """The shared, cached `Font` of that name."""
    return Font(name)


def _is_deferred(char: str, stroke: FloatArray, index: int) -> bool:
    """Dots of i and j, bars of t and f: the marks a writer adds once the word is written."""
    span = stroke.max(axis=0) - stroke.min(axis=0)
    if char in _DOTTED and span.max() <= 2.5 / _EM:
        return True
    return bool(
        char in _BARRED
        and index > 0
        and len(stroke) <= 3
        and span[1] <= 1.0 / _EM
        and span[0] >= 3.0 / _EM
    )


def _join_body(pieces: list[Piece], gap: float) -> list[Piece]:
    """Merge consecutive body pieces whose ends touch (within `gap` em): one pen movement."""
    out: list[Piece] = []
    for piece in pieces:
        if piece.deferred:
            out.append(piece)
            continue
        previous = next((i for i in range(len(out) - 1, -1, -1) if not out[i].deferred), None)
        if previous is not None and previous == len(out) - 1:
            end = out[previous].points[-1]
            if float(np.hypot(*(piece.points[0] - end))) <= gap:
                merged = np.concatenate([out[previous].points, piece.points])
                out[previous] = Piece(merged, False)
                continue
        out.append(piece)
    # bodies first, marks after: the order a hand writes one letter in
    return [p for p in out if not p.deferred] + [p for p in out if p.deferred]


def _decompose(char: str) -> tuple[str, list[str]]:
    """Base letter and accent names of a Latin-1 letter (é -> e, [acute])."""
    if char in _SPECIAL:
        base, mark = _SPECIAL[char]
        return base, [mark]
    parts = unicodedata.normalize("NFD", char)
    marks = [_COMBINING[c] for c in parts[1:] if c in _COMBINING]
    if len(marks) != len(parts) - 1:
        return char, []
    return parts[0], marks


def _accent(mark: str, body: FloatArray, upper: bool) -> list[FloatArray]:
    """The accent's pen paths (em), placed over (or, for the cedilla, under) the body."""
    left, top = body.min(axis=0)
    right, bottom = body.max(axis=0)
    cx = (left + right) / 2
    u = 1.0 / _EM  # one Hershey unit
    above = top - (2.0 if upper else 2.5) * u
    shapes: dict[str, list[list[tuple[float, float]]]] = {
        "acute": [[(-1.2, 0.0), (1.8, -3.5)]],
        "grave": [[(-1.8, -3.5), (1.2, 0.0)]],
        "circumflex": [[(-2.5, 0.0), (0.0, -3.0), (2.5, 0.0)]],
        "tilde": [[(-3.0, -0.5), (-1.5, -2.0), (0.0, -1.0), (1.5, 0.0), (3.0, -1.5)]],
        "diaeresis": [[(-2.2, -1.0), (-2.0, -0.5)], [(2.0, -1.0), (2.2, -0.5)]],
        "ring": [
            [
                (0.0, 0.0),
                (1.3, -0.8),
                (1.2, -2.2),
                (0.0, -2.8),
                (-1.2, -2.2),
                (-1.3, -0.8),
                (0.0, 0.0),
            ]
        ],
    }
    if mark == "cedilla":
        return [
            np.array(
                [
                    (cx, bottom),
                    (cx + 1.5 * u, bottom + 1.5 * u),
                    (cx, bottom + 3.0 * u),
                    (cx - 1.5 * u, bottom + 3.0 * u),
                ],
                np.float64,
            )
        ]
    if mark == "slash":
        return [np.array([(left - 1.0 * u, bottom + 1.0 * u), (right + 1.0 * u, top - 1.0 * u)])]
    return [
        np.array([(cx + dx * u, above + dy * u) for dx, dy in path], np.float64)
        for path in shapes[mark]
    ]
