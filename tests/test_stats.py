"""`graves-data stats`: its figures (computed by polars lazy scans) against a direct pyarrow and
numpy computation over the same shards; percentages that never round to a bound they do not
reach (issue 14, item 24); plots that say what they show (item 25)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from graves_data import stats
from graves_data.cli import main
from graves_data.shards import open_dataset
from graves_data.synth.learnable import write_text_dataset
from graves_data.textstats import text_stats
from graves_data.vocab import Vocab

LENGTHS = {"points": "n_points", "chars": "n_chars", "strokes": "n_strokes"}


@pytest.fixture(scope="module")
def iam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated IAM-OnDB corpus built by the real pipeline, official split (four splits);
    its validation lines hold characters the training split does not."""
    folder = tmp_path_factory.mktemp("stats")
    runner = CliRunner()
    raw, out = folder / "raw", folder / "ds"
    result = runner.invoke(
        main, ["synth", "iam-ondb", "--out", str(raw), "--lines", "60", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        main,
        ["build", "iam-ondb", "--raw", str(raw), "--out", str(out), "--split", "official"],
    )
    assert result.exit_code == 0, result.output
    return out


def split_table(dataset: Path, split: str) -> pa.Table:
    manifest = json.loads((dataset / "manifest.json").read_text())
    tables = [pq.read_table(dataset / f["path"]) for f in manifest["splits"][split]["files"]]
    return pa.concat_tables(tables)


def direct(dataset: Path, split: str, vocab: Vocab) -> dict[str, Any]:
    """The handwriting figures of one split, straight from pyarrow and numpy."""
    table = split_table(dataset, split)
    column = {name: table.column(name).to_numpy() for name in stats.SUMMED}
    chars = Counter("".join(table.column("text").to_pylist()))
    oov = sum(n for c, n in chars.items() if vocab.id_of(c) is None)
    total = sum(chars.values())
    return {
        "lines": table.num_rows,
        "points": int(column["n_points"].sum()),
        "strokes": int(column["n_strokes"].sum()),
        "chars": int(column["n_chars"].sum()),
        "interpolated": int(column["n_interpolated"].sum()),
        "dropped": int(column["n_dropped"].sum()),
        "writers": len({w for w in table.column("writer_id").to_pylist() if w is not None}),
        "lines_without_writer": table.column("writer_id").null_count,
        "length": {
            key: {
                **{f"p{p}": float(np.percentile(column[name], p)) for p in stats.PERCENTILES},
                "max": float(column[name].max()),
                "mean": float(column[name].mean()),
            }
            for key, name in LENGTHS.items()
        },
        "char_counts": dict(chars),
        "coverage": (total - oov) / total,
    }


def test_handwriting_figures_match_a_direct_computation(iam: Path) -> None:
    report = stats.compute(str(iam))
    vocab = stats.load_vocab(open_dataset(str(iam)))
    assert len(report["splits"]) == 4
    for split, found in report["splits"].items():
        want = direct(iam, split, vocab)
        for key in ("lines", "points", "strokes", "chars", "writers", "lines_without_writer"):
            assert found[key] == want[key], (split, key)
        assert found["cleaning"]["interpolated"] == want["interpolated"]
        assert found["cleaning"]["dropped"] == want["dropped"]
        assert found["char_counts"] == want["char_counts"]
        assert found["coverage"] == pytest.approx(want["coverage"], rel=1e-15)
        for key, values in want["length"].items():
            assert found["length"][key] == pytest.approx(values, rel=1e-12), (split, key)
    assert any(s["oov"] for s in report["splits"].values())  # the corpus has some to find


def test_text_figures_match_a_direct_computation(tmp_path: Path) -> None:
    data = write_text_dataset(tmp_path / "text", {"train": 3000, "valid": 900}, seq_len=16)
    report = text_stats(open_dataset(str(data)))
    vocab = Vocab.from_json(json.loads((data / "vocab.json").read_text()))
    for split, found in report["splits"].items():
        table = split_table(data, split)
        ids = np.asarray(table.column("ids").to_pylist(), dtype=np.int64)
        lengths = table.column("length").to_numpy()
        real = ids[np.arange(ids.shape[1])[None, :] < lengths[:, None]]
        counts = np.bincount(real, minlength=len(vocab))
        assert found["rows"] == table.num_rows
        assert found["symbols"] == int(lengths.sum()) == len(real)
        assert found["counts"] == {vocab.symbols[i]: int(n) for i, n in enumerate(counts) if n}


def test_offset_histogram_matches_numpy(iam: Path) -> None:
    dataset = open_dataset(str(iam))
    edges, counts, beyond = stats.offset_histogram(dataset, "trainset", limit=40.0, bins=16)
    table = split_table(iam, "trainset")
    flat = table.column("offsets").combine_chunks().flatten().flatten().to_numpy()
    points = flat.reshape(-1, 3)
    for axis in (0, 1):
        want, want_edges = np.histogram(points[:, axis], bins=16, range=(-40.0, 40.0))
        assert np.array_equal(edges, want_edges)
        assert counts[axis].tolist() == want.tolist()
        assert beyond[axis] == int((np.abs(points[:, axis]) > 40.0).sum())
    assert beyond.sum() > 0  # the limit is narrow enough to cut something off


@pytest.mark.parametrize(
    ("share", "digits", "shown"),
    [
        (1.0, 2, "100.00%"),
        (1 - 1 / 30_000, 2, ">99.99%"),
        (1 - 1 / 10_000, 2, "99.99%"),
        (0.0, 3, "0.000%"),
        (1 / 10_000_000, 3, "<0.001%"),
        (0.5, 2, "50.00%"),
        (None, 2, "-"),
    ],
)
def test_percent_never_rounds_to_a_bound(share: float | None, digits: int, shown: str) -> None:
    assert stats.percent(share, digits) == shown


def test_the_table_does_not_round_one_unknown_character_to_100(
    iam: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = stats.compute(str(iam))
    report["splits"]["testset_v"]["coverage"] = 1 - 1 / 30_000  # one unknown in 30,000
    capsys.readouterr()
    stats.print_report(report)
    row = next(line for line in capsys.readouterr().out.splitlines() if "testset_v" in line)
    assert ">99.99%" in row and "100.00%" not in row, row


# ---------------------------------------------------------------------------------------------
# plots: what each figure holds, read from the matplotlib figure before it is saved


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    caught: dict[str, Any] = {}
    save = stats._save

    def keep(fig: Any, path: Path, plt: Any) -> Path:
        caught[path.name] = {
            "axes": [
                {
                    "title": ax.get_title(loc="left") or ax.get_title(),
                    "ylabel": ax.get_ylabel(),
                    "bars": len(ax.patches),
                    "ticks": [t.get_text() for t in ax.get_xticklabels()],
                }
                for ax in fig.axes
            ]
        }
        return save(fig, path, plt)

    monkeypatch.setattr(stats, "_save", keep)
    return caught


def test_plots_show_what_they_say(iam: Path, tmp_path: Path, figures: dict[str, Any]) -> None:
    report = stats.compute(str(iam))
    written = stats.plot(str(iam), report, str(tmp_path / "plots"))
    assert {p.name for p in written} == {"points_per_line.png", "offsets.png", "characters.png"}
    assert all(p.stat().st_size > 0 for p in written)
    splits = list(report["splits"])

    lengths = figures["points_per_line.png"]["axes"]
    assert len(lengths) == len(splits)  # one panel per split, not four overlaid histograms
    assert [a["title"].split(":")[0] for a in lengths] == splits

    offsets = figures["offsets.png"]["axes"]
    assert offsets[0]["ylabel"]  # the counts are labelled
    assert all("beyond \u00b1150" in a["title"] for a in offsets)  # the cut is said

    chars = figures["characters.png"]["axes"]
    assert len(chars) == len(splits)
    distinct = set().union(*(s["char_counts"] for s in report["splits"].values()))
    assert all(a["bars"] == len(distinct) for a in chars)  # one bar per character
    assert len(chars[-1]["ticks"]) == len(distinct)
    assert "\u2423" in chars[-1]["ticks"]  # the space, named
