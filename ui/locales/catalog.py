"""Keep the catalogs in step with the code: ``python -m ui.locales.catalog``.

Extracts every ``_()``, ``gettext()`` and ``N_()`` message (``babel.cfg``), then rewrites each
language's ``messages.po`` with exactly those messages: translations already there are kept, new
ones come in empty (to be written), unused ones are dropped. Messages are sorted and carry no
line numbers, so a change to the code changes the catalog only where a message changed.
``--check`` changes nothing and exits 1 if a catalog is missing, has untranslated, fuzzy or
unused entries, or a translation whose placeholders differ from the English (CI runs it through
``tests/test_i18n_catalog.py``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from ui.i18n import LANGUAGES as ALL_LANGUAGES
from ui.i18n import LOCALES, SOURCE_LANGUAGE, placeholders
from ui.i18n import catalog_path as po_path

REPO = LOCALES.parent.parent
CONFIG = LOCALES / "babel.cfg"
LANGUAGES = tuple(code for code in ALL_LANGUAGES if code != SOURCE_LANGUAGE)  # need a catalog
KEYWORDS = {"_": None, "gettext": None, "N_": None}


def source_messages() -> dict[str, list[str]]:
    """Every message in the code -> the files that use it."""
    with open(CONFIG) as f:
        method_map, options_map = parse_mapping_cfg(f)
    found: dict[str, list[str]] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
            str(REPO), method_map, options_map, keywords=KEYWORDS, comment_tags=()):
        if isinstance(message, str) and message:
            found.setdefault(message, []).append(filename)
    return found


def read_catalog(path: Path, lang: str) -> Catalog:
    if not path.is_file():
        return Catalog(locale=lang)
    with open(path, "rb") as f:
        return read_po(f, locale=lang)


def problems(lang: str, messages: dict[str, list[str]]) -> dict[str, list[str]]:
    catalog = read_catalog(po_path(lang), lang)
    entries = {m.id: m for m in catalog if m.id}
    return {
        "missing": sorted(messages.keys() - entries.keys()),
        "untranslated": sorted(i for i in messages.keys() & entries.keys() if not entries[i].string),
        "fuzzy": sorted(i for i in messages.keys() & entries.keys() if entries[i].fuzzy),
        "unused": sorted(entries.keys() - messages.keys()),
        "placeholders differ": sorted(
            i for i in messages.keys() & entries.keys()
            if entries[i].string and placeholders(entries[i].string) != placeholders(i)),
    }


def update(lang: str, messages: dict[str, list[str]]) -> int:
    """Rewrite ``lang``'s catalog for ``messages``, keeping its translations. Returns how many
    remain untranslated."""
    old = read_catalog(po_path(lang), lang)
    known = {m.id: m.string for m in old if m.id and m.string and not m.fuzzy}
    new = Catalog(locale=lang, project="VAE Lab", version="1", fuzzy=False,
                  creation_date=old.creation_date, revision_date=old.revision_date,
                  last_translator="VAE Lab <vae-lab@localhost>", language_team="VAE Lab",
                  header_comment=(
        "# Korean messages of VAE Lab. Written, not machine-translated: the terms follow the\n"
        "# blog post (잠재 공간, 잠재 변수, 인코더/디코더, 재매개변수화 트릭, KL 발산, 사후 분포,\n"
        "# 사전 분포, 사후 붕괴); formulas stay as they are. Update with python -m ui.locales.catalog"))
    for message in sorted(messages):
        new.add(message, known.get(message, ""), auto_comments=sorted(set(messages[message])))
    po_path(lang).parent.mkdir(parents=True, exist_ok=True)
    with open(po_path(lang), "wb") as f:
        write_po(f, new, width=100, no_location=True, omit_header=False, sort_output=True)
    return sum(1 for message in messages if not known.get(message))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report problems, change nothing")
    args = parser.parse_args(argv)
    messages = source_messages()
    status = 0
    for lang in LANGUAGES:
        if args.check:
            for kind, ids in problems(lang, messages).items():
                if ids:
                    status = 1
                    print(f"{lang}: {len(ids)} {kind}: " + "; ".join(map(repr, ids[:5])))
        else:
            left = update(lang, messages)
            print(f"{lang}: {len(messages)} messages, {left} untranslated -> {po_path(lang)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
