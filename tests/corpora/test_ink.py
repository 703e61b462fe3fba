"""The ink corpus: InkML read and written, a folder built into an IAM-OnDB-schema dataset, and
any handwriting dataset exported as InkML and built back to the same points."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from graves_data.cli import main
from graves_data.corpora import CORPORA
from graves_data.corpora.ink import InkParams, build, parse_inkml, write_inkml
from graves_data.errors import BadInput, InputNotFound, UsageError
from graves_data.pipelines.runner import Execution
from graves_data.schema import HANDWRITING
from graves_data.shards import open_dataset
from graves_data.verify import verify
from graves_data.vocab import build_vocab

QUIET = Execution(workers=1, progress=False)
NS = 'xmlns="http://www.w3.org/2003/InkML"'
FORMAT = (
    '<traceFormat><channel name="X"/><channel name="Y"/><channel name="T" units="s"/></traceFormat>'
)


def inkml(body: str, text: str = "hi", fmt: str = FORMAT) -> bytes:
    return f'<ink {NS}>{fmt}<annotation type="truth">{text}</annotation>{body}</ink>'.encode()


def test_written_inkml_reads_back() -> None:
    strokes = [[[1, 2, 0.5, 0.25], [3, 5, 0.51, 0.5]], [[-7, 9, 0.75, 1.0]]]
    data = write_inkml(strokes, "a < b & c", "w 1")
    line = parse_inkml(data, "x.inkml")
    assert line.text == "a < b & c" and line.writer == "w 1"
    assert [s.tolist() for s in line.strokes] == strokes


def test_channel_order_comes_from_the_trace_format() -> None:
    fmt = (
        '<definitions><context><traceFormat><channel name="T"/><channel name="F"/>'
        '<channel name="X"/><channel name="Y"/></traceFormat></context></definitions>'
    )
    line = parse_inkml(
        inkml("<traceGroup><trace>1.5 0.2 10 20, 1.6 0.3 11 22</trace></traceGroup>", fmt=fmt), "x"
    )
    assert line.strokes[0].tolist() == [[10, 20, 1.5, 0.2], [11, 22, 1.6, 0.3]]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty-file"),
        (b"<ink", "xml-syntax"),
        (b"<other/>", "wrong-root"),
        (inkml("<trace>1 2 3</trace>", fmt=""), "trace-format"),
        (
            inkml(
                "<trace>1 2 3</trace>",
                fmt='<traceFormat><channel name="X"/><channel name="Y"/></traceFormat>',
            ),
            "channels",
        ),
        (inkml("<trace>1 2 3</trace>", text=" "), "no-text"),
        (inkml(""), "no-traces"),
        (inkml("<trace> </trace>"), "empty-trace"),
        (inkml("<trace>1 2 3, 2 '1 '1</trace>"), "trace-encoding"),
        (inkml("<trace>1 2 3, 4 5</trace>"), "point-values"),
        (inkml("<trace>1 2 x</trace>"), "non-numeric"),
        (inkml("<trace>1 2 inf</trace>"), "non-finite"),
        (
            inkml("<trace>1 2 3</trace>", fmt=FORMAT.replace('units="s"', 'units="ms"')),
            "time-units",
        ),
        (b'<!DOCTYPE ink [<!ENTITY e "x">]><ink>&e;</ink>', "xml-dtd"),
    ],
)
def test_bad_inkml_refused_with_reason(data: bytes, code: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_inkml(data, "bad.inkml")
    assert caught.value.code == code
    assert caught.value.source == "bad.inkml"


def write_folder(folder: Path, lines: int, seed: int = 0) -> dict[str, list[list[list[float]]]]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for i in range(lines):
        strokes = []
        t = 1.0
        for _ in range(int(rng.integers(1, 4))):
            n = int(rng.integers(2, 30))
            xy = np.cumsum(rng.integers(-20, 21, size=(n, 2)), axis=0) + 500
            stroke = []
            for x, y in xy:
                t += 0.01
                stroke.append([float(x), float(y), round(t, 6)])
            strokes.append(stroke)
            t += 0.2
        written[f"line-{i:03d}"] = strokes
        text = "ab cd"[: 1 + i % 5]
        (folder / f"line-{i:03d}.inkml").write_bytes(write_inkml(strokes, text, f"w{i % 3}"))
    return written


def test_build_gives_the_iam_schema_and_the_same_points(tmp_path: Path) -> None:
    written = write_folder(tmp_path / "raw", 23)
    (tmp_path / "raw" / "broken.inkml").write_bytes(b"<ink")
    (tmp_path / "raw" / "notes.txt").write_text("not ink")
    manifest = build(str(tmp_path / "raw"), str(tmp_path / "ds"), InkParams(), execution=QUIET)
    assert manifest["corpus"] == "ink" and manifest["kind"] == "handwriting"
    assert {s: v["rows"] for s, v in manifest["splits"].items()} == {"train": 21, "valid": 2}
    assert [(q["source"], q["code"]) for q in manifest["quarantine"]] == [
        ("broken.inkml", "xml-syntax")
    ]
    dataset = open_dataset(tmp_path / "ds")
    assert verify(str(tmp_path / "ds")).ok
    valid_ids = [r["line_id"] for r in dataset.table("valid").to_pylist()]
    # every 10th file in line-id order (broken.inkml, quarantined in train, counts too)
    assert valid_ids == ["line-008", "line-018"]
    for split in dataset.splits:
        table = dataset.table(split)
        assert table.schema.remove_metadata() == HANDWRITING
        for row in table.to_pylist():
            strokes = written[row["line_id"]]
            offsets = np.asarray(row["offsets"], dtype=np.float64)
            xy = np.asarray(row["origin"]) + np.cumsum(offsets[:, :2], axis=0)
            points = [p[:2] for s in strokes for p in s]
            np.testing.assert_array_equal(xy, points)
            times = np.asarray([p[2] for s in strokes for p in s])
            np.testing.assert_allclose(row["dt"][1:], np.diff(times), atol=1e-6)
            assert row["n_strokes"] == len(strokes)
            assert row["writer_id"] == f"w{int(row['line_id'][-3:]) % 3}"


def test_same_bytes_for_any_worker_count(tmp_path: Path) -> None:
    write_folder(tmp_path / "raw", 30, seed=3)
    params = InkParams(lines_per_shard=4)
    hashes = []
    for workers in (1, 2):
        out = tmp_path / f"ds{workers}"
        build(str(tmp_path / "raw"), str(out), params, execution=Execution(workers, progress=False))
        digest = hashlib.sha256()
        for path in sorted(out.rglob("*.parquet")):
            digest.update(path.read_bytes())
        digest.update((out / "manifest.json").read_bytes())
        hashes.append(digest.hexdigest())
    assert hashes[0] == hashes[1]


def test_a_given_vocabulary_is_used(tmp_path: Path) -> None:
    write_folder(tmp_path / "raw", 5)
    vocab = build_vocab(dict.fromkeys(" abcd", 1), reserved=())
    (tmp_path / "vocab.json").write_bytes(vocab.to_bytes())
    (tmp_path / "raw" / "z.inkml").write_bytes(write_inkml([[[0, 0, 1.0], [1, 1, 1.1]]], "xyz"))
    manifest = build(
        str(tmp_path / "raw"), str(tmp_path / "ds"), InkParams(vocab=str(tmp_path / "vocab.json")),
        execution=QUIET,
    )  # fmt: skip
    codes = [(q["source"], q["code"]) for q in manifest["quarantine"]]
    assert codes == [("z.inkml", "out-of-vocabulary")]
    written = json.loads((tmp_path / "ds" / "vocab.json").read_text())
    assert [s["symbol"] for s in written["symbols"]] == list(" abcd")


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound):
        build(str(tmp_path / "nothing"), str(tmp_path / "ds"), execution=QUIET)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputNotFound):
        build(str(tmp_path / "empty"), str(tmp_path / "ds"), execution=QUIET)


def test_registered_for_build() -> None:
    assert CORPORA["ink"].build is build


def test_export_then_build_gives_the_same_lines(tmp_path: Path) -> None:
    """An IAM-OnDB build (generated corpus) exported as InkML and built as ink: same points,
    texts and writers; times to the microsecond."""
    from graves_data.corpora.iam_ondb import IamParams
    from graves_data.corpora.iam_ondb import build as build_iam
    from graves_data.synth.iam_ondb import IamSynthParams, synth_iam_ondb

    synth_iam_ondb(tmp_path / "raw", IamSynthParams(lines=24), progress=False)
    build_iam(str(tmp_path / "raw"), str(tmp_path / "iam"), IamParams(), execution=QUIET)
    result = CliRunner().invoke(
        main, ["export", "inkml", str(tmp_path / "iam"), "--out", str(tmp_path / "ink")]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 24 InkML files" in result.output
    result = CliRunner().invoke(
        main, ["build", "ink", "--raw", str(tmp_path / "ink"), "--out", str(tmp_path / "back"),
               "--workers", "1", "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output

    def rows(path: Path) -> dict[str, dict[str, object]]:
        dataset = open_dataset(path)
        return {r["line_id"]: r for s in dataset.splits for r in dataset.table(s).to_pylist()}

    before, after = rows(tmp_path / "iam"), rows(tmp_path / "back")
    assert set(before) == set(after)
    for line_id, row in before.items():
        other = after[line_id]
        for column in ("offsets", "origin", "text", "writer_id", "n_points", "n_strokes"):
            assert row[column] == other[column], (line_id, column)
        np.testing.assert_allclose(row["dt"], other["dt"], atol=1e-5)  # type: ignore[arg-type]


def test_export_refuses_a_text_dataset(tmp_path: Path) -> None:
    from graves_data.synth.learnable import write_text_dataset

    write_text_dataset(tmp_path / "text")
    result = CliRunner().invoke(
        main, ["export", "inkml", str(tmp_path / "text"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code != 0 and "text dataset" in result.output


def test_params_are_checked_on_construction() -> None:
    with pytest.raises(UsageError, match=r"^--scale must be > 0, got 0"):
        InkParams(scale=0.0)
    with pytest.raises(UsageError, match=r"^--valid-every must be >= 0, got -1"):
        InkParams(valid_every=-1)
    with pytest.raises(UsageError, match=r"^--gap-factor must be a finite number"):
        InkParams(gap_factor=math.nan)


def test_on_bad_input_error_stops_at_the_file(tmp_path: Path) -> None:
    write_folder(tmp_path / "raw", 4)
    (tmp_path / "raw" / "broken.inkml").write_bytes(b"<ink")
    with pytest.raises(BadInput) as caught:
        build(str(tmp_path / "raw"), str(tmp_path / "ds"), on_bad_input="error", execution=QUIET)
    assert (caught.value.source, caught.value.code) == ("broken.inkml", "xml-syntax")
    assert not (tmp_path / "ds" / "manifest.json").exists()


def test_a_unit_is_made_from_the_bytes_the_runner_read(tmp_path: Path) -> None:
    """process_unit reads no file: its rows come from the bytes it is handed (here, of files
    that are not on any disk), and a damaged one goes to the policy it is given."""
    from graves_data.corpora.ink.build import LineFile, Payload, process_unit
    from graves_data.pipelines.runner import BadInputPolicy, Unit, UnitContext, UnitInput

    strokes = [[[0, 0, 2.0], [3, 4, 2.01], [6, 8, 2.02]]]
    files = (LineFile("a", "nowhere/a.inkml", 0, 0), LineFile("b", "nowhere/b.inkml", 0, 0))
    unit = Unit("train-00000", "train", "data/train.parquet", (), Payload(files),
                reads=tuple(f.path for f in files))  # fmt: skip
    inputs = UnitInput({"nowhere/a.inkml": write_inkml(strokes, "ab"), "nowhere/b.inkml": b""})
    params = InkParams()
    ctx = UnitContext(str(tmp_path / "raw"), str(tmp_path / "out"), "ink", params, HANDWRITING,
                      build_vocab({"a": 1, "b": 1}), "skip")  # fmt: skip
    bad = BadInputPolicy("skip")
    rows = process_unit(unit, inputs, ctx, bad)
    assert rows.table.column("line_id").to_pylist() == ["a"]
    assert rows.table.column("offsets").to_pylist()[0] == [[0, 0, 0], [3, 4, 0], [3, 4, 1]]
    assert [(q.source, q.code) for q in bad.quarantine] == [("nowhere/b.inkml", "empty-file")]
    assert rows.totals["points"] == 3 and not (tmp_path / "out").exists()
