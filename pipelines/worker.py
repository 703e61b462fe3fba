"""One unit on a worker: read and hash its inputs, make its rows, write its shard, record it.

The same `run_unit` runs in this process, on a local pool and as a dask task. The corpus's
process function sees bytes and returns rows; everything that touches storage is here: the raw
files a unit names (`Unit.reads`) are read and hashed for the manifest's `sources`, damaged
inputs go through the one `BadInputPolicy`, the shard is written under its final name
atomically, and a sidecar records the unit as done so that a re-run keeps it.
"""

from __future__ import annotations

from typing import Any

from graves_data.errors import GravesDataError
from graves_data.pipelines.job import (
    BadInputPolicy,
    ProcessFn,
    SourceFile,
    Unit,
    UnitContext,
    UnitInput,
    UnitResult,
    UnitRows,
)
from graves_data.schema import canonical_json
from graves_data.shards import ShardWriter, build_state, read_json, sha256_hex
from graves_data.storage import Location, resolve


def sidecar(root: Location, unit: Unit) -> Location:
    return build_state(root).join("units", f"{unit.key}.json")


def read_inputs(raw: Location, unit: Unit) -> tuple[UnitInput, tuple[SourceFile, ...]]:
    """The files `unit.reads` names, read whole, with the size and sha256 of each, and the
    byte ranges `unit.spans` names."""
    files = {rel: raw.join(rel).read_bytes() for rel in unit.reads}
    spans = {s: resolve(s.url).read_range(s.start, s.stop) for s in unit.spans}
    sources = tuple(SourceFile.of(rel, data) for rel, data in files.items())
    return UnitInput(files, spans), sources


Inputs = tuple[UnitInput, tuple[SourceFile, ...]]
Made = tuple[UnitRows, BadInputPolicy, tuple[SourceFile, ...]]  # rows, their policy, sources


def make_rows(
    process: ProcessFn, unit: Unit, ctx: UnitContext[Any], inputs: Inputs | None = None
) -> Made:
    """Inputs (read here unless given, as `read_inputs` gives them) -> rows: the corpus's
    part, with what its policy quarantined and the sources read."""
    data, sources = inputs if inputs is not None else read_inputs(resolve(ctx.raw_url), unit)
    policy = BadInputPolicy(ctx.on_bad_input)
    return process(unit, data, ctx, policy), policy, sources


def write_result(
    unit: Unit,
    ctx: UnitContext[Any],
    made: Made,
    fingerprint: str,
) -> UnitResult:
    """Rows -> one shard, written atomically, and the record that the unit is done."""
    rows, policy, sources = made
    out = resolve(ctx.out_url)
    with ShardWriter(out, unit.shard, ctx.schema, ctx.metadata, rows.row_group_rows) as writer:
        writer.write(rows.table)
    if writer.info is None:
        raise RuntimeError(f"{unit.shard}: shard writer finished without a shard")
    result = UnitResult(
        key=unit.key,
        split=unit.split,
        shard=writer.info,
        quarantine=tuple(policy.quarantine),
        sources=(*sources, *rows.sources),
        totals=rows.totals,
        symbol_counts=rows.symbol_counts,
    )
    record = {"fingerprint": fingerprint, "result": result.to_json()}
    sidecar(out, unit).write_atomic(canonical_json(record).encode())
    return result


def run_unit(process: ProcessFn, unit: Unit, ctx: UnitContext[Any], fingerprint: str) -> UnitResult:
    """Run one unit in a worker and record it as done (once its shard is written)."""
    return write_result(unit, ctx, make_rows(process, unit, ctx), fingerprint)


def finished_result(root: Location, unit: Unit, fingerprint: str) -> UnitResult | None:
    """The recorded result of a unit an earlier run finished, if its shard is still intact."""
    record_file = sidecar(root, unit)
    if not record_file.exists():
        return None
    try:
        record = read_json(record_file)
        if record.get("fingerprint") != fingerprint:
            return None
        result = UnitResult.from_json(record["result"])
    except (GravesDataError, KeyError, TypeError, ValueError):
        return None
    shard = root.join(result.shard.path)
    if not shard.exists() or shard.size() != result.shard.bytes:
        return None
    # the size alone is not proof: a killed --overwrite can leave the old dataset under the
    # staging name beside the new build's records, and an old shard of the same name and
    # size but other rows would then be kept and named in the new manifest
    if sha256_hex(shard.read_bytes()) != result.shard.sha256:
        return None
    return result
