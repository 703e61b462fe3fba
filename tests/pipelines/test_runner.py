"""The runner's own rules: where work runs and how many processes it takes, the bad-input
policy applied in one place, and the manifest assembled in one place."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from graves_data.cli import main
from graves_data.errors import BadInput, UsageError
from graves_data.manifest import Normalization, make_manifest
from graves_data.pipelines.executors import backend
from graves_data.pipelines.job import MAX_WORKERS, BadInputPolicy, Execution
from graves_data.vocab import Vocab
from tests.conftest import shared_sample


def test_workers_are_capped_at_the_units_there_are() -> None:
    """`--workers 10000` on a 7-form corpus started 1,532 processes before the cap."""
    assert backend(Execution(workers=64), 7) == ("pool", 7)
    assert backend(Execution(workers=3), 100) == ("pool", 3)
    assert backend(Execution(workers=64), 1)[0] == "serial"
    assert backend(Execution(scheduler="tcp://x:1"), 7)[0] == "dask"


@pytest.mark.parametrize("workers", [0, -2, MAX_WORKERS + 1, 10_000])
def test_absurd_worker_counts_are_refused(workers: int) -> None:
    with pytest.raises(UsageError, match="--workers"):
        Execution(workers=workers)


def test_absurd_workers_on_the_command_line_are_one_line(tmp_path: Path) -> None:
    raw = shared_sample("iam-ondb-sample")
    args = ["build", "iam-ondb", "--raw", str(raw), "--out", str(tmp_path / "ds")]
    result = CliRunner().invoke(main, [*args, "--quiet", "--workers", "10000"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --workers 10000")
    assert not (tmp_path / "ds").exists()


def test_the_bad_input_policy_raises_or_quarantines() -> None:
    error = BadInput("a/b.xml", "no-points", "no pen points left")
    with pytest.raises(BadInput):
        BadInputPolicy("error").take(error)
    policy = BadInputPolicy("skip")
    policy.take(error)
    assert [q.to_json() for q in policy.quarantine] == [
        {"source": "a/b.xml", "code": "no-points", "reason": "no pen points left"}
    ]


def test_the_manifest_keys_keep_their_order() -> None:
    vocab = Vocab("char", ("a",), (1,))
    manifest = make_manifest(
        corpus="c",
        kind="text",
        params={"seq_len": 3},
        sources=[],
        splits={},
        quarantine=[],
        extra={"text": {}},
        vocab=vocab,
        shards=[],
    )
    assert list(manifest) == [
        "schema_version",
        "corpus",
        "kind",
        "version",
        "params",
        "sources",
        "splits",
        "quarantine",
        "text",
        "vocab",
        "content_hash",
    ]
    assert manifest["vocab"] == {"path": "vocab.json", "sha256": vocab.sha256(), "size": 1}


def test_normalization_from_exact_moments() -> None:
    # steps (1, 2) and (3, 6): mean (2, 4), population std (1, 2)
    moments = {"_n": 2, "_sx": 4, "_sy": 8, "_sxx": 10, "_syy": 40}
    norm = Normalization.from_moments(moments, "train")
    assert norm.mean == (2.0, 4.0) and norm.std == (1.0, 2.0)
    assert Normalization.from_manifest({"normalization": norm.to_json()}) == norm
    empty = Normalization.from_moments({}, "train").to_json()
    assert empty == {"split": "train", "count": 0, "mean": [0.0, 0.0], "std": [1.0, 1.0]}


def test_a_remote_sources_json_with_a_bad_entry_is_a_clear_error() -> None:
    """One reader for SOURCES.json, strict everywhere: a remote raw folder's bad entry used to
    be dropped in silence (and its file lost its URL in the manifest), a local one's refused."""
    import json

    from graves_data.errors import SourcesFileError
    from graves_data.pipelines.manifest import downloaded_sources
    from graves_data.storage import resolve

    raw = resolve("memory://raw-sources-test/iam")
    good = {"path": "a.tar.gz", "url": "https://x/a.tar.gz", "size": 3, "sha256": "0" * 64}
    bad = {"path": "b.tar.gz", "size": "3"}
    raw.join("SOURCES.json").write_atomic(json.dumps({"files": [good, bad]}).encode())
    with pytest.raises(SourcesFileError, match="malformed entry"):
        downloaded_sources(raw)
    raw.join("SOURCES.json").write_atomic(json.dumps({"files": [good]}).encode())
    assert downloaded_sources(raw) == [good]
    raw.join("SOURCES.json").write_atomic(b"{not json")
    with pytest.raises(SourcesFileError, match="cannot be read as JSON"):
        downloaded_sources(raw)


def test_serial_units_overlap_their_io_but_keep_order_and_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The serial path reads the next unit and writes the last one on threads: results still
    come in unit order, a unit's shard is written only after its rows are made, and a read
    error of a later unit surfaces as it is raised, once the units before it are written."""
    from types import SimpleNamespace
    from typing import Any

    from graves_data.pipelines import executors

    events: list[str] = []

    def read(raw: Any, unit: Any) -> tuple[str, tuple[()]]:
        if unit.key == "u3":
            raise FileNotFoundError(f"{unit.key}/stroke.xml: gone")
        return f"inputs of {unit.key}", ()

    def make(process: Any, unit: Any, ctx: Any, inputs: Any) -> tuple[str, None, tuple[()]]:
        assert inputs == (f"inputs of {unit.key}", ())
        events.append(f"made {unit.key}")
        return f"rows of {unit.key}", None, ()

    def write(unit: Any, ctx: Any, made: Any, fingerprint: str) -> str:
        assert made[0] == f"rows of {unit.key}" and fingerprint == f"fp {unit.key}"
        events.append(f"wrote {unit.key}")
        return unit.key

    monkeypatch.setattr(executors, "read_inputs", read)
    monkeypatch.setattr(executors, "make_rows", make)
    monkeypatch.setattr(executors, "write_result", write)
    ctx: Any = SimpleNamespace(raw_url=str(tmp_path))
    units = [SimpleNamespace(key=f"u{i}") for i in range(3)]
    todo = iter([(unit, f"fp {unit.key}") for unit in units])
    results = list(executors._dispatch_serial(None, todo, ctx))  # type: ignore[arg-type]
    assert results == ["u0", "u1", "u2"]
    for key in ("u0", "u1", "u2"):
        assert events.index(f"made {key}") < events.index(f"wrote {key}")
    events.clear()
    failing = [SimpleNamespace(key=k) for k in ("u0", "u3", "u4")]
    todo = iter([(unit, f"fp {unit.key}") for unit in failing])
    with pytest.raises(FileNotFoundError, match=r"u3/stroke\.xml"):
        list(executors._dispatch_serial(None, todo, ctx))  # type: ignore[arg-type]
    assert "wrote u0" in events and "made u3" not in events and "made u4" not in events


def _pid_or_fail(fail: bool) -> int:
    if fail:
        raise FileNotFoundError("original/a01/strokesz.xml: gone")
    return os.getpid()


@pytest.mark.parametrize("workers", [1, 2])
def test_beside_runs_on_a_process_of_its_own_only_with_a_second_worker(workers: int) -> None:
    from graves_data.pipelines.executors import beside

    execution = Execution(workers=workers, progress=False)
    with beside(_pid_or_fail, False, execution=execution) as result:
        pid = result()
    assert (pid != os.getpid()) == (workers > 1)
    failing = beside(_pid_or_fail, True, execution=execution)
    with failing as result, pytest.raises(FileNotFoundError, match=r"strokesz\.xml: gone"):
        result()


def test_a_pool_takes_the_heaviest_units_first_a_stream_in_its_order() -> None:
    from types import SimpleNamespace
    from typing import Any

    from graves_data.pipelines.executors import _heaviest_first

    def unit(key: str, *sizes: int) -> Any:
        return SimpleNamespace(
            key=key, inputs=tuple((f"{key}/{i}", s, 0) for i, s in enumerate(sizes))
        )

    units = [unit("a", 5, 5), unit("b", 30), unit("c", 4, 4, 4), unit("d", 10), unit("e", 12)]
    assert [u.key for u in _heaviest_first(units)] == [
        "b",
        "c",
        "e",
        "a",
        "d",
    ]  # ties in plan order
    assert [u.key for u in _heaviest_first(iter(units))] == ["a", "b", "c", "d", "e"]
