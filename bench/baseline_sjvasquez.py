"""A re-implementation of the steps of sjvasquez's handwriting-synthesis `prepare_data.py`.

That script (github.com/sjvasquez/handwriting-synthesis, with its `drawing.py`) is the most
used public IAM-OnDB prep script. It cannot be downloaded here, so this re-implements its steps
as that script does them, one process, from the release extracted into a folder:

- walk `ascii/`; for each transcription, list its form's stroke files (`lineStrokes/`, sorted,
  by the file-name prefix) and parse the writer from `original/.../strokes<letter>.xml`
  (ElementTree, `General[0]@writerID`);
- transcriptions: the lines after `CSR:` (and its blank line), stripped, each encoded as the
  indices of its characters in the script's 73-symbol alphabet (0 for others) plus a 0, cut at
  75;
- each stroke file: an ElementTree parse, then a Python loop over every Point building
  `[x, -y, end_of_stroke]` rows, `np.array` of them; `align` (least-squares slope and offset,
  rotated away), `denoise` (a Savitzky-Golay filter, window 7, order 3, per stroke), offsets
  from the coordinates, cut at 1,200 points, `normalize` (divided by the median step norm);
- a line is valid when no step is longer than 60 (after normalising); everything is held in
  padded arrays of [lines, 1200, 3] (float32) and [lines, 75] (int8), and the valid lines are
  saved with `np.save` (x, x_len, c, c_len, w_id).

Three departures, all forced by the data, not by speed: the script's `blacklist.npy` (lines its
author's trained model scored low) is not public here, so no line is blacklisted; where a form's
transcription and stroke files disagree in number (the script asserts, and stops), the form is
left out (the release has a08-551z so); and a form without an original XML file (the script
would stop) gets writer 0.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.signal import savgol_filter

ALPHABET = [
    "\x00", " ", "!", '"', "#", "'", "(", ")", ",", "-", ".",
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ":", ";",
    "?", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K",
    "L", "M", "N", "O", "P", "R", "S", "T", "U", "V", "W", "Y",
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l",
    "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x",
    "y", "z",
]  # fmt: skip
ALPHA_TO_NUM: defaultdict[str, int] = defaultdict(int, {c: i for i, c in enumerate(ALPHABET)})
MAX_STROKE_LEN = 1200
MAX_CHAR_LEN = 75
Array = npt.NDArray[Any]


def align(coords: Array) -> Array:
    """Corrects for global slant and offset (least squares of y on x)."""
    coords = np.copy(coords)
    x, y = coords[:, 0].reshape(-1, 1), coords[:, 1].reshape(-1, 1)
    x = np.concatenate([np.ones([x.shape[0], 1]), x], axis=1)
    offset, slope = np.linalg.inv(x.T.dot(x)).dot(x.T).dot(y).squeeze()
    theta = np.arctan(slope)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    coords[:, :2] = np.dot(coords[:, :2], rotation) - offset
    return coords


def denoise(coords: Array) -> Array:
    """Smoothing filter per stroke, against the capture's artefacts."""
    strokes = np.split(coords, np.where(coords[:, 2] == 1)[0] + 1, axis=0)
    smoothed = []
    for stroke in strokes:
        if len(stroke) != 0:
            x_new = savgol_filter(stroke[:, 0], 7, 3, mode="nearest")
            y_new = savgol_filter(stroke[:, 1], 7, 3, mode="nearest")
            xy = np.hstack([x_new.reshape(-1, 1), y_new.reshape(-1, 1)])
            smoothed.append(np.concatenate([xy, stroke[:, 2].reshape(-1, 1)], axis=1))
    return np.vstack(smoothed)


def coords_to_offsets(coords: Array) -> Array:
    offsets = np.concatenate([coords[1:, :2] - coords[:-1, :2], coords[1:, 2:3]], axis=1)
    return np.concatenate([np.array([[0, 0, 1]]), offsets], axis=0)


def normalize(offsets: Array) -> Array:
    """Strokes scaled to a median step of unit norm."""
    offsets = np.copy(offsets)
    offsets[:, :2] /= np.median(np.linalg.norm(offsets[:, :2], axis=1))
    return offsets


def encode_ascii(text: str) -> Array:
    return np.array([ALPHA_TO_NUM[c] for c in text] + [0])


def get_stroke_sequence(filename: str) -> Array:
    tree = ElementTree.parse(filename).getroot()
    strokes = [i for i in tree if i.tag == "StrokeSet"][0]  # noqa: RUF015 (as the script)
    coords = []
    for stroke in strokes:
        for i, point in enumerate(stroke):
            coords.append(
                [int(point.attrib["x"]), -1 * int(point.attrib["y"]), int(i == len(stroke) - 1)]
            )
    offsets = coords_to_offsets(denoise(align(np.array(coords))))
    return normalize(offsets[:MAX_STROKE_LEN])


def get_ascii_sequences(filename: str) -> list[Array]:
    with open(filename, encoding="latin-1") as handle:
        text = handle.read()
    text = text.replace(r"%%%%%%%%%%%", "\n")
    sequences = [i.strip() for i in text.split("\n")]
    lines = sequences[sequences.index("CSR:") + 2 :]
    return [encode_ascii(line.strip())[:MAX_CHAR_LEN] for line in lines if line.strip()]


def collect_data(raw: Path) -> tuple[list[str], list[Array], list[int]]:
    fnames = []
    for dirpath, dirnames, filenames in os.walk(raw / "ascii"):
        if dirnames:
            continue
        fnames += [os.path.join(dirpath, f) for f in filenames if not f.startswith(".")]
    stroke_fnames: list[str] = []
    transcriptions: list[Array] = []
    writer_ids: list[int] = []
    for fname in fnames:
        if fname.endswith(os.path.join("z01", "z01-000", "z01-000z.txt")):
            continue
        head, _ = os.path.split(fname)
        last_letter = os.path.splitext(fname)[0][-1]
        last_letter = last_letter if last_letter.isalpha() else ""
        stroke_dir = head.replace("ascii", "lineStrokes")
        prefix = os.path.split(head)[-1] + last_letter + "-"
        if not os.path.isdir(stroke_dir):
            continue
        line_files = sorted(f for f in os.listdir(stroke_dir) if f.startswith(prefix))
        if not line_files:
            continue
        original = os.path.join(head.replace("ascii", "original"), f"strokes{last_letter}.xml")
        writer_id = 0
        if os.path.exists(original):  # the script parses it unconditionally
            general = ElementTree.parse(original).getroot().find("General")
            writer_id = int(general[0].attrib.get("writerID", "0")) if general is not None else 0
        sequences = get_ascii_sequences(fname)
        if len(sequences) != len(line_files):
            continue  # the script asserts here
        for sequence, line_file in zip(sequences, line_files, strict=True):
            stroke_fnames.append(os.path.join(stroke_dir, line_file))
            transcriptions.append(sequence)
            writer_ids.append(writer_id)
    return stroke_fnames, transcriptions, writer_ids


def prepare(raw_folder: str, out_folder: str) -> int:
    """The whole script: returns the number of points it read."""
    raw, out = Path(raw_folder), Path(out_folder)
    stroke_fnames, transcriptions, writer_ids = collect_data(raw)
    n = len(stroke_fnames)
    x = np.zeros([n, MAX_STROKE_LEN, 3], dtype=np.float32)
    x_len = np.zeros([n], dtype=np.int16)
    c = np.zeros([n, MAX_CHAR_LEN], dtype=np.int8)
    c_len = np.zeros([n], dtype=np.int8)
    w_id = np.zeros([n], dtype=np.int16)
    valid = np.zeros([n], dtype=bool)
    points = 0
    for i, (stroke_fname, c_i, w_i) in enumerate(
        zip(stroke_fnames, transcriptions, writer_ids, strict=True)
    ):
        x_i = get_stroke_sequence(stroke_fname)
        points += len(x_i)
        valid[i] = ~np.any(np.linalg.norm(x_i[:, :2], axis=1) > 60)
        x[i, : len(x_i), :] = x_i
        x_len[i] = len(x_i)
        c[i, : len(c_i)] = c_i
        c_len[i] = len(c_i)
        w_id[i] = w_i
    out.mkdir(parents=True, exist_ok=True)
    for name, array in (("x", x), ("x_len", x_len), ("c", c), ("c_len", c_len), ("w_id", w_id)):
        np.save(out / f"{name}.npy", array[valid])
    return points
