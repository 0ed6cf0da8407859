"""Headless Chromium on the new screens: replay animation, drawing with the mouse, the lab.

Screenshots go to tests/screenshots/ (and to $VAE_LAB_SHOTS when set, for review)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from streamlit_server import streamlit_server
from test_browser import SHOTS, chromium, no_exception, settle, sync_api  # noqa: F401

pytestmark = pytest.mark.browser


def shoot(page, name: str) -> None:
    for folder in filter(None, (SHOTS, os.environ.get("VAE_LAB_SHOTS"))):
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture
def app(pair_root, tmp_path) -> Iterator[str]:
    root = tmp_path / "checkpoints"
    shutil.copytree(pair_root, root)
    with streamlit_server(root, tmp_path / "streamlit.log") as (url, _, _):
        yield url


@pytest.fixture
def page():
    with chromium() as b:
        yield b.new_page(viewport={"width": 1400, "height": 2600})


def test_draw_a_digit_with_the_mouse(app, page):
    page.goto(f"{app}/Draw_a_digit")
    settle(page, 120_000)
    canvas = page.locator("canvas[aria-label='drawing canvas']")
    canvas.wait_for(timeout=30_000)
    box = canvas.bounding_box()
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + 90, y0 + 60)
    page.mouse.down()
    for x, y in ((190, 60), (190, 140), (110, 230)):  # a seven
        page.mouse.move(x0 + x, y0 + y, steps=12)
    page.mouse.up()
    page.get_by_text("AE reconstruction: the judge reads").first.wait_for(timeout=120_000)
    settle(page, 120_000)
    no_exception(page)
    assert page.get_by_text("VAE: 8 draws z ~ q(z|x)").count() >= 1
    page.locator("[data-testid=stPlotlyChart]").nth(1).wait_for(timeout=30_000)
    page.wait_for_timeout(800)  # plotly draws after the script ends
    assert page.locator("[data-testid=stPlotlyChart]").count() == 2
    shoot(page, "draw_a_digit")


def test_training_replay_plays(app, page):
    page.goto(f"{app}/Training_replay")
    settle(page, 120_000)
    no_exception(page)
    page.wait_for_timeout(800)
    page.get_by_text("▶ Play").first.wait_for(timeout=30_000)
    active = "() => document.querySelector('.js-plotly-plot')._fullLayout.sliders[0].active"
    assert page.evaluate(active) == page.evaluate(
        "() => document.querySelector('.js-plotly-plot')._fullLayout.sliders[0].steps.length") - 1
    page.get_by_text("▶ Play").first.click()
    page.wait_for_timeout(1500)
    page.get_by_text("❚❚ Pause").first.click()
    assert 0 < page.evaluate(active) < 10  # played from the first snapshot on, then paused
    shoot(page, "training_replay")


def test_loss_lab_trains_and_diagnoses(app, page):
    page.goto(f"{app}/Loss_lab?lab_epochs=20")
    settle(page, 180_000)
    no_exception(page)
    page.get_by_text("Expected symptom").first.wait_for(timeout=180_000)
    shoot(page, "loss_lab")


def grid_size(page) -> str:
    slider = page.locator("[data-testid=stSlider]", has_text="Grid size n")
    return slider.locator("[data-testid=stSliderThumbValue]").inner_text()


def test_url_round_trip(app, page):
    page.goto(f"{app}/Decoder_grid?grid_n=7&vae_run=no-such-run")
    # A fresh page can report "not running" for a moment before its first run starts, so wait
    # for the page's own words rather than for the idle state alone.
    warning = page.get_by_text("The link asks for the VAE run 'no-such-run'")
    warning.first.wait_for(timeout=120_000)
    settle(page, 120_000)
    no_exception(page)
    assert warning.count() == 1
    assert grid_size(page) == "7"
    page.get_by_text("Normal quantiles", exact=True).click()
    settle(page)
    page.wait_for_timeout(500)
    assert "grid_spacing=Normal" in page.url and "grid_n=7" in page.url
    shared = page.url
    page.goto("about:blank")
    page.goto(shared)  # a new session from the shared link
    settle(page, 120_000)
    assert grid_size(page) == "7"
    assert page.get_by_role("radio", name="Normal quantiles").is_checked()


def test_chart_downloads_as_svg_with_its_name(app, page):
    # The first visitor of a fresh server, by a shared link to a page: it must get the app's
    # frame (one menu, our sidebar), not Streamlit's legacy pages/ mode (ui/__init__.py).
    page.goto(f"{app}/Decoder_grid?export_format=SVG")
    settle(page, 120_000)
    page.get_by_text("Charts download as").wait_for(timeout=30_000)  # after the one rerun
    settle(page, 60_000)
    assert page.get_by_text("streamlit app", exact=True).count() == 0
    chart = page.locator("[data-testid=stPlotlyChart]").first
    chart.wait_for(timeout=30_000)
    chart.hover()
    with page.expect_download(timeout=30_000) as download:
        chart.locator(".modebar-btn[data-title^='Download plot']").click()
    assert download.value.suggested_filename == "vae-lab-grid_image_ae.svg"
    assert download.value.path().read_text().lstrip().startswith("<svg")
