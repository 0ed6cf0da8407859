"""The Generate & interpolate page (AppTest through the frame), in every language: each source of
the AE's draws (the prior, a fitted Gaussian, the bounding box, a fitted mixture), the
interpolation, a collapsed VAE, and the table equal to ``python -m vae_core evaluate --json``."""
from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import chart_specs as specs
from helpers import page_text, values
from i18n_walk import LANGS, hangul, in_language, opened, tr, visible_text
from ui.i18n import translate
from ui.navigation import GENERATE
from ui.numbers import number_text, percent_text
from vae_core.__main__ import main as cli
from vae_core.analysis.generation import MIXTURE, SOURCE_NAMES, SOURCES

MIXTURE_EN = "a 10-Gaussian mixture fitted to its codes"  # the radio's label in a link


def image_urls(at) -> list[str]:
    return [im.proto.imgs[0].url for im in at.get("image")]  # the URL is a hash of the pixels


def show(at, **state):
    # Through session state: AppTest calls a widget's format_func outside the script run, where
    # ``_`` cannot see the session's language, so ``radio.set_value`` only works in English.
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


@pytest.mark.parametrize("lang", LANGS)
def test_every_source_and_the_interpolation(lang, pair_view):
    _ = tr(lang)
    at = in_language(opened(GENERATE.file, lang), lang, pair_view)
    tiles_ae, map_ae, tiles_vae, map_vae, histogram = specs(at)[:5]
    assert tiles_ae["layout"]["title"]["text"] == _("{model}: {shown} of {n} draws from {source}", model="AE",
                                                    shown=64, n=1000, source=_(SOURCE_NAMES["prior"]))
    assert len(tiles_ae["layout"]["annotations"]) == 64  # the judge's class and confidence per tile
    names = [t.get("name") or "" for t in map_ae["data"]]
    for legend in ("draw near codes ({n})", "draw in a gap ({n})"):  # each with its count
        assert any(n.startswith(_(legend, n="|").split("|")[0]) for n in names), (legend, names)
    assert histogram["layout"]["xaxis"]["type"] == "category"
    assert histogram["data"][0]["x"][-1] == _("not confident")
    if lang != "ko":
        assert "Drawn from N(0, I), the AE's samples cover" in page_text(at)
        assert "junk" not in " ".join(c.value for c in at.caption)
    for source in SOURCES:
        in_language(show(at, generate_source=source), lang, pair_view)
        title = specs(at)[0]["layout"]["title"]["text"]
        assert title == _("{model}: {shown} of {n} draws from {source}", model="AE", shown=64, n=1000,
                          source=_(SOURCE_NAMES[source]))
        assert specs(at)[2] == tiles_vae  # the VAE always samples its prior

    urls = image_urls(at)
    assert len(urls) == 2  # the two interpolation strips
    path_before = specs(at)[-1]["data"][-1]
    at.selectbox(key="interp_to_class").set_value(7).run()
    assert image_urls(at) != urls
    path_after = specs(at)[-1]["data"][-1]
    assert path_after["name"] == _("path") and path_after["x"] != path_before["x"]
    in_language(show(at, interp_by="index"), lang, pair_view)
    at.number_input(key="interp_from_index").set_value(5).run()
    at.slider(key="interp_frames").set_value(4).run()
    in_language(at, lang, pair_view)
    assert len(values(specs(at)[-1]["data"][-1]["x"])) == 4
    if lang == "ko":  # a Korean link names the Korean labels
        ko = opened(GENERATE.file, "ko", interp_by=translate("index", "ko"),
                    generate_source=translate(SOURCE_NAMES["box"], "ko"))
        assert ko.radio(key="interp_by").value == "index"
        assert ko.radio(key="generate_source").value == "box" and hangul(" ".join(visible_text(ko))) > 200


@pytest.mark.parametrize("lang", LANGS)
def test_generate_offers_the_fitted_mixture(lang, pair_view):
    _ = tr(lang)
    at = in_language(opened(GENERATE.file, lang, generate_source=_(MIXTURE_EN)), lang, pair_view)
    assert at.radio(key="generate_source").value == "mixture"
    text = " ".join(m.value for m in at.markdown)
    assert ("가우시안 10개의 혼합" in text if lang == "ko"
            else "A mixture of 10 Gaussians fitted to the AE's codes" in text)
    table = at.table[0].value  # st.table: the Generate numbers wrap instead of being cut
    assert len(table) == 7 and (table.iloc[:, 0] == "AE").sum() == 4  # the mixture: AE only
    title = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"]
    assert ("혼합" in title) if lang == "ko" else ("mixture" in title)


@pytest.mark.parametrize("lang", LANGS)
def test_collapsed_vae_cannot_show_the_lesson(lang, collapsed):
    at = in_language(opened(GENERATE.file, lang), lang, collapsed)
    if lang != "ko":
        assert "posterior collapsed" in " ".join(w.value for w in at.warning)
        assert ("⟦" if lang == "qps" else "") + "This pair cannot show the lesson: the VAE collapsed" \
            in page_text(at)
    else:
        assert "사후 분포" in page_text(at) and "붕괴" in page_text(at)
        assert "이 쌍으로는 이 교훈을 보여 줄 수 없어요" in page_text(at)
    # Issue 16.9: the map drew μ (one dot) while the gap test measured z ~ q(z|x); one set now.
    spec = specs(at)[3]  # the VAE's map of its draws over its codes
    codes_x = np.concatenate([values(t["x"]) for t in spec["data"]
                              if t.get("customdata") is not None])  # the test codes' traces
    assert len(codes_x) > 100 and np.std(codes_x) > 0.5  # N(0, 1)-like, not a spike
    if lang == "en":
        assert "VAE: where" in spec["layout"]["title"]["text"]
        assert "one z ~ q(z|x) per test image" in " ".join(c.value for c in at.caption)


@pytest.mark.slow
def test_generate_numbers_equal_evaluate_json(pair_view, capsys):
    """The Generate page's table is the scorecard's generation test, number for number (the CLI
    run in this process: the same code as ``python -m``, without a second torch import)."""
    cards = {}
    for name, label in (("demo-ae", "AE"), ("demo-vae", "VAE")):
        capsys.readouterr()
        assert cli(["evaluate", name, "--root", str(pair_view), "--json", "--quiet"]) == 0
        cards[label] = json.loads(capsys.readouterr().out)
    at = in_language(opened(GENERATE.file, "en"), "en")
    # st.table (its cells wrap): the page shows each number as ui.numbers formats it.
    table = next(t for t in at.table if "draws from" in t.value.columns).value
    mixture = table["draws from"] == SOURCE_NAMES[MIXTURE]  # the AE's only, not in evaluate
    assert list(table[mixture]["model"]) == ["AE"]
    table = table[~mixture]
    assert len(table) == 2 * len(SOURCES)
    for row, source in zip(table.itertuples(index=False), SOURCES * 2):
        card = cards[row[0]]
        assert int(row[2]) == card[f"{source}_classes_covered"]
        assert row[3] == percent_text(card[f"{source}_confident_raw"])
        assert row[4] == percent_text(card[f"{source}_confident"])
        assert row[5] == number_text(card[f"{source}_class_entropy"])
        assert row[6] == percent_text(card[f"{source}_in_gaps"])
    assert f"cover {cards['AE']['prior_classes_covered']} of 10 classes" in page_text(at)
