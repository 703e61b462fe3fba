"""What a corpus module provides, so the CLI and the registry treat every corpus alike.

A corpus's registry entry (`CorpusSpec`) carries everything about it: its build parameters and
build function, its generator (for `synth`) and what its publisher serves (for `download`).
`graves-data build`, `synth`, `download` and the Python API all read it, and nothing else names
a corpus. The generator is registered lazily, as a function that imports it: the generators
(thousands of lines, and HersheyFonts) load only when `synth` runs.

Build and synth parameters are dataclasses: one definition gives the Python API's keyword
arguments, the CLI's options (`graves_data.options` derives them from the fields: type,
default, `metadata["help"]`, Literal choices), and the manifest's `params`. Each derives from
`Params`, so an instance is checked as it is made (`check_params`: numbers finite and within
their `param()` bounds, Literal choices), for the CLI and the Python API alike.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from graves_data.download.spec import DownloadSpec

from graves_data.errors import UsageError

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


def param(
    default: Any,
    help: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
) -> Any:
    """A params field with its CLI help text and, for a number, the bounds it must keep
    (`ge` >=, `gt` >, `le` <=, `lt` <); `check_params` enforces them."""
    bounds = {k: v for k, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if v is not None}
    return dataclasses.field(default=default, metadata={"help": help, "bounds": bounds})


class Params:
    """Base of every params dataclass (build and synth): an instance is checked when it is
    made, so the CLI (which makes one from its options) and the Python API refuse the same
    values, before any input is read and long before a manifest is written."""

    def __post_init__(self) -> None:
        check_params(self)


_BOUND_TEXT = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
_BOUND_OK: dict[str, Callable[[float, float], bool]] = {
    "ge": lambda v, b: v >= b,
    "gt": lambda v, b: v > b,
    "le": lambda v, b: v <= b,
    "lt": lambda v, b: v < b,
}


def check_params(params: Any) -> None:
    """Refuse a params value that cannot work, naming its CLI option.

    Every number must be of its field's type and finite (NaN passes every `>` and `<` test,
    so each is refused outright, as are infinities) and within its `param()` bounds; a Literal
    field must hold one of its choices. Raises UsageError.
    """
    hints = typing.get_type_hints(type(params))
    for item in dataclasses.fields(params):
        value = getattr(params, item.name)
        problem = _field_problem(value, hints[item.name], item.metadata.get("bounds", {}))
        if problem is not None:
            flag = "--" + item.name.replace("_", "-")
            raise UsageError(f"{flag} {problem}, got {value!r}")


def _field_problem(value: Any, annotation: Any, bounds: Mapping[str, float]) -> str | None:
    options = _options(annotation)
    if value is None:
        return None if type(None) in options else "must be given"
    literal = [choice for option in options for choice in _literal_choices(option)]
    if literal:
        return None if value in literal else f"must be one of {', '.join(map(str, literal))}"
    if float in options or int in options:
        return _number_problem(value, float in options, bounds)
    return None


def _number_problem(value: Any, real: bool, bounds: Mapping[str, float]) -> str | None:
    allowed = (int, float) if real else (int,)
    if isinstance(value, bool) or not isinstance(value, allowed):
        return f"must be {'a number' if real else 'a whole number'}"
    if not math.isfinite(value):
        return "must be a finite number"
    failed = [f"{_BOUND_TEXT[k]} {b}" for k, b in bounds.items() if not _BOUND_OK[k](value, b)]
    return f"must be {' and '.join(failed)}" if failed else None


def _options(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _literal_choices(annotation: Any) -> tuple[Any, ...]:
    return typing.get_args(annotation) if typing.get_origin(annotation) is Literal else ()
