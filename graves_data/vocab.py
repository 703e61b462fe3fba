"""Symbol vocabularies: characters (code points) or bytes, with counts and reserved ids.

Order is stable and documented: reserved symbols first (in the order given), then the symbols
sorted by code point (characters) or byte value (bytes). Built from the training split only.
`vocab.json` lists the symbols in id order with their counts.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from graves_data.errors import DatasetError
from graves_data.schema import strict_json
from graves_data.shards import VOCAB, read_json
from graves_data.storage import Location

UNK = "<unk>"
VocabKind = Literal["char", "byte"]


def id_type(vocab_size: int) -> pa.DataType:
    """The width of symbol ids, everywhere (shards, encoders, verify): uint8 where the
    vocabulary fits a byte, uint16 where it fits two, uint32 beyond."""
    if vocab_size <= 256:
        return pa.uint8()
    if vocab_size <= 65536:
        return pa.uint16()
    return pa.uint32()


_ID_DTYPES: dict[int, np.dtype[Any]] = {
    8: np.dtype(np.uint8),
    16: np.dtype(np.uint16),
    32: np.dtype(np.uint32),
}


@dataclass(frozen=True)
class Vocab:
    kind: VocabKind
    symbols: tuple[str, ...]
    counts: tuple[int, ...]
    reserved: tuple[str, ...] = ()
    _index: dict[str, int] = field(init=False, repr=False, compare=False)
    # the one-character symbols' code points, sorted (and one past the last), with their ids
    _codes: npt.NDArray[np.uint32] = field(init=False, repr=False, compare=False)
    _code_ids: npt.NDArray[np.int64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.symbols) != len(self.counts):
            raise ValueError("symbols and counts differ in length")
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError("duplicate symbols in vocabulary")
        if tuple(self.symbols[: len(self.reserved)]) != tuple(self.reserved):
            raise ValueError("reserved symbols must come first")
        object.__setattr__(self, "_index", {s: i for i, s in enumerate(self.symbols)})
        chars = sorted((ord(s), i) for s, i in self._index.items() if len(s) == 1)
        codes = np.asarray([c for c, _ in chars] + [0x110000], dtype=np.uint32)
        object.__setattr__(self, "_codes", codes)
        object.__setattr__(self, "_code_ids", np.asarray([i for _, i in chars] + [0], np.int64))

    def __len__(self) -> int:
        return len(self.symbols)

    @property
    def unk_id(self) -> int | None:
        return self._index.get(UNK) if UNK in self.reserved else None

    @property
    def id_type(self) -> pa.DataType:
        return id_type(len(self))

    @property
    def id_dtype(self) -> np.dtype[Any]:
        return _ID_DTYPES[self.id_type.bit_width]

    def id_of(self, symbol: str) -> int | None:
        return self._index.get(symbol)

    def encode(self, text: str) -> npt.NDArray[np.unsignedinteger[Any]]:
        """Character ids of `text` (of `id_dtype`); symbols outside the vocabulary map to
        <unk>."""
        return self.encode_many([text])[0]

    def encode_many(self, texts: Sequence[str]) -> list[npt.NDArray[np.unsignedinteger[Any]]]:
        """`encode` of each text, all looked up at once: the code points of the joined texts
        found among the vocabulary's one-character symbols by one search (a build encodes a
        unit's texts in one call). Raises for the first unknown symbol where no <unk> is
        reserved."""
        codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), np.uint32)
        known, ids = self._codes, self._code_ids
        where = np.searchsorted(known, codes)
        found = known[where] == codes
        unk = self.unk_id
        if unk is None and not found.all():
            char = chr(int(codes[np.flatnonzero(~found)[0]]))
            raise ValueError(f"symbol {char!r} not in vocabulary and no {UNK} reserved")
        out = np.where(found, ids[where], unk if unk is not None else 0).astype(self.id_dtype)
        return np.split(out, np.cumsum([len(text) for text in texts])[:-1]) if texts else []

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.symbols[i] for i in ids)

    def byte_table(self) -> npt.NDArray[np.int32]:
        """Lookup table byte value -> id (-1 where absent), for vectorised byte encoding."""
        if self.kind != "byte":
            raise ValueError("byte_table needs a byte vocabulary")
        table = np.full(256, -1, dtype=np.int32)
        for i, symbol in enumerate(self.symbols):
            if symbol not in self.reserved:
                table[ord(symbol)] = i
        return table

    def with_counts(self, counts: Mapping[str, int]) -> Vocab:
        return Vocab(
            self.kind,
            self.symbols,
            tuple(int(counts.get(s, 0)) for s in self.symbols),
            self.reserved,
        )

    def to_json(self) -> dict[str, Any]:
        entries = []
        for i, (symbol, count) in enumerate(zip(self.symbols, self.counts, strict=True)):
            entry: dict[str, Any] = {"id": i, "symbol": symbol, "count": count}
            if self.kind == "byte" and symbol not in self.reserved:
                entry["byte"] = ord(symbol)
            entries.append(entry)
        return {
            "kind": self.kind,
            "size": len(self),
            "reserved": {name: self.symbols.index(name) for name in self.reserved},
            "order": "reserved first, then by code point"
            if self.kind == "char"
            else "reserved first, then by byte value",
            "symbols": entries,
        }

    def to_bytes(self) -> bytes:
        return (strict_json(self.to_json(), indent=1) + "\n").encode()

    def sha256(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @staticmethod
    def read(dataset: Location) -> Vocab:
        """The `vocab.json` of the dataset folder `dataset`; a DatasetError naming it where
        it is missing or malformed."""
        return Vocab.from_json(read_json(dataset.join(VOCAB)))

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Vocab:
        try:
            kind = data["kind"]
            entries = sorted(data["symbols"], key=lambda e: int(e["id"]))
            reserved_map = dict(data.get("reserved", {}))
        except (KeyError, TypeError) as exc:
            raise DatasetError(f"vocab.json: malformed ({exc})") from exc
        if kind not in ("char", "byte"):
            raise DatasetError(f"vocab.json: unknown kind {kind!r}")
        if [int(e["id"]) for e in entries] != list(range(len(entries))):
            raise DatasetError("vocab.json: ids are not 0..n-1")
        reserved = tuple(sorted(reserved_map, key=lambda name: int(reserved_map[name])))
        return Vocab(
            kind,
            tuple(str(e["symbol"]) for e in entries),
            tuple(int(e["count"]) for e in entries),
            reserved,
        )


def build_vocab(
    counts: Mapping[str, int],
    kind: VocabKind = "char",
    reserved: tuple[str, ...] = (UNK,),
    min_count: int = 1,
    coverage: float = 1.0,
) -> Vocab:
    """A vocabulary from symbol counts of the training split.

    `min_count` drops symbols seen fewer times; `coverage` keeps the most frequent symbols
    until that fraction of all occurrences is covered. Dropped symbols map to <unk>, which
    must then be reserved.
    """
    if not 0.0 < coverage <= 1.0:
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    kept = {s: c for s, c in counts.items() if c >= min_count and s not in reserved}
    if coverage < 1.0:
        kept = _by_coverage(kept, coverage)
    if (
        len(kept) < sum(1 for s, c in counts.items() if c > 0 and s not in reserved)
        and UNK not in reserved
    ):
        raise ValueError("symbols were cut from the vocabulary but no <unk> is reserved for them")
    ordered = sorted(kept, key=ord)
    symbols = tuple(reserved) + tuple(ordered)
    unk_count = sum(c for s, c in counts.items() if s not in kept and s not in reserved)
    all_counts = tuple(
        [unk_count if r == UNK else 0 for r in reserved] + [kept[s] for s in ordered]
    )
    return Vocab(kind, symbols, all_counts, tuple(reserved))


def _by_coverage(counts: Mapping[str, int], coverage: float) -> dict[str, int]:
    total = sum(counts.values())
    kept: dict[str, int] = {}
    covered = 0
    for symbol, count in sorted(counts.items(), key=lambda item: (-item[1], ord(item[0]))):
        if total and covered / total >= coverage:
            break
        kept[symbol] = count
        covered += count
    return kept


def count_symbols(texts: Iterable[str]) -> Counter[str]:
    counter: Counter[str] = Counter()
    for text in texts:
        counter.update(text)
    return counter
