"""The build runner: maps a corpus's units of work over a local pool or a dask cluster.

A corpus plans its build as a list of `Unit`s (a group of IAM forms, a byte range of a text
file), each writing exactly one shard under its final name, and a `process` function that turns
one unit into one `UnitResult`. The runner owns everything else: the output folder policy,
resuming after a crash, the worker pool, progress, and the manifest, written last.

Determinism: units and their shard names are fixed by the plan, never by the workers; results
are merged in unit order; nothing time- or host-dependent goes into the output. So the bytes
are the same for any worker count, on a pool or on a cluster.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_all_start_methods, get_context
from typing import Any, Literal

import pyarrow as pa

from graves_data import __version__
from graves_data.errors import BadInput, GravesDataError, OutputExists, UsageError
from graves_data.schema import SCHEMA_VERSION, canonical_json, file_metadata
from graves_data.shards import (
    BUILD_DIR,
    CARD,
    DATA_DIR,
    MANIFEST,
    VOCAB,
    ShardInfo,
    content_hash,
    listed,
    read_json,
    write_manifest,
)
from graves_data.storage import Location, exchange_paths, remove_stale_temporaries, resolve
from graves_data.vocab import Vocab

OnBadInput = Literal["error", "skip"]
PLAN_FILE = "plan.json"
log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class SourceFile:
    """One input file: path relative to the raw root, size, sha256."""

    path: str
    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class Unit:
    """One unit of work; writes the shard `shard` of split `split`.

    `inputs` are (path relative to raw, size, mtime_ns) of what it reads, for the fingerprint
    that lets a re-run skip it; `payload` is whatever the corpus's process function needs
    (paths, or member bytes read from an archive). Both must pickle. `stamp` is a digest of
    anything else the unit's rows depend on that `inputs` does not show (IAM-OnDB: the forms'
    transcription lines and writers), so that a change there redoes the unit too.
    """

    key: str
    split: str
    shard: str
    inputs: tuple[tuple[str, int, int], ...]
    payload: Any
    stamp: str = ""


@dataclass(frozen=True)
class UnitContext:
    """What every unit's process function gets besides its unit."""

    raw_url: str
    out_url: str
    corpus: str
    params: Mapping[str, Any]
    schema: pa.Schema
    vocab: Vocab
    on_bad_input: OnBadInput

    @property
    def metadata(self) -> dict[bytes, bytes]:
        return file_metadata(self.corpus, self.params)


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


ProcessFn = Callable[[Unit, UnitContext], UnitResult]


@dataclass(frozen=True)
class Execution:
    """Where the units run: in this process, a local pool, or a dask.distributed cluster."""

    workers: int | None = None
    scheduler: str | None = None
    client: Any = None
    progress: bool = True
    retries: int = 2

    def worker_count(self) -> int:
        if self.workers is not None:
            if self.workers < 1:
                raise UsageError(f"--workers must be at least 1, got {self.workers}")
            return self.workers
        return (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )


@dataclass
class BuildJob:
    """A planned build: everything the runner needs, produced by the corpus module."""

    corpus: str
    params: Mapping[str, Any]
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
    card: Callable[[Mapping[str, Any]], str] | None = None
    on_bad_input: OnBadInput = "skip"
    overwrite: bool = False
    raw_fingerprint: Sequence[tuple[str, int, int]] = ()


def unit_fingerprint(job: BuildJob, unit: Unit) -> str:
    spec = {
        "corpus": job.corpus,
        "params": job.params,
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


def identity(job: BuildJob) -> dict[str, Any]:
    """What makes two builds the same dataset (and so allows resuming into the folder)."""
    return {
        "corpus": job.corpus,
        "params": dict(job.params),
        "raw": job.raw.url,
        "version": __version__,
    }


# ---------------------------------------------------------------------------------------------
# output folder policy


def check_no_overlap(raw: Location, out: Location) -> None:
    """Input and output never overlap, whatever --overwrite says: a build never writes into
    its raw folder, nor replaces a folder holding it. Local paths are compared with links
    resolved, so a link to the raw folder is caught too."""
    if type(raw.fs) is not type(out.fs):
        return
    raw_path, out_path = _real_path(raw), _real_path(out)
    if out_path.startswith(raw_path) or raw_path.startswith(out_path):
        raise UsageError(
            f"output {out.url} and input {raw.url} overlap; "
            "build into a folder outside the raw data"
        )


def _real_path(location: Location) -> str:
    path = os.path.realpath(location.path) if location.is_local else location.path
    return path.rstrip("/") + "/"


def prepare_output(job: BuildJob) -> Location:
    """Decide where to write; return the folder the units write into.

    A fresh or empty folder is used as is. A folder holding an earlier (possibly interrupted)
    build of the same corpus, parameters and raw source is resumed: finished units are kept.
    Another dataset (or unfinished build) is refused, unless `overwrite`: then the new one is
    built in a staging folder beside it and swapped in at the end. A folder holding anything
    else is never touched, `overwrite` or not.
    """
    out = job.out
    check_no_overlap(job.raw, out)
    if out.exists() and not out.is_dir():
        raise OutputExists(f"{out.url} is a file, not a folder; choose another --out")
    plan_file = out.join(BUILD_DIR, PLAN_FILE)
    resumable = plan_file.exists() and _same_identity(plan_file, job)
    if not out.exists() or _is_empty(out) or resumable:
        _drop_staging(job)
        return out
    if not out.join(MANIFEST).exists() and not plan_file.exists():
        raise OutputExists(
            f"{out.url} holds files that are not a graves-data dataset; choose another --out "
            "(--overwrite only ever replaces a dataset)"
        )
    if not job.overwrite:
        what = "a dataset" if out.join(MANIFEST).exists() else "an unfinished build"
        raise OutputExists(
            f"{out.url} already holds {what} of other inputs or parameters; "
            "choose another --out or pass --overwrite"
        )
    if not out.is_local:
        out.remove(recursive=True)
        return out
    return staging_folder(job)


def _is_empty(folder: Location) -> bool:
    files, passed = folder.walk_entries()
    return not files and not passed


def _drop_staging(job: BuildJob) -> None:
    """A staging folder is stale once the build goes into --out itself: an --overwrite killed
    after its swap leaves the old dataset there."""
    if job.out.is_local:
        job.out.parent().join(f".{job.out.name}.staging").remove(recursive=True)


def staging_folder(job: BuildJob) -> Location:
    """Where an --overwrite build is made: beside the output under a fixed hidden name, so a
    killed one resumes there; anything else found under that name is cleared first."""
    staging = job.out.parent().join(f".{job.out.name}.staging")
    plan = staging.join(BUILD_DIR, PLAN_FILE)
    if staging.exists() and not (plan.exists() and _same_identity(plan, job)):
        staging.remove(recursive=True)
    return staging


def _same_identity(plan_file: Location, job: BuildJob) -> bool:
    try:
        recorded = read_json(plan_file)
    except GravesDataError:
        return False
    return bool(recorded.get("identity") == identity(job))


def swap_into_place(staging: Location, out: Location) -> None:
    """Replace `out` by the finished `staging` folder: one atomic exchange of the two names
    (so `out` holds the old dataset or the new one at every instant), then the old removed."""
    if staging.path == out.path:
        return
    exchange_paths(staging.path, out.path)
    staging.remove(recursive=True)


# ---------------------------------------------------------------------------------------------
# running units


def _sidecar(root: Location, unit: Unit) -> Location:
    return root.join(BUILD_DIR, "units", f"{unit.key}.json")


def run_unit(process: ProcessFn, unit: Unit, ctx: UnitContext, fingerprint: str) -> UnitResult:
    """Run one unit in a worker and record it as done (its shard is already written)."""
    result = process(unit, ctx)
    record = {"fingerprint": fingerprint, "result": result.to_json()}
    _sidecar(resolve(ctx.out_url), unit).write_atomic(canonical_json(record).encode())
    return result


def finished_result(root: Location, unit: Unit, fingerprint: str) -> UnitResult | None:
    """The recorded result of a unit an earlier run finished, if its shard is still intact."""
    sidecar = _sidecar(root, unit)
    if not sidecar.exists():
        return None
    try:
        record = read_json(sidecar)
        if record.get("fingerprint") != fingerprint:
            return None
        result = UnitResult.from_json(record["result"])
    except (GravesDataError, KeyError, TypeError, ValueError):
        return None
    shard = root.join(result.shard.path)
    if not shard.exists() or shard.size() != result.shard.bytes:
        return None
    return result


class _Progress:
    def __init__(self, enabled: bool, total: int, description: str) -> None:
        self._bar: Any = None
        if enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            self._task = self._bar.add_task(description, total=total)
            self._bar.start()

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def execute(job: BuildJob, root: Location, execution: Execution) -> list[UnitResult]:
    """Run every unit not already finished; return all results in unit order."""
    ctx = UnitContext(
        raw_url=job.raw.url,
        out_url=root.url,
        corpus=job.corpus,
        params=dict(job.params),
        schema=job.schema,
        vocab=job.vocab,
        on_bad_input=job.on_bad_input,
    )
    results: dict[str, UnitResult] = {}
    kept: list[str] = []
    progress = _Progress(execution.progress, job.unit_count, f"build {job.corpus}")

    def todo() -> Iterator[tuple[Unit, str]]:
        for unit in job.units:
            fingerprint = unit_fingerprint(job, unit)
            done = finished_result(root, unit, fingerprint)
            if done is not None:
                results[unit.key] = done
                kept.append(unit.key)
                progress.advance()
                continue
            yield unit, fingerprint

    try:
        for result in _dispatch(job.process, todo(), ctx, execution):
            results[result.key] = result
            progress.advance()
    finally:
        progress.close()
    log.info(
        "build %s: %d units, %d run, %d kept from an earlier run",
        job.corpus,
        len(results),
        len(results) - len(kept),
        len(kept),
    )
    # unit keys, not arrival or planning order: a folder and an archive of the same files
    # may yield units in different orders and must still give the same manifest
    return [results[key] for key in sorted(results)]


def _dispatch(
    process: ProcessFn, todo: Iterator[tuple[Unit, str]], ctx: UnitContext, execution: Execution
) -> Iterator[UnitResult]:
    if execution.client is not None or execution.scheduler is not None:
        from graves_data.pipelines.cluster import dispatch_dask

        yield from dispatch_dask(process, todo, ctx, execution)
        return
    workers = execution.worker_count()
    if workers == 1:
        for unit, fingerprint in todo:
            yield run_unit(process, unit, ctx, fingerprint)
        return
    yield from _dispatch_pool(process, todo, ctx, workers)


def _dispatch_pool(
    process: ProcessFn, todo: Iterator[tuple[Unit, str]], ctx: UnitContext, workers: int
) -> Iterator[UnitResult]:
    """A bounded window of units in flight on a process pool: memory stays per unit."""
    window = 2 * workers
    with ProcessPoolExecutor(max_workers=workers, mp_context=pool_context(process)) as pool:
        pending: set[Future[UnitResult]] = set()
        try:
            for unit, fingerprint in todo:
                pending.add(pool.submit(run_unit, process, unit, ctx, fingerprint))
                if len(pending) >= window:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield future.result()
            for future in _as_done(pending):
                yield future.result()
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def pool_context(function: Callable[..., Any]) -> Any:
    """Fork where the platform has it: workers start in milliseconds with every module already
    imported (a forkserver would import numpy, pyarrow and lxml again: about a second). The
    parent's only other thread is the progress bar's, which the workers never touch."""
    if "fork" in get_all_start_methods():
        return get_context("fork")
    context = get_context("forkserver")
    context.set_forkserver_preload(["graves_data.pipelines.runner", function.__module__])
    return context


def _as_done(pending: set[Future[UnitResult]]) -> Iterator[Future[UnitResult]]:
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        yield from done


def parallel_map(
    fn: Callable[[Any], Any], items: Sequence[Any], execution: Execution, description: str = ""
) -> list[Any]:
    """fn over items on the build's executor (in process, local pool or dask), in item order.

    For passes that write no shard (counting symbols before a vocabulary exists, scanning
    for stream boundaries). `fn` must be a module-level function and items must pickle.
    """
    progress = _Progress(execution.progress and bool(description), len(items), description)
    try:
        if execution.client is not None or execution.scheduler is not None:
            from graves_data.pipelines.cluster import map_dask

            return map_dask(fn, items, execution, progress.advance)
        workers = execution.worker_count()
        if workers == 1 or len(items) <= 1:
            out = []
            for item in items:
                out.append(fn(item))
                progress.advance()
            return out
        with ProcessPoolExecutor(max_workers=workers, mp_context=pool_context(fn)) as pool:
            futures = [pool.submit(fn, item) for item in items]
            for future in _as_done(set(futures)):
                future.result()
                progress.advance()
            return [f.result() for f in futures]
    finally:
        progress.close()


# ---------------------------------------------------------------------------------------------
# the whole build


def begin_build(job: BuildJob) -> Location:
    """Claim the output folder for `job` and return the folder its units write into.

    `run_build` calls it first. A corpus whose plan needs a pass that writes scratch files
    before the units exist (text spilled by a counting pass, under `.build/`) calls it itself,
    with the job's identity already final, and hands the folder to `run_build(root=...)`: the
    scratch files then live in the folder the output policy allowed, and a resumed build finds
    them again.
    """
    root = prepare_output(job)
    root.makedirs()
    root.join(MANIFEST).remove()  # from here on the folder is not a finished dataset
    remove_stale_temporaries(root)
    _write_plan(root, job)
    return root


def _write_plan(root: Location, job: BuildJob) -> None:
    plan = {"identity": identity(job), "units": job.unit_count}
    root.join(BUILD_DIR, PLAN_FILE).write_atomic(canonical_json(plan).encode())


def run_build(
    job: BuildJob, execution: Execution | None = None, root: Location | None = None
) -> dict[str, Any]:
    """Plan -> units -> shards -> vocab, card, manifest. Returns the manifest.

    `root` is the folder `begin_build(job)` returned, where the caller claimed it first.
    """
    execution = execution or Execution()
    if root is None:
        root = begin_build(job)
    else:
        _write_plan(root, job)

    results = execute(job, root, execution)
    manifest = assemble_manifest(job, results)
    vocab = job.vocab.with_counts(_sum_counts(r.symbol_counts for r in results))
    root.join(VOCAB).write_atomic(vocab.to_bytes())
    manifest["vocab"] = {"path": VOCAB, "sha256": vocab.sha256(), "size": len(vocab)}
    shards = listed([r.shard for r in results])  # no 0-row file: the Hub cannot read one
    manifest["content_hash"] = content_hash(shards, vocab.sha256())
    if job.card is not None:
        root.join(CARD).write_atomic(job.card(manifest).encode())
    _remove_unplanned_shards(root, {shard.path for shard in shards})
    write_manifest(root, manifest)
    if root.path != job.out.path:
        swap_into_place(root, job.out)
    return manifest


def _sum_counts(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for mapping in counts:
        for key, value in mapping.items():
            total[key] = total.get(key, 0) + value
    return total


def assemble_manifest(job: BuildJob, results: Sequence[UnitResult]) -> dict[str, Any]:
    splits: dict[str, Any] = {}
    for split in job.splits:
        mine = [r for r in results if r.split == split]
        totals = _sum_counts(r.totals for r in mine)
        splits[split] = {
            "rows": sum(r.shard.rows for r in mine),
            **{k: v for k, v in sorted(totals.items()) if k != "rows" and not k.startswith("_")},
            "files": [shard.to_json() for shard in listed([r.shard for r in mine])],
        }
    quarantine = sorted(
        {q for r in results for q in r.quarantine} | set(job.quarantine),
        key=lambda q: (q.source, q.code, q.reason),
    )
    sources = {s.path: s.to_json() for s in job.sources}
    for result in results:
        for source in result.sources:
            sources[source.path] = source.to_json()
    for fetched in downloaded_sources(job.raw):
        sources[fetched["path"]] = {**fetched, **sources.get(fetched["path"], {})}
    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "corpus": job.corpus,
        "kind": "handwriting" if "offsets" in job.schema.names else "text",
        "version": __version__,
        "params": dict(job.params),
        "sources": [sources[p] for p in sorted(sources)],
        "splits": splits,
        "quarantine": [q.to_json() for q in quarantine],
    }
    if job.finalize is not None:
        manifest.update(job.finalize(results))
    return manifest


def downloaded_sources(raw: Location) -> list[dict[str, Any]]:
    """Entries of the raw folder's SOURCES.json (written by `graves-data download`): the URL
    each file came from. The build's own checksum of a file it read wins over the recorded one.
    Where the raw input is one file (`--raw enwik8.zip`), the SOURCES.json beside it."""
    if raw.exists() and not raw.is_dir():
        raw = raw.parent()
    if raw.is_local:
        from graves_data.download import read_sources_json

        return read_sources_json(raw.path)
    record = raw.join("SOURCES.json")
    if not record.exists():
        return []
    files = read_json(record).get("files", [])
    return [dict(f) for f in files if isinstance(f, dict) and isinstance(f.get("path"), str)]


def _remove_unplanned_shards(root: Location, keep: set[str]) -> None:
    data = root.join(DATA_DIR)
    if not data.exists():
        return
    for rel in list(data.walk_files()):
        path = posixpath.join(DATA_DIR, rel)
        if path not in keep:
            data.join(rel).remove()
