"""Run mypy over the package as it is installed: one import name, three folders mapped under it.

mypy does not read setuptools' package-dir, so this builds a tree of links in .typecheck/
that has the installed shape (graves_data/corpora -> corpora/, ...) and checks that.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# scripts outside the package, checked against the installed shape too
SCRIPTS = (ROOT / "tools" / "train_demo.py", ROOT / "tools" / "results.py")
MAPPED = {"corpora": "corpora", "pipelines": "pipelines", "models": "models"}


def build_tree() -> Path:
    """A fresh tree per run, so that two runs at once never pull it from under each other."""
    (ROOT / ".typecheck").mkdir(exist_ok=True)
    tree = Path(tempfile.mkdtemp(prefix="tree-", dir=ROOT / ".typecheck"))
    pkg = tree / "graves_data"
    pkg.mkdir(parents=True)
    for entry in (ROOT / "graves_data").iterdir():
        if entry.name != "__pycache__":
            (pkg / entry.name).symlink_to(entry)
    for name, folder in MAPPED.items():
        (pkg / name).symlink_to(ROOT / folder)
    return tree


def main() -> int:
    tree = build_tree()
    try:
        return _mypy(tree)
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def _mypy(tree: Path) -> int:
    cmd = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "graves_data",
        *(str(script) for script in SCRIPTS),
    ]
    return subprocess.call(cmd, cwd=tree)


if __name__ == "__main__":
    raise SystemExit(main())
