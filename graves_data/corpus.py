"""What a corpus module provides, so the CLI and the registry treat every corpus alike.

Build and synth parameters are dataclasses: one definition gives the Python API's keyword
arguments, the CLI's options (`graves_data.cli` derives them from the fields: type, default,
`metadata["help"]`, Literal choices), and the manifest's `params`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

OnBadInput = Literal["error", "skip"]


@dataclass(frozen=True)
class CorpusSpec:
    """One registry entry: `graves-data build <name>` and `graves-data synth <name>`.

    build(raw, out, params, *, execution, on_bad_input, overwrite) -> manifest
    synth(out, params) -> None   (writes a corpus in the release's own layout)
    """

    name: str
    summary: str
    params: type
    build: Callable[..., Mapping[str, Any]]
    synth_params: type | None = None
    synth: Callable[..., Any] | None = None


def params_dict(params: Any) -> dict[str, Any]:
    """A params dataclass as the plain dict stored in manifests and file metadata."""
    if not dataclasses.is_dataclass(params) or isinstance(params, type):
        raise TypeError(f"expected a params dataclass instance, got {type(params).__name__}")
    return dataclasses.asdict(params)


def param(default: Any, help: str) -> Any:
    """A params field with its CLI help text."""
    return dataclasses.field(default=default, metadata={"help": help})
