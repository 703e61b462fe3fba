"""The streaming datasets: coverage across workers and ranks, determinism, resume, bucketing,
padding and masks, normalisation, and the text streams of truncated backpropagation."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from graves_data.errors import DatasetError
from graves_data.models.config import LoaderConfig
from graves_data.models.data import (
    HandwritingStream,
    Normalization,
    TextStream,
    bucketed,
    even_ranges,
    make_loader,
    shuffled,
)
from graves_data.shards import open_dataset


def _line_ids(data: Path, split: str) -> list[str]:
    return [str(x) for x in open_dataset(str(data)).table(split, ["line_id"]).column(0).to_pylist()]


def _ids(batches: list) -> list[str]:
    return [i for b in batches for i in b.line_ids]


@pytest.mark.parametrize("shuffle", [True, False])
def test_workers_and_ranks_cover_every_row_exactly_once(
    handwriting_data: Path, shuffle: bool
) -> None:
    seen: list[str] = []
    for rank in range(2):
        stream = HandwritingStream(
            str(handwriting_data), "train", 7, shuffle=shuffle, rank=rank, world=2, epochs=1, seed=3
        )
        seen += _ids(list(make_loader(stream, workers=2)))
    assert Counter(seen) == Counter(_line_ids(handwriting_data, "train"))


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
def test_batches_do_not_depend_on_the_worker_count(handwriting_data: Path) -> None:
    def run(workers: int) -> list[tuple[str, ...]]:
        stream = HandwritingStream(str(handwriting_data), "train", 8, seed=1, epochs=2)
        return [b.line_ids for b in make_loader(stream, workers)]

    single = run(0)
    assert single == run(2) == run(3)
    assert len(single) == 2 * 12


def test_seeded_shuffle_by_seed_and_epoch(handwriting_data: Path) -> None:
    def order(seed: int, epochs: int = 1) -> list[str]:
        return _ids(
            list(HandwritingStream(str(handwriting_data), "train", 8, seed=seed, epochs=epochs))
        )

    assert order(0) == order(0)
    assert order(0) != order(1)
    two = order(0, 2)
    assert two[:96] != two[96:] and sorted(two[:96]) == sorted(two[96:])
    plain = _ids(
        list(
            HandwritingStream(
                str(handwriting_data),
                "train",
                8,
                shuffle=False,
                epochs=1,
                loader=LoaderConfig(bucket_batches=1),
            )
        )
    )
    assert plain == _line_ids(handwriting_data, "train")


def test_resume_mid_epoch_continues_the_same_sequence(handwriting_data: Path) -> None:
    whole = list(HandwritingStream(str(handwriting_data), "train", 8, seed=2, epochs=3))
    for start in (5, 12, 17):
        for workers in (0, 2):
            stream = HandwritingStream(
                str(handwriting_data), "train", 8, seed=2, epochs=3, start_batch=start
            )
            rest = list(make_loader(stream, workers))
            assert [b.line_ids for b in rest] == [b.line_ids for b in whole[start:]]
            torch.testing.assert_close(rest[0].inputs, whole[start].inputs)


def test_length_bucketing_cuts_padding(handwriting_data: Path) -> None:
    def padding(pool: int) -> float:
        stream = HandwritingStream(
            str(handwriting_data), "train", 8, loader=LoaderConfig(bucket_batches=pool), epochs=1
        )
        batches = list(stream)
        return sum(float((1 - b.mask).sum()) for b in batches) / sum(
            b.mask.numel() for b in batches
        )

    assert padding(12) < 0.5 * padding(1)


def test_padding_masks_and_normalisation(handwriting_data: Path) -> None:
    dataset = open_dataset(str(handwriting_data))
    norm = Normalization.from_manifest(dataset.manifest)
    table = dataset.table("valid")
    rows = {r["line_id"]: r for r in table.to_pylist()}
    stream = HandwritingStream(str(handwriting_data), "valid", 5, shuffle=False, epochs=1)
    for batch in stream:
        for b, line_id in enumerate(batch.line_ids):
            raw = np.asarray(rows[line_id]["offsets"], dtype=np.float32)
            n = len(raw) - 1
            points = norm.apply(raw)
            assert batch.mask[b].sum() == n and batch.mask[b, :n].all()
            np.testing.assert_allclose(batch.inputs[b, :n].numpy(), points[:-1], rtol=1e-6)
            np.testing.assert_allclose(batch.targets[b, :n].numpy(), points[1:], rtol=1e-6)
            assert not batch.inputs[b, n:].any() and not batch.targets[b, n:].any()
            np.testing.assert_array_equal(batch.targets[b, :n, 2].numpy(), raw[1:, 2])
            ids = rows[line_id]["text_ids"]
            assert batch.text[b, : len(ids)].tolist() == ids
            assert batch.text_mask[b].sum() == len(ids)
    # the normalised training steps have mean 0 and std 1
    train = np.concatenate(
        [
            norm.apply(np.asarray(o, np.float32))[1:, :2]
            for o in dataset.table("train", ["offsets"]).column(0).to_pylist()
        ]
    )
    np.testing.assert_allclose(train.mean(axis=0), [0, 0], atol=1e-4)
    np.testing.assert_allclose(train.std(axis=0), [1, 1], atol=1e-4)
    np.testing.assert_allclose(norm.invert(norm.apply(raw)), raw, atol=1e-3)


def test_max_points_cuts_long_lines(handwriting_data: Path) -> None:
    stream = HandwritingStream(
        str(handwriting_data), "train", 8, loader=LoaderConfig(max_points=20), epochs=1
    )
    assert max(b.inputs.shape[1] for b in stream) == 19


def test_a_text_dataset_is_not_a_handwriting_dataset(
    text_data: Path, handwriting_data: Path
) -> None:
    with pytest.raises(DatasetError, match="not a handwriting dataset"):
        HandwritingStream(str(text_data), "train", 4)
    with pytest.raises(DatasetError, match="not a text dataset"):
        TextStream(str(handwriting_data), "train", 4)
    with pytest.raises(DatasetError, match="no split 'nope'"):
        HandwritingStream(str(handwriting_data), "nope", 4)


def test_shuffle_buffer_and_buckets_keep_every_item() -> None:
    rng = np.random.default_rng(0)
    items = list(range(103))
    out = list(shuffled(iter(items), 10, rng))
    assert sorted(out) == items and out != items
    batches = list(bucketed(iter(out), 8, 4, lambda i: i, np.random.default_rng(1)))
    assert sorted(i for b in batches for i in b) == items
    assert [len(b) for b in batches].count(8) == 12
    assert even_ranges(10, 3) == [(0, 3), (3, 6), (6, 10)]


# ---------------------------------------------------------------------------------------------
# text


def _symbols(data: Path, split: str) -> np.ndarray:
    table = open_dataset(str(data)).table(split)
    ids = np.asarray(table.column("ids").to_pylist())
    lengths = table.column("length").to_numpy()
    return np.concatenate([row[:n] for row, n in zip(ids, lengths, strict=True)])


def test_text_streams_are_contiguous_and_cover_every_symbol_once(text_data: Path) -> None:
    symbols = _symbols(text_data, "train")
    for world in (1, 2):
        targets: list[int] = []
        for rank in range(world):
            stream = TextStream(str(text_data), "train", 3, rank=rank, world=world, epochs=1)
            batches = list(make_loader(stream, workers=2))
            for b in range(3):
                row_targets = torch.cat([x.targets[b][x.mask[b] > 0] for x in batches])
                row_inputs = torch.cat([x.inputs[b][x.mask[b] > 0] for x in batches])
                targets += row_targets.tolist()
                # inputs are the targets shifted by one: the stream is contiguous
                assert row_inputs[1:].tolist() == row_targets[:-1].tolist()
            assert bool(batches[0].reset) and not any(bool(x.reset) for x in batches[1:])
        assert sorted(targets) == sorted(symbols[1:].tolist())


def test_text_stream_resumes_mid_epoch(text_data: Path) -> None:
    whole = list(TextStream(str(text_data), "train", 4, epochs=2))
    rest = list(make_loader(TextStream(str(text_data), "train", 4, epochs=2, start_batch=37), 2))
    assert len(rest) == len(whole) - 37
    for a, b in zip(rest, whole[37:], strict=True):
        assert torch.equal(a.inputs, b.inputs) and torch.equal(a.mask, b.mask)


def test_text_first_chunk_of_a_stream_reads_the_symbol_before_it(text_data: Path) -> None:
    symbols = _symbols(text_data, "train")
    stream = TextStream(str(text_data), "train", 2, epochs=1)
    first = next(iter(stream))
    lo = stream.streams()[1][0] * stream.seq_len
    assert first.inputs[1, 0] == symbols[lo - 1] and first.mask[1, 0] == 1
    assert first.mask[0, 0] == 0  # the split's very first symbol has nothing before it


def test_manifest_without_normalization_is_a_clear_error(
    handwriting_data: Path, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(handwriting_data, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["normalization"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="normalization"):
        HandwritingStream(str(copy), "train", 4)
    assert pq.ParquetFile(copy / manifest["splits"]["train"]["files"][0]["path"]).metadata.num_rows


def test_rank_slices_of_row_groups_keep_each_line_whole(handwriting_data: Path) -> None:
    """With 3 ranks the range boundaries cut row groups: every line still arrives intact."""
    dataset = open_dataset(str(handwriting_data))
    norm = Normalization.from_manifest(dataset.manifest)
    rows = {r["line_id"]: r for r in dataset.table("train").to_pylist()}
    for rank in range(3):
        stream = HandwritingStream(str(handwriting_data), "train", 5, rank=rank, world=3, epochs=1)
        for batch in stream:
            for b, line_id in enumerate(batch.line_ids):
                points = norm.apply(np.asarray(rows[line_id]["offsets"], dtype=np.float32))
                n = len(points) - 1
                np.testing.assert_allclose(batch.targets[b, :n].numpy(), points[1:], rtol=1e-6)
                assert (
                    batch.text[b, : len(rows[line_id]["text_ids"])].tolist()
                    == rows[line_id]["text_ids"]
                )
