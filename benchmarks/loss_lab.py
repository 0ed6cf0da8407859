"""The loss-convention lab's numbers: every wrong variant next to the correct VAE on digits.

    OMP_NUM_THREADS=1 python benchmarks/loss_lab.py [--epochs 60]
    OMP_NUM_THREADS=1 python benchmarks/loss_lab.py --ship     # writes checkpoints/loss-lab.safetensors

Prints one row per arm (test split, nats per image) and whether the diagnosis' symptom holds.
``--ship`` trains every arm at each of ``lab_results.SHIPPED_EPOCHS`` and saves the results the dashboard's
Loss-convention lab shows (it never trains in the web process); about 1.5 min on one core.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from vae_core import load_dataset  # noqa: E402
from vae_core.analysis.lab import LAB_TRAIN, VARIANTS, WRONG, diagnose, train_variant  # noqa: E402
from vae_core.analysis.lab_results import LAB_RESULTS_FILE, ship_lab_results  # noqa: E402

COLUMNS = ("elbo", "recon", "recon_as_trained", "recon_gap", "kl", "kl_as_trained", "active_units",
           "centring", "scale_error", "seconds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=LAB_TRAIN.epochs)
    parser.add_argument("--ship", action="store_true", help="write checkpoints/" + LAB_RESULTS_FILE)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_dataset("digits")
    if args.ship:
        path = Path(__file__).resolve().parent.parent / "checkpoints" / LAB_RESULTS_FILE
        ship_lab_results(data, str(path))
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
        return
    cfg = replace(LAB_TRAIN, epochs=args.epochs)
    correct = train_variant("correct", data, train_cfg=cfg)
    runs = [correct] + [train_variant(k, data, train_cfg=cfg) for k in WRONG]
    print(f"digits, latent 2, MLP 128-64, {args.epochs} epochs, seed 0\n")
    print(f"| variant | status | {' | '.join(COLUMNS)} | symptom holds |")
    print("|" + "---|" * (len(COLUMNS) + 3))
    for run in runs:
        cells = []
        for c in COLUMNS:
            val = run.numbers.get(c)
            cells.append("—" if val is None else f"{val:.3g}" if isinstance(val, float) else str(val))
        holds = "(reference)" if run is correct else ("yes" if diagnose(run, correct).holds else "NO")
        print(f"| {VARIANTS[run.variant].title} | {run.status} | {' | '.join(cells)} | {holds} |")
    print()
    for run in runs[1:]:
        d = diagnose(run, correct)
        print(f"- {VARIANTS[run.variant].title}: {d.symptom}. {d.text}")


if __name__ == "__main__":
    main()
