"""A writer's hand: words laid out as pen paths on the whiteboard, then sampled like the pen.

Two steps, both vectorised over a whole text line:

1. `layout_line` turns words into pen paths in board units: Hershey glyph pieces
   (`_glyphs`) with the writer's size, width, slant, spacing, glyph-to-glyph jitter, a wavy
   and tilted baseline, letters run together where this writer's pen would not lift, and the
   i dots, t bars and accents of each word written after it.
2. `sample_line` moves a pen along those paths in time and reads it like the eBeam system:
   the paths are rounded (corner cutting); the pen speed follows a power law of the curvature,
   like the two-thirds law of handwriting (slower in tight curves), with a smooth start and
   stop on each stroke; pen-up pauses depend on the distance travelled; and the position is
   read on a clock of about 65 Hz (40 Hz for some writers, slowing to under 30 Hz on some
   forms) whose readings, rounded to 10 ms, step 0.01/0.02 s (0.03/0.04 s on a slow session)
   like the release's. A small tremor and integer board coordinates finish it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from graves_data.synth._glyphs import Font, Piece, font

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Pen kinematics: v = K * R**POWER_LAW within [SPEED_FLOOR, 1] * SPEED_CAP * K, eased over the
# first and last EASE_LENGTH cap heights of a stroke from EASE_FLOOR of that speed.
POWER_LAW = 0.4
SPEED_CAP = 7.0
SPEED_FLOOR = 0.025
EASE_LENGTH = 0.3
EASE_FLOOR = 0.08


@dataclass(frozen=True)
class WriterStyle:
    """What makes one writer's lines look and time like theirs (board units, seconds)."""

    font: str
    cap_height: float  # height of a capital
    aspect: float  # glyph width relative to the font's own
    slant: float  # tan of the lean to the right
    letter_spacing: float  # em added between glyphs
    word_spacing: float  # em between words
    join_prob: float  # chance the pen runs from one letter into the next
    speed: float  # K of v = K * R**POWER_LAW
    tremor: float  # amplitude of the hand's tremor
    jitter: float  # glyph-to-glyph variation of size and position (fraction of em)
    drift: float  # amplitude of the baseline's waviness
    tilt: float  # baseline slope (dy / dx)
    period: float  # sampling period of the pen on this writer's sessions
    pause: float  # typical pen-up pause
    line_spacing: float  # between baselines
    margin: float  # x where lines start


def draw_style(rng: np.random.Generator) -> WriterStyle:
    """A random writer, in the ranges the release's writers span."""
    cursive = rng.random() < 0.72
    name = str(rng.choice(["scripts", "cursive"])) if cursive else "futural"
    cap = float(rng.uniform(230.0, 342.0))
    slow_clock = rng.random() < 0.12
    return WriterStyle(
        font=name,
        cap_height=cap,
        aspect=float(rng.uniform(0.86, 1.12) if cursive else rng.uniform(0.75, 0.96)),
        slant=float(np.clip(rng.normal(0.18, 0.14), -0.12, 0.5)),
        letter_spacing=float(rng.uniform(-0.02, 0.06)),
        word_spacing=float(rng.uniform(0.35, 0.65) + (0.0 if cursive else 0.2)),
        join_prob=float(rng.uniform(0.7, 0.97) if cursive else rng.uniform(0.0, 0.15)),
        speed=float(rng.lognormal(math.log(394.0), 0.2)),
        tremor=float(rng.uniform(0.6, 2.6)),
        jitter=float(rng.uniform(0.02, 0.07)),
        drift=float(rng.uniform(10.0, 60.0)),
        tilt=float(rng.normal(0.0, 0.02)),
        period=float(rng.uniform(0.0205, 0.026) if slow_clock else rng.uniform(0.0138, 0.0162)),
        pause=float(rng.uniform(0.08, 0.2)),
        line_spacing=float(cap * rng.uniform(1.9, 2.5)),
        margin=float(rng.uniform(650.0, 1500.0)),
    )


_REFERENCE = "The thought fits his position precisely, and the wind returns at 6 o'clock."


def chars_per_line(style: WriterStyle, width: float) -> int:
    """About how many characters of English this writer fits on `width` board units."""
    face = font(style.font)
    em = sum(
        style.word_spacing if c == " " else face.glyph(c).width + style.letter_spacing
        for c in _REFERENCE
    ) / len(_REFERENCE)
    return int(np.clip(round(width / (em * style.cap_height * style.aspect)), 20, 52))


@dataclass(frozen=True)
class Word:
    """One word as written; `struck` words are scribbled over (transcribed as `#`)."""

    text: str
    struck: bool = False


@dataclass(frozen=True)
class Trace:
    """Pen readings of one text line: integer board x, y, time in centiseconds, and the index
    one past the last reading of each stroke."""

    x: IntArray
    y: IntArray
    t: IntArray
    ends: IntArray


# -- layout -----------------------------------------------------------------------------------


def layout_line(
    words: Sequence[Word], style: WriterStyle, x0: float, baseline: float, rng: np.random.Generator
) -> tuple[list[FloatArray], list[int]]:
    """Pen paths of a line in board units, in writing order, and the word index of each."""
    face = font(style.font)
    cap = style.cap_height
    period = float(rng.uniform(2500.0, 7000.0))
    phase = float(rng.uniform(0.0, 2.0 * math.pi))
    paths: list[FloatArray] = []
    owners: list[int] = []
    cursor = 0.0
    for index, word in enumerate(words):
        pieces, width = _word_pieces(word.text, face, style, rng)
        if word.struck:
            pieces.append(_scribble(width, rng))
        scale = 1.0 + float(rng.normal(0.0, style.jitter * 0.5))
        lift = float(rng.normal(0.0, 0.04))
        for points in pieces:
            ex = cursor + points[:, 0] * scale
            ey = points[:, 1] * scale + lift
            bx = x0 + ex * cap * style.aspect - style.slant * ey * cap
            wave = style.drift * np.sin(2.0 * math.pi * (bx - x0) / period + phase)
            by = baseline + ey * cap + style.tilt * (bx - x0) + wave
            paths.append(np.column_stack([bx, by]))
            owners.append(index)
        cursor += width * scale + style.word_spacing * (1.0 + float(rng.normal(0.0, 0.18)))
    return paths, owners


def _word_pieces(
    text: str, face: Font, style: WriterStyle, rng: np.random.Generator
) -> tuple[list[FloatArray], float]:
    """A word's pen paths in em from x = 0: the joined body first, then dots, bars, accents."""
    body: list[FloatArray] = []
    marks: list[FloatArray] = []
    cursor = 0.0
    previous_letter = False
    jitter = style.jitter
    max_gap = 0.55 if face.name != "futural" else 0.3
    for char in text:
        glyph = face.glyph(char)
        size = 1.0 + float(rng.normal(0.0, jitter))
        dx = float(rng.normal(0.0, jitter * 0.1))
        dy = float(rng.normal(0.0, jitter * 0.25))
        first_body = True
        for piece in glyph.pieces:
            points = _place(piece, size, cursor + dx, dy)
            if piece.deferred:
                marks.append(points)
                continue
            if (
                first_body
                and previous_letter
                and glyph.letter
                and body
                and rng.random() < style.join_prob
                and float(np.hypot(*(points[0] - body[-1][-1]))) <= max_gap
            ):
                body[-1] = np.concatenate([body[-1], points])
            else:
                body.append(points)
            first_body = False
        previous_letter = glyph.letter
        cursor += glyph.width * size + style.letter_spacing + float(rng.normal(0.0, jitter * 0.1))
    return body + marks, cursor


def _place(piece: Piece, size: float, x: float, y: float) -> FloatArray:
    placed: FloatArray = piece.points * size + np.array([x, y])
    return placed


def _scribble(width: float, rng: np.random.Generator) -> FloatArray:
    """A zigzag over a word, the way a writer strikes it out."""
    n = max(4, int(width / 0.12))
    xs = np.linspace(-0.05, width + 0.05, n) + rng.normal(0.0, 0.03, n)
    ys = np.where(np.arange(n) % 2 == 0, -0.5, -0.05) + rng.normal(0.0, 0.04, n)
    return np.column_stack([xs, ys])


# -- sampling ---------------------------------------------------------------------------------


def sample_line(
    paths: Sequence[FloatArray],
    owners: Sequence[int],
    style: WriterStyle,
    start: float,
    period: float,
    rng: np.random.Generator,
) -> tuple[Trace, float]:
    """Read a pen moving along `paths` from time `start` (seconds) on a clock of `period`.

    Returns the readings and the time the last stroke ended.
    """
    points = np.concatenate(paths)
    sid = np.repeat(np.arange(len(paths)), [len(p) for p in paths])
    for _ in range(2):
        points, sid = _chaikin(points, sid)
    local, last_vertex = _local_times(points, sid, style)
    n_strokes = len(paths)
    duration = np.maximum(local[last_vertex], 3.0 * period)
    gaps = _pen_up_gaps(points, sid, owners, style, n_strokes, rng)
    starts = start + np.concatenate([[0.0], np.cumsum(duration[:-1] + gaps)])
    ends = starts + duration
    vertex_time = starts[sid] + local
    ticks = _clock(start, float(ends[-1]), period, rng)
    stroke = np.searchsorted(starts, ticks, side="right") - 1
    inside = (stroke >= 0) & (ticks <= ends[np.maximum(stroke, 0)])
    ticks, stroke = ticks[inside], stroke[inside]
    at = np.minimum(ticks, vertex_time[last_vertex][stroke])
    x = np.interp(at, vertex_time, points[:, 0])
    y = np.interp(at, vertex_time, points[:, 1])
    x, y = _tremor(x, y, ticks, style.tremor, rng)
    counts = np.bincount(stroke, minlength=n_strokes)
    ix, iy, it = np.rint(x).astype(np.int64), np.rint(y).astype(np.int64), np.rint(ticks * 100.0)
    trace = Trace(
        x=_no_repeats(ix, iy, it.astype(np.int64), stroke),
        y=iy,
        t=it.astype(np.int64),
        ends=np.cumsum(counts[counts > 0]).astype(np.int64),
    )
    return trace, float(ends[-1])


def _no_repeats(x: IntArray, y: IntArray, t: IntArray, stroke: IntArray) -> IntArray:
    """x, nudged by a unit where a reading would repeat the one before it exactly (same x, y
    and time): exact repeats are a defect injected on purpose, never left by chance."""
    x = x.copy()
    while True:
        same = (
            (x[1:] == x[:-1]) & (y[1:] == y[:-1]) & (t[1:] == t[:-1]) & (stroke[1:] == stroke[:-1])
        )
        if not same.any():
            return x
        x[1:][same] += 1


def _chaikin(points: FloatArray, sid: IntArray) -> tuple[FloatArray, IntArray]:
    """One round of corner cutting within each stroke; stroke end points stay where they are."""
    n = len(points)
    first = np.ones(n, np.bool_)
    first[1:] = sid[1:] != sid[:-1]
    last = np.ones(n, np.bool_)
    last[:-1] = sid[1:] != sid[:-1]
    valid = ~last
    counts = first.astype(np.int64) + (last & ~first) + 2 * valid
    offsets = np.cumsum(counts) - counts
    out = np.empty((int(counts.sum()), 2))
    keep = first | last
    out[offsets[keep]] = points[keep]
    v = np.nonzero(valid)[0]
    base = offsets[v] + first[v]
    out[base] = 0.75 * points[v] + 0.25 * points[v + 1]
    out[base + 1] = 0.25 * points[v] + 0.75 * points[v + 1]
    return out, np.repeat(sid, counts)


def _local_times(
    points: FloatArray, sid: IntArray, style: WriterStyle
) -> tuple[FloatArray, IntArray]:
    """Time of each vertex since its stroke began, and the index of each stroke's last vertex.

    Speed follows a power law of the radius of curvature R (the two-thirds law of handwriting
    says v = K * R^(1/3); a steeper 0.4 gives the release's wider spread of step lengths),
    clipped, and eases in and out over the first and last stretch of each stroke, as a hand
    accelerates and brakes.
    """
    n = len(points)
    same = sid[1:] == sid[:-1]
    seg = np.diff(points, axis=0)
    length = np.hypot(seg[:, 0], seg[:, 1]) * same
    heading = np.arctan2(seg[:, 1], seg[:, 0])
    turn = np.zeros(n)
    inner = same[:-1] & same[1:]
    bend = np.abs((heading[1:] - heading[:-1] + math.pi) % (2.0 * math.pi) - math.pi)
    local_len = 0.5 * (length[:-1] + length[1:]) + 1e-6
    turn[1:-1] = np.where(inner, bend / local_len, 0.0)
    radius = 1.0 / np.maximum(turn, 1e-5)
    v_max = style.speed * SPEED_CAP
    speed = np.clip(style.speed * radius**POWER_LAW, SPEED_FLOOR * v_max, v_max)
    # distance along the stroke from its start and to its end
    cum = np.concatenate([[0.0], np.cumsum(length)])
    first = np.ones(n, np.bool_)
    first[1:] = ~same
    stroke_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    from_start = cum - cum[stroke_start]
    last_vertex = np.nonzero(np.concatenate([~same, [True]]))[0]
    to_end = cum[last_vertex][sid] - cum
    ease = np.clip(np.minimum(from_start, to_end) / (EASE_LENGTH * style.cap_height), 0.0, 1.0)
    speed = speed * (EASE_FLOOR + (1.0 - EASE_FLOOR) * ease * ease * (3.0 - 2.0 * ease))
    step = length / (0.5 * (speed[:-1] + speed[1:])) + 1e-7 * same
    elapsed = np.concatenate([[0.0], np.cumsum(step)])
    local = elapsed - elapsed[stroke_start]
    return local, last_vertex


def _pen_up_gaps(
    points: FloatArray,
    sid: IntArray,
    owners: Sequence[int],
    style: WriterStyle,
    n_strokes: int,
    rng: np.random.Generator,
) -> FloatArray:
    """Seconds the pen is up before each stroke after the first: a pause, longer between
    words, plus the flight to where the next stroke starts."""
    if n_strokes < 2:
        return np.zeros(0)
    bounds = np.searchsorted(sid, np.arange(n_strokes))
    firsts = points[bounds]
    lasts = points[np.concatenate([bounds[1:] - 1, [len(points) - 1]])]
    flight = np.hypot(*(firsts[1:] - lasts[:-1]).T)
    new_word = np.diff(np.asarray(owners)) != 0
    pause = style.pause * rng.lognormal(0.0, 0.6, n_strokes - 1)
    # now and then the writer stops to read on in the text being copied
    reading = (rng.random(n_strokes - 1) < 0.06) * rng.uniform(0.4, 2.5, n_strokes - 1)
    gaps: FloatArray = (
        pause + flight / 9000.0 + new_word * rng.uniform(0.02, 0.12, n_strokes - 1) + reading
    )
    return gaps


def _clock(start: float, stop: float, period: float, rng: np.random.Generator) -> FloatArray:
    """Reading times of the pen: a steady clock with a little jitter, from before `start`."""
    first = start - float(rng.uniform(0.0, period))
    n = int((stop - first) / period) + 2
    ticks = first + period * np.arange(n) + rng.normal(0.0, 0.07 * period, n)
    return np.maximum.accumulate(ticks)


def _tremor(
    x: FloatArray, y: FloatArray, t: FloatArray, amplitude: float, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """A hand's physiological tremor (6-11 Hz) and the sensor's noise."""
    f = rng.uniform(6.0, 11.0, 2)
    phase = rng.uniform(0.0, 2.0 * math.pi, 2)
    rel = t - t[0]
    wobble_x = amplitude * np.sin(2.0 * math.pi * f[0] * rel + phase[0])
    wobble_y = amplitude * np.sin(2.0 * math.pi * f[1] * rel + phase[1])
    noise = rng.normal(0.0, 0.6, (2, len(t)))
    return x + wobble_x + noise[0], y + wobble_y + noise[1]
