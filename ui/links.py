"""Shareable links: a page's widget values live in the URL query, so a link opens that exact view.

Widgets opt in with Streamlit's own ``bind="query-params"`` (their key is the parameter name;
values equal to the default are left out of the URL; a widget with a ``format_func`` keeps the
option's label there, e.g. a run picker's "demo-vae (digits, latent 2, β=1, finished)"). Streamlit silently drops a value that is
not among a widget's options; ``link_fallback`` says so to the user first, for the values where
that matters (a run that is not on this server, say).

Translated labels: the label in the URL (and in the browser's copy of the widget) is in the
language it was drawn in, which the language switch changes. ``translated_options`` gives such a
widget its ``format_func`` and keeps the choice when the language changes; a link's value is read
in any language, or as the bare option (``?vae_run=demo-vae``).
"""
from __future__ import annotations

import math
import re
import string
from typing import Callable, Mapping, Sequence, TypeVar

import streamlit as st
from streamlit.errors import StreamlitAPIException

from ui.i18n import LANGUAGES, _, current_language, translate

BIND = "query-params"

T = TypeVar("T")
Label = Callable[[T, str], str]  # (option, language) -> the option's visible label


def _languages() -> list[str]:
    lang = current_language()
    return list(LANGUAGES) + ([lang] if lang not in LANGUAGES else [])


def option_named(text: str, options: Sequence[T], label: Label) -> T | None:
    """The option that ``text`` names in a link: its label in any language, or the bare option
    itself (a run name, a variant id); else None."""
    for o in options:
        if text == str(o) or any(text == label(o, lang) for lang in _languages()):
            return o
    return None


def translated_options(key: str, options: Sequence[T], label: Label) -> Callable[[T], str]:
    """The ``format_func`` of the URL-bound select box or radio ``key`` whose option labels are
    translated; call it just before drawing the widget with ``key=key, bind=BIND``.

    Streamlit stores the formatted label, so without this a link made in English would fall
    back in Korean, and after the language switch the browser would send the old label, which no
    option has any more. Here, on the widget's first draw in a session, a link's label in any
    language (or the bare option) selects its option; and on the first draw after the language
    changed, the value is set again, which makes the browser show, and the URL keep, the new
    label.
    """
    lang = current_language()
    drawn_in = f"_{key}_language"  # the language the widget was last drawn in
    if key not in st.session_state:
        requested = st.query_params.get(key)
        match = option_named(requested, options, label) if requested is not None else None
        if match is not None and requested != label(match, lang):
            st.session_state[key] = match
            lang_drawn = None  # the URL lost the foreign label: set the value again next run
            try:  # name it in this language's words; see bind_for
                st.query_params[key] = label(match, lang)
                st.session_state[_unbound(key)] = True
            except StreamlitAPIException:  # bound already in this session: the old way
                pass
        else:
            lang_drawn = lang
    elif st.session_state.get(drawn_in, lang) != lang:
        st.session_state[key] = st.session_state[key]
        lang_drawn = lang
    else:
        lang_drawn = lang
    st.session_state[drawn_in] = lang_drawn
    return lambda o: label(o, lang)


def _unbound(key: str) -> str:
    return f"_{key}_unbound"


def bind_for(key: str) -> str | None:
    """The ``bind`` of the widget ``key`` (drawn with ``translated_options``): ``BIND``, except on
    the run that opened a link naming its option by another label (the other language, or the bare
    option). Streamlit would drop a label it does not offer from the URL, and writes a value set
    from code there only from the widget's second run on, so the choice would vanish from the
    address bar. Instead ``translated_options`` has put the label of this language there, and the
    widget is drawn unbound this once: Streamlit leaves that parameter alone, and binds it from
    the next run on."""
    return None if st.session_state.pop(_unbound(key), False) else BIND


def translated_labels(key: str, labels: Mapping[T, str]) -> Callable[[T], str]:
    """``translated_options`` for options whose labels are catalog messages,
    ``{option: N_("label")}`` (an option whose label is not a message, say "AE", shows as is)."""
    return translated_options(key, list(labels), lambda o, lang: translate(labels[o], lang))


def link_fallback(key: str, options: Sequence[T], label: Label, what: str,
                  fallback: str | None) -> None:
    """Warn when the URL asks ``key`` for a value that names none of ``options`` (the widget
    will show ``fallback`` instead); call it before the widget is drawn. ``what`` names the
    widget's value, translated (``_("the AE run")``)."""
    requested = st.query_params.get(key)
    if requested is None or option_named(requested, options, label) is not None:
        return
    if fallback:
        message = _("The link asks for {what} {requested}, which is not available here; "
                    "showing {fallback} instead.", what=md(what), requested=md(repr(requested)),
                    fallback=md(fallback))
    else:
        message = _("The link asks for {what} {requested}, which is not available here.",
                    what=md(what), requested=md(repr(requested)))
    st.warning(message, icon=":material/link_off:")


# Every ASCII punctuation character may be backslash-escaped in CommonMark, and an escaped one is
# plain text: no link, image, emphasis, code, heading, list, table, math ($) or directive (:red[])
# can start from it, and GFM's bare-URL links (www., https:) break at the escaped dot or colon.
_MARKDOWN_SPECIAL = re.compile("([" + re.escape(string.punctuation) + "])")


def md(value: object) -> str:
    """``value`` as text that markdown shows literally: for anything a URL, a file or a user
    supplied (a run name, a data set path, an error message) before ``st.markdown``, a caption,
    or an alert box. Line breaks become spaces (a value stays one line of its sentence)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(value).splitlines()))


def drop_unusable_numbers() -> None:
    """Remove from the URL every value that reads as an infinite number (``inf``, ``Infinity``,
    ``1e999``) and warn: Streamlit 1.67 seeds an integer ``number_input`` from the URL with
    ``int(inf)`` and the page crashes before any check of ours can run. (A NaN or an
    out-of-range finite number already becomes the widget's default.) Call it in the frame,
    before ``page.run()``."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    for key in list(st.query_params):
        try:
            if not math.isinf(float(st.query_params[key])):
                continue
        except (TypeError, ValueError):
            continue
        del st.query_params[key]
        ctx = get_script_run_ctx()
        if ctx is not None:  # widgets are seeded from the URL the session opened with: drop it there
            with ctx.session_state.query_params() as params:
                getattr(params, "_initial_query_params", {}).pop(key, None)
        st.warning(_("The link's value for {key} is not a usable number; the page uses its "
                     "default instead.", key=md(key)), icon=":material/link_off:")
