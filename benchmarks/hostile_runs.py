"""Hostile runs: ``list`` time and peak memory over a root of 50 hostile runs plus 2 good ones,
every page rendered under Streamlit's AppTest with that root, and kill -9 trials of overwrite.

    OMP_NUM_THREADS=1 python benchmarks/hostile_runs.py [--kill-trials 200] [--no-pages]

Prints the ``python -m vae_core list`` wall time and the peak RSS of that process (goal: under
2 s and under 500 MB), the in-process ``list_runs`` time (cold, then cached), how each page
rendered (an uncaught exception fails the script), and the kill -9 figures (trials, runs lost).
``build_hostile_root`` and ``kill9_overwrite_trials`` are also used by tests/test_hostile.py.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from vae_core import (ModelConfig, TrainConfig, build_model, list_runs, load_dataset,  # noqa: E402
                      load_run, run_to_end, save_run, train)

TINY = ModelConfig(kind="vae", latent_dim=2, hidden=(16,), input_shape=(1, 8, 8))
TINY_TRAIN = TrainConfig(epochs=1)
TINY_HISTORY = [{"type": "epoch", "step": 1, "epoch": 1, "loss": 30.0, "recon": 28.0, "kl": 2.0,
                 "test_loss": 31.0, "test_recon": 29.0, "test_kl": 2.0}]


def _edit_meta(folder: Path, edit) -> None:
    meta = json.loads((folder / "run.json").read_text())
    edit(meta)
    (folder / "run.json").write_text(json.dumps(meta))


def _set(path: list, value):
    def edit(meta):
        d = meta
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
    return lambda folder: _edit_meta(folder, edit)


def _raw(old: str, new: str):
    """Replace text in the raw JSON (for values json.dumps would not write, like Infinity)."""
    def apply(folder: Path) -> None:
        p = folder / "run.json"
        text = p.read_text()
        assert old in text, old
        p.write_text(text.replace(old, new, 1))
    return apply


def _weights_header(folder: Path, header: dict, data: bytes = b"") -> None:
    raw = json.dumps(header).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + data)


def _nan_weights(value: float):
    def apply(folder: Path) -> None:
        from safetensors.torch import load_file, save_file

        state = load_file(str(folder / "model.safetensors"))
        next(iter(state.values())).view(-1)[0] = value
        save_file(state, str(folder / "model.safetensors"))
    return apply


def _scale_weights(factor: float):
    def apply(folder: Path) -> None:
        from safetensors.torch import load_file, save_file

        state = load_file(str(folder / "model.safetensors"))
        save_file({k: v * factor for k, v in state.items()}, str(folder / "model.safetensors"))
    return apply


def _replace_with_fifo(file: str):
    def apply(folder: Path) -> None:
        (folder / file).unlink()
        os.mkfifo(folder / file)
    return apply


def _replace_with_link(file: str, target: str):
    def apply(folder: Path) -> None:
        (folder / file).unlink()
        (folder / file).symlink_to(target)
    return apply


def hostile_cases() -> dict[str, object]:
    """Name -> how to spoil a copy of a good run folder (a callable on the folder)."""
    deep = "[" * 100_000 + "]" * 100_000
    cases: dict[str, object] = {
        "created-text": _set(["created"], "yesterday"),
        "created-list": _set(["created"], [1, 2]),
        "final-text": _set(["final", "recon"], "abc"),
        "final-list": _set(["final"], [1, 2]),
        "final-nested": _set(["final", "kl"], {"a": [1]}),
        "deep-nesting": _raw('"history":[', f'"history":[{deep},'),
        "hidden-infinity": _raw('"hidden":[', '"hidden":[Infinity,'),
        "input-infinity": _raw('"input_shape":[1,', '"input_shape":[Infinity,'),
        "latent-true": _set(["model_config", "latent_dim"], True),
        "latent-float": _set(["model_config", "latent_dim"], 2.5),
        "hidden-8192x4": _set(["model_config", "hidden"], [8192] * 4),
        "input-4096": _set(["model_config", "input_shape"], [1, 4096, 4096]),
        "hidden-negative": _set(["model_config", "hidden"], [-5]),
        "hidden-empty": _set(["model_config", "hidden"], []),
        "kind-gan": _set(["model_config", "kind"], "gan"),
        "arch-transformer": _set(["model_config", "arch"], "transformer"),
        "config-extra-key": _set(["model_config", "exec"], "rm -rf /"),
        "config-missing": lambda f: _edit_meta(f, lambda m: m.pop("model_config")),
        "epochs-true": _set(["train_config", "epochs"], True),
        "seed-2-63": _set(["train_config", "seed"], 2**63),
        "lr-negative": _set(["train_config", "lr"], -1),
        "beta-nan": _raw('"beta":1.0', '"beta":NaN'),
        "format-text": _set(["format_version"], "1"),
        "format-true": _set(["format_version"], True),
        "status-unknown": _set(["status"], "pwned"),
        "pair-list": _set(["pair"], [1]),
        "reason-lone-surrogate": _set(["reason"], "\ud800"),  # JSON "\ud800": not printable
        "history-text": _set(["history"], "x"),
        "history-nested": _set(["history"], [[[[1]]]]),
        "dataset-list": _set(["dataset"], ["digits"]),
        "dataset-etc": _set(["dataset"], "idx:/etc"),  # a valid run whose data pages refuse
        "dataset-dev-zero": _set(["dataset"], "/dev"),
        "run-json-not-utf8": lambda f: (f / "run.json").write_bytes(b'{"a": "\xff\xfe"}'),
        "run-json-truncated": lambda f: (f / "run.json").write_text((f / "run.json").read_text()[:300]),
        "run-json-empty": lambda f: (f / "run.json").write_text(""),
        "run-json-array": lambda f: (f / "run.json").write_text("[1, 2, 3]"),
        "run-json-20mb": lambda f: (f / "run.json").write_text(" " * (20 << 20) + "{}"),
        "run-json-fifo": _replace_with_fifo("run.json"),
        "run-json-dev-zero": _replace_with_link("run.json", "/dev/zero"),
        "run-json-missing": lambda f: (f / "run.json").unlink(),
        "weights-nan-finished": _nan_weights(float("nan")),
        "weights-inf-finished": _nan_weights(float("inf")),
        "weights-overflow": _scale_weights(1e30),  # finite, but every code overflows
        "weights-truncated": lambda f: (f / "model.safetensors").write_bytes(
            (f / "model.safetensors").read_bytes()[:500]),
        "weights-pickle": lambda f: (f / "model.safetensors").write_bytes(pickle.dumps({"w": [1.0]})),
        "weights-huge-claim": lambda f: _weights_header(f, {"x": {"dtype": "F32", "shape": [2**20, 2**20],
                                                                   "data_offsets": [0, 2**42]}}),
        "weights-header-length-lie": lambda f: (f / "model.safetensors").write_bytes(
            struct.pack("<Q", 2**62) + b"{}"),
        "weights-fifo": _replace_with_fifo("model.safetensors"),
        "weights-dev-zero": _replace_with_link("model.safetensors", "/dev/zero"),
        "weights-missing": lambda f: (f / "model.safetensors").unlink(),
    }
    return cases


def _good_pair(root: Path) -> None:
    data = load_dataset("digits")
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(64, 32), input_shape=data.image_shape)
    tcfg = TrainConfig(epochs=5, batch_size=64, lr=3e-3, seed=0)
    for kind in ("ae", "vae"):
        end = run_to_end(train(cfg.with_kind(kind), tcfg, data))
        save_run(end["model"], cfg.with_kind(kind), tcfg, end["history"], f"good-{kind}", root,
                 dataset="digits", status=end["status"], reason=end["reason"], group="good")


def build_hostile_root(root: Path, outside: Path, good_pair: tuple[Path, Path] | None = None) -> int:
    """Fill ``root`` with a real good AE+VAE pair (trained now, or copied from ``good_pair``)
    and hostile entries; return how many hostile entries were made. ``outside`` is a folder
    outside ``root`` that links point to."""
    root.mkdir(parents=True, exist_ok=True)
    if good_pair is None:
        _good_pair(root)
    else:
        for src, name in zip(good_pair, ("good-ae", "good-vae")):
            shutil.copytree(src, root / name)
    template = root / "good-vae"
    n = 0
    for name, spoil in hostile_cases().items():
        folder = root / f"bad-{name}"
        shutil.copytree(template, folder)
        spoil(folder)
        n += 1
    # Folders the naming rules refuse, links out of the root, and leftovers of crashed saves.
    for odd in (b"bad-not-utf8-\xff", b"demo-digits-vae\n", b"has space"):
        shutil.copytree(template, root / os.fsdecode(odd))  # surrogateescape: the raw bytes
        n += 1
    outside.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template, outside / "elsewhere", dirs_exist_ok=True)
    (root / "link-outside-run").symlink_to(outside / "elsewhere")
    (root / "link-etc").symlink_to("/etc")
    n += 2
    shutil.copytree(template, root / ".tmp-good-vae-0badc0de")
    shutil.copytree(template, root / ".trash-good-vae-0badc0de")  # its run exists: removed
    return n


def kill9_overwrite_trials(root: Path, trials: int, seed: int = 0,
                           max_delay: float = 0.06) -> dict[str, int]:
    """Overwrite one run over and over in a forked child, kill -9 it at a random moment, then
    list the root (which recovers leftovers). Returns counts: ``trials``, ``lost`` (after the
    listing ``victim`` is missing or does not load), ``with_leftovers`` (the kill left a temp or
    trash folder) and ``between_renames`` (the kill came after the old run was moved to trash
    and before the new one was renamed in: no run of that name was visible until the listing)."""
    import multiprocessing

    save_run(build_model(TINY, seed=0), TINY, TINY_TRAIN, TINY_HISTORY, "victim", root)
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(seed)
    counts = {"trials": trials, "lost": 0, "with_leftovers": 0, "between_renames": 0}
    for _ in range(trials):
        child = ctx.Process(target=_overwrite_forever, args=(str(root),), daemon=True)
        child.start()
        time.sleep(rng.uniform(0.0, max_delay))
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        names = os.listdir(root)
        counts["with_leftovers"] += any(n.startswith((".tmp-", ".trash-")) for n in names)
        counts["between_renames"] += "victim" not in names
        infos = {r.name: r for r in list_runs(root)}
        try:
            ok = "victim" in infos and infos["victim"].usable and load_run(root / "victim") is not None
        except Exception:
            ok = False
        counts["lost"] += not ok
    return counts


def _overwrite_forever(root: str) -> None:
    import torch

    torch.set_num_threads(1)
    i = 0
    while True:
        i += 1
        save_run(build_model(TINY, seed=i % 5), TINY, TINY_TRAIN, TINY_HISTORY, "victim", root,
                 overwrite=True)


LIST_PROBE = """
import sys, time, tracemalloc
import vae_core
def hwm():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
before = hwm()
tracemalloc.start()
t0 = time.perf_counter()
infos = vae_core.list_runs(sys.argv[1])
wall = time.perf_counter() - t0
peak_py = tracemalloc.get_traced_memory()[1] / 2**20
after = hwm()
print(f"{len(infos)} runs in {wall:.2f} s; peak RSS {before:.0f} MB after imports, {after:.0f} MB "
      f"after listing (+{after - before:.0f} MB); traced allocations peak {peak_py:.1f} MB")
"""


PEAK_WRAPPER = """
import atexit, runpy, sys
def _peak():  # VmHWM: this process's own peak; ru_maxrss would include the forking parent's
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            sys.stderr.write("\\nPEAK_KB " + line.split()[1] + "\\n")
atexit.register(_peak)
mode, target, *rest = sys.argv[1:]
sys.argv = [target, *rest]
if mode == "-m":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    exec(compile(target, "<probe>", "exec"))
"""


def _child(args: list[str]) -> dict:
    """Run ``python -m MODULE ...`` or ``python -c CODE ...`` (``args``) in a fresh process with
    one torch thread: wall time, exit code, printed rows and its own peak RSS (VmHWM)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        t0 = time.perf_counter()  # files, not pipes: a full pipe would block the child
        proc = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, *args], cwd=REPO, env=env,
                              stdout=out_file, stderr=err_file)
        wall = time.perf_counter() - t0
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read().decode(errors="replace"), err_file.read().decode(errors="replace")
    peaks = [line.split()[1] for line in err.splitlines() if line.startswith("PEAK_KB ")]
    if proc.returncode:
        print(err[-2000:])
    return {"rc": proc.returncode, "wall": wall, "peak_mb": int(peaks[-1]) / 1024 if peaks else float("nan"),
            "rows": max(len(out.splitlines()) - 1, 0), "out": out}


def page_files() -> list[str]:
    from ui.navigation import PAGES

    return [page.file for page in PAGES]


def render_pages(root: Path) -> dict[str, str]:
    """Run every page under AppTest with ``root`` as the runs folder: page -> "ok" or the error."""
    from streamlit.testing.v1 import AppTest

    os.environ["VAE_LAB_CHECKPOINTS"] = str(root)
    results = {}
    for page in page_files():
        at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
        at.switch_page(page)
        at.run()
        name = Path(page).name
        if at.exception:
            results[name] = "EXCEPTION: " + "; ".join(e.value[:200] for e in at.exception)
        else:
            results[name] = f"ok ({len(at.error)} error box(es))"
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kill-trials", type=int, default=200)
    parser.add_argument("--no-pages", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        root, outside = Path(tmp) / "runs", Path(tmp) / "outside"
        n = build_hostile_root(root, outside)
        print(f"root: {n} hostile entries + 2 good runs + 2 leftover folders")
        baseline = _child(["-c", "import vae_core"])
        cli = _child(["-m", "vae_core", "list", "--root", str(root)])
        print(f"python -c 'import vae_core' (baseline: torch): {baseline['wall']:.2f} s, "
              f"peak RSS {baseline['peak_mb']:.0f} MB")
        print(f"python -m vae_core list: exit {cli['rc']}, {cli['rows']} rows, {cli['wall']:.2f} s, "
              f"peak RSS {cli['peak_mb']:.0f} MB (so the listing adds {cli['wall'] - baseline['wall']:+.2f} s, "
              f"{cli['peak_mb'] - baseline['peak_mb']:+.0f} MB)")
        inner = _child(["-c", LIST_PROBE, str(root)])
        print(f"list_runs alone in a fresh process: {inner['out'].strip()}")
        proc_ok = cli["rc"] == 0
        t0 = time.perf_counter()
        infos = list_runs(root)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        list_runs(root)
        warm = time.perf_counter() - t0
        counts: dict[str, int] = {}
        for r in infos:
            counts[r.status] = counts.get(r.status, 0) + 1
        print(f"list_runs in process: {cold * 1000:.0f} ms cold, {warm * 1000:.1f} ms cached; "
              f"statuses {counts}; usable: {sorted(r.name for r in infos if r.usable)}")
        leftovers = sorted(p for p in os.listdir(root) if p.startswith(".") and p != ".classifiers")
        print(f"leftover hidden folders after listing: {leftovers}")
        # bad-pair-list is a good run with a junk "pair" key: "pair" (the old name of "group") is
        # read only when "group" is missing, and these copies of the good pair have one.
        ok = proc_ok and sorted(r.name for r in infos if r.usable) == [
            "bad-dataset-dev-zero", "bad-dataset-etc", "bad-pair-list", "bad-weights-overflow",
            "good-ae", "good-vae"]
        if not args.no_pages:
            for page, result in render_pages(root).items():
                print(f"  {page:<28} {result}")
                ok &= result.startswith("ok")
        kill_root = Path(tmp) / "kill9"
        kill_root.mkdir()
        t0 = time.perf_counter()
        k = kill9_overwrite_trials(kill_root, args.kill_trials, seed=1)
        left = [p for p in os.listdir(kill_root) if p.startswith((".tmp-", ".trash-", ".deleted-"))]
        print(f"kill -9 during overwrite: {k['trials']} trials, {k['lost']} runs lost; "
              f"{k['with_leftovers']} kills left a temp/trash folder, {k['between_renames']} came "
              f"between the two renames (run recovered from trash); {len(left)} leftovers after "
              f"the last listing ({time.perf_counter() - t0:.1f} s)")
        ok &= k["lost"] == 0 and not left
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
