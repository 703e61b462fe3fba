"""Where a build's time goes: pyinstrument over one worker's build of each corpus.

Runs the IAM-OnDB and enwik8 builds in this process with one worker (so the profile sees every
function) and writes the top of each call tree to bench/out/profile.md, which `make bench`
adds to bench/README.md.

    python -m bench.profile_builds [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from pyinstrument import Profiler

from bench.bench_iam import ensure_generated
from bench.common import OUT


def profile(function: object, *args: object) -> str:
    profiler = Profiler(interval=0.001)
    profiler.start()
    function(*args)  # type: ignore[operator]
    profiler.stop()
    text: str = profiler.output_text(unicode=True, color=False, show_all=False)
    return "\n".join(text.splitlines()[:60])


def iam(raw: Path, out: Path) -> None:
    from graves_data.corpora.iam_ondb import build
    from graves_data.pipelines.runner import Execution

    build(raw, out, execution=Execution(workers=1, progress=False))


def enwik8(raw: Path, out: Path) -> None:
    from graves_data.corpora import enwik8 as corpus
    from graves_data.pipelines.runner import Execution

    corpus.build(str(raw), str(out), execution=Execution(workers=1, progress=False))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    try:
        from graves_data.synth.text import Enwik8SynthParams, write_enwik8

        iam_raw = ensure_generated(1500 if args.quick else 3048, seed=8)
        text_raw = write_enwik8(
            work / "enwik8", Enwik8SynthParams(size=5_000_000 if args.quick else 25_000_000)
        )
        parts = [
            "### Where the time goes (pyinstrument, one worker)",
            "",
            f"IAM-OnDB, {iam_raw.name}:",
            "```",
            profile(iam, iam_raw, work / "iam"),
            "```",
            "",
            f"enwik8, {text_raw.stat().st_size / 1e6:.0f} MB:",
            "```",
            profile(enwik8, text_raw, work / "enwik8-ds"),
            "```",
            "",
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (OUT / "profile.md").write_text("\n".join(parts))
    print("\n".join(parts))


if __name__ == "__main__":
    main()
