"""The manifest of a build, from its job and its units' results (see `graves_data.manifest`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from graves_data.corpus import params_dict
from graves_data.download.sources import read_sources
from graves_data.manifest import Manifest, dataset_kind, make_manifest
from graves_data.pipelines.job import BuildJob, UnitResult
from graves_data.shards import listed
from graves_data.storage import Location
from graves_data.vocab import Vocab


def sum_counts(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for mapping in counts:
        for key, value in mapping.items():
            total[key] = total.get(key, 0) + value
    return total


def split_entries(job: BuildJob, results: Sequence[UnitResult]) -> dict[str, dict[str, Any]]:
    """Per split: rows, the totals the units counted (not the `_` moments), and its files."""
    splits: dict[str, dict[str, Any]] = {}
    for split in job.splits:
        mine = [r for r in results if r.split == split]
        totals = sum_counts(r.totals for r in mine)
        splits[split] = {
            "rows": sum(r.shard.rows for r in mine),
            **{k: v for k, v in sorted(totals.items()) if k != "rows" and not k.startswith("_")},
            "files": [shard.to_json() for shard in listed([r.shard for r in mine])],
        }
    return splits


def assemble_manifest(job: BuildJob, results: Sequence[UnitResult], vocab: Vocab) -> Manifest:
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
    return make_manifest(
        corpus=job.corpus,
        kind=dataset_kind(job.schema),
        params=params_dict(job.params),
        sources=[sources[p] for p in sorted(sources)],
        splits=split_entries(job, results),
        quarantine=[q.to_json() for q in quarantine],
        extra=job.finalize(results) if job.finalize is not None else {},
        vocab=vocab,
        shards=listed([r.shard for r in results]),  # no 0-row file: the Hub cannot read one
    )


def downloaded_sources(raw: Location) -> list[dict[str, Any]]:
    """Entries of the raw folder's SOURCES.json (written by `graves-data download`): the URL
    each file came from. The build's own checksum of a file it read wins over the recorded one.
    Where the raw input is one file (`--raw enwik8.zip`), the SOURCES.json beside it."""
    if raw.exists() and not raw.is_dir():
        raw = raw.parent()
    return [dict(entry) for entry in read_sources(raw)]
