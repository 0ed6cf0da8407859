"""VAE Lab core: data, AE/VAE models, the loss, a fast training loop and safe saved runs.

Plain PyTorch and numpy, no UI: usable from a notebook, a script, the CLI
(``python -m vae_core``) and the Streamlit dashboard alike.
"""
from .config import ModelConfig, TrainConfig
from .data import DatasetError, ImageDataset, load_dataset
from .losses import kl_per_dim, loss_terms
from .models import AutoEncoder, Decoder, Encoder, ModelOutput, VAE, build_model, reparameterize
from .runs import (InvalidRunName, Run, RunError, RunInfo, delete_run, list_runs, load_run,
                   save_run, unique_run_name, validate_run_name)
from .train import evaluate, resolve_device, run_to_end, train

__all__ = [
    "ModelConfig", "TrainConfig", "DatasetError", "ImageDataset", "load_dataset", "kl_per_dim",
    "loss_terms", "AutoEncoder", "Decoder", "Encoder", "ModelOutput", "VAE", "build_model",
    "reparameterize", "InvalidRunName", "Run", "RunError", "RunInfo", "delete_run", "list_runs",
    "load_run", "save_run", "unique_run_name", "validate_run_name", "evaluate", "resolve_device",
    "run_to_end", "train",
]
