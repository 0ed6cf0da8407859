"""What runs on a Dask worker: ``train_stage`` trains a job's runs and streams their progress
records back as Dask events (``Worker.log_event``, about four batches a second), then returns each
run's weights as safetensors bytes plus its history (the engine saves them: workers need no shared
disk). A stop or the job's time limit reaches the training loop through the job's
``distributed.Event``, polled between steps. ``WarmWorker`` (a worker plugin) pins torch to one
thread and pays the first-call costs once per worker process.

Data: "digits" is bundled and loads on any worker; "mnist"/"fashion-mnist" load from the worker's
``VAE_LAB_DATA`` folder (else the app's data root); an ``idx:`` folder's tensors are packed here
(``pack_dataset``) and scattered to the cluster once per job by the engine.
"""
from __future__ import annotations

import functools
import os
import time
from typing import Any

from vae_core.analysis import outcomes
from vae_core.config import ModelConfig, TrainConfig
from vae_core.data import DIGITS, ImageDataset, as_float_images, load_dataset
from vae_core.jobs.plan import RunSpec
from vae_core.store.replay import pack_snapshots
from vae_core.train import Record

RECORD_INTERVAL_S = 0.25  # progress batches per second per job: 4 (pages redraw at 2)
STOP_POLL_S = 0.2  # how often a worker asks the scheduler whether its job was stopped
PACK_CHUNK = 4096  # images converted at a time when a data set is packed for the workers
# Training yields the CPU to page views: on a class's one machine the web server and the workers
# share the cores, and a student waits on a view but not on an epoch (a niceness, 0-19).
WORKER_NICENESS = 10


def warm_plugin() -> Any:
    """A worker plugin: import torch and vae_core, pin torch to one thread (one task thread per
    worker process already; more would only oversubscribe the cores) and train a tiny model on
    the digits once, so a job's first record comes within a second of its submission. Built
    here so that importing this module does not import distributed (the CLI's --help stays quick)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class WarmWorker(WorkerPlugin):
        name = "vae-lab-warm"
        idempotent = True  # registered by every engine; set up once per worker process

        def setup(self, worker: Any) -> None:
            if hasattr(os, "nice") and os.nice(0) < WORKER_NICENESS:
                os.nice(WORKER_NICENESS - os.nice(0))
            _warm_up()

    return WarmWorker()


def _warm_up() -> float:
    t0 = time.perf_counter()
    import torch

    from vae_core.train import run_to_end, train

    torch.set_num_threads(1)
    data = _worker_dataset(DIGITS, "data")
    tiny = ModelConfig(kind="vae", latent_dim=2, hidden=(8,), input_shape=data.image_shape)
    small = ImageDataset(data.name, data.train_x[:64], data.train_y[:64], data.test_x[:16],
                         data.test_y[:16], data.class_names)
    run_to_end(train(tiny, TrainConfig(epochs=1, batch_size=64), small))  # first-call costs
    return time.perf_counter() - t0


@functools.lru_cache(maxsize=2)
def _worker_dataset(spec: str, data_root: str) -> ImageDataset:
    """Named data sets only (not idx: folders, whose files may change under the same name)."""
    return load_dataset(spec, root=os.environ.get("VAE_LAB_DATA", data_root))


def pack_dataset(data: ImageDataset) -> dict[str, Any]:
    """Plain numpy arrays for shipping (uint8 when exact: IDX pixels are k/255)."""
    payload: dict[str, Any] = {"name": data.name, "class_names": list(data.class_names),
                               "note": data.described()}
    import torch

    for key in ("train_x", "test_x"):
        x = getattr(data, key)
        x8 = torch.empty(x.shape, dtype=torch.uint8)
        exact = True
        for i in range(0, len(x), PACK_CHUNK):  # float temporaries of one chunk, not the whole set
            chunk = x[i:i + PACK_CHUNK]
            x8[i:i + PACK_CHUNK] = (chunk * 255).round_().clamp_(0, 255)
            exact = exact and bool((x8[i:i + PACK_CHUNK].float().div_(255) == chunk).all())
            if not exact:
                break
        payload[key] = (x8 if exact else x).numpy()
    payload["train_y"], payload["test_y"] = data.train_y.numpy(), data.test_y.numpy()
    return payload


def unpack_dataset(payload: dict[str, Any]) -> ImageDataset:
    """The shipped data set; uint8 training images stay uint8 (a quarter of float32's memory on
    the worker): ``train`` turns each batch into floats (``data.as_float_images``)."""
    import numpy as np
    import torch

    def images(a: np.ndarray, keep_uint8: bool = False) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(a))
        return t if keep_uint8 and t.dtype == torch.uint8 else as_float_images(t)

    return ImageDataset(payload["name"], images(payload["train_x"], keep_uint8=True),
                        torch.from_numpy(payload["train_y"]).long(), images(payload["test_x"]),
                        torch.from_numpy(payload["test_y"]).long(),
                        tuple(payload["class_names"]), payload["note"])


class _WorkerStop:
    """The stop flag a worker's training loop polls: the job's ``distributed.Event`` (asked at
    most every ``STOP_POLL_S``) or the job's deadline on the worker's own clock."""

    def __init__(self, event_name: str, seconds_left: float | None):
        self.event_name = event_name
        self.deadline = None if seconds_left is None else time.monotonic() + seconds_left
        self.timed_out = False
        self._stopped = False
        self._event: Any = None
        self._last = time.monotonic()  # the first ask waits one interval: the first record first

    def is_set(self) -> bool:
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline:
            self.timed_out = True
            return True
        if not self._stopped and now - self._last >= STOP_POLL_S:
            self._last = now
            try:
                if self._event is None:
                    from distributed import Event

                    self._event = Event(self.event_name)
                self._stopped = self._event.is_set()
            except Exception:  # the scheduler is gone: nothing could be delivered anyway
                self._stopped = True
        return self._stopped


class _Progress:
    """Batches a job's records and sends them as Dask events, at most every RECORD_INTERVAL_S
    (the first at once, so the first point of a curve shows up immediately)."""

    def __init__(self, worker: Any, topic: str, job_id: str, stage: int):
        self.worker, self.topic, self.job_id, self.stage = worker, topic, job_id, stage
        self.buffer: dict[str, list[Record]] = {}
        self.last = 0.0

    def send(self, kind: str, **msg: Any) -> None:
        self.worker.log_event(self.topic, {"job": self.job_id, "stage": self.stage, "kind": kind,
                                           **msg})

    def add(self, run: str, rec: Record) -> None:
        self.buffer.setdefault(run, []).append(rec)
        if time.monotonic() - self.last >= RECORD_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.send("records", records=self.buffer)
            self.buffer = {}
        self.last = time.monotonic()


def train_stage(job_id: str, stage: int, topic: str, stop_event: str, specs: list[RunSpec],
                dataset_spec: str, data_root: str, shipped: dict[str, Any] | None,
                interleave: bool, seconds_left: float | None) -> dict[str, Any]:
    """A Dask task: train ``specs`` (in turn, step by step, when ``interleave``), streaming
    records to ``topic``; return per run its status, reason, history and safetensors weights.
    A loss-lab arm (``RunSpec.objective``) trains with its variant's objective and also returns
    its lab entry, measured here (``lab_results.arm_outcome``): the web process never trains."""
    from distributed import get_worker
    from safetensors.torch import save

    from vae_core.train import train

    worker = get_worker()
    progress = _Progress(worker, topic, job_id, stage)
    progress.send("start", worker=worker.address)  # before loading data: a hang there is visible
    data = unpack_dataset(shipped) if shipped is not None else _worker_dataset(dataset_spec,
                                                                               data_root)
    stop = _WorkerStop(stop_event, seconds_left)
    gens = {s.name: train(s.model_config, s.train_config, data, stop=stop, **_lab_arm(s))
            for s in specs}
    by_name = {s.name: s for s in specs}
    spent = dict.fromkeys(gens, 0.0)  # seconds each run spent in its own steps (a lab arm's time)
    live, out = list(gens), {}
    while live:
        for name in list(live if interleave else live[:1]):
            t0 = time.perf_counter()
            rec = next(gens[name])
            spent[name] += time.perf_counter() - t0
            if rec["type"] != "end":
                progress.add(name, rec)
                continue
            live.remove(name)
            reason = rec["reason"]
            if stop.timed_out and rec["status"] == "stopped":
                reason = outcomes.render(outcomes.STOPPED_AT_TIME_LIMIT, seconds=seconds_left,
                                         step=rec["step"])
            spec = by_name[name]
            lab = {} if spec.objective is None else {"lab": _lab_outcome(  # its time: its own steps
                spec, rec, data, t0=time.perf_counter() - spent[name])}
            model = rec.pop("model")
            snapshots = pack_snapshots(rec.pop("snapshots", None) or [])
            out[name] = {key: rec[key] for key in rec if key != "type"} | {
                "reason": reason, "snapshots": snapshots,  # a lab arm's weights: its float16 ones
                "weights": save(model.state_dict()) if spec.objective is None else None} | lab
    progress.flush()
    return {"worker": worker.address, "runs": out}


def _lab_arm(spec: RunSpec) -> dict[str, Any]:
    """``train``'s arguments for a loss-lab arm: its variant's objective, no snapshots (the lab
    keeps the final weights only, as ``lab.train_variant`` trains them)."""
    if spec.objective is None:
        return {}
    from vae_core.analysis.lab import variant_objective

    return {"objective": variant_objective(spec.objective), "snapshots": 0}


def _lab_outcome(spec: RunSpec, end: dict[str, Any], data: ImageDataset, t0: float) -> dict[str, Any]:
    from vae_core.analysis.lab_results import arm_outcome

    return arm_outcome(str(spec.objective), end, data, spec.train_config, t0)
