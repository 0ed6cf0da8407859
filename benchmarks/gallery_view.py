"""Server CPU of a Class gallery view with 60 runs, against the per-view budget (≤ 50 ms median
for a warm view) and a one-line Streamlit app measured the same way in the same run.

The runs folder holds 60 runs trained in the last hour: 30 copies of one real AE+VAE pair trained
here first (digits, latent 2, 20 epochs), each copy under its own name and group, its VAE given
one of eight β values in run.json (copies: the view's cost does not depend on the weights' values;
the plotted numbers are the pair's). Views run through the frame with AppTest (one process, as
Streamlit runs a page), timed with ``time.process_time`` (CPU of the whole process), medians over
``--views`` reruns after the first:

- cold: the first view of a fresh server (loads 60 runs, decodes 10 prior samples each);
- warm: a rerun of the same session (what the 5-second refresh costs);
- new session: a second browser session's first view (the caches are per run file version,
  shared by every session);
- one run retrained: a view right after one run's files changed (only its row is decoded again).

    .venv/bin/python benchmarks/gallery_view.py [--runs 60] [--views 9]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

torch.set_num_threads(1)

BUDGET_MS = 50.0
BETAS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
GALLERY = "pages/11_Class_gallery.py"


def cpu_ms(fn) -> float:
    t = time.process_time()
    fn()
    return (time.process_time() - t) * 1000


def make_class(root: Path, n_runs: int) -> None:
    from vae_core import ModelConfig, TrainConfig, load_dataset, run_to_end, save_run, train

    data = load_dataset("digits")
    cfg = ModelConfig(kind="vae", latent_dim=2, input_shape=data.image_shape)
    tcfg = TrainConfig(epochs=20, seed=0)
    seed_root = root.parent / "seed"
    for kind in ("ae", "vae"):
        end = run_to_end(train(cfg.with_kind(kind), tcfg, data))
        save_run(end["model"], cfg.with_kind(kind), tcfg, end["history"], f"seed-{kind}", seed_root,
                 dataset="digits", status=end["status"], reason=end["reason"], group="seed")
    now = time.time()
    for i in range(n_runs // 2):
        for kind in ("ae", "vae"):
            dst = root / f"student{i:02d}-{kind}"
            shutil.copytree(seed_root / f"seed-{kind}", dst)
            (dst / "snapshots.safetensors").unlink(missing_ok=True)
            meta = json.loads((dst / "run.json").read_text())
            meta.update(name=dst.name, group=f"student{i:02d}", created=now - 60 * i)
            if kind == "vae":
                meta["train_config"]["beta"] = BETAS[i % len(BETAS)]
            (dst / "run.json").write_text(json.dumps(meta))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=60)
    p.add_argument("--views", type=int, default=9)
    args = p.parse_args()
    from streamlit.testing.v1 import AppTest

    tmp = Path(tempfile.mkdtemp(prefix="gallery-bench-"))
    root = tmp / "checkpoints"
    root.mkdir()
    try:
        make_class(root, args.runs)
        os.environ["VAE_LAB_CHECKPOINTS"] = str(root)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}; {args.runs} runs, medians of {args.views}")

        one_line = "import streamlit as st\nst.write('hello')"
        baseline = AppTest.from_string(one_line)
        baseline.run()
        base = statistics.median(cpu_ms(baseline.run) for _ in range(args.views))
        base_session = statistics.median(cpu_ms(lambda: AppTest.from_string(one_line).run())
                                         for _ in range(args.views))

        at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=300)
        at.switch_page(GALLERY)
        cold = cpu_ms(at.run)
        assert not at.exception, [e.value for e in at.exception]
        shown = len(at.dataframe[0].value)
        assert shown == args.runs, shown
        warm = [cpu_ms(at.run) for _ in range(args.views)]

        def new_session() -> None:
            s = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=300)
            s.switch_page(GALLERY)
            s.run()

        sessions = [cpu_ms(new_session) for _ in range(args.views)]

        def retrain_one() -> None:
            meta = root / "student00-vae" / "run.json"
            meta.write_text(meta.read_text())  # a new file version, as a save would leave
            at.run()

        retrained = [cpu_ms(retrain_one) for _ in range(args.views)]
        med = statistics.median(warm)
        print(f"  one-line app rerun (baseline)   {base:7.1f} ms")
        print(f"  gallery, cold (fresh caches)     {cold:7.1f} ms")
        print(f"  gallery, warm rerun              {med:7.1f} ms median, {max(warm):.1f} max "
              f"({med / BUDGET_MS:4.2f}x of the {BUDGET_MS:.0f} ms budget, {med / base:4.1f}x the "
              f"one-line app)")
        print(f"  gallery, a new session's view    {statistics.median(sessions):7.1f} ms median "
              f"(one-line app, new session: {base_session:.1f} ms)")
        print(f"  gallery, after one run retrained {statistics.median(retrained):7.1f} ms median")
        print("PASS" if med <= BUDGET_MS else "OVER BUDGET")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
