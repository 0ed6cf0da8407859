"""Draw a digit: preprocessing like the data sets, hostile drawings refused, both encoders read it.
(The page itself, in every language: tests/pages/test_draw.py.)"""
from __future__ import annotations

import base64

import numpy as np
import pytest
import torch

from helpers import png_url, stroke_image
from vae_core import load_run
from vae_core.analysis.classifier import load_or_train
from vae_core.analysis.drawing import (DrawingError, digits_8x8, image_from_data_url, mnist_28x28,
                                       model_input, read_drawing)


def stroke_drawing(points=((150, 50), (150, 230)), width: int = 22, offset=(0, 0)) -> np.ndarray:
    return image_from_data_url(png_url(stroke_image(points, width, offset)))


def test_data_url_round_trip_and_hostile_input():
    image = stroke_drawing()
    assert image.shape == (280, 280) and image.max() == 1.0 and image.min() == 0.0
    for bad in ("", "data:image/jpeg;base64,AAAA", "data:image/png;base64,!!!!",
                "data:image/png;base64," + base64.b64encode(b"not a png").decode(),
                "data:image/png;base64," + "A" * 5_000_000):
        with pytest.raises(DrawingError):
            image_from_data_url(bad)
    with pytest.raises(DrawingError, match="empty"):
        model_input(np.zeros((280, 280), np.float32), (1, 8, 8))


def test_digits_preprocessing_matches_the_data_scale():
    x = digits_8x8(stroke_drawing())
    assert x.shape == (8, 8)
    np.testing.assert_allclose(x * 16, np.round(x * 16))  # ink counts of 4x4 blocks, / 16 like sklearn
    assert x.max() >= 0.5 and x.sum() > 2
    # where it is drawn does not matter: the ink's box is what is scaled
    np.testing.assert_array_equal(x, digits_8x8(stroke_drawing(offset=(-90, 20))))


def test_mnist_preprocessing_centres_by_mass_in_a_20px_box():
    x = mnist_28x28(stroke_drawing(((40, 40), (240, 60), (60, 200)), offset=(0, 10)))
    rows, cols = np.flatnonzero(x.any(1)), np.flatnonzero(x.any(0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 20
    ys, xs = np.indices(x.shape)
    assert abs((ys * x).sum() / x.sum() - 13.5) < 1.0 and abs((xs * x).sum() / x.sum() - 13.5) < 1.0


def test_real_digits_survive_being_redrawn(pair_root, digits):
    """Test digits, enlarged to a 280 px canvas and preprocessed back, are still read correctly by
    the judge: the preprocessing gives the models images like the ones they were trained on."""
    judge = load_or_train(digits, pair_root)  # the judge cached beside the session's pair
    x = digits.test_x[:60, 0].numpy()
    redrawn = torch.stack([model_input(np.kron(img, np.ones((35, 35), np.float32)), (1, 8, 8))[0] for img in x])
    with torch.inference_mode():
        pred = judge.model.probs(redrawn).argmax(1)
        truth = judge.model.probs(digits.test_x[:60]).argmax(1)
    assert float((pred == digits.test_y[:60]).float().mean()) >= 0.75
    assert float((pred == truth).float().mean()) >= 0.75


def test_both_encoders_read_a_drawing(pair_root, digits):
    x = model_input(stroke_drawing(), (1, 8, 8))
    judge = load_or_train(digits, pair_root).model
    ae = read_drawing(load_run(pair_root / "demo-ae").model, x, 6, judge)
    vae = read_drawing(load_run(pair_root / "demo-vae").model, x, 6, judge)
    assert ae.logvar is None and ae.draws is None and ae.mu.shape == (2,)
    assert ae.reconstruction.shape == (8, 8) and 0 <= ae.recon_class[0] <= 9
    assert vae.logvar.shape == (2,) and vae.draws.shape == (6, 8, 8) and len(vae.draw_classes) == 6
    assert np.std(vae.draws_z, axis=0).min() > 0  # K different codes from q(z|x)


def test_sigma_is_no_uncertainty_measure_off_the_data(pair_root, digits):
    """Issue 16.5: the encoder's σ does not widen for inputs unlike the data: noise and inverted
    digits get a narrower q(z|x) than real test digits."""
    from vae_core.analysis.posterior import SIGMA_PROBES, sigma_probe

    probe = sigma_probe(load_run(pair_root / "demo-vae").model, digits.test_x)
    assert set(probe) == set(SIGMA_PROBES) and all(0 < v < 2 for v in probe.values())
    assert probe["inverted"] < probe["test"]
    with pytest.raises(ValueError):
        sigma_probe(load_run(pair_root / "demo-ae").model, digits.test_x)
