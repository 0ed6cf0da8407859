"""Hosting a class, in a real browser (issue 18): crafted links with infinite numbers open the
pages themselves (AppTest runs a switched-to page without the frame), and a closed tab's job is
stopped by the engine, its run saved saying why."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Iterator

import pytest

from streamlit_server import streamlit_process
from vae_core.jobs import ORPHAN_GRACE_ENV
from test_browser import SHOTS, chromium, settle, start_training

pytestmark = pytest.mark.browser


@pytest.fixture
def server(pair_root, tmp_path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "checkpoints"
    shutil.copytree(pair_root, root)
    # A closed tab's job stops 5 s after its session ends (60 s by default: on an idle machine the
    # test's job would finish first).
    with streamlit_process(root, tmp_path / "streamlit.log", env={ORPHAN_GRACE_ENV: "5"}) \
            as (url, _proc, _, _):
        yield url, root


@pytest.fixture
def browser():
    with chromium() as b:
        yield b


def test_crafted_links_with_infinite_numbers_open_their_pages(server, browser):
    url, _root = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    for path in ("Train?train_epochs=inf", "Generate?generate_seed=Infinity",
                 "Reparameterization?reparam_seed=inf"):
        page.goto(f"{url}/{path}")
        page.wait_for_selector("h1", timeout=300_000)  # the page itself has run
        settle(page, 300_000)
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f"hosting_{path.split('?')[0]}.png"))
        assert page.locator("[data-testid=stException]").count() == 0, path
        assert page.get_by_text("is not a usable number").count() == 1, path
        assert "=inf" not in page.url.lower() and "infinity" not in page.url.lower()


@pytest.mark.slow
def test_a_closed_tabs_job_is_stopped_and_its_run_says_why(server, browser):
    url, root = server
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{url}/Train")
    settle(page, 300_000)
    start_training(page, "orphan", epochs=900)  # x2 models: under the 2,000-epoch cap
    page.get_by_text("Training:").first.wait_for(timeout=120_000)  # it trains
    context.close()  # the tab closes: the session ends, no one can see or stop the job
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not (root / "orphan-vae" / "run.json").exists():
        time.sleep(1)
    meta = json.loads((root / "orphan-vae" / "run.json").read_text())
    assert meta["status"] == "stopped" and "tab" in meta["reason"] and "closed" in meta["reason"]
