"""End to end in headless Chromium: every page renders, live training, two sessions at once.

AppTest drives no timers or threads, so the live progress fragment is only testable here. Each
test starts its own ``streamlit run`` on a free port with ``VAE_LAB_CHECKPOINTS`` pointing at a
copy of the small demo pair, and always stops the server. Screenshots go to tests/screenshots/.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from streamlit_server import streamlit_server

from ui.navigation import LATENT_SPACE, PAGES

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "tests" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
TRAIN_EPOCHS = 20  # a pair in a few seconds on 2 cores: long enough to see progress
PAGE_TIMEOUT_MS = 300_000  # a first visit may fill caches (Evidence trains a judge classifier)

# Locally a missing browser skips these tests; CI sets VAE_LAB_REQUIRE_BROWSER=1 to fail instead.
if os.environ.get("VAE_LAB_REQUIRE_BROWSER") == "1":
    import playwright.sync_api as sync_api  # noqa: F401

    assert CHROMIUM.exists(), f"{CHROMIUM} is missing (apt-get install chromium)"
else:
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="the playwright package is not installed")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt install chromium)", allow_module_level=True)


@pytest.fixture
def server(pair_root, tmp_path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "checkpoints"
    shutil.copytree(pair_root, root)
    with streamlit_server(root, tmp_path / "streamlit.log") as (url, _, _):
        yield url, root


@contextmanager
def chromium():
    """Debian's headless Chromium through Playwright, closed however the test ends."""
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def browser():
    with chromium() as b:
        yield b


def settle(page, timeout: float = 60_000) -> None:
    """Wait until the script run that a click or page change started has ended."""
    page.wait_for_timeout(300)  # let the rerun begin, else the old idle state matches at once
    page.wait_for_selector(IDLE, timeout=timeout)


def no_exception(page) -> None:
    errors = page.locator("[data-testid=stException]")
    assert errors.count() == 0, errors.first.inner_text()


def open_page(page, label: str, timeout: float = 60_000) -> None:
    """Follow a sidebar link, which (unlike page.goto) keeps the session; the sidebar holds one
    navigation menu (the st.navigation of streamlit_app.py, no legacy pages/ menu beside it)."""
    nav = page.locator("[data-testid=stSidebarNav]")
    nav.get_by_role("link", name=label, exact=True).click()
    settle(page, timeout)
    assert nav.count() == 1 and page.locator("[data-testid=stSidebarNavLink]").count() == len(PAGES)


def start_training(page, name: str, epochs: int = TRAIN_EPOCHS) -> None:
    """On the Train page: short pair with run name ``name``, then press Train."""
    epochs_box = page.get_by_label("Epochs", exact=True)
    epochs_box.fill(str(epochs))
    epochs_box.press("Enter")
    settle(page)
    name_box = page.get_by_label("Run name", exact=True)
    name_box.fill(name)
    name_box.press("Enter")
    settle(page)
    page.get_by_role("button", name="Train", exact=True).click()


def live_area(page):
    return page.locator(".st-key-train_live")


def test_a_pair_trains_live_then_every_page_renders(server, browser):
    url, root = server
    SHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1800})  # Streamlit scrolls inside
    page.goto(url)
    page.wait_for_selector(IDLE, timeout=60_000)
    # Train first: the Evidence page's first visit fills heavy caches that slow the server.
    open_page(page, "Train")
    start_training(page, "e2e")
    progress = live_area(page).get_by_text(re.compile(r"Training: \d+%"))
    progress.wait_for(timeout=30_000)  # the live fragment draws while the job runs
    assert "e2e-ae" in live_area(page).inner_text()
    page.screenshot(path=str(SHOTS / "1_Train-live.png"))
    live_area(page).get_by_text("Last job").wait_for(timeout=180_000)
    settle(page)
    no_exception(page)
    assert {"e2e-ae", "e2e-vae"} <= {p.name for p in root.iterdir()}
    page.screenshot(path=str(SHOTS / "1_Train-done.png"))

    for p in PAGES:
        t0 = time.time()
        open_page(page, p.title, timeout=PAGE_TIMEOUT_MS)
        print(f"{p.title}: {time.time() - t0:.1f} s to render", flush=True)
        page.wait_for_timeout(500)  # plotly draws after the script ends
        no_exception(page)
        assert page.get_by_role("heading", level=1).first.inner_text().startswith(
            "VAE Lab" if p.title == "Overview" else p.title)
        if p == LATENT_SPACE:  # the newest pair is picked by default
            page.get_by_text(re.compile(r"e2e-vae")).first.wait_for(timeout=30_000)
        page.screenshot(path=str(SHOTS / f"{Path(p.file).stem}.png"))
    # Session state survived every page change: this session's finished job is still shown.
    open_page(page, "Train")
    live_area(page).get_by_text("Last job").wait_for(timeout=30_000)
    assert "e2e-vae" in live_area(page).inner_text()


def test_two_sessions_train_at_once_and_see_only_their_own_job(server, browser):
    url, root = server
    pages = {}
    for name in ("alpha7", "omega9"):
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.goto(url)
        page.wait_for_selector(IDLE, timeout=60_000)
        open_page(page, "Train")
        pages[name] = page
    for name, page in pages.items():
        start_training(page, name)
    for (name, page), other in zip(pages.items(), reversed(pages)):
        live_area(page).get_by_text(re.compile(r"Training: \d+%|Queued")).wait_for(timeout=30_000)
        live = live_area(page).inner_text()
        assert f"{name}-ae" in live and other not in live
    for name, page in pages.items():
        live_area(page).get_by_text("Last job").wait_for(timeout=180_000)
        settle(page)
        no_exception(page)
    (a, page_a), (b, page_b) = pages.items()
    text_a, text_b = live_area(page_a).inner_text(), live_area(page_b).inner_text()
    assert f"{a}-vae" in text_a and f"{b}" not in text_a
    assert f"{b}-vae" in text_b and f"{a}" not in text_b
    assert {f"{n}-{k}" for n in pages for k in ("ae", "vae")} <= {p.name for p in root.iterdir()}


def test_one_click_pair_on_overview_opens_latent_space(server, browser):
    url, root = server
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(url)
    page.wait_for_selector(IDLE, timeout=60_000)
    started = time.time()
    page.get_by_role("button", name="Train an AE+VAE pair on digits").click()
    page.get_by_text(re.compile(r"Training: \d+%")).wait_for(timeout=30_000)
    page.get_by_role("heading", name="Latent space").wait_for(timeout=180_000)
    seconds = time.time() - started
    settle(page)
    no_exception(page)
    page.get_by_text(re.compile(r"quick-vae")).first.wait_for(timeout=30_000)
    assert {"quick-ae", "quick-vae"} <= {p.name for p in root.iterdir()}
    print(f"one-click pair: {seconds:.1f} s from click to the Latent space page")
    page.screenshot(path=str(SHOTS / "one-click-latent.png"))


def test_stop_button_keeps_what_was_trained(server, browser):
    """Stop crosses into the job's training process; the runs are saved as "stopped"."""
    url, root = server
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(url)
    page.wait_for_selector(IDLE, timeout=60_000)
    open_page(page, "Train")
    start_training(page, "halted", epochs=900)  # minutes of work (2 x 900: under the 2,000-epoch job cap)
    live_area(page).get_by_text(re.compile(r"Training: [1-9]\d*%")).wait_for(timeout=60_000)
    live_area(page).get_by_role("button", name=re.compile("Stop")).click()
    live_area(page).get_by_text("Last job").wait_for(timeout=60_000)
    settle(page)
    no_exception(page)
    assert "halted-ae" in live_area(page).inner_text()  # the results table is a canvas: read the runs
    for kind in ("ae", "vae"):
        meta = json.loads((root / f"halted-{kind}" / "run.json").read_text())
        assert meta["status"] == "stopped" and meta["history"]


def test_a_click_on_a_latent_point_shows_that_image(server, browser):
    """One click (not a box or lasso) on a code selects it: its test image and both models'
    reconstructions appear under the charts (clickmode event+select)."""
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(url)
    page.wait_for_selector(IDLE, timeout=60_000)
    open_page(page, LATENT_SPACE.title)
    page.wait_for_timeout(1000)  # plotly draws after the script ends
    chart = page.locator("[data-testid=stPlotlyChart]").first
    point = chart.locator(".scatterlayer .trace .points path").nth(5)
    box = point.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    settle(page)
    no_exception(page)
    caption = page.get_by_text(re.compile(r"^Inputs: test #\d+$"))
    caption.wait_for(timeout=30_000)
    assert "," not in caption.inner_text()  # one point, one image
    assert page.get_by_text("AE reconstruction, decoded from the code of each input", exact=True).count() == 1
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "latent_click.png"))
    # Box select (toolbar) still works: a drag over the plot picks many codes.
    chart.hover()
    chart.locator("[data-title='Box Select']").click()
    area = chart.locator(".nsewdrag").first.bounding_box()
    page.mouse.move(area["x"] + 5, area["y"] + 5)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] - 5, area["y"] + area["height"] - 5, steps=8)
    page.mouse.up()
    settle(page)
    page.get_by_text(re.compile(r"^Inputs: test #\d+, \d+")).wait_for(timeout=30_000)
