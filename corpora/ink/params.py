"""Names, constants and the build parameters of the ink corpus."""

from __future__ import annotations

import re
from dataclasses import dataclass

from graves_data.corpora.iam_ondb.params import MAX_COORDINATE as IAM_MAX_COORDINATE
from graves_data.corpus import Params, param
from graves_data.pipelines.strokes import CleanParams

NAME = "ink"
SUFFIX = ".inkml"
INKML_NS = "http://www.w3.org/2003/InkML"
LINE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
REQUIRED = ("X", "Y", "T")
# the largest |coordinate| a line may hold: float32 offsets hold every step between two such
# points exactly, as for IAM-OnDB
MAX_COORDINATE = IAM_MAX_COORDINATE
MAX_TEXT = 2000
# an InkML line written on a page is a few hundred KB at most: a larger file is refused before
# it is parsed, so one damaged or hostile file cannot take a worker's memory
MAX_INKML_BYTES = 16 * 1024 * 1024
SPLITS = ("train", "valid")


@dataclass(frozen=True)
class InkParams(Params):
    """Build parameters; all of them go into the manifest and each shard's metadata."""

    valid_every: int = param(10, "every n-th line (in line-id order) goes to valid; 0: none", ge=0)
    scale: float = param(1.0, "X and Y are multiplied by this, then rounded to integer units", gt=0)
    vocab: str = param(
        "",
        "use this vocab.json (a run's, or a dataset's) instead of one from the lines, so a run "
        "trained with it can be fine-tuned on them (--init-from); other characters map to <unk> "
        "(a line with one is quarantined where the vocabulary has no <unk>)",
    )
    gap_factor: float = param(
        2.5, "a time step over this many sampling periods means lost readings", gt=1
    )
    max_fill: int = param(
        0, "most readings interpolated into one gap (0: none; a browser loses no readings)", ge=0
    )
    spike_threshold: float = param(
        5000.0, "a step longer than this (units) inside a stroke is an error", gt=0
    )
    spike_width: int = param(
        2, "runs of at most this many points cut off by over-long steps are dropped", ge=0
    )
    keep_time: bool = param(True, "write the dt column (seconds between points)")
    lines_per_shard: int = param(512, "lines per unit of work and per shard", ge=1)
    row_group_rows: int = param(128, "rows per Parquet row group", ge=1)

    def clean_params(self) -> CleanParams:
        return CleanParams(self.gap_factor, self.max_fill, self.spike_threshold, self.spike_width)
