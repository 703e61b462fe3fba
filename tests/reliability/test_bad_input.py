"""The bad-input suite: each damaged input gives its expected clear error or quarantine code,
and nothing else in the dataset changes.

Every case damages a copy of one small generated corpus (`conftest.base_raw`), builds it, and
compares the result with the clean build: the quarantine is the clean one plus exactly the
expected entries, every other row is equal in every column, and every shard that holds the same
lines as before is byte-identical. Stroke-file and transcription damage is done to forms of the
validation split, so the vocabulary (built from the training split) cannot move either.
docs/reliability.md lists every case with its outcome.
"""

from __future__ import annotations

import gzip
import io
import os
import socket
import tarfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from lxml import etree

from graves_data.cli import main
from graves_data.corpora import iam_ondb
from graves_data.errors import BadInput, NotACorpus, UnreadableArchive
from graves_data.synth.iam_ondb import IamSynthParams, synth_iam_ondb
from tests.reliability.helpers import (
    Built,
    absolute_points,
    assert_nothing_else_changed,
    build_read,
    edit_points,
    fields,
    listed,
    original_path,
    point,
    read_built,
    rel,
    stroke_path,
    transcription_path,
)


@pytest.fixture(scope="module")
def clean(clean_dataset: Path) -> Built:
    return read_built(clean_dataset)


@pytest.fixture(scope="module")
def form(base_raw: Path) -> str:
    """The validation form every form-level case damages (the other one stays intact)."""
    forms = listed(base_raw, "testset_v")
    assert len(forms) >= 2, "the base corpus needs two validation forms"
    return forms[-1]


@pytest.fixture(scope="module")
def line(form: str) -> str:
    """The line every stroke-file case damages: the second line of the damaged form."""
    return f"{form}-02"


# ---------------------------------------------------------------------------------------------
# stroke files that are quarantined


def truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def garbage(data: bytes) -> bytes:
    return np.random.default_rng(7).integers(0, 256, size=2000, dtype=np.uint8).tobytes()


def wrong_root(data: bytes) -> bytes:
    return data.replace(b"WhiteboardCaptureSession", b"InkSession")


def no_strokeset(data: bytes) -> bytes:
    start, end = data.index(b"<StrokeSet>"), data.index(b"</StrokeSet>") + len(b"</StrokeSet>")
    return data[:start] + data[end:]


def on_point(index: int, change: Callable[[int, int, str], bytes]) -> Callable[[bytes], bytes]:
    def damage(data: bytes) -> bytes:
        def edit(points: list[bytes]) -> list[bytes]:
            points[index] = change(*fields(points[index]))
            return points

        return edit_points(data, 0, edit)

    return damage


def point_as(template: str) -> Callable[[bytes], bytes]:
    """Damage point 4 of the first stroke: `template` filled with its x, y and time."""
    return on_point(4, lambda x, y, t: template.format(x=x, y=y, t=t).encode())


def all_strokes_empty(data: bytes) -> bytes:
    start, end = data.index(b"<StrokeSet>"), data.index(b"</StrokeSet>")
    return data[: start + 11] + b'<Stroke colour="black"/><Stroke></Stroke>' + data[end:]


def utf8_declared_with_latin1_byte(data: bytes) -> bytes:
    head = data.replace(b'encoding="ISO-8859-1"', b'encoding="UTF-8"')
    return head.replace(b"<StrokeSet>", b"<!-- caf\xe9 --><StrokeSet>", 1)


LAUGHS = b"".join(
    b'<!ENTITY l%d "%s">' % (i, (b"&l%d;" % (i - 1)) * 10 if i else b"lol") for i in range(10)
)


def with_doctype(subset: bytes) -> Callable[[bytes], bytes]:
    def damage(data: bytes) -> bytes:
        decl_end = data.index(b"?>") + 2
        return data[:decl_end] + subset + data[decl_end:]

    return damage


def billion_laughs(data: bytes) -> bytes:
    bomb = with_doctype(b"<!DOCTYPE WhiteboardCaptureSession [" + LAUGHS + b"]>")(data)
    return on_point(3, lambda x, y, t: f'<Point x="{x}" y="&l9;" time="{t}"/>'.encode())(bomb)


QUARANTINED: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "truncated XML": (truncate, "xml-syntax"),
    "empty file": (lambda data: b"", "empty-file"),
    "white space only": (lambda data: b" \r\n\t\r\n", "empty-file"),
    "binary garbage": (garbage, "xml-syntax"),
    "wrong root element": (wrong_root, "wrong-root"),
    "missing StrokeSet": (no_strokeset, "no-strokeset"),
    "point without x": (point_as('<Point X="{x}" y="{y}" time="{t}"/>'), "point-attribute"),
    "point without y": (point_as('<Point x="{x}" time="{t}"/>'), "point-attribute"),
    "non-numeric x": (point_as('<Point x="{x}px" y="{y}" time="{t}"/>'), "non-numeric"),
    "NaN coordinate": (point_as('<Point x="NaN" y="{y}" time="{t}"/>'), "non-numeric"),
    "infinite coordinate": (point_as('<Point x="{x}" y="-inf" time="{t}"/>'), "non-numeric"),
    "fractional coordinate": (point_as('<Point x="{x}.5" y="{y}" time="{t}"/>'), "non-integer"),
    "x beyond 32 bits": (point_as('<Point x="{x}0000000" y="{y}" time="{t}"/>'), "out-of-range"),
    "x beyond float32 steps": (point_as('<Point x="9000000" y="{y}" time="{t}"/>'), "out-of-range"),
    "only empty strokes": (all_strokes_empty, "no-points"),
    "bytes outside the declared encoding": (utf8_declared_with_latin1_byte, "xml-syntax"),
    "billion laughs": (billion_laughs, "xml-dtd"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(QUARANTINED))
def test_a_damaged_stroke_file_is_quarantined_and_nothing_else_changes(
    case: str, raw_copy: Path, clean: Built, line: str, tmp_path: Path
) -> None:
    damage, code = QUARANTINED[case]
    path = stroke_path(raw_copy, line)
    path.write_bytes(damage(path.read_bytes()))
    damaged = build_read(raw_copy, tmp_path / "out")
    assert line not in damaged.rows
    assert_nothing_else_changed(clean, damaged, {line}, {(rel(raw_copy, path), code)})


def test_on_bad_input_error_stops_with_one_clear_line(raw_copy: Path, line: str) -> None:
    path = stroke_path(raw_copy, line)
    path.write_bytes(truncate(path.read_bytes()))
    out = raw_copy.parent / "out"
    with pytest.raises(BadInput) as caught:
        build_read(raw_copy, out, on_bad_input="error")
    assert caught.value.code == "xml-syntax" and caught.value.source == rel(raw_copy, path)
    result = CliRunner().invoke(
        main,
        [
            *("build", "iam-ondb", "--raw", str(raw_copy), "--out", str(out), "--quiet"),
            *("--workers", "1", "--on-bad-input", "error", "--forms-per-shard", "1"),
        ],
    )
    assert result.exit_code == 2
    message = result.output.strip()
    assert message.startswith("error: lineStrokes/") and "not well-formed XML" in message
    assert "\n" not in message and "Traceback" not in message
    assert not (out / "manifest.json").exists()


# ---------------------------------------------------------------------------------------------
# stroke files that are cleaned, with what cleaning did counted on the line


def build_with(raw: Path, line: str, damage: Callable[[bytes], bytes], out: Path) -> Built:
    path = stroke_path(raw, line)
    path.write_bytes(damage(path.read_bytes()))
    return build_read(raw, out)


def assert_counts(row: dict[str, Any], clean_row: dict[str, Any], **changed: int) -> None:
    names = ("n_points", "n_strokes", "n_interpolated", "n_dropped", "n_time_repaired")
    for name in (*names, "n_empty_strokes"):
        assert row[name] == clean_row[name] + changed.get(name, 0), name


def test_duplicated_points_are_dropped_and_counted(
    raw_copy: Path, clean: Built, line: str, tmp_path: Path
) -> None:
    def damage(data: bytes) -> bytes:
        return edit_points(data, 0, lambda p: [*p[:5], p[4], p[4], *p[5:]])

    damaged = build_with(raw_copy, line, damage, tmp_path / "out")
    row, was = damaged.rows[line], clean.rows[line]
    assert_counts(row, was, n_dropped=2)
    assert row["offsets"] == was["offsets"] and row["dt"] == was["dt"]
    assert_nothing_else_changed(clean, damaged, {line})


def test_time_going_backwards_is_repaired(
    raw_copy: Path, clean: Built, line: str, tmp_path: Path
) -> None:
    damage = on_point(5, lambda x, y, t: point(x, y, f"{float(t) - 7.5:.2f}"))
    damaged = build_with(raw_copy, line, damage, tmp_path / "out")
    row, was = damaged.rows[line], clean.rows[line]
    assert_counts(row, was, n_time_repaired=1)
    assert row["offsets"] == was["offsets"] and min(row["dt"]) >= 0
    assert_nothing_else_changed(clean, damaged, {line})


def test_unreadable_timestamps_are_repaired(
    raw_copy: Path, clean: Built, line: str, tmp_path: Path
) -> None:
    damage = on_point(5, lambda x, y, t: f'<Point x="{x}" y="{y}" time="soon"/>'.encode())
    damaged = build_with(raw_copy, line, damage, tmp_path / "out")
    row, was = damaged.rows[line], clean.rows[line]
    assert_counts(row, was, n_time_repaired=1)
    assert row["offsets"] == was["offsets"]
    assert_nothing_else_changed(clean, damaged, {line})


def test_a_long_gap_in_time_is_filled_by_interpolation(
    raw_copy: Path, clean: Built, line: str, tmp_path: Path
) -> None:
    damage = lambda data: edit_points(data, 0, lambda p: p[:5] + p[9:])  # noqa: E731
    damaged = build_with(raw_copy, line, damage, tmp_path / "out")
    row, was = damaged.rows[line], clean.rows[line]
    filled = row["n_interpolated"] - was["n_interpolated"]
    assert 2 <= filled <= 6  # four readings lost; their number is estimated from the times
    assert row["n_points"] - filled == was["n_points"] - 4
    assert_nothing_else_changed(clean, damaged, {line})


def test_a_huge_coordinate_jump_is_removed_as_a_spike(
    raw_copy: Path, clean: Built, line: str, tmp_path: Path
) -> None:
    damage = on_point(6, lambda x, y, t: point(x + 50_000, y - 50_000, t))
    damaged = build_with(raw_copy, line, damage, tmp_path / "out")
    row, was = damaged.rows[line], clean.rows[line]
    assert_counts(row, was, n_points=-1, n_dropped=1)
    np.testing.assert_array_equal(absolute_points(row), np.delete(absolute_points(was), 6, 0))
    assert_nothing_else_changed(clean, damaged, {line})


def test_a_jump_between_long_runs_splits_the_stroke(
    raw_copy: Path, clean: Built, line: str, tmp_path: Path
) -> None:
    def damage(data: bytes) -> bytes:
        def edit(points: list[bytes]) -> list[bytes]:
            moved = [fields(p) for p in points[6:]]
            return points[:6] + [point(x + 5000, y, t) for x, y, t in moved]

        return edit_points(data, 0, edit)

    damaged = build_with(raw_copy, line, damage, tmp_path / "out")
    row, was = damaged.rows[line], clean.rows[line]
    assert_counts(row, was, n_strokes=1)
    assert_nothing_else_changed(clean, damaged, {line})


def test_zero_and_one_point_strokes(
    raw_copy: Path, clean: Built, line: str, tmp_path: Path
) -> None:
    def damage(data: bytes) -> bytes:
        close = data.index(b"</Stroke>") + len(b"</Stroke>")
        x, y, t = fields(list(iam_point_iter(data[:close]))[-1])
        extra = b'<Stroke colour="black"></Stroke><Stroke>' + point(x, y + 40, t) + b"</Stroke>"
        return data[:close] + extra + data[close:]

    damaged = build_with(raw_copy, line, damage, tmp_path / "out")
    row, was = damaged.rows[line], clean.rows[line]
    assert_counts(row, was, n_points=1, n_strokes=1, n_empty_strokes=1)
    assert_nothing_else_changed(clean, damaged, {line})


def iam_point_iter(data: bytes) -> Iterator[bytes]:
    from tests.reliability.helpers import POINT

    return (m.group(0) for m in POINT.finditer(data))


# ---------------------------------------------------------------------------------------------
# XML that tries to expand, read or fetch: refused before libxml2 sees it


SECRET = "777"  # if the entity were expanded this would be a valid coordinate


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET + "\n")
    return path


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A local TCP server nobody should ever connect to."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


def connections(server: socket.socket) -> int:
    count = 0
    while True:
        try:
            peer, _ = server.accept()
        except BlockingIOError:
            return count
        peer.close()
        count += 1


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Records (and refuses) every socket connection Python code would open."""
    calls: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        calls.append(address)
        raise ConnectionRefusedError("the reliability suite allows no connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return calls


@pytest.fixture
def libxml2_inputs(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every document handed to lxml's parsers during the test."""
    seen: list[bytes] = []
    for name in ("fromstring", "iterparse"):
        real = getattr(etree, name)

        def spy(source: Any, *args: Any, _real: Any = real, **kwargs: Any) -> Any:
            seen.append(source.getvalue() if isinstance(source, io.BytesIO) else bytes(source))
            return _real(source, *args, **kwargs)

        monkeypatch.setattr(etree, name, spy)
    return seen


def external_entity(secret: Path) -> bytes:
    return f'<!DOCTYPE WhiteboardCaptureSession [<!ENTITY xxe SYSTEM "file://{secret}">]>'.encode()


def network_dtd(port: int) -> bytes:
    url = f"http://127.0.0.1:{port}/strokes.dtd"
    return f'<!DOCTYPE WhiteboardCaptureSession SYSTEM "{url}">'.encode()


def everything_written(out: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file())


def test_external_entity_and_network_dtd_in_stroke_files(
    raw_copy: Path,
    clean: Built,
    form: str,
    tmp_path: Path,
    secret_file: Path,
    listener: socket.socket,
    no_sockets: list[Any],
    libxml2_inputs: list[bytes],
) -> None:
    xxe_line, dtd_line = f"{form}-02", f"{form}-03"
    uses_xxe = on_point(3, lambda x, y, t: f'<Point x="&xxe;" y="{y}" time="{t}"/>'.encode())
    xxe_path, dtd_path = stroke_path(raw_copy, xxe_line), stroke_path(raw_copy, dtd_line)
    xxe_path.write_bytes(
        uses_xxe(with_doctype(external_entity(secret_file))(xxe_path.read_bytes()))
    )
    port = listener.getsockname()[1]
    dtd_path.write_bytes(with_doctype(network_dtd(port))(dtd_path.read_bytes()))
    damaged = build_read(raw_copy, tmp_path / "out")
    expected = {(rel(raw_copy, xxe_path), "xml-dtd"), (rel(raw_copy, dtd_path), "xml-dtd")}
    assert_nothing_else_changed(clean, damaged, {xxe_line, dtd_line}, expected)
    assert connections(listener) == 0 and no_sockets == []
    assert not any(b"<!DOCTYPE" in document for document in libxml2_inputs)
    assert b"file://" + str(secret_file).encode() not in b"".join(libxml2_inputs)


def test_xml_bombs_in_the_original_xml_leave_the_writer_unknown(
    raw_copy: Path,
    clean: Built,
    form: str,
    tmp_path: Path,
    secret_file: Path,
    listener: socket.socket,
    no_sockets: list[Any],
    libxml2_inputs: list[bytes],
) -> None:
    forms = [form, *sorted({row["form_id"] for row in clean.rows.values()})]
    form, path = next((f, p) for f in forms if (p := original_path(raw_copy, f)) is not None)
    data = path.read_bytes()
    writer = clean.rows[f"{form}-01"]["writer_id"]
    assert writer and f'writerID="{writer}"'.encode() in data
    data = data.replace(f'writerID="{writer}"'.encode(), b'writerID="&xxe;"')
    path.write_bytes(with_doctype(external_entity(secret_file))(data))
    damaged = build_read(raw_copy, tmp_path / "out")
    mine = {line for line in clean.rows if line.startswith(form + "-")}
    assert_nothing_else_changed(clean, damaged, mine)
    for line in mine:
        assert damaged.rows[line] == {**clean.rows[line], "writer_id": None}
    unknown = {w["form"]: w["reason"] for w in damaged.manifest["report"]["writer_unknown"]}
    assert "DOCTYPE" in unknown[form]
    assert SECRET.encode() + b"\n" not in everything_written(tmp_path / "out")
    # a billion laughs and a network DTD in the same file fare alike
    for subset in (b"<!DOCTYPE WhiteboardCaptureSession [" + LAUGHS + b"]>", network_dtd(1)):
        start = time.monotonic()
        assert iam_ondb.parse_writer(with_doctype(subset)(data), "x")[0] is None
        assert time.monotonic() - start < 1.0
    assert connections(listener) == 0 and no_sockets == []
    assert not any(b"<!DOCTYPE" in document for document in libxml2_inputs)


# ---------------------------------------------------------------------------------------------
# transcriptions: the whole form is quarantined, its lines with it


def csr_lines(data: bytes) -> tuple[bytes, list[bytes]]:
    head, body = data.split(b"CSR:", 1)
    return head + b"CSR:", body.splitlines()


def extra_line(data: bytes) -> bytes:
    return data.rstrip() + b"\r\none line too many\r\n"


def line_short(data: bytes) -> bytes:
    head, body = csr_lines(data)
    kept = [line for line in body if line.strip()][:-1]
    return head + b"\n\n" + b"\n".join(kept) + b"\n"


def cp1252_quotes(data: bytes) -> bytes:
    head, body = csr_lines(data)
    first = next(i for i, line in enumerate(body) if line.strip())
    body[first] = b"\x93" + body[first] + b"\x94"
    return head + b"\n".join(body)


def utf8_letters(data: bytes) -> bytes:
    head, body = csr_lines(data)
    first = next(i for i, line in enumerate(body) if line.strip())
    body[first] = body[first] + " café".encode()
    return head + b"\n".join(body)


def nul_byte(data: bytes) -> bytes:
    return data.replace(b" ", b"\x00", 1) if b"CSR:" in data else data


def blank_inside(data: bytes) -> bytes:
    head, body = csr_lines(data)
    lines = [line for line in body if line.strip()]
    return head + b"\n\n" + b"\n".join([lines[0], b"", *lines[1:]]) + b"\n"


PLACEHOLDER = b"CSR:\n\nPlease Enter Transcription here\n"
TRANSCRIPTIONS: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "more transcription lines than stroke files": (extra_line, "transcription-mismatch"),
    "fewer transcription lines than stroke files": (line_short, "transcription-mismatch"),
    "Windows-1252 quotes (C1 bytes)": (cp1252_quotes, "control-characters"),
    "UTF-8 letters": (utf8_letters, "not-latin-1"),
    "NUL byte": (nul_byte, "control-characters"),
    "blank line inside CSR": (blank_inside, "csr-blank-line"),
    "no CSR section": (lambda data: data.replace(b"CSR:", b"CRS:"), "no-csr"),
    "empty file": (lambda data: b"", "no-csr"),
    "placeholder": (lambda data: PLACEHOLDER, "placeholder-transcription"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(TRANSCRIPTIONS))
def test_a_damaged_transcription_quarantines_its_form(
    case: str, raw_copy: Path, clean: Built, form: str, tmp_path: Path
) -> None:
    damage, code = TRANSCRIPTIONS[case]
    path = transcription_path(raw_copy, form)
    path.write_bytes(damage(path.read_bytes()))
    damaged = build_read(raw_copy, tmp_path / "out")
    mine = {line for line in clean.rows if line.startswith(form + "-")}
    assert mine and not mine & set(damaged.rows)
    assert_nothing_else_changed(clean, damaged, mine, {(rel(raw_copy, path), code)})


def test_a_missing_transcription(raw_copy: Path, clean: Built, form: str, tmp_path: Path) -> None:
    transcription_path(raw_copy, form).unlink()
    damaged = build_read(raw_copy, tmp_path / "out")
    mine = {line for line in clean.rows if line.startswith(form + "-")}
    expected = {(f"ascii/.../{form}.txt", "missing-transcription")}
    assert_nothing_else_changed(clean, damaged, mine, expected)


def test_a_missing_stroke_file_misaligns_its_form(
    raw_copy: Path, clean: Built, form: str, tmp_path: Path
) -> None:
    stroke_path(raw_copy, f"{form}-03").unlink()
    damaged = build_read(raw_copy, tmp_path / "out")
    mine = {line for line in clean.rows if line.startswith(form + "-")}
    path = rel(raw_copy, transcription_path(raw_copy, form))
    assert_nothing_else_changed(clean, damaged, mine, {(path, "line-numbering")})


# ---------------------------------------------------------------------------------------------
# split lists


def test_split_lists_naming_absent_forms_change_nothing_but_the_report(
    raw_copy: Path, clean: Built, tmp_path: Path
) -> None:
    with open(raw_copy / "testset_v.txt", "a") as handle:
        handle.write(" zz9-999z\n zz9-998z\n")
    damaged = build_read(raw_copy, tmp_path / "out")
    assert_nothing_else_changed(clean, damaged)
    assert damaged.shard_sha() == clean.shard_sha()
    before = clean.manifest["report"]["listed_but_absent"]
    assert damaged.manifest["report"]["listed_but_absent"] == {
        **before,
        "testset_v": before["testset_v"] + 2,
    }


def test_a_form_in_no_list_and_a_form_in_two(
    raw_copy: Path, clean: Built, form: str, tmp_path: Path
) -> None:
    other = listed(raw_copy, "testset_v")[0]
    (raw_copy / "testset_v.txt").write_text(f" {other}\n")
    with open(raw_copy / "trainset.txt", "a") as handle:
        handle.write(f" {other}\n")
    damaged = build_read(raw_copy, tmp_path / "out")
    lost = {line for line in clean.rows if line.startswith((form + "-", other + "-"))}
    expected = {(form, "not-in-split"), (other, "in-two-lists")}
    assert_nothing_else_changed(clean, damaged, lost, expected)


def test_a_missing_split_list_is_a_clear_error(raw_copy: Path, tmp_path: Path) -> None:
    (raw_copy / "testset_f.txt").unlink()
    with pytest.raises(NotACorpus, match=r"testset_f\.txt"):
        build_read(raw_copy, tmp_path / "out")


def test_a_stray_file_among_the_stroke_files(
    raw_copy: Path, clean: Built, form: str, tmp_path: Path
) -> None:
    folder = stroke_path(raw_copy, f"{form}-01").parent
    (folder / "notes.txt").write_text("not a stroke file")
    damaged = build_read(raw_copy, tmp_path / "out")
    expected = {(rel(raw_copy, folder / "notes.txt"), "unknown-file")}
    assert_nothing_else_changed(clean, damaged, set(), expected)


# ---------------------------------------------------------------------------------------------
# links and special files in the raw folder: never followed, never read


def test_links_below_the_raw_folder_are_quarantined_never_followed(
    raw_copy: Path, clean: Built, form: str, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    stroke = stroke_path(raw_copy, f"{form}-02")
    (outside / stroke.name).write_bytes(stroke.read_bytes())  # a perfectly good stroke file
    stroke.unlink()
    stroke.symlink_to(outside / stroke.name)
    text = transcription_path(raw_copy, form)
    (outside / "secret.txt").write_bytes(text.read_bytes().replace(b"CSR:", b"CSR: SECRET"))
    text.unlink()
    text.symlink_to(outside / "secret.txt")
    stolen = outside / "stolen"
    stolen.mkdir()
    (stolen / "zz9-999z-01.xml").write_bytes((outside / stroke.name).read_bytes())
    (stroke.parent.parent / "zz9").symlink_to(stolen, target_is_directory=True)
    (stroke.parent / "loop").symlink_to(stroke.parent, target_is_directory=True)
    damaged = build_read(raw_copy, tmp_path / "out")
    mine = {line for line in clean.rows if line.startswith(form + "-")}
    expected = {
        (rel(raw_copy, stroke), "symlink"),
        (rel(raw_copy, text), "symlink"),
        (rel(raw_copy, stroke.parent.parent / "zz9"), "symlink"),
        (rel(raw_copy, stroke.parent / "loop"), "symlink"),
        (f"ascii/.../{form}.txt", "missing-transcription"),
    }
    assert_nothing_else_changed(clean, damaged, mine, expected)
    assert b"SECRET" not in everything_written(tmp_path / "out")
    assert not any(line.startswith("zz9") for line in damaged.rows)


def test_a_fifo_in_the_raw_folder_is_quarantined_without_blocking(
    raw_copy: Path, clean: Built, form: str, tmp_path: Path
) -> None:
    fifo = stroke_path(raw_copy, f"{form}-01").parent / f"{form}-09.xml"
    os.mkfifo(fifo)
    damaged = build_read(raw_copy, tmp_path / "out")
    assert_nothing_else_changed(clean, damaged, set(), {(rel(raw_copy, fifo), "not-a-file")})


def test_raw_itself_a_link_is_what_the_user_named_and_is_followed(
    base_raw: Path, clean: Built, tmp_path: Path
) -> None:
    """`--raw` itself may be a link: the user named it. (Links at the top of it that lead
    outside are refused: tests/reliability/test_raw_tree.py.)"""
    linked = tmp_path / "linked"
    linked.symlink_to(base_raw, target_is_directory=True)
    damaged = build_read(linked, tmp_path / "out")
    assert_nothing_else_changed(clean, damaged)
    assert damaged.shard_sha() == clean.shard_sha()


# ---------------------------------------------------------------------------------------------
# archives: read in place, member by member; nothing is ever extracted


@pytest.fixture(scope="module")
def base_archives(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archives") / "raw"
    synth_iam_ondb(root, IamSynthParams(lines=40, seed=0, archives=True), progress=False)
    return root


@pytest.fixture(scope="module")
def clean_archives(base_archives: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_read(base_archives, tmp_path_factory.mktemp("clean-archives") / "ds")


@pytest.fixture
def archives_copy(base_archives: Path, tmp_path: Path) -> Path:
    target = tmp_path / "raw"
    target.mkdir()
    for entry in base_archives.iterdir():
        (target / entry.name).write_bytes(entry.read_bytes())
    return target


def add_members(archive: Path, extra: list[tuple[tarfile.TarInfo, bytes | None]]) -> None:
    """Rewrite a .tar.gz with extra members appended (names taken as given: no checks)."""
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    with tarfile.open(archive, "r:gz") as tar:
        for info in tar:
            handle = tar.extractfile(info) if info.isfile() else None
            members.append((info, handle.read() if handle else None))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in [*members, *extra]:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    archive.write_bytes(buffer.getvalue())


def member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE) -> tuple[Any, Any]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        info.linkname = "/etc/passwd"
    return info, data if kind == tarfile.REGTYPE else None


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_the_archive_layout_builds_the_same_rows(clean: Built, clean_archives: Built) -> None:
    assert clean_archives.rows == clean.rows
    assert clean_archives.shard_sha() == clean.shard_sha()


def test_archive_members_that_climb_out_or_link_are_refused_and_nothing_is_extracted(
    archives_copy: Path, clean_archives: Built, tmp_path: Path
) -> None:
    with tarfile.open(archives_copy / "lineStrokes-all.tar.gz") as tar:
        good = next(m for m in tar if m.isfile())
        stroke = tar.extractfile(good).read()  # type: ignore[union-attr]
    escape = tmp_path / "escaped.xml"
    extra = [
        member("../../x", stroke),
        member("../../zz9-999z-01.xml", stroke),
        member(str(escape), stroke),
        member("lineStrokes/zz9/zz9-999/zz9-999z-02.xml", kind=tarfile.SYMTYPE),
        member("lineStrokes/zz9/zz9-999/zz9-999z-03.xml", kind=tarfile.LNKTYPE),
    ]
    add_members(archives_copy / "lineStrokes-all.tar.gz", extra)
    add_members(archives_copy / "ascii-all.tar.gz", [member("/tmp/zz9-999z.txt", b"CSR:\n\nx\n")])
    before = tree(tmp_path)
    cwd_before = set(os.listdir("."))
    damaged = build_read(archives_copy, tmp_path / "out")
    refused = "member path is absolute or leaves the archive"
    link = "not a regular file (link or device)"
    expected = {
        ("lineStrokes-all.tar.gz:../../x", "archive-member"),
        ("lineStrokes-all.tar.gz:../../zz9-999z-01.xml", "archive-member"),
        (f"lineStrokes-all.tar.gz:{escape}", "archive-member"),
        ("lineStrokes-all.tar.gz:lineStrokes/zz9/zz9-999/zz9-999z-02.xml", "archive-member"),
        ("lineStrokes-all.tar.gz:lineStrokes/zz9/zz9-999/zz9-999z-03.xml", "archive-member"),
        ("ascii-all.tar.gz:/tmp/zz9-999z.txt", "archive-member"),
    }
    assert_nothing_else_changed(clean_archives, damaged, set(), expected)
    assert damaged.reason("lineStrokes-all.tar.gz:../../x") == refused
    assert damaged.reason("lineStrokes-all.tar.gz:lineStrokes/zz9/zz9-999/zz9-999z-02.xml") == link
    after = {p for p in tree(tmp_path) - before if not p.startswith(("out", ".out.build"))}
    assert after == set() and set(os.listdir(".")) == cwd_before
    assert not escape.exists() and not Path("/tmp/zz9-999z.txt").exists()
    assert not (tmp_path.parent / "x").exists() and not (tmp_path.parent.parent / "x").exists()


def bomb_member(name: str, inflated: int) -> bytes:
    """Gzip members of a tar stream holding one member of `inflated` zero bytes, built from
    one compressed block repeated (a few MB on disk)."""
    info = tarfile.TarInfo(name)
    info.size = inflated
    block = 16 << 20
    zeros = gzip.compress(bytes(block), compresslevel=9)
    return gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT)) + zeros * (inflated // block)


def test_a_decompression_bomb_is_refused_in_bounded_memory_and_time(
    archives_copy: Path, tmp_path: Path
) -> None:
    archive = archives_copy / "lineStrokes-all.tar.gz"
    with tarfile.open(archive) as tar:
        names = [m.name for m in tar]
    body = gzip.decompress(archive.read_bytes()).rstrip(b"\0")  # the end-of-archive blocks
    body += b"\0" * (-len(body) % 512)
    archive.write_bytes(gzip.compress(body) + bomb_member(names[-1] + ".bomb", 8 << 30))
    tracemalloc.start()
    start = time.monotonic()
    try:
        with pytest.raises(UnreadableArchive, match="decompression bomb"):
            build_read(archives_copy, tmp_path / "out")
        seconds = time.monotonic() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seconds < 20 and peak < 300 << 20  # 8 GiB inflated would take minutes and memory
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_a_truncated_or_foreign_archive_is_a_clear_error(
    archives_copy: Path, tmp_path: Path
) -> None:
    archive = archives_copy / "ascii-all.tar.gz"
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableArchive, match=r"ascii-all\.tar\.gz: not a readable tar archive"):
        build_read(archives_copy, tmp_path / "out")
    archive.write_bytes(b"PK\x03\x04 this is a zip, not a tar")
    with pytest.raises(UnreadableArchive, match="not a readable tar archive"):
        build_read(archives_copy, tmp_path / "out2")
