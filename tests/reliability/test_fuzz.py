"""The fuzz targets in `make test`: every kept input (seeds, and what fuzzing found) replayed,
and hypothesis's mutations of them as a fuzzer that needs no atheris.

The coverage-guided run is `make fuzz` (tests/reliability/fuzz.py, atheris); an input it finds
is fixed, then kept in `corpus/<target>/`, where the first test here replays it forever.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.fuzz_targets import TARGETS

CORPUS = Path(__file__).resolve().parent / "corpus"
KEPT = sorted(p for p in CORPUS.rglob("*") if p.is_file())
# the tokens the readers branch on: mutations splice them in
TOKENS = [
    b"<!DOCTYPE x [<!ENTITY e 'v'>]>",
    b"&e;",
    b"&amp;",
    b"<![CDATA[<Point/>]]>",
    b"<!-- c -->",
    b"<?pi x?>",
    b"<Stroke>",
    b"</Stroke>",
    b"<Stroke/>",
    b"<StrokeSet>",
    b"</StrokeSet>",
    b'<Point x="1" y="2" time="3.00"/>',
    b'x="NaN"',
    b'y="-inf"',
    b'time="0.00"',
    b"99999999999999999999",
    b"-0",
    b"1e309",
    b":",
    b"\x00",
    b"\xff\xfe",
    b"\xc3\xa9",
    b"\x93",
    b"CSR:",
    b"OCR:",
    b"\r\n",
    b"<General><Form writerID=' 1 '/></General>",
    b'<?xml version="1.0" encoding="UTF-16"?>',
    b' xmlns="urn:x"',
    b' xmlns:a="urn:x"',
    b"a:",
    b"1_143",
]


def test_the_kept_corpus_is_there() -> None:
    assert {p.parent.name for p in KEPT} == set(TARGETS)


@pytest.mark.parametrize("path", KEPT, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_kept_inputs_replay(path: Path) -> None:
    TARGETS[path.parent.name](path.read_bytes())


@st.composite
def mutated(draw: st.DrawFn, target: str) -> bytes:
    """A kept input of `target`, cut, flipped, spliced and repeated at random."""
    seeds = [p.read_bytes() for p in KEPT if p.parent.name == target]
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        where = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "cut", "token", "bytes", "repeat"]))
        if kind == "flip" and data:
            data[min(where, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del data[where : where + draw(st.integers(1, 64))]
        elif kind == "token":
            data[where:where] = draw(st.sampled_from(TOKENS))
        elif kind == "bytes":
            data[where:where] = draw(st.binary(min_size=1, max_size=16))
        else:
            data[where:where] = data[where : where + draw(st.integers(1, 80))]
    return bytes(data)


MUTATIONS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_mutated_inputs_give_records_or_bad_input(target: str) -> None:
    @MUTATIONS
    @given(data=mutated(target))
    def run(data: bytes) -> None:
        TARGETS[target](data)

    run()


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_arbitrary_bytes_give_records_or_bad_input(target: str) -> None:
    @MUTATIONS
    @given(data=st.binary(max_size=512))
    def run(data: bytes) -> None:
        TARGETS[target](data)

    run()
