"""A hand drawing, preprocessed the way the data set was, and what both encoders make of it.

``model_input`` turns a drawn image (white ink on black, any size) into the model's input:

- 8×8 (scikit-learn digits, from the UCI "optdigits" set): the ink's bounding box is scaled into a
  32×32 bitmap, binarised, and each 4×4 block counts its ink pixels (0..16); the data set divides
  by 16, so the values are the fraction of ink per block, like the real digits.
- 28×28 (MNIST, Fashion-MNIST): as LeCun et al. describe MNIST, the ink's bounding box is scaled
  to fit a 20×20 box (keeping its aspect ratio, anti-aliased), and placed in the 28×28 field so
  that its centre of mass is the centre.
- any other size: the ink's bounding box, padded square, resized to the input size.

``read_drawing`` then encodes it with a model: the code (a point for the AE, q(z|x) for the VAE),
the reconstruction, K draws from q(z|x) decoded, and the judge classifier's reading of each.
"""
from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass

import numpy as np
import torch

from vae_core.analysis.latent_tools import decode_images
from vae_core.models import LatentModel, reparameterize
from vae_core.text import N_

MAX_DATA_URL_CHARS = 1_000_000  # a 280x280 canvas PNG is tens of KB; refuse anything absurd
MAX_SIDE = 1024
MAX_PIXELS = 1024 * 1024  # checked from the PNG header, before anything is decoded
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
INK = 0.1  # a pixel at least this bright counts as ink


class DrawingError(ValueError):
    """A drawing that cannot be read (not a PNG, too large) or holds no ink. ``message`` is a
    sentence for people, marked for the catalogs, with ``{placeholders}`` filled from ``values``
    (a UI translates it: ``_(e.message, **e.values)``); ``str(e)`` is it in English."""

    def __init__(self, message: str, **values: object) -> None:
        self.message, self.values = message, values
        super().__init__(message.format(**values))


def image_from_data_url(url: str) -> np.ndarray:
    """A ``data:image/png;base64,…`` URL (what a browser canvas gives) as grey (H, W) in [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    if not isinstance(url, str) or not url.startswith("data:image/png;base64,"):
        raise DrawingError(N_("The drawing must be a PNG data URL."))
    if len(url) > MAX_DATA_URL_CHARS:
        raise DrawingError(N_("The drawing is too large."))
    try:
        raw = base64.b64decode(url.split(",", 1)[1], validate=True)
        if not raw.startswith(PNG_SIGNATURE):  # the URL's word is not enough: look at the bytes
            raise DrawingError(N_("The drawing must be a PNG image."))
        # formats=["PNG"]: Pillow tries no other decoder (EPS would call Ghostscript).
        with Image.open(io.BytesIO(raw), formats=["PNG"]) as im:
            if im.width > MAX_SIDE or im.height > MAX_SIDE or im.width * im.height > MAX_PIXELS:
                raise DrawingError(N_("The drawing is larger than {side}×{side} pixels."), side=MAX_SIDE)
            if im.mode in ("RGBA", "LA"):  # transparent background = no ink
                bg = Image.new("RGBA", im.size, (0, 0, 0, 255))
                im = Image.alpha_composite(bg, im.convert("RGBA"))
            return np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError) as e:
        if isinstance(e, DrawingError):
            raise
        raise DrawingError(N_("The drawing is not a readable PNG ({detail})."),
                           detail=type(e).__name__) from e


def _ink_box(image: np.ndarray) -> np.ndarray:
    """The smallest crop holding all ink; ``DrawingError`` if there is none."""
    rows = np.flatnonzero((image >= INK).any(axis=1))
    cols = np.flatnonzero((image >= INK).any(axis=0))
    if not len(rows):
        raise DrawingError(N_("The canvas is empty: draw a digit first."))
    return image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _resize(image: np.ndarray, h: int, w: int) -> np.ndarray:
    from PIL import Image

    im = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8))
    return np.asarray(im.resize((w, h), Image.Resampling.LANCZOS), np.float32) / 255.0


def _pad_square(image: np.ndarray) -> np.ndarray:
    h, w = image.shape
    side = max(h, w)
    out = np.zeros((side, side), np.float32)
    out[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = image
    return out


def digits_8x8(image: np.ndarray) -> np.ndarray:
    """Like scikit-learn's digits: 32×32 binary bitmap of the ink's box, ink counted per 4×4 block / 16."""
    bitmap = _resize(_pad_square(_ink_box(image)), 32, 32) >= 0.5
    return bitmap.reshape(8, 4, 8, 4).sum(axis=(1, 3)).astype(np.float32) / 16.0


def mnist_28x28(image: np.ndarray) -> np.ndarray:
    """Like MNIST: the ink's box scaled into 20×20 (aspect kept), centred by centre of mass in 28×28."""
    box = _ink_box(image)
    h, w = box.shape
    scale = 20.0 / max(h, w)
    small = np.clip(_resize(box, max(1, round(h * scale)), max(1, round(w * scale))), 0, 1)
    sh, sw = small.shape
    ys, xs = np.indices(small.shape)
    mass = small.sum()
    cy, cx = (ys * small).sum() / mass, (xs * small).sum() / mass
    top, left = int(round(14 - cy - 0.5)), int(round(14 - cx - 0.5))
    top, left = min(max(top, 0), 28 - sh), min(max(left, 0), 28 - sw)  # keep the ink inside
    out = np.zeros((28, 28), np.float32)
    out[top:top + sh, left:left + sw] = small
    return out


def model_input(image: np.ndarray, input_shape: tuple[int, int, int]) -> torch.Tensor:
    """The drawing as a batch of one (1, C, H, W), preprocessed like the data set of that size."""
    c, h, w = input_shape
    image = np.asarray(image, np.float32)
    if image.ndim != 2:
        raise DrawingError(N_("The drawing must be one grey image."))
    if (h, w) == (8, 8):
        x = digits_8x8(image)
    elif (h, w) == (28, 28):
        x = mnist_28x28(image)
    else:
        x = _resize(_pad_square(_ink_box(image)), h, w)
    return torch.from_numpy(np.ascontiguousarray(x)).reshape(1, 1, h, w).expand(1, c, h, w).contiguous()


@dataclass(frozen=True)
class Reading:
    """What one model makes of the drawing ``x`` (1, C, H, W)."""

    mu: np.ndarray  # (D,): the AE's point, the VAE's posterior mean
    logvar: np.ndarray | None  # (D,) for the VAE
    reconstruction: np.ndarray  # (H, W): decoded from mu
    draws_z: np.ndarray | None  # (K, D) from q(z|x) (VAE only)
    draws: np.ndarray | None  # (K, H, W) decoded
    recon_class: tuple[int, float] | None  # the judge's (class, probability) of the reconstruction
    draw_classes: list[tuple[int, float]] | None  # the same for each draw


def read_drawing(model: LatentModel, x: torch.Tensor, k: int = 8, judge: torch.nn.Module | None = None,
                 seed: int = 0) -> Reading:
    """Encode ``x`` with ``model``; for a VAE also decode ``k`` draws z ~ q(z|x). With a judge
    classifier (``classifier.load_or_train(...).model``), each image gets its reading."""
    with torch.inference_mode():
        mu, logvar = model.encode(x[:1])
        draws_z = None
        if logvar is not None:
            g = torch.Generator().manual_seed(int(seed))
            draws_z = reparameterize(mu.expand(k, -1), logvar.expand(k, -1), g).numpy()
    recon = decode_images(model, mu.numpy())
    draws = decode_images(model, draws_z) if draws_z is not None else None

    def judged(images: np.ndarray | None) -> list[tuple[int, float]] | None:
        if judge is None or images is None:
            return None
        c, h, w = model.config.input_shape
        with torch.inference_mode():
            p = judge.probs(torch.as_tensor(images).reshape(-1, c, h, w).float())
        best = p.max(dim=1)
        return [(int(i), float(v)) for i, v in zip(best.indices, best.values)]

    recon_class = judged(recon)
    return Reading(mu[0].numpy(), None if logvar is None else logvar[0].numpy(), recon[0], draws_z, draws,
                   recon_class[0] if recon_class else None, judged(draws))
