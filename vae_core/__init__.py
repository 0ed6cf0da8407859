"""VAE Lab core: data, AE/VAE models, the loss, a fast training loop and safe saved runs.

Plain PyTorch and numpy, no UI: usable from a notebook, a script, the CLI
(``python -m vae_core``) and the Streamlit dashboard alike.
"""
from vae_core.config import ModelConfig, TrainConfig
from vae_core.data import DatasetError, ImageDataset, load_dataset
from vae_core.losses import kl_per_dim, loss_terms
from vae_core.models import (AutoEncoder, Decoder, Encoder, ModelOutput, VAE, build_model,
                             reparameterize)
from vae_core.store.run_format import InvalidRunName, Run, RunInfo, load_run, validate_run_name
from vae_core.store.runs import delete_run, list_runs, save_run, unique_run_name
from vae_core.store.validate import RunError
from vae_core.train import evaluate, resolve_device, run_to_end, train

__all__ = [
    "ModelConfig", "TrainConfig", "DatasetError", "ImageDataset", "load_dataset", "kl_per_dim",
    "loss_terms", "AutoEncoder", "Decoder", "Encoder", "ModelOutput", "VAE", "build_model",
    "reparameterize", "InvalidRunName", "Run", "RunError", "RunInfo", "delete_run", "list_runs",
    "load_run", "save_run", "unique_run_name", "validate_run_name", "evaluate", "resolve_device",
    "run_to_end", "train",
]
