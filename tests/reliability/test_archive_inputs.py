"""Release archives given as the raw input (enwik8.zip, simple-examples.tgz): a damaged,
encrypted, ambiguous or bomb-like archive is one clear error naming the archive, the member and
the limit; it is never read as if it were the data, and never guessed from.

Every archive here is made by the test, from a generated corpus, in the release's own format.
"""

from __future__ import annotations

import io
import json
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from graves_data import archives
from graves_data.corpora import enwik8, ptb
from graves_data.errors import NotACorpus, UnreadableArchive
from graves_data.pipelines.runner import Execution
from graves_data.synth.text import Enwik8SynthParams, PtbSynthParams, ptb_files, write_enwik8

QUIET = Execution(workers=1, progress=False)
E8 = enwik8.Enwik8Params(shard_mb=0.01)
SIZE = 40_000


@pytest.fixture(scope="module")
def text(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("enwik8-text")
    return write_enwik8(folder, Enwik8SynthParams(size=SIZE, seed=5)).read_bytes()


def zip_of(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def patch_headers(data: bytes, flag_bits: int = 0, method: int | None = None) -> bytes:
    """`data` (a zip) with `flag_bits` set and the compression method replaced in every local
    and central header: how another tool's encrypted or deflate64 archive looks to zipfile."""
    out = bytearray(data)
    for magic, flags_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = out.find(magic)
        while at >= 0:
            (flags,) = struct.unpack_from("<H", out, at + flags_at)
            struct.pack_into("<H", out, at + flags_at, flags | flag_bits)
            if method is not None:
                struct.pack_into("<H", out, at + method_at, method)
            at = out.find(magic, at + 4)
    return bytes(out)


def build_zip(tmp_path: Path, data: bytes, name: str = "enwik8.zip") -> dict:
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    (raw / name).write_bytes(data)
    return dict(enwik8.build(str(raw / name), str(tmp_path / "ds"), E8, execution=QUIET))


def symbols(manifest: dict) -> int:
    return sum(int(split["symbols"]) for split in manifest["splits"].values())


def assert_nothing_built(tmp_path: Path) -> None:
    assert not (tmp_path / "ds" / "manifest.json").exists()


# ---------------------------------------------------------------------------------------------
# damaged or unreadable zip archives (item 9)


def test_a_truncated_zip_is_a_damaged_archive_not_text(text: bytes, tmp_path: Path) -> None:
    """Half a download has lost the central directory at its end; its compressed bytes were
    built as if they were enwik8 (exit 0)."""
    whole = zip_of({"enwik8": text})
    with pytest.raises(UnreadableArchive, match=r"enwik8\.zip: a damaged zip archive"):
        build_zip(tmp_path, whole[: len(whole) // 2])
    assert_nothing_built(tmp_path)


def test_zip_bytes_under_another_name_are_an_archive(text: bytes, tmp_path: Path) -> None:
    """The zip magic number makes a file an archive whatever its name: a truncated zip
    saved as `enwik8` is reported, not built byte for byte."""
    whole = zip_of({"enwik8": text})
    with pytest.raises(UnreadableArchive, match="damaged zip archive"):
        build_zip(tmp_path, whole[: len(whole) // 2], name="enwik8")
    assert_nothing_built(tmp_path)


def test_an_encrypted_member_is_a_clear_error(text: bytes, tmp_path: Path) -> None:
    encrypted = patch_headers(zip_of({"enwik8": text}), flag_bits=archives.ZIP_ENCRYPTED)
    with pytest.raises(UnreadableArchive, match=r"member enwik8 is encrypted"):
        build_zip(tmp_path, encrypted)
    assert_nothing_built(tmp_path)


def test_a_compression_method_zipfile_lacks_is_a_clear_error(text: bytes, tmp_path: Path) -> None:
    deflate64 = patch_headers(zip_of({"enwik8": text}), method=9)
    with pytest.raises(UnreadableArchive, match="deflate64 compression method"):
        build_zip(tmp_path, deflate64)
    assert_nothing_built(tmp_path)


def test_a_corrupt_deflate_stream_is_a_clear_error(text: bytes, tmp_path: Path) -> None:
    """The directory intact, the compressed bytes damaged in the middle: zlib's error (or the
    CRC check) becomes UnreadableArchive naming the member."""
    whole = bytearray(zip_of({"enwik8": text}))
    middle = len(whole) // 2
    whole[middle : middle + 64] = bytes(64)
    with pytest.raises(UnreadableArchive, match=r"enwik8\.zip: cannot read enwik8"):
        build_zip(tmp_path, bytes(whole))
    assert_nothing_built(tmp_path)


def test_the_iam_task_zip_reader_refuses_an_encrypted_member(tmp_path: Path) -> None:
    from graves_data.storage import resolve

    path = tmp_path / "task.zip"
    path.write_bytes(patch_headers(zip_of({"trainset.txt": b"a01-000u\n"}), flag_bits=1))
    with pytest.raises(UnreadableArchive, match="is encrypted"):
        list(archives.iter_zip(resolve(path)))


# ---------------------------------------------------------------------------------------------
# ambiguous members (item 10)


def test_two_enwik8_members_are_refused_naming_both(text: bytes, tmp_path: Path) -> None:
    """A small x/enwik8 beside the real one was built instead of it (39 rows, not 1,920)."""
    ambiguous = zip_of({"x/enwik8": text[:3_900], "enwik8": text})
    with pytest.raises(
        NotACorpus, match=r"2 members could be the enwik8 file \(enwik8, x/enwik8\)"
    ):
        build_zip(tmp_path, ambiguous)
    assert_nothing_built(tmp_path)


def test_the_member_built_from_is_recorded_in_sources(text: bytes, tmp_path: Path) -> None:
    manifest = build_zip(tmp_path, zip_of({"release/enwik8": text, "README": b"hello\n"}))
    [source] = manifest["sources"]
    assert source["path"] == "enwik8.zip" and source["member"] == "release/enwik8"
    written = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert written["sources"] == [source]
    assert symbols(manifest) == SIZE  # the member, all of it, and nothing else


def test_a_plain_file_source_keeps_its_three_fields(text: bytes, tmp_path: Path) -> None:
    """Inputs that are not archives are recorded as before: path, size, sha256."""
    (tmp_path / "enwik8").write_bytes(text)
    manifest = enwik8.build(str(tmp_path / "enwik8"), str(tmp_path / "ds"), E8, execution=QUIET)
    assert [sorted(s) for s in manifest["sources"]] == [["path", "sha256", "size"]]


def ptb_archive(path: Path, extra: dict[str, bytes]) -> Path:
    files = ptb_files(PtbSynthParams(lines=200, vocab=100, seed=2))
    with tarfile.open(path, "w:gz") as archive:
        for name, data in [
            *((f"simple-examples/data/{n}", d) for n, d in files.items()),
            *extra.items(),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_a_second_ptb_train_file_in_the_archive_is_refused(tmp_path: Path) -> None:
    """An extra other/ptb.char.train.txt was built instead of the release's (5 rows, not 1,223)."""
    raw = ptb_archive(tmp_path / "simple-examples.tgz", {"other/ptb.char.train.txt": b"a b c\n"})
    with pytest.raises(
        NotACorpus, match=r"other/ptb\.char\.train\.txt, simple-examples/data/ptb\.char\.train\.txt"
    ):
        ptb.build(str(raw), str(tmp_path / "ds"), execution=QUIET)
    assert_nothing_built(tmp_path)


def test_the_ptb_members_used_are_recorded(tmp_path: Path) -> None:
    raw = ptb_archive(tmp_path / "simple-examples.tgz", {"simple-examples/README": b"x\n"})
    manifest = ptb.build(str(raw), str(tmp_path / "ds"), execution=QUIET)
    assert manifest["text"]["files"]["train"]["path"] == (
        "simple-examples.tgz:simple-examples/data/ptb.char.train.txt"
    )


# ---------------------------------------------------------------------------------------------
# inflation and size caps (item 11)


def test_a_zip_member_past_the_inflation_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The floor lowered to 1 MiB so that a 4 MiB member shows the rule: one that inflates
    past MAX_INFLATION times its compressed size is refused before a byte is inflated, with
    the limit and the constant that raises it named."""
    monkeypatch.setattr(archives, "INFLATION_FLOOR", 1 << 20)
    member = b"<page>" + b"a" * (4 << 20)
    bomb = zip_of({"enwik8": member})
    info = zipfile.ZipFile(io.BytesIO(bomb)).infolist()[0]
    assert info.file_size > archives.MAX_INFLATION * info.compress_size  # a bomb-like ratio
    with pytest.raises(
        UnreadableArchive, match=r"more than the 200x limit \(graves_data\.archives\.MAX_INFLATION"
    ):
        build_zip(tmp_path, bomb)
    assert_nothing_built(tmp_path)
    monkeypatch.setattr(archives, "MAX_INFLATION", 100_000)  # raised: the same archive builds
    assert symbols(build_zip(tmp_path, bomb)) == len(member)


def test_a_ptb_member_past_the_size_cap_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member over the cap was passed over without a word (the split simply went missing)."""
    monkeypatch.setattr(ptb, "MAX_FILE_BYTES", 1_000)
    raw = ptb_archive(tmp_path / "simple-examples.tgz", {})
    with pytest.raises(
        NotACorpus,
        match=r"exceeds the 1000-byte limit \(graves_data\.corpora\.ptb\.MAX_FILE_BYTES\)",
    ):
        ptb.build(str(raw), str(tmp_path / "ds"), execution=QUIET)
    assert_nothing_built(tmp_path)
