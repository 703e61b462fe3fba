"""Names, constants and the build parameters of the IAM-OnDB corpus."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from graves_data.corpus import Params, param
from graves_data.errors import UsageError
from graves_data.pipelines.strokes import CleanParams

NAME = "iam-ondb"
STROKES, ASCII, ORIGINAL = "lineStrokes", "ascii", "original"
ARCHIVES = {
    STROKES: "lineStrokes-all.tar.gz",
    ASCII: "ascii-all.tar.gz",
    ORIGINAL: "original-xml-all.tar.gz",
}
LISTS = ("trainset", "testset_v", "testset_t", "testset_f")
TASK_ZIP = "largeWriterIndependentTextLineRecognitionTask.zip"
PLACEHOLDER = "please enter transcription here"
SplitScheme = Literal["paper", "official", "writers"]
SCHEMES: dict[str, dict[str, tuple[str, ...]]] = {
    "paper": {"train": ("trainset", "testset_t", "testset_f"), "valid": ("testset_v",)},
    "official": {name: (name,) for name in LISTS},
}
TRAIN_SPLIT = {"paper": "train", "official": "trainset", "writers": "train"}
# quarantine codes that report rather than reject: they never fail an --on-bad-input error build
REPORT_ONLY = frozenset({"not-in-split"})

LINE_FILE = re.compile(r"^(?P<form>[A-Za-z0-9]+-[0-9]+[A-Za-z]?)-(?P<line>[0-9]{2,3})\.xml$")
ORIGINAL_FILE = re.compile(r"^strokes(?P<suffix>[A-Za-z]?)\.xml$")
WRITER_CHUNK = 1024
HEAD_BYTES = 16384  # an original XML file's General element lies well within its first 16 KB
TRANSCRIPTION_FILE = re.compile(r"^(?P<form>[A-Za-z0-9]+-[0-9]+[A-Za-z]?)\.txt$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# the largest |coordinate| a line may hold: any step between two such points is at most 2**24,
# which float32 offsets hold exactly (so origin + cumsum(offsets) gives the points back)
MAX_COORDINATE = 2**23
# numbers in stroke files, as both readers read them: optional minus, digits, optional fraction
NUMBER_GRAMMAR = r"-?[0-9]+(?:\.[0-9]+)?"
# a point time beyond this many seconds (about 31,700 years) is no reading: repaired like an
# unreadable one; so every time step is finite, in float64 and in the float32 dt column
MAX_TIME = 1e12
# a line stroke file is about 36 KB (the release's largest 0.1 MB): a larger one is refused
# before it is read, so one damaged or hostile file cannot take a worker's memory
MAX_STROKE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class IamParams(Params):
    """Build parameters; all of them go into the manifest and each shard's metadata."""

    split: SplitScheme = param(
        "paper",
        "paper: train = trainset+testset_t+testset_f, valid = testset_v (Graves 2013); "
        "official: the four lists; writers: seeded writer-disjoint train/valid/test",
    )
    seed: int = param(0, "seed of the writers split")
    valid_fraction: float = param(0.1, "writers split: fraction of lines in valid")
    test_fraction: float = param(0.1, "writers split: fraction of lines in test")
    gap_factor: float = param(
        2.5, "a time step over this many sampling periods means lost readings"
    )
    max_fill: int = param(
        10,
        "most readings interpolated into one time gap inside a stroke; a longer gap gets "
        "exactly this many, spread evenly (never left as a pause)",
    )
    spike_threshold: float = param(
        600.0, "a step longer than this (board units) inside a stroke is an error"
    )
    spike_width: int = param(
        2, "runs of at most this many points cut off by over-long steps are dropped"
    )
    keep_time: bool = param(True, "write the dt column (seconds between points)")
    forms_per_shard: int = param(64, "forms per unit of work and per shard")
    row_group_rows: int = param(128, "rows per Parquet row group")

    def clean_params(self) -> CleanParams:
        return CleanParams(self.gap_factor, self.max_fill, self.spike_threshold, self.spike_width)

    def check(self) -> None:
        if self.forms_per_shard < 1 or self.row_group_rows < 1:
            raise UsageError("--forms-per-shard and --row-group-rows must be at least 1")
        if not (0 <= self.valid_fraction < 1 and 0 <= self.test_fraction < 1):
            raise UsageError("--valid-fraction and --test-fraction must be in [0, 1)")
        if self.valid_fraction + self.test_fraction >= 1:
            raise UsageError("--valid-fraction + --test-fraction must leave lines for training")
        if self.spike_threshold <= 0 or self.gap_factor <= 1 or self.max_fill < 0:
            raise UsageError("--spike-threshold > 0, --gap-factor > 1 and --max-fill >= 0 required")
