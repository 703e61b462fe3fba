"""IAM-OnDB: the readers and the build, on the real sample of the release.

Expected values are read off ../shared/data/iam-ondb-sample by eye (and listed in its README):
which forms are in which list, how many stroke files each has, who wrote them.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from graves_data.corpora.iam_ondb import (
    IamParams,
    build,
    parse_split_list,
    parse_stroke_xml,
    parse_transcription,
    parse_writer,
    writer_split,
)
from graves_data.errors import BadInput, InputNotFound, NotACorpus, OutputExists, UsageError
from graves_data.pipelines.runner import Execution
from graves_data.schema import HANDWRITING, META_PARAMS, META_SCHEMA_VERSION, SCHEMA_VERSION
from graves_data.shards import open_dataset

QUIET = Execution(workers=1, progress=False)
# form -> (list, stroke files, writer) as the sample holds them
FORMS = {
    "a01-000u": ("testset_t", 6, None),  # original XML without General
    "a01-001w": ("trainset", 8, "10026"),  # Form id inside says a01-000z: the path wins
    "a01-004w": ("trainset", 8, "10026"),
    "a01-090z": ("trainset", 6, "10031"),
    "a02-050": ("testset_v", 8, None),  # no original XML
    "c01-013z": ("testset_t", 6, "10028"),
    "d03-100z": ("testset_f", 6, "10123"),
    "e03-137z": ("testset_v", 9, "10029"),
    "h02-037": ("trainset", 5, None),
}


def built(tmp_path: Path, raw: Path, name: str = "ds", **params: object) -> tuple[dict, Path]:
    out = tmp_path / name
    manifest = build(raw, out, IamParams(**params), execution=QUIET)  # type: ignore[arg-type]
    return dict(manifest), out


def lines_of(out: Path, split: str) -> pl.DataFrame:
    return pl.read_parquet(str(out / "data" / f"{split}-*.parquet"))


# ---------------------------------------------------------------------------------------------
# readers


def test_stroke_xml_reads_points_strokes_and_absolute_times(iam_sample: Path) -> None:
    path = iam_sample / "lineStrokes/a01/a01-000/a01-000u-01.xml"
    ink = parse_stroke_xml(path.read_bytes(), "a01-000u-01.xml")
    assert ink.n_strokes == 31 and ink.n_points == 568
    assert (ink.x[0], ink.y[0], ink.x[1]) == (1073, 1058, 1072)
    assert ink.t is not None and ink.t[0] == pytest.approx(769.05)


def test_transcription_takes_csr_lines_in_order(iam_sample: Path) -> None:
    lines = parse_transcription((iam_sample / "ascii/a01/a01-001/a01-001w.txt").read_bytes(), "x")
    assert len(lines) == 8
    assert lines[0] == "By Trevor Williams. A move to"  # trailing space trimmed
    assert lines[-1] == "Griffiths, MP for Manchester Exchange."
    crlf = parse_transcription((iam_sample / "ascii/a01/a01-090/a01-090z.txt").read_bytes(), "x")
    assert crlf[-1] == "28.5 to 23.1 per cent.."


def test_writer_from_original_xml_or_why_not(iam_sample: Path) -> None:
    original = iam_sample / "original"
    assert parse_writer((original / "a01/a01-001/strokesw.xml").read_bytes(), "x") == (
        "10026",
        None,
    )
    writer, why = parse_writer((original / "a01/a01-000/strokesu.xml").read_bytes(), "x")
    assert writer is None and why is not None and "General" in why


def test_split_lists_keep_ids_without_leading_space(iam_sample: Path) -> None:
    ids = parse_split_list((iam_sample / "trainset.txt").read_bytes())
    assert len(ids) == 775 and ids[0] == "a01-020x" and all(i == i.strip() for i in ids)


def session(inner: str) -> bytes:
    stroke = f"<StrokeSet><Stroke>{inner}</Stroke></StrokeSet>"
    return f"<WhiteboardCaptureSession>{stroke}</WhiteboardCaptureSession>".encode()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty-file"),
        (b"<WhiteboardCaptureSession><StrokeSet>", "xml-syntax"),
        (b"<Other/>", "wrong-root"),
        (b"<WhiteboardCaptureSession/>", "no-strokeset"),
        (session('<Point x="1"/>'), "point-attribute"),
        (session('<Point x="a" y="1"/>'), "non-numeric"),
        (session('<Point x="nan" y="1"/>'), "non-numeric"),
        (session('<Point x="1_143" y="1"/>'), "non-numeric"),
        (session('<Point x="1e3" y="1"/>'), "non-numeric"),
        (session('<Point x=" 12" y="1"/>'), "non-numeric"),
        (session('<Point x="1" y="1' + "0" * 400 + '"/>'), "out-of-range"),
    ],
)
def test_damaged_stroke_files_raise_bad_input_with_a_code(data: bytes, code: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_stroke_xml(data, "lineStrokes/x.xml")
    assert caught.value.code == code
    assert "lineStrokes/x.xml" in str(caught.value)


def test_entities_are_never_expanded() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b'<WhiteboardCaptureSession><StrokeSet><Stroke><Point x="1" y="&b;"/></Stroke></StrokeSet>'
        b"</WhiteboardCaptureSession>"
    )
    with pytest.raises(BadInput) as caught:
        parse_stroke_xml(bomb, "bomb.xml")
    assert caught.value.code in ("xml-dtd", "xml-syntax")


# ---------------------------------------------------------------------------------------------
# the build


def test_paper_split_lines_texts_writers_and_quarantine(tmp_path: Path, iam_sample: Path) -> None:
    manifest, out = built(tmp_path, iam_sample)
    train_lists = {"trainset", "testset_t", "testset_f"}
    expected_train = sum(n for lst, n, _ in FORMS.values() if lst in train_lists)
    expected_valid = sum(n for lst, n, _ in FORMS.values() if lst == "testset_v")
    assert manifest["splits"]["train"]["rows"] == expected_train == 45
    assert manifest["splits"]["valid"]["rows"] == expected_valid == 17
    train, valid = lines_of(out, "train"), lines_of(out, "valid")
    assert set(valid["form_id"]) == {"a02-050", "e03-137z"}
    assert set(train["form_id"]) == {f for f, (lst, _, _) in FORMS.items() if lst in train_lists}
    by_id = {row["line_id"]: row for row in pl.concat([train, valid]).iter_rows(named=True)}
    assert by_id["a01-000u-01"]["text"] == "A MOVE to stop Mr . Gaitskell"
    assert by_id["a01-001w-01"]["text"] == "By Trevor Williams. A move to"
    assert by_id["e03-137z-09"]["text"] == "Service."
    for row in by_id.values():
        assert row["writer_id"] == FORMS[row["form_id"]][2]
    quarantined = {(q["source"], q["code"]) for q in manifest["quarantine"]}
    assert ("ascii/a08/a08-551/a08-551z.txt", "transcription-mismatch") in quarantined
    assert ("ascii/z01/z01-000/z01-000z.txt", "placeholder-transcription") in quarantined
    assert not any(r.startswith(("a08-551z", "z01-000z")) for r in by_id)
    reasons = {q["source"]: q["reason"] for q in manifest["quarantine"]}
    assert "9 stroke files but 8" in reasons["ascii/a08/a08-551/a08-551z.txt"]


def test_rows_hold_cleaned_offsets_that_match_the_raw_points(
    tmp_path: Path, iam_sample: Path
) -> None:
    _, out = built(tmp_path, iam_sample)
    row = lines_of(out, "valid").filter(pl.col("line_id") == "a02-050-04").row(0, named=True)
    offsets = np.asarray(row["offsets"], dtype=np.float64)
    raw = parse_stroke_xml(
        (iam_sample / "lineStrokes/a02/a02-050/a02-050-04.xml").read_bytes(), "x"
    )
    assert row["n_interpolated"] == row["n_dropped"] == 0  # this line needs no cleaning
    xy = np.asarray(row["origin"]) + np.cumsum(offsets[:, :2], axis=0)
    np.testing.assert_array_equal(xy[:, 0], raw.x)
    np.testing.assert_array_equal(xy[:, 1], raw.y)
    np.testing.assert_array_equal(np.flatnonzero(offsets[:, 2]) + 1, raw.ends)
    assert row["n_points"] == len(offsets) == 615 and row["n_strokes"] == 23
    vocab = json.loads((out / "vocab.json").read_text())
    symbols = [s["symbol"] for s in vocab["symbols"]]
    assert "".join(symbols[i] for i in row["text_ids"]) == row["text"]


def test_zero_timestamps_of_the_release_are_repaired_and_counted(
    tmp_path: Path, iam_sample: Path
) -> None:
    _, out = built(tmp_path, iam_sample)
    row = lines_of(out, "train").filter(pl.col("line_id") == "h02-037-02").row(0, named=True)
    raw = (iam_sample / "lineStrokes/h02/h02-037/h02-037-02.xml").read_bytes()
    zeros = raw.count(b'time="0.00"')
    assert zeros > 0 and row["n_time_repaired"] >= zeros
    assert min(row["dt"]) >= 0


def test_normalization_is_over_the_training_split(tmp_path: Path, iam_sample: Path) -> None:
    manifest, out = built(tmp_path, iam_sample)
    steps = np.concatenate(
        [
            np.asarray(o, dtype=np.float64)[1:, :2]
            for o in lines_of(out, "train")["offsets"].to_list()
        ]
    )
    norm = manifest["normalization"]
    np.testing.assert_allclose(norm["mean"], steps.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(norm["std"], steps.std(axis=0), rtol=1e-9)
    assert norm["count"] == len(steps)


def test_official_split_has_the_four_lists(tmp_path: Path, iam_sample: Path) -> None:
    manifest, _ = built(tmp_path, iam_sample, split="official")
    assert list(manifest["splits"]) == ["trainset", "testset_v", "testset_t", "testset_f"]
    for name in manifest["splits"]:
        expected = sum(n for lst, n, _ in FORMS.values() if lst == name)
        assert manifest["splits"][name]["rows"] == expected


def test_writers_split_is_disjoint_and_seeded() -> None:
    forms = {f"f{i:03d}": (f"w{i % 20}", 5) for i in range(200)}
    one = writer_split(forms, seed=1, valid_fraction=0.1, test_fraction=0.1)
    assert one == writer_split(forms, seed=1, valid_fraction=0.1, test_fraction=0.1)
    assert one != writer_split(forms, seed=2, valid_fraction=0.1, test_fraction=0.1)
    splits_of_writer: dict[str, set[str]] = {}
    for form, split in one.items():
        splits_of_writer.setdefault(forms[form][0], set()).add(split)
    assert all(len(s) == 1 for s in splits_of_writer.values())
    counts = {s: sum(5 for v in one.values() if v == s) for s in ("train", "valid", "test")}
    assert counts["valid"] == counts["test"] == 100  # 2 writers of 50 lines each, 10%


def test_writers_split_builds_without_lists(tmp_path: Path, iam_sample: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(iam_sample, raw)
    for name in ("trainset", "testset_v", "testset_t", "testset_f"):
        (raw / f"{name}.txt").unlink()
    with pytest.raises(UsageError, match="--split writers"):
        build(raw, tmp_path / "a", IamParams(), execution=QUIET)
    manifest = build(
        raw, tmp_path / "b", IamParams(split="writers", valid_fraction=0.2), execution=QUIET
    )
    assert sum(s["rows"] for s in manifest["splits"].values()) == sum(
        n for _, n, _ in FORMS.values()
    )
    codes = {q["code"] for q in manifest["quarantine"]}
    assert codes == {"transcription-mismatch", "placeholder-transcription"}


def as_archives(raw: Path, archives: Path) -> Path:
    """The release's three archives made from the folders of `raw` (links kept as link
    members), with its split lists beside them."""
    archives.mkdir()
    for part, name in (
        ("lineStrokes", "lineStrokes-all"),
        ("ascii", "ascii-all"),
        ("original", "original-xml-all"),
    ):
        with tarfile.open(archives / f"{name}.tar.gz", "w:gz") as tar:
            tar.add(raw / part, arcname=part)
    for listed in raw.glob("*.txt"):
        shutil.copy(listed, archives)
    return archives


def test_archives_are_read_in_place_and_give_the_same_dataset(
    tmp_path: Path, iam_sample: Path
) -> None:
    archives = as_archives(iam_sample, tmp_path / "archives")
    from_folders, _ = built(tmp_path, iam_sample, "a")
    from_archives, _ = built(tmp_path, archives, "b")
    assert from_archives["content_hash"] == from_folders["content_hash"]
    assert from_archives["quarantine"] == from_folders["quarantine"]
    source_paths = {s["path"] for s in from_archives["sources"]}
    assert {"lineStrokes-all.tar.gz", "ascii-all.tar.gz", "trainset.txt"} <= source_paths
    assert not list(archives.rglob("*.xml")), "nothing extracted next to the archives"


def test_output_is_byte_identical_for_any_worker_count(tmp_path: Path, iam_sample: Path) -> None:
    params = IamParams(forms_per_shard=2)
    one = build(iam_sample, tmp_path / "one", params, execution=QUIET)
    two = build(
        iam_sample, tmp_path / "two", params, execution=Execution(workers=2, progress=False)
    )
    assert one["content_hash"] == two["content_hash"]
    for name in ("manifest.json", "vocab.json", "README.md"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one" / "data").iterdir())
    assert len(files) == 4 + 1  # 7 train forms in groups of 2, 2 valid forms in one
    for rel in files:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes()


def test_the_inventory_with_a_second_worker_is_the_serial_one(
    tmp_path: Path, iam_sample: Path
) -> None:
    """With two workers the original files' heads are read on a process of their own: the
    inventory (writers, their order, quarantine entries and their order) is the same."""
    from graves_data.corpora.iam_ondb.inventory import take_inventory
    from graves_data.storage import resolve

    raw = tmp_path / "raw"
    shutil.copytree(iam_sample, raw)
    (raw / "original" / "a01" / "link.xml").symlink_to(raw / "trainset.txt")
    (raw / "original" / "a01" / "a01-090" / "strokesz.xml").write_bytes(b"<broken")
    (raw / "lineStrokes" / "stray.txt").write_bytes(b"not a line")
    serial = take_inventory(resolve(str(raw)), QUIET)
    two = take_inventory(resolve(str(raw)), Execution(workers=2, progress=False))
    assert list(two.writers.items()) == list(serial.writers.items())
    assert list(two.originals.items()) == list(serial.originals.items())
    assert two.quarantine == serial.quarantine and two.sources == serial.sources
    assert two == serial
    codes = {q.source: q.code for q in serial.quarantine}
    assert codes["original/a01/link.xml"] == "symlink"
    assert codes["lineStrokes/stray.txt"] == "unknown-file"
    assert serial.writers["a01-090z"][0] is None  # the broken head names no writer, and why
    assert "unreadable" in str(serial.writers["a01-090z"][1])


def test_the_original_archive_read_beside_gives_the_serial_inventory(
    tmp_path: Path, iam_sample: Path
) -> None:
    """With two workers the original-xml archive is read on a process of its own while the
    stroke archive is walked here: writers, quarantine entries (a link member refused) and
    sources (the archive's sha256) come out as the serial inventory has them."""
    from graves_data.corpora.iam_ondb.inventory import take_inventory
    from graves_data.storage import resolve

    raw = tmp_path / "raw"
    shutil.copytree(iam_sample, raw)
    (raw / "original" / "a01" / "a01-090" / "strokesz.xml").write_bytes(b"<broken")
    (raw / "original" / "a01" / "link.xml").symlink_to("../../trainset.txt")
    archives = as_archives(raw, tmp_path / "archives")
    serial = take_inventory(resolve(str(archives)), QUIET)
    two = take_inventory(resolve(str(archives)), Execution(workers=2, progress=False))
    assert list(two.writers.items()) == list(serial.writers.items())
    assert two.quarantine == serial.quarantine and two.sources == serial.sources
    assert two == serial
    assert [q.source for q in serial.quarantine if q.code == "archive-member"] == [
        "original-xml-all.tar.gz:original/a01/link.xml"
    ]
    assert "original-xml-all.tar.gz" in {s.path for s in serial.sources}
    assert serial.writers["a01-090z"][0] is None
    assert "unreadable" in str(serial.writers["a01-090z"][1])
    assert len(serial.writers) == len(list((raw / "original").rglob("strokes*.xml")))


def test_shards_load_with_pyarrow_polars_and_duckdb(tmp_path: Path, iam_sample: Path) -> None:
    manifest, out = built(tmp_path, iam_sample)
    files = [str(out / f["path"]) for f in manifest["splits"]["train"]["files"]]
    assert files[0].endswith("data/train-00000-of-00001.parquet")
    table = pads.dataset(files, format="parquet").to_table()
    assert table.schema.remove_metadata() == HANDWRITING.remove_metadata()
    assert table.num_rows == 45
    meta = pq.read_metadata(files[0]).metadata
    assert meta[META_SCHEMA_VERSION] == SCHEMA_VERSION.encode()
    assert json.loads(meta[META_PARAMS])["spike_threshold"] == 600.0
    assert pq.read_metadata(files[0]).row_group(0).column(0).compression == "ZSTD"
    frame = pl.read_parquet(files)
    assert frame["n_points"].sum() == manifest["splits"]["train"]["points"]
    points = duckdb.sql(f"SELECT sum(len(offsets)) FROM read_parquet({files!r})").fetchall()
    assert points[0][0] == manifest["splits"]["train"]["points"]


def test_dataset_card_names_splits_for_the_hub(tmp_path: Path, iam_sample: Path) -> None:
    _, out = built(tmp_path, iam_sample)
    card = (out / "README.md").read_text()
    header = card.split("---")[1]
    assert "split: train\n    path: data/train-*" in header
    assert "split: valid\n    path: data/valid-*" in header
    assert "non-commercial" in card and "600.0" in card


def test_manifest_records_every_source_with_its_checksum(tmp_path: Path, iam_sample: Path) -> None:
    manifest, _ = built(tmp_path, iam_sample)
    import hashlib

    by_path = {s["path"]: s for s in manifest["sources"]}
    path = "lineStrokes/a01/a01-000/a01-000u-01.xml"
    data = (iam_sample / path).read_bytes()
    assert by_path[path] == {
        "path": path,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert "ascii/a01/a01-000/a01-000u.txt" in by_path and "trainset.txt" in by_path


# ---------------------------------------------------------------------------------------------
# user errors


def test_missing_or_wrong_raw_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound, match="no such folder"):
        build(tmp_path / "nope", tmp_path / "out", execution=QUIET)
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotACorpus, match="lineStrokes"):
        build(tmp_path / "empty", tmp_path / "out", execution=QUIET)


def test_an_existing_other_dataset_is_not_overwritten(tmp_path: Path, iam_sample: Path) -> None:
    built(tmp_path, iam_sample, "ds")
    before = (tmp_path / "ds" / "manifest.json").read_bytes()
    with pytest.raises(OutputExists):
        build(iam_sample, tmp_path / "ds", IamParams(split="official"), execution=QUIET)
    assert (tmp_path / "ds" / "manifest.json").read_bytes() == before
    manifest = build(
        iam_sample, tmp_path / "ds", IamParams(split="official"), execution=QUIET, overwrite=True
    )
    assert (
        open_dataset(tmp_path / "ds").splits
        == list(manifest["splits"])
        == ["trainset", "testset_v", "testset_t", "testset_f"]
    )
    leftovers = [p.name for p in tmp_path.glob(".ds.*")]
    assert leftovers == [".ds.build"], "staging folders cleaned up; the records of the new one"
    assert not (tmp_path / "ds" / "data" / "train-00000-of-00001.parquet").exists()


def test_output_inside_the_raw_folder_is_refused(tmp_path: Path, iam_sample: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(iam_sample, raw)
    with pytest.raises(UsageError, match="overlap"):
        build(raw, raw / "out", execution=QUIET)


def test_a_rebuild_with_the_same_inputs_reuses_finished_units(
    tmp_path: Path, iam_sample: Path
) -> None:
    first, out = built(tmp_path, iam_sample)
    stamp = {p: p.stat().st_mtime_ns for p in (out / "data").iterdir()}
    second = build(iam_sample, out, IamParams(), execution=QUIET)
    assert second["content_hash"] == first["content_hash"]
    assert {p: p.stat().st_mtime_ns for p in (out / "data").iterdir()} == stamp


def test_on_bad_input_error_fails_on_the_first_damaged_form(
    tmp_path: Path, iam_sample: Path
) -> None:
    with pytest.raises(BadInput, match="a08-551z"):
        build(iam_sample, tmp_path / "out", execution=QUIET, on_bad_input="error")
    assert not (tmp_path / "out" / "manifest.json").exists()


# ---------------------------------------------------------------------------------------------
# the fast path and the tree reader agree, and the fast path steps aside when unsure


def same_ink(a: object, b: object) -> None:
    for name in ("x", "y", "t", "ends"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_fast_path_reads_every_sample_file_like_the_tree(iam_sample: Path) -> None:
    from graves_data.corpora.iam_ondb import tree_stroke_xml
    from tests.reliability.fuzz_targets import fast_one_by_both

    for path in sorted((iam_sample / "lineStrokes").rglob("*.xml")):
        data = path.read_bytes()
        fast = fast_one_by_both(data)
        assert fast is not None, f"{path.name} should take the fast path"
        same_ink(fast, tree_stroke_xml(data, path.name))


@pytest.mark.parametrize("pass_bytes", [1, 150_000, 1 << 30])
def test_fast_path_reads_a_batch_in_passes_like_the_tree(
    iam_sample: Path, pass_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch is read in passes of about PASS_BYTES; any size (a file a pass, a few, all)
    gives the tree's Inks in the files' order, a damaged file among them refused."""
    from graves_data.corpora.iam_ondb import fastread, tree_stroke_xml
    from tests.reliability.fuzz_targets import fast_by_both

    monkeypatch.setattr(fastread, "PASS_BYTES", pass_bytes)
    paths = sorted((iam_sample / "lineStrokes").rglob("*.xml"))
    datas = [p.read_bytes() for p in paths]
    broken = datas[0].replace(b'<Point x="', b'<Point x="+', 1)
    datas = [*datas[:3], broken, *datas[3:]]
    paths = [*paths[:3], paths[0], *paths[3:]]
    inks = fast_by_both(datas)
    assert len(inks) == len(datas)
    assert inks[3] is None
    for i, (path, data, ink) in enumerate(zip(paths, datas, inks, strict=True)):
        if i != 3:
            assert ink is not None, f"{path.name} should take the fast path"
            same_ink(ink, tree_stroke_xml(data, path.name))


REGULAR = (
    b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<WhiteboardCaptureSession>\n'
    b'  <WhiteboardDescription><SensorLocation corner="top_left"/></WhiteboardDescription>\n'
    b'  <StrokeSet>\n    <Stroke colour="black" start_time="1.00" end_time="1.02">\n'
    b'      <Point x="10" y="20" time="1.00"/>\r\n      <Point x="11" y="22" time="1.01"/>\r\n'
    b'      <Point x="13" y="25" time="1.02"/>\r\n    </Stroke>\n'
    b'    <Stroke colour="black" start_time="2.00" end_time="2.00">\n'
    b'      <Point x="50" y="20" time="2.00"/>\r\n    </Stroke>\n  </StrokeSet>\n'
    b"</WhiteboardCaptureSession>\n"
)


IRREGULAR = [
    (b'<Point x="11" y="22"', b'<Point y="22" x="11"'),  # attribute order
    (b'x="11" y="22" time="1.01"', b"x='11' y='22' time='1.01'"),  # quoting
    (b'x="13"', b'x="&#49;3"'),  # a character reference
    (b"<StrokeSet>\n", b'<StrokeSet>\n<!-- <Point x="9" y="9" time="9"/> -->\n'),  # a comment
    (b'time="2.00"/>', b'time="2.00"></Point>'),  # an end tag instead of />
    (b'time="1.00"/>\r\n', b'time="1.00"/>x\r\n'),  # text between two points
    (b"<StrokeSet>\n", b"<StrokeSet>\n  text"),  # text before the first stroke
    (b"    </Stroke>\n  </StrokeSet>", b"    </Stroke>\n\xa0</StrokeSet>"),  # not XML space
]


@pytest.mark.parametrize(("old", "new"), IRREGULAR)
def test_irregular_files_leave_the_fast_path_and_read_the_same(old: bytes, new: bytes) -> None:
    from graves_data.corpora.iam_ondb import parse_stroke_xml, tree_stroke_xml
    from tests.reliability.fuzz_targets import fast_one_by_both

    variant = REGULAR.replace(old, new)
    assert variant != REGULAR
    assert fast_one_by_both(REGULAR) is not None
    assert fast_one_by_both(variant) is None
    same_ink(parse_stroke_xml(variant, "v.xml"), tree_stroke_xml(variant, "v.xml"))
    regular = tree_stroke_xml(REGULAR, "r.xml")
    assert parse_stroke_xml(variant, "v.xml").n_points == regular.n_points


@pytest.mark.parametrize(("empty", "fast"), [(b"<Stroke></Stroke>", True), (b"<Stroke/>", False)])
def test_an_empty_stroke_reads_the_same_on_both_paths(empty: bytes, fast: bool) -> None:
    from graves_data.corpora.iam_ondb import parse_stroke_xml, tree_stroke_xml
    from tests.reliability.fuzz_targets import fast_one_by_both

    end = b"    </Stroke>\n  </StrokeSet>"
    variant = REGULAR.replace(end, b"    </Stroke>\n    " + empty + b"\n  </StrokeSet>")
    assert (fast_one_by_both(variant) is not None) == fast
    ink = parse_stroke_xml(variant, "v.xml")
    same_ink(ink, tree_stroke_xml(variant, "v.xml"))
    np.testing.assert_array_equal(ink.ends, [3, 4, 4])


@pytest.mark.parametrize(
    "broken",
    [
        REGULAR[:-40],  # truncated
        REGULAR.replace(b"</WhiteboardDescription>", b""),  # mismatched tags outside the strokes
        REGULAR.replace(b'y="22"', b'y="2\xff2"'),  # a byte that is no number
        REGULAR.replace(b"WhiteboardCaptureSession>\n", b"Other>\n", 1),
    ],
)
def test_damaged_files_are_refused_by_both_paths(broken: bytes) -> None:
    from tests.reliability.fuzz_targets import fast_one_by_both

    assert fast_one_by_both(broken) is None
    with pytest.raises(BadInput):
        parse_stroke_xml(broken, "b.xml")


def test_sources_json_of_a_download_reaches_the_manifest(tmp_path: Path, iam_sample: Path) -> None:
    import hashlib

    raw = tmp_path / "raw"
    shutil.copytree(iam_sample, raw)
    listed = (raw / "trainset.txt").read_bytes()
    entry = {
        "path": "trainset.txt",
        "url": "https://example.org/trainset.txt",
        "size": len(listed),
        "sha256": hashlib.sha256(listed).hexdigest(),
    }
    (raw / "SOURCES.json").write_text(json.dumps({"files": [entry]}))
    manifest = build(raw, tmp_path / "out", execution=QUIET)
    by_path = {s["path"]: s for s in manifest["sources"]}
    assert by_path["trainset.txt"] == entry
