"""Translations: every visible string of the dashboard goes through ``_()``.

One gettext catalog per language, ``ui/locales/<lang>/LC_MESSAGES/messages.po``, read with Babel
(English is the source language and needs none). A sentence that holds numbers is translated
whole, with named placeholders: ``_("The AE's codes span ±{ae:.1f}", ae=span)``, so a translator
can move the number where the grammar wants it. vae_core's builders take ``gettext=_``.

The language is the sidebar switch, kept in the URL (``?lang=ko``); a session without one
starts in the browser's locale, else English. ``qps`` is a
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


def _valid(lang: object) -> bool:
    return lang in LANGUAGES or lang == PSEUDO_LANGUAGE


def current_language() -> str:
    """The switch's value once the frame has drawn it; before that the URL's, else the browser's."""
    for lang in (st.session_state.get(LANGUAGE_KEY), st.query_params.get(LANGUAGE_KEY)):
        if _valid(lang):
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
    """Names of the ``{placeholders}`` in a message (``ui.locales.catalog`` compares them)."""
    return {name for _text, name, _spec, _conv in Formatter().parse(message) if name}


def language_switch() -> None:
    """한국어 / English, at the top of the sidebar, each language named in itself. A session starts
    in the URL's language (``?lang=ko``), else the browser's; the frame writes the choice back to
    the URL on every page, so a shared link opens in its language. (Not Streamlit's query-param
    binding: with a ``format_func`` that would put "한국어" in the URL, not ``ko``.)"""
    url_lang = st.query_params.get(LANGUAGE_KEY)
    if not _valid(st.session_state.get(LANGUAGE_KEY)):
        st.session_state[LANGUAGE_KEY] = url_lang if _valid(url_lang) else browser_language()
    options = list(LANGUAGES) + ([PSEUDO_LANGUAGE] if st.session_state[LANGUAGE_KEY] == PSEUDO_LANGUAGE
                                 else [])
    st.segmented_control("Language / 언어", options, key=LANGUAGE_KEY, required=True,
                         format_func=lambda code: LANGUAGES.get(code, code),
                         label_visibility="collapsed")
    lang = st.session_state[LANGUAGE_KEY]
    if lang == "ko":  # Korean wraps between words (eojeol), not inside them: "손실은", not "손\n실은"
        st.html("<style>[data-testid=stAppViewContainer], [data-testid=stSidebar] "
                "{word-break: keep-all; overflow-wrap: break-word;}</style>")
    if lang != SOURCE_LANGUAGE or browser_language() != SOURCE_LANGUAGE:
        if url_lang != lang:
            st.query_params[LANGUAGE_KEY] = lang
    elif url_lang is not None:
        del st.query_params[LANGUAGE_KEY]
