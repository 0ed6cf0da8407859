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


def test_korean_catalog_speaks_one_register_and_one_vocabulary():
    """Issue 16.12, read as a native teacher would: 해요체 throughout (no 합니다/하십시오), no
    "은(는)"-style particle pairs, 판정용 분류기 (not a GAN's 판별기), one term each for
    rate–distortion (전송률–왜곡), samples (표본) and clusters (군집), and 사후 분포 붕괴."""
    from babel.messages.pofile import read_po

    with open(catalog.po_path("ko"), "rb") as f:
        messages = {m.id: m.string for m in read_po(f) if m.id and m.string}
    banned = ("니다", "십시오", "은(는)", "을(를)", "이(가)", "와(과)", "(으)로", "판별기", "비율–왜곡",
              "레이트", "사후 붕괴", "샘플", "클러스터", "본 이미지 수")
    found = {word: msgid for msgid, text in messages.items() for word in banned if word in text}
    assert found == {}, found
    assert messages["Posterior collapse (no active unit; the decoder ignores z) at β = {betas}"] \
        .startswith("β = {betas}에서 사후 분포 붕괴")
    assert "판정용 분류기" in messages["Judge classifier test accuracy"]
    assert "학습한 이미지 수" in messages.values()
