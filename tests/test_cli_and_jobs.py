"""The CLI (train/list) and the shared training pool behind the dashboard."""
from __future__ import annotations

import subprocess
import threading
import sys
import time

import pytest

from vae_core import ModelConfig, TrainConfig, list_runs, load_run
from vae_core.__main__ import main
from vae_core.jobs import RunSpec, TrainingPool

from helpers import REPO


def test_cli_trains_a_fair_pair_and_lists_it(tmp_path, capsys):
    rc = main(["train", "--kind", "pair", "--epochs", "2", "--hidden", "16", "--root", str(tmp_path),
               "--name", "cli", "--quiet", "--beta", "0.5"])
    assert rc == 0
    ae, vae = load_run(tmp_path / "cli-ae"), load_run(tmp_path / "cli-vae")
    assert (ae.kind, vae.kind) == ("ae", "vae")
    assert ae.group == vae.group == "cli"
    assert ae.model_config.with_kind("vae") == vae.model_config  # same architecture
    assert ae.train_config == vae.train_config and vae.train_config.beta == 0.5
    capsys.readouterr()
    assert main(["list", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "cli-ae" in out and "cli-vae" in out and "finished" in out


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["train", "--name", "../../x", "--root", str(tmp_path)]) == 2
    assert "Invalid run name" in capsys.readouterr().err
    assert main(["train", "--dataset", f"idx:{tmp_path}", "--root", str(tmp_path)]) == 2
    assert "no IDX image files" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_cli_help_explains_every_flag():
    out = subprocess.run([sys.executable, "-m", "vae_core", "train", "--help"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    for flag in ("--kind", "--beta", "--latent-dim", "--arch", "--dataset", "--epochs",
                 "--batch-size", "--lr", "--seed", "--name"):
        assert flag in out


def wait(job, timeout=60.0):
    deadline = time.time() + timeout
    while job.active and time.time() < deadline:
        time.sleep(0.05)
    assert not job.active, "job did not finish in time"


@pytest.mark.slow  # child processes, real training
def test_pool_runs_a_pair_saves_it_and_queues_the_rest(tmp_path, digits):
    pool = TrainingPool(max_workers=1)
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(16,), input_shape=(1, 8, 8))
    tcfg = TrainConfig(epochs=3)
    first = pool.submit([RunSpec("p-ae", cfg.with_kind("ae"), tcfg), RunSpec("p-vae", cfg, tcfg)],
                        "digits", root=str(tmp_path), group="p")
    second = pool.submit([RunSpec("q-vae", cfg, tcfg)], "digits", root=str(tmp_path))
    # One worker: the second job waits while the first runs.
    assert second.state == "queued" and pool.queue_position(second) == 0
    wait(first)
    wait(second)
    assert first.state == second.state == "done", (first.error, second.error)
    assert set(first.records) == {"p-ae", "p-vae"} and all(first.records.values())
    assert first.progress() == 1.0 and first.results["p-vae"]["status"] == "finished"
    assert {r.name for r in list_runs(tmp_path)} == {"p-ae", "p-vae", "q-vae"}
    pool.shutdown()


@pytest.mark.slow  # child processes, real training
def test_pool_stop_and_failed_data(tmp_path, digits):
    pool = TrainingPool(max_workers=1)
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(16,), input_shape=(1, 8, 8))
    job = pool.submit([RunSpec("long", cfg, TrainConfig(epochs=500))], "digits", root=str(tmp_path))
    while not job.records.get("long"):
        time.sleep(0.01)
    job.stop.set()
    wait(job)
    assert job.results["long"]["status"] == "stopped"
    assert load_run(tmp_path / "long").status == "stopped"
    pool.shutdown()

    pool = TrainingPool(max_workers=1)
    job = pool.submit([RunSpec("x", cfg, TrainConfig(epochs=1))], f"idx:{tmp_path / 'nope'}",
                      root=str(tmp_path))
    wait(job)
    assert job.state == "failed" and "not a folder" in job.error  # the child's DatasetError
    pool.shutdown()


@pytest.mark.slow  # child processes, real training
def test_a_crashed_training_process_fails_the_job_and_keeps_saved_runs(tmp_path):
    import multiprocessing

    pool = TrainingPool(max_workers=1)
    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(16,), input_shape=(1, 8, 8))
    job = pool.submit([RunSpec("quick", cfg, TrainConfig(epochs=1)),
                       RunSpec("endless", cfg, TrainConfig(epochs=5000))], "digits",
                      root=str(tmp_path), interleave=False)
    while "quick" not in job.results:
        time.sleep(0.01)
    [child] = [p for p in multiprocessing.active_children() if p.name == f"vae-train-{job.id}"]
    child.kill()  # as if the OS killed it mid-run
    wait(job)
    assert job.state == "failed" and "ended unexpectedly" in job.error
    assert [r.name for r in list_runs(tmp_path)] == ["quick"]  # nothing half-written
    # Saved whole; a 1-epoch VAE has not left the prior yet, so it ends "collapsed" (collapse.py).
    assert load_run(tmp_path / "quick").status in ("finished", "collapsed")
    pool.shutdown()


def test_a_run_stopped_before_its_first_step_is_not_saved(tmp_path, digits):
    from vae_core.jobs import run_job

    cfg = ModelConfig(kind="vae", latent_dim=2, hidden=(16,), input_shape=(1, 8, 8))
    stop = threading.Event()
    stop.set()
    events = []
    run_job([RunSpec("never", cfg, TrainConfig(epochs=1))], digits, root=str(tmp_path),
            dataset_name="digits", group=None, interleave=True, stop=stop, emit=events.append)
    [(kind, name, summary)] = events
    assert (kind, name, summary["status"], summary["path"]) == ("result", "never", "stopped", None)
    assert "nothing was saved" in summary["reason"] and list_runs(tmp_path) == []
