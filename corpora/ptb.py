"""Penn Treebank (Mikolov's language-modelling files) at the character level.

Graves (2013, section 3.1) trains character-level networks on the PTB files of the
`simple-examples` release: `ptb.{train,valid,test}.txt` (word level, one sentence a line) and
`ptb.char.{train,valid,test}.txt` (the same text spelled as characters).

Raw files: a folder holding the `ptb.*.txt` files (directly or under `data/` or
`simple-examples/data/`), the release's `simple-examples.tgz` read in place, or a folder
holding it. `--source auto` (default) uses the char files where present, the word files
otherwise; `char` or `word` insists on one kind. Both give the same character stream:

- words are joined by `_`, one sentence a line, the newline kept as the end-of-sentence symbol;
- `<unk>` and `N` are spelled out as characters (`<`, `u`, `n`, `k`, `>`), as the char files do.

Known quirks of the release, handled rather than "fixed": every word-file line starts and ends
with a space; the char files write each symbol followed by a space, so their first line has no
leading space, the others do, and the file ends with a stray space after the last newline.

Splits are the release's own files. The vocabulary is the training split's characters (50 on
the real release: 26 letters, 10 digits, 11 punctuation marks, `N`, `_`, newline), plus
`<unk>` (id 0) for anything else.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from graves_data.archives import Member, iter_tar, one_member
from graves_data.corpus import CorpusSpec, Generator, OnBadInput, Params, param
from graves_data.download import DownloadSpec, RemoteFile
from graves_data.errors import InputNotFound, NotACorpus, UsageError
from graves_data.manifest import Manifest
from graves_data.pipelines.runner import (
    BadInputPolicy,
    BuildJob,
    Execution,
    SourceFile,
    Unit,
    UnitContext,
    UnitInput,
    UnitRows,
    run_build,
)
from graves_data.pipelines.text import (
    char_counts,
    char_table,
    encode_chars,
    plan_chunk_ranges,
    ptb_char_file_to_chars,
    ptb_words_to_chars,
    rows_per_unit,
    text_vocab,
    vocab_id_type,
)
from graves_data.pipelines.textbuild import input_stamp, source_file, text_card, text_rows
from graves_data.schema import text_schema
from graves_data.shards import shard_path
from graves_data.storage import Location, resolve

NAME = "ptb"
SPLITS = ("train", "valid", "test")
ARCHIVE = "simple-examples.tgz"
SUBFOLDERS = ("", "data", "simple-examples/data")
_FILE = re.compile(r"^ptb\.(char\.)?(train|valid|test)\.txt$")
MAX_FILE_BYTES = 256 << 20

Source = Literal["auto", "char", "word"]
FileKind = Literal["char", "word"]


@dataclass(frozen=True)
class PtbParams(Params):
    """Build parameters; every field is a CLI option and goes into the manifest."""

    source: Source = param("auto", "auto: char files where present; char; word")
    seq_len: int = param(100, "symbols per row", ge=1)
    min_count: int = param(1, "characters seen fewer times in train map to <unk>", ge=1)
    coverage: float = param(
        1.0, "keep the most frequent characters covering this fraction", gt=0, le=1
    )
    shard_mb: float = param(16.0, "millions of symbols per shard (one unit of work)", gt=0)


@dataclass(frozen=True)
class PtbFile:
    """One split's file: where it is (a path, or its bytes from the archive) and its kind."""

    split: str
    kind: FileKind
    rel: str
    url: str | None
    data: bytes | None

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        return resolve(self.url or "").read_bytes()


def split_text(file: PtbFile) -> str:
    """A split's character stream, from whichever kind of file it is."""
    try:
        text = file.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotACorpus(f"{file.rel}: not UTF-8 text ({exc})") from exc
    return ptb_char_file_to_chars(text) if file.kind == "char" else ptb_words_to_chars(text)


# ---------------------------------------------------------------------------------------------
# finding the files


def find_files(raw: Location, source: Source) -> tuple[Location, list[PtbFile]]:
    """The raw root and one file per split present, of the kind `source` asks for."""
    if not raw.exists():
        raise InputNotFound(f"{raw.url}: no such file or folder")
    if raw.is_dir() and raw.join(ARCHIVE).exists() and not _folder_candidates(raw):
        return raw, _choose(_archive_candidates(raw.join(ARCHIVE), ARCHIVE), source, raw)
    if raw.is_dir():
        return raw, _choose(_folder_candidates(raw), source, raw)
    return raw.parent(), _choose(_archive_candidates(raw, raw.name), source, raw)


def _folder_candidates(raw: Location) -> list[PtbFile]:
    found = []
    for sub in SUBFOLDERS:
        folder = raw.join(sub) if sub else raw
        if not folder.is_dir():
            continue
        for split in SPLITS:
            pairs: tuple[tuple[FileKind, str], ...] = (
                ("char", f"ptb.char.{split}.txt"),
                ("word", f"ptb.{split}.txt"),
            )
            for kind, name in pairs:
                if folder.join(name).exists():
                    rel = f"{sub}/{name}" if sub else name
                    found.append(PtbFile(split, kind, rel, folder.join(name).url, None))
        if found:
            return found
    return found


def _archive_candidates(archive: Location, rel: str) -> list[PtbFile]:
    with archive.open("rb") as handle:
        is_tar = tarfile.is_tarfile(handle)
    if not is_tar:
        raise NotACorpus(f"{archive.url}: neither a folder of ptb.*.txt files nor {ARCHIVE}")
    by_file: dict[tuple[str, FileKind], list[Member]] = {}
    with archive.open("rb") as handle:
        for member in iter_tar(handle, archive.url, MAX_FILE_BYTES):
            found = _split_kind(member.name.rsplit("/", 1)[-1])
            if found is not None:
                by_file.setdefault(found, []).append(member)
    files = []
    for (split, kind), members in sorted(by_file.items()):
        chosen = one_member([m.name for m in members], archive.url, f"the {kind} {split} file")
        member = next(m for m in members if m.name == chosen)
        data = _member_data(archive, member)
        files.append(PtbFile(split, kind, f"{rel}:{member.name}", None, data))
    return files


def _split_kind(name: str) -> tuple[str, FileKind] | None:
    match = _FILE.match(name)
    if match is None:
        return None
    return match.group(2), "char" if match.group(1) else "word"


def _member_data(archive: Location, member: Member) -> bytes:
    """A split file's bytes; a member that could not be read is a clear error, never passed
    over (its split would be missing without a word)."""
    if member.data is None:
        limit = (
            " (graves_data.corpora.ptb.MAX_FILE_BYTES)" if "limit" in str(member.problem) else ""
        )
        raise NotACorpus(f"{archive.url}: {member.name}: {member.problem}{limit}")
    return member.data


def _choose(candidates: Sequence[PtbFile], source: Source, raw: Location) -> list[PtbFile]:
    chosen = []
    for split in SPLITS:
        mine = {f.kind: f for f in candidates if f.split == split}
        kinds: tuple[FileKind, ...] = ("char", "word") if source == "auto" else (source,)
        picked = next((mine[k] for k in kinds if k in mine), None)
        if picked is not None:
            chosen.append(picked)
    if not any(f.split == "train" for f in chosen):
        wanted = "ptb.char.train.txt or ptb.train.txt" if source == "auto" else source
        raise NotACorpus(f"{raw.url}: no PTB training file ({wanted}) found")
    return chosen


# ---------------------------------------------------------------------------------------------
# the units


@dataclass(frozen=True)
class PtbSlice:
    file: PtbFile
    start: int
    stop: int


def process_unit(
    unit: Unit, _inputs: UnitInput, ctx: UnitContext[Any], _bad: BadInputPolicy
) -> UnitRows:
    """Symbols [start, stop) of a split's character stream -> rows -> one shard."""
    payload: PtbSlice = unit.payload
    text = split_text(payload.file)[payload.start : payload.stop]
    encoded = encode_chars(text, char_table(ctx.vocab))
    return text_rows(encoded.ids, payload.start, encoded.unknown, unit, ctx)


def plan_units(files: Sequence[PtbFile], lengths: dict[str, int], params: PtbParams) -> list[Unit]:
    units = []
    per_unit = rows_per_unit(params.shard_mb, params.seq_len)
    for file in files:
        ranges = plan_chunk_ranges(lengths[file.split], params.seq_len, per_unit)
        stamp = (file.rel, len(file.data), 0) if file.data is not None else None
        for index, chunk in enumerate(ranges):
            units.append(
                Unit(
                    key=f"{file.split}-{index:05d}",
                    split=file.split,
                    shard=shard_path(file.split, index, len(ranges)),
                    inputs=(stamp or input_stamp(resolve(file.url or ""), file.rel),),
                    payload=PtbSlice(file, chunk.start, chunk.stop),
                )
            )
    return units


def _sources(raw: Location, files: Sequence[PtbFile]) -> list[SourceFile]:
    archives = {f.rel.split(":", 1)[0] for f in files if f.data is not None}
    out = [source_file(raw.join(name), name) for name in sorted(archives)]
    out += [source_file(resolve(f.url or ""), f.rel) for f in files if f.data is None]
    return out


# ---------------------------------------------------------------------------------------------
# the build


def build(
    raw: str,
    out: str,
    params: PtbParams | None = None,
    *,
    execution: Execution | None = None,
    on_bad_input: OnBadInput = "skip",
    overwrite: bool = False,
) -> Manifest:
    """Build PTB character shards from `raw` (folder or simple-examples.tgz) into `out`."""
    params = params or PtbParams()
    root, files = find_files(resolve(raw), params.source)
    texts = {f.split: split_text(f) for f in files}
    if not texts["train"]:
        raise NotACorpus(f"{files[0].rel}: the training file is empty")
    try:
        vocab = text_vocab(
            char_counts(texts["train"]),
            "char",
            min_count=params.min_count,
            coverage=params.coverage,
            always_unk=True,
        )
    except ValueError as exc:
        raise UsageError(f"cannot build the character vocabulary: {exc}") from exc
    lengths = {split: len(text) for split, text in texts.items()}
    sentences = {split: text.count("\n") for split, text in texts.items()}
    del texts
    units = plan_units(files, lengths, params)
    splits = [f.split for f in files]
    text_section = {
        "vocab_kind": "char",
        "files": {f.split: {"path": f.rel, "kind": f.kind} for f in files},
        "sentences": sentences,
        "notes": [
            "words joined by '_', one sentence a line, <unk> and N spelled as characters "
            "(the ptb.char.* conventions)"
        ],
    }
    job = BuildJob(
        corpus=NAME,
        params=params,
        raw=resolve(raw),  # what the user named: the output may sit beside a raw file
        out=resolve(out),
        schema=text_schema(params.seq_len, vocab_id_type(vocab)),
        vocab=vocab,
        units=units,
        unit_count=len(units),
        splits=splits,
        process=process_unit,
        sources=_sources(root, files),
        finalize=lambda _results: {"text": text_section},
        card=text_card(
            "Penn Treebank (characters)",
            "The Penn Treebank language-modelling files of Mikolov's simple-examples, as "
            "character sequences (Graves 2013, section 3.1). Text: LDC licence terms apply.",
        ),
        on_bad_input=on_bad_input,
        overwrite=overwrite,
    )
    return run_build(job, execution)


# --- where the release is published: `graves-data download ptb` --------------------------------

# Mikolov's RNNLM page serves simple-examples.tgz with no size or checksum beside it; its size,
# 34,869,662 bytes, is the one the widely used loaders (TensorFlow's PTB tutorial among them)
# check, so it is checked here too, and SOURCES.json records the sha256 of what came.
DOWNLOADS = DownloadSpec(
    corpus=NAME,
    base_url="http://www.fit.vutbr.cz/~imikolov/rnnlm/",
    files=(RemoteFile(ARCHIVE, ARCHIVE, size=34_869_662),),
    homepage="http://www.fit.vutbr.cz/~imikolov/rnnlm/",
    notes="no published size or checksum; the size is the one common loaders check",
)


def _generator() -> Generator:
    from graves_data.synth.text import PtbSynthParams, write_ptb

    return Generator(PtbSynthParams, write_ptb)


SPEC = CorpusSpec(
    name=NAME,
    summary="Penn Treebank LM files as character sequences (train / valid / test)",
    params=PtbParams,
    build=build,
    generator=_generator,
    downloads=DOWNLOADS,
)
