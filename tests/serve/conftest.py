"""Fixtures of the web app's tests: generated datasets, two tiny trained runs, a live server on
a free loopback port, and headless Chromium driven by selenium.

The browser is the system's (Debian's `chromium` and `chromium-driver`, which `make test`
installs); selenium is given both paths, so its manager downloads nothing. Where they are
missing the browser tests fail with that reason: they are never skipped.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="session")
def iam_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated IAM-OnDB corpus (60 lines, a few damaged) built by the real pipeline."""
    from graves_data.corpora.iam_ondb import IamParams, build
    from graves_data.pipelines.runner import Execution
    from graves_data.synth.iam_ondb import IamSynthParams, synth_iam_ondb

    folder = tmp_path_factory.mktemp("iam")
    synth_iam_ondb(folder / "raw", IamSynthParams(lines=60, defects=0.05), progress=False)
    build(
        str(folder / "raw"),
        str(folder / "iam-ondb"),
        IamParams(),
        execution=Execution(workers=1, progress=False),
    )
    return folder / "iam-ondb"


@pytest.fixture(scope="session")
def text_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from graves_data.synth.learnable import write_text_dataset

    return write_text_dataset(tmp_path_factory.mktemp("text") / "text")


def _tiny_run(task: str, data: Path, run: Path) -> Path:
    import torch

    from graves_data.models.config import (
        PredictionConfig,
        RunConfig,
        SynthesisConfig,
        TrainConfig,
    )
    from graves_data.models.train import train

    torch.set_num_threads(1)
    model: Any = (
        SynthesisConfig(hidden=16, layers=1, mixtures=3, window=3)
        if task == "synthesis"
        else PredictionConfig(hidden=16, layers=1, mixtures=3)
    )
    config = RunConfig(
        task=task,  # type: ignore[arg-type]
        data=str(data),
        model=model,
        train=TrainConfig(
            steps=6,
            batch_size=8,
            optimizer="adam",
            lr=3e-3,
            eval_batches=1,
            progress=False,
            tensorboard=False,
            clip="norm",
        ),
    )
    train(config, run)
    return run


@pytest.fixture(scope="session")
def synthesis_run(iam_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_run("synthesis", iam_dataset, tmp_path_factory.mktemp("runs") / "synthesis")


@pytest.fixture(scope="session")
def prediction_run(iam_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_run("handwriting", iam_dataset, tmp_path_factory.mktemp("runs") / "prediction")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    ink: Path
    datasets: dict[str, Path]


@pytest.fixture(scope="session")
def server(
    iam_dataset: Path,
    text_dataset: Path,
    synthesis_run: Path,
    prediction_run: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    """The app on a free loopback port, in a thread of this process (uvicorn, as `serve`)."""
    import uvicorn

    from graves_data.serve.app import create_app
    from graves_data.serve.catalog import open_catalog

    ink = tmp_path_factory.mktemp("ink") / "lines"
    catalog = open_catalog(
        [str(iam_dataset), str(text_dataset)], [str(synthesis_run), str(prediction_run)], str(ink)
    )
    port = free_port()
    config = uvicorn.Config(create_app(catalog), host="127.0.0.1", port=port, log_level="warning")
    live = uvicorn.Server(config)
    thread = threading.Thread(target=live.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not live.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    yield LiveServer(
        f"http://127.0.0.1:{port}", ink, {"iam-ondb": iam_dataset, "text": text_dataset}
    )
    live.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium (the system's), with a fresh profile and no network of its own."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        raise RuntimeError(
            f"{', '.join(missing)} missing: `make test` installs Debian's chromium and "
            "chromium-driver (apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--window-size=1280,1000", f"--user-data-dir={profile}",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
