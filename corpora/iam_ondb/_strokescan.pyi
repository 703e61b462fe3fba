# the compiled stroke scanner (_strokescan.c): see fastread._compiled_batch
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

def scan(
    datas: Sequence[bytes],
    max_time: float,
    x: npt.NDArray[np.int64],
    y: npt.NDArray[np.int64],
    t: npt.NDArray[np.float64],
    ends: npt.NDArray[np.int64],
    files: npt.NDArray[np.int64],
) -> tuple[int, int]: ...
