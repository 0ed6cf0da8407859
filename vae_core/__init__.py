"""VAE Lab core: data, AE/VAE models, the loss, a fast training loop and safe saved runs.

Plain PyTorch and numpy, no UI: usable from a notebook, a script, the CLI
(``python -m vae_core``) and the Streamlit dashboard alike.

The names below are imported on first use (PEP 562), so ``import vae_core.text`` or a light
submodule does not import torch: the dashboard's first page renders from stored files before
torch is loaded (issue 17). ``from vae_core import train`` works as ever.
"""
from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from vae_core.lazy import lazy_exports

_WHERE = {
    "vae_core.config": ("ModelConfig", "TrainConfig"),
    "vae_core.data": ("DatasetError", "ImageDataset", "load_dataset"),
    "vae_core.losses": ("kl_per_dim", "loss_terms"),
    "vae_core.models": ("AutoEncoder", "Decoder", "Encoder", "ModelOutput", "VAE", "build_model",
                        "reparameterize"),
    "vae_core.store.run_format": ("InvalidRunName", "Run", "RunInfo", "load_run",
                                  "validate_run_name"),
    "vae_core.store.runs": ("delete_run", "list_runs", "save_run", "unique_run_name"),
    "vae_core.store.validate": ("RunError",),
    "vae_core.train": ("evaluate", "resolve_device", "run_to_end", "train"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

__all__ = [
    "ModelConfig", "TrainConfig", "DatasetError", "ImageDataset", "load_dataset", "kl_per_dim",
    "loss_terms", "AutoEncoder", "Decoder", "Encoder", "ModelOutput", "VAE", "build_model",
    "reparameterize", "InvalidRunName", "Run", "RunError", "RunInfo", "delete_run", "list_runs",
    "load_run", "save_run", "unique_run_name", "validate_run_name", "evaluate", "resolve_device",
    "run_to_end", "train",
]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)


class _Package(ModuleType):
    """``vae_core.train`` is the function, as when this file imported it eagerly: importing the
    submodule ``vae_core.train`` later must not rebind the name to the module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if (name in _MODULE_OF and isinstance(value, ModuleType)
                and value.__name__ == f"{__name__}.{name}"):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


if TYPE_CHECKING:  # for type checkers and editors: the same names, eagerly
    from vae_core.config import ModelConfig, TrainConfig
    from vae_core.data import DatasetError, ImageDataset, load_dataset
    from vae_core.losses import kl_per_dim, loss_terms
    from vae_core.models import (AutoEncoder, Decoder, Encoder, ModelOutput, VAE, build_model,
                                 reparameterize)
    from vae_core.store.run_format import InvalidRunName, Run, RunInfo, load_run, validate_run_name
    from vae_core.store.runs import delete_run, list_runs, save_run, unique_run_name
    from vae_core.store.validate import RunError
    from vae_core.train import evaluate, resolve_device, run_to_end, train
