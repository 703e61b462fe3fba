"""What a user's code calls, by corpus name: the same registry the CLI reads.

`graves_data` re-exports these (lazily), so user code needs one import:

    import graves_data as gd

    manifest = gd.build("iam-ondb", "raw/iam-ondb", "datasets/iam-ondb",
                        gd.IamParams(split="official"), execution=gd.Execution(workers=2))
    report = gd.verify("datasets/iam-ondb")
"""

from __future__ import annotations

import os
from typing import Any

from graves_data.corpora import CORPORA, get
from graves_data.corpora.enwik8 import Enwik8Params as Enwik8Params
from graves_data.corpora.iam_ondb import IamParams as IamParams
from graves_data.corpora.ink import InkParams as InkParams
from graves_data.corpora.ptb import PtbParams as PtbParams
from graves_data.corpora.wikipedia import WikipediaParams as WikipediaParams
from graves_data.corpus import CorpusSpec, OnBadInput
from graves_data.errors import UsageError
from graves_data.manifest import Manifest
from graves_data.pipelines.job import Execution
from graves_data.storage import Location


def corpora() -> dict[str, CorpusSpec]:
    """Every registered corpus, by name."""
    return dict(CORPORA)


def build(
    corpus: str,
    raw: str | Location,
    out: str | Location | None = None,
    params: Any = None,
    *,
    execution: Execution | None = None,
    on_bad_input: OnBadInput = "skip",
    overwrite: bool = False,
) -> Manifest:
    """Build `corpus` (a registry name: "iam-ondb", "enwik8", "ptb", "wikipedia") from its raw
    release at `raw` into `out` (default `datasets/<corpus>`); return the manifest. `params` is
    the corpus's params dataclass (its defaults when None)."""
    spec = get(corpus)
    if params is not None and not isinstance(params, spec.params):
        raise UsageError(
            f"{corpus} takes {spec.params.__name__} parameters, not {type(params).__name__}"
        )
    manifest: Manifest = spec.build(  # type: ignore[assignment]
        raw,
        out if out is not None else f"datasets/{corpus}",
        params if params is not None else spec.params(),
        execution=execution,
        on_bad_input=on_bad_input,
        overwrite=overwrite,
    )
    return manifest


def synth(
    corpus: str,
    out: str | os.PathLike[str],
    params: Any = None,
    *,
    overwrite: bool = False,
    progress: bool = False,
) -> None:
    """Generate a corpus in its release's own layout into `out` (its generator's defaults
    when `params` is None)."""
    spec = get(corpus)
    if spec.generator is None:
        raise UsageError(f"{corpus} has no generator")
    made = spec.generator()
    chosen = params if params is not None else made.params()
    made.write(out, chosen, overwrite=overwrite, progress=progress)
