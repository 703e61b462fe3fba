"""Drawing pen trajectories: SVG by hand (small, exact), PNG through matplotlib.

Input is what the shards hold: (N, 3) offsets (dx, dy, end_of_stroke) plus an optional origin.
Pen-up moves are not drawn: a stroke ends on a row whose end_of_stroke is 1. Board y grows
downwards, as in SVG, so nothing is flipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from graves_data.errors import UsageError

Strokes = list[npt.NDArray[np.float64]]


def strokes_from_offsets(offsets: npt.ArrayLike, origin: Sequence[float] = (0.0, 0.0)) -> Strokes:
    """Absolute (x, y) arrays, one per stroke, from offset rows."""
    rows = np.asarray(offsets, dtype=np.float64).reshape(-1, 3)
    if len(rows) == 0:
        return []
    xy = np.cumsum(rows[:, :2], axis=0) + np.asarray(origin, dtype=np.float64)
    ends = np.flatnonzero(rows[:, 2] > 0.5) + 1
    if len(ends) == 0 or ends[-1] != len(rows):
        ends = np.append(ends, len(rows))
    starts = np.concatenate([[0], ends[:-1]])
    return [xy[a:b] for a, b in zip(starts, ends, strict=True) if b > a]


def bounds(strokes: Strokes) -> tuple[float, float, float, float]:
    if not strokes:
        return 0.0, 0.0, 1.0, 1.0
    points = np.concatenate(strokes)
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def to_svg(
    strokes: Strokes, stroke_width: float = 0.0, margin: float = 0.05, title: str = ""
) -> str:
    """A standalone SVG document with one polyline per stroke (a dot for a 1-point stroke)."""
    x0, y0, x1, y1 = bounds(strokes)
    width, height = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    pad = margin * max(width, height)
    line = stroke_width or max(width, height) / 300.0
    view = f"{x0 - pad:.1f} {y0 - pad:.1f} {width + 2 * pad:.1f} {height + 2 * pad:.1f}"
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{view}" '
        f'width="{min(1200.0, width + 2 * pad):.0f}" '
        f'height="{min(1200.0, width + 2 * pad) * (height + 2 * pad) / (width + 2 * pad):.0f}">',
    ]
    if title:
        parts.append(f"<title>{_escape(title)}</title>")
    parts.append(
        f'<g fill="none" stroke="black" stroke-width="{line:.2f}" '
        'stroke-linecap="round" stroke-linejoin="round">'
    )
    for stroke in strokes:
        if len(stroke) == 1:
            x, y = stroke[0]
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{line / 2:.2f}" fill="black"/>')
            continue
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in stroke)
        parts.append(f'<polyline points="{points}"/>')
    parts.append("</g></svg>")
    return "\n".join(parts) + "\n"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def save_png(strokes: Strokes, path: Path, title: str = "", dpi: int = 100) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x0, y0, x1, y1 = bounds(strokes)
    aspect = max(y1 - y0, 1.0) / max(x1 - x0, 1.0)
    fig, ax = plt.subplots(figsize=(12, max(1.5, 12 * aspect)))
    for stroke in strokes:
        ax.plot(stroke[:, 0], stroke[:, 1], color="black", linewidth=1.2, solid_capstyle="round")
    ax.set_aspect("equal")
    ax.invert_yaxis()
    ax.axis("off")
    if title:
        ax.set_title(title)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)


def save_drawing(
    offsets: npt.ArrayLike, path: str | Path, origin: Sequence[float] = (0.0, 0.0), title: str = ""
) -> Path:
    """Render offsets to `path`; the suffix picks the format (.svg or .png)."""
    target = Path(path)
    strokes = strokes_from_offsets(offsets, origin)
    suffix = target.suffix.lower()
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".svg":
        target.write_text(to_svg(strokes, title=title), encoding="utf-8")
    elif suffix == ".png":
        save_png(strokes, target, title=title)
    else:
        raise UsageError(f"{target}: unknown drawing format {suffix!r}; use .svg or .png")
    return target


def save_window_heatmap(
    offsets: npt.ArrayLike, phi: npt.ArrayLike, text: str, path: str | Path
) -> Path:
    """A synthesis sample drawn over its window weights phi(t, u): characters against steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weights = np.asarray(phi, dtype=np.float64)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 6), height_ratios=[1, 1.2])
    for stroke in strokes_from_offsets(offsets):
        top.plot(stroke[:, 0], stroke[:, 1], color="black", linewidth=1.2)
    top.set_aspect("equal")
    top.invert_yaxis()
    top.axis("off")
    top.set_title(text)
    bottom.imshow(weights.T, aspect="auto", origin="upper", cmap="viridis", interpolation="nearest")
    chars = list(text) if len(text) == weights.shape[1] else []
    if chars and len(chars) <= 80:
        bottom.set_yticks(range(len(chars)), [c if c != " " else "␣" for c in chars])
    bottom.set_xlabel("time step (pen point)")
    bottom.set_ylabel("character")
    fig.tight_layout()
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return target
