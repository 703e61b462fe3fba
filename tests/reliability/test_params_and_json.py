"""Every number option is finite and in range, for the CLI and the Python API alike, and every
JSON file graves-data writes is strict JSON (no `NaN`, no `Infinity`).

`--spike-threshold nan` passed the check `> 0` (NaN fails every comparison, so it passes every
"not less than" test), switched spike removal off without a word, and put `NaN` into
manifest.json, which no JSON reader but Python's accepts.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import typing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from graves_data.cli import main
from graves_data.corpora import CORPORA
from graves_data.corpus import Params, param
from graves_data.errors import UsageError
from graves_data.schema import canonical_json, strict_json
from graves_data.shards import manifest_bytes
from graves_data.synth.text import PtbSynthParams, write_ptb

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIRS = ("graves_data", "corpora", "pipelines", "models")


def params_classes() -> list[type]:
    found: list[type] = []
    for spec in CORPORA.values():
        found.append(spec.params)
        if spec.generator is not None:
            found.append(spec.generator().params)
    return found


def float_fields() -> list[tuple[type, str]]:
    cases = []
    for cls in params_classes():
        hints = typing.get_type_hints(cls)
        for item in dataclasses.fields(cls):
            options = typing.get_args(hints[item.name]) or (hints[item.name],)
            if float in options:
                cases.append((cls, item.name))
    return cases


def test_every_params_class_is_checked_on_construction() -> None:
    """The one validator runs wherever a params object is made: every corpus's build and
    synth parameters derive from Params."""
    for cls in params_classes():
        assert issubclass(cls, Params), f"{cls.__name__} is not checked"
        cls()  # the defaults themselves are valid


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(("cls", "name"), float_fields(), ids=lambda v: getattr(v, "__name__", v))
def test_no_float_option_takes_a_non_finite_value(cls: type, name: str, bad: float) -> None:
    flag = "--" + name.replace("_", "-")
    with pytest.raises(UsageError, match=rf"^{re.escape(flag)} must be a finite number, got"):
        cls(**{name: bad})


def test_float_fields_are_found() -> None:
    """The parametrised test above covers real fields (it would pass vacuously on none)."""
    names = {(cls.__name__, name) for cls, name in float_fields()}
    assert {("IamParams", "spike_threshold"), ("Enwik8Params", "coverage")} <= names
    assert ("WikipediaParams", "valid_fraction") in names
    assert ("IamSynthParams", "defects") in names


@pytest.mark.parametrize(
    ("corpus", "values", "message"),
    [
        ("enwik8", {"coverage": 1.5}, "--coverage must be <= 1, got 1.5"),
        ("enwik8", {"coverage": 0.0}, "--coverage must be > 0, got 0.0"),
        ("enwik8", {"shard_mb": 0.0}, "--shard-mb must be > 0, got 0.0"),
        ("ptb", {"seq_len": 0}, "--seq-len must be >= 1, got 0"),
        ("ptb", {"min_count": 0}, "--min-count must be >= 1, got 0"),
        ("enwik8", {"seq_len": 100.0}, "--seq-len must be a whole number, got 100.0"),
        ("enwik8", {"split": "papers"}, "--split must be one of paper, standard, got 'papers'"),
        ("ptb", {"coverage": True}, "--coverage must be a number, got True"),
    ],
)
def test_bounds_types_and_choices(corpus: str, values: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        CORPORA[corpus].params(**values)
    assert str(caught.value) == message


def test_check_params_reads_the_bounds_of_param() -> None:
    @dataclasses.dataclass(frozen=True)
    class Example(Params):
        rate: float = param(0.5, "a rate", ge=0, lt=1)
        count: int | None = param(None, "a count", gt=0)

    Example(rate=0.0, count=3)
    Example(count=None)
    for values, problem in [
        ({"rate": 1.0}, "--rate must be < 1"),
        ({"rate": -0.1}, "--rate must be >= 0"),
        ({"count": 0}, "--count must be > 0"),
    ]:
        with pytest.raises(UsageError, match=problem):
            Example(**values)
    with pytest.raises(UsageError, match="--rate must be a finite number"):
        dataclasses.replace(Example(), rate=math.nan)  # replace() checks as well


def test_the_cli_refuses_nan_in_one_line_before_reading_anything(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    args = ["build", "iam-ondb", "--raw", str(tmp_path / "absent"), "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--spike-threshold", "nan", "--quiet"])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == "error: --spike-threshold must be a finite number, got nan"
    assert not out.exists()


def test_synth_options_are_checked_too(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["synth", "iam-ondb", "--out", str(tmp_path / "raw"), "--defects", "inf"]
    )
    assert result.exit_code == 2
    assert "--defects must be a finite number, got inf" in result.output


# ---------------------------------------------------------------------------------------------
# strict JSON


def test_strict_json_names_where_a_non_finite_number_is() -> None:
    with pytest.raises(ValueError, match=r"^\$\.params\.spike\[1\]: not a finite number"):
        strict_json({"params": {"spike": [1.0, math.nan]}})
    with pytest.raises(ValueError, match=r"\$\.x"):
        canonical_json({"x": -math.inf})
    with pytest.raises(ValueError, match=r"\$\.normalization\.std\[0\]"):
        manifest_bytes({"normalization": {"std": [math.inf, 1.0]}})
    assert json.loads(strict_json({"a": [1.5, "é"]})) == {"a": [1.5, "é"]}
    assert "é" in strict_json("é")  # UTF-8 text, as the files always were


# keys and strings with what JSON must escape (quotes, backslashes, newlines, braces and the
# separators' own characters), numbers of every kind, and records (dicts of scalars) in lists
TEXT = st.text(alphabet=st.sampled_from(list('ab{}[],:" \\\n\té\u2028\x00')), max_size=6)
SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), TEXT
)
RECORD = st.dictionaries(TEXT, SCALAR, max_size=4)
JSONISH = st.recursive(
    st.one_of(SCALAR, RECORD, st.lists(RECORD, max_size=4)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(TEXT, inner, max_size=4),
        st.dictionaries(st.integers(-3, 3), inner, max_size=3),  # keys json turns into text
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(
    JSONISH,
    st.sampled_from([0, 1, 2, 4]),
    st.booleans(),
    st.booleans(),
)
def test_indented_strict_json_is_json_dumps_text(
    value: Any, indent: int, sort_keys: bool, ensure_ascii: bool
) -> None:
    """strict_json with an indent writes through json's C encoder (the pure-Python one that
    `indent` selects was most of a large manifest's write): the text must be json.dumps's."""
    options = {"indent": indent, "sort_keys": sort_keys, "ensure_ascii": ensure_ascii}
    try:
        expected = json.dumps(value, allow_nan=False, **options)
    except TypeError:  # sort_keys over keys of mixed types: both refuse
        with pytest.raises(TypeError):
            strict_json(value, **options)
        return
    assert strict_json(value, **options) == expected


def test_indented_strict_json_of_a_manifest_like_value() -> None:
    sources = [{"path": f"a/{i}.xml", "size": i, "sha256": "0" * 64} for i in range(50)]
    value = {"sources": sources, "splits": {"train": {"files": ["x"], "rows": 3}}, "q": []}
    assert (
        manifest_bytes(value) == (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()
    )


def test_every_json_writer_goes_through_strict_json() -> None:
    """No module of the package writes JSON with json.dump/json.dumps itself (whose default
    writes NaN); graves_data/schema.py's strict_json is the one place that calls it."""
    offenders = []
    for folder in PACKAGE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if re.search(r"\bjson\.dumps?\(", line) and rel != "graves_data/schema.py":
                    offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_a_built_manifest_is_strict_json(tmp_path: Path) -> None:
    from graves_data.corpora import ptb
    from graves_data.pipelines.runner import Execution

    raw = write_ptb(tmp_path / "raw", PtbSynthParams(lines=50, vocab=50))
    ptb.build(str(raw), str(tmp_path / "ds"), execution=Execution(workers=1, progress=False))

    def refuse(word: str) -> None:
        raise AssertionError(f"{word} in manifest.json")

    for name in ("manifest.json", "vocab.json"):
        json.loads((tmp_path / "ds" / name).read_text(), parse_constant=refuse)
