"""The command line: a user's view of build, stats and show, and of its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from graves_data.cli import main


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import shared_sample

    out = tmp_path_factory.mktemp("cli") / "iam"
    code, text = run(
        "build",
        "iam-ondb",
        "--raw",
        str(shared_sample("iam-ondb-sample")),
        "--out",
        str(out),
        "--quiet",
        "--workers",
        "1",
    )
    assert code == 0, text
    assert "train: 45 rows" in text and "2 inputs quarantined" in text
    return out


def test_build_options_come_from_the_params_dataclass() -> None:
    code, text = run("build", "iam-ondb", "--help")
    assert code == 0
    for option in (
        "--split [paper|official|writers]",
        "--spike-threshold",
        "--keep-time / --no-keep-time",
        "--on-bad-input",
    ):
        assert option in text


def test_stats_json_agrees_with_the_manifest(dataset: Path) -> None:
    code, text = run("stats", str(dataset), "--json")
    assert code == 0
    report = json.loads(text)
    manifest = json.loads((dataset / "manifest.json").read_text())
    for split in ("train", "valid"):
        assert report["splits"][split]["lines"] == manifest["splits"][split]["rows"]
        assert report["splits"][split]["points"] == manifest["splits"][split]["points"]
    assert report["splits"]["train"]["writers"] == 4
    assert report["quarantine"] == {"placeholder-transcription": 1, "transcription-mismatch": 1}
    assert report["splits"]["valid"]["oov"] == {
        "*": 1,
        "N": 1,
    }  # only in valid, so outside the vocabulary
    assert 0.99 < report["splits"]["valid"]["coverage"] < 1.0


def test_stats_tables_and_plots(dataset: Path, tmp_path: Path) -> None:
    code, text = run("stats", str(dataset), "--plots", str(tmp_path / "plots"))
    assert code == 0
    assert "quarantine" in text and "normalisation over train" in text
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "characters.png",
        "offsets.png",
        "points_per_line.png",
    ]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in (tmp_path / "plots").iterdir())


def test_show_draws_one_polyline_per_stroke(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "line.svg"
    code, text = run("show", str(dataset), "a01-000u-01", "--out", str(out))
    assert code == 0 and "A MOVE to stop" in text
    svg = etree.fromstring(out.read_bytes())
    drawn = svg.findall(".//{http://www.w3.org/2000/svg}polyline") + svg.findall(
        ".//{http://www.w3.org/2000/svg}circle"
    )
    import polars as pl

    row = pl.read_parquet(str(dataset / "data" / "*.parquet")).filter(
        pl.col("line_id") == "a01-000u-01"
    )
    assert len(drawn) == row["n_strokes"][0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("build", "iam-ondb", "--raw", "/no/such/folder", "--out", "{tmp}/o"), "no such folder"),
        (("build", "iam-ondb", "--raw", "{tmp}", "--out", "{tmp}/o"), "overlap"),
        (("stats", "{tmp}"), "not a graves-data dataset"),
        (("show", "{dataset}", "zz-999-01", "--out", "{tmp}/x.svg"), "no line 'zz-999-01'"),
        (("show", "{dataset}", "a01-000u-01", "--out", "{tmp}/x.gif"), "unknown drawing format"),
    ],
)
def test_user_errors_are_one_line_without_traceback(
    args: tuple[str, ...], message: str, tmp_path: Path, dataset: Path
) -> None:
    filled = [a.format(tmp=tmp_path, dataset=dataset) for a in args]
    out = subprocess.run(
        [sys.executable, "-m", "graves_data.cli", *filled], capture_output=True, text=True
    )
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_existing_output_needs_overwrite(dataset: Path) -> None:
    from tests.conftest import shared_sample

    raw = str(shared_sample("iam-ondb-sample"))
    code, text = run(
        "build", "iam-ondb", "--raw", raw, "--out", str(dataset), "--split", "official", "--quiet"
    )
    assert code == 2 and "--overwrite" in text


# top-level packages, and graves-data's own packages, that only `synth`, the networks and
# `serve` may load
HEAVY = ("HersheyFonts", "torch", "starlette", "uvicorn")
LAZY = ("graves_data.synth", "graves_data.serve")


@pytest.mark.parametrize(
    "args",
    [("build", "iam-ondb", "--help"), ("verify", "{dataset}"), ("stats", "{dataset}")],
)
def test_commands_that_make_no_corpus_load_no_generator_and_no_torch(
    dataset: Path, args: tuple[str, ...]
) -> None:
    """The generators (and their fonts) load only when `synth` runs, torch only in models/,
    the web app only for `serve`: each command runs in a fresh interpreter, which then lists
    what it imported."""
    script = (
        "import sys\n"
        "from graves_data.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:], standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} "
        f"or m.startswith({LAZY!r})))\n"
    )
    argv = [a.format(dataset=dataset) for a in args]
    done = subprocess.run(
        [sys.executable, "-c", script, *argv], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


def test_synth_loads_its_generator_when_it_runs(tmp_path: Path) -> None:
    code, text = run("synth", "ptb", "--out", str(tmp_path / "ptb"), "--quiet")
    assert code == 0, text
    assert (tmp_path / "ptb").is_dir() and "wrote a generated ptb corpus" in text
