"""The build runner: a corpus's planned units -> shards -> vocabulary, card and manifest.

A corpus plans its build as a `BuildJob` (`pipelines.job`): units, each writing exactly one
shard under its final name, and a `process` function that turns one unit's inputs into rows.
The runner owns everything else: the output folder policy and resuming (`pipelines.output`),
reading and hashing inputs, the bad-input policy and the shard writes (`pipelines.worker`), the
executor (`pipelines.executors`: in process, local pool or dask) and the manifest, written last
(`pipelines.manifest`).

Determinism: units and their shard names are fixed by the plan, never by the workers; results
are merged in unit order; nothing time- or host-dependent goes into the output. So the bytes
are the same for any worker count, on a pool or on a cluster.

The names of the parts are re-exported here: `from graves_data.pipelines.runner import ...`
is what a corpus module uses.
"""

from __future__ import annotations

import posixpath

from graves_data.manifest import Manifest, write_manifest
from graves_data.pipelines.executors import beside as beside
from graves_data.pipelines.executors import execute as execute
from graves_data.pipelines.executors import parallel_map as parallel_map
from graves_data.pipelines.job import BadInputPolicy as BadInputPolicy
from graves_data.pipelines.job import BuildJob as BuildJob
from graves_data.pipelines.job import Destination as Destination
from graves_data.pipelines.job import Execution as Execution
from graves_data.pipelines.job import OnBadInput as OnBadInput
from graves_data.pipelines.job import ProcessFn as ProcessFn
from graves_data.pipelines.job import Quarantined as Quarantined
from graves_data.pipelines.job import SourceFile as SourceFile
from graves_data.pipelines.job import Span as Span
from graves_data.pipelines.job import Unit as Unit
from graves_data.pipelines.job import UnitContext as UnitContext
from graves_data.pipelines.job import UnitInput as UnitInput
from graves_data.pipelines.job import UnitResult as UnitResult
from graves_data.pipelines.job import UnitRows as UnitRows
from graves_data.pipelines.job import unit_fingerprint as unit_fingerprint
from graves_data.pipelines.manifest import assemble_manifest, sum_counts
from graves_data.pipelines.output import check_no_overlap as check_no_overlap
from graves_data.pipelines.output import claim, swap_into_place, write_plan
from graves_data.pipelines.worker import run_unit as run_unit
from graves_data.shards import CARD, DATA_DIR, VOCAB, listed
from graves_data.storage import Location


def begin_build(dest: Destination, units: int = 0) -> Location:
    """Claim the output folder for a build and return the folder its units write into.

    `run_build` calls it first. A corpus whose plan needs a pass that writes scratch files
    before the units exist (text spilled by a counting pass, under `.build/`) calls it itself
    with the build's `Destination`, and hands the folder to `run_build(root=...)`: the scratch
    files then live in the folder the output policy allowed, and a resumed build finds them.
    """
    return claim(dest, units)


def run_build(
    job: BuildJob, execution: Execution | None = None, root: Location | None = None
) -> Manifest:
    """Plan -> units -> shards -> vocab, card, manifest. Returns the manifest.

    `root` is the folder `begin_build` returned, where the caller claimed it first.
    """
    execution = execution or Execution()
    if root is None:
        root = begin_build(job.destination, job.unit_count)
    else:
        write_plan(root, job.destination, job.unit_count)

    results = execute(job, root, execution)
    vocab = job.vocab.with_counts(sum_counts(r.symbol_counts for r in results))
    root.join(VOCAB).write_atomic(vocab.to_bytes())
    manifest = assemble_manifest(job, results, vocab)
    if job.card is not None:
        root.join(CARD).write_atomic(job.card(manifest).encode())
    _remove_unplanned_shards(root, {shard.path for shard in listed([r.shard for r in results])})
    write_manifest(root, manifest)
    if root.path != job.out.path:
        swap_into_place(root, job.out)
    return manifest


def _remove_unplanned_shards(root: Location, keep: set[str]) -> None:
    data = root.join(DATA_DIR)
    if not data.exists():
        return
    for rel in list(data.walk_files()):
        path = posixpath.join(DATA_DIR, rel)
        if path not in keep:
            data.join(rel).remove()
