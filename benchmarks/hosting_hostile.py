"""Hosting a class, attacked (issue 18): an upload bomb's memory, a one-computer flood's share of
the training queue, and the teacher password's guess rate, each measured in a fresh process
against the code of a checkout, so one run of this script compares two versions.

    OMP_NUM_THREADS=1 python benchmarks/hosting_hostile.py                 # this checkout
    git worktree add /tmp/base 877767a                                     # the code before
    OMP_NUM_THREADS=1 python benchmarks/hosting_hostile.py --repo /tmp/base --repo .
    git worktree remove /tmp/base

Prints one markdown row per checkout:
- **upload bomb**: a gzip IDX upload of a few tens of KB whose header claims ``--bomb`` images of
  128x128 zeros, taken the way the Train page takes it (``save_idx_upload``, then the page's
  ``load_dataset``, then the engine's packing for a worker); the process's peak RSS above its
  baseline (VmHWM), and whether the upload was refused.
- **flood**: one computer opens ``--tabs`` browser sessions and submits a 2,000-epoch digits job
  (about a minute of a worker each) from each (the dashboard's engine, ``TrainingEngine.from_env``, one worker); the share of the
  64-slot queue it got, and whether another student's job was then accepted.
- **password**: ``--sessions`` browser sessions (AppTest, each in its own thread) type wrong
  teacher passwords for ``--seconds``; the guesses the server checked per minute (a refusal for
  too many guesses is not a check). AppTest sessions in threads share Streamlit's page registry,
  so some may open another page and never find the password box: the row says how many guessed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]

BOMB = r"""
import gzip, json, os, sys, tempfile
def hwm():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
n = int(sys.argv[1])
from vae_core import data as D
from vae_core.jobs import worker as J
try:
    from vae_core.store.idx import save_idx_upload  # since issue 20
except ImportError:  # an older checkout (--repo OLD)
    save_idx_upload = D.save_idx_upload
header = (2051).to_bytes(4, "big")[:3] + bytes([3]) + b"".join(d.to_bytes(4, "big") for d in (n, 128, 128))
packer = __import__("zlib").compressobj(9, 8, 31)
images = packer.compress(header) + b"".join(packer.compress(bytes(1 << 20)) for _ in range(n * 128 * 128 >> 20)) + packer.flush()
labels = (2049).to_bytes(4, "big") + n.to_bytes(4, "big") + bytes(n)
files = {"t10k-images-idx3-ubyte.gz": images, "t10k-labels-idx1-ubyte": labels}
base = hwm()
outcome = "accepted"
with tempfile.TemporaryDirectory() as tmp:
    try:
        spec = save_idx_upload(files, tmp)
        data = D.load_dataset(spec)             # the page's cached load
        J.pack_dataset(data)                    # what submit ships to a worker
    except D.DatasetError as e:
        outcome = "refused: " + str(e)[:90]
print(json.dumps({"upload_kb": sum(map(len, files.values())) / 1024, "claimed_mb": n * 128 * 128 / 2**20,
                  "peak_mb": hwm() - base, "outcome": outcome}))
"""

FLOOD = r"""
import inspect, json, os, sys, tempfile, time
os.environ["VAE_LAB_WORKERS"] = "1"
from vae_core.config import ModelConfig, TrainConfig
from vae_core.jobs import EngineError, RunSpec, TrainingEngine, close_local_cluster
tabs = int(sys.argv[1])
engine = TrainingEngine.from_env()
deadline = time.monotonic() + 120
while engine.status().state != "ready" and time.monotonic() < deadline:
    time.sleep(0.2)
cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(8,), input_shape=(1, 8, 8))
takes_client = "client" in inspect.signature(engine.submit).parameters
def submit(name, owner, client):
    extra = {"client": client} if takes_client else {}
    return engine.submit([RunSpec(name, cfg, TrainConfig(epochs=2_000))], "digits", root=root,
                         owner=owner, **extra)
accepted, jobs = 0, []
with tempfile.TemporaryDirectory() as root:
    for tab in range(tabs):
        try:
            jobs.append(submit(f"flood{tab}", f"tab{tab}", "10.0.0.66"))
            accepted += 1
        except EngineError:
            pass
    try:
        jobs.append(submit("student", "student", "10.0.0.7"))
        student = "accepted"
    except EngineError as e:
        student = "refused: " + str(e)[:60]
    engine.shutdown()
close_local_cluster()
print(json.dumps({"tabs": tabs, "accepted": accepted, "queue": engine.max_queued,
                  "hours_of_work": accepted * 2_000 * 0.03 / 3600, "student": student}))
"""

GUESS = r"""
import json, os, sys, threading, time
sys.path.insert(0, os.path.join(os.getcwd(), "tests"))
from streamlit import config
config.set_option("client.showErrorDetails", "full")
from streamlit.testing.v1 import AppTest
sessions, seconds = int(sys.argv[1]), float(sys.argv[2])
app = os.path.join(os.getcwd(), "streamlit_app.py")
checked, refused, errors, guessed = [0], [0], [], [0]
lock = threading.Lock()
def guesser():
    try:
        at = AppTest.from_file(app, default_timeout=120)
        at.switch_page("pages/1_Train.py")
        at.secrets["teacher_password"] = "the-real-one"
        at.run()
        end = time.monotonic() + seconds
        with lock:
            guessed[0] += 1
        while time.monotonic() < end:
            at.text_input(key="access_password").set_value("guess")
            at.button(key="access_unlock").click().run()
            texts = [e.value for e in at.error]
            with lock:
                checked[0] += any("Wrong teacher password" in t for t in texts)
                refused[0] += any("Too many" in t for t in texts)
    except Exception as e:
        errors.append(repr(e)[:200])
t0 = time.monotonic()
threads = [threading.Thread(target=guesser) for _ in range(sessions)]
for t in threads: t.start()
for t in threads: t.join()
wall = time.monotonic() - t0
print(json.dumps({"sessions": sessions, "seconds": seconds, "checked": checked[0],
                  "refused": refused[0], "per_minute": checked[0] * 60 / seconds, "guessed": guessed[0],
                  "errors": errors[:1]}))
"""


def probe(repo: Path, code: str, *args: str, timeout: float = 600) -> dict:
    """Run ``code`` in a fresh process inside ``repo`` (its vae_core and ui) and read its JSON."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(repo),
           "VAE_LAB_CHECKPOINTS": str(repo / "checkpoints")}
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=repo, env=env, timeout=timeout,
                         capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        return {"error": (out.stderr or out.stdout)[-400:]}
    return json.loads(lines[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", action="append", type=Path,
                        help="a checkout to measure (repeat to compare; default: this one)")
    parser.add_argument("--bomb", type=int, default=2048, help="images of 128x128 the bomb claims")
    parser.add_argument("--tabs", type=int, default=45)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    repos = [r.resolve() for r in (args.repo or [HERE])]
    print("| checkout | upload bomb: upload → claimed, peak RSS, outcome | flood: jobs accepted "
          "from one computer / queue slots, another student | password: checked guesses per "
          "minute (refused) |")
    print("|---|---|---|---|")
    for repo in repos:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo,
                                capture_output=True, text=True).stdout.strip()
        bomb = probe(repo, BOMB, str(args.bomb))
        flood = probe(repo, FLOOD, str(args.tabs))
        guess = probe(repo, GUESS, str(args.sessions), str(args.seconds))
        cells = []
        cells.append(bomb.get("error") or f"{bomb['upload_kb']:.0f} KB → {bomb['claimed_mb']:.0f} MB, "
                     f"+{bomb['peak_mb']:.0f} MB, {bomb['outcome']}")
        cells.append(flood.get("error") or f"{flood['accepted']}/{flood['queue']} "
                     f"({flood['accepted'] / flood['queue']:.0%} of the queue), student "
                     f"{flood['student']}")
        cells.append(guess.get("error") or f"{guess['per_minute']:.0f} ({guess['checked']} checked, "
                     f"{guess['refused']} refused in {guess['seconds']:.0f} s by "
                     f"{guess['guessed']} of {guess['sessions']} sessions)")
        print(f"| {commit} | " + " | ".join(c.replace('|', '/').replace('\n', ' ') for c in cells)
              + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
