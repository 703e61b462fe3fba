"""Names, limits and the build parameters of the Wikipedia corpus."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from graves_data.corpus import Params, param

NAME = "wikipedia"


SCRATCH = "wikipedia"


READ_BLOCK = 1 << 20


HEAD_BYTES = 4 << 20


# bz2 compresses wikitext about 4:1; a scan unit of bz2 streams targets this share of shard_mb
BZ2_RATIO = 4


TextMode = Literal["raw", "plain"]


@dataclass(frozen=True)
class WikipediaParams(Params):
    """Build parameters; every field is a CLI option and goes into the manifest."""

    index: str | None = param(None, "multistream index (.txt.bz2): read the dump in parallel")
    text: TextMode = param("raw", "raw: wikitext as in the dump (as enwik8); plain: no markup")
    namespaces: str = param("0", "namespace keys to keep, comma-separated (0: articles)")
    include_title: bool = param(True, "start each page with a title line")
    valid_fraction: float = param(0.02, "share of pages in valid")
    test_fraction: float = param(0.02, "share of pages in test")
    seed: int = param(0, "seed of the page split")
    seq_len: int = param(100, "symbols per row")
    min_count: int = param(1, "characters seen fewer times in train map to <unk>")
    coverage: float = param(1.0, "keep the most frequent characters covering this fraction")
    shard_mb: float = param(
        16.0,
        "millions of symbols per shard (and per scan unit); a worker's memory grows with it: "
        "about 0.8 GB at 16, 2.5 GB at 64",
    )
