"""The playground's sampling: a run's network writes a text (or, for a prediction network,
anything), and each sample's window is checked; torch is imported only here, when a sample is
first asked for, so the server starts (and the explorer works) without it.

A synthesis sample is redrawn, with the next seed, when its window
- stalls: it never reaches the end of the text within the step limit;
- runs backwards: `models.sample.window_monotonic` says its focus fell behind;
- overruns the text: after the focus reaches the last character the pen keeps writing for more
  than `OVERRUN_FACTOR` times the points an average character took (scribble after the text).
The share of samples that passed all three is reported as the clean-line rate.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from graves_data.errors import UsageError
from graves_data.render import strokes_from_offsets, to_svg
from graves_data.serve.catalog import Catalog, RunEntry

MAX_TEXT = 120
MAX_STEPS = 2500
MAX_ATTEMPTS = 5
MAX_BIAS = 10.0
MAX_HEATMAP_STEPS = 400
OVERRUN_FACTOR = 3.0


class Busy(Exception):
    """Every sampling slot is taken."""


@dataclass(frozen=True)
class Prime:
    """Offsets (raw units) and text of a prime: a dataset line or ink drawn on the page."""

    offsets: npt.NDArray[np.float32]
    text: str
    drawn: bool  # ink from the page: rescaled to the run's data before use


@dataclass
class SynthRequest:
    run: str
    text: str = ""
    bias: float = 0.0
    seed: int = 0
    steps: int | None = None
    attempts: int = 3
    prime: Prime | None = None


@dataclass
class RunTally:
    samples: int = 0
    clean: int = 0


@dataclass
class Sampler:
    """Loaded networks (once each), a bound on samples running at once, tallies per run."""

    catalog: Catalog
    max_concurrent: int = 2
    _models: dict[str, Any] = field(default_factory=dict)
    _tally: dict[str, RunTally] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _slots: threading.BoundedSemaphore | None = None

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.max_concurrent)

    def unknown_characters(self, run: RunEntry, text: str) -> list[str]:
        if run.vocab is None:
            return []
        return sorted({c for c in text if run.vocab.id_of(c) is None})

    def check(self, request: SynthRequest) -> RunEntry:
        """The request's run, after the bounds: a clear UsageError (400) for each."""
        run = self.catalog.run(request.run)
        if len(request.text) > MAX_TEXT:
            raise UsageError(f"text of {len(request.text)} characters; at most {MAX_TEXT}")
        if not 0.0 <= request.bias <= MAX_BIAS:
            raise UsageError(f"bias must be in [0, {MAX_BIAS}]")
        if request.steps is not None and not 1 <= request.steps <= MAX_STEPS:
            raise UsageError(f"steps must be in [1, {MAX_STEPS}]")
        if not 1 <= request.attempts <= MAX_ATTEMPTS:
            raise UsageError(f"attempts must be in [1, {MAX_ATTEMPTS}]")
        if run.task == "synthesis" and not request.text.strip():
            raise UsageError("a synthesis run writes a text: give one")
        if run.task == "handwriting" and request.text:
            raise UsageError("a prediction run writes no given text: leave the text out")
        return run

    def sample(self, request: SynthRequest) -> dict[str, Any]:
        run = self.check(request)
        assert self._slots is not None  # set in __post_init__
        if not self._slots.acquire(blocking=False):
            raise Busy(f"{self.max_concurrent} samples are being drawn; try again shortly")
        try:
            loaded = self._load(run)
            if run.task == "synthesis":
                return self._synthesis(run, loaded, request)
            return self._prediction(loaded, request)
        finally:
            self._slots.release()

    def _load(self, run: RunEntry) -> Any:
        with self._lock:
            if run.name not in self._models:
                import torch

                from graves_data.models.evaluate import load_run

                torch.set_num_threads(1)
                self._models[run.name] = load_run(run.path, "cpu")
            return self._models[run.name]

    def _normalised_prime(self, loaded: Any, prime: Prime | None) -> Any:
        from graves_data.manifest import Normalization

        norm = Normalization.of(loaded.config.normalization)
        if prime is None:
            return norm, None
        offsets = prime.offsets
        if prime.drawn:
            offsets = match_scale(offsets, norm.std)
        return norm, norm.apply(offsets)

    def _synthesis(self, run: RunEntry, loaded: Any, request: SynthRequest) -> dict[str, Any]:
        from graves_data.models.sample import encode_text, sample_synthesis, window_monotonic

        norm, prime = self._normalised_prime(loaded, request.prime)
        full = f"{request.prime.text} {request.text}" if request.prime else request.text
        if run.vocab is None:
            raise UsageError(f"run {run.name} has no vocab.json")
        ids = encode_text(run.vocab, full)
        start = norm.apply(np.zeros((1, 3), dtype=np.float32))
        offered = len(request.prime.text) + 1 if request.prime else 0
        attempts: list[dict[str, Any]] = []
        chosen = None
        for k in range(request.attempts):
            sample = sample_synthesis(
                loaded.model, ids, start, bias=request.bias, seed=request.seed + k,
                max_steps=request.steps, prime=prime, text=full,
            )  # fmt: skip
            phi = sample.phi if sample.phi is not None else np.zeros((0, len(full)), np.float32)
            problems = window_problems(phi, sample.stopped, window_monotonic(phi), offered)
            attempts.append({"seed": request.seed + k, "problems": problems})
            self._count(run.name, not problems)
            chosen = (sample, phi, problems)
            if not problems:
                break
        assert chosen is not None  # attempts >= 1
        sample, phi, problems = chosen
        raw = norm.invert(sample.offsets)
        return {
            **drawing(raw, full),
            "text": full,
            "phi": heatmap(phi),
            "attempts": attempts,
            "problems": problems,
            "clean": not problems,
            "clean_rate": self.clean_rate(run.name),
            "unknown": self.unknown_characters(run, full),
        }

    def _prediction(self, loaded: Any, request: SynthRequest) -> dict[str, Any]:
        from graves_data.models.sample import sample_prediction

        norm, prime = self._normalised_prime(loaded, request.prime)
        start = norm.apply(np.zeros((1, 3), dtype=np.float32))
        sample = sample_prediction(
            loaded.model, request.steps or 700, start, bias=request.bias, seed=request.seed,
            prime=prime,
        )  # fmt: skip
        drawn = sample.offsets if prime is None else np.concatenate([prime, sample.offsets])
        return {
            **drawing(norm.invert(drawn), ""),
            "text": "",
            "phi": None,
            "attempts": [{"seed": request.seed, "problems": []}],
            "problems": [],
            "clean": True,
            "clean_rate": None,
            "unknown": [],
        }

    def _count(self, run: str, clean: bool) -> None:
        with self._lock:
            tally = self._tally.setdefault(run, RunTally())
            tally.samples += 1
            tally.clean += int(clean)

    def clean_rate(self, run: str) -> dict[str, Any]:
        with self._lock:
            tally = self._tally.get(run, RunTally())
            rate = tally.clean / tally.samples if tally.samples else None
            return {"samples": tally.samples, "clean": tally.clean, "rate": rate}


def window_problems(
    phi: npt.NDArray[np.float32], stopped: bool, monotonic: bool, offered: int = 0
) -> list[str]:
    """What is wrong with a synthesis sample's window: stalls, runs backwards, overruns."""
    problems = []
    if not stopped:
        problems.append("stalls: the window never reached the end of the text")
    if not monotonic:
        problems.append("runs backwards: the window fell behind where it had been")
    if len(phi) and phi.shape[1]:
        focus = phi.argmax(axis=1)
        last = phi.shape[1] - 1
        reached = np.flatnonzero(focus >= last)
        if len(reached):
            before = int(reached[0])
            per_char = before / max(1, last - offered)
            after = len(focus) - before
            if after > OVERRUN_FACTOR * per_char + 10:
                problems.append(
                    f"overruns the text: {after} points after the last character "
                    f"(a character took {per_char:.0f})"
                )
    return problems


def match_scale(offsets: npt.NDArray[np.float32], std: Sequence[float]) -> Any:
    """Ink from the page scaled so its steps have the run's data's spread (the page's units
    are not the board's)."""
    out = np.array(offsets, dtype=np.float32, copy=True)
    steps = out[1:, :2]
    spread = float(np.sqrt((steps**2).mean())) if len(steps) else 0.0
    if spread > 0:
        out[:, :2] *= float(np.mean(np.asarray(std, dtype=np.float64))) / spread
    return out


def drawing(raw: npt.NDArray[np.float32], title: str) -> dict[str, Any]:
    strokes = strokes_from_offsets(raw)
    return {
        "svg": to_svg(strokes, title=title),
        "strokes": [[[round(float(x), 1), round(float(y), 1)] for x, y in s] for s in strokes],
        "points": len(raw),
    }


def heatmap(phi: npt.NDArray[np.float32]) -> list[list[float]] | None:
    """Window weights for the page: at most MAX_HEATMAP_STEPS time steps (maxima kept)."""
    if not len(phi):
        return None
    n = len(phi)
    if n > MAX_HEATMAP_STEPS:
        edges = np.linspace(0, n, MAX_HEATMAP_STEPS + 1).astype(int)
        phi = np.stack([phi[a:b].max(axis=0) for a, b in itertools.pairwise(edges)])
    return [[round(float(v), 3) for v in row] for row in phi]


def prime_from_row(row: Mapping[str, Any]) -> Prime:
    return Prime(np.asarray(row["offsets"], dtype=np.float32), str(row["text"]), drawn=False)


def prime_from_strokes(strokes: Sequence[Sequence[Sequence[float]]], text: str) -> Prime:
    """Offsets of page ink: (x, y, ...) points per stroke."""
    points, eos = [], []
    for stroke in strokes:
        for i, point in enumerate(stroke):
            points.append((float(point[0]), float(point[1])))
            eos.append(1.0 if i == len(stroke) - 1 else 0.0)
    if not points:
        raise UsageError("the prime ink has no points")
    xy = np.asarray(points, dtype=np.float64)
    steps = np.diff(xy, axis=0, prepend=xy[:1])
    return Prime(np.column_stack([steps, eos]).astype(np.float32), text, drawn=True)
