"""The CLI and the training engine on Dask distributed (vae_core.jobs).

Every job here really trains on a real Dask cluster: the process's embedded LocalCluster with
one worker (shared by the tests of this module, shut down at its end), or a `dask scheduler` +
`dask worker` pair started as subprocesses on 127.0.0.1.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from vae_core import ModelConfig, TrainConfig, list_runs, load_run
from vae_core.__main__ import main
from vae_core.jobs import (EngineUnavailable, OwnerBusyError, QueueFullError, RunSpec,
                           TrainingEngine, close_local_cluster, local_cluster, plan_runs)

from helpers import REPO

CFG = ModelConfig(kind="vae", latent_dim=2, hidden=(16,), input_shape=(1, 8, 8))
ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def wait(job, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while job.active and time.time() < deadline:
        time.sleep(0.02)
    assert not job.active, f"job still {job.state} after {timeout} s"


def wait_for(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def cluster():
    """One warm local worker for the module (the engines below share it)."""
    yield local_cluster(n_workers=1)
    close_local_cluster()


@pytest.fixture
def make_engine(cluster):
    engines = []

    def make(**kwargs) -> TrainingEngine:
        engine = TrainingEngine(**{"grace_s": 3.0, **kwargs})
        engines.append(engine)
        wait_for(lambda: engine.status().state == "ready" and engine.max_workers >= 1, 60,
                 "the engine to connect")
        return engine

    yield make
    for engine in engines:
        engine.shutdown()


# --- the CLI -------------------------------------------------------------------------------------

def test_cli_trains_a_fair_pair_and_lists_it(tmp_path, capsys, cluster):
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
                 "--batch-size", "--lr", "--seed", "--name", "--scheduler", "--time-limit"):
        assert flag in out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster():
    """A `dask scheduler` and one `dask worker` process, as a teacher would start them."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    bin_dir = os.path.dirname(sys.executable)
    scheduler = subprocess.Popen([f"{bin_dir}/dask", "scheduler", "--host", "127.0.0.1", "--port",
                                  str(port), "--no-dashboard"], env=ENV, cwd=REPO,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([f"{bin_dir}/dask", "worker", address, "--nthreads", "1",
                               "--name", "classroom-1", "--no-dashboard"], env=ENV, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield address, scheduler
    finally:
        for proc in (worker, scheduler):
            proc.terminate()
        for proc in (worker, scheduler):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.slow
def test_cli_trains_on_an_existing_scheduler_then_survives_its_loss(tmp_path, capsys,
                                                                      dask_cluster):
    address, scheduler = dask_cluster
    rc = main(["train", "--kind", "vae", "--epochs", "2", "--hidden", "16", "--root",
               str(tmp_path), "--name", "remote", "--scheduler", address, "--quiet"])
    assert rc == 0, capsys.readouterr().err
    meta = json.loads((tmp_path / "remote" / "run.json").read_text())
    assert meta["status"] in ("finished", "collapsed") and meta["worker"].startswith("tcp://127.0.0.1:")
    assert meta["worker"] != address  # the worker, not the scheduler

    engine = TrainingEngine(address)
    try:
        wait_for(lambda: engine.status().state == "ready", 30, "the engine to connect")
        scheduler.kill()
        wait_for(lambda: engine.status().state == "unavailable", 60, "the loss to be noticed")
        assert address in engine.status().message
        assert engine.counts() == {"running": 0, "queued": 0}  # pages keep working
        with pytest.raises(EngineUnavailable):
            engine.submit(plan_runs("vae", "late", CFG, TrainConfig(epochs=1))[0], "digits",
                          root=str(tmp_path))
    finally:
        engine.shutdown()


# --- the engine -------------------------------------------------------------------------------------

def test_engine_trains_a_pair_streams_records_and_saves_it(tmp_path, make_engine):
    engine = make_engine()
    specs, pair = plan_runs("pair", "p", CFG, TrainConfig(epochs=3))
    t0 = time.perf_counter()
    job = engine.submit(specs, "digits", root=str(tmp_path), group=pair)
    wait_for(lambda: any(job.records.values()) or not job.active, 30, "a first record")
    first_record_s = time.perf_counter() - t0
    wait(job)
    assert job.state == "finished", job.error
    assert first_record_s < 5.0  # streamed while training (about 0.02 s on a warm idle worker)
    assert job.progress() == 1.0 and job.elapsed() > 0
    for spec in specs:
        # A 3-epoch VAE may not have left the prior yet: "collapsed" is a finished run, labelled.
        assert job.results[spec.name]["status"] in ("finished", "collapsed")
        saved = load_run(tmp_path / spec.name)
        assert saved.group == "p" and saved.history == job.records[spec.name]
        meta = json.loads((tmp_path / spec.name / "run.json").read_text())
        assert meta["worker"] == job.worker and job.worker.startswith("tls://")  # the embedded cluster speaks TLS
    ae, vae = (load_run(tmp_path / s.name) for s in specs)
    assert ae.history[-1]["test_kl"] == 0 and vae.history[-1]["test_kl"] > 0


def test_training_workers_yield_the_cpu_to_page_views(make_engine):
    """Workers run at a lower priority than the web server that shares their cores."""
    from distributed import Client

    from vae_core.jobs.worker import WORKER_NICENESS

    engine = make_engine()
    with Client(engine.status().address, set_as_default=False,
                security=local_cluster().security) as client:
        niceness = client.run(os.nice, 0)
    assert niceness and all(n >= WORKER_NICENESS for n in niceness.values()), niceness
    assert os.nice(0) < WORKER_NICENESS  # this process (the app's) is not lowered


def test_a_sweep_saves_each_run_whole(tmp_path, make_engine):
    engine = make_engine()
    specs, group = plan_runs("sweep", "s", CFG, TrainConfig(epochs=1), [0.0, 2.0])
    job = engine.submit(specs, "digits", root=str(tmp_path), group=group, interleave=False)
    wait(job)
    assert job.state == "finished", job.error
    assert {r.name: r.beta for r in list_runs(tmp_path)} == {"s-b0": 0.0, "s-b2": 2.0}


def test_stop_keeps_what_was_trained(tmp_path, make_engine):
    engine = make_engine()
    job = engine.submit([RunSpec("long", CFG, TrainConfig(epochs=5000))], "digits",
                        root=str(tmp_path))
    wait_for(lambda: job.records.get("long"), 30, "training to start")
    job.stop.set()
    wait(job, 20)
    assert job.state == "stopped" and job.results["long"]["status"] == "stopped"
    run = load_run(tmp_path / "long")
    assert run.status == "stopped" and 0 < run.history[-1]["step"]


def test_time_limit_ends_the_job_and_keeps_the_run(tmp_path, make_engine):
    engine = make_engine(time_limit_s=1.0)
    job = engine.submit([RunSpec("capped", CFG, TrainConfig(epochs=5000))], "digits",
                        root=str(tmp_path))
    wait(job, 30)
    assert job.state == "stopped", job.error
    assert "time limit" in job.results["capped"]["reason"]
    assert load_run(tmp_path / "capped").status == "stopped"
    assert job.elapsed() < 10


def test_one_job_per_owner_and_a_queue_cap(tmp_path, make_engine):
    engine = make_engine(max_queued=1)
    runs = lambda name: [RunSpec(name, CFG, TrainConfig(epochs=5000))]  # noqa: E731
    first = engine.submit(runs("a"), "digits", root=str(tmp_path), owner="session-1")
    wait_for(lambda: first.state == "running", 30, "the first job to start")
    with pytest.raises(OwnerBusyError):
        engine.submit(runs("b"), "digits", root=str(tmp_path), owner="session-1")
    second = engine.submit(runs("c"), "digits", root=str(tmp_path), owner="session-2")
    assert second.state == "queued" and engine.queue_position(second) == 0
    assert engine.counts() == {"running": 1, "queued": 1}
    with pytest.raises(QueueFullError, match="queue is full"):
        engine.submit(runs("d"), "digits", root=str(tmp_path), owner="session-3")
    second.stop.set()  # stopped while queued: never trains
    first.stop.set()
    wait(first)
    wait(second)
    assert second.state == "stopped" and second.started is None and not second.results
    assert [r.name for r in list_runs(tmp_path)] == ["a"]
    # Free again: the owner may submit its next job.
    third = engine.submit([RunSpec("e", CFG, TrainConfig(epochs=1))], "digits",
                          root=str(tmp_path), owner="session-1")
    wait(third)
    assert third.state == "finished", third.error


@pytest.mark.slow
def test_a_killed_worker_fails_its_job_and_saves_nothing(tmp_path, make_engine):
    from distributed import Client

    engine = make_engine()
    job = engine.submit([RunSpec("doomed", CFG, TrainConfig(epochs=5000))], "digits",
                        root=str(tmp_path))
    wait_for(lambda: job.records.get("doomed"), 30, "training to start")
    security = local_cluster().security  # the embedded cluster refuses clients without its certificate
    with Client(engine.status().address, set_as_default=False, security=security) as client:
        pid = client.run(os.getpid, workers=[job.worker])[job.worker]
    os.kill(pid, signal.SIGKILL)  # as if the OS killed the worker mid-run
    wait(job, 30)
    assert job.state == "failed" and "died" in job.error
    assert list_runs(tmp_path) == [] and not list(tmp_path.glob(".tmp-*"))
    # The nanny brings a fresh worker: the next job trains.
    again = engine.submit([RunSpec("after", CFG, TrainConfig(epochs=1))], "digits",
                          root=str(tmp_path))
    wait(again, 60)
    assert again.state == "finished", again.error


def _block_data_loading() -> None:
    """Runs inside a worker process: from now on its data loading never returns, like a read
    from a FIFO or a hung network share (the data layer refuses FIFOs, so one cannot be used)."""
    import threading

    import vae_core.jobs.worker

    vae_core.jobs.worker._worker_dataset = lambda *args, **kwargs: threading.Event().wait()


@pytest.mark.slow
def test_a_blocked_job_is_cancelled_after_the_grace_period(tmp_path, cluster, make_engine):
    from distributed import Client

    engine = make_engine(grace_s=1.0)
    with Client(cluster, set_as_default=False) as client:
        client.run(_block_data_loading)
    # The worker loads the data set itself (ship_data=False) and blocks there.
    job = engine.submit([RunSpec("stuck", CFG, TrainConfig(epochs=1))], "digits",
                        root=str(tmp_path / "runs"), ship_data=False)
    wait_for(lambda: job.state == "running", 30, "the job to reach its worker")
    job.stop.set()
    wait(job, 20)
    assert job.state == "failed" and "did not end within" in job.error
    # Its worker was restarted: the slot is free for the next job.
    again = engine.submit([RunSpec("next", CFG, TrainConfig(epochs=1))], "digits",
                          root=str(tmp_path / "runs"))
    wait(again, 60)
    assert again.state == "finished", again.error
