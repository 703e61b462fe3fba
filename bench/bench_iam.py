"""IAM-OnDB build speed and memory, against two baselines measured in the same run.

- floor: a single-threaded lxml tree parse of the same stroke files, and nothing else;
- baseline: the usual prep script (ElementTree, a Python loop over points), `baseline_iam_etree`.

The build runs in a fresh process per measurement (`bench.probe`), so peak RSS covers the
process and its pool workers. Full size is the release's: 12,195 lines; memory is also
measured at 4x to show it is bounded by the unit of work, not the corpus.

    python -m bench.bench_iam [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from lxml import etree

from bench.common import CACHE, OUT, Stat, machine, run_probe, table, timed

FULL_LINES = 12_195


def ensure_corpus(lines: int, seed: int = 7) -> Path:
    """A generated corpus in the release layout, kept in bench/out/cache between runs."""
    from graves_data.synth.iam_ondb import IamSynthParams, synth_iam_ondb

    folder = CACHE / f"iam-{lines}-s{seed}"
    stamp = folder / "SYNTH.json"
    if stamp.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    synth_iam_ondb(folder, IamSynthParams(lines=lines, seed=seed), progress=True)
    return folder


def stroke_files(raw: Path) -> list[Path]:
    return sorted((raw / "lineStrokes").rglob("*.xml"))


def warm(files: list[Path]) -> int:
    """Read every file once so that every contender starts from the page cache."""
    return sum(len(f.read_bytes()) for f in files)


def lxml_floor(files: list[Path], repeats: int) -> Stat:
    return timed(lambda: [etree.parse(str(f)) for f in files], repeats)


def probe_runs(kind: str, raw: Path, workers: int, repeats: int) -> list[dict[str, Any]]:
    out = OUT / "tmp" / f"{kind}-{workers}"
    runs = [run_probe([kind, str(raw), str(out), str(workers)]) for _ in range(repeats)]
    shutil.rmtree(out, ignore_errors=True)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small corpora, one run each")
    args = parser.parse_args()
    lines = 1500 if args.quick else FULL_LINES
    repeats = 1 if args.quick else 3
    full, quarter, big = (
        ensure_corpus(lines),
        ensure_corpus(lines // 4, seed=8),
        ensure_corpus(4 * lines, seed=9),
    )

    files = stroke_files(full)
    size = warm(files)
    floor = lxml_floor(files, repeats)
    builds = {w: probe_runs("iam", full, w, repeats) for w in (1, 2)}
    warm(stroke_files(quarter))
    baseline = probe_runs("iam-etree", quarter, 1, repeats)
    warm(stroke_files(big))
    big_build = probe_runs("iam", big, 2, 1)[0]

    result = summarize(len(files), size, floor, builds, baseline, big_build, len(stroke_files(big)))
    (OUT / "iam.json").write_text(json.dumps(result, indent=2))
    (OUT / "iam.md").write_text(render(result))
    print(render(result))


def summarize(
    n_files: int,
    size: int,
    floor: Stat,
    builds: dict[int, list[dict[str, Any]]],
    baseline: list[dict[str, Any]],
    big_build: dict[str, Any],
    big_files: int,
) -> dict[str, Any]:
    points = builds[1][0]["points"]
    wall = {w: Stat.of([r["wall"] for r in runs]) for w, runs in builds.items()}
    base_rate = Stat.of([r["points"] / r["wall"] for r in baseline])
    return {
        "machine": machine(),
        "lines": n_files,
        "xml_mb": size / 1e6,
        "points": points,
        "floor": floor.__dict__,
        "build": {str(w): s.__dict__ for w, s in wall.items()},
        "points_per_s": {str(w): points / s.median for w, s in wall.items()},
        "peak_rss_mb": {str(w): max(r["peak_rss_mb"] for r in runs) for w, runs in builds.items()},
        "ratio_to_floor": {str(w): s.median / floor.median for w, s in wall.items()},
        "baseline_points_per_s": base_rate.__dict__,
        "speedup_over_baseline": {
            str(w): (points / s.median) / base_rate.median for w, s in wall.items()
        },
        "rss_4x_mb": big_build["peak_rss_mb"],
        "lines_4x": big_files,
        "build_4x_s": big_build["wall"],
    }


def render(r: dict[str, Any]) -> str:
    header = ["IAM-OnDB, full size", "wall", "points/s", "peak RSS", "wall / floor"]
    ratio, speedup = r["ratio_to_floor"], r["speedup_over_baseline"]
    text = [
        f"{r['lines']:,} lines, {r['points'] / 1e6:.2f} M points, "
        f"{r['xml_mb']:.0f} MB of stroke XML; {r['machine']}.",
        "",
        table(header, _rows(r)),
        "",
        f"- build / lxml floor (2 workers): **{ratio['2']:.2f}** (target <= 1.0)",
        f"- speed-up over the ElementTree baseline (points/s): **{speedup['2']:.1f}x** with 2 "
        f"workers, {speedup['1']:.1f}x with 1 (target >= 15x)",
        f"- peak RSS, 2 workers: {r['peak_rss_mb']['2']:.0f} MB at 1x, {r['rss_4x_mb']:.0f} MB "
        f"at 4x ({r['lines_4x']:,} lines, built in {r['build_4x_s']:.1f} s)",
    ]
    return "\n".join(text) + "\n"


def _rows(r: dict[str, Any]) -> list[list[str]]:
    floor = Stat(**r["floor"])
    rate = f"{r['points'] / floor.median / 1e6:.2f} M"
    rows = [["lxml tree parse alone (floor), 1 thread", floor.show(), rate, "-", "1.00"]]
    for w in ("1", "2"):
        name = f"graves-data build, {w} worker" + ("s" if w != "1" else "")
        rss = f"{r['peak_rss_mb'][w]:.0f} MB"
        speed = f"{r['points_per_s'][w] / 1e6:.2f} M"
        rows.append(
            [name, Stat(**r["build"][w]).show(), speed, rss, f"{r['ratio_to_floor'][w]:.2f}"]
        )
    base = Stat(**r["baseline_points_per_s"])
    spread = f"{base.median / 1e6:.3f} M ({base.low / 1e6:.3f}–{base.high / 1e6:.3f})"
    rows.append(["ElementTree + Python loop (baseline), on a quarter", "-", spread, "-", "-"])
    return rows


if __name__ == "__main__":
    main()
