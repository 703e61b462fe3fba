"""One module per corpus, and the registry the CLI builds its commands from.

A new corpus is one new module exposing a `SPEC` (`graves_data.corpus.CorpusSpec`: params,
build, generator, downloads) and one entry here. Nothing registers itself on import: what
exists is this dict, and `build`, `synth`, `download` and `graves_data.build` all read it.
"""

from __future__ import annotations

from graves_data.corpora import enwik8, iam_ondb, ink, ptb, wikipedia
from graves_data.corpus import CorpusSpec
from graves_data.errors import UsageError

CORPORA: dict[str, CorpusSpec] = {
    iam_ondb.SPEC.name: iam_ondb.SPEC,
    enwik8.SPEC.name: enwik8.SPEC,
    ptb.SPEC.name: ptb.SPEC,
    wikipedia.SPEC.name: wikipedia.SPEC,
    ink.SPEC.name: ink.SPEC,
}


def get(name: str) -> CorpusSpec:
    """The registry entry of `name`; a clear UsageError naming the known ones otherwise."""
    try:
        return CORPORA[name]
    except KeyError:
        known = ", ".join(sorted(CORPORA))
        raise UsageError(f"unknown corpus {name!r} (known: {known})") from None
