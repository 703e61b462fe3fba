"""The HTTP API over a live server: what it answers, and what it refuses (404 for anything not
served, 400 for malformed input, 413 for oversize bodies, 409, 429), never writing half a file."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import numpy as np
import pytest

from graves_data.corpora.ink import write_inkml
from graves_data.serve.catalog import decode_marked
from graves_data.shards import open_dataset
from graves_data.vocab import build_vocab
from tests.serve.conftest import LiveServer


def request(
    server: LiveServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, str]:
    """A raw request: the path goes on the wire exactly as given (no normalising)."""
    where = urlsplit(server.url)
    connection = http.client.HTTPConnection(where.hostname or "", where.port, timeout=120)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    kind = response.getheader("content-type") or ""
    connection.close()
    return response.status, data, kind


def get_json(server: LiveServer, path: str) -> Any:
    status, data, _ = request(server, "GET", path)
    assert status == 200, data
    return json.loads(data)


def post_json(server: LiveServer, path: str, value: Any) -> tuple[int, Any]:
    body = json.dumps(value).encode()
    status, data, _ = request(server, "POST", path, body, {"content-type": "application/json"})
    return status, json.loads(data)


def dataset_rows(path: Path) -> dict[str, dict[str, Any]]:
    dataset = open_dataset(path)
    return {r["line_id"]: r for s in dataset.splits for r in dataset.table(s).to_pylist()}


def test_datasets_lists_what_was_named(server: LiveServer) -> None:
    found = get_json(server, "/api/datasets")
    names = {d["name"]: d for d in found["datasets"]}
    assert set(names) == {"iam-ondb", "text"}
    manifest = json.loads((server.datasets["iam-ondb"] / "manifest.json").read_text())
    assert names["iam-ondb"]["splits"] == {s: v["rows"] for s, v in manifest["splits"].items()}
    assert {r["name"]: r["task"] for r in found["runs"]} == {
        "synthesis": "synthesis",
        "prediction": "handwriting",
    }
    assert found["ink"] is True


def test_lines_search_split_and_paging(server: LiveServer) -> None:
    rows = dataset_rows(server.datasets["iam-ondb"])
    everything = get_json(server, "/api/datasets/iam-ondb/lines?limit=500")
    assert everything["total"] == len(rows)
    word = "the"
    expected = sorted(k for k, r in rows.items() if word in r["text"].lower())
    found = get_json(server, f"/api/datasets/iam-ondb/lines?q={word}&limit=500")
    assert sorted(line["line_id"] for line in found["lines"]) == expected
    valid = get_json(server, "/api/datasets/iam-ondb/lines?split=valid&limit=500")
    assert (
        valid["total"]
        == json.loads((server.datasets["iam-ondb"] / "manifest.json").read_text())["splits"][
            "valid"
        ]["rows"]
    )
    page = get_json(server, "/api/datasets/iam-ondb/lines?offset=5&limit=3")
    assert [x["line_id"] for x in page["lines"]] == [x["line_id"] for x in everything["lines"][5:8]]


def test_line_svg_has_one_element_per_stroke(server: LiveServer) -> None:
    rows = dataset_rows(server.datasets["iam-ondb"])
    line_id, row = next(iter(rows.items()))
    status, data, kind = request(server, "GET", f"/api/datasets/iam-ondb/lines/{line_id}.svg")
    assert status == 200 and kind.startswith("image/svg+xml")
    text = data.decode()
    assert text.count("<polyline") + text.count("<circle") == row["n_strokes"]
    detail = get_json(server, f"/api/datasets/iam-ondb/lines/{line_id}")
    points = [p[:2] for s in detail["strokes"] for p in s]
    offsets = np.asarray(row["offsets"], dtype=np.float64)
    np.testing.assert_allclose(
        points, np.asarray(row["origin"]) + np.cumsum(offsets[:, :2], axis=0)
    )
    assert detail["counts"]["n_points"] == row["n_points"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/datasets/..%2F..%2Fetc/lines",
        "/api/datasets/%2Fetc%2Fpasswd",
        "/api/datasets/..%2Fiam-ondb/lines",
        "/api/datasets/iam-ondb%00/lines",
        "/api/datasets/iam-ondb/lines/..%2F..%2Fmanifest.json",
        "/api/datasets/iam-ondb/lines/%2Fetc%2Fpasswd.svg",
        "/api/datasets/iam-ondb/lines/a%00.svg",
        "/api/datasets/iam-ondb/plots/..%2F..%2Fmanifest.png",
        "/static/..%2Fapp.py",
        "/static/%2e%2e%2fcatalog.py",
        "/static/../app.py",
        "/api/datasets/../../../../etc/passwd",
        "/api/datasets/iam-ondb/lines?split=..%2F..%2Fdata",
    ],
)
def test_traversal_is_not_found(server: LiveServer, path: str) -> None:
    status, data, kind = request(server, "GET", path)
    assert status == 404, (path, data)
    assert "application/json" in kind and "error" in json.loads(data)


def test_text_chunks_are_decoded(server: LiveServer) -> None:
    found = get_json(server, "/api/datasets/text/chunks?split=train&offset=0&limit=3")
    dataset = open_dataset(server.datasets["text"])
    table = dataset.table("train").slice(0, 3).to_pylist()
    vocab = json.loads((server.datasets["text"] / "vocab.json").read_text())
    symbols = [s["symbol"] if isinstance(s, dict) else s for s in vocab["symbols"]]
    for chunk, row in zip(found["chunks"], table, strict=True):
        ids = row["ids"][: row["length"]]
        text = bytes(ord(symbols[i]) for i in ids).decode("utf-8", errors="replace")
        assert "".join(s["text"] for s in chunk["segments"]) == text


def test_unknown_symbols_are_marked() -> None:
    vocab = build_vocab({"a": 3, "b": 1})
    row = {"ids": [1, 0, 2, 1, 0], "length": 4}
    assert decode_marked(vocab, row) == [
        {"text": "a", "unknown": False},
        {"text": "<unk>", "unknown": True},
        {"text": "ba", "unknown": False},
    ]


def test_ink_json_saved_atomically_and_reads_back(server: LiveServer) -> None:
    strokes = [[[10, 20, 5.0, 0.5], [14, 22, 5.01, 0.6]], [[40, 20, 5.2, 0.5]]]
    status, saved = post_json(server, "/api/ink", {"text": "ok", "strokes": strokes})
    assert status == 201, saved
    from graves_data.corpora.ink import parse_inkml

    line = parse_inkml((server.ink / saved["file"]).read_bytes(), saved["file"])
    assert line.text == "ok"
    got = [s[:, :3].tolist() for s in line.strokes]
    assert got == [[p[:3] for p in s] for s in strokes]
    assert [s[:, 3].tolist() for s in line.strokes] == [[p[3] for p in s] for s in strokes]
    listed = get_json(server, "/api/ink")["lines"]
    assert saved["file"] in [x["file"] for x in listed]


def test_inkml_body_saved_and_duplicate_id_refused(server: LiveServer) -> None:
    body = write_inkml([[[1, 2, 1.0], [3, 4, 1.1]]], "abc", "me")
    headers = {"content-type": "application/inkml+xml"}
    status, data, _ = request(server, "POST", "/api/ink?line_id=mine-1", body, headers)
    assert status == 201, data
    assert (server.ink / "mine-1.inkml").read_bytes() == body
    status, data, _ = request(server, "POST", "/api/ink?line_id=mine-1", body, headers)
    assert status == 409, data
    status, data, _ = request(server, "POST", "/api/ink?line_id=..%2Fescape", body, headers)
    assert status == 400 and not (server.ink.parent / "escape.inkml").exists()


@pytest.mark.parametrize(
    ("body", "kind", "reason"),
    [
        (b"{not json", "application/json", "malformed JSON"),
        (b"[1, 2]", "application/json", "must be an object"),
        (b'{"text": "x"}', "application/json", "strokes"),
        (b'{"text": "", "strokes": [[[1, 2, 3]]]}', "application/json", "text"),
        (b'{"text": "x", "strokes": [[[1, "a", 3]]]}', "application/json", "numbers"),
        (b'{"text": "x", "strokes": [[[1, 2]]]}', "application/json", "[x, y, t]"),
        (b"<ink", "application/inkml+xml", "well-formed"),
        (b"<nope/>", "application/inkml+xml", "not <ink>"),
        (
            b'<!DOCTYPE ink [<!ENTITY e SYSTEM "file:///etc/passwd">]><ink>&e;</ink>',
            "application/inkml+xml",
            "DOCTYPE",
        ),
        (b"x", "text/plain", "content type"),
    ],
)
def test_malformed_ink_refused_with_reason(
    server: LiveServer, body: bytes, kind: str, reason: str
) -> None:
    before = sorted(p.name for p in server.ink.iterdir())
    status, data, _ = request(server, "POST", "/api/ink", body, {"content-type": kind})
    assert status == 400, data
    assert reason in json.loads(data)["error"]
    assert sorted(p.name for p in server.ink.iterdir()) == before


def test_oversize_bodies_refused(server: LiveServer) -> None:
    big = b"x" * (5 << 20)
    status, data, _ = request(server, "POST", "/api/ink", big, {"content-type": "application/json"})
    assert status == 413, data
    # no Content-Length: counted as it arrives
    where = urlsplit(server.url)
    connection = http.client.HTTPConnection(where.hostname or "", where.port, timeout=60)
    chunks = (b"y" * 65536 for _ in range(40))
    connection.request(
        "POST", "/api/synthesize", body=chunks, headers={"content-type": "application/json"},
        encode_chunked=True,
    )  # fmt: skip
    response = connection.getresponse()
    assert response.status == 413, response.read()
    connection.close()
    points = [[i, i, 1 + i / 100] for i in range(60_000)]
    status, answer = post_json(server, "/api/ink", {"text": "x", "strokes": [points]})
    assert status == 400 and "points" in answer["error"]


def test_synthesis_bounds(server: LiveServer) -> None:
    cases = [
        ({"run": "nope", "text": "a"}, 404),
        ({"run": "synthesis", "text": "a" * 500}, 400),
        ({"run": "synthesis", "text": "a", "bias": 99}, 400),
        ({"run": "synthesis", "text": "a", "steps": 10**6}, 400),
        ({"run": "synthesis", "text": ""}, 400),
        ({"run": "synthesis", "text": "a", "seed": "x"}, 400),
        ({"run": "prediction", "text": "a"}, 400),
        ({"run": "../synthesis", "text": "a"}, 404),
        ({"run": "synthesis", "text": "a", "prime": {"dataset": "iam-ondb", "line_id": "x"}}, 404),
    ]
    for body, expected in cases:
        status, answer = post_json(server, "/api/synthesize", body)
        assert status == expected, (body, answer)
        assert answer["error"]


def test_synthesis_sample_window_and_prime(server: LiveServer) -> None:
    runs = {r["name"]: r for r in get_json(server, "/api/runs")["runs"]}
    text = runs["synthesis"]["symbols"][1:5]
    status, answer = post_json(
        server, "/api/synthesize", {"run": "synthesis", "text": text, "steps": 80, "attempts": 2}
    )
    assert status == 200, answer
    assert answer["points"] == sum(len(s) for s in answer["strokes"])
    assert answer["svg"].count("<polyline") + answer["svg"].count("<circle") == len(
        answer["strokes"]
    )
    assert len(answer["phi"][0]) == len(text)
    assert 1 <= len(answer["attempts"]) <= 2
    assert answer["clean"] == (not answer["problems"])
    rate = answer["clean_rate"]
    assert rate["samples"] >= len(answer["attempts"]) and 0 <= rate["clean"] <= rate["samples"]
    line_id = get_json(server, "/api/datasets/iam-ondb/lines?limit=1")["lines"][0]["line_id"]
    primed = {"dataset": "iam-ondb", "line_id": line_id}
    status, answer = post_json(
        server,
        "/api/synthesize",
        {"run": "synthesis", "text": text, "steps": 40, "attempts": 1, "prime": primed},
    )
    assert status == 200, answer
    assert answer["text"].endswith(" " + text) and len(answer["text"]) > len(text) + 1
    ink = {"strokes": [[[0, 0, 1.0], [30, 10, 1.1], [60, 0, 1.2]]], "text": text[:2]}
    status, answer = post_json(
        server,
        "/api/synthesize",
        {"run": "synthesis", "text": text, "steps": 40, "attempts": 1, "prime": ink},
    )
    assert status == 200, answer
    status, answer = post_json(
        server, "/api/synthesize", {"run": "prediction", "steps": 50, "prime": primed}
    )
    assert status == 200, answer
    assert answer["points"] > 50  # the prime's points, then the 50 sampled


def test_concurrent_sampling_is_bounded(server: LiveServer) -> None:
    """With every slot taken, a further sample is refused with 429 at once."""
    results: list[int] = []
    body = {"run": "prediction", "steps": 1500}

    def sample() -> None:
        results.append(post_json(server, "/api/synthesize", body)[0])

    threads = [threading.Thread(target=sample) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(200) >= 1
    assert 429 in results
    assert set(results) <= {200, 429}


def test_serve_module_imports_without_torch(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import graves_data.serve, graves_data.serve.app, graves_data.serve.sampling\n"
        "import graves_data.cli\n"
        "print('torch' in sys.modules and sys.modules['torch'] is not None)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_names_are_quoted_in_urls_not_paths(server: LiveServer) -> None:
    """A line id is only ever a key: the same id percent-encoded finds the same line."""
    line_id = get_json(server, "/api/datasets/iam-ondb/lines?limit=1")["lines"][0]["line_id"]
    plain = get_json(server, f"/api/datasets/iam-ondb/lines/{line_id}")
    quoted = get_json(server, f"/api/datasets/iam-ondb/lines/{quote(line_id, safe='')}")
    assert plain == quoted


def test_serve_command_binds_loopback_and_says_so(iam_dataset: Path) -> None:
    from tests.serve.conftest import free_port

    port = free_port()
    command = [sys.executable, "-m", "graves_data.cli", "serve", str(iam_dataset),
               "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in first and "only this machine" in first, first
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        live = LiveServer(f"http://127.0.0.1:{port}", Path(), {})
        names = [d["name"] for d in get_json(live, "/api/datasets")["datasets"]]
        assert names == [iam_dataset.name]
        status, _, _ = request(
            live, "POST", "/api/ink", b"{}", {"content-type": "application/json"}
        )
        assert status == 404  # no --ink folder: nothing is written anywhere
    finally:
        process.terminate()
        process.wait(timeout=30)
