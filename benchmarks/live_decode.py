"""The in-browser decoder's cost per mouse move, and the bytes of weights a page sends.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/live_decode.py [--moves 500]

For the decoders VAE Lab trains (MLP 128-64 and conv 32-64, on digits 8x8 and MNIST 28x28,
latent 2) it runs the component's own JavaScript (``ui/live_decode.js``, ``makeDecoder``) in
Node, decodes ``--moves`` random codes after a warm-up, and prints the median and 95th
percentile time of ONE decode (a move on Latent space decodes with two: AE and VAE), next to the
goal of 16 ms for both (one frame at 60 Hz). It also prints the float32 bytes of each decoder
and the base64 text the page carries, and the largest error against ``model.decode``.
The browser test (tests/test_browser_live_decode.py) measures the same in Chromium, drawing
included, for the digits runs.
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
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from vae_core import ModelConfig, build_model  # noqa: E402
from vae_core.viz.export_weights import decoder_export, export_bytes  # noqa: E402

CASES = [("mlp", (128, 64), (1, 8, 8)), ("conv", (32, 64), (1, 8, 8)),
         ("mlp", (128, 64), (1, 28, 28)), ("conv", (32, 64), (1, 28, 28))]
TIMER = """
import {makeDecoder} from %(js)s; import {readFileSync} from 'fs';
const d = JSON.parse(readFileSync(%(spec)s));
const dec = makeDecoder(d.spec);
const out = d.z.map((z) => Array.from(dec(z)));
const t = [];
for (let i = 0; i < %(moves)d; i++) { const z = [Math.random() * 6 - 3, Math.random() * 6 - 3];
  const t0 = performance.now(); dec(z); t.push(performance.now() - t0); }
t.sort((a, b) => a - b);
console.log(JSON.stringify({median: t[t.length >> 1], p95: t[Math.floor(t.length * 0.95)], out}));
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=500)
    args = parser.parse_args()
    if shutil.which("node") is None:
        print("node is not installed")
        return 1
    torch.set_num_threads(1)
    print(f"{'decoder':<18} {'float32 B':>10} {'base64 B':>9} {'median ms':>10} {'p95 ms':>7} "
          f"{'max |err|':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for arch, hidden, shape in CASES:
            model = build_model(ModelConfig(kind="vae", latent_dim=2, arch=arch, hidden=hidden,
                                            input_shape=shape)).eval()
            export = decoder_export(model)
            z = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
            spec = Path(tmp) / "spec.json"
            spec.write_text(json.dumps({"spec": export, "z": z.tolist()}))
            script = TIMER % {"js": json.dumps((REPO / "ui" / "live_decode.js").as_uri()),
                              "spec": json.dumps(str(spec)), "moves": args.moves}
            res = json.loads(subprocess.run(["node", "--input-type=module", "-e", script],
                                            capture_output=True, text=True, check=True).stdout)
            with torch.inference_mode():
                ref = torch.sigmoid(model.decode(torch.from_numpy(z))).reshape(len(z), -1).numpy()
            err = float(np.abs(np.asarray(res["out"]) - ref).max())
            text = sum(len(layer[k]) for layer in export["layers"] for k in ("w", "b") if k in layer)
            name = f"{arch} {'x'.join(map(str, shape[1:]))}"
            print(f"{name:<18} {export_bytes(export):>10,} {text:>9,} {res['median']:>10.3f} "
                  f"{res['p95']:>7.3f} {err:>10.1e}")
    print("goal: two decodes (AE + VAE) within 16 ms a move")
    return 0


if __name__ == "__main__":
    sys.exit(main())
