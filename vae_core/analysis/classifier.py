"""A small image classifier that judges decoded samples, cached per data set in safetensors.

The scorecard asks "does a sample decoded from z ~ N(0, I) look like a real image of the data
set?". A judge answers: a one-hidden-layer MLP trained in a few seconds on the same data set's
training split, its test accuracy reported beside every number it backs. It is trained with
*outlier exposure* (Hendrycks et al. 2019): uniform noise, sparse random dots and flat grey
images are pushed towards the uniform class distribution, so a decoder that outputs garbage or a
constant image scores no confidence instead of a lucky, arbitrary one.

Cache: ``ROOT/.classifiers/<fingerprint>.safetensors`` plus ``<fingerprint>.json`` (accuracy,
shapes, version). The fingerprint hashes the data set's pixels and labels, so any change retrains;
dot-folders are skipped by ``list_runs``. Loading never unpickles, and a cache file that is
missing, corrupt or of another shape is replaced by a fresh training.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vae_core.store import validate
from vae_core.data import ImageDataset
from vae_core.models import init_weights
from vae_core.store.validate import RunError

CLASSIFIER_VERSION = 1
CACHE_DIR = ".classifiers"
HIDDEN = 256
STEPS = 1500  # Adam steps of 128 images (+ 32 outliers): about 1-3 s on a 2-core CPU
BATCH = 128
OUTLIERS = 32
OUTLIER_WEIGHT = 0.5  # weight of the cross-entropy to the uniform distribution (Hendrycks 2019)
MAX_META_BYTES = 1 << 20
MAX_HIDDEN = 4096  # the cache's own width is HIDDEN; anything far above it is not ours


class Classifier(nn.Module):
    """x (B, C, H, W) in [0, 1] -> class logits (B, n_classes)."""

    def __init__(self, input_shape: tuple[int, int, int], n_classes: int, hidden: int = HIDDEN):
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        self.n_classes = int(n_classes)
        c, h, w = self.input_shape
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU(),
                                 nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @torch.no_grad()
    def probs(self, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """Softmax class probabilities (N, n_classes)."""
        out = [F.softmax(self(x[i:i + batch_size]), dim=1) for i in range(0, len(x), batch_size)]
        return torch.cat(out) if out else x.new_zeros((0, self.n_classes))


@dataclass
class JudgedClassifier:
    """A trained classifier with its test accuracy and where it is cached."""

    model: Classifier
    accuracy: float
    fingerprint: str
    path: Path | None = None
    trained_now: bool = False


def n_classes_of(dataset: ImageDataset) -> int:
    return max(len(dataset.class_names), int(max(dataset.train_y.max(), dataset.test_y.max())) + 1)


def dataset_fingerprint(dataset: ImageDataset) -> str:
    """A short hash of the pixels (as bytes 0..255) and labels of both splits."""
    h = hashlib.sha256(f"v{CLASSIFIER_VERSION}:{tuple(dataset.image_shape)}".encode())
    for t in (dataset.train_x, dataset.test_x):
        h.update((t * 255).round().to(torch.uint8).numpy().tobytes())
    for t in (dataset.train_y, dataset.test_y):
        h.update(t.to(torch.int64).numpy().tobytes())
    return h.hexdigest()[:20]


def _outliers(n: int, shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """Uniform noise, sparse random dots and flat grey images, a third each."""
    u = torch.rand((n, *shape), generator=gen)
    kind = torch.arange(n) % 3
    level = torch.rand((n, 1, 1, 1), generator=gen)
    dots = (torch.rand((n, *shape), generator=gen) < 0.5 * level).float()
    flat = level.expand(n, *shape)
    return torch.where((kind == 0).view(-1, 1, 1, 1), u,
                       torch.where((kind == 1).view(-1, 1, 1, 1), dots, flat))


@torch.no_grad()
def accuracy(model: Classifier, x: torch.Tensor, y: torch.Tensor) -> float:
    if len(x) == 0:
        return float("nan")
    return float((model.probs(x).argmax(1) == y).float().mean())


def train_classifier(dataset: ImageDataset, seed: int = 0, steps: int = STEPS) -> tuple[Classifier, float]:
    """Train the judge on the training split; return it (eval mode) and its test accuracy."""
    gen = torch.Generator().manual_seed(seed)
    model = Classifier(dataset.image_shape, n_classes_of(dataset))
    init_weights(model, gen)  # seeded: global seeds are shared by all Streamlit sessions
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    x, y = dataset.train_x, dataset.train_y
    n = len(x)
    perm = torch.randperm(n, generator=gen)
    pos = 0
    model.train()
    for _ in range(steps):
        if pos + BATCH > n:
            perm, pos = torch.randperm(n, generator=gen), 0
        idx = perm[pos:pos + BATCH]
        pos += BATCH
        xo = _outliers(OUTLIERS, tuple(dataset.image_shape), gen)
        logits = model(torch.cat([x[idx], xo]))
        loss = F.cross_entropy(logits[:len(idx)], y[idx])
        # Outlier exposure: cross-entropy to the uniform distribution = -mean log-softmax.
        loss = loss - OUTLIER_WEIGHT * F.log_softmax(logits[len(idx):], dim=1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    return model, accuracy(model, dataset.test_x, dataset.test_y)


def _paths(root: str | os.PathLike[str], fingerprint: str) -> tuple[Path, Path]:
    folder = Path(root) / CACHE_DIR
    return folder / f"{fingerprint}.safetensors", folder / f"{fingerprint}.json"


def classifier_shapes(input_shape: tuple[int, int, int], n_classes: int, hidden: int) -> dict[str, tuple[int, ...]]:
    """Names and shapes of ``Classifier(...).state_dict()``, built on the meta device (no storage)."""
    return validate.module_shapes(lambda: Classifier(input_shape, n_classes, hidden))


def _load(weights: Path, meta_path: Path, dataset: ImageDataset, fingerprint: str) -> JudgedClassifier:
    """Load a cached classifier; raise ``RunError`` naming the file for anything unexpected.

    The metadata is validated and the weights' header checked against the expected shapes
    before any tensor is read or any model built: a cache claiming ``hidden: 8000000`` costs
    nothing."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    meta = validate.read_json(meta_path, MAX_META_BYTES, RunError)
    if not isinstance(meta, dict) or meta.get("version") != CLASSIFIER_VERSION \
            or meta.get("fingerprint") != fingerprint:
        raise RunError(f"{meta_path}: classifier cache is for another version or data set")
    try:
        hidden = validate.integer(meta.get("hidden", HIDDEN), "hidden", 1, MAX_HIDDEN)
        acc = validate.number(meta.get("accuracy"), "accuracy", 0.0, 1.0)
    except ValueError as e:
        raise RunError(f"{meta_path}: {e}") from e
    n_classes = n_classes_of(dataset)
    expected = classifier_shapes(tuple(dataset.image_shape), n_classes, hidden)
    validate.check_weights(weights, expected, RunError, 4 * sum(math.prod(s) for s in expected.values())
                           + validate.MAX_HEADER_BYTES + 8)
    try:
        state = load_file(str(weights))  # safetensors: no code runs on load
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise RunError(f"{weights}: not a valid safetensors file ({e})") from e
    if not all(bool(torch.isfinite(t).all()) for t in state.values()):
        raise RunError(f"{weights}: classifier weights are not finite")
    model = Classifier(dataset.image_shape, n_classes, hidden)
    model.load_state_dict(state, strict=True)
    return JudgedClassifier(model.eval(), acc, fingerprint, weights, False)


def load_or_train(dataset: ImageDataset, root: str | os.PathLike[str] | None = "checkpoints",
                  seed: int = 0) -> JudgedClassifier:
    """The cached judge for ``dataset`` under ``root``; trained (and cached) when missing or bad.

    ``root=None`` trains without caching (tests, read-only folders).
    """
    fingerprint = dataset_fingerprint(dataset)
    if root is not None:
        weights, meta_path = _paths(root, fingerprint)
        if weights.is_file() and meta_path.is_file():
            try:
                return _load(weights, meta_path, dataset, fingerprint)
            except RunError:  # corrupt, truncated, hostile or foreign cache: retrain below
                pass
    model, acc = train_classifier(dataset, seed=seed)
    judged = JudgedClassifier(model, acc, fingerprint, None, True)
    if root is not None:
        try:
            judged.path = _save(model, acc, dataset, fingerprint, root)
        except OSError:
            pass  # a read-only folder: the judge still works, it is just not cached
    return judged


def _save(model: Classifier, acc: float, dataset: ImageDataset, fingerprint: str,
          root: str | os.PathLike[str]) -> Path:
    """Write weights and metadata atomically (temp file + rename), weights first."""
    from safetensors.torch import save_file

    weights, meta_path = _paths(root, fingerprint)
    weights.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    tmp_w = weights.with_name(f".tmp-{tag}-{weights.name}")
    tmp_m = meta_path.with_name(f".tmp-{tag}-{meta_path.name}")
    try:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_w))
        tmp_m.write_text(json.dumps({"version": CLASSIFIER_VERSION, "fingerprint": fingerprint,
                                     "dataset": dataset.name, "accuracy": acc, "hidden": HIDDEN,
                                     "input_shape": list(dataset.image_shape),
                                     "n_classes": n_classes_of(dataset), "steps": STEPS}, indent=1),
                         encoding="utf-8")
        os.replace(tmp_w, weights)
        os.replace(tmp_m, meta_path)
    finally:
        for t in (tmp_w, tmp_m):
            if t.exists():
                t.unlink()
    return weights
