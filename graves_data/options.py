"""Click options from dataclass fields: the one layer between a params (or config) dataclass
and the command line, for the data commands and the model commands alike.

Each field gives one option: `--field-name`, its type from the annotation (int, float, str,
bool as a `--x/--no-x` flag, a Literal as a choice, `X | None` as X), its default, and its help
from `metadata["help"]`. A field with `metadata["cli"] = False` has no option. So the CLI and
the Python API cannot drift apart: both are the dataclass.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, get_args, get_origin

import click

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def click_type(annotation: Any) -> tuple[Any, bool]:
    """(click type, is_flag) for a field annotation."""
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        if len(inner) == 1:
            return click_type(inner[0])
    if origin is Literal:
        return click.Choice([str(a) for a in get_args(annotation)]), False
    if annotation is bool:
        return bool, True
    if annotation in (int, float, str):
        return annotation, False
    raise TypeError(f"no CLI type for the field annotation {annotation!r}")


def dataclass_options(cls: type) -> Decorator:
    """Decorator adding one click option per (CLI) field of the dataclass `cls`."""
    hints = typing.get_type_hints(cls)

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        for item in reversed(dataclasses.fields(cls)):
            if not item.metadata.get("cli", True):
                continue
            kind, is_flag = click_type(hints[item.name])
            flag = "--" + item.name.replace("_", "-")
            decls = [f"{flag}/--no-{flag[2:]}"] if is_flag else [flag]
            function = click.option(
                *decls,
                item.name,
                type=None if is_flag else kind,
                default=item.default,
                help=item.metadata.get("help", ""),
                show_default=item.default is not None,
            )(function)
        return function

    return decorate


def field_values(cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of `values` (a command's keyword arguments) that are fields of `cls`."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in values.items() if k in names}


def from_options(cls: type, values: Mapping[str, Any]) -> Any:
    """An instance of the dataclass `cls` from a command's keyword arguments."""
    return cls(**field_values(cls, values))
