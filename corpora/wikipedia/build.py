"""The whole build: scan, vocabulary, the write pass's rows, and the registry entry."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from graves_data.corpora.wikipedia.downloads import DOWNLOADS
from graves_data.corpora.wikipedia.inventory import Dump, open_dump
from graves_data.corpora.wikipedia.params import BZ2_RATIO, NAME, SCRATCH, WikipediaParams
from graves_data.corpora.wikipedia.planning import (
    RowsPayload,
    bz2_ranges,
    check_params,
    namespace_keys,
    plan_units,
    xml_ranges,
)
from graves_data.corpora.wikipedia.scan import PageRules, ScanResult, ScanTask, scan_task
from graves_data.corpus import CorpusSpec, Generator, OnBadInput, params_dict
from graves_data.errors import NotACorpus, UsageError
from graves_data.manifest import Manifest
from graves_data.pipelines.runner import (
    BadInputPolicy,
    BuildJob,
    Destination,
    Execution,
    Unit,
    UnitContext,
    UnitInput,
    UnitRows,
    begin_build,
    parallel_map,
    run_build,
)
from graves_data.pipelines.text import add_counts, char_table, encode_chars, text_vocab
from graves_data.pipelines.textbuild import BackgroundHashes, input_stamp, text_card, text_rows
from graves_data.schema import canonical_json, text_schema
from graves_data.shards import build_state
from graves_data.storage import resolve


def process_unit(
    unit: Unit, _inputs: UnitInput, ctx: UnitContext[WikipediaParams], _bad: BadInputPolicy
) -> UnitRows:
    """Symbols [start, stop) of a split, gathered from the scan's pieces -> one shard."""
    payload: RowsPayload = unit.payload
    scratch = resolve(payload.scratch_url)
    parts = []
    for piece in payload.pieces:
        text = scratch.join(piece.path).read_bytes().decode("utf-8")
        if len(text) != piece.symbols:
            raise NotACorpus(f"{piece.path}: scratch piece changed since the scan; build again")
        lo = max(payload.start, piece.start) - piece.start
        hi = min(payload.stop, piece.start + piece.symbols) - piece.start
        parts.append(text[lo:hi])
    encoded = encode_chars("".join(parts), char_table(ctx.vocab))
    return text_rows(encoded.ids, payload.start, encoded.unknown, unit, ctx)


def build(
    raw: str,
    out: str,
    params: WikipediaParams | None = None,
    *,
    execution: Execution | None = None,
    on_bad_input: OnBadInput = "skip",
    overwrite: bool = False,
) -> Manifest:
    """Build character shards of a Wikipedia dump `raw` (file or folder) into `out`."""
    params = params or WikipediaParams()
    execution = execution or Execution()
    splits = check_params(params)
    dump = open_dump(resolve(raw), params.index)
    target = max(1, round(params.shard_mb * 1_000_000))
    ranges = bz2_ranges(dump, max(1, target // BZ2_RATIO)) if dump.bz2 else xml_ranges(dump, target)
    files = [(resolve(dump.url), dump.rel)]
    if dump.index_url is not None:
        files.append((resolve(dump.index_url), dump.index_rel or dump.index_url))
    stamps = tuple(input_stamp(location, rel) for location, rel in files)
    # what the user named as raw: the output may sit beside a raw file
    destination = Destination(NAME, params, resolve(raw), resolve(out), overwrite)
    folder = begin_build(destination)
    scratch_url = build_state(folder).join(SCRATCH).url
    rules = PageRules(
        text=params.text,
        namespaces=namespace_keys(params.namespaces),
        include_title=params.include_title,
        seed=params.seed,
        valid=params.valid_fraction,
        test=params.test_fraction,
        splits=splits,
        piece_chars=target,
    )
    fingerprint = hashlib.sha256(
        canonical_json({"params": params_dict(params), "stamps": stamps}).encode()
    ).hexdigest()
    tasks = [
        ScanTask(i, dump, a, b, scratch_url, rules, fingerprint, on_bad_input)
        for i, (a, b) in enumerate(ranges)
    ]
    hashes = BackgroundHashes(files)
    results: list[ScanResult] = parallel_map(scan_task, tasks, execution, "scan pages")
    train_counts: dict[str, int] = {}
    for result in results:
        for piece in result.pieces:
            add_counts(train_counts, piece["train_counts"])
    try:
        vocab = text_vocab(
            train_counts,
            "char",
            min_count=params.min_count,
            coverage=params.coverage,
            always_unk=True,
        )
    except ValueError as exc:
        raise UsageError(f"cannot build the character vocabulary: {exc}") from exc
    units = plan_units(results, splits, params, scratch_url, stamps)
    job = BuildJob(
        corpus=NAME,
        params=params,
        raw=destination.raw,
        out=destination.out,
        schema=text_schema(params.seq_len, vocab.id_type),
        vocab=vocab,
        units=units,
        unit_count=len(units),
        splits=splits,
        process=process_unit,
        sources=hashes.result(),
        quarantine=[q for result in results for q in result.quarantine],
        finalize=lambda _results: {"text": _text_section(dump, params, results)},
        card=text_card(
            "Wikipedia",
            f"Pages of the Wikipedia dump {dump.rel} as character sequences ({params.text} "
            "text), split by page. Text: CC BY-SA (Wikipedia).",
        ),
        on_bad_input=on_bad_input,
        overwrite=overwrite,
    )
    manifest = run_build(job, execution, root=folder)
    build_state(resolve(out)).join(SCRATCH).remove(recursive=True)
    return manifest


def _text_section(
    dump: Dump, params: WikipediaParams, results: Sequence[ScanResult]
) -> dict[str, Any]:
    pages: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for result in results:
        add_counts(pages, result.pages)
        add_counts(skipped, result.skipped)
    return {
        "vocab_kind": "char",
        "text": params.text,
        "export_version": dump.version,
        "encoding": dump.codec,
        "compression": "bz2" if dump.bz2 else "none",
        "index": dump.index_rel,
        "scan_units": len(results),
        "pages": dict(sorted(pages.items())),
        "skipped": dict(sorted(skipped.items())),
        "redirects": skipped.get("redirect", 0),
        "notes": [],
    }


def _generator() -> Generator:
    from graves_data.synth.text import DumpSynthParams, write_dump

    return Generator(DumpSynthParams, write_dump)


SPEC = CorpusSpec(
    name=NAME,
    summary="Wikipedia XML dumps (.xml, .xml.bz2, multistream) as character sequences",
    params=WikipediaParams,
    build=build,
    generator=_generator,
    downloads=DOWNLOADS,
)
