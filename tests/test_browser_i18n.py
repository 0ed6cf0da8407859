"""Headless Chromium in Korean: a Korean browser opens in Korean, ``?lang=ko`` opens every page in
Korean (sidebar titles included), and the switch changes the language and keeps it while the user
moves between pages. Screenshots of every page in both languages go to tests/screenshots/i18n/
(and to $VAE_LAB_SHOTS when set, for review)."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from streamlit_server import streamlit_server
from test_browser import CHROMIUM, CHROMIUM_ARGS, SHOTS, no_exception, settle, sync_api  # noqa: F401
from ui.i18n import translate
from ui.navigation import PAGES, TRAIN

pytestmark = pytest.mark.browser
HANGUL = re.compile(r"[가-힣]")
BLOG_TITLE = "VAE 핵심 요약"  # the English pages name the blog post by its Korean title
PAGE_TIMEOUT_MS = 300_000  # a first visit may fill caches (Evidence's judge, the Loss lab's VAEs)


def url_path(file: str) -> str:
    """st.Page's URL for ``pages/N_Name.py``: ``Name``; the default page is the root."""
    return "" if file == PAGES[0].file else Path(file).stem.split("_", 1)[1]


def shoot(page, name: str) -> None:
    for folder in filter(None, (SHOTS / "i18n", os.environ.get("VAE_LAB_SHOTS"))):
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def app(tmp_path_factory, pair_root) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("i18n-app")
    root = tmp / "checkpoints"
    shutil.copytree(pair_root, root)
    with streamlit_server(root, tmp / "streamlit.log") as (url, _, _):
        yield url


def browser_page(p, locale: str):
    b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    return b, b.new_page(viewport={"width": 1400, "height": 1800}, locale=locale)


def open_url(page, url: str) -> None:
    """Load ``url`` and wait for its page to be drawn: a fresh page can report "not running" for
    a moment before its first run starts, so wait for a title before waiting for the idle state."""
    page.goto(url)
    page.locator("[data-testid=stMain] h1").first.wait_for(timeout=PAGE_TIMEOUT_MS)
    settle(page, PAGE_TIMEOUT_MS)


def nav_titles(page) -> list[str]:
    """The sidebar menu's titles (each link's text ends with its title, after the icon's name)."""
    return [t.split("\n")[-1] for t in page.locator("[data-testid=stSidebarNavLink]").all_inner_texts()]


def main_text(page) -> str:
    return page.locator("[data-testid=stMain]").inner_text()


def test_a_korean_browser_opens_in_korean_and_english_one_in_english(app):
    with sync_api.sync_playwright() as p:
        for locale, lang in (("ko-KR", "ko"), ("en-US", "en")):
            b, page = browser_page(p, locale)
            try:
                open_url(page, app)
                page.wait_for_timeout(1000)  # a fresh server's first visit reruns once (ui/__init__)
                settle(page, PAGE_TIMEOUT_MS)
                no_exception(page)
                assert ("lang=ko" in page.url) == (lang == "ko")
                assert translate(TRAIN.title, lang) in nav_titles(page)
                assert bool(HANGUL.search(main_text(page))) == (lang == "ko")
            finally:
                b.close()


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_page_opens_in_the_language_of_the_link(app, lang):
    with sync_api.sync_playwright() as p:
        b, page = browser_page(p, "en-US")
        try:
            for p_def in PAGES:
                open_url(page, f"{app}/{url_path(p_def.file)}?lang={lang}")
                page.wait_for_timeout(800)  # plotly draws after the script ends
                no_exception(page)
                assert [translate(q.title, lang) for q in PAGES] == nav_titles(page)
                hangul = len(HANGUL.findall(main_text(page).replace(BLOG_TITLE, "")))
                assert (hangul > 20) if lang == "ko" else (hangul == 0), (p_def.file, hangul)
                shoot(page, f"{lang}-{Path(p_def.file).stem}")
        finally:
            b.close()


def test_the_switch_changes_the_language_and_keeps_it_across_pages(app):
    with sync_api.sync_playwright() as p:
        b, page = browser_page(p, "en-US")
        try:
            open_url(page, app)
            page.locator("[data-testid=stSidebar]").get_by_text("한국어", exact=True).click()
            settle(page, PAGE_TIMEOUT_MS)
            assert "lang=ko" in page.url
            assert translate(TRAIN.title, "ko") in nav_titles(page)
            page.locator("[data-testid=stSidebarNav]").get_by_role(
                "link", name=translate(PAGES[2].title, "ko"), exact=True).click()
            settle(page, PAGE_TIMEOUT_MS)
            no_exception(page)
            assert "lang=ko" in page.url and HANGUL.search(main_text(page))
            page.locator("[data-testid=stSidebar]").get_by_text("English", exact=True).click()
            settle(page, PAGE_TIMEOUT_MS)
            assert "lang=ko" not in page.url and not HANGUL.search(main_text(page))
        finally:
            b.close()
