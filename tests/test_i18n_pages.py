"""Every page in both languages, walked as a person reads it (AppTest): no exception, and in the
``qps`` pseudo-locale no visible word that skipped the catalogs (``tests/i18n_walk.py``)."""
from __future__ import annotations

import pytest

from helpers import REPO, no_exception, page_app
from i18n_walk import data_words, untranslated, visible_text
from ui.navigation import PAGES

PAGE_FILES = [p.file for p in PAGES]




@pytest.mark.parametrize("page", PAGE_FILES)
def test_page_has_no_text_outside_the_catalog(page):
    at = page_app(page)
    at.query_params["lang"] = "qps"
    no_exception(at.run())
    assert len(visible_text(at)) > 3
    assert untranslated(at, data_words(REPO / "checkpoints")) == []


@pytest.mark.parametrize("page", PAGE_FILES)
def test_page_renders_in_korean(page):
    at = page_app(page)
    at.query_params["lang"] = "ko"
    no_exception(at.run())
    text = " ".join(visible_text(at))
    assert sum("가" <= ch <= "힣" for ch in text) > 20, text[:300]


def test_the_switch_sets_the_language_and_the_url():
    at = page_app()
    at.query_params["lang"] = "ko"
    no_exception(at.run())
    switch = at.sidebar.button_group(key="lang")
    assert switch.options == ["English", "한국어"] and switch.value == "ko"
    assert "학습" in " ".join(visible_text(at))
    switch.set_value("en").run()
    no_exception(at)
    # (AppTest shows neither the frame's sidebar nor the URL after a rerun: the browser test
    # test_browser_i18n.py checks those.)
    assert "학습" not in " ".join(visible_text(at)) and visible_text(at)
