"""Frozen configuration dataclasses for models and training.

Configs are plain values passed whole (as nanoGPT's ``GPTConfig``): saved with ``asdict`` into a
run's JSON and rebuilt with ``ModelConfig.from_dict``. They are never pickled.
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from vae_core.store.validate import (MAX_CHANNELS, MAX_LATENT, MAX_LAYERS, MAX_SIDE, MAX_WIDTH,
                                     check_model_size, int_tuple, integer, number, text)


Kind = Literal["ae", "vae"]
Arch = Literal["mlp", "conv"]


def _from_dict(cls, data: dict[str, Any]):
    """Rebuild a config from JSON, refusing unknown keys so a wrong file fails loudly."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__} must be a JSON object, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown field(s) {sorted(unknown)}")
    return cls(**data)


@dataclass(frozen=True)
class ModelConfig:
    """What to build. AE and VAE share encoder and decoder; only the bottleneck differs.

    ``hidden`` is the MLP layer widths (input side first) or, for ``arch="conv"``, the channels
    of the stride-2 convolutions.
    """

    kind: Kind = "vae"
    latent_dim: int = 2
    arch: Arch = "mlp"
    hidden: tuple[int, ...] = (128, 64)
    input_shape: tuple[int, int, int] = (1, 8, 8)  # (C, H, W)

    def __post_init__(self) -> None:
        # JSON gives lists; keep the dataclass hashable and comparable. Strict types: a run.json
        # may say ``latent_dim: true`` or ``hidden: [Infinity]``.
        object.__setattr__(self, "hidden", int_tuple(self.hidden, "hidden", 1, MAX_WIDTH, 1, MAX_LAYERS))
        object.__setattr__(self, "input_shape", int_tuple(self.input_shape, "input_shape (C, H, W)",
                                                          1, MAX_SIDE, 3, 3))
        object.__setattr__(self, "latent_dim", integer(self.latent_dim, "latent_dim", 1, MAX_LATENT))
        if self.kind not in ("ae", "vae"):
            raise ValueError(f"kind must be 'ae' or 'vae', got {self.kind!r}")
        if self.arch not in ("mlp", "conv"):
            raise ValueError(f"arch must be 'mlp' or 'conv', got {self.arch!r}")
        if self.input_shape[0] > MAX_CHANNELS:
            raise ValueError(f"input_shape has {self.input_shape[0]} channels; at most {MAX_CHANNELS}")
        check_model_size(self)  # by arithmetic, before anything is allocated

    def with_kind(self, kind: Kind) -> "ModelConfig":
        """The same architecture with the other bottleneck: the fair partner of a pair."""
        return ModelConfig(**{**asdict(self), "kind": kind})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        return _from_dict(cls, data)


def default_hidden(arch: str, width: int = ModelConfig.hidden[0]) -> tuple[int, ...]:
    """Layer sizes from one width: MLP widths (width, width/2); conv channels (width/4, width/2),
    cheaper per layer. The default width gives ModelConfig's (128, 64) and conv (32, 64)."""
    return (width, width // 2) if arch == "mlp" else (max(4, width // 4), max(8, width // 2))


@dataclass(frozen=True)
class TrainConfig:
    """How to train. ``beta`` goes unchanged into ``loss_terms`` (beta-VAE weight of the KL).

    ``kl_warmup_epochs`` > 0 ramps the KL weight linearly from 0 to ``beta`` over that many
    epochs (Bowman et al. 2016), a common cure for posterior collapse; 0 (the default) is off.
    """

    # Defaults: tuned on the bundled digits with latent 2 (the one-click pair): with fewer epochs
    # or a smaller lr the 2-D VAE is still near posterior collapse. MNIST needs 5-10 epochs.
    epochs: int = 100
    batch_size: int = 64
    lr: float = 3e-3
    beta: float = 1.0
    seed: int = 0
    device: str = "auto"
    kl_warmup_epochs: int = 0

    def __post_init__(self) -> None:
        # Booleans are refused (``epochs=True`` is an int in Python); the seed feeds
        # ``torch.Generator.manual_seed`` (as seed * 3 + k), so it stays well inside 64 bits.
        integer(self.epochs, "epochs", 1, 10_000)
        integer(self.batch_size, "batch_size", 1, 65_536)
        integer(self.seed, "seed", 0, 2**32 - 1)
        integer(self.kl_warmup_epochs, "kl_warmup_epochs", 0, 10_000)
        text(self.device, "device", 32)
        object.__setattr__(self, "lr", number(self.lr, "lr", 0.0, 1e6))
        if self.lr <= 0:
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        object.__setattr__(self, "beta", number(self.beta, "beta", 0.0, 1e6))
        for name in ("epochs", "batch_size", "seed", "kl_warmup_epochs"):
            object.__setattr__(self, name, int(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        return _from_dict(cls, data)


def env_number(name: str, default: float, low: float, high: float, *,
               integer: bool = False) -> float:
    """A number from the environment variable ``name``: ``default`` when unset or blank, and
    also, with a warning in the server's log, when it is not a finite number in [low, high] (or
    not a whole number where ``integer``): a typo in a setting must not stop the server."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
        ok = math.isfinite(value) and low <= value <= high and (not integer or value.is_integer())
    except ValueError:
        ok = False
    if not ok:
        kind = "a whole number" if integer else "a number"
        logging.getLogger(__name__).warning("%s=%r is not %s from %g to %g; using %g", name, raw,
                                            kind, low, high, default)
        return default
    return int(value) if integer else value
