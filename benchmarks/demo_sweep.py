"""Regenerate the shipped β sweep of the demo, ``checkpoints/demo-digits-sweep-b*``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/demo_sweep.py [--root checkpoints]

It runs the CLI, ``python -m vae_core sweep`` with the demo pair's settings (digits, MLP 128-64,
latent 2, seed 0, the CLI's default epochs, batch and lr, as ``train --kind pair --name
demo-digits`` used) for β = 0, 0.1, 0.25, 0.5, 1, 2, 4, 8, into a temporary folder. Then it
copies each run into ``--root`` without its replay snapshots (1.2 MB a run; the β slider needs
only the final weights) and marks it ``"read_only": true`` like the demo pair, so no dashboard
session deletes it. Prints the size on disk.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NAME = "demo-digits-sweep"
BETAS = "0,0.1,0.25,0.5,1,2,4,8"
KEEP = ("model.safetensors", "run.json")  # a run without snapshots simply has no replay


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(REPO / "checkpoints"))
    args = parser.parse_args()
    root = Path(args.root)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "vae_core", "sweep", "--dataset", "digits", "--seed", "0",
               "--latent-dim", "2", "--arch", "mlp", "--hidden", "128", "64", "--betas", BETAS,
               "--name", NAME, "--root", tmp, "--quiet"]
        print(" ".join(cmd[1:]))
        if subprocess.run(cmd, cwd=REPO).returncode:
            return 1
        total = 0
        for run in sorted(Path(tmp).glob(f"{NAME}-b*")):
            target = root / run.name
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            for name in KEEP:
                shutil.copy2(run / name, target / name)
            meta = json.loads((target / "run.json").read_text())
            meta["read_only"] = True
            (target / "run.json").write_text(json.dumps(meta, separators=(",", ":")))
            total += sum(f.stat().st_size for f in target.iterdir())
    print(f"{NAME}: {total / 1e6:.2f} MB on disk in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
