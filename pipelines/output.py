"""The output folder: where a build may write, resuming into it, and the atomic swap.

A fresh or empty folder is used as is. A folder holding an earlier (possibly interrupted)
build of the same `Destination` (corpus, parameters, raw source, version) is resumed: finished
units are kept. Another dataset is refused unless `--overwrite`; then the new one is built in a
staging folder beside it and swapped in at the end. A folder holding anything else is never
touched. Input and output never overlap.
"""

from __future__ import annotations

import os

from graves_data.errors import GravesDataError, OutputExists, UsageError
from graves_data.pipelines.job import Destination
from graves_data.schema import canonical_json
from graves_data.shards import BUILD_DIR, MANIFEST, PLAN_FILE, build_state, read_json
from graves_data.storage import Location, exchange_paths, remove_stale_temporaries


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


def prepare_output(dest: Destination) -> Location:
    """Decide where to write; return the folder the units write into (see the module)."""
    out = dest.out
    check_no_overlap(dest.raw, out)
    if out.exists() and not out.is_dir():
        raise OutputExists(f"{out.url} is a file, not a folder; choose another --out")
    plan_file = build_state(out).join(PLAN_FILE)
    resumable = plan_file.exists() and _same_identity(plan_file, dest)
    if not out.exists() or _is_empty(out) or resumable:
        _drop_staging(dest)
        return out
    unfinished = plan_file.exists() or out.join(BUILD_DIR, PLAN_FILE).exists()
    if not out.join(MANIFEST).exists() and not unfinished:
        raise OutputExists(
            f"{out.url} holds files that are not a graves-data dataset; choose another --out "
            "(--overwrite only ever replaces a dataset)"
        )
    if not dest.overwrite:
        what = "a dataset" if out.join(MANIFEST).exists() else "an unfinished build"
        raise OutputExists(
            f"{out.url} already holds {what} of other inputs or parameters; "
            "choose another --out or pass --overwrite"
        )
    if not out.is_local:
        out.remove(recursive=True)
        build_state(out).remove(recursive=True)
        return out
    return staging_folder(dest)


def _is_empty(folder: Location) -> bool:
    files, passed = folder.walk_entries()
    return not files and not passed


def _staging(dest: Destination) -> Location:
    return dest.out.parent().join(f".{dest.out.name}.staging")


def _drop_staging(dest: Destination) -> None:
    """A staging folder is stale once the build goes into --out itself: an --overwrite killed
    after its swap leaves the old dataset there."""
    if dest.out.is_local:
        _staging(dest).remove(recursive=True)
        build_state(_staging(dest)).remove(recursive=True)


def staging_folder(dest: Destination) -> Location:
    """Where an --overwrite build is made: beside the output under a fixed hidden name, so a
    killed one resumes there; anything else found under that name is cleared first."""
    staging = _staging(dest)
    plan = build_state(staging).join(PLAN_FILE)
    if staging.exists() and not (plan.exists() and _same_identity(plan, dest)):
        staging.remove(recursive=True)
        build_state(staging).remove(recursive=True)
    return staging


def _same_identity(plan_file: Location, dest: Destination) -> bool:
    try:
        recorded = read_json(plan_file)
    except GravesDataError:
        return False
    return bool(recorded.get("identity") == dest.identity())


def claim(dest: Destination, units: int = 0) -> Location:
    """Claim the output folder for a build and return the folder its units write into: from
    here on it is not a finished dataset (its manifest is gone) and it records the plan."""
    root = prepare_output(dest)
    root.makedirs()
    root.join(MANIFEST).remove()
    remove_stale_temporaries(root)
    write_plan(root, dest, units)
    return root


def write_plan(root: Location, dest: Destination, units: int) -> None:
    plan = {"identity": dest.identity(), "units": units}
    build_state(root).join(PLAN_FILE).write_atomic(canonical_json(plan).encode())


def swap_into_place(staging: Location, out: Location) -> None:
    """Replace `out` by the finished `staging` folder: one atomic exchange of the two names
    (so `out` holds the old dataset or the new one at every instant), then the old removed."""
    if staging.path == out.path:
        return
    exchange_paths(staging.path, out.path)
    staging.remove(recursive=True)
    # the records now describe `out`: a kill before this rename leaves the old dataset's, whose
    # identity differs, and the next run rebuilds (with --overwrite) rather than mixing them
    build_state(out).remove(recursive=True)
    if build_state(staging).exists():
        os.replace(build_state(staging).path, build_state(out).path)
