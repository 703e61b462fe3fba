"""The one-parse proof of a batch's rests gives, file for file, the per-file proof's answer.

The per-file proof (`rest_is_well_formed`, one lxml parse each) is the definition; the batch
joins the rests into one document, so a batch must not let one file's unclosed element be
closed by the next, text after a root pass as content, or a file's own marker-named element
stand in for the markers.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graves_data.corpora.iam_ondb.restproof import rest_is_well_formed, rests_are_well_formed

HEAD = b'<?xml version="1.0" encoding="ISO-8859-1"?>\n'
GOOD = (
    HEAD
    + b"<WhiteboardCaptureSession>\n  <StrokeSet>\n  </StrokeSet>\n</WhiteboardCaptureSession>\n"
)


def span(data: bytes) -> tuple[int, int]:
    """The first <StrokeSet> and the last </StrokeSet> (the fast reader's span; -1 if none:
    such a file never reaches the proof, but the functions must still agree on it)."""
    return data.find(b"<StrokeSet>"), data.rfind(b"</StrokeSet>")


def batch_answers(datas: list[bytes]) -> list[bool]:
    return rests_are_well_formed(datas, [span(d) for d in datas])


def file_answers(datas: list[bytes]) -> list[bool]:
    return [rest_is_well_formed(d, *span(d)) for d in datas]


def test_release_form_files_pass_in_one_batch() -> None:
    datas = [GOOD, GOOD.replace(b"\n", b"\r\n"), GOOD[len(HEAD) :], b"  " + GOOD[len(HEAD) :]]
    assert batch_answers(datas) == [True, True, True, True]


ADVERSARIAL = [
    # an unclosed root, closed by the next file's first bytes, which then opens its own
    [
        HEAD + b"<WhiteboardCaptureSession><StrokeSet></StrokeSet>",
        HEAD
        + b"</WhiteboardCaptureSession><_/><WhiteboardCaptureSession><StrokeSet></StrokeSet>"
        + b"</WhiteboardCaptureSession>",
    ],
    # text after the root: content inside an element, an error after a document's root
    [GOOD + b"junk", GOOD],
    [GOOD, b"junk" + GOOD[len(HEAD) :]],
    # two roots in one file, none in the next
    [GOOD + GOOD[len(HEAD) :], HEAD + b"  "],
    # a file's own element named like the markers (well formed alone: the batch must see it)
    [HEAD + b"<_/>" + GOOD[len(HEAD) :], GOOD],
    [GOOD.replace(b"<StrokeSet>", b"<_/><StrokeSet>"), GOOD],
    # a namespaced root, another root name, a nested or second StrokeSet
    [GOOD.replace(b"<WhiteboardCaptureSession>", b'<WhiteboardCaptureSession xmlns="urn:x">')],
    [GOOD.replace(b"WhiteboardCaptureSession", b"Session")],
    [GOOD.replace(b"</StrokeSet>", b"</StrokeSet><A><StrokeSet/></A>")],
    [GOOD.replace(b"</StrokeSet>", b"</StrokeSet><StrokeSet/>")],
    # declarations: another version, one lxml has something to say about, a bad start
    [GOOD.replace(b'version="1.0"', b'version="1.1"'), GOOD],
    [GOOD.replace(b'encoding="ISO-8859-1"', b'encoding="latin-1"'), GOOD],
    [GOOD.replace(b'encoding="ISO-8859-1"', b'encoding="latin1"'), GOOD],
    [b"\xef\xbb\xbf" + GOOD[len(HEAD) :], GOOD],
    [b" " + GOOD, GOOD],
    # bytes outside ASCII, in either encoding
    [GOOD.replace(b"<StrokeSet>", b'<A v="\xe9"/><StrokeSet>'), GOOD],
    [GOOD.replace(b"ISO-8859-1", b"UTF-8").replace(b"<StrokeSet>", b'<A v="\xe9"/><StrokeSet>')],
    [
        GOOD.replace(b"ISO-8859-1", b"US-ASCII").replace(
            b"<StrokeSet>", b'<A v="\xc3\xa9"/><StrokeSet>'
        )
    ],
    # an element left open or closed twice, an unbound prefix, a duplicate attribute
    [GOOD.replace(b"</WhiteboardCaptureSession>", b""), GOOD],
    [GOOD + b"</WhiteboardCaptureSession>", GOOD],
    [GOOD.replace(b"<StrokeSet>", b"<p:A/><StrokeSet>"), GOOD],
    [GOOD.replace(b"<StrokeSet>", b'<A a="1" a="2"/><StrokeSet>'), GOOD],
    # a file that ends the outer document early
    [GOOD + b"</_>", GOOD],
]


@pytest.mark.parametrize("datas", ADVERSARIAL)
def test_a_batch_answers_as_each_file_alone(datas: list[bytes]) -> None:
    expected = file_answers(datas)
    assert batch_answers(datas) == expected
    assert batch_answers([GOOD, *datas, GOOD]) == [True, *expected, True]


FRAGMENTS = [
    b"<WhiteboardCaptureSession>",
    b"</WhiteboardCaptureSession>",
    b"<StrokeSet>",
    b"</StrokeSet>",
    b"<_/>",
    b"<_>",
    b"</_>",
    b"<A/>",
    b"<A>",
    b"</A>",
    b"\n  ",
    b"x",
    b"<StrokeSet/>",
    HEAD,
]


@given(
    st.lists(
        st.one_of(
            st.just(GOOD),
            st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=8).map(b"".join),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_batch_of_fragments_answers_as_each_file_alone(datas: list[bytes]) -> None:
    assert batch_answers(datas) == file_answers(datas)
