"""Encoder, Decoder (MLP or conv), AutoEncoder and VAE.

The AutoEncoder and the VAE are built from the same ``Encoder`` and ``Decoder`` classes with the
same widths and the same seeded initial weights; the one difference is the bottleneck: the AE's
head emits a point ``z``, the VAE's head emits ``(mu, logvar)`` of a diagonal Normal and samples
``z = mu + exp(0.5 * logvar) * eps`` (the reparameterization trick, Kingma & Welling 2014).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:  # only annotations: the config checks its size by building a model on "meta"
    from vae_core.config import ModelConfig


@dataclass
class ModelOutput:
    """What ``forward`` returns, by name. ``logvar`` is None for the AutoEncoder."""

    recon_logits: torch.Tensor  # (B, C, H, W), logits of Bernoulli pixel means
    z: torch.Tensor  # (B, latent_dim), the code fed to the decoder
    mu: torch.Tensor  # (B, latent_dim); equals z for the AE
    logvar: torch.Tensor | None  # (B, latent_dim) for the VAE


def conv_sizes(h: int, w: int, n_layers: int) -> list[tuple[int, int]]:
    """Spatial sizes after each stride-2 conv (kernel 3, padding 1): ceil halving."""
    sizes = [(h, w)]
    for _ in range(n_layers):
        h, w = (h + 1) // 2, (w + 1) // 2
        sizes.append((h, w))
    return sizes


class Encoder(nn.Module):
    """x (B, C, H, W) -> features (B, feature_dim)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c, h, w = cfg.input_shape
        if cfg.arch == "mlp":
            layers: list[nn.Module] = [nn.Flatten()]
            width = c * h * w
            for hidden in cfg.hidden:
                layers += [nn.Linear(width, hidden), nn.ReLU()]
                width = hidden
            self.feature_dim = width
        else:
            layers = []
            channels = c
            for out_channels in cfg.hidden:
                layers += [nn.Conv2d(channels, out_channels, 3, stride=2, padding=1), nn.ReLU()]
                channels = out_channels
            fh, fw = conv_sizes(h, w, len(cfg.hidden))[-1]
            layers.append(nn.Flatten())
            self.feature_dim = channels * fh * fw
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """z (B, latent_dim) -> logits (B, C, H, W); the mirror image of ``Encoder``."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c, h, w = cfg.input_shape
        if cfg.arch == "mlp":
            layers: list[nn.Module] = []
            width = cfg.latent_dim
            for hidden in reversed(cfg.hidden):
                layers += [nn.Linear(width, hidden), nn.ReLU()]
                width = hidden
            layers += [nn.Linear(width, c * h * w), nn.Unflatten(1, (c, h, w))]
        else:
            sizes = conv_sizes(h, w, len(cfg.hidden))
            channels = list(reversed(cfg.hidden))
            fh, fw = sizes[-1]
            layers = [nn.Linear(cfg.latent_dim, channels[0] * fh * fw), nn.ReLU(),
                      nn.Unflatten(1, (channels[0], fh, fw))]
            out_channels = channels[1:] + [c]
            for i, (cin, cout) in enumerate(zip(channels, out_channels)):
                th, tw = sizes[-2 - i]
                # output_padding picks the even or odd target size that ceil-halving came from.
                pad = (1 - th % 2, 1 - tw % 2)
                layers.append(nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=pad))
                if cout != c or i < len(channels) - 1:
                    layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + sigma * eps with sigma = exp(0.5 * logvar) (sigma, not sigma squared)."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


class LatentModel(nn.Module):
    """Shared body of both models: encoder -> bottleneck head -> decoder."""

    kind: str = ""

    def __init__(self, cfg: ModelConfig, head_outputs: int):
        super().__init__()
        self.config = cfg
        self.encoder = Encoder(cfg)
        self.head = nn.Linear(self.encoder.feature_dim, head_outputs)
        self.decoder = Decoder(cfg)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(mu, logvar) of q(z|x), each (B, latent_dim); the AE returns (z, None)."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Logits of the pixel means; ``torch.sigmoid`` of them is the image."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> ModelOutput:
        """The one difference between the two models is here: the VAE samples z from q(z|x)
        (``generator`` seeds the noise); the AE's code is its encoder's point."""
        mu, logvar = self.encode(x)
        z = mu if logvar is None else reparameterize(mu, logvar, generator)
        return ModelOutput(self.decode(z), z, mu, logvar)

    @torch.inference_mode()
    def encode_all(self, x: torch.Tensor, batch_size: int = 4096
                   ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``encode`` over a whole data set in batches, without autograd: (mu (N, D), logvar or
        None)."""
        parts = [self.encode(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        if not parts:
            empty = x.new_zeros((0, self.latent_dim))
            return empty, (empty if self.kind == "vae" else None)
        mu = torch.cat([m for m, _ in parts])
        return mu, (torch.cat([lv for _, lv in parts]) if parts[0][1] is not None else None)


class AutoEncoder(LatentModel):
    """Deterministic bottleneck: each input maps to one point z; nothing shapes the space."""

    kind = "ae"

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg, cfg.latent_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.head(self.encoder(x)), None


class VAE(LatentModel):
    """Stochastic bottleneck: each input maps to N(mu, diag(exp(logvar))) and z is sampled."""

    kind = "vae"

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg, 2 * cfg.latent_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.head(self.encoder(x)).chunk(2, dim=1)  # (B, latent_dim) each
        return mu, logvar


def init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default init of each Linear and conv layer (its ``reset_parameters``: weights
    kaiming-uniform with a = sqrt(5), i.e. U(+-1/sqrt(fan_in)), biases U(+-1/sqrt(fan_in))),
    drawn from ``generator``."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            bound = 1 / math.sqrt(nn.init._calculate_fan_in_and_fan_out(m.weight)[0])
            nn.init.uniform_(m.bias, -bound, bound, generator=generator)


def build_model(cfg: ModelConfig, seed: int = 0) -> LatentModel:
    """Build an AE or VAE with seeded weights.

    Encoder and decoder get the same initial weights for the same seed whatever the kind, and the
    VAE's mu-head starts equal to the AE's head, so a pair differs only in its bottleneck.
    """
    model: LatentModel = AutoEncoder(cfg) if cfg.kind == "ae" else VAE(cfg)
    # Explicit generators, not torch.manual_seed: a server's sessions share the global RNG.
    init_weights(model.encoder, torch.Generator().manual_seed(seed * 3 + 1))
    init_weights(model.decoder, torch.Generator().manual_seed(seed * 3 + 2))
    init_weights(model.head, torch.Generator().manual_seed(seed * 3 + 3))
    if cfg.kind == "vae":
        # The mu-half of the VAE head gets exactly the AE head's initial weights.
        ae_head = nn.Linear(model.encoder.feature_dim, cfg.latent_dim)
        init_weights(ae_head, torch.Generator().manual_seed(seed * 3 + 3))
        with torch.no_grad():
            model.head.weight[: cfg.latent_dim].copy_(ae_head.weight)
            model.head.bias[: cfg.latent_dim].copy_(ae_head.bias)
    return model
