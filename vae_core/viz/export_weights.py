"""A decoder's weights as a list of plain layer records, for a forward pass outside PyTorch.

The dashboard's in-browser decoder (``ui/live_decode.py``) runs these records in JavaScript:
``linear`` (y = W x + b, W row-major (out, in)), ``relu``, ``reshape`` (to (C, H, W)) and
``conv_transpose2d`` (weights (C_in, C_out, k, k), as ``nn.ConvTranspose2d`` stores them), then a
sigmoid of the final logits. The records are read off ``model.decoder.net`` module by module, so
the browser runs exactly the ops of ``models.Decoder``; a module it does not know raises instead
of being skipped. Arrays are little-endian float32, base64-encoded (JSON carries them as text).
"""
from __future__ import annotations

import base64
from typing import Any

import numpy as np
import torch
from torch import nn

from vae_core.models import LatentModel


def _b64(t: torch.Tensor) -> str:
    return base64.b64encode(t.detach().cpu().to(torch.float32).numpy().astype("<f4").tobytes()).decode()


def decoder_layers(model: LatentModel) -> list[dict[str, Any]]:
    """The decoder's modules in order, each as a JSON-ready record (see the module docstring)."""
    layers: list[dict[str, Any]] = []
    for m in model.decoder.net:
        if isinstance(m, nn.Linear):
            layers.append({"op": "linear", "in": m.in_features, "out": m.out_features,
                           "w": _b64(m.weight), "b": _b64(m.bias)})
        elif isinstance(m, nn.ReLU):
            layers.append({"op": "relu"})
        elif isinstance(m, nn.Unflatten):
            layers.append({"op": "reshape", "shape": [int(s) for s in m.unflattened_size]})
        elif isinstance(m, nn.ConvTranspose2d):
            if m.groups != 1 or tuple(m.dilation) != (1, 1):
                raise ValueError("only ungrouped, undilated transposed convolutions are exported")
            layers.append({"op": "conv_transpose2d", "cin": m.in_channels, "cout": m.out_channels,
                           "k": list(m.kernel_size), "stride": list(m.stride),
                           "padding": list(m.padding), "output_padding": list(m.output_padding),
                           "w": _b64(m.weight), "b": _b64(m.bias)})
        else:
            raise ValueError(f"the in-browser decoder has no {type(m).__name__} layer")
    return layers


def decoder_export(model: LatentModel) -> dict[str, Any]:
    """What the browser needs to decode a z (latent_dim,) into an image (C, H, W) in [0, 1]:
    the layer records and the shapes."""
    c, h, w = model.config.input_shape
    return {"latent_dim": model.latent_dim, "shape": [c, h, w], "layers": decoder_layers(model)}


def export_bytes(export: dict[str, Any]) -> int:
    """Raw float32 bytes of an export's weights (base64 text is 4/3 of this)."""
    return sum(len(base64.b64decode(layer[k])) for layer in export["layers"] for k in ("w", "b")
               if k in layer)


def reference_forward(export: dict[str, Any], z: np.ndarray) -> np.ndarray:
    """The records run in numpy, op by op as the JavaScript does (float64 sums of float32
    weights): the oracle the tests hold both the browser and ``model.decode`` to. z (D,) ->
    image (C, H, W) in [0, 1]."""
    x = np.asarray(z, np.float64).ravel()
    for layer in export["layers"]:
        op = layer["op"]
        if op == "relu":
            x = np.maximum(x, 0.0)
        elif op == "reshape":
            x = x.reshape(layer["shape"])
        elif op == "linear":
            w = np.frombuffer(base64.b64decode(layer["w"]), "<f4").reshape(layer["out"], layer["in"])
            x = w.astype(np.float64) @ x.ravel() + np.frombuffer(base64.b64decode(layer["b"]), "<f4")
        elif op == "conv_transpose2d":
            (kh, kw), (sh, sw) = layer["k"], layer["stride"]
            (ph, pw), (oph, opw) = layer["padding"], layer["output_padding"]
            w = np.frombuffer(base64.b64decode(layer["w"]), "<f4").reshape(
                layer["cin"], layer["cout"], kh, kw).astype(np.float64)
            cin, hin, win = x.shape
            hout, wout = (hin - 1) * sh - 2 * ph + kh + oph, (win - 1) * sw - 2 * pw + kw + opw
            out = np.zeros((layer["cout"], hout + 2 * ph + kh, wout + 2 * pw + kw))
            for ky in range(kh):  # scatter: input pixel (iy, ix) adds to (iy*s - p + ky, ...)
                for kx in range(kw):
                    contrib = np.einsum("chw,co->ohw", x, w[:, :, ky, kx])
                    out[:, ky:ky + (hin - 1) * sh + 1:sh, kx:kx + (win - 1) * sw + 1:sw] += contrib
            x = out[:, ph:ph + hout, pw:pw + wout] + np.frombuffer(
                base64.b64decode(layer["b"]), "<f4")[:, None, None]
        else:
            raise ValueError(f"unknown op {op!r}")
    return 1.0 / (1.0 + np.exp(-x.reshape(export["shape"])))
