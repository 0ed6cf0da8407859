"""Words for people, kept translatable without this package knowing any UI.

Builders of figures and sentences take ``gettext`` (a ``Translate``, default: English unchanged),
so a dashboard passes its translator and a notebook passes nothing. Constants that a UI shows later
(variant titles, claim names) are marked with ``N_`` so Babel finds them for the catalogs; the UI
translates them when it shows them. Sentences with numbers are translated whole, with named
placeholders: ``gettext("Epoch {epoch}").format(epoch=3)``.
"""
from __future__ import annotations

from typing import Callable

Translate = Callable[[str], str]


def no_translation(message: str) -> str:
    return message


def N_(message: str) -> str:
    """Marks ``message`` for the catalogs without translating it here (gettext's convention)."""
    return message
