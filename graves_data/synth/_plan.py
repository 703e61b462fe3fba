"""The shape of a generated release, decided before any ink: forms, writers, splits, quirks.

Everything random here comes from one generator seeded by the caller's seed, so the plan (and
with it every form's own seed) is the same on every run; forms are then drawn one at a time
from their own seeds. Proportions follow the release:
- 12,195 lines by 221 writers, about 7 lines a form;
- the task-1 lists hold 5364 / 1438 / 1518 / 3859 lines (trainset / testset_v / testset_t /
  testset_f), each writer in one list only; a few forms are in no list (like `z01-000z`);
- form ids like the release's: LOB text category (a-r, no i, o, q), text number, passage,
  and a suffix letter telling apart writers of the same text (mostly z; u, w, x, a, b, none).
  The first form is always `a01-000u` (the demo renders `a01-000u-01`).
- format quirks, present at any defect rate: original files without `General` (writer
  unknown), with a `Form id` that disagrees with the path, quotes escaped twice, one UTF-8
  declaration; transcriptions with CRLF or LF, trailing spaces, an OCR section, tokenised
  punctuation (`Mr . Gaitskell`, `Foot ' s`);
- damage at the defect rate, per line and per form (`_defects`, and below).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graves_data.errors import UsageError
from graves_data.synth._defects import LINE_DEFECTS
from graves_data.synth._pen import WriterStyle, draw_style

LISTS = ("trainset", "testset_v", "testset_t", "testset_f")
RELEASE_LIST_LINES = {"trainset": 5364, "testset_v": 1438, "testset_t": 1518, "testset_f": 3859}
RELEASE_LINES = 12195
RELEASE_WRITERS = 221
FIRST_FORM = "a01-000u"
FORM_DEFECTS = ("misaligned_transcription", "placeholder_transcription", "missing_original")

# LOB text categories as the release's lists use them, with their share of forms there
_CATEGORIES = "abcdefghjklmnpr"
_CATEGORY_WEIGHTS = (138, 120, 97, 111, 105, 104, 87, 77, 82, 136, 156, 92, 160, 170, 93)
_SUFFIXES = ("z", "", "w", "x", "u", "a", "b")
_SUFFIX_WEIGHTS = (0.82, 0.11, 0.02, 0.02, 0.01, 0.01, 0.01)
_LINES_PER_FORM = (4, 5, 6, 7, 8, 9, 10, 11)
_LINES_WEIGHTS = (0.04, 0.12, 0.2, 0.24, 0.2, 0.12, 0.05, 0.03)
# ids are drawn from 15 categories x 10 texts x 600 passages; leave room to draw them
MAX_FORMS = 60_000
# forms with at least this many siblings get each quirk at least once
_QUIRK_FLOOR_FORMS = 8
EPOCH = (2004, 10, 4)  # sessions fall in the weeks after this day (the release's autumn 2004)


@dataclass
class WriterPlan:
    """One writer: the id in their original files, their hand, and their session clock."""

    writer_id: str
    style: WriterStyle
    clock: float  # seconds on the session clock when their first form starts
    day: int  # days after the epoch of their session
    hour: float  # wall-clock hour their session starts at
    list_name: str | None = None


@dataclass
class FormPlan:
    """One form: where it goes, who writes it, and which quirks and damage it carries."""

    index: int
    form_id: str
    writer: int
    n_lines: int
    seed: int
    start: float = 0.0  # session clock when its first line starts
    list_name: str | None = None
    unlisted: bool = False  # in no split list although its transcription is fine
    general: bool = True
    xml_form_id: str = ""
    double_escape: bool = True
    utf8: bool = False
    colour: str = "black"
    crlf: bool = False
    trailing: bool = False
    ocr: bool = False
    tokenise: str = "none"  # none | full | quotes
    no_original: bool = False  # the release has no original XML for some forms
    form_defect: str | None = None
    line_defects: list[frozenset[str]] = field(default_factory=list)

    @property
    def has_original(self) -> bool:
        return not self.no_original and self.form_defect != "missing_original"

    @property
    def in_list(self) -> bool:
        return self.list_name is not None


@dataclass
class CorpusPlan:
    writers: list[WriterPlan]
    forms: list[FormPlan]


def default_writers(lines: int) -> int:
    """Writers scaled like the release (221 for 12,195 lines), at least four."""
    return max(4, round(RELEASE_WRITERS * lines / RELEASE_LINES))


def plan_corpus(lines: int, writers: int | None, seed: int, rate: float) -> CorpusPlan:
    """The whole corpus's plan; `writers` None: scaled like the release (at most one a form)."""
    rng = np.random.default_rng([seed, 0x1A4])
    sizes = _form_sizes(lines, rng)
    if len(sizes) > MAX_FORMS:
        raise UsageError(
            f"{lines} lines make {len(sizes)} forms, more than the {MAX_FORMS} distinct "
            "release-style form ids there are room for; ask for fewer lines"
        )
    ids = _form_ids(len(sizes), rng)
    seeds = rng.integers(0, 2**63 - 1, size=len(sizes))
    forms = [
        FormPlan(index=i, form_id=fid, writer=-1, n_lines=n, seed=int(s))
        for i, (fid, n, s) in enumerate(zip(ids, sizes, seeds, strict=True))
    ]
    if writers is None:
        writers = min(default_writers(lines), len(forms))
    if writers > len(forms):
        raise UsageError(
            f"{writers} writers need at least {writers} forms, but {lines} lines make "
            f"{len(forms)}; ask for fewer writers or more lines"
        )
    crew = _writers(writers, rng)
    _assign_writers(forms, len(crew), rng)
    _schedule(forms, crew, rng)
    _form_defects(forms, rate, rng)
    _quirks(forms, rng)
    _assign_lists(forms, crew, rng)
    _line_defects(forms, rate, rng)
    return CorpusPlan(crew, forms)


def _form_sizes(lines: int, rng: np.random.Generator) -> list[int]:
    """Lines per form, summing to `lines` exactly; the last form takes what is left."""
    sizes: list[int] = []
    total = 0
    while total < lines:
        n = int(rng.choice(_LINES_PER_FORM, p=_LINES_WEIGHTS))
        n = min(n, lines - total)
        sizes.append(n)
        total += n
    return sizes


def _form_ids(n: int, rng: np.random.Generator) -> list[str]:
    """`n` distinct release-like form ids, sorted, the first being `a01-000u`."""
    weights = np.array(_CATEGORY_WEIGHTS, float)
    weights /= weights.sum()
    bases = {FIRST_FORM[:-1]}
    ids = [FIRST_FORM]
    while len(ids) < n:
        category = _CATEGORIES[int(rng.choice(len(_CATEGORIES), p=weights))]
        base = f"{category}{int(rng.integers(1, 11)):02d}-{int(rng.integers(0, 600)):03d}"
        if base in bases:
            continue
        bases.add(base)
        ids.append(base + str(rng.choice(_SUFFIXES, p=_SUFFIX_WEIGHTS)))
    return sorted(ids)


def _writers(n: int, rng: np.random.Generator) -> list[WriterPlan]:
    pool = np.arange(10001, 10001 + max(int(n * 1.25) + 5, n))
    ids = np.sort(rng.choice(pool, size=n, replace=False))
    crew = []
    for writer_id in ids.tolist():
        small_clock = rng.random() < 0.08  # some sessions count from program start
        clock = rng.uniform(300.0, 3000.0) if small_clock else rng.uniform(1.28e7, 1.5e7)
        crew.append(
            WriterPlan(
                writer_id=str(writer_id),
                style=draw_style(rng),
                clock=float(round(clock, 2)),
                day=int(rng.integers(0, 70)),
                hour=float(rng.uniform(8.5, 17.5)),
            )
        )
    return crew


def _assign_writers(forms: list[FormPlan], n_writers: int, rng: np.random.Generator) -> None:
    """Every writer gets at least one form; the rest go by uneven shares, as in the release."""
    order = rng.permutation(len(forms))
    shares = rng.dirichlet(np.full(n_writers, 4.0))
    extra = rng.choice(n_writers, size=len(forms) - n_writers, p=shares)
    owners = np.concatenate([rng.permutation(n_writers), extra])
    for position, form_index in enumerate(order.tolist()):
        forms[form_index].writer = int(owners[position])


def _schedule(forms: list[FormPlan], crew: list[WriterPlan], rng: np.random.Generator) -> None:
    """Session clock at which each form starts: a writer's forms follow one another, in id
    order, with room for about 40 s a line and a pause between forms."""
    clocks = [w.clock for w in crew]
    for form in forms:  # forms are in id order
        form.start = clocks[form.writer]
        clocks[form.writer] += form.n_lines * 40.0 + float(rng.uniform(30.0, 150.0))


def _pick(candidates: list[FormPlan], rng: np.random.Generator) -> FormPlan | None:
    return candidates[int(rng.integers(len(candidates)))] if candidates else None


def _form_defects(forms: list[FormPlan], rate: float, rng: np.random.Generator) -> None:
    """At most one form-level defect a form; each kind at least once when the rate is not 0.
    The first form is never damaged: the demo shows its first line."""
    if rate <= 0:
        return
    for form in forms[1:]:
        hits = [kind for kind in FORM_DEFECTS if rng.random() < rate]
        if form.n_lines < 2:  # a transcription one line short needs two lines to merge
            hits = [kind for kind in hits if kind != "misaligned_transcription"]
        if hits:
            form.form_defect = hits[int(rng.integers(len(hits)))]
    for kind in FORM_DEFECTS:
        if any(f.form_defect == kind for f in forms):
            continue
        free = [f for f in forms[1:] if f.form_defect is None]
        if kind == "misaligned_transcription":
            free = [f for f in free if f.n_lines >= 2]
        chosen = _pick(free, rng)
        if chosen is not None:
            chosen.form_defect = kind


def _quirks(forms: list[FormPlan], rng: np.random.Generator) -> None:
    """The release's format quirks, by their rough frequency there; each at least once in a
    corpus of some size, on a form where it can be seen."""
    previous: dict[int, str] = {}
    for form in forms:
        form.xml_form_id = form.form_id
        form.general = rng.random() >= 0.03
        form.double_escape = rng.random() < 0.6
        form.colour = str(rng.choice(["black", "blue", "green"], p=[0.75, 0.18, 0.07]))
        style = int(rng.choice(4, p=[0.3, 0.2, 0.3, 0.2]))
        form.crlf, form.trailing = style >= 2, style in (1, 2)
        form.ocr = style == 0 and rng.random() < 0.7
        roll = rng.random()
        form.tokenise = "full" if roll < 0.15 else "quotes" if roll < 0.3 else "none"
        if rng.random() < 0.05:
            form.xml_form_id = _mismatched_id(form, previous.get(form.writer), rng)
        previous[form.writer] = form.form_id
        form.no_original = form.index > 0 and rng.random() < 0.03
    if len(forms) < _QUIRK_FLOOR_FORMS:
        return
    healthy = [f for f in forms[1:] if f.form_defect is None]
    _ensure(healthy, "no_original", True, rng)
    seen = [f for f in forms[1:] if f.has_original]
    _ensure(seen, "general", False, rng)
    mismatched = [f for f in seen if f.general]
    if mismatched and all(f.xml_form_id == f.form_id for f in mismatched):
        chosen = mismatched[int(rng.integers(len(mismatched)))]
        chosen.xml_form_id = _mismatched_id(chosen, None, rng)
    _ensure(seen, "double_escape", True, rng)
    _ensure(seen, "double_escape", False, rng)
    for form in forms:
        form.utf8 = False
    utf8 = _pick([f for f in seen if f.general], rng)
    if utf8 is not None:
        utf8.utf8 = True
    _ensure(forms, "crlf", True, rng)
    _ensure(forms, "crlf", False, rng)
    _ensure(forms, "trailing", True, rng)
    _ensure(forms, "tokenise", "full", rng)
    _ensure(forms, "tokenise", "quotes", rng)
    if not any(f.ocr for f in forms):
        chosen = forms[int(rng.integers(len(forms)))]
        chosen.ocr, chosen.crlf, chosen.trailing = True, False, False
    n_unlisted = 1 + len(forms) // 800
    for index in rng.permutation(len(healthy))[:n_unlisted].tolist():
        healthy[index].unlisted = True


def _ensure(forms: list[FormPlan], name: str, value: object, rng: np.random.Generator) -> None:
    """If no form has `name` == `value`, set it on one picked at random."""
    if forms and not any(getattr(f, name) == value for f in forms):
        setattr(forms[int(rng.integers(len(forms)))], name, value)


def _mismatched_id(form: FormPlan, previous: str | None, rng: np.random.Generator) -> str:
    """A `Form id` unlike the path's: the suffix dropped (a01-004 for a01-004w), or the id
    of the writer's previous form with a z (a01-000z inside a01-001w's file)."""
    base, suffix = form.form_id[:7], form.form_id[7:]
    if previous is not None and rng.random() < 0.5:
        return previous[:7] + "z"
    if suffix:
        return base
    return base + "z"


def _assign_lists(forms: list[FormPlan], crew: list[WriterPlan], rng: np.random.Generator) -> None:
    """Writers to lists, greedily, so each list's share of lines is near the release's."""
    listed = [f for f in forms if not f.unlisted and f.form_defect != "placeholder_transcription"]
    per_writer = np.zeros(len(crew))
    for form in listed:
        per_writer[form.writer] += form.n_lines
    total = float(per_writer.sum())
    targets = np.array([RELEASE_LIST_LINES[name] for name in LISTS], float)
    targets = targets / targets.sum() * total
    assigned = np.zeros(len(LISTS))
    tiebreak = rng.random(len(crew))
    order = sorted(range(len(crew)), key=lambda w: (-per_writer[w], tiebreak[w]))
    for w in order:
        if per_writer[w] == 0:
            continue
        deficit = (targets - assigned) / np.maximum(targets, 1e-9)
        choice = int(np.argmax(deficit))
        crew[w].list_name = LISTS[choice]
        assigned[choice] += per_writer[w]
    for form in listed:
        form.list_name = crew[form.writer].list_name


def _line_defects(forms: list[FormPlan], rate: float, rng: np.random.Generator) -> None:
    """Which kinds of damage each line gets; each kind on at least one line when the rate is
    not 0, preferably in a form with nothing else wrong (so a test can see it cleaned)."""
    for form in forms:
        form.line_defects = [frozenset() for _ in range(form.n_lines)]
    if rate <= 0:
        return
    for form in forms[1:]:
        for i in range(form.n_lines):
            form.line_defects[i] = frozenset(k for k in LINE_DEFECTS if rng.random() < rate)
    clean_forms = [f for f in forms[1:] if f.form_defect is None and f.in_list]
    pool = clean_forms or forms[1:]
    for kind in LINE_DEFECTS:
        if any(kind in d for f in forms for d in f.line_defects):
            continue
        target = _pick(pool, rng)
        if target is None:
            continue
        i = int(rng.integers(target.n_lines))
        target.line_defects[i] = target.line_defects[i] | {kind}
