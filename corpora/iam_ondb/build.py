"""The whole build, the dataset card and the registry entry."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from graves_data import __version__, card
from graves_data.corpora.iam_ondb.fastread import default_scanner
from graves_data.corpora.iam_ondb.inventory import take_inventory
from graves_data.corpora.iam_ondb.params import ARCHIVES, LISTS, NAME, TRAIN_SPLIT, IamParams
from graves_data.corpora.iam_ondb.planning import Plan, plan_forms, split_names
from graves_data.corpora.iam_ondb.units import make_units, process_unit, with_archive_bytes
from graves_data.corpus import CorpusSpec, Generator
from graves_data.download import DownloadSpec, RemoteFile
from graves_data.manifest import Manifest, Normalization
from graves_data.pipelines.runner import (
    BuildJob,
    Execution,
    Unit,
    UnitResult,
    check_no_overlap,
    run_build,
)
from graves_data.schema import HANDWRITING
from graves_data.shards import card_splits
from graves_data.storage import Location, resolve

# =============================================================================================
# the whole build


def training_moments(results: Sequence[UnitResult], split: str) -> dict[str, int]:
    keys = ("_n", "_sx", "_sy", "_sxx", "_syy")
    return {k: sum(int(r.totals.get(k, 0)) for r in results if r.split == split) for k in keys}


def lines_left_out(plan: Plan, results: Sequence[UnitResult]) -> dict[str, int]:
    """Text lines (stroke files) that are in the release but in no shard, by reason: those
    of forms left out whole at planning, and each stroke file a unit quarantined. Inputs
    that are not lines (a transcription of a form with no stroke files, a stray file) count
    in the quarantine only."""
    counts = Counter(plan.lines_left_out)
    counts.update(q.code for result in results for q in result.quarantine)
    return dict(sorted(counts.items()))


def build(
    raw: str | Location,
    out: str | Location,
    params: IamParams | None = None,
    *,
    execution: Execution | None = None,
    on_bad_input: Literal["error", "skip"] = "skip",
    overwrite: bool = False,
) -> Manifest:
    """Build an IAM-OnDB dataset from the release at `raw` into `out`; return the manifest."""
    params = params or IamParams()
    params.check()
    default_scanner()  # a stroke scanner the environment names but cannot have: said now
    raw_loc = raw if isinstance(raw, Location) else resolve(raw)
    out_loc = out if isinstance(out, Location) else resolve(out)
    check_no_overlap(raw_loc, out_loc)
    inventory = take_inventory(raw_loc, execution)
    plan = plan_forms(inventory, params, on_bad_input)
    units = make_units(plan, params)
    sources = list(inventory.sources)
    unit_stream: Sequence[Unit] | Iterator[Unit] = units
    if inventory.strokes_archive is not None:
        unit_stream = with_archive_bytes(units, inventory.strokes_archive, sources)
    train_split = TRAIN_SPLIT[params.split]

    def finalize(results: Sequence[UnitResult]) -> dict[str, Any]:
        return {
            "normalization": Normalization.from_moments(
                training_moments(results, train_split), train_split
            ).to_json(),
            "writers": plan.writers_by_split,
            "report": {**plan.report, "lines_left_out": lines_left_out(plan, results)},
        }

    job = BuildJob(
        corpus=NAME,
        params=params,
        raw=raw_loc,
        out=out_loc,
        schema=HANDWRITING,
        vocab=plan.vocab,
        units=unit_stream,
        unit_count=len(units),
        splits=split_names(params),
        process=process_unit,
        sources=sources,
        quarantine=plan.quarantine,
        finalize=finalize,
        card=dataset_card,
        on_bad_input=on_bad_input,
        overwrite=overwrite,
    )
    return run_build(job, execution)


def dataset_card(manifest: Manifest) -> str:
    """README.md of the dataset: the Hub's YAML header, then provenance and cleaning."""
    splits = manifest["splits"]
    params = manifest["params"]
    writers = manifest.get("writers", {})
    rows = "\n".join(
        f"| {name} | {s['rows']} | {s.get('points', 0)} | {writers.get(name, 0)} |"
        for name, s in splits.items()
    )
    quarantined = len(manifest["quarantine"])
    left_out = sum(manifest.get("report", {}).get("lines_left_out", {}).values())
    norm = manifest.get("normalization", {})
    return card.dataset_card(
        card_splits(manifest),  # a split with no rows has no files to name
        metadata=(
            "pretty_name: IAM On-Line Handwriting Database (graves-data build)",
            "license: other",
            "task_categories:",
            "- text-generation",
            "tags:",
            "- handwriting",
            "- online-handwriting",
            "- graves-2013",
        ),
        body=f"""# IAM-OnDB, cleaned and sharded by graves-data {__version__}

Online handwriting: one row per text line, pen offsets `(dx, dy, end_of_stroke)` in raw board
units (`offsets`), the first point's position (`origin`), the transcription (`text`, `text_ids`
in `vocab.json`), writer and form ids, and what cleaning changed. Schema version
{manifest["schema_version"]}; `manifest.json` lists every input with its sha256, every shard with
its sha256, and the {quarantined} inputs quarantined with the reason for each ({left_out} text
lines of the release are in no split).

| split | lines | points | writers |
|---|---|---|---|
{rows}

Split scheme: `{params["split"]}`.

## Cleaning (Graves 2013, section 4)
Timestamps that are zero or out of order re-estimated; lost readings (time gap over
{params["gap_factor"]} sampling periods) filled by linear interpolation, at most
{params["max_fill"]} per gap (a longer gap gets that many, evenly spaced); steps longer than
{params["spike_threshold"]} board units inside a stroke removed (runs of at most
{params["spike_width"]} points dropped, strokes split otherwise); duplicate readings and
empty strokes dropped. Normalisation over `{norm.get("split", "")}`: mean
{norm.get("mean")}, std {norm.get("std")}.

## Licence
The IAM On-Line Handwriting Database is free for non-commercial research use, after
registration with its authors (FKI, University of Bern / HEIA-FR). This derived dataset carries
the same terms: do not redistribute it. Cite: M. Liwicki and H. Bunke, "IAM-OnDB - an On-Line
English Sentence Database Acquired from Handwritten Text on a Whiteboard", ICDAR 2005; and
A. Graves, "Generating Sequences With Recurrent Neural Networks", arXiv:1308.0850, 2013.
""",
    )


# --- where the release is published: `graves-data download iam-ondb` ---------------------------

# The archives are behind the database's registration login (HTTP basic auth); their URLs are
# the ones the release has used since it moved from www.fki.inf.unibe.ch to HEIA-FR. No sizes or
# checksums are published, so none are checked: SOURCES.json records the sha256 of what came.
# The task IAM-OnDB-t1 lists sat beside data/ on the former host (DBs/iamOnDB/trainset.txt, ...)
# and are assumed to have moved with the archives; they are optional, since `--split writers`
# builds without them, and a missing one is reported, not fatal. `--mirror` replaces the base.
DOWNLOADS = DownloadSpec(
    corpus=NAME,
    base_url="https://fki.tic.heia-fr.ch/DBs/iamOnDB/",
    files=(
        *(RemoteFile(f"data/{archive}", archive, auth=True) for archive in ARCHIVES.values()),
        *(RemoteFile(f"{name}.txt", f"{name}.txt", auth=True, optional=True) for name in LISTS),
    ),
    auth=True,
    homepage="https://fki.tic.heia-fr.ch/databases/iam-on-line-handwriting-database",
    notes="no published sizes or checksums; split lists' URL inferred from the former host",
)


def _generator() -> Generator:
    from graves_data.synth.iam_ondb import IamSynthParams, synth_iam_ondb

    return Generator(IamSynthParams, synth_iam_ondb)


SPEC = CorpusSpec(
    name=NAME,
    summary="IAM On-Line Handwriting Database: pen trajectories of text lines",
    params=IamParams,
    build=build,
    generator=_generator,
    downloads=DOWNLOADS,
)
