"""Fixtures for the web tests: the cookbook's app served on loopback against a scripted emulator, and
headless Chromium (Debian's `chromium` and `chromium-driver`) driven by Selenium.

A missing browser is installed (apt-get, as root) rather than skipped: a skipped browser test would
hide a broken page.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import instructor_az
from instructor_az.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def _load_cookbook_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("web_stream", ROOT / "cookbook" / "web_stream.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["web_stream"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def web_stream() -> ModuleType:
    """cookbook/web_stream.py as a module (its `create_app`, `Contact`, `DEMO`, `serving`)."""
    return _load_cookbook_app()


@pytest.fixture(scope="module")
def web_emulator() -> Iterator[Emulator]:
    """A scripted emulator answering in 3-character deltas (tests slow them with latency faults)."""
    emulator = Emulator(backend="scripted", chunk_chars=3)
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture(scope="module")
def web_url(web_stream: ModuleType, web_emulator: Emulator) -> Iterator[str]:
    """The cookbook app served by uvicorn on 127.0.0.1, its client bound to `web_emulator`."""
    client = instructor_az.from_openai(web_emulator.async_client(max_retries=0))
    with web_stream.serving(web_stream.create_app(client)) as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh_emulator(request: pytest.FixtureRequest) -> None:
    if "web_emulator" in request.fixturenames:
        request.getfixturevalue("web_emulator").reset()


def _ensure_chromium() -> None:
    if os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER):
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.fail(
            f"{CHROMIUM} / {CHROMEDRIVER} missing: apt-get install -y chromium chromium-driver (as root)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium", "chromium-driver"],
        check=True,
        env=env,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium through Debian's chromedriver (Selenium's own driver download is not used)."""
    _ensure_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=900,820"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
