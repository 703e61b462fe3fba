"""The page in a real browser (headless Chromium): explorer, replay, search, ink capture that
builds into a dataset, the playground. `GRAVES_SCREENSHOTS=DIR` also saves each page as a PNG
there (docs/ holds the ones the README shows)."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.serve.conftest import LiveServer

pytestmark = pytest.mark.slow


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.05)


def open_page(browser: Any, server: LiveServer, tab: str) -> None:
    browser.get("about:blank")  # the same URL again would only change the hash, not reload
    browser.get(f"{server.url}/#{tab}")
    wait_for(
        lambda: browser.execute_script(
            "return document.body.dataset.ready || document.body.dataset.error"
        ),
        what="the page to load",
    )
    error = browser.execute_script("return document.body.dataset.error")
    assert not error, error


def screenshot(browser: Any, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("GRAVES_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"serve-{name}.png"
    assert browser.save_screenshot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def by_id(browser: Any, element: str) -> Any:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.ID, element)


def cell_texts(browser: Any, table: str, column: int) -> list[str]:
    script = (
        "return [...document.querySelectorAll(`#${arguments[0]} tbody tr`)]"
        ".map(r => r.cells[arguments[1]].textContent)"
    )
    return list(browser.execute_script(script, table, column))


def line_rows(browser: Any) -> list[str]:
    return list(
        browser.execute_script(
            "return [...document.querySelectorAll('#lines tbody tr')].map(r => r.dataset.line)"
        )
    )


def test_explorer_lists_lines_and_draws_one(
    browser: Any, server: LiveServer, tmp_path: Path
) -> None:
    listed = get_json(f"{server.url}/api/datasets/iam-ondb/lines?limit=25")
    open_page(browser, server, "explorer")
    wait_for(lambda: line_rows(browser), what="the line list")
    assert line_rows(browser) == [line["line_id"] for line in listed["lines"]]
    chosen = max(listed["lines"], key=lambda line: line["n_strokes"])
    browser.execute_script(
        "document.querySelector(`#lines tr[data-line='${arguments[0]}']`).click()",
        chosen["line_id"],
    )
    drawn = wait_for(
        lambda: browser.execute_script(
            "const s = document.querySelector('#line-svg svg');"
            "return s && s.querySelectorAll('g:not(.raw) polyline, g:not(.raw) circle').length"
        ),
        what="the line's SVG",
    )
    assert drawn == chosen["n_strokes"]
    assert chosen["line_id"] in by_id(browser, "line-title").text
    # the quarantine table holds every input the build left out, with its reason
    manifest = json.loads((server.datasets["iam-ondb"] / "manifest.json").read_text())
    assert manifest["quarantine"], "the generated corpus should have damaged inputs"
    cells = cell_texts(browser, "quarantine", 2)
    assert cells == [q["reason"] for q in manifest["quarantine"]]
    loaded = "return [...document.querySelectorAll('#plots img')].map(i => i.naturalWidth > 0)"
    wait_for(lambda: all(browser.execute_script(loaded)), what="the stats plots")
    assert len(browser.execute_script(loaded)) == 3
    # raw points overlaid: as many dots as the raw file has points
    line = get_json(f"{server.url}/api/datasets/iam-ondb/lines/{chosen['line_id']}")
    assert line["raw"], line["raw_reason"]
    by_id(browser, "show-raw").click()
    dots = browser.execute_script(
        "return document.querySelectorAll('#line-svg g.raw circle').length"
    )
    assert dots == sum(len(s) for s in line["raw"])
    screenshot(browser, "explorer", tmp_path)


def test_play_replays_at_recorded_speed(browser: Any, server: LiveServer) -> None:
    listed = get_json(f"{server.url}/api/datasets/iam-ondb/lines?limit=500")["lines"]
    short = min(listed, key=lambda line: line["n_points"])
    line = get_json(f"{server.url}/api/datasets/iam-ondb/lines/{short['line_id']}")
    times = [p[2] for stroke in line["strokes"] for p in stroke]
    duration = times[-1] - times[0]
    assert line["has_time"] and duration > 0.5
    open_page(browser, server, "explorer")
    by_id(browser, "search").send_keys(short["line_id"])
    wait_for(lambda: line_rows(browser) == [short["line_id"]], what="the search")
    browser.execute_script("document.querySelector('#lines tbody tr').click()")
    wait_for(lambda: not by_id(browser, "play").get_attribute("disabled"), what="the play button")
    started = time.monotonic()
    by_id(browser, "play").click()

    def drawn() -> tuple[int, int]:
        counts = browser.execute_script(
            "const s = document.querySelector('#line-svg svg');"
            "return [Number(s.dataset.drawnPoints || 0), Number(s.dataset.totalPoints || 0)]"
        )
        return int(counts[0]), int(counts[1])

    partial = wait_for(
        lambda: (lambda d: d if 0 < d[0] < d[1] else None)(drawn()), what="a partly drawn line"
    )
    assert partial[1] == sum(len(s) for s in line["strokes"])
    wait_for(lambda: drawn()[0] == partial[1], timeout=duration + 20, what="the replay's end")
    assert time.monotonic() - started >= 0.8 * duration  # not faster than recorded


def test_search_narrows_the_list(browser: Any, server: LiveServer) -> None:
    everything = get_json(f"{server.url}/api/datasets/iam-ondb/lines?limit=500")
    writer = next(line["writer_id"] for line in everything["lines"] if line["writer_id"])
    needle = writer.lower()
    expected = [
        line["line_id"]
        for line in everything["lines"]
        if any(
            needle in (v or "").lower() for v in (line["writer_id"], line["line_id"], line["text"])
        )
    ]
    assert 0 < len(expected) < everything["total"]
    open_page(browser, server, "explorer")
    wait_for(lambda: line_rows(browser), what="the line list")
    by_id(browser, "search").send_keys(writer)
    wait_for(lambda: line_rows(browser) == expected[:25], what="the narrowed list")
    assert by_id(browser, "lines-total").text.startswith(f"{len(expected)} lines")


DRAW = """
const svg = document.querySelector('#ink-pad svg');
const box = svg.getBoundingClientRect();
const fire = (type, x, y) => svg.dispatchEvent(new PointerEvent(type, {
  clientX: box.left + x, clientY: box.top + y, pointerId: 7, pointerType: 'pen',
  pressure: type === 'pointerup' ? 0 : 0.25 + x / 2000, buttons: type === 'pointerup' ? 0 : 1,
  bubbles: true, cancelable: true, isPrimary: true }));
for (const stroke of arguments[0]) {
  fire('pointerdown', stroke[0][0], stroke[0][1]);
  for (const [x, y] of stroke.slice(1)) fire('pointermove', x, y);
  fire('pointerup', stroke[stroke.length - 1][0], stroke[stroke.length - 1][1]);
}
return JSON.parse(JSON.stringify(window.inkPad.strokes));
"""


def test_ink_drawn_is_saved_and_builds(browser: Any, server: LiveServer, tmp_path: Path) -> None:
    from graves_data.corpora.ink import InkParams, build
    from graves_data.pipelines.runner import Execution
    from graves_data.shards import open_dataset

    i = np.arange(90)
    loops = np.column_stack(
        [60 + 6 * i - 20 * np.sin(0.5 * i), 150 - 45 * np.abs(np.sin(0.25 * i))]
    )
    strokes = [
        [[float(x), float(y)] for x, y in loops],
        [[640.0 + 3 * k, 90.0 + 4 * k] for k in range(25)],  # a slanted bar
        [[700.5 + 2 * k, 130.25 - 0.1 * k * k] for k in range(12)],  # a short arc
    ]
    open_page(browser, server, "ink")
    recorded = browser.execute_script(DRAW, strokes)
    assert [len(s) for s in recorded] == [len(s) for s in strokes]
    by_id(browser, "ink-text").send_keys("hello ink")
    by_id(browser, "ink-writer").send_keys("tester")
    screenshot(browser, "ink", tmp_path)
    by_id(browser, "ink-save").click()
    saved = wait_for(lambda: by_id(browser, "ink-status").get_attribute("data-saved"), what="save")
    assert (server.ink / saved).is_file()
    assert not [p for p in server.ink.iterdir() if p.name.startswith(".")]  # no temporary left
    wait_for(lambda: saved in cell_texts(browser, "ink-list", 0), what="the saved line listed")

    out = tmp_path / "ink-dataset"
    build(str(server.ink), str(out), InkParams(), execution=Execution(workers=1, progress=False))
    dataset = open_dataset(out)
    rows = {r["line_id"]: r for r in dataset.table("train").to_pylist()}
    row = rows[saved.removesuffix(".inkml")]
    assert row["text"] == "hello ink" and row["writer_id"] == "tester"
    offsets = np.asarray(row["offsets"], dtype=np.float64)
    xy = np.asarray(row["origin"]) + np.cumsum(offsets[:, :2], axis=0)
    expected = np.asarray([p[:2] for stroke in recorded for p in stroke], dtype=np.float64)
    np.testing.assert_array_equal(xy, expected)
    ends = np.flatnonzero(offsets[:, 2] > 0.5) + 1
    assert list(ends) == list(np.cumsum([len(s) for s in recorded]))
    times = np.asarray([p[2] for stroke in recorded for p in stroke])
    np.testing.assert_allclose(row["dt"][1:], np.diff(times), atol=1e-4)


def test_playground_writes_a_sample(browser: Any, server: LiveServer, tmp_path: Path) -> None:
    runs = {r["name"]: r for r in get_json(f"{server.url}/api/runs")["runs"]}
    symbols = runs["synthesis"]["symbols"]
    text = "".join(c for c in "the cat" if c in symbols)[:6] or symbols[:4]
    open_page(browser, server, "playground")
    box = by_id(browser, "synth-text")
    box.clear()
    box.send_keys(text + "\u263a")
    assert by_id(browser, "oov-preview").get_attribute("data-unknown") == "\u263a"
    box.clear()
    box.send_keys(text)
    assert by_id(browser, "oov-preview").get_attribute("data-unknown") == ""
    by_id(browser, "write").click()
    wait_for(
        lambda: browser.execute_script(
            "const s = document.querySelector('#synth-result svg');"
            "return s && s.dataset.state === 'done'"
        ),
        timeout=120,
        what="the sample",
    )
    status = by_id(browser, "synth-status").text
    points = int(by_id(browser, "synth-result").get_attribute("data-points"))
    assert points > 0 and status.startswith(f"{points} points")
    assert "clean-line rate" in status
    assert browser.execute_script("return !document.getElementById('heatmap').hidden")
    assert by_id(browser, "download").get_attribute("href").startswith("blob:")
    screenshot(browser, "playground", tmp_path)


def test_oversize_request_from_the_page_is_refused(browser: Any, server: LiveServer) -> None:
    open_page(browser, server, "ink")
    status = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/api/ink', {method: 'POST', headers: {'content-type': 'application/json'},"
        " body: 'x'.repeat(5 * 1024 * 1024)}).then(r => done(r.status), e => done(String(e)));"
    )
    assert status == 413
