"""IAM-OnDB build speed and memory, against its yardsticks measured in the same run.

On the real release where `../shared/data/iam-ondb-release` has it (extracted once into
bench/out/cache/), and on a generated corpus at the release's size; every figure says which.
In each of n rounds, one after the other, each in a fresh process (`bench.probe`):

- floor: a single-threaded lxml tree parse of every stroke file, and nothing else;
- limit: every Point's x, y and time pulled from the read bytes with numpy, no checks;
- the build with 1 and with 2 workers (from the extracted folder; on the real release also
  from its archives, as published);
- sjvasquez's `prepare_data.py`, re-implemented (`baseline_sjvasquez`), one process.

Ratios are of the medians over the rounds. Peak RSS (the process and its pool workers) is
measured at 1x and at 4x input (`iam_inputs.copies`), and a cProfile of the 1-worker build on
the first corpus (`graves-data --profile`) shows where its time goes.

    python -m bench.bench_iam [--quick] [--corpus real,generated] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import pstats
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import CACHE, OUT, Stat, machine, run_probe, table
from bench.iam_inputs import RELEASE, copies, real_release, stroke_files, warm

FULL_LINES = 12_195
CONTENDERS = {  # key: (probe kind, workers, what the row says)
    "floor": ("lxml-floor", 1, "lxml tree parse of every stroke file, 1 thread (the floor)"),
    "limit": ("numpy-limit", 1, "numpy extraction of every Point's x, y, time, no checks"),
    "build-1": ("iam", 1, "`graves-data build iam-ondb`, 1 worker"),
    "build-2": ("iam", 2, "`graves-data build iam-ondb`, 2 workers"),
    "uncompiled-2": (
        "iam-uncompiled",
        2,
        "the same, 2 workers, as an install without a C compiler runs it (numpy scanner, numpy "
        "cleaning)",
    ),
    "archives-2": ("iam", 2, "the build from the release's archives, 2 workers"),
    "sjvasquez": ("sjvasquez", 1, "sjvasquez `prepare_data.py`, re-implemented, 1 process"),
}


def ensure_generated(lines: int, seed: int = 7) -> Path:
    """A generated corpus in the release layout, kept in bench/out/cache between runs."""
    from graves_data.synth.iam_ondb import IamSynthParams, synth_iam_ondb

    folder = CACHE / f"iam-{lines}-s{seed}"
    stamp = folder / "SYNTH.json"
    if stamp.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    synth_iam_ondb(folder, IamSynthParams(lines=lines, seed=seed), progress=True)
    return folder


def probe(key: str, raw: Path, workers: int | None = None) -> dict[str, Any]:
    kind, default_workers, _ = CONTENDERS[key]
    out = OUT / "tmp" / key
    report = run_probe([kind, str(raw), str(out), str(workers or default_workers)])
    shutil.rmtree(out, ignore_errors=True)
    return report


def measure(name: str, raw: Path, rounds: int, prep_rounds: int, archives: bool) -> dict[str, Any]:
    """Every contender once per round, in the same order (the slow prep script in the first
    `prep_rounds` only); then the 4x input's peak memory, 2 workers."""
    files = stroke_files(raw)
    size = warm(files)
    keys = [k for k in CONTENDERS if k != "archives-2" or archives]
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    for round_ in range(rounds):
        for key in keys:
            if key == "sjvasquez" and round_ >= prep_rounds:
                continue
            source = RELEASE if key == "archives-2" else raw
            runs[key].append(probe(key, source))
            print(f"{name} round {round_ + 1}/{rounds} {key}: {runs[key][-1]}", flush=True)
    big = copies(raw, 4)
    warm(stroke_files(big))
    big_runs = {2: probe("build-2", big)}
    shutil.rmtree(big, ignore_errors=True)
    return summarize(name, len(files), size, runs, big_runs)


def summarize(
    name: str,
    n_files: int,
    size: int,
    runs: dict[str, list[dict[str, Any]]],
    big_runs: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    wall = {k: Stat.of([r["wall"] for r in rs]) for k, rs in runs.items()}
    floor = wall["floor"].median
    return {
        "corpus": name,
        "machine": machine(),
        "lines": n_files,
        "xml_mb": size / 1e6,
        "points": runs["build-1"][0]["points"],
        "limit_points": runs["limit"][0]["points"],
        "wall": {k: s.__dict__ for k, s in wall.items()},
        "ratio": {k: s.median / floor for k, s in wall.items()},
        "cpu": {k: Stat.of([r["cpu"] for r in rs]).__dict__ for k, rs in runs.items()},
        "paired": {  # the ratio within each round, as a check on the ratio of the medians
            k: [r["wall"] / f["wall"] for r, f in zip(rs, runs["floor"], strict=False)]
            for k, rs in runs.items()
        },
        "peak_rss_mb": {k: max(r["peak_rss_mb"] for r in rs) for k, rs in runs.items()},
        "rss_4x_mb": {str(w): r["peak_rss_mb"] for w, r in big_runs.items()},
        "wall_4x_s": {str(w): r["wall"] for w, r in big_runs.items()},
        "points_4x": big_runs[2]["points"],
    }


def profile_build(raw: Path, top: int = 25) -> str:
    """The 1-worker build under `graves-data --profile`: the functions with most own time."""
    target = OUT / "iam-build.prof"
    out = OUT / "tmp" / "profiled"
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-c", "from graves_data.cli import entry; entry()"]
    args = ["--profile", str(target), "build", "iam-ondb", "--raw", str(raw), "--out", str(out)]
    subprocess.run([*command, *args, "--workers", "1", "--quiet"], check=True, cwd=OUT)
    shutil.rmtree(out, ignore_errors=True)
    stats = pstats.Stats(str(target))
    total = max(t for _, _, _, t, _ in stats.stats.values())  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][2])[:top]  # type: ignore[attr-defined]
    lines = [f"{'own s':>7} {'own %':>6} {'calls':>9}  function", "-" * 72]
    for (file, line, function), (_, calls, own, _, _) in rows:
        where = f"{_short(file)}:{line}({function})"
        lines.append(f"{own:7.3f} {100 * own / total:6.1f} {calls:9d}  {where}")
    return "\n".join([f"whole build: {total:.2f} s under cProfile", *lines])


def _short(file: str) -> str:
    parts = Path(file).parts
    for anchor in ("corpora", "pipelines", "graves_data", "site-packages"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor) + (anchor == "site-packages") :])
    return file if file.startswith("~") else Path(file).name


def render(r: dict[str, Any]) -> str:
    label = r["corpus"]
    header = [
        "whole command",
        "wall",
        "points/s",
        "peak RSS",
        "wall vs lxml parse",
        "CPU s",
        "CPU vs lxml",
    ]
    floor_cpu = r["cpu"]["floor"]["median"]
    rows = []
    for key, stat in r["wall"].items():
        s = Stat(**stat)
        rate = f"{r['points'] / s.median / 1e6:.2f} M"
        ratio_text = f"{r['ratio'][key]:.2f}"
        if key.startswith("build"):
            ratio_text = f"**{ratio_text}**"
        rss = f"{r['peak_rss_mb'][key]:.0f} MB"
        cpu = r["cpu"][key]["median"]
        cpu_text = [f"{cpu:.1f}", f"{cpu / floor_cpu:.2f}"]
        rows.append([CONTENDERS[key][2], s.show(), rate, rss, ratio_text, *cpu_text])
    ratio, paired = r["ratio"], r["paired"]
    pairs = zip(paired["uncompiled-2"], paired["build-2"], strict=True)
    compiled_over = [f"{compiled / numpy:.2f}" for numpy, compiled in pairs]
    text = [
        f"### {label}",
        "",
        f"{r['lines']:,} stroke files, {r['points'] / 1e6:.2f} M points (after cleaning), "
        f"{r['xml_mb']:.0f} MB of stroke XML; {r['machine']}.",
        "",
        table(header, rows),
        "",
        f"- 2 workers / lxml floor: **{ratio['build-2']:.2f}** (target <= 0.5); "
        f"per round {', '.join(f'{v:.2f}' for v in paired['build-2'])}",
        f"- 1 worker / lxml floor: **{ratio['build-1']:.2f}** (target <= 1.0); "
        f"per round {', '.join(f'{v:.2f}' for v in paired['build-1'])}",
        f"- the 2-worker build with its compiled parts (stroke scanner, cleaning kernels) / "
        f"without them: "
        f"{ratio['build-2'] / ratio['uncompiled-2']:.2f}x (per round {', '.join(compiled_over)})",
        f"- numpy limit / lxml floor: {ratio['limit']:.2f}; the re-implemented prep script / "
        f"2-worker build: {ratio['sjvasquez'] / ratio['build-2']:.1f}x",
        f"- peak RSS of the build (its process and pool workers): "
        f"{r['peak_rss_mb']['build-1']:.0f} MB with 1 worker, "
        f"{r['peak_rss_mb']['build-2']:.0f} MB with 2 at 1x; {r['rss_4x_mb']['2']:.0f} MB with 2 "
        f"at 4x input ({4 * r['lines']:,} files, {r['points_4x'] / 1e6:.1f} M points, built in "
        f"{r['wall_4x_s']['2']:.1f} s): "
        f"{r['rss_4x_mb']['2'] / r['peak_rss_mb']['build-2']:.2f}x the memory for 4x the input",
    ]
    return "\n".join(text) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a small generated corpus, 1 round")
    parser.add_argument("--corpus", default="real,generated", help="real, generated, or both")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--prep-rounds", type=int, default=1, help="rounds with the prep script")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    wanted = args.corpus.split(",")
    real = real_release() if "real" in wanted and not args.quick else None
    corpora: list[tuple[str, Path, bool]] = []
    if real is not None:
        corpora.append(("Real release (../shared/data/iam-ondb-release)", real, True))
    if "generated" in wanted or real is None:
        # beside the real release, a quarter of its size is enough to compare the two
        lines = 600 if args.quick else FULL_LINES // (4 if real is not None else 1)
        name = f"Generated corpus (graves_data.synth, {lines:,} lines; not the real release)"
        corpora.append((name, ensure_generated(lines), False))
    results = [
        measure(name, raw, rounds, args.prep_rounds, archives) for name, raw, archives in corpora
    ]
    parts = [render(r) for r in results]
    profile = profile_build(corpora[0][1])
    parts.append(
        f"### Where the 1-worker build's time goes ({corpora[0][0]})\n\n"
        f"`graves-data --profile iam-build.prof build iam-ondb --workers 1`, the functions with "
        f"the most own time on the main thread (cProfile does not see the serial path's two "
        f"threads: reading and hashing the next unit's files, encoding and writing the last "
        f"unit's shard):\n\n```\n{profile}\n```\n"
    )
    (OUT / "iam.json").write_text(json.dumps(results, indent=2))
    (OUT / "iam.md").write_text("\n".join(parts))
    print("\n".join(parts))


if __name__ == "__main__":
    main()
