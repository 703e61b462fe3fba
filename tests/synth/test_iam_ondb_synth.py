"""The generated IAM-OnDB corpus against the release's layout and bytes, and against SYNTH.json.

Every file is read back with lxml or plain byte checks, never with the generator's own code, so
these tests see what a reader of the release would see. Where the real sample is present
(../shared/data/iam-ondb-sample), the same byte grammar is checked on it too, which is what
keeps that grammar honest.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lxml import etree

from graves_data.errors import OutputExists, UsageError
from graves_data.synth._plan import plan_corpus
from graves_data.synth.iam_ondb import IamSynthParams, synth_iam_ondb
from tests.conftest import shared_sample

LISTS = ("trainset", "testset_v", "testset_t", "testset_f")
RELEASE = {"trainset": 5364, "testset_v": 1438, "testset_t": 1518, "testset_f": 3859}
FORM_ID = re.compile(r"^[a-z][0-9]{2}-[0-9]{3}[a-z]?$")
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)

# The stroke-file grammar, line by line: (pattern, line end). Point lines end in CRLF,
# every other line in LF, indentation as in the release.
STROKE_HEAD = [
    rb'<\?xml version="1\.0" encoding="ISO-8859-1"\?>',
    rb"<WhiteboardCaptureSession>",
    rb"  <WhiteboardDescription>",
    rb'    <SensorLocation corner="top_left"/>',
    rb'    <DiagonallyOppositeCoords x="\d+" y="\d+"/>',
    rb'    <VerticallyOppositeCoords x="\d+" y="\d+"/>',
    rb'    <HorizontallyOppositeCoords x="\d+" y="\d+"/>',
    rb"  </WhiteboardDescription>",
    rb"  <StrokeSet>",
]
STROKE_OPEN = re.compile(
    rb'    <Stroke colour="black" start_time="\d+\.\d\d" end_time="\d+\.\d\d">'
)
POINT = re.compile(rb'      <Point x="\d+" y="\d+" time="\d+\.\d\d"/>')
STROKE_TAIL = [rb"  </StrokeSet>", rb"</WhiteboardCaptureSession>"]


@dataclass
class Corpus:
    root: Path
    synth: dict[str, Any]

    def stroke_files(self) -> list[Path]:
        return sorted((self.root / "lineStrokes").rglob("*.xml"))

    def line_path(self, line_id: str) -> Path:
        return self.root / "lineStrokes" / line_id[:3] / line_id[:7] / f"{line_id}.xml"

    def ascii_path(self, form_id: str) -> Path:
        return self.root / "ascii" / form_id[:3] / form_id[:7] / f"{form_id}.txt"

    def original_path(self, form_id: str) -> Path:
        return self.root / "original" / form_id[:3] / form_id[:7] / f"strokes{form_id[7:]}.xml"


def _make(root: Path, **kwargs: Any) -> Corpus:
    synth = synth_iam_ondb(root, IamSynthParams(**kwargs), progress=False)
    return Corpus(root, synth)


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """A corpus with every kind of damage (about 5% of lines per kind)."""
    return _make(tmp_path_factory.mktemp("damaged"), lines=400, writers=20, seed=3, defects=0.05)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The release's quirks only, no injected damage."""
    return _make(tmp_path_factory.mktemp("clean"), lines=300, writers=16, seed=11)


# -- reading the files back, independently of the generator ---------------------------------


@dataclass
class Line:
    strokes: list[np.ndarray]  # (n, 3) int: x, y, time in centiseconds
    stroke_times: list[tuple[int, int]]
    description: dict[str, tuple[int, int]]


def _centis(text: str) -> int:
    whole, frac = text.split(".")
    if len(frac) != 2:
        raise AssertionError(f"time {text!r} does not have two decimals")
    return int(whole) * 100 + int(frac)


def read_line(path: Path) -> Line:
    root = etree.parse(str(path), PARSER).getroot()
    description = {
        el.tag: (int(el.get("x")), int(el.get("y")))
        for el in root.find("WhiteboardDescription")
        if el.get("x") is not None
    }
    strokes, times = [], []
    for stroke in root.find("StrokeSet"):
        rows = [
            (int(p.get("x")), int(p.get("y")), _centis(p.get("time"))) for p in stroke.iter("Point")
        ]
        strokes.append(np.array(rows, np.int64).reshape(-1, 3))
        times.append((_centis(stroke.get("start_time")), _centis(stroke.get("end_time"))))
    return Line(strokes, times, description)


def read_csr(path: Path) -> tuple[list[str], list[str], bytes]:
    """(OCR lines, CSR lines, raw bytes) of a transcription, trailing spaces stripped."""
    raw = path.read_bytes()
    text = raw.decode("iso-8859-1").replace("\r\n", "\n")
    head, _, csr = text.partition("CSR:")
    ocr = [ln.rstrip() for ln in head.removeprefix("OCR:").splitlines() if ln.strip()]
    lines = [ln.rstrip(" ") for ln in csr.splitlines()[1:] if ln.strip()]
    return ocr, lines, raw


def list_ids(root: Path, name: str) -> list[str]:
    return [line[1:] for line in (root / f"{name}.txt").read_text("ascii").splitlines()]


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _check_stroke_grammar(data: bytes) -> None:
    lines = data.split(b"\n")
    if lines[-1] != b"":
        raise AssertionError("file does not end with a line end")
    lines = lines[:-1]
    head, tail = lines[: len(STROKE_HEAD)], lines[-len(STROKE_TAIL) :]
    for pattern, line in zip(STROKE_HEAD + STROKE_TAIL, head + tail, strict=True):
        assert re.fullmatch(pattern, line), line
    inside = False
    for line in lines[len(STROKE_HEAD) : -len(STROKE_TAIL)]:
        if STROKE_OPEN.fullmatch(line):
            assert not inside
            inside = True
        elif line == b"    </Stroke>":
            assert inside
            inside = False
        else:
            assert inside and line.endswith(b"\r") and POINT.fullmatch(line[:-1]), line
    assert not inside


# -- layout and byte format --------------------------------------------------------------------


def test_layout_matches_the_release(damaged: Corpus) -> None:
    root = damaged.root
    assert damaged.line_path("a01-000u-01").is_file(), "the demo's line must always exist"
    forms = damaged.synth["forms"]
    assert next(iter(sorted(forms))) == "a01-000u"
    for form_id, form in forms.items():
        assert FORM_ID.match(form_id), form_id
        folder = root / "lineStrokes" / form_id[:3] / form_id[:7]
        names = sorted(p.name for p in folder.glob(f"{form_id}-*.xml"))
        assert names == [f"{form_id}-{n:02d}.xml" for n in range(1, form["lines"] + 1)]
        assert damaged.ascii_path(form_id).is_file()
        assert damaged.original_path(form_id).is_file() == form["original"]
    assert len(damaged.stroke_files()) == 400 == damaged.synth["totals"]["lines"]
    suffixes = Counter(fid[7:] for fid in forms)
    assert suffixes["z"] > len(forms) / 2 and suffixes[""] > 0, suffixes
    for name in LISTS:
        assert (root / f"{name}.txt").is_file()


def test_stroke_files_have_the_release_bytes(damaged: Corpus) -> None:
    for path in damaged.stroke_files():
        _check_stroke_grammar(path.read_bytes())


def test_the_grammar_fits_the_real_sample() -> None:
    sample = shared_sample("iam-ondb-sample")
    files = sorted((sample / "lineStrokes").rglob("*.xml"))
    assert files
    for path in files:
        _check_stroke_grammar(path.read_bytes())


def _shapes(paths: list[Path]) -> set[tuple[str, tuple[str, ...]]]:
    """Every element path of the files with its attribute names, e.g.
    ('WhiteboardCaptureSession/General/Form', ('id', 'saveTime', 'writerID'))."""
    shapes = set()
    for path in paths:
        tree = etree.parse(str(path), PARSER)
        for element in tree.iter():
            route = tree.getelementpath(element)
            name = "/".join(re.sub(r"\[\d+\]", "", step) for step in route.split("/"))
            shapes.add(
                (
                    f"{tree.getroot().tag}/{name}" if name != "." else name,
                    tuple(sorted(element.keys())),
                )
            )
    return shapes


def test_xml_elements_and_attributes_are_the_releases(damaged: Corpus) -> None:
    sample = shared_sample("iam-ondb-sample")
    for part in ("lineStrokes", "original"):
        real = _shapes(sorted((sample / part).rglob("*.xml")))
        ours = _shapes(sorted((damaged.root / part).rglob("*.xml"))[:60])
        assert ours == real, (part, ours ^ real)


def test_stroke_files_describe_their_extent_and_times(damaged: Corpus) -> None:
    for path in damaged.stroke_files():
        line = read_line(path)
        points = np.concatenate(line.strokes)
        x0, y0 = points[:, :2].min(axis=0)
        x1, y1 = points[:, :2].max(axis=0)
        assert line.description == {
            "DiagonallyOppositeCoords": (x1, y1),
            "VerticallyOppositeCoords": (x0, y1),
            "HorizontallyOppositeCoords": (x1, y0),
        }
        for stroke, (start, end) in zip(line.strokes, line.stroke_times, strict=True):
            if len(stroke):
                assert (start, end) == (stroke[0, 2], stroke[-1, 2])


def test_transcriptions_have_one_csr_line_per_stroke_file(damaged: Corpus) -> None:
    checked = 0
    for form_id, form in damaged.synth["forms"].items():
        ocr, csr, raw = read_csr(damaged.ascii_path(form_id))
        assert raw.startswith(b"OCR:")
        assert len(csr) == form["csr_lines"]
        if not form["defects"]:
            assert len(csr) == form["lines"]
            records = damaged.synth["lines"]
            assert csr == [records[f"{form_id}-{n:02d}"]["text"] for n in range(1, len(csr) + 1)]
            checked += 1
        assert bool(ocr) == ("ocr_text" in form["quirks"])
    assert checked > 40


def test_transcriptions_mix_line_ends_and_spacing_like_the_release(clean: Corpus) -> None:
    styles = Counter()
    for form_id, form in clean.synth["forms"].items():
        raw = clean.ascii_path(form_id).read_bytes()
        crlf = raw.count(b"\r\n")
        assert crlf in (0, raw.count(b"\n")), "a file uses one kind of line end"
        assert ("crlf" in form["quirks"]) == (crlf > 0)
        trailing = raw.splitlines()[0].endswith(b" ")
        assert ("trailing_spaces" in form["quirks"]) == trailing
        styles[(crlf > 0, trailing)] += 1
        raw.decode("iso-8859-1")
    assert len(styles) == 4, styles
    tokenised = [f for f, v in clean.synth["forms"].items() if "tokenised_full" in v["quirks"]]
    quoted = [f for f, v in clean.synth["forms"].items() if "tokenised_quotes" in v["quirks"]]
    assert tokenised and quoted
    full_text = " ".join(read_csr(clean.ascii_path(tokenised[0]))[1])
    assert re.search(r"\w [.,;:!?]", full_text), full_text
    quoted_text = " ".join(read_csr(clean.ascii_path(quoted[0]))[1])
    assert re.search(r"\w ['\"]|['\"] \w", quoted_text), quoted_text


# -- splits ------------------------------------------------------------------------------------


def test_split_lists_are_writer_disjoint_with_release_proportions(damaged: Corpus) -> None:
    root, forms = damaged.root, damaged.synth["forms"]
    seen: dict[str, str] = {}
    writers: dict[str, set[str]] = {}
    lines: dict[str, int] = {}
    for name in LISTS:
        raw = (root / f"{name}.txt").read_bytes()
        for entry in raw.split(b"\n")[:-1]:
            assert entry.startswith(b" ") and FORM_ID.match(entry[1:].decode()), entry
        ids = list_ids(root, name)
        for form_id in ids:
            assert form_id not in seen, f"{form_id} in {seen.get(form_id)} and {name}"
            seen[form_id] = name
            assert forms[form_id]["list"] == name
        writers[name] = {forms[f]["writer"] for f in ids}
        lines[name] = sum(forms[f]["lines"] for f in ids)
    for a in LISTS:
        for b in LISTS:
            assert a == b or not writers[a] & writers[b], (a, b)
    total = sum(lines.values())
    for name in LISTS:
        share, release = lines[name] / total, RELEASE[name] / sum(RELEASE.values())
        assert abs(share - release) < 0.06, (name, share, release)
    unlisted = set(forms) - set(seen)
    assert unlisted == set(damaged.synth["unlisted"]) and unlisted
    for form_id in unlisted:
        form = forms[form_id]
        assert "not_in_list" in form["quirks"] or "placeholder_transcription" in form["defects"]


def test_writer_ids_in_original_files(damaged: Corpus) -> None:
    writers_seen = set()
    for form_id, form in damaged.synth["forms"].items():
        if not form["original"]:
            continue
        raw = damaged.original_path(form_id).read_bytes()
        root = etree.fromstring(raw, PARSER)
        general = root.find("General")
        if general is None:
            assert form["writer_id"] is None and "no_general" in form["quirks"]
            assert root.find("Transcription") is None
            continue
        element = general.find("Form")
        assert element.get("writerID") == form["writer_id"] == form["writer"]
        assert element.get("id") == form["xml_form_id"]
        assert (element.get("id") != form_id) == ("form_id_mismatch" in form["quirks"])
        writers_seen.add(form["writer"])
    assert len(writers_seen) >= 15


def test_original_xml_holds_the_lines_strokes(damaged: Corpus) -> None:
    for form_id, form in list(damaged.synth["forms"].items())[:25]:
        if not form["original"]:
            continue
        raw = damaged.original_path(form_id).read_bytes()
        assert b"\r" not in raw
        root = etree.fromstring(raw, PARSER)
        original = [
            (int(p.get("x")), int(p.get("y")), _centis(p.get("time"))) for p in root.iter("Point")
        ]
        lines = [
            read_line(damaged.line_path(f"{form_id}-{n:02d}")) for n in range(1, form["lines"] + 1)
        ]
        joined = np.concatenate([s for line in lines for s in line.strokes])
        assert np.array_equal(np.array(original), joined)
        transcription = root.find("Transcription")
        if transcription is not None:
            text_lines = transcription.find("Text").text.strip("\n ").split("\n")
            assert len(text_lines) == form["lines"]
            assert [t.get("id") for t in transcription.iter("TextLine")] == [
                f"{form['xml_form_id']}-{n:02d}" for n in range(1, form["lines"] + 1)
            ]


def test_original_quirks_are_present_without_damage(clean: Corpus) -> None:
    forms = clean.synth["forms"]
    quirks = Counter(q for f in forms.values() for q in f["quirks"])
    quirky = ("no_original", "no_general", "form_id_mismatch", "double_escaped_quotes")
    for name in (*quirky, "utf8_declaration"):
        assert quirks[name] >= 1, name
    assert quirks["utf8_declaration"] == 1
    assert quirks["not_in_list"] >= 1 and clean.synth["unlisted"]
    for form_id, form in forms.items():
        assert clean.original_path(form_id).exists() == ("no_original" not in form["quirks"])
        if not form["original"]:
            continue
        raw = clean.original_path(form_id).read_bytes()
        if "double_escaped_quotes" in form["quirks"]:
            assert b"&amp;quot;" in raw or b"&amp;apos;" in raw
            root = etree.fromstring(raw, PARSER)
            assert (
                "&quot;"
                in root.find("Transcription/Text").text
                + "".join(t.get("text") for t in root.iter("TextLine"))
                or "&apos;" in root.find("Transcription/Text").text
            )
        if "utf8_declaration" in form["quirks"]:
            assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
            etree.fromstring(raw, PARSER)
        else:
            assert raw.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>\n')


def test_no_damage_without_defects(clean: Corpus) -> None:
    assert all(not line["defects"] for line in clean.synth["lines"].values())
    assert all(not form["defects"] for form in clean.synth["forms"].values())
    for path in clean.stroke_files():
        line = read_line(path)
        assert all(len(s) for s in line.strokes), path
        points = np.concatenate(line.strokes)
        assert (points[:, 2] > 0).all(), path
        for stroke in line.strokes:
            repeats = (np.diff(stroke, axis=0) == 0).all(axis=1)
            assert not repeats.any(), path
            steps = np.hypot(*np.diff(stroke[:, :2], axis=0).T)
            assert steps.max(initial=0) < 400, path


# -- SYNTH.json agrees with the files ----------------------------------------------------------


def _median_step(line: Line) -> float:
    steps = np.concatenate([np.diff(s[:, 2]) for s in line.strokes if len(s) > 1])
    return float(np.median(steps[steps > 0]))


def test_recorded_line_damage_is_in_the_files(damaged: Corpus) -> None:
    counts = damaged.synth["defect_counts"]["lines"]
    assert all(counts[k] >= 1 for k in counts), counts
    for line_id, record in damaged.synth["lines"].items():
        line = read_line(damaged.line_path(line_id))
        defects = record["defects"]
        assert record["points"] == sum(len(s) for s in line.strokes)
        assert record["strokes"] == len(line.strokes)
        empty = [i for i, s in enumerate(line.strokes) if not len(s)]
        assert empty == defects.get("empty_strokes", [])
        zeros = {(s, i) for s, st in enumerate(line.strokes) for i in np.nonzero(st[:, 2] == 0)[0]}
        expected = {
            (z["stroke"], z["point"] + k)
            for z in defects.get("zero_times", [])
            for k in range(z["count"])
        }
        assert zeros == expected
        for gap in defects.get("dropped", []):
            stroke = line.strokes[gap["stroke"]]
            jump = stroke[gap["after"] + 1, 2] - stroke[gap["after"], 2]
            assert jump >= 3 * _median_step(line), (line_id, gap)
        for spike in defects.get("spikes", []):
            stroke = line.strokes[spike["stroke"]]
            i, c = spike["point"], spike["count"]
            assert i >= 1 and i + c < len(stroke)
            assert np.hypot(*(stroke[i, :2] - stroke[i - 1, :2])) > 1000
            assert np.hypot(*(stroke[i + c - 1, :2] - stroke[i + c, :2])) > 1000
        for dup in defects.get("duplicates", []):
            stroke = line.strokes[dup["stroke"]]
            assert (stroke[dup["point"]] == stroke[dup["point"] - 1]).all()
        repeats = sum(
            int((np.diff(s, axis=0) == 0).all(axis=1).sum()) for s in line.strokes if len(s) > 1
        )
        assert repeats == len(defects.get("duplicates", []))


def test_recorded_form_damage_is_in_the_files(damaged: Corpus) -> None:
    forms = damaged.synth["forms"]
    counts = damaged.synth["defect_counts"]["forms"]
    assert all(counts[k] >= 1 for k in counts), counts
    listed = {f for name in LISTS for f in list_ids(damaged.root, name)}
    for form_id, form in forms.items():
        _, csr, _ = read_csr(damaged.ascii_path(form_id))
        if "misaligned_transcription" in form["defects"]:
            assert len(csr) == form["lines"] - 1
        elif "placeholder_transcription" in form["defects"]:
            assert csr == ["Please Enter Transcription here"]
            assert form_id not in listed
        else:
            assert len(csr) == form["lines"]
        absent = "missing_original" in form["defects"] or "no_original" in form["quirks"]
        assert damaged.original_path(form_id).exists() != absent
        assert form["original"] != absent
    assert not forms["a01-000u"]["defects"]


# -- determinism, archives, sizes, refusal -------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path, clean: Corpus) -> None:
    again = _make(tmp_path / "again", lines=300, writers=16, seed=11)
    assert tree_digest(again.root) == tree_digest(clean.root)
    other = _make(tmp_path / "other", lines=300, writers=16, seed=12)
    a, b = tree_digest(other.root), tree_digest(clean.root)
    assert a != b
    demo = "lineStrokes/a01/a01-000/a01-000u-01.xml"
    assert a[demo] != b[demo]


def _tar_members(path: Path) -> Iterator[tuple[tarfile.TarInfo, bytes | None]]:
    with tarfile.open(path, "r:gz") as archive:
        for info in archive:
            handle = archive.extractfile(info) if info.isfile() else None
            yield info, handle.read() if handle else None


def test_archives_hold_the_folders_bytes(tmp_path: Path, damaged: Corpus) -> None:
    packed = _make(tmp_path / "packed", lines=400, writers=20, seed=3, defects=0.05, archives=True)
    names = {"lineStrokes": "lineStrokes-all.tar.gz", "ascii": "ascii-all.tar.gz",
             "original": "original-xml-all.tar.gz"}  # fmt: skip
    assert sorted(p.name for p in packed.root.iterdir()) == sorted(
        [*names.values(), *(f"{n}.txt" for n in LISTS), "SYNTH.json"]
    )
    for part, archive in names.items():
        raw = (packed.root / archive).read_bytes()
        assert raw[4:8] == b"\0\0\0\0", "gzip header time must be 0"
        files = {}
        for info, data in _tar_members(packed.root / archive):
            assert info.mtime == 1118620800 and info.uid == 0 and info.gid == 0
            assert info.name == part or info.name.startswith(f"{part}/")
            if data is not None:
                files[info.name] = data
        folder = {
            str(p.relative_to(damaged.root)): p.read_bytes()
            for p in (damaged.root / part).rglob("*")
            if p.is_file()
        }
        assert files == folder
    for name in LISTS:
        packed_list = (packed.root / f"{name}.txt").read_bytes()
        assert packed_list == (damaged.root / f"{name}.txt").read_bytes()
    assert packed.synth["forms"] == damaged.synth["forms"]
    assert packed.synth["lines"] == damaged.synth["lines"]
    again = _make(tmp_path / "again", lines=400, writers=20, seed=3, defects=0.05, archives=True)
    assert tree_digest(again.root) == tree_digest(packed.root)


def test_sizes_are_release_like(damaged: Corpus) -> None:
    totals = damaged.synth["totals"]
    per_line = totals["points"] / totals["lines"]
    assert 480 < per_line < 800, per_line  # the release: 7.66 M / 12,195 = 628
    per_point = totals["stroke_xml_bytes"] / totals["points"]
    assert 48 < per_point < 66, per_point  # the release: 445 MB / 7.66 M = 58
    widths, heights, steps = [], [], []
    for path in damaged.stroke_files()[::7]:
        line = read_line(path)
        points = np.concatenate(line.strokes)
        widths.append(np.ptp(points[:, 0]))
        heights.append(np.ptp(points[:, 1]))
        steps.append(_median_step(line))
    assert 3500 < np.median(widths) < 7000
    assert 250 < np.median(heights) < 900
    assert 1 <= np.median(steps) <= 4  # 0.01 - 0.04 s between readings


def test_full_size_plan_is_the_releases_shape() -> None:
    """The plan alone (no ink) of a full-size corpus: 221 writers, the lists' line counts."""
    plan = plan_corpus(12195, None, seed=0, rate=0.0)
    assert len(plan.writers) == 221
    assert sum(f.n_lines for f in plan.forms) == 12195
    assert 1650 < len(plan.forms) < 1850  # the release: about 1,750 forms
    for name, release in RELEASE.items():
        lines = sum(f.n_lines for f in plan.forms if f.list_name == name)
        assert abs(lines - release) < 0.03 * release, (name, lines, release)
    assert plan.forms[0].form_id == "a01-000u"


def test_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputExists):
        synth_iam_ondb(tmp_path, IamSynthParams(lines=20, writers=2), progress=False)
    synth_iam_ondb(tmp_path, IamSynthParams(lines=20, writers=2), progress=False, overwrite=True)
    assert (tmp_path / "lineStrokes").is_dir() and (tmp_path / "notes.txt").read_text() == "mine"
    params = IamSynthParams(lines=20, writers=2, archives=True)
    synth_iam_ondb(tmp_path, params, progress=False, overwrite=True)
    assert not (tmp_path / "lineStrokes").exists(), "the other layout's folders are replaced"
    assert (tmp_path / "lineStrokes-all.tar.gz").is_file()
    assert json.loads((tmp_path / "SYNTH.json").read_text())["layout"] == "archives"


@pytest.mark.parametrize(
    "params",
    [
        IamSynthParams(lines=0),
        IamSynthParams(lines=10, writers=0),
        IamSynthParams(lines=10, defects=1.5),
        IamSynthParams(lines=14, writers=30),
    ],
)
def test_impossible_parameters_are_user_errors(tmp_path: Path, params: IamSynthParams) -> None:
    with pytest.raises(UsageError):
        synth_iam_ondb(tmp_path / "out", params, progress=False)
    assert not (tmp_path / "out").exists()


def test_tiny_corpus_still_has_the_demo_line(tmp_path: Path) -> None:
    corpus = _make(tmp_path, lines=3, defects=1.0)
    assert corpus.line_path("a01-000u-01").is_file()
    assert list(corpus.synth["forms"]) == ["a01-000u"]
    assert corpus.synth["forms"]["a01-000u"]["list"] in LISTS


def test_gzip_and_tar_are_standard(tmp_path: Path) -> None:
    corpus = _make(tmp_path, lines=12, writers=2, archives=True)
    raw = (corpus.root / "ascii-all.tar.gz").read_bytes()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(raw))) as archive:
        members = archive.getnames()
    assert members[0] == "ascii" and any(m.endswith(".txt") for m in members)
