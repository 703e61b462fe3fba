"""What a build is made of: the job a corpus plans, its units of work, and their records.

A corpus plans a `BuildJob`: its identity (corpus, params, raw, out), the schema and
vocabulary, and a list of `Unit`s, each writing exactly one shard under its final name. Its
`process` function turns one unit's inputs into the rows of that shard (`UnitRows`); the runner
reads and hashes the inputs, applies the bad-input policy (`BadInputPolicy`), writes the shard
and records the `UnitResult`. These types are plain frozen dataclasses: they pickle to a pool
worker or a dask worker as they are.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import pyarrow as pa

from graves_data import __version__
from graves_data.corpus import params_dict
from graves_data.errors import BadInput, UsageError
from graves_data.schema import SCHEMA_VERSION, canonical_json, file_metadata
from graves_data.shards import ShardInfo
from graves_data.storage import Location
from graves_data.vocab import Vocab

if TYPE_CHECKING:
    from graves_data.manifest import Manifest

OnBadInput = Literal["error", "skip"]
P = TypeVar("P")
# more worker processes than this is a typing slip, not a machine (`--workers 10000`)
MAX_WORKERS = 1024


@dataclass(frozen=True)
class Quarantined:
    """An input left out of the dataset, and why. `code` is counted in stats."""

    source: str
    code: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"source": self.source, "code": self.code, "reason": self.reason}

    @staticmethod
    def from_error(error: BadInput) -> Quarantined:
        return Quarantined(error.source, error.code, error.reason)


class BadInputPolicy:
    """`--on-bad-input`, applied in one place: `take` raises the error under `error` and
    records it as a quarantine entry under `skip`."""

    def __init__(self, on_bad_input: OnBadInput) -> None:
        self.on_bad_input = on_bad_input
        self.quarantine: list[Quarantined] = []

    def take(self, error: BadInput) -> None:
        if self.on_bad_input == "error":
            raise error
        self.quarantine.append(Quarantined.from_error(error))


@dataclass(frozen=True)
class SourceFile:
    """One input file: path relative to the raw root, size, sha256."""

    path: str
    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}

    @staticmethod
    def of(path: str, data: bytes) -> SourceFile:
        return SourceFile(path, len(data), hashlib.sha256(data).hexdigest())


@dataclass(frozen=True)
class Unit:
    """One unit of work; writes the shard `shard` of split `split`.

    `inputs` are (path relative to raw, size, change stamp) of what it reads, for the
    fingerprint that lets a re-run skip it. The runner reads for it, before its process
    function runs: `reads`, files (relative to raw) read whole and hashed; `spans`, byte ranges
    of a large text (whose file the corpus's build hashes once, whole). `payload` is whatever
    else the process function needs (offsets, or member bytes read from an archive). All must
    pickle. `stamp` is a digest of anything else the unit's rows depend on that `inputs` does
    not show (IAM-OnDB: the forms' transcription lines and writers), so that a change there
    redoes the unit too.
    """

    key: str
    split: str
    shard: str
    inputs: tuple[tuple[str, int, int], ...]
    payload: Any
    stamp: str = ""
    reads: tuple[str, ...] = ()
    spans: tuple[Span, ...] = ()


@dataclass(frozen=True)
class UnitContext(Generic[P]):
    """What every unit's process function gets besides its unit: `params` is the corpus's
    own frozen params dataclass, as the caller gave it."""

    raw_url: str
    out_url: str
    corpus: str
    params: P
    schema: pa.Schema
    vocab: Vocab
    on_bad_input: OnBadInput

    @property
    def metadata(self) -> dict[bytes, bytes]:
        return file_metadata(self.corpus, params_dict(self.params))


@dataclass(frozen=True)
class Span:
    """Bytes [start, stop) of one input file (its URL): what a unit of a large text reads."""

    url: str
    start: int
    stop: int


@dataclass(frozen=True)
class UnitInput:
    """A unit's inputs as the runner read them: the bytes of every file in `unit.reads` and
    of every span in `unit.spans`."""

    files: Mapping[str, bytes]
    spans: Mapping[Span, bytes] = field(default_factory=dict)

    def bytes_of(self, path: str) -> bytes:
        return self.files[path]

    def span(self, span: Span) -> bytes:
        return self.spans[span]


@dataclass(frozen=True)
class UnitRows:
    """What a corpus makes of one unit: the rows of its shard and what the manifest counts.
    Damaged inputs go to the `BadInputPolicy` the process function is handed, not here."""

    table: pa.Table
    row_group_rows: int
    totals: Mapping[str, int] = field(default_factory=dict)
    symbol_counts: Mapping[str, int] = field(default_factory=dict)
    sources: tuple[SourceFile, ...] = ()


@dataclass(frozen=True)
class UnitResult:
    key: str
    split: str
    shard: ShardInfo
    quarantine: tuple[Quarantined, ...] = ()
    sources: tuple[SourceFile, ...] = ()
    totals: Mapping[str, int] = field(default_factory=dict)
    symbol_counts: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "split": self.split,
            "shard": self.shard.to_json(),
            "quarantine": [q.to_json() for q in self.quarantine],
            "sources": [s.to_json() for s in self.sources],
            "totals": dict(self.totals),
            "symbol_counts": dict(self.symbol_counts),
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> UnitResult:
        return UnitResult(
            key=str(data["key"]),
            split=str(data["split"]),
            shard=ShardInfo.from_json(data["shard"]),
            quarantine=tuple(Quarantined(**q) for q in data["quarantine"]),
            sources=tuple(SourceFile(**s) for s in data["sources"]),
            totals={k: int(v) for k, v in data["totals"].items()},
            symbol_counts={k: int(v) for k, v in data["symbol_counts"].items()},
        )


ProcessFn = Callable[[Unit, UnitInput, UnitContext[Any], BadInputPolicy], UnitRows]


@dataclass(frozen=True)
class Execution:
    """Where the units run: in this process, a local pool, or a dask.distributed cluster."""

    workers: int | None = None
    scheduler: str | None = None
    client: Any = None
    progress: bool = True
    retries: int = 2

    def __post_init__(self) -> None:
        """An absurd `--workers` is refused before anything is read or written."""
        if self.workers is None:
            return
        if self.workers < 1:
            raise UsageError(f"--workers must be at least 1, got {self.workers}")
        if self.workers > MAX_WORKERS:
            raise UsageError(
                f"--workers {self.workers} is more processes than a build runs on one machine "
                f"(at most {MAX_WORKERS}); for more, use a cluster (--scheduler)"
            )

    def worker_count(self, tasks: int | None = None) -> int:
        """Local processes to start: `--workers` (or every core), never more than `tasks`,
        the units there are to run: a pool of 10,000 for 7 forms is 9,993 idle processes."""
        if self.workers is not None:
            count = self.workers
        else:
            count = (
                len(os.sched_getaffinity(0))
                if hasattr(os, "sched_getaffinity")
                else os.cpu_count() or 1
            )
        return max(1, min(count, tasks)) if tasks is not None else count

    @property
    def on_cluster(self) -> bool:
        return self.client is not None or self.scheduler is not None


@dataclass(frozen=True)
class Destination:
    """What makes two builds the same dataset: the output folder may be resumed by a build of
    the same corpus, parameters and raw source (and graves-data version)."""

    corpus: str
    params: Any
    raw: Location
    out: Location
    overwrite: bool = False

    def identity(self) -> dict[str, Any]:
        return {
            "corpus": self.corpus,
            "params": params_dict(self.params),
            "raw": self.raw.url,
            "version": __version__,
        }


@dataclass(frozen=True)
class BuildJob:
    """A planned build: everything the runner needs, produced by the corpus module, once."""

    corpus: str
    params: Any
    raw: Location
    out: Location
    schema: pa.Schema
    vocab: Vocab
    units: Sequence[Unit] | Iterable[Unit]
    unit_count: int
    splits: Sequence[str]
    process: ProcessFn
    sources: Sequence[SourceFile] = ()
    quarantine: Sequence[Quarantined] = ()
    finalize: Callable[[Sequence[UnitResult]], Mapping[str, Any]] | None = None
    card: Callable[[Manifest], str] | None = None
    on_bad_input: OnBadInput = "skip"
    overwrite: bool = False

    @property
    def destination(self) -> Destination:
        return Destination(self.corpus, self.params, self.raw, self.out, self.overwrite)

    def context(self, root: Location) -> UnitContext[Any]:
        return UnitContext(
            raw_url=self.raw.url,
            out_url=root.url,
            corpus=self.corpus,
            params=self.params,
            schema=self.schema,
            vocab=self.vocab,
            on_bad_input=self.on_bad_input,
        )


def unit_fingerprint(job: BuildJob, unit: Unit) -> str:
    spec = {
        "corpus": job.corpus,
        "params": params_dict(job.params),
        # the id of each symbol, not the counts: a unit's rows depend only on the ids, and an
        # edit elsewhere in the training split changes the counts without touching this unit
        "vocab": [job.vocab.kind, list(job.vocab.symbols), list(job.vocab.reserved)],
        "schema": SCHEMA_VERSION,
        "unit": unit.key,
        "shard": unit.shard,
        "inputs": [list(i) for i in unit.inputs],
        "stamp": unit.stamp,
    }
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()
