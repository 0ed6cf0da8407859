"""A run's test-split codes stored beside its weights, so a page draws its latent map without torch.

``test_codes.safetensors`` in a run folder holds ``mu`` (N, D), for a VAE ``logvar`` (N, D), and
``labels`` (N,), exactly what ``latent_tools.encode_dataset`` gives for the run's test split, with
the data set's class names and the SHA-256 of ``model.safetensors`` in its metadata. It is read
with numpy (the dashboard's cold Overview imports no torch) and used only while it belongs to the
weights beside it: a retrained or edited run, a stale or hostile file, simply has none (the page
encodes the test set as before). The shipped demo runs carry one; write or refresh them with
``python -m vae_core.store.stored_codes checkpoints/RUN ...``.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vae_core.store.runs import WEIGHTS_FILE

CODES_FILE = "test_codes.safetensors"
MAX_CODES_BYTES = 64 * 1024 * 1024  # a 10,000-image test split at latent 64: 5 MB
MAX_CLASSES = 1000


@dataclass(frozen=True)
class StoredCodes:
    """What ``encode_dataset`` gave for a run's test split, and the split's labels."""

    mu: np.ndarray  # (N, D) float32: the AE's z, the VAE's posterior means
    logvar: np.ndarray | None  # (N, D) float32 for a VAE
    labels: np.ndarray  # (N,) int64
    class_names: tuple[str, ...]


def weights_digest(run_path: str | os.PathLike[str]) -> str:
    """SHA-256 of the run's weights file (hex): what stored codes are bound to."""
    digest = hashlib.sha256()
    with open(Path(run_path) / WEIGHTS_FILE, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_codes(run_path: str | os.PathLike[str], codes: StoredCodes) -> Path:
    """Store ``codes`` for the weights now in ``run_path`` (atomically: a temporary file renamed)."""
    from safetensors.numpy import save_file

    path = Path(run_path)
    tensors = {"mu": np.ascontiguousarray(codes.mu, np.float32),
               "labels": np.ascontiguousarray(codes.labels, np.int64)}
    if codes.logvar is not None:
        tensors["logvar"] = np.ascontiguousarray(codes.logvar, np.float32)
    meta = {"weights_sha256": weights_digest(path), "class_names": json.dumps(list(codes.class_names))}
    tmp = path / f".{CODES_FILE}.tmp"
    save_file(tensors, str(tmp), metadata=meta)
    os.chmod(tmp, 0o644)  # readable like the run's other files (the writer creates it 0600)
    os.replace(tmp, path / CODES_FILE)
    return path / CODES_FILE


def read_codes(run_path: str | os.PathLike[str], kind: str, latent_dim: int) -> StoredCodes | None:
    """The stored codes of a run whose model is ``kind`` ("ae"/"vae") with ``latent_dim``, or None
    when there are none usable: missing, not a regular file of at most ``MAX_CODES_BYTES``, not
    safetensors, other names, dtypes or shapes, non-finite values, or written for other weights.
    Never raises for a bad file: the caller computes the codes instead."""
    from safetensors import SafetensorError, safe_open

    path = Path(run_path) / CODES_FILE
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_CODES_BYTES:
            return None
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            names = set(f.keys())
            if names != ({"mu", "labels", "logvar"} if kind == "vae" else {"mu", "labels"}):
                return None
            arrays = {name: f.get_tensor(name) for name in names}
        if meta.get("weights_sha256") != weights_digest(run_path):
            return None
        class_names = json.loads(meta.get("class_names", "null"))
    except (OSError, SafetensorError, ValueError, TypeError):
        return None
    mu, logvar, labels = arrays["mu"], arrays.get("logvar"), arrays["labels"]
    n = len(labels)
    shapes_ok = (mu.dtype == np.float32 and mu.shape == (n, latent_dim) and labels.ndim == 1
                 and labels.dtype == np.int64
                 and (logvar is None or (logvar.dtype == np.float32 and logvar.shape == mu.shape)))
    names_ok = (isinstance(class_names, list) and 0 < len(class_names) <= MAX_CLASSES
                and all(isinstance(c, str) and len(c) <= 100 for c in class_names))
    if not (shapes_ok and names_ok and np.isfinite(mu).all()
            and (logvar is None or np.isfinite(logvar).all())
            and (n == 0 or (labels.min() >= 0 and labels.max() < len(class_names)))):
        return None
    return StoredCodes(mu, logvar, labels, tuple(class_names))


def encode_and_store(run_path: str | os.PathLike[str], data_root: str = "data") -> Path:
    """Encode the run's test split (torch: ``encode_dataset``) and store it beside its weights."""
    from vae_core.analysis.latent_tools import encode_dataset
    from vae_core.data import load_dataset
    from vae_core.store.runs import load_run

    run = load_run(run_path)
    data = load_dataset(run.dataset, root=data_root)
    mu, logvar = encode_dataset(run.model, data.test_x)
    return write_codes(run_path, StoredCodes(mu, logvar, data.test_y.numpy(), tuple(data.class_names)))


if __name__ == "__main__":  # python -m vae_core.store.stored_codes checkpoints/RUN ...
    for folder in sys.argv[1:]:
        print(encode_and_store(folder))
