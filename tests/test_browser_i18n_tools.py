"""In headless Chromium: a URL-bound run picker with translated labels keeps the user's run when
the language switch changes the labels, and the address bar follows (what AppTest cannot show:
the browser's own copy of the widget and of the URL)."""
from __future__ import annotations

import shutil
from urllib.parse import parse_qs, urlparse

import pytest

from streamlit_server import streamlit_server
from test_browser import CHROMIUM, CHROMIUM_ARGS, SHOTS, no_exception, open_page, settle, sync_api

pytestmark = pytest.mark.browser

EN = "demo-vae (digits, latent 2, β=1, finished)"


def url_param(page, key: str) -> str | None:
    values = parse_qs(urlparse(page.url).query).get(key)
    return values[-1] if values else None


def shown(box) -> str:
    """The option a select box shows (Streamlit 1.67: a combo box's text input)."""
    return box.get_by_role("combobox").input_value()


def test_language_switch_keeps_the_picked_run_in_the_page_and_the_url(pair_root, tmp_path):
    root = tmp_path / "checkpoints"
    shutil.copytree(pair_root, root)
    shutil.copytree(root / "demo-vae", root / "demo-vae-2")  # the newest VAE: the picker's default
    with streamlit_server(root, tmp_path / "streamlit.log") as (url, _, _), \
            sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="en-US")
            page.goto(url)
            settle(page, 120_000)
            open_page(page, "Draw a digit")
            box = page.locator(".st-key-vae_run")
            assert shown(box).startswith("demo-vae-2 (")
            box.get_by_role("button", name="Open").click()
            page.get_by_role("option", name=EN, exact=True).click()
            settle(page)
            assert url_param(page, "vae_run") == EN

            page.locator("[data-testid=stSidebar]").get_by_text("한국어", exact=True).click()
            settle(page)
            no_exception(page)
            korean = "demo-vae (digits, 잠재 2차원, β=1, 완료)"
            assert shown(box) == korean
            # (the switch writes its code to the URL: lang=ko)
            assert url_param(page, "lang") == "ko" and url_param(page, "vae_run") == korean
            # another widget's rerun: the browser sends the picker's (new) label, the run stays
            page.locator(".st-key-draw_source").get_by_text("테스트 이미지", exact=True).click()
            settle(page)
            no_exception(page)
            assert shown(box) == korean
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "i18n_tools_draw_ko.png"), full_page=True)

            # the Korean link, opened in a new session, and the English one opened in Korean
            for link in (page.url, f"{url}/Draw_a_digit?lang=ko&vae_run={EN}"):
                other = browser.new_page(viewport={"width": 1400, "height": 1000})
                other.goto(link)
                settle(other, 120_000)
                no_exception(other)
                assert shown(other.locator(".st-key-vae_run")) == korean, link
                assert other.locator("[data-testid=stAlert]").filter(has_text="링크").count() == 0
                other.close()
        finally:
            browser.close()
