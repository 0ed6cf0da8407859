"""vae_core for the remote control (traversal), the class gallery and the fitted-mixture generator,
on real models: the shipped latent-8 demo pair (its VAE has 3 active dims of 8) and tiny pairs."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from helpers import REPO
from vae_core import list_runs, load_run
from vae_core.analysis.codes import latent_axis_name
from vae_core.analysis.density import mixture_caption, sample_mixture
from vae_core.viz.gallery import (HIDDEN_FILE, class_rows, png_bytes, prior_samples,
                                  rate_distortion, read_hidden, wall_image, write_hidden)
from vae_core.analysis.generation import (AE_SOURCES, MIXTURE, SOURCE_SEED_OFFSET,
                                          dataset_generation_tests, sample_codes)
from vae_core.analysis.traversal import STILL, dim_infos, slider_order, traversal, traversal_caption

Z8 = REPO / "checkpoints"


@pytest.fixture(scope="module")
def z8(digits):
    """The shipped latent-8 pair with its test codes: {"ae": (run, mu, logvar), "vae": ...}."""
    out = {}
    for kind in ("ae", "vae"):
        run = load_run(Z8 / f"demo-digits-z8-{kind}")
        mu, logvar = run.model.encode_all(digits.test_x)
        out[kind] = (run, mu.numpy(), None if logvar is None else logvar.numpy())
    return out


def test_dims_ordered_by_kl_and_inactive_vae_dims_do_nothing(z8):
    run, mu, logvar = z8["vae"]
    infos = dim_infos(mu, logvar)
    order = slider_order(infos)
    active = [d for d in order if infos[d].active]
    assert 0 < len(active) < 8 and order[:len(active)] == active  # active first
    kls = [infos[d].kl for d in active]
    assert kls == sorted(kls, reverse=True)
    assert all(infos[d].kl < 0.01 for d in order[len(active):])
    trav = traversal(run.model, mu[0], infos, order)
    assert trav.images.shape == (8 * trav.steps, 8, 8)
    assert set(trav.moving()) == set(active) and set(trav.still()) == set(order[len(active):])
    text = traversal_caption("VAE", trav, infos)
    for d in order[len(active):]:
        assert latent_axis_name(d) in text.split("do nothing")[0].split("changes the image")[-1]
    assert "inactive" in text


def test_ae_dims_all_move_and_range_is_three_sigma_of_the_codes(z8):
    run, mu, _ = z8["ae"]
    infos = dim_infos(mu, None)
    assert all(i.kl is None and i.active for i in infos)
    i = infos[0]
    assert i.low == pytest.approx(mu[:, 0].mean() - 3 * mu[:, 0].std(ddof=1), rel=1e-4)
    trav = traversal(run.model, mu[0], infos, slider_order(infos))
    assert trav.still() == [] and (trav.change >= STILL).all()
    assert "every dim is used" in traversal_caption("AE", trav, infos)


def test_traversal_rows_hold_the_start_code_except_their_dim(z8):
    run, mu, logvar = z8["vae"]
    infos = dim_infos(mu, logvar)
    from vae_core.analysis.traversal import traversal_codes

    z, values = traversal_codes(mu[3], infos, [2, 5], steps=4)
    assert z.shape == (8, 8) and values.shape == (2, 4)
    np.testing.assert_allclose(np.delete(z[:4], 2, axis=1), np.delete(np.tile(mu[3], (4, 1)), 2, 1))
    np.testing.assert_allclose(z[4:, 5], values[1])


def row(name, created, owner=None, **final):
    from vae_core import RunInfo

    return RunInfo(name=name, path=REPO, status="finished", kind=final.pop("kind", "vae"),
                   beta=final.pop("beta", 1.0), latent_dim=2, dataset="digits", final=final,
                   created=created, owner=owner)


def test_class_rows_window_hidden_and_mine():
    now = time.time()
    infos = [row("old", now - 3 * 3600, recon=20, kl=2), row("a", now - 60, "me", recon=21, kl=1),
             row("b", now - 30, "you", recon=25, kl=0.1, beta=4.0),
             row("c", now - 10, kind="ae", recon=18, kl=0.0)]
    rows = class_rows(infos, now - 2 * 3600, "me", hidden={"b"})
    assert [r.name for r in rows] == ["c", "a"]
    assert [r.mine for r in rows] == [False, True]
    assert rows[0].kl is None and rows[0].label == "c  AE" and rows[1].label == "a  β=1"
    fig = rate_distortion(class_rows(infos, 0, "me"))
    names = {t.name: list(t.customdata) for t in fig.data}
    assert names == {"VAE": ["b", "a", "old"], "AE": ["c"]}
    ae = next(t for t in fig.data if t.name == "AE")
    assert list(ae.x) == [0.0]  # the AE sits on the distortion axis
    vae = next(t for t in fig.data if t.name == "VAE")
    assert list(vae.marker.size) == [9, 15, 9]  # "a" is mine


def test_wall_image_rows_and_highlight(z8):
    rows = class_rows([row("demo-digits-z8-vae", 1.0, "me", recon=1, kl=1),
                       row("demo-digits-z8-ae", 0.5, kind="ae", recon=1, kl=0)], 0, "me")
    samples = {r.name: prior_samples(z8[r.kind][0].model) for r in rows}
    img = wall_image(rows, samples)
    assert img.shape[0] == 2 * 36 and img.dtype == np.uint8
    assert tuple(img[2, 2]) == (255, 224, 102) and tuple(img[40, 2]) == (255, 255, 255)
    assert png_bytes(img)[:8] == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_array_equal(samples["demo-digits-z8-ae"],
                                  prior_samples(z8["ae"][0].model))  # seeded: same draws


@pytest.mark.parametrize("content", ['["ok-run", "../etc", 3, "a b"]', "{]", '{"a": 1}', "x" * 10])
def test_hidden_list_is_read_as_hostile(tmp_path, content):
    (tmp_path / HIDDEN_FILE).write_text(content)
    assert read_hidden(tmp_path) == ({"ok-run"} if content.startswith("[") else frozenset())


def test_hidden_list_round_trip_and_not_a_run(tmp_path):
    write_hidden(tmp_path, ["b", "a", "a"])
    assert json.loads((tmp_path / HIDDEN_FILE).read_text()) == ["a", "b"]
    assert read_hidden(tmp_path) == {"a", "b"}
    assert list_runs(tmp_path) == [] and [p.name for p in tmp_path.iterdir()] == [HIDDEN_FILE]
    with pytest.raises(ValueError):
        write_hidden(tmp_path, ["../x"])
    assert read_hidden(tmp_path) == {"a", "b"}


def test_mixture_generator_is_seeded_and_judged_like_the_others(z8, digits):
    from vae_core.analysis.classifier import load_or_train

    run, mu, _ = z8["ae"]
    a, b = sample_mixture(mu, 200, seed=0), sample_mixture(mu, 200, seed=0)
    assert a.shape == (200, 8) and np.array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), sample_mixture(mu, 200, seed=1).numpy())
    judge = load_or_train(digits, root=None)
    tests = dataset_generation_tests(run.model, digits, judge, n=400, sources=AE_SOURCES)
    test, fitted = tests[MIXTURE], tests["fitted"]
    assert test.source == MIXTURE and test.n == 400 and test.n_classes == 10
    # The mixture is one more source: the same codes, gap radius and seed stream as the others.
    assert test.gap_radius == fitted.gap_radius
    assert np.array_equal(test.z, sample_codes(MIXTURE, mu, 400, seed=0).numpy())
    assert np.array_equal(test.z, sample_mixture(mu, 400, seed=SOURCE_SEED_OFFSET[MIXTURE]).numpy())
    text = mixture_caption(test, fitted, None)
    assert f"covers {test.classes_covered} of 10 classes" in text
    better = (test.classes_covered, test.confident_raw) > (fitted.classes_covered, fitted.confident_raw)
    assert ("That beats the single fitted Gaussian" in text) == better


def test_class_histogram_gives_five_series_five_colours():
    """Generate shows the AE's four sources and the VAE's prior: the fifth bar series took the
    first one's colour (the AE's N(0, I) and the VAE's N(0, I) looked alike)."""
    from vae_core.viz.image_figures import class_histogram

    counts = {f"s{i}": np.ones(10, int) for i in range(5)}
    fig = class_histogram(counts, {name: 0 for name in counts}, [str(c) for c in range(10)])
    assert len({t.marker.color for t in fig.data}) == 5


@pytest.mark.parametrize("codes", [np.zeros((0, 2)), np.ones((1, 2)), np.zeros((100, 2)),
                                   np.r_[np.zeros((50, 2)), np.ones((50, 2))]])
def test_mixture_of_degenerate_codes_still_samples(codes):
    z = sample_mixture(codes, 7, seed=0)
    assert z.shape == (7, 2) and bool(z.isfinite().all())
