"""One module per corpus, and the registry the CLI builds its commands from.

A new corpus is one new module exposing a `SPEC` (`graves_data.corpus.CorpusSpec`) and one entry
here. Nothing registers itself on import: what exists is this dict.
"""

from __future__ import annotations

from graves_data.corpora import enwik8, iam_ondb, ink, ptb, wikipedia
from graves_data.corpus import CorpusSpec

CORPORA: dict[str, CorpusSpec] = {
    iam_ondb.SPEC.name: iam_ondb.SPEC,
    enwik8.SPEC.name: enwik8.SPEC,
    ptb.SPEC.name: ptb.SPEC,
    wikipedia.SPEC.name: wikipedia.SPEC,
    ink.SPEC.name: ink.SPEC,
}


def get(name: str) -> CorpusSpec:
    from graves_data.errors import UsageError

    try:
        return CORPORA[name]
    except KeyError:
        known = ", ".join(sorted(CORPORA))
        raise UsageError(f"unknown corpus {name!r} (known: {known})") from None
