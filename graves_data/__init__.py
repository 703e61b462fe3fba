"""graves-data: the corpora of Graves (2013) as clean, versioned, sharded Parquet.

The public API, loaded on first use (so `import graves_data` stays light):

- `build(corpus, raw, out, params, *, execution, on_bad_input, overwrite)` -> manifest;
  `synth(corpus, out, params)`; `download(corpus, to, ...)`; `corpora()`, the registry;
- `open_dataset(path)`, `verify(path)` -> report;
- `Execution` (workers, scheduler or dask client, progress), and the params classes
  `IamParams`, `InkParams`, `Enwik8Params`, `PtbParams`, `WikipediaParams`;
- the types `Manifest`, `Normalization`, `Vocab`, and `GravesDataError` (every error raised
  on purpose).
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("graves-data")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from graves_data.api import Enwik8Params as Enwik8Params
    from graves_data.api import IamParams as IamParams
    from graves_data.api import InkParams as InkParams
    from graves_data.api import PtbParams as PtbParams
    from graves_data.api import WikipediaParams as WikipediaParams
    from graves_data.api import build as build
    from graves_data.api import corpora as corpora
    from graves_data.api import synth as synth
    from graves_data.download.run import download as download
    from graves_data.errors import GravesDataError as GravesDataError
    from graves_data.manifest import Manifest as Manifest
    from graves_data.manifest import Normalization as Normalization
    from graves_data.pipelines.job import Execution as Execution
    from graves_data.shards import open_dataset as open_dataset
    from graves_data.verify import verify as verify
    from graves_data.vocab import Vocab as Vocab

# public name -> the core module that holds it (graves_data.api for what comes from corpora)
_EXPORTS = {
    "build": "graves_data.api",
    "corpora": "graves_data.api",
    "synth": "graves_data.api",
    "download": "graves_data.download.run",
    "open_dataset": "graves_data.shards",
    "verify": "graves_data.verify",
    "Execution": "graves_data.pipelines.job",
    "IamParams": "graves_data.api",
    "InkParams": "graves_data.api",
    "Enwik8Params": "graves_data.api",
    "PtbParams": "graves_data.api",
    "WikipediaParams": "graves_data.api",
    "Manifest": "graves_data.manifest",
    "Normalization": "graves_data.manifest",
    "Vocab": "graves_data.vocab",
    "GravesDataError": "graves_data.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'graves_data' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
