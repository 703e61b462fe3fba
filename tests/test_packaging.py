"""The two packaging traps of ARCHITECTURE.md, each with its guard."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import compiler

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {
    "graves_data": "graves_data",
    "corpora": "graves_data.corpora",
    "pipelines": "graves_data.pipelines",
    "models": "graves_data.models",
}


def _project() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_folder_is_listed() -> None:
    """A subpackage missing from `packages` imports in editable mode but leaves the wheel."""
    setuptools = _project()["tool"]["setuptools"]  # type: ignore[index]
    listed = set(setuptools["packages"])
    found = set()
    for folder, name in MAPPED.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    assert found, "no packages found"
    assert found <= listed, f"packages not listed in pyproject: {sorted(found - listed)}"
    assert listed <= found, f"listed packages without __init__.py: {sorted(listed - found)}"


@pytest.mark.slow
def test_built_wheel_imports_every_package(tmp_path: Path) -> None:
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*pip, "-w", str(tmp_path), str(ROOT)], check=True)
    wheel = next(tmp_path.glob("graves_data-*.whl"))
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
        names = archive.namelist()
    assert not any(n.startswith(("models/", "pipelines/", "corpora/")) for n in names), (
        "generic top-level names"
    )
    if compiler():
        for module in ("corpora/iam_ondb/_strokescan", "pipelines/_strokeclean"):
            built = [n for n in names if n.startswith(f"graves_data/{module}")]
            assert {".so", ".pyi"} <= {Path(n).suffix for n in built}, built  # and typed
    static = sorted(p.name for p in (ROOT / "graves_data" / "serve" / "static").iterdir())
    assert static and all(f"graves_data/serve/static/{name}" in names for name in static)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import graves_data.corpora.iam_ondb, graves_data.pipelines.runner;"
        "import graves_data.models, graves_data.synth, graves_data.serve.app;"
        "import graves_data.corpora as c; assert c.__file__.startswith(sys.argv[1]), c.__file__;"
        "from graves_data.corpora.iam_ondb import fastread as f;"
        "from graves_data.pipelines import strokebatch as b;"
        "ms = (f.COMPILED, b.COMPILED);"
        "assert all(m is None or m.__file__.startswith(sys.argv[1]) for m in ms), ms;"
        "print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(unpacked)], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_page_files_are_package_data() -> None:
    """The web app's page is package data: every file of serve/static must match a pattern."""
    import fnmatch

    patterns = _project()["tool"]["setuptools"]["package-data"]["graves_data.serve"]  # type: ignore[index]
    static = ROOT / "graves_data" / "serve" / "static"
    files = [p.relative_to(static.parent).as_posix() for p in static.iterdir()]
    assert files
    assert all(any(fnmatch.fnmatch(f, pattern) for pattern in patterns) for f in files), files


def test_bare_folder_imports_are_banned(tmp_path: Path) -> None:
    """`import models` from the repo root would make a second module object: ruff refuses it."""
    probe = tmp_path / "probe.py"
    probe.write_text("import models\nfrom pipelines import runner\nimport corpora.iam_ondb\n")
    ruff = [sys.executable, "-m", "ruff", "check", "--no-cache"]
    config = ["--config", str(ROOT / "pyproject.toml")]
    out = subprocess.run([*ruff, *config, str(probe)], capture_output=True, text=True)
    assert out.returncode != 0
    assert out.stdout.count("TID251") == 3, out.stdout
