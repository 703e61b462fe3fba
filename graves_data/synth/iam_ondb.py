"""`graves-data synth iam-ondb`: a corpus in exactly the IAM-OnDB release's layout and formats.

The real release cannot be downloaded by the project, so the demo, the tests and the
benchmarks run on this one. It writes, from a seed:

    lineStrokes/a01/a01-000/a01-000u-01.xml   one stroke file per text line
    ascii/a01/a01-000/a01-000u.txt            OCR and CSR transcription of each form
    original/a01/a01-000/strokesu.xml         the whole form with writer id (most forms)
    trainset.txt testset_v.txt testset_t.txt testset_f.txt   the task-1 split lists
    SYNTH.json                                what was generated, quirks and damage included

or, with `archives`, `lineStrokes-all.tar.gz`, `ascii-all.tar.gz` and
`original-xml-all.tar.gz` holding the same members instead of the three folders.

The ink is English prose (`english.SentenceComposer`) written through Hershey single-stroke
glyphs by simulated writers (`_pen`): each with their own size, width, slant, spacing, joins,
speed, tremor and baseline drift, sampled like the eBeam pen. The release's format quirks are
always there; `defects` adds the damage real lines and forms have, and SYNTH.json lists
exactly what was injected where, so tests can check that a build cleans or quarantines it.
Same seed and parameters, same bytes (archives included).

SYNTH.json (also the return value of `synth_iam_ondb`):

    params, layout ("folders" | "archives"), version
    totals        forms, lines, writers, points, strokes, stroke_xml_bytes
    lists         per list: forms, lines, writers
    unlisted      form ids in no list (quirk `not_in_list`, or a placeholder transcription)
    defect_counts lines: per kind, lines with it; forms: per kind, forms with it
    forms[id]     writer (who wrote it), writer_id (what the original XML says: None without
                  General or without the file), list, lines (stroke files), csr_lines,
                  points, stroke_xml_bytes, original (file written), xml_form_id (Form@id),
                  quirks (no_original, no_general, form_id_mismatch, double_escaped_quotes,
                  utf8_declaration, crlf | lf, trailing_spaces, ocr_text, tokenised_full,
                  tokenised_quotes, unreadable_word, not_in_list: only those the files show),
                  defects (misaligned_transcription: one CSR line fewer than stroke files;
                  placeholder_transcription; missing_original)
    lines[id]     text (the line's transcription, as the CSR has it when aligned), points,
                  strokes (<Stroke> elements, empty ones included), defects:
                  {dropped: [{stroke, after, count}], spikes: [{stroke, point, count}],
                   zero_times: [{stroke, point, count}], duplicates: [{stroke, point}],
                   empty_strokes: [stroke, ...]}
                  with `stroke` counting every <Stroke> of the file from 0 and `point` the
                  points of that stroke from 0 (see `_defects`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graves_data import __version__
from graves_data.corpus import Params, param, params_dict
from graves_data.errors import OutputExists, UsageError
from graves_data.schema import strict_json
from graves_data.synth._defects import LINE_DEFECTS
from graves_data.synth._formats import split_list
from graves_data.synth._forms import FormFiles, draw_form
from graves_data.synth._plan import (
    FORM_DEFECTS,
    LISTS,
    RELEASE_LINES,
    FormPlan,
    plan_corpus,
)
from graves_data.synth._sink import ARCHIVES, ArchiveSink, FolderSink, Sink, write_atomically

__all__ = ["SYNTH_FILE", "IamSynthParams", "synth_iam_ondb"]

SYNTH_FILE = "SYNTH.json"
# everything the generator may have written in a folder, in either layout
_OUTPUTS = (
    "lineStrokes",
    "ascii",
    "original",
    *ARCHIVES.values(),
    *(f"{name}.txt" for name in LISTS),
    SYNTH_FILE,
)


@dataclass(frozen=True)
class IamSynthParams(Params):
    """What to generate; every field is a CLI option of `graves-data synth iam-ondb`."""

    lines: int = param(600, f"total text lines; {RELEASE_LINES} = the full release's size")
    writers: int | None = param(
        None, "writers (default: scaled like the release, 221 writers for 12,195 lines)"
    )
    seed: int = param(0, "random seed: same seed and parameters give the same bytes")
    archives: bool = param(
        False,
        "write lineStrokes-all.tar.gz, ascii-all.tar.gz, original-xml-all.tar.gz "
        "(+ split lists) instead of folders",
    )
    defects: float = param(
        0.0,
        "chance, per line and kind, of injected damage (dropped readings, spikes, zero "
        "timestamps, duplicate points, empty strokes) and, per form and kind, of a misaligned "
        "or placeholder transcription or a missing original XML; each kind occurs at least "
        "once when above 0; all of it is listed in SYNTH.json",
    )

    def check(self) -> None:
        """Refuse parameters that cannot make a corpus, with a message naming the option."""
        if self.lines < 1:
            raise UsageError("--lines must be at least 1")
        if self.writers is not None and self.writers < 1:
            raise UsageError("--writers must be at least 1")
        if not 0.0 <= self.defects <= 1.0:
            raise UsageError("--defects must be a rate between 0 and 1")


def synth_iam_ondb(
    out: str | os.PathLike[str],
    params: IamSynthParams,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write an IAM-OnDB-format corpus into the folder `out`; return SYNTH.json's content.

    `out` must be empty or absent, unless `overwrite`: then what an earlier run wrote there
    (either layout) is removed first, and nothing else in the folder is touched.
    """
    params.check()
    root = Path(out)
    plan = plan_corpus(params.lines, params.writers, params.seed, params.defects)
    _prepare(root, overwrite)
    sink: Sink = ArchiveSink(root) if params.archives else FolderSink(root)
    forms: dict[str, dict[str, Any]] = {}
    lines: dict[str, dict[str, Any]] = {}
    try:
        with _progress(progress, len(plan.forms)) as advance:
            for form in plan.forms:
                drawn = draw_form(form, plan.writers[form.writer])
                _write_form(sink, form, drawn)
                forms[form.form_id] = drawn.record
                lines.update(drawn.lines)
                advance()
    finally:
        sink.close()
    for name in LISTS:
        listed = _list_order(plan.forms, name)
        write_atomically(root / f"{name}.txt", split_list(listed))
    synth = _summary(params, len(plan.writers), forms, lines)
    text = strict_json(synth, indent=1, sort_keys=True) + "\n"
    write_atomically(root / SYNTH_FILE, text.encode("utf-8"))
    return synth


def _prepare(root: Path, overwrite: bool) -> None:
    """Make sure `root` is a folder the corpus may be written into."""
    if root.exists() and not root.is_dir():
        raise OutputExists(f"{root}: exists and is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    entries = sorted(p.name for p in root.iterdir())
    if not entries:
        return
    if not overwrite:
        raise OutputExists(f"{root}: folder is not empty (pass overwrite to replace a corpus)")
    for name in _OUTPUTS:
        path = root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def _write_form(sink: Sink, form: FormPlan, drawn: FormFiles) -> None:
    """A form's files under the release's paths: a01/a01-000/..."""
    folder = f"{form.form_id[:3]}/{form.form_id[:7]}"
    for line_id, data in drawn.strokes:
        sink.add("lineStrokes", f"{folder}/{line_id}.xml", data)
    sink.add("ascii", f"{folder}/{form.form_id}.txt", drawn.transcription)
    if drawn.original is not None:
        sink.add("original", f"{folder}/strokes{form.form_id[7:]}.xml", drawn.original)


def _list_order(forms: list[FormPlan], name: str) -> list[str]:
    """A list's form ids grouped by writer, as the release's lists are (not sorted overall)."""
    chosen = [f for f in forms if f.list_name == name]
    return [f.form_id for f in sorted(chosen, key=lambda f: (f.writer, f.form_id))]


def _summary(
    params: IamSynthParams,
    writers: int,
    forms: dict[str, dict[str, Any]],
    lines: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """SYNTH.json: parameters, totals, lists, and per form and line what is in the files."""
    lists: dict[str, dict[str, int]] = {}
    for name in LISTS:
        members = [f for f in forms.values() if f["list"] == name]
        lists[name] = {
            "forms": len(members),
            "lines": sum(f["lines"] for f in members),
            "writers": len({f["writer"] for f in members}),
        }
    line_counts = {k: sum(1 for ln in lines.values() if k in ln["defects"]) for k in LINE_DEFECTS}
    form_counts = {k: sum(1 for f in forms.values() if k in f["defects"]) for k in FORM_DEFECTS}
    return {
        "generator": "graves_data.synth.iam_ondb",
        "version": __version__,
        "params": params_dict(params),
        "layout": "archives" if params.archives else "folders",
        "totals": {
            "forms": len(forms),
            "lines": len(lines),
            "writers": writers,
            "points": sum(ln["points"] for ln in lines.values()),
            "strokes": sum(ln["strokes"] for ln in lines.values()),
            "stroke_xml_bytes": sum(f["stroke_xml_bytes"] for f in forms.values()),
        },
        "lists": lists,
        "unlisted": sorted(fid for fid, f in forms.items() if f["list"] is None),
        "defect_counts": {"lines": line_counts, "forms": form_counts},
        "forms": forms,
        "lines": lines,
    }


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Any]:
    """A progress bar over forms on stderr, or nothing."""
    if not enabled:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]synth iam-ondb"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task("forms", total=total)
        yield lambda: bar.advance(task)
