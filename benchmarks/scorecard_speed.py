"""Scorecard speed: the whole AE+VAE scorecard on the 10,000-image MNIST test split (t10k).

Trains a latent-2 MLP pair on the MNIST folder for a few epochs, trains (or loads) the judge
classifier, then times ``scorecard`` for both runs on all 10,000 t10k images (the loader's own
80/20 split is merged back so every image is scored) and on the loader's 2,000-image test split.
Classifier training is excluded from the timed part. Prints seconds and the ratio to the 5 s budget.

    .venv/bin/python benchmarks/scorecard_speed.py [--mnist /work/shared/data/mnist] [--epochs 3]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vae_core import ModelConfig, TrainConfig, load_dataset, run_to_end, train  # noqa: E402
from vae_core.analysis.classifier import load_or_train  # noqa: E402
from vae_core.analysis.posterior import DEFAULT_IWAE_K  # noqa: E402
from vae_core.analysis.scorecard import scorecard  # noqa: E402

BUDGET_S = 5.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mnist", default="/work/shared/data/mnist", help="folder of MNIST IDX files")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--iwae-k", type=int, default=DEFAULT_IWAE_K)
    args = ap.parse_args()
    if not Path(args.mnist).is_dir():
        print(f"skip: no MNIST folder at {args.mnist}")
        return 0
    ds = load_dataset(args.mnist)
    full = dataclasses.replace(ds, test_x=torch.cat([ds.train_x, ds.test_x]),
                               test_y=torch.cat([ds.train_y, ds.test_y]))
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(256, 128), input_shape=ds.image_shape)
    tcfg = TrainConfig(epochs=args.epochs, batch_size=128, lr=1e-3, seed=0)
    models = {}
    for kind in ("ae", "vae"):
        t = time.perf_counter()
        models[kind] = run_to_end(train(cfg.with_kind(kind), tcfg, ds))["model"]
        print(f"trained {kind} in {time.perf_counter() - t:.1f}s ({args.epochs} epochs)")
    with tempfile.TemporaryDirectory() as root:
        t = time.perf_counter()
        judge = load_or_train(full, root)
        print(f"judge classifier trained in {time.perf_counter() - t:.1f}s "
              f"(test accuracy {judge.accuracy:.3f}) - not timed below")
        for label, data in (("t10k, 10,000 images", full), ("test split, 2,000 images", ds)):
            scorecard(models["vae"], data, judge, iwae_k=2)  # warm-up (allocator, first calls)
            t = time.perf_counter()
            cards = {k: scorecard(m, data, judge, iwae_k=args.iwae_k) for k, m in models.items()}
            secs = time.perf_counter() - t
            print(f"scorecard pair on {label} (iwae_k={args.iwae_k}, {torch.get_num_threads()} "
                  f"threads): {secs:.2f}s  [AE {cards['ae']['seconds']:.2f}s, VAE "
                  f"{cards['vae']['seconds']:.2f}s]  ratio to the {BUDGET_S:.0f}s budget: "
                  f"{secs / BUDGET_S:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
