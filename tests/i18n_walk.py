"""Find visible text that skipped the catalogs: render a page in the ``qps`` pseudo-locale (every
translated string wrapped in ⟦ ⟧) and collect every string a person would read — titles,
markdown, captions, alerts, widget labels, help and options, metrics, tables, image captions,
and each Plotly figure's titles, axis and legend labels, annotations, hover text and buttons.
What is left outside ⟦ ⟧ may hold data (numbers, run and class names, formulas) but no words.

Streamlit's own frontend words are out of reach (the file uploader's "Drag and drop files here";
a multiselect's default placeholder unless the page sets one, as ours do)."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable, Iterator

from google.protobuf.json_format import MessageToDict

from helpers import no_exception, page_app
from ui.i18n import LANGUAGE_KEY, PSEUDO_LANGUAGE, translate
from vae_core import list_runs

LANGS = ("en", "ko", PSEUDO_LANGUAGE)  # what a page test is parametrized over

# Proto fields a person reads. Icons, keys, code blocks, JSON dumps and LaTeX are not prose.
TEXT_FIELDS = {"label", "help", "body", "caption", "placeholder", "options", "text", "delta",
               "content", "title", "tooltip"}
SKIP_TYPES = {"code", "json", "latex", "exception"}
# Symbols and names that read the same in every language (formulas stay unchanged, issue #12).
SYMBOLS = {"AE", "VAE", "VAEs", "AEs", "KL", "ELBO", "IWAE", "NLL", "MNIST", "Fashion", "PNG", "SVG",
           "CPU", "GPU", "CUDA", "MPS", "Dask", "IDX", "ipynb", "safetensors", "json", "VAE Lab",
           "Lab", "English", "mu", "logvar", "eps", "sigma", "exp", "log", "z1", "z2", "x1", "x2",
           "N", "I", "q", "p", "px", "gz", "ubyte", "idx", "nat", "nats", "Plotly", "Jupyter",
           "Streamlit", "PyTorch", "pytorch", "Kingma", "Welling", "GitHub", "URL", "ID", "id",
           "softplus", "tanh", "relu", "sklearn", "BCE", "MSE", "PCA", "Adam", "lr", "ETA", "cuda",
           "cpu", "mps", "auto", "digits", "mnist", "fashion", "fashion_mnist", "z", "x", "Z", "X",
           "Σ", "ckpt", "UTC", "ms", "MB", "GB", "KB", "s", "min", "it"}
PSEUDO_SPAN = re.compile(r"⟦[^⟦⟧]*⟧")
NOT_PROSE = [re.compile(p) for p in (
    r"\$[^$]*\$",            # inline LaTeX
    r"`[^`]*`",              # code spans: file names, commands, identifiers
    r"%\{[^}]*\}",           # Plotly hovertemplate fields
    r"<[^>]*>",              # HTML tags in hover text and legends
    r":material/[a-z_]+:",   # Material icons
    r":[a-z]+\[",            # Streamlit's coloured-text markup, :gray[…]
    r"https?://\S+",         # links
)]
WORD = re.compile(r"[^\W\d_]{2,}")


def _figure_text(spec: dict) -> Iterator[str]:
    layout = spec.get("layout", {})
    traces = list(spec.get("data", []))
    for frame in spec.get("frames", []):
        traces += frame.get("data", [])
        layout_frame = frame.get("layout", {})
        yield from _layout_text(layout_frame)
    yield from _layout_text(layout)
    for trace in traces:
        if trace.get("showlegend") is not False and isinstance(trace.get("name"), str):
            yield trace["name"]
        for field in ("hovertemplate", "legendgrouptitle"):
            value = trace.get(field)
            yield from _strings(value.get("text") if isinstance(value, dict) else value)
        for bar in (trace.get("colorbar"), (trace.get("marker") or {}).get("colorbar")):
            if isinstance(bar, dict):
                yield from _strings((bar.get("title") or {}).get("text"))


def _layout_text(layout: dict) -> Iterator[str]:
    for key, value in layout.items():
        if not isinstance(value, dict) and key != "annotations" and key not in ("updatemenus", "sliders"):
            continue
        if key == "title" or key.startswith(("xaxis", "yaxis", "legend", "coloraxis")):
            title = value.get("title") if key != "title" else value
            if key.startswith("coloraxis"):
                title = (value.get("colorbar") or {}).get("title")
            yield from _strings(title.get("text") if isinstance(title, dict) else title)
    for note in layout.get("annotations", []):
        yield from _strings(note.get("text"))
    for menu in layout.get("updatemenus", []):
        for button in menu.get("buttons", []):
            yield from _strings(button.get("label"))
    for slider in layout.get("sliders", []):
        yield from _strings((slider.get("currentvalue") or {}).get("prefix"))
        for step in slider.get("steps", []):
            yield from _strings(step.get("label"))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def _proto_text(fields: Any) -> Iterator[str]:
    if isinstance(fields, dict):
        for key, value in fields.items():
            if key in TEXT_FIELDS:
                yield from _strings(value)
                if isinstance(value, list):
                    for v in value:
                        yield from _proto_text(v)
            elif isinstance(value, (dict, list)):
                yield from _proto_text(value)
    elif isinstance(fields, list):
        for value in fields:
            yield from _proto_text(value)


def _table_text(frame) -> Iterator[str]:
    yield from (str(c) for c in frame.columns)
    yield from (str(i) for i in frame.index if isinstance(i, str))
    for column in frame.columns:
        yield from (v for v in frame[column].tolist() if isinstance(v, str))


def visible_text(at) -> list[str]:
    """Every string a person reads on the rendered app (main area and sidebar)."""
    found: list[str] = []

    def walk(node) -> None:
        kind = getattr(node, "type", None)
        proto = getattr(node, "proto", None)
        if kind in SKIP_TYPES or getattr(node, "key", None) == LANGUAGE_KEY:
            return  # the language switch names each language in itself, on purpose
        if kind == "plotly_chart":
            found.extend(_figure_text(json.loads(proto.spec)))
        elif kind in ("arrow_data_frame", "table", "dataframe"):
            found.extend(_table_text(node.value))
        elif proto is not None:
            found.extend(_proto_text(MessageToDict(proto)))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return [t for t in found if t and t.strip()]


def words_outside_catalog(text: str, data: Iterable[str] = ()) -> list[str]:
    """The words of ``text`` that are neither inside ⟦ ⟧ nor data, symbols or formulas."""
    while PSEUDO_SPAN.search(text):
        text = PSEUDO_SPAN.sub(" ", text)
    for pattern in NOT_PROSE:
        text = pattern.sub(" ", text)
    for item in sorted((d for d in data if d), key=len, reverse=True):
        text = text.replace(item, " ")
    return [w for w in WORD.findall(text) if w not in SYMBOLS]


def untranslated(at, data: Iterable[str] = ()) -> list[str]:
    """The visible strings of a page rendered in ``qps`` that hold words no catalog supplied."""
    data = list(data)
    return sorted({t for t in visible_text(at) if words_outside_catalog(t, data)})


def data_words(root: Path) -> list[str]:
    """Names on screen that are data, not language: the runs in ``root``, their groups and data
    sets."""
    return sorted({w for r in list_runs(root) for w in (r.name, r.group, r.dataset) if w})


def opened(page: str | None, lang: str, timeout: float = 120, **params: str):
    """``page`` run once in ``lang`` (``qps`` for the walk), with more URL ``params``."""
    at = page_app(page, timeout)
    at.query_params["lang"] = lang
    for key, value in params.items():
        at.query_params[key] = value
    return no_exception(at.run())


def hangul(text: str) -> int:
    return sum("가" <= ch <= "힣" for ch in text)


def assert_translated(at, root: Path, *extra: str) -> None:
    """The page ran, shows text, and none of it is outside the catalogs (data in ``root`` and
    ``extra`` aside)."""
    in_language(at, PSEUDO_LANGUAGE, root, *extra)


def in_language(at, lang: str, root: Path | None = None, *extra: str):
    """The checks every view gets in ``lang``: it ran and shows text; in Korean, Korean text; in
    ``qps``, no word outside the catalogs (data in ``root`` and ``extra`` aside)."""
    no_exception(at)
    text = visible_text(at)
    assert len(text) >= 3  # a title, a sentence, a link at least
    if lang == "ko":
        assert hangul(" ".join(text)) > 20, " ".join(text)[:300]
    elif lang == PSEUDO_LANGUAGE:
        assert untranslated(at, (data_words(root) if root else []) + list(extra)) == []
    return at


def tr(lang: str):
    """``lang``'s gettext, for what a test expects to read: ``tr("ko")("Train")``."""
    return lambda message, **values: translate(message, lang, **values)
