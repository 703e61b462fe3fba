"""Sampling from trained networks, and drawing the samples.

- prediction network: unconditional handwriting, optionally primed with a line of the shards;
- synthesis network: handwriting of a given text, biased (the paper's b, eqs 61-62), optionally
  primed with a line (its strokes and text are fed first, so the sample continues in its
  style); sampling stops at the end of the text (phi(t, U + 1) > phi(t, u) for all u);
- text network: characters, optionally primed with a string.

Handwriting is written as SVG or PNG (`graves_data.render`), and for synthesis the window
weights phi(t, u) as a heatmap under the sample (as the paper plots them).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from graves_data.errors import DatasetError, UsageError
from graves_data.manifest import Normalization
from graves_data.models import mixture
from graves_data.models.evaluate import LoadedRun, load_run
from graves_data.models.prediction import HandwritingPrediction
from graves_data.models.synthesis import HandwritingSynthesis
from graves_data.models.text import CharLSTM
from graves_data.render import save_drawing, save_window_heatmap
from graves_data.shards import VOCAB, read_json
from graves_data.storage import resolve
from graves_data.vocab import Vocab

Array = npt.NDArray[np.float32]
MAX_BIAS = 100.0

log = logging.getLogger(__name__)


@dataclass
class HandwritingSample:
    offsets: Array  # (n, 3) normalised dx, dy, end_of_stroke of the sampled points
    phi: Array | None = None  # (n, U) window weights (synthesis)
    stopped: bool = False  # synthesis: the window passed the end of the text
    text: str = ""
    prime: Array | None = field(default=None)  # (m, 3) normalised offsets of the prime


def _generator(seed: int, device: torch.device) -> torch.Generator:
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def _finish(points: list[torch.Tensor]) -> Array:
    offsets = torch.cat(points).cpu().numpy().astype(np.float32) if points else np.zeros((0, 3))
    if len(offsets):
        offsets[-1, 2] = 1.0
    return np.asarray(offsets, dtype=np.float32)


@torch.no_grad()
def sample_prediction(
    model: HandwritingPrediction,
    steps: int,
    start: Array,
    *,
    bias: float = 0.0,
    seed: int = 0,
    prime: Array | None = None,
) -> HandwritingSample:
    """`steps` points from the prediction network; `start` is the first input (normalised
    (0, 0, 0)); with `prime`, its points are fed first and the sample continues them."""
    device = next(model.parameters()).device
    generator = _generator(seed, device)
    feed = torch.as_tensor(prime if prime is not None else start, device=device).reshape(1, -1, 3)
    y_hat, state = model(feed)
    points = []
    for _ in range(steps):
        point = mixture.sample(y_hat[:, -1], model.config.mixtures, bias, generator)
        points.append(point)
        y_hat, state = model(point.unsqueeze(1), state)
    return HandwritingSample(_finish(points), prime=prime)


@torch.no_grad()
def sample_synthesis(
    model: HandwritingSynthesis,
    text_ids: npt.NDArray[np.int64],
    start: Array,
    *,
    bias: float = 0.0,
    seed: int = 0,
    max_steps: int | None = None,
    prime: Array | None = None,
    text: str = "",
) -> HandwritingSample:
    """Handwriting of `text_ids`, stopping when the window leaves the text (or at max_steps).

    With `prime`, `text_ids` must begin with the prime line's characters: its points are fed
    first and sampling continues from where the window then stands."""
    device = next(model.parameters()).device
    generator = _generator(seed, device)
    ids = torch.as_tensor(text_ids, dtype=torch.long, device=device).reshape(1, -1)
    mask = torch.ones(ids.shape, dtype=torch.float32, device=device)
    size = ids.shape[1]
    limit = max_steps if max_steps is not None else 60 * size + 200
    feed = torch.as_tensor(prime if prime is not None else start, device=device).reshape(1, -1, 3)
    y_hat, state, phi = model(feed, ids, mask, keep_phi=True)
    points, weights, stopped = [], [], False
    for _ in range(limit):
        last = phi[:, -1]
        points.append(mixture.sample(y_hat[:, -1], model.config.mixtures, bias, generator))
        weights.append(last[:, :size])
        if bool((last[0, size] > last[0, :size]).all()):
            stopped = True
            break
        y_hat, state, phi = model(points[-1].unsqueeze(1), ids, mask, state, keep_phi=True)
    phis = torch.cat(weights).cpu().numpy().astype(np.float32)
    return HandwritingSample(_finish(points), phis, stopped, text, prime)


@torch.no_grad()
def sample_text(
    model: CharLSTM, length: int, prime_ids: list[int], *, bias: float = 0.0, seed: int = 0
) -> list[int]:
    """`length` symbol ids after the prime (softmax sharpened by 1 + bias)."""
    device = next(model.parameters()).device
    generator = _generator(seed, device)
    feed = torch.tensor([prime_ids or [0]], dtype=torch.long, device=device)
    logits, state = model(feed)
    out: list[int] = []
    for _ in range(length):
        probs = F.softmax(logits[:, -1].float() * (1.0 + bias), dim=-1)
        symbol = torch.multinomial(probs, 1, generator=generator)
        out.append(int(symbol.item()))
        logits, state = model(symbol, state)
    return out


# ---------------------------------------------------------------------------------------------
# window checks and drawing


def window_focus(phi: Array) -> npt.NDArray[np.int64]:
    """The character the window weighs most at each step (0-based), as the heatmap shows it."""
    return np.asarray(phi.argmax(axis=1), dtype=np.int64)


def window_monotonic(phi: Array, tolerance: int = 1, glitch: int = 2) -> bool:
    """Whether the window moves only forward along the text: its focus never falls more than
    `tolerance` characters behind the furthest it has reached. Two neighbours can share the
    weight, so the focus may flicker between them; and a burst of alpha can light every
    character for a step or two (the vertical lines of the heatmap), which is not a move: the
    focus is taken as the median over `2 * glitch + 1` steps."""
    focus = window_focus(phi)
    if glitch and len(focus) > 2 * glitch:
        padded = np.pad(focus, glitch, mode="edge")
        windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * glitch + 1)
        focus = np.median(windows, axis=1).astype(np.int64)
    return bool((focus >= np.maximum.accumulate(focus) - tolerance).all())


def save_heatmap(sample: HandwritingSample, raw: Array, path: str | Path) -> Path:
    """The sample over its window weights phi(t, u): characters against time steps."""
    if sample.phi is None:
        raise UsageError("only synthesis samples have window weights")
    return save_window_heatmap(raw, sample.phi, sample.text, path)


# ---------------------------------------------------------------------------------------------
# from a run folder


@dataclass
class SampleResult:
    out: Path
    heatmap: Path | None
    points: int
    stopped: bool | None
    monotonic: bool | None
    text: str
    phi: Array | None = None
    unit: str = "points"  # what `points` counts: "characters" for a text run


def run_vocab(run: Path) -> Vocab:
    return Vocab.from_json(read_json(resolve(str(run / VOCAB))))


def _symbols(vocab: Vocab, text: str) -> str:
    """What the vocabulary holds of `text`: its characters, or its UTF-8 bytes as chr(b)."""
    if vocab.kind == "byte":
        return "".join(chr(b) for b in text.encode("utf-8"))
    return text


def outside_vocabulary(vocab: Vocab, text: str) -> list[str]:
    """The distinct characters of `text` the vocabulary has no id for, in order of appearance
    (for a byte vocabulary: those with a byte it has no id for)."""
    found = [c for c in text if any(vocab.id_of(s) is None for s in _symbols(vocab, c))]
    return list(dict.fromkeys(found))


def _named(chars: list[str]) -> str:
    return ", ".join(f"{c!r} (U+{ord(c):04X})" for c in chars)


def encode_text(vocab: Vocab, text: str) -> npt.NDArray[np.int64]:
    """Ids of `text` (UTF-8 bytes for a byte vocabulary). A character the run's vocabulary
    lacks is named in a warning and fed as <unk>; without <unk> it is refused."""
    unknown = outside_vocabulary(vocab, text)
    if unknown and vocab.unk_id is None:
        raise UsageError(
            f"--text: {_named(unknown)} not in the run's vocabulary, which has no <unk> to "
            "stand in; leave them out"
        )
    if unknown:
        log.warning(
            "--text: %s not in the run's vocabulary: <unk> stands in for each",
            _named(unknown),
        )
    return vocab.encode(_symbols(vocab, text)).astype(np.int64)


def check_bias(bias: float) -> None:
    """The paper's sampling bias b (eqs 61-62) is 0 (unbiased) or more; MAX_BIAS is far past
    where samples stop changing (sigma = exp(sigma_hat - b) vanishes near b = 10)."""
    if not math.isfinite(bias) or not 0.0 <= bias <= MAX_BIAS:
        raise UsageError(
            f"--bias {bias}: must be a number from 0 (unbiased) to {MAX_BIAS:g}; a negative "
            "bias widens the mixture beyond what the network learnt (below -1 it inverts the "
            "mixture weights)"
        )


def decode_ids(vocab: Vocab, ids: list[int]) -> str:
    """Text of sampled ids (bytes decoded as UTF-8 for a byte vocabulary; reserved ids left out
    there)."""
    if vocab.kind != "byte":
        return vocab.decode(ids)
    data = bytes(ord(vocab.symbols[i]) for i in ids if vocab.symbols[i] not in vocab.reserved)
    return data.decode("utf-8", errors="replace")


def prime_line(loaded: LoadedRun, line_id: str) -> dict[str, Any]:
    from graves_data.stats import find_line

    try:
        return find_line(loaded.config.data, line_id)
    except DatasetError as error:
        raise UsageError(f"--prime {line_id}: {error}") from error


def sample_run(
    run: str | Path,
    out: str | Path,
    *,
    text: str | None = None,
    bias: float = 0.0,
    prime: str | None = None,
    steps: int | None = None,
    seed: int = 0,
    heatmap: str | Path | None = None,
    device: str = "cpu",
) -> SampleResult:
    """Sample from a trained run and write the drawing (or, for text, the characters)."""
    check_bias(bias)
    loaded = load_run(run, device)
    if isinstance(loaded.model, CharLSTM):
        return _text_run(loaded, Path(run), Path(out), text or "", bias, steps or 500, seed)
    norm = Normalization.of(loaded.config.normalization)
    start = norm.apply(np.zeros((1, 3), dtype=np.float32))
    primed = prime_line(loaded, prime) if prime else None
    prime_points = norm.apply(primed["offsets"]) if primed else None
    if isinstance(loaded.model, HandwritingSynthesis):
        if not text:
            raise UsageError("the synthesis network writes a text: give --text")
        full = f"{primed['text']} {text}" if primed else text
        vocab = run_vocab(Path(run))
        sample = sample_synthesis(
            loaded.model,
            encode_text(vocab, full),
            start,
            bias=bias,
            seed=seed,
            max_steps=steps,
            prime=prime_points,
            text=full,
        )
        raw = norm.invert(sample.offsets)
        path = save_drawing(raw, out, title=full)
        heat = save_heatmap(sample, raw, heatmap or Path(out).with_suffix(".window.png"))
        monotonic = sample.phi is not None and window_monotonic(sample.phi)
        return SampleResult(path, heat, len(raw), sample.stopped, monotonic, full, sample.phi)
    if text:
        raise UsageError("the prediction network writes no given text: leave out --text")
    if not isinstance(loaded.model, HandwritingPrediction):
        raise UsageError(f"{run}: not a handwriting run")
    sample = sample_prediction(
        loaded.model, steps or 700, start, bias=bias, seed=seed, prime=prime_points
    )
    drawn = (
        sample.offsets if prime_points is None else np.concatenate([prime_points, sample.offsets])
    )
    raw = norm.invert(drawn)
    return SampleResult(save_drawing(raw, out), None, len(raw), None, None, "")


def _text_run(
    loaded: LoadedRun, run: Path, out: Path, prime: str, bias: float, length: int, seed: int
) -> SampleResult:
    if not isinstance(loaded.model, CharLSTM):
        raise UsageError(f"{run}: not a text run")
    vocab = run_vocab(run)
    ids = sample_text(
        loaded.model, length, [int(i) for i in encode_text(vocab, prime)], bias=bias, seed=seed
    )
    written = prime + decode_ids(vocab, ids)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(written, encoding="utf-8")
    return SampleResult(out, None, len(ids), None, None, written, unit="characters")
