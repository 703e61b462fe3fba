# the compiled kernels of the batch cleaning (_strokeclean.c): see strokebatch._sampling_periods
import numpy as np
import numpy.typing as npt

def sampling_periods(
    t: npt.NDArray[np.float64],
    points: npt.NDArray[np.int64],
    strokes: npt.NDArray[np.int64],
    ends: npt.NDArray[np.int64],
    timed: npt.NDArray[np.uint8],
    out: npt.NDArray[np.float64],
) -> None: ...
