"""The catalogs are complete: every message the dashboard can show has a reviewed translation
with the same placeholders (no untranslated, fuzzy or unused entries), and ``_()`` falls back,
fills placeholders and marks the pseudo-locale as the pages rely on."""
from __future__ import annotations

import pytest

from ui.i18n import LANGUAGES, SOURCE_LANGUAGE, language_from_locale, translate, translations
from ui.locales import catalog


@pytest.mark.parametrize("lang", [code for code in LANGUAGES if code != SOURCE_LANGUAGE])
def test_catalog_is_complete(lang):
    messages = catalog.source_messages()
    assert len(messages) > 100, "the dashboard's _() messages were not found"
    found = {kind: ids for kind, ids in catalog.problems(lang, messages).items() if ids}
    assert not found, "run `python -m ui.locales.catalog` and translate: " + "; ".join(
        f"{len(ids)} {kind}: {ids[:5]}" for kind, ids in found.items())


def test_every_translation_is_used_by_the_loader():
    # The runtime reads the same file the check reads: nothing translated is lost on the way.
    assert len(translations("ko")) == len(catalog.source_messages())


def test_translate_fills_placeholders_and_marks_the_pseudo_locale():
    assert translate("{n} runs", "en", n=3) == "3 runs"
    assert translate("{n} runs", "qps", n=3) == "⟦3 runs⟧"
    assert translate("a sentence nobody translated", "ko") == "a sentence nobody translated"
    assert translate("Latent space", "ko") not in ("", "Latent space")


@pytest.mark.parametrize("tag, lang", [("ko", "ko"), ("ko-KR", "ko"), ("ko_KR", "ko"),
                                       ("en-US", "en"), ("fr-FR", "en"), (None, "en"), ("", "en"),
                                       ("kok", "en")])
def test_browser_locale_picks_a_language_we_have(tag, lang):
    assert language_from_locale(tag) == lang
