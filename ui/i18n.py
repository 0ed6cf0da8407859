"""Translations: every visible string of the dashboard goes through ``_()``.

One gettext catalog per language, ``ui/locales/<lang>/LC_MESSAGES/messages.po``, read with Babel
(English is the source language and needs none). A sentence that holds numbers is translated
whole, with named placeholders: ``_("The AE's codes span ±{ae:.1f}", ae=span)``, so a translator
can move the number where the grammar wants it. vae_core's builders take ``gettext=_``.

The language is the sidebar switch, kept in the URL (``?lang=ko``) by Streamlit's query-param
binding; a session without one starts in the browser's locale, else English. ``qps`` is a
pseudo-locale for tests: it wraps every translated string in ⟦ ⟧, so a page walked in it shows at
once any visible text that skipped the catalog.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from string import Formatter
from typing import Any

import streamlit as st

LOCALES = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"
LANGUAGES = {"en": "English", "ko": "한국어"}
SOURCE_LANGUAGE = "en"
PSEUDO_LANGUAGE = "qps"
PSEUDO_OPEN, PSEUDO_CLOSE = "⟦", "⟧"
LANGUAGE_KEY = "lang"  # the session-state key and the URL parameter


def catalog_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=None)
def translations(lang: str) -> dict[str, str]:
    """msgid -> msgstr for one language; untranslated and fuzzy entries are left out, so they
    fall back to English (the catalog test keeps that from shipping)."""
    from babel.messages.pofile import read_po

    path = catalog_path(lang)
    if not path.is_file():
        return {}
    with open(path, "rb") as f:
        catalog = read_po(f, locale=lang)
    return {m.id: m.string for m in catalog
            if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string
            and not m.fuzzy}


def language_from_locale(locale: str | None) -> str:
    """``"ko"`` for ``ko``, ``ko-KR``, ``ko_KR``; English for anything we do not have."""
    tag = (locale or "").replace("_", "-").lower()
    return next((code for code in LANGUAGES if tag == code or tag.startswith(code + "-")),
                SOURCE_LANGUAGE)


def browser_language() -> str:
    try:
        return language_from_locale(st.context.locale)
    except Exception:  # no browser behind this script run (bare mode, AppTest)
        return SOURCE_LANGUAGE


def _pseudo_requested() -> bool:
    return PSEUDO_LANGUAGE in (st.query_params.get(LANGUAGE_KEY), st.session_state.get(LANGUAGE_KEY))


def current_language() -> str:
    """The switch's value once it is drawn; before that the URL's, else the browser's."""
    lang = st.session_state.get(LANGUAGE_KEY) or st.query_params.get(LANGUAGE_KEY)
    if lang in LANGUAGES or lang == PSEUDO_LANGUAGE:
        return lang
    return browser_language()


def translate(message: str, lang: str, **values: Any) -> str:
    """``message`` in ``lang``, its ``{placeholders}`` filled from ``values``."""
    if lang == PSEUDO_LANGUAGE:
        text = PSEUDO_OPEN + message + PSEUDO_CLOSE
    elif lang == SOURCE_LANGUAGE:
        text = message
    else:
        text = translations(lang).get(message, message)
    return text.format(**values) if values else text


def _(message: str, **values: Any) -> str:
    """The visible text for ``message`` in this session's language."""
    return translate(message, current_language(), **values)


def placeholders(message: str) -> set[str]:
    """Names of the ``{placeholders}`` in a message (the catalog test compares them)."""
    return {name for _text, name, _spec, _conv in Formatter().parse(message) if name}


def language_switch() -> None:
    """한국어 / English, at the top of the sidebar; the URL keeps it, so a shared link opens in
    its language. Each language is named in itself.

    Streamlit keeps a bound widget's label in the URL (``?lang=한국어``) and, in a browser, drops
    a value that is no label (``?lang=ko`` opened in English): ``links.translated_options`` reads
    a link's code too."""
    from ui.links import translated_options  # ui.links imports this module

    options = list(LANGUAGES) + ([PSEUDO_LANGUAGE] if _pseudo_requested() else [])
    st.segmented_control("Language / 언어", options, key=LANGUAGE_KEY, bind="query-params",
                         default=browser_language(), required=True,
                         format_func=translated_options(LANGUAGE_KEY, options,
                                                        lambda code, _lang: LANGUAGES.get(code, code)),
                         label_visibility="collapsed")
