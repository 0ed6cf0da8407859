"""The Class gallery page (AppTest through the frame), in every language: this class's runs on
the rate-distortion plane and the wall, mine marked; an empty window; the teacher hides runs and
exports; a broken run left out; a refused save said in words."""
from __future__ import annotations

import json
import time

import pytest

from helpers import no_exception as ok
from i18n_walk import LANGS, hangul, in_language, opened, tr
from test_classroom import THIS_SESSION, set_meta
from ui.navigation import CLASS_GALLERY
from vae_core.viz.gallery import HIDDEN_FILE


def open_in(lang: str = "en", **params):
    return ok(opened(CLASS_GALLERY.file, lang, 90, **params))


@pytest.mark.parametrize("lang", LANGS)
def test_gallery_lists_this_class_and_marks_mine(lang, checkpoints, fresh_streamlit_cache):
    _ = tr(lang)
    set_meta(checkpoints / "demo-vae", owner=THIS_SESSION)
    set_meta(checkpoints / "demo-ae", created=time.time() - 3 * 3600)  # trained before class
    at = in_language(open_in(lang), lang, checkpoints)
    assert at.title[0].value == _("Class gallery")
    table = at.dataframe[0].value
    assert list(table[_("run")]) == ["demo-vae"] and list(table[_("yours")]) == [True]
    assert _("**{n} runs** ({vaes} VAEs, {aes} AEs); {mine} of them yours.", n=1, vaes=1, aes=0,
             mine=1) in [m.value for m in at.markdown]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    vae = next(t for t in spec["data"] if t["name"] == "VAE")
    assert vae["customdata"] == ["demo-vae"] and vae["marker"]["size"] == [15]
    assert len(at.get("image")) == 1  # the wall
    if lang == "ko":
        assert "내 실행" in table.columns and all(hangul(c.value) for c in at.caption)
    if lang == "en":  # (AppTest runs a format_func outside the script: set_value is English only)
        ok(at.selectbox(key="gallery_window").set_value(0.0).run())
        assert set(at.dataframe[0].value["run"]) == {"demo-vae", "demo-ae"}


def test_gallery_empty_window_says_so(checkpoints, fresh_streamlit_cache):
    for name in ("demo-ae", "demo-vae"):
        set_meta(checkpoints / name, created=time.time() - 5 * 3600)
    at = open_in()
    assert any("No runs in the last 2 hours" in i.value for i in at.info)
    assert not at.get("image")


def test_gallery_teacher_hides_and_exports(checkpoints, hosted, fresh_streamlit_cache):
    at = open_in()
    assert not at.get("download_button") and not at.get("multiselect")  # a student
    at.secrets["teacher_password"] = "s3cret"
    ok(at.run())
    at.text_input(key="access_password").set_value("s3cret")
    ok(at.button(key="access_unlock").click().run())
    assert len(at.get("download_button")) == 2
    ok(at.multiselect(key="gallery_hide").set_value(["demo-ae"]).run())
    ok(at.button(key="gallery_hide_save").click().run())
    assert json.loads((checkpoints / HIDDEN_FILE).read_text()) == ["demo-ae"]
    assert list(at.dataframe[0].value["run"]) == ["demo-vae"]


def test_gallery_leaves_out_a_broken_run(checkpoints, fresh_streamlit_cache):
    (checkpoints / "demo-ae" / "model.safetensors").write_bytes(b"not weights")
    at = open_in()
    assert list(at.dataframe[0].value["run"]) == ["demo-vae"]  # listed as broken: not shown
    assert len(at.get("image")) == 1


def test_gallery_says_why_hiding_failed(checkpoints, fresh_streamlit_cache, monkeypatch):
    import vae_core.viz.gallery as gallery

    def refuse(root, names):
        raise PermissionError(13, "Permission denied", str(root))

    monkeypatch.setattr(gallery, "write_hidden", refuse)
    at = open_in()  # localhost, no password: the single user is the teacher
    ok(at.multiselect(key="gallery_hide").set_value(["demo-ae"]).run())
    ok(at.button(key="gallery_hide_save").click().run())
    errors = [e.value for e in at.error]
    assert errors == ["The hidden runs could not be saved: Permission denied"]
    assert str(checkpoints) not in errors[0]
