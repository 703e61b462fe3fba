"""`manifest.json`, typed: what a dataset says about itself, assembled in one place.

`Manifest` is the document's shape (a TypedDict, so it is written exactly as before, key for
key); `make_manifest` puts one together from its parts, for the build runner and for the small
datasets the tests write; `Normalization` is the mean and std of dx, dy over the training split,
the one type the writer and the trainer share.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from graves_data import __version__
from graves_data.errors import DatasetError
from graves_data.schema import SCHEMA_VERSION
from graves_data.shards import (
    CARD,
    MANIFEST,
    VOCAB,
    ShardInfo,
    content_hash,
    manifest_bytes,
    manifest_digest,
    sha256_hex,
)
from graves_data.storage import Location
from graves_data.vocab import Vocab

log = logging.getLogger(__name__)
DatasetKind = Literal["handwriting", "text"]
NORMALIZED_OVER = "dx, dy of every point but each line's first"


class VocabEntry(TypedDict):
    path: str
    sha256: str
    size: int


class Manifest(TypedDict):
    schema_version: str
    corpus: str
    kind: DatasetKind
    version: str
    params: dict[str, Any]
    sources: list[dict[str, Any]]
    splits: dict[str, dict[str, Any]]
    quarantine: list[dict[str, str]]
    vocab: VocabEntry
    content_hash: str
    normalization: NotRequired[dict[str, Any]]
    writers: NotRequired[dict[str, int]]
    report: NotRequired[dict[str, Any]]
    text: NotRequired[dict[str, Any]]
    card: NotRequired[dict[str, str]]
    manifest_sha256: NotRequired[str]  # shards.MANIFEST_DIGEST: the seal, written last


def dataset_kind(schema: pa.Schema) -> DatasetKind:
    """Handwriting rows carry pen offsets; everything else is text."""
    return "handwriting" if "offsets" in schema.names else "text"


def make_manifest(
    *,
    corpus: str,
    kind: DatasetKind,
    params: Mapping[str, Any],
    sources: list[dict[str, Any]],
    splits: dict[str, dict[str, Any]],
    quarantine: list[dict[str, str]],
    extra: Mapping[str, Any],
    vocab: Vocab,
    shards: Sequence[ShardInfo],
) -> Manifest:
    """The manifest, its keys in the order every dataset has them."""
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "corpus": corpus,
        "kind": kind,
        "version": __version__,
        "params": dict(params),
        "sources": sources,
        "splits": splits,
        "quarantine": quarantine,
        **extra,
        "vocab": {"path": VOCAB, "sha256": vocab.sha256(), "size": len(vocab)},
        "content_hash": content_hash(shards, vocab.sha256()),
    }
    manifest: Manifest = document  # type: ignore[assignment]
    return manifest


def seal_manifest(root: Location, manifest: Manifest) -> None:
    """Record the card's sha256 (where the dataset has one) and the manifest's own digest."""
    card = root.join(CARD)
    if card.exists():
        manifest["card"] = {"path": CARD, "sha256": sha256_hex(card.read_bytes())}
    manifest["manifest_sha256"] = manifest_digest(manifest)


def write_manifest(root: Location, manifest: Manifest) -> None:
    """The last write of a build: after it, the dataset exists. The manifest is sealed first
    (`seal_manifest`), in place, so the caller holds what was written; splits with no rows are
    reported (`warn_empty_splits`)."""
    seal_manifest(root, manifest)
    warn_empty_splits(root, manifest)
    root.join(MANIFEST).write_atomic(manifest_bytes(manifest))


def warn_empty_splits(root: Location, manifest: Manifest) -> None:
    """A warning for each split that holds no rows: too small an input, or every input of it
    quarantined. Such a split is listed with 0 rows and no files (an empty Parquet file is
    one Hugging Face `datasets` cannot load), and the dataset card leaves it out."""
    empty = [name for name, entry in manifest["splits"].items() if not entry.get("rows")]
    if empty:
        log.warning(
            "%s: split%s %s hold%s no rows (too small an input, or all of it quarantined); "
            "listed with 0 rows and no files, and left out of %s",
            root.url,
            "s" if len(empty) > 1 else "",
            ", ".join(empty),
            "" if len(empty) > 1 else "s",
            CARD,
        )


def left_out_lines(manifest: Mapping[str, Any]) -> list[str]:
    """What a build left out, for people, each by reason: the text lines of the release in
    no split (`report.lines_left_out`, where the corpus counts them) and, apart, the inputs
    quarantined. On the real IAM-OnDB release most quarantined inputs are transcriptions of
    forms that have no stroke files, which cost no line: one total would overstate the loss."""
    out = []
    lines = (manifest.get("report") or {}).get("lines_left_out")
    if lines:
        out.append(f"{sum(lines.values()):,} text lines left out ({by_reason(lines)})")
    quarantine = Counter(str(q.get("code", "unknown")) for q in manifest.get("quarantine", []))
    if quarantine:
        out.append(f"{sum(quarantine.values()):,} inputs quarantined ({by_reason(quarantine)})")
    return out


def by_reason(counts: Mapping[str, int]) -> str:
    """ "177 no-stroke-files, 2 placeholder-transcription": most first, ties by code."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{n:,} {code}" for code, n in ordered if n)


@dataclass(frozen=True)
class Normalization:
    """Mean and std of dx, dy over `split` (`count` steps), as `manifest.json` records it."""

    mean: tuple[float, float]
    std: tuple[float, float]
    split: str = ""
    count: int = 0

    @staticmethod
    def from_moments(moments: Mapping[str, int], split: str) -> Normalization:
        """From exact integer moments (`_n`, `_sx`, `_sy`, `_sxx`, `_syy`): any unit order
        gives the same floats. No steps at all: mean 0, std 1."""
        n = moments.get("_n", 0)
        if n == 0:
            return Normalization((0.0, 0.0), (1.0, 1.0), split, 0)
        sx, sy = moments["_sx"], moments["_sy"]
        var = [(n * moments["_sxx"] - sx**2) / n**2, (n * moments["_syy"] - sy**2) / n**2]
        std = [float(np.sqrt(v)) if v > 0 else 1.0 for v in var]
        return Normalization((sx / n, sy / n), (std[0], std[1]), split, n)

    @staticmethod
    def from_manifest(manifest: Mapping[str, Any]) -> Normalization:
        norm = manifest.get("normalization")
        if not isinstance(norm, Mapping) or "mean" not in norm or "std" not in norm:
            raise DatasetError("manifest.json: no normalization (mean, std of dx, dy)")
        mean, std = norm["mean"], norm["std"]
        if min(float(std[0]), float(std[1])) <= 0:
            raise DatasetError(f"manifest.json: normalization std must be positive, got {std}")
        return Normalization(
            (float(mean[0]), float(mean[1])),
            (float(std[0]), float(std[1])),
            str(norm.get("split", "")),
            int(norm.get("count", 0)),
        )

    @staticmethod
    def of(pair: tuple[tuple[float, float], tuple[float, float]] | None) -> Normalization:
        """From a run's config (`(mean, std)`, or None: the identity)."""
        return Normalization((0.0, 0.0), (1.0, 1.0)) if pair is None else Normalization(*pair)

    def as_pair(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """`(mean, std)`, as a run's config.json records it."""
        return self.mean, self.std

    def apply(self, offsets: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """(dx, dy, eos) rows with dx, dy standardised: what the networks read."""
        out = np.array(offsets, dtype=np.float32, copy=True).reshape(-1, 3)
        out[:, :2] = (out[:, :2] - np.asarray(self.mean, np.float32)) / np.asarray(
            self.std, np.float32
        )
        return out

    def invert(self, offsets: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """The inverse of `apply`: a network's (dx, dy, eos) back in board units."""
        out = np.array(offsets, dtype=np.float32, copy=True).reshape(-1, 3)
        out[:, :2] = out[:, :2] * np.asarray(self.std, np.float32) + np.asarray(
            self.mean, np.float32
        )
        return out

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "split": self.split,
            "count": self.count,
            "mean": list(self.mean),
            "std": list(self.std),
        }
        if self.count:
            document["over"] = NORMALIZED_OVER
        return document
