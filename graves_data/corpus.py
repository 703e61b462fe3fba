"""What a corpus module provides, so the CLI and the registry treat every corpus alike.

A corpus's registry entry (`CorpusSpec`) carries everything about it: its build parameters and
build function, its generator (for `synth`) and what its publisher serves (for `download`).
`graves-data build`, `synth`, `download` and the Python API all read it, and nothing else names
a corpus. The generator is registered lazily, as a function that imports it: the generators
(thousands of lines, and HersheyFonts) load only when `synth` runs.

Build and synth parameters are dataclasses: one definition gives the Python API's keyword
arguments, the CLI's options (`graves_data.options` derives them from the fields: type,
default, `metadata["help"]`, Literal choices), and the manifest's `params`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from graves_data.download.spec import DownloadSpec

OnBadInput = Literal["error", "skip"]


@dataclass(frozen=True)
class Generator:
    """A corpus's generator: `write(out, params, *, overwrite, progress)` writes a corpus in
    the release's own layout, from a `params` dataclass."""

    params: type
    write: Callable[..., Any]


@dataclass(frozen=True)
class CorpusSpec:
    """One registry entry: `graves-data build|synth|download <name>` and the Python API.

    build(raw, out, params, *, execution, on_bad_input, overwrite) -> manifest
    generator() -> Generator   (imports the generator; None where the corpus has none)
    downloads: where the release is published (None where it cannot be downloaded)
    """

    name: str
    summary: str
    params: type
    build: Callable[..., Mapping[str, Any]]
    generator: Callable[[], Generator] | None = None
    downloads: DownloadSpec | None = None


def params_dict(params: Any) -> dict[str, Any]:
    """A params dataclass as the plain dict stored in manifests and file metadata."""
    if not dataclasses.is_dataclass(params) or isinstance(params, type):
        raise TypeError(f"expected a params dataclass instance, got {type(params).__name__}")
    return dataclasses.asdict(params)


def param(default: Any, help: str) -> Any:
    """A params field with its CLI help text."""
    return dataclasses.field(default=default, metadata={"help": help})
