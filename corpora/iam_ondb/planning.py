"""Planning: which forms go into which split, and the units of work."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graves_data.corpora.iam_ondb.inventory import Inventory, StrokeFile
from graves_data.corpora.iam_ondb.params import (
    ASCII,
    LISTS,
    PLACEHOLDER,
    SCHEMES,
    TRAIN_SPLIT,
    IamParams,
)
from graves_data.corpora.iam_ondb.readers import parse_transcription
from graves_data.errors import BadInput, UsageError
from graves_data.pipelines.runner import (
    BadInputPolicy,
    OnBadInput,
    Quarantined,
)
from graves_data.vocab import Vocab, build_vocab, count_symbols

# =============================================================================================
# planning: which forms go where


@dataclass(frozen=True)
class FormTask:
    """One form as a unit carries it to a worker."""

    form_id: str
    writer_id: str | None
    texts: tuple[str, ...]
    files: tuple[StrokeFile, ...]
    original: str | None = None  # its original XML file, hashed by the worker (folder builds)


@dataclass(frozen=True)
class Payload:
    forms: tuple[FormTask, ...]
    data: tuple[bytes | None, ...] | None = None  # member bytes in files order (archives)


def check_form(form: str, files: list[StrokeFile], inv: Inventory) -> tuple[str, ...]:
    """The form's aligned transcription lines, or BadInput saying why it cannot be aligned."""
    if form not in inv.transcriptions:
        raise BadInput(
            f"{ASCII}/.../{form}.txt",
            "missing-transcription",
            f"form {form} has no transcription file",
        )
    path, data = inv.transcriptions[form]
    lines = parse_transcription(data, path)
    if len(lines) == 1 and lines[0].lower() == PLACEHOLDER:
        raise BadInput(
            path, "placeholder-transcription", f"placeholder text {lines[0]!r}, not a transcription"
        )
    numbers = sorted(f.number for f in files)
    if numbers != list(range(1, len(files) + 1)):
        raise BadInput(
            path, "line-numbering", f"stroke files of {form} are not numbered 01..{len(files):02d}"
        )
    if len(lines) != len(files):
        raise BadInput(
            path,
            "transcription-mismatch",
            f"{len(files)} stroke files but {len(lines)} transcription lines: "
            "cannot align by line number",
        )
    return tuple(lines)


def assign_splits(
    forms: Mapping[str, tuple[str | None, int]],
    inv_lists: Mapping[str, list[str]] | None,
    params: IamParams,
) -> tuple[dict[str, str], list[Quarantined]]:
    """Split of each form; forms left out (in no list, in two lists) as quarantine entries."""
    if params.split == "writers":
        return writer_split(forms, params.seed, params.valid_fraction, params.test_fraction), []
    if inv_lists is None:
        raise UsageError("no split lists (trainset.txt, ...) in --raw; use --split writers")
    scheme = SCHEMES[params.split]
    list_of: dict[str, str] = {}
    left_out: list[Quarantined] = []
    for name in LISTS:
        for form in inv_lists[name]:
            if form in list_of and list_of[form] != name:
                left_out.append(
                    Quarantined(form, "in-two-lists", f"listed in both {list_of[form]} and {name}")
                )
            list_of.setdefault(form, name)
    doubly = {q.source for q in left_out}
    split_of_list = {lst: split for split, lists in scheme.items() for lst in lists}
    assigned: dict[str, str] = {}
    for form in forms:
        if form in doubly:
            continue
        if form not in list_of:
            left_out.append(
                Quarantined(
                    form, "not-in-split", "form is in no split list; not guessed into a split"
                )
            )
            continue
        assigned[form] = split_of_list[list_of[form]]
    return assigned, left_out


def writer_split(
    forms: Mapping[str, tuple[str | None, int]],
    seed: int,
    valid_fraction: float,
    test_fraction: float,
) -> dict[str, str]:
    """Seeded writer-disjoint split: whole writers go to test, then valid, until each fraction
    of lines is reached. A form with no known writer counts as a writer of its own."""
    groups: dict[str, list[str]] = {}
    for form, (writer, _) in sorted(forms.items()):
        groups.setdefault(f"w:{writer}" if writer else f"f:{form}", []).append(form)
    keys = sorted(groups)
    order = np.random.default_rng(seed).permutation(len(keys))
    total = sum(n for _, n in forms.values())
    targets = [("test", test_fraction * total), ("valid", valid_fraction * total)]
    assigned: dict[str, str] = {}
    taken = {"test": 0, "valid": 0}
    for index in order:
        key = keys[int(index)]
        lines = sum(forms[f][1] for f in groups[key])
        split = next(
            (name for name, target in targets if taken[name] + lines / 2 <= target), "train"
        )
        if split != "train":
            taken[split] += lines
        for form in groups[key]:
            assigned[form] = split
    return assigned


def split_names(params: IamParams) -> tuple[str, ...]:
    if params.split == "writers":
        return ("train", "valid", "test")
    return tuple(SCHEMES[params.split])


@dataclass
class Plan:
    forms_by_split: dict[str, list[FormTask]]
    quarantine: list[Quarantined]
    vocab: Vocab
    writers_by_split: dict[str, int]
    report: dict[str, Any]
    # text lines (stroke files) of forms left out whole, by the reason's code
    lines_left_out: dict[str, int] = field(default_factory=dict)


def plan_forms(inv: Inventory, params: IamParams, on_bad_input: OnBadInput) -> Plan:
    policy = BadInputPolicy(on_bad_input)
    quarantine = policy.quarantine
    quarantine.extend(inv.quarantine)
    aligned: dict[str, FormTask] = {}
    left_lines: Counter[str] = Counter()
    for form in sorted(inv.strokes):
        files = sorted(inv.strokes[form], key=lambda f: f.number)
        try:
            texts = check_form(form, files, inv)
        except BadInput as error:
            policy.take(error)
            left_lines[error.code] += len(files)
            continue
        writer = inv.writers.get(form, (None, "no original XML file"))[0]
        aligned[form] = FormTask(form, writer, texts, tuple(files), inv.originals.get(form))
    for form in sorted(set(inv.transcriptions) - set(inv.strokes)):
        path = inv.transcriptions[form][0]
        quarantine.append(
            Quarantined(path, "no-stroke-files", f"transcription of {form} but no stroke files")
        )
    counts = {f: (t.writer_id, len(t.files)) for f, t in aligned.items()}
    assigned, left_out = assign_splits(counts, inv.lists, params)
    quarantine.extend(left_out)
    for entry in left_out:
        left_lines[entry.code] += counts.get(entry.source, (None, 0))[1]
    by_split: dict[str, list[FormTask]] = {name: [] for name in split_names(params)}
    for form, split in sorted(assigned.items()):
        by_split[split].append(aligned[form])
    train = by_split[TRAIN_SPLIT[params.split]]
    vocab = build_vocab(count_symbols(t for form in train for t in form.texts))
    writers = {s: len({f.writer_id for f in forms if f.writer_id}) for s, forms in by_split.items()}
    return Plan(by_split, quarantine, vocab, writers, _report(inv, aligned), dict(left_lines))


def _report(inv: Inventory, aligned: Mapping[str, FormTask]) -> dict[str, Any]:
    unknown = {
        f: inv.writers.get(f, (None, "no original XML file"))[1]
        for f, t in aligned.items()
        if not t.writer_id
    }
    listed_absent: dict[str, int] = {}
    if inv.lists is not None:
        present = set(inv.strokes)
        listed_absent = {
            name: sum(1 for f in forms if f not in present) for name, forms in inv.lists.items()
        }
    return {
        "writer_unknown": [{"form": f, "reason": r} for f, r in sorted(unknown.items())],
        "listed_but_absent": listed_absent,
    }
