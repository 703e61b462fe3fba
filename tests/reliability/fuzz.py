"""Coverage-guided fuzzing of the IAM-OnDB readers with atheris (libFuzzer): `make fuzz`.

    python tests/reliability/fuzz.py [--seconds 60] [--targets stroke,transcription,writer]

runs each target of `fuzz_targets.TARGETS` for a bounded time, in its own process, starting
from the kept corpus `corpus/<target>/` (read only: what the run discovers goes to a scratch
folder), with a per-input timeout (a hang is a finding) and a memory limit. It prints, per
target, the executions, the coverage reached and any finding, and exits 1 if there was one; a
finding's input is left in the scratch folder to be added to `corpus/<target>/`, where
`test_fuzz.py` replays it on every `make test`.

`--run TARGET [libFuzzer options]` is the single-target entry point the driver starts.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
ROOT = HERE.parents[1]


def run_target(target: str, libfuzzer_args: list[str]) -> None:
    """Fuzz one target in this process (never returns: libFuzzer exits)."""
    import atheris

    with atheris.instrument_imports(include=["graves_data"]):
        from tests.reliability.fuzz_targets import TARGETS

    check = TARGETS[target]
    atheris.Setup([sys.argv[0], *libfuzzer_args], check)
    atheris.Fuzz()


@dataclass(frozen=True)
class Outcome:
    target: str
    seconds: float
    runs: int
    coverage: int
    features: int
    corpus: int
    finding: str | None

    def line(self) -> str:
        found = f"FINDING: {self.finding}" if self.finding else "no finding"
        return (
            f"{self.target:14s} {self.seconds:6.0f} s  {self.runs:>10,d} runs  "
            f"cov {self.coverage:5d}  ft {self.features:6d}  corpus {self.corpus:5d}  {found}"
        )


STATUS = re.compile(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)")
DONE = re.compile(r"Done (\d+) runs in (\d+) second")


def fuzz(target: str, seconds: int, scratch: Path) -> Outcome:
    """Run one target for `seconds` in a child process; read libFuzzer's report."""
    work = scratch / target
    work.mkdir(parents=True, exist_ok=True)
    artifacts = scratch / f"{target}-findings"
    artifacts.mkdir(exist_ok=True)
    command = [
        *(sys.executable, str(Path(__file__).resolve()), "--run", target),
        f"-max_total_time={seconds}",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-max_len=65536",
        f"-artifact_prefix={artifacts}/",
        "-print_final_stats=1",
        str(work),
        str(CORPUS / target),
    ]
    start = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    log = done.stdout + done.stderr
    (scratch / f"{target}.log").write_text(log)
    statuses = STATUS.findall(log)
    runs = int(DONE.findall(log)[-1][0]) if DONE.findall(log) else 0
    cov, ft, corp = (int(v) for v in statuses[-1][1:]) if statuses else (0, 0, 0)
    found = sorted(artifacts.iterdir())
    finding = None
    if done.returncode != 0 or found:
        names = ", ".join(str(p) for p in found) or "no input saved"
        finding = f"exit {done.returncode}; {names}; log {scratch / f'{target}.log'}"
    return Outcome(target, elapsed, runs, cov, ft, corp, finding)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="per target")
    parser.add_argument("--targets", default="stroke,transcription,writer")
    parser.add_argument("--scratch", default=None, help="folder for the run (default: a temp)")
    parser.add_argument("--run", default=None, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.run:
        sys.path.insert(0, str(ROOT))
        run_target(args.run, rest)
        return 0
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="graves-fuzz-"))
    outcomes = [fuzz(t, args.seconds, scratch) for t in args.targets.split(",")]
    for outcome in outcomes:
        print(outcome.line())
    bad = [o for o in outcomes if o.finding]
    if not bad:
        shutil.rmtree(scratch, ignore_errors=True)
        return 0
    print(f"findings kept in {scratch}: add each input to {CORPUS}/<target>/ once fixed")
    return 1


if __name__ == "__main__":
    sys.exit(main())
