"""The IAM-OnDB benchmark's inputs and its two yardsticks.

- the corpus: the real release (`../shared/data/iam-ondb-release`, its archives extracted once
  into bench/out/cache/, never into the project) where it is there, else a generated corpus at
  the release's size; the figures say which;
- 4x input: a raw folder in which every form of the corpus appears 4 times, each copy under new
  ids (`a01-000u` becomes `a01k1-000u`, ...) in its stroke files, transcriptions, originals
  and split lists, the files hard-linked (copied where links cannot be made);
- the floor: an lxml tree parse of every stroke file, one thread;
- the limit: the x, y and time of every Point pulled out of the read bytes with numpy, no
  checks at all (what reading the numbers costs, with nothing proven).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tarfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
from lxml import etree

from bench.common import CACHE, ROOT

RELEASE = ROOT.parent / "shared" / "data" / "iam-ondb-release"
ARCHIVES = ("lineStrokes-all.tar.gz", "ascii-all.tar.gz", "original-xml-all.tar.gz")
LISTS = ("trainset.txt", "testset_v.txt", "testset_t.txt", "testset_f.txt")


def real_release() -> Path | None:
    """The release extracted into the cache (once), or None where the release is absent."""
    if not all((RELEASE / name).is_file() for name in ARCHIVES):
        return None
    folder = CACHE / "iam-real"
    stamp = folder / ".extracted"
    if stamp.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name in ARCHIVES:
        with tarfile.open(RELEASE / name) as archive:
            archive.extractall(folder, filter="data")
    for name in LISTS:
        shutil.copyfile(RELEASE / name, folder / name)
    stamp.touch()
    return folder


def stroke_files(raw: Path) -> list[Path]:
    return sorted((raw / "lineStrokes").rglob("*.xml"))


def warm(files: list[Path]) -> int:
    """Read every file once so that every contender starts from the page cache."""
    return sum(len(f.read_bytes()) for f in files)


def copies(raw: Path, times: int) -> Path:
    """`raw` with every form `times` times, under new ids (see the module's docstring)."""
    folder = raw.parent / f"{raw.name}-x{times}"
    stamp = folder / ".copied"
    if stamp.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in sorted(p for p in raw.rglob("*") if p.is_file() and p.name[0] != "."):
        relative = path.relative_to(raw)
        if path.suffix == ".txt" and len(relative.parts) == 1:  # a split list: every copy's ids
            text = path.read_text()
            (folder / relative).write_text("".join(_renamed(text, k) for k in range(times)))
            continue
        for k in range(times):
            target = folder / _renamed(str(relative), k)
            if target.exists():  # a file that names no form (SYNTH.json): once
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            _link(path, target)
    stamp.touch()
    return folder


WRITER_PART = re.compile(r"(?<![A-Za-z0-9])([a-z][0-9]{2})(?=[-/\\]|$)", re.MULTILINE)


def _renamed(text: str, k: int) -> str:
    """Every form id's first part `a01` as `a01k<k>` (copy 0 keeps the ids as they are)."""
    return text if k == 0 else WRITER_PART.sub(lambda m: f"{m.group(1)}k{k}", text)


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def lxml_floor(files: list[Path]) -> int:
    """Parse every stroke file into an lxml tree, and nothing else; the number of files."""
    for f in files:
        etree.parse(str(f))
    return len(files)


def numpy_limit(datas: list[bytes], chunk: int = 256) -> list[npt.NDArray[np.float64]]:
    """Every Point's (x, y, time) of each file, from its bytes: numpy only, no checks."""
    out: list[npt.NDArray[np.float64]] = []
    for i in range(0, len(datas), chunk):
        out += _limit_chunk(datas[i : i + chunk])
    return out


def _limit_chunk(datas: list[bytes]) -> list[npt.NDArray[np.float64]]:
    pad = b" " * 16
    joined = pad + b"".join(datas)
    bounds = np.cumsum([16] + [len(d) for d in datas])
    array = np.frombuffer(joined, dtype=np.uint8)
    candidates = np.flatnonzero(array == ord("P"))
    points = candidates[array[candidates - 1] == ord("<")]  # "<Point"
    quotes = np.flatnonzero(array == ord('"'))
    q = quotes[np.searchsorted(quotes, points)[:, None] + np.arange(6)[None, :]]
    values = np.column_stack(
        [
            _numbers(array, q[:, 0] + 1, q[:, 1], 8),
            _numbers(array, q[:, 2] + 1, q[:, 3], 8),
            _numbers(array, q[:, 4] + 1, q[:, 5], 16),
        ]
    )
    per_file = np.searchsorted(points, bounds)
    return [values[a:b] for a, b in itertools.pairwise(per_file.tolist())]


def _numbers(
    array: npt.NDArray[np.uint8],
    start: npt.NDArray[np.int64],
    stop: npt.NDArray[np.int64],
    width: int,
) -> npt.NDArray[np.float64]:
    """The decimal number in each array[start:stop] (at most `width` bytes), read as windows."""
    window = array[stop[:, None] - width + np.arange(width)[None, :]]
    inside = np.arange(width)[None, :] >= (width - (stop - start))[:, None]
    digit = inside & (window >= ord("0")) & (window <= ord("9"))
    right = np.cumsum(digit[:, ::-1], axis=1)[:, ::-1] - digit  # digits to the right of each
    value = (np.where(digit, window - ord("0"), 0) * POWERS[right]).sum(axis=1)
    dot = (window == ord(".")) & inside
    frac = np.where(dot.any(axis=1), width - 1 - dot.argmax(axis=1), 0)
    value = value / POWERS[frac]
    return np.where(array[start] == ord("-"), -value, value)


POWERS = 10.0 ** np.arange(17)
