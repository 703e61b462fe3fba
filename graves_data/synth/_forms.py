"""One form from its plan: the text, the ink of each line, and the form's files and records.

A form is drawn from its own seed alone, so it comes out the same whichever forms are drawn
before it, and memory holds one form at a time. What the release's people did to a form is
done here too: the CSR transcription is tokenised on some forms (`Mr . Gaitskell`), a
struck-out word is transcribed `#`, a few forms are typed up with their OCR source, and the
damage the plan asks for is injected and recorded.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graves_data.synth._defects import damage
from graves_data.synth._formats import (
    BOARD,
    PLACEHOLDER,
    LineInk,
    OriginalHeader,
    line_xml,
    original_xml,
    stroke_times,
    transcription_txt,
)
from graves_data.synth._pen import Word, chars_per_line, layout_line, sample_line
from graves_data.synth._plan import EPOCH, FormPlan, WriterPlan
from graves_data.synth.english import SentenceComposer, wrap

_PUNCTUATION = frozenset(".,;:!?\"'()")
_QUOTES = frozenset("\"'")
STRUCK_RATE = 0.03  # share of lines with a word struck out (transcribed '#')


@dataclass
class FormFiles:
    """A drawn form: its files' bytes and what SYNTH.json says about it and its lines."""

    strokes: list[tuple[str, bytes]]  # (line id, stroke XML)
    transcription: bytes
    original: bytes | None
    record: dict[str, Any]
    lines: dict[str, dict[str, Any]] = field(default_factory=dict)


def draw_form(form: FormPlan, writer: WriterPlan) -> FormFiles:
    """Draw the form as its writer would, with the plan's quirks and damage."""
    rng = np.random.default_rng(form.seed)
    written, struck = _compose(form, writer, rng)
    transcript = [
        " ".join("#" if s else w for w, s in zip(words, marks, strict=True))
        for words, marks in zip(written, struck, strict=True)
    ]
    inks, end = _ink(form, writer, written, struck, rng)
    strokes: list[tuple[str, bytes]] = []
    lines: dict[str, dict[str, Any]] = {}
    for n, (ink, kinds, text) in enumerate(zip(inks, form.line_defects, transcript, strict=True)):
        damaged, records = damage(ink, kinds, rng) if kinds else (ink, {})
        inks[n] = damaged
        line_id = f"{form.form_id}-{n + 1:02d}"
        strokes.append((line_id, line_xml(damaged)))
        lines[line_id] = {
            "text": tokenise(text, form.tokenise),
            "points": damaged.n_points,
            "strokes": damaged.n_strokes,
            "defects": records,
        }
    csr = [line["text"] for line in lines.values()]
    if form.form_defect == "misaligned_transcription":
        csr = [*csr[:-2], f"{csr[-2]} {csr[-1]}"]
    elif form.form_defect == "placeholder_transcription":
        csr = [PLACEHOLDER]
    ocr = _ocr([" ".join(words) for words in written], rng) if form.ocr else []
    quirks = _quirk_names(form, transcript)
    original = _original(form, writer, transcript, inks, end, rng) if form.has_original else None
    record = {
        "writer": writer.writer_id,
        "writer_id": writer.writer_id if form.has_original and form.general else None,
        "list": form.list_name,
        "lines": form.n_lines,
        "csr_lines": len(csr),
        "points": sum(ink.n_points for ink in inks),
        "stroke_xml_bytes": sum(len(data) for _, data in strokes),
        "original": original is not None,
        "xml_form_id": form.xml_form_id if original is not None and form.general else None,
        "quirks": quirks,
        "defects": [form.form_defect] if form.form_defect else [],
    }
    typed = transcription_txt(ocr, csr, form.crlf, form.trailing)
    return FormFiles(strokes, typed, original, record, lines)


def _compose(
    form: FormPlan, writer: WriterPlan, rng: np.random.Generator
) -> tuple[list[list[str]], list[list[bool]]]:
    """The words of each line, and which of them the writer struck out."""
    composer = SentenceComposer(int(rng.integers(0, 2**62)))
    width = chars_per_line(writer.style, float(rng.uniform(4900.0, 6100.0)))
    texts = composer.lines(form.n_lines, width)
    if texts and rng.random() < 0.6:  # the passage ends part-way along the last line
        words = texts[-1].split()
        texts[-1] = " ".join(words[: int(rng.integers(1, len(words) + 1))])
    written = [t.split() for t in texts]
    struck = [[False] * len(words) for words in written]
    for words, marks in zip(written, struck, strict=True):
        candidates = [i for i, w in enumerate(words) if w.isalpha() and len(w) >= 3]
        if len(words) > 1 and candidates and rng.random() < STRUCK_RATE:
            marks[candidates[int(rng.integers(len(candidates)))]] = True
    return written, struck


def _ink(
    form: FormPlan,
    writer: WriterPlan,
    written: list[list[str]],
    struck: list[list[bool]],
    rng: np.random.Generator,
) -> tuple[list[LineInk], float]:
    """Each line written below the last on the board, one after another on the session clock.

    On some forms the pen's clock slows down line by line (0.01/0.02 s steps becoming
    0.03/0.04 s), as on some of the release's sessions.
    """
    style = writer.style
    periods = np.full(form.n_lines, style.period)
    if form.n_lines > 1 and rng.random() < 0.15:
        periods = np.linspace(style.period, float(rng.uniform(0.03, 0.037)), form.n_lines)
    baseline = float(rng.uniform(600.0, 1400.0)) + style.cap_height
    clock = form.start
    inks = []
    for n, (words, marks) in enumerate(zip(written, struck, strict=True)):
        x0 = style.margin + float(rng.normal(0.0, 40.0))
        line = [Word(w, s) for w, s in zip(words, marks, strict=True)]
        paths, owners = layout_line(line, style, x0, baseline, rng)
        trace, clock = sample_line(paths, owners, style, clock, float(periods[n]), rng)
        inks.append(
            LineInk(trace.x, trace.y, trace.t, trace.ends, stroke_times(trace.t, trace.ends))
        )
        baseline += style.line_spacing * float(rng.uniform(0.95, 1.08))
        clock += float(rng.uniform(1.0, 4.0))
    return inks, clock


def tokenise(text: str, mode: str) -> str:
    """A CSR line as the release's transcribers typed it on some forms: punctuation split off
    (`full`: `Mr . Gaitskell`, `tomorrow .`), or only quotes and apostrophes (`quotes`:
    `Foot ' s`, `" Abolish Lords "`). Decimal points and thousands commas stay in numbers."""
    if mode == "none":
        return text
    marks = _PUNCTUATION if mode == "full" else _QUOTES
    out: list[str] = []
    for i, char in enumerate(text):
        inside_number = (
            char in ".,"
            and 0 < i < len(text) - 1
            and text[i - 1].isdigit()
            and text[i + 1].isdigit()
        )
        out.append(f" {char} " if char in marks and not inside_number else char)
    return " ".join("".join(out).split())


def _ocr(source: list[str], rng: np.random.Generator) -> list[str]:
    """The typed source passage of the form: the same words, tokenised, in longer lines."""
    text = tokenise(" ".join(source), "full")
    return wrap(text, 52, random.Random(int(rng.integers(0, 2**62))))


def _quirk_names(form: FormPlan, transcript: list[str]) -> list[str]:
    """The quirks this form's files show (only those that can be seen in them)."""
    names = []
    joined = " ".join(transcript)
    if form.no_original:
        names.append("no_original")
    if form.has_original:
        if not form.general:
            names.append("no_general")
        elif form.xml_form_id != form.form_id:
            names.append("form_id_mismatch")
        if form.general and form.double_escape and any(q in joined for q in "\"'"):
            names.append("double_escaped_quotes")
        if form.utf8:
            names.append("utf8_declaration")
    names.append("crlf" if form.crlf else "lf")
    if form.trailing:
        names.append("trailing_spaces")
    if form.ocr:
        names.append("ocr_text")
    if form.tokenise != "none" and tokenise(joined, form.tokenise) != joined:
        names.append(f"tokenised_{form.tokenise}")
    if "#" in joined.split():
        names.append("unreadable_word")
    if form.unlisted:
        names.append("not_in_list")
    return names


def _original(
    form: FormPlan,
    writer: WriterPlan,
    transcript: list[str],
    inks: list[LineInk],
    end: float,
    rng: np.random.Generator,
) -> bytes:
    """The form's original XML, as the capture software saved it."""
    save = round((end + float(rng.uniform(5.0, 40.0))) * 100)
    wall = dt.datetime(*EPOCH) + dt.timedelta(
        days=writer.day, hours=writer.hour, seconds=save / 100 - writer.clock
    )
    header = OriginalHeader(
        encoding="UTF-8" if form.utf8 else "ISO-8859-1",
        general=form.general,
        form_id=form.xml_form_id,
        writer_id=writer.writer_id,
        save_time=save,
        capture_time=f"{wall:%H:%M:%S}.{wall.microsecond // 1000:03d}",
        date=(wall.year, wall.month, wall.day, (wall.weekday() + 1) % 7),
        colour="blue" if not form.general else form.colour,
        lines=None if form.form_defect == "placeholder_transcription" else tuple(transcript),
        double_escape=form.double_escape,
        board=BOARD if form.general else _calibration(rng),
    )
    total = sum(ink.n_strokes for ink in inks)
    return original_xml(header, inks, rng.integers(1, 3, size=total).astype(np.int64))


def _calibration(rng: np.random.Generator) -> tuple[int, int, int, int, int, int]:
    """Whiteboard corners of a session calibrated by hand (files without General)."""
    x_right = int(rng.integers(6700, 6900))
    y_bottom = int(rng.integers(8700, 9300))
    x_left = int(rng.integers(150, 260))
    return (
        x_right,
        y_bottom,
        x_left,
        y_bottom - int(rng.integers(0, 60)),
        x_right + int(rng.integers(0, 80)),
        int(rng.integers(180, 300)),
    )
