"""Frozen configuration dataclasses for models and training.

Configs are plain values passed whole (as nanoGPT's ``GPTConfig``): saved with ``asdict`` into a
run's JSON and rebuilt with ``ModelConfig.from_dict``. They are never pickled.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

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
        # JSON gives lists; keep the dataclass hashable and comparable.
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        if self.kind not in ("ae", "vae"):
            raise ValueError(f"kind must be 'ae' or 'vae', got {self.kind!r}")
        if self.arch not in ("mlp", "conv"):
            raise ValueError(f"arch must be 'mlp' or 'conv', got {self.arch!r}")
        if not isinstance(self.latent_dim, int) or not 1 <= self.latent_dim <= 512:
            raise ValueError(f"latent_dim must be an integer in 1..512, got {self.latent_dim!r}")
        if not self.hidden or any(h < 1 or h > 8192 for h in self.hidden):
            raise ValueError(f"hidden sizes must be 1..8192 and at least one, got {self.hidden}")
        if len(self.input_shape) != 3 or any(s < 1 for s in self.input_shape):
            raise ValueError(f"input_shape must be (C, H, W), got {self.input_shape}")

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
        if not isinstance(self.epochs, int) or not 1 <= self.epochs <= 10_000:
            raise ValueError(f"epochs must be an integer in 1..10000, got {self.epochs!r}")
        if not isinstance(self.batch_size, int) or not 1 <= self.batch_size <= 65_536:
            raise ValueError(f"batch_size must be an integer in 1..65536, got {self.batch_size!r}")
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr < float("inf")):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if not (isinstance(self.beta, (int, float)) and 0 <= self.beta < float("inf")):
            raise ValueError(f"beta must be a number >= 0, got {self.beta!r}")
        if not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if not isinstance(self.kl_warmup_epochs, int) or self.kl_warmup_epochs < 0:
            raise ValueError(f"kl_warmup_epochs must be an integer >= 0, got {self.kl_warmup_epochs!r}")
        object.__setattr__(self, "lr", float(self.lr))
        object.__setattr__(self, "beta", float(self.beta))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        return _from_dict(cls, data)
