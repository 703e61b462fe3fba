"""Streaming datasets over the shards: batches straight from Parquet, never a corpus in memory.

Both datasets are `IterableDataset`s yielding whole batches (use `DataLoader(batch_size=None)`,
see `make_loader`). What a process sees is a pure function of (seed, epoch, rank, world size,
batch size, loader config): never of the number of DataLoader workers. Each process's batches
form one numbered sequence (epoch after epoch); worker `w` of `W` yields numbers `w, w + W, ...`,
which is exactly the order in which the DataLoader hands them out (round robin over workers),
so `start_batch` resumes the sequence mid-epoch whatever the worker count.

Handwriting (one row per text line): the training split's row groups are shuffled per epoch
(seeded), their rows are divided between the DDP ranks as contiguous even ranges (every row in
exactly one rank), go through a seeded shuffle buffer, and are batched by length (sorted pools
of `bucket_batches` batches, whose order is shuffled again), padded, with masks. dx, dy are
normalised with the manifest's training-split mean and std; end_of_stroke is untouched.

Text (fixed-length chunks in source order): the split is cut into `batch_size * world`
contiguous streams; step `k` of an epoch gives each stream its `k`-th chunk, so the hidden
state carries over from one step to the next (truncated backpropagation through time). The
inputs of a chunk begin with the last symbol of the chunk before it, so every symbol of the
split but the very first is a target exactly once per epoch.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from graves_data.errors import DatasetError, UsageError
from graves_data.manifest import Normalization, dataset_kind
from graves_data.models.config import LoaderConfig
from graves_data.shards import READ_ERRORS, Dataset, open_dataset
from graves_data.vocab import Vocab

T = TypeVar("T")
Kind = Literal["handwriting", "text"]
HANDWRITING_COLUMNS = ["line_id", "text_ids", "offsets"]
TEXT_COLUMNS = ["ids", "length"]
TRAIN_SPLITS = ("train", "trainset")
VALID_SPLITS = ("valid", "testset_v", "test")


# ---------------------------------------------------------------------------------------------
# the dataset folder


def task_kind(task: str) -> Kind:
    """The kind of dataset a task trains on."""
    return "text" if task == "text" else "handwriting"


def open_kind(source: str | Dataset, kind: Kind) -> Dataset:
    """Open a dataset and check that it is a handwriting or a text dataset, as asked."""
    dataset = source if isinstance(source, Dataset) else open_dataset(source)
    found = dataset.manifest.get("kind")
    if found is None:  # a manifest older than its "kind"
        found = _shard_kind(dataset)
    if found != kind:
        other = "text" if kind == "handwriting" else "handwriting or synthesis"
        raise DatasetError(
            f"{dataset.root.url}: a {found} dataset, not a {kind} dataset "
            f"(train it with `graves-data train {other}`)"
        )
    check_footers(dataset)
    return dataset


_FOOTERS_READ: set[tuple[str, str]] = set()


def check_footers(dataset: Dataset) -> None:
    """Read every shard's footer, once per process and dataset (a small read each), so that a
    truncated or overwritten shard stops a run before its first step, not at its first
    validation after a checkpoint."""
    key = (dataset.root.url, str(dataset.manifest.get("content_hash")))
    if key in _FOOTERS_READ:
        return
    for shard in dataset.all_shards():
        with dataset.root.join(shard.path).open("rb") as handle:
            dataset.parquet_file(shard.path, handle)
    _FOOTERS_READ.add(key)


def _shard_kind(dataset: Dataset) -> str:
    for shard in dataset.all_shards():
        with dataset.root.join(shard.path).open("rb") as handle:
            return dataset_kind(dataset.parquet_file(shard.path, handle).schema_arrow)
    return "text"


def load_vocab(dataset: Dataset) -> Vocab:
    return Vocab.read(dataset.root)


def default_split(dataset: Dataset, wanted: str | None, candidates: Sequence[str]) -> str:
    """`wanted` if given (checked), else the first of `candidates` the dataset has."""
    if wanted is not None:
        dataset.shards(wanted)
        return wanted
    for name in candidates:
        if name in dataset.splits:
            return name
    raise UsageError(
        f"{dataset.root.url}: none of the splits {', '.join(candidates)} "
        f"(splits: {', '.join(dataset.splits)}); name one with --train-split / --valid-split"
    )


# ---------------------------------------------------------------------------------------------
# row groups: the unit the datasets read


@dataclass(frozen=True)
class RowGroup:
    path: str
    index: int
    rows: int


def row_groups(dataset: Dataset, split: str) -> list[RowGroup]:
    """The split's row groups in shard order (one footer read per shard)."""
    groups: list[RowGroup] = []
    for shard in dataset.shards(split):
        if shard.rows == 0:
            continue
        with dataset.root.join(shard.path).open("rb") as handle:
            meta = dataset.parquet_file(shard.path, handle).metadata
        for i in range(meta.num_row_groups):
            groups.append(RowGroup(shard.path, i, meta.row_group(i).num_rows))
    return groups


class ShardFiles:
    """Open Parquet files of a dataset, kept open while a dataset iterator runs."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self._handles: dict[str, Any] = {}
        self._files: dict[str, pq.ParquetFile] = {}

    def read(self, group: RowGroup, columns: Sequence[str]) -> pa.Table:
        parquet = self._files.get(group.path)
        if parquet is None:
            handle = self.dataset.root.join(group.path).open("rb")
            self._handles[group.path] = handle
            parquet = self._files[group.path] = self.dataset.parquet_file(group.path, handle)
        try:
            return parquet.read_row_group(group.index, columns=list(columns))
        except READ_ERRORS as exc:  # a shard damaged since its footer was read
            raise self.dataset.unreadable(group.path, exc) from exc

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()
        self._files.clear()


def even_ranges(total: int, parts: int) -> list[tuple[int, int]]:
    """`parts` contiguous ranges covering 0..total, sizes differing by at most one."""
    return [(total * i // parts, total * (i + 1) // parts) for i in range(parts)]


def epoch_order(groups: Sequence[RowGroup], seed: int, epoch: int, shuffle: bool) -> list[RowGroup]:
    if not shuffle:
        return list(groups)
    rng = np.random.default_rng([seed, epoch, 0])
    return [groups[i] for i in rng.permutation(len(groups))]


def pieces(groups: Sequence[RowGroup], lo: int, hi: int) -> Iterator[tuple[RowGroup, int, int]]:
    """(group, first, stop) row slices of the groups, in order, covering rows lo..hi."""
    start = 0
    for group in groups:
        first, stop = max(lo, start), min(hi, start + group.rows)
        if first < stop:
            yield group, first - start, stop - start
        start += group.rows
        if start >= hi:
            return


def shuffled(items: Iterator[T], size: int, rng: np.random.Generator) -> Iterator[T]:
    """A seeded shuffle buffer of `size` items."""
    buffer: list[T] = []
    for item in items:
        if len(buffer) < size:
            buffer.append(item)
            continue
        i = int(rng.integers(len(buffer)))
        yield buffer[i]
        buffer[i] = item
    order = rng.permutation(len(buffer))
    yield from (buffer[i] for i in order)


def bucketed(
    items: Iterator[T],
    batch_size: int,
    pool_batches: int,
    length: Callable[[T], int],
    rng: np.random.Generator | None,
) -> Iterator[list[T]]:
    """Batches of `batch_size` (the last may be short); with `pool_batches > 1`, pools of that
    many batches are sorted by length and their batches come out in a (seeded) random order."""
    pool_size = batch_size * max(1, pool_batches)
    pool: list[T] = []
    for item in items:
        pool.append(item)
        if len(pool) == pool_size:
            yield from _split_pool(pool, batch_size, pool_batches, length, rng)
            pool = []
    if pool:
        yield from _split_pool(pool, batch_size, pool_batches, length, rng)


def _split_pool(
    pool: list[T],
    batch_size: int,
    pool_batches: int,
    length: Callable[[T], int],
    rng: np.random.Generator | None,
) -> Iterator[list[T]]:
    if pool_batches > 1:
        pool = sorted(pool, key=length)
    batches = [pool[i : i + batch_size] for i in range(0, len(pool), batch_size)]
    if rng is not None and pool_batches > 1:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    yield from batches


def worker_slot() -> tuple[int, int]:
    """(worker id, worker count) of the DataLoader worker running this code; (0, 1) outside."""
    info = get_worker_info()
    return (0, 1) if info is None else (info.id, info.num_workers)


# ---------------------------------------------------------------------------------------------
# handwriting


class Line(NamedTuple):
    line_id: str
    points: npt.NDArray[np.float32]  # (n, 3): normalised dx, dy and end_of_stroke
    text_ids: npt.NDArray[np.int64]


class HandwritingBatch(NamedTuple):
    """Padded batch: targets are the points after the inputs (points 1..n-1 after 0..n-2)."""

    inputs: torch.Tensor  # (B, T, 3) float32
    targets: torch.Tensor  # (B, T, 3) float32
    mask: torch.Tensor  # (B, T) float32: 1 on real steps
    text: torch.Tensor  # (B, U) int64 character ids, 0 past each line's text
    text_mask: torch.Tensor  # (B, U) float32
    line_ids: tuple[str, ...]

    def to(self, device: torch.device) -> HandwritingBatch:
        return HandwritingBatch(
            self.inputs.to(device, non_blocking=True),
            self.targets.to(device, non_blocking=True),
            self.mask.to(device, non_blocking=True),
            self.text.to(device, non_blocking=True),
            self.text_mask.to(device, non_blocking=True),
            self.line_ids,
        )

    @property
    def points(self) -> int:
        return int(self.mask.sum().item())

    def rows(self, start: int, stop: int) -> HandwritingBatch:
        """Lines start..stop-1, cut to the longest of them (what is cut is padding only)."""
        mask = self.mask[start:stop]
        steps = int(mask.sum(dim=1).max().item()) if stop > start else 0
        return HandwritingBatch(
            self.inputs[start:stop, :steps],
            self.targets[start:stop, :steps],
            mask[:, :steps],
            self.text[start:stop],
            self.text_mask[start:stop],
            self.line_ids[start:stop],
        )

    def pieces(self, points: int) -> list[HandwritingBatch]:
        """The batch as consecutive runs of whole lines of at most `points` padded points each
        (a line longer than that alone); the whole batch where it fits or `points` is 0."""
        lines, steps = self.mask.shape
        if points <= 0 or lines * steps <= points:
            return [self]
        count = -(-lines // max(1, points // max(steps, 1)))
        bounds = [lines * k // count for k in range(count + 1)]
        return [self.rows(a, b) for a, b in itertools.pairwise(bounds)]


def lines_of(table: pa.Table, norm: Normalization, max_points: int = 0) -> list[Line]:
    """Rows of a handwriting table as normalised lines (vectorised over the table)."""
    offsets = table.column("offsets").combine_chunks()
    bounds = offsets.offsets.to_numpy().astype(np.int64)
    values = pc.list_flatten(offsets).flatten().to_numpy(zero_copy_only=False)
    points = norm.apply(values.reshape(-1, 3))
    bounds = bounds - bounds[0]
    texts = table.column("text_ids").combine_chunks()
    text_bounds = texts.offsets.to_numpy().astype(np.int64)
    text_values = pc.list_flatten(texts).to_numpy(zero_copy_only=False).astype(np.int64)
    text_bounds = text_bounds - text_bounds[0]
    ids = table.column("line_id").to_pylist()
    lines = []
    for i, line_id in enumerate(ids):
        stop = bounds[i + 1] if max_points <= 0 else min(bounds[i + 1], bounds[i] + max_points)
        lines.append(
            Line(
                str(line_id),
                points[bounds[i] : stop],
                text_values[text_bounds[i] : text_bounds[i + 1]],
            )
        )
    return lines


def collate_lines(lines: Sequence[Line]) -> HandwritingBatch:
    """Pad lines to the longest; inputs are each line's points but the last, targets but the
    first."""
    size = len(lines)
    steps = max(1, max(len(line.points) - 1 for line in lines))
    chars = max(1, max(len(line.text_ids) for line in lines))
    inputs = np.zeros((size, steps, 3), dtype=np.float32)
    targets = np.zeros((size, steps, 3), dtype=np.float32)
    mask = np.zeros((size, steps), dtype=np.float32)
    text = np.zeros((size, chars), dtype=np.int64)
    text_mask = np.zeros((size, chars), dtype=np.float32)
    for b, line in enumerate(lines):
        n = len(line.points) - 1
        if n > 0:
            inputs[b, :n] = line.points[:-1]
            targets[b, :n] = line.points[1:]
            mask[b, :n] = 1.0
        u = len(line.text_ids)
        text[b, :u] = line.text_ids
        text_mask[b, :u] = 1.0
    return HandwritingBatch(
        torch.from_numpy(inputs),
        torch.from_numpy(targets),
        torch.from_numpy(mask),
        torch.from_numpy(text),
        torch.from_numpy(text_mask),
        tuple(line.line_id for line in lines),
    )


class HandwritingStream(IterableDataset[HandwritingBatch]):
    """Batches of handwriting lines from one split of a handwriting dataset.

    `epochs=None` streams epoch after epoch without end (training); `epochs=1` is one pass
    (evaluation, with `shuffle=False`). `start_batch` is the number of batches of this rank's
    sequence already consumed (resume).
    """

    def __init__(
        self,
        data: str,
        split: str,
        batch_size: int,
        *,
        loader: LoaderConfig | None = None,
        shuffle: bool | None = None,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
        start_batch: int = 0,
        epochs: int | None = None,
        normalization: Normalization | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1 or world < 1 or not 0 <= rank < world or start_batch < 0:
            raise UsageError("batch_size >= 1, 0 <= rank < world and start_batch >= 0 required")
        self.data, self.split, self.batch_size = data, split, batch_size
        self.loader = loader or LoaderConfig()
        self.shuffle = self.loader.shuffle if shuffle is None else shuffle
        self.seed, self.rank, self.world = seed, rank, world
        self.start_batch, self.epochs = start_batch, epochs
        dataset = open_kind(data, "handwriting")
        dataset.shards(split)
        self.normalization = normalization or Normalization.from_manifest(dataset.manifest)
        self.total_rows = sum(s.rows for s in dataset.shards(split))

    def rank_rows(self) -> int:
        lo, hi = even_ranges(self.total_rows, self.world)[self.rank]
        return hi - lo

    def batches_per_epoch(self) -> int:
        return math.ceil(self.rank_rows() / self.batch_size)

    def __iter__(self) -> Iterator[HandwritingBatch]:
        per_epoch = self.batches_per_epoch()
        if per_epoch == 0:
            if self.epochs is None:
                raise DatasetError(
                    f"{self.data}: split {self.split!r} has no rows for rank {self.rank} "
                    f"of {self.world}"
                )
            return
        worker, workers = worker_slot()
        dataset = open_kind(self.data, "handwriting")
        groups = row_groups(dataset, self.split)
        files = ShardFiles(dataset)
        try:
            wanted = self.start_batch + worker
            while self.epochs is None or wanted // per_epoch < self.epochs:
                epoch = wanted // per_epoch
                for i, lines in enumerate(self.epoch_batches(files, groups, epoch)):
                    if epoch * per_epoch + i == wanted:
                        yield collate_lines(lines)
                        wanted += workers
        finally:
            files.close()

    def epoch_batches(
        self, files: ShardFiles, groups: Sequence[RowGroup], epoch: int
    ) -> Iterator[list[Line]]:
        """This rank's batches of one epoch, as lists of lines (not yet padded)."""
        order = epoch_order(groups, self.seed, epoch, self.shuffle)
        lo, hi = even_ranges(self.total_rows, self.world)[self.rank]
        lines = self._read(files, pieces(order, lo, hi))
        rng_bucket = None
        if self.shuffle:
            lines = shuffled(
                lines,
                self.loader.shuffle_buffer,
                np.random.default_rng([self.seed, epoch, 1, self.rank]),
            )
            rng_bucket = np.random.default_rng([self.seed, epoch, 2, self.rank])
        yield from bucketed(
            lines,
            self.batch_size,
            self.loader.bucket_batches,
            lambda line: len(line.points),
            rng_bucket,
        )

    def _read(
        self, files: ShardFiles, parts: Iterator[tuple[RowGroup, int, int]]
    ) -> Iterator[Line]:
        for group, first, stop in parts:
            table = files.read(group, HANDWRITING_COLUMNS).slice(first, stop - first)
            yield from lines_of(table, self.normalization, self.loader.max_points)


# ---------------------------------------------------------------------------------------------
# text


class TextBatch(NamedTuple):
    """One step of every stream: targets are the chunk, inputs the same shifted by one."""

    inputs: torch.Tensor  # (B, L) int64
    targets: torch.Tensor  # (B, L) int64
    mask: torch.Tensor  # (B, L) float32: 1 where the target is a symbol to predict
    reset: torch.Tensor  # () bool: first step of the streams; carried state starts afresh

    def to(self, device: torch.device) -> TextBatch:
        return TextBatch(
            self.inputs.to(device, non_blocking=True),
            self.targets.to(device, non_blocking=True),
            self.mask.to(device, non_blocking=True),
            self.reset,
        )

    @property
    def points(self) -> int:
        return int(self.mask.sum().item())


class ChunkReader:
    """Random access to a text split's chunks by row number, caching a few row groups."""

    def __init__(self, files: ShardFiles, groups: Sequence[RowGroup], cache: int) -> None:
        self.files, self.groups, self.cache_size = files, list(groups), max(2, cache)
        self.starts = np.cumsum([0] + [g.rows for g in self.groups]).tolist()
        self._cache: OrderedDict[int, tuple[npt.NDArray[Any], npt.NDArray[Any]]] = OrderedDict()

    def row(self, index: int) -> tuple[npt.NDArray[Any], int]:
        g = bisect.bisect_right(self.starts, index) - 1
        ids, lengths = self._group(g)
        local = index - self.starts[g]
        return ids[local], int(lengths[local])

    def _group(self, g: int) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        found = self._cache.get(g)
        if found is not None:
            self._cache.move_to_end(g)
            return found
        table = self.files.read(self.groups[g], TEXT_COLUMNS)
        column = table.column("ids").combine_chunks()
        width = column.type.list_size
        ids = column.flatten().to_numpy(zero_copy_only=False).reshape(-1, width)
        lengths = table.column("length").to_numpy()
        self._cache[g] = (ids, lengths)
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return ids, lengths


class TextStream(IterableDataset[TextBatch]):
    """Steps of `batch_size` contiguous streams of a text split (this rank's share)."""

    def __init__(
        self,
        data: str,
        split: str,
        batch_size: int,
        *,
        rank: int = 0,
        world: int = 1,
        start_batch: int = 0,
        epochs: int | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1 or world < 1 or not 0 <= rank < world or start_batch < 0:
            raise UsageError("batch_size >= 1, 0 <= rank < world and start_batch >= 0 required")
        self.data, self.split, self.batch_size = data, split, batch_size
        self.rank, self.world, self.start_batch, self.epochs = rank, world, start_batch, epochs
        dataset = open_kind(data, "text")
        self.total_rows = sum(s.rows for s in dataset.shards(split))
        self.seq_len = seq_len(dataset)

    def streams(self) -> list[tuple[int, int]]:
        ranges = even_ranges(self.total_rows, self.batch_size * self.world)
        return ranges[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]

    def batches_per_epoch(self) -> int:
        return math.ceil(self.total_rows / (self.batch_size * self.world))

    def __iter__(self) -> Iterator[TextBatch]:
        per_epoch = self.batches_per_epoch()
        if per_epoch == 0:
            if self.epochs is None:
                raise DatasetError(f"{self.data}: split {self.split!r} has no chunks")
            return
        worker, workers = worker_slot()
        dataset = open_kind(self.data, "text")
        files = ShardFiles(dataset)
        reader = ChunkReader(files, row_groups(dataset, self.split), 2 * self.batch_size + 2)
        streams = self.streams()
        try:
            wanted = self.start_batch + worker
            while self.epochs is None or wanted < self.epochs * per_epoch:
                yield text_batch(reader, streams, wanted % per_epoch, self.seq_len)
                wanted += workers
        finally:
            files.close()


def seq_len(dataset: Dataset) -> int:
    """Symbols per chunk of a text dataset, from its shards' schema."""
    for shard in dataset.all_shards():
        with dataset.root.join(shard.path).open("rb") as handle:
            ids = dataset.parquet_file(shard.path, handle).schema_arrow.field("ids").type
        return int(ids.list_size)
    raise DatasetError(f"{dataset.root.url}: no shards")


def text_batch(
    reader: ChunkReader, streams: Sequence[tuple[int, int]], step: int, width: int
) -> TextBatch:
    """Chunk `step` of each stream (zero mask where a stream is already done)."""
    inputs = np.zeros((len(streams), width), dtype=np.int64)
    targets = np.zeros((len(streams), width), dtype=np.int64)
    mask = np.zeros((len(streams), width), dtype=np.float32)
    for b, (lo, hi) in enumerate(streams):
        index = lo + step
        if index >= hi:
            continue
        ids, length = reader.row(index)
        targets[b] = ids
        inputs[b, 1:] = ids[:-1]
        mask[b, :length] = 1.0
        if index > 0:
            inputs[b, 0] = reader.row(index - 1)[0][-1]
        else:
            mask[b, 0] = 0.0
    return TextBatch(
        torch.from_numpy(inputs),
        torch.from_numpy(targets),
        torch.from_numpy(mask),
        torch.tensor(step == 0),
    )


# ---------------------------------------------------------------------------------------------


def _as_is(batch: T) -> T:
    """Batches are made whole by the datasets; the DataLoader must not convert them."""
    return batch


def make_loader(
    dataset: IterableDataset[Any], workers: int, pin_memory: bool = False
) -> DataLoader[Any]:
    """A DataLoader that passes the datasets' batches through in order."""
    return DataLoader(
        dataset,
        batch_size=None,
        collate_fn=_as_is,
        num_workers=workers,
        pin_memory=pin_memory,
        prefetch_factor=4 if workers else None,
        persistent_workers=False,
    )
