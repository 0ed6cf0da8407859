"""The loss lab's results on file: the page reads these, it never trains.

The dashboard's lab shows arms trained ahead of time (``benchmarks/loss_lab.py --ship``), stored
in one safetensors file: float16 weights per (epochs, variant) and a JSON metadata entry with each
arm's history, status and numbers. The numbers are measured on the float16-rounded weights, so
what the page draws from the weights and the numbers it prints agree exactly. Another epoch count
is a job of the training engine (``lab_job_specs``): a worker trains and measures each arm
(``arm_outcome``) and the engine adds them to ``LAB_TRAINED_FILE`` beside the runs
(``add_lab_results``: the shipped arms plus those trained; the shipped file is only read).
"""
from __future__ import annotations

import json
import os
import string
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from vae_core.analysis.lab import (LAB_MODEL, LAB_TRAIN, VARIANTS, LabRun, lab_numbers, lab_run,
                                    train_variant)
from vae_core.config import ModelConfig, TrainConfig
from vae_core.data import ImageDataset
from vae_core.models import LatentModel, build_model
from vae_core.seeds import stream_seed
from vae_core.store import validate

if TYPE_CHECKING:
    from vae_core.jobs.plan import RunSpec

LAB_RESULTS_FILE = "loss-lab.safetensors"
LAB_RESULTS_FORMAT = 1
SHIPPED_EPOCHS = (20, 60, 150)
MAX_LAB_RESULTS_BYTES = 16 * 1024 * 1024


class LabResultsError(ValueError):
    """The results file is missing, damaged or not ours; the message says why."""


def _rounded(model: LatentModel) -> LatentModel:
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.float16).to(p.dtype))
    return model.eval()


def _arm_entry(run: LabRun, dataset: ImageDataset, train_cfg: TrainConfig
               ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """One trained arm as it is stored: float16 weights and its entry (numbers measured on them)."""
    seconds = run.numbers.get("seconds")
    if run.numbers.get("recon") is not None:
        run.numbers = {**lab_numbers(_rounded(run.model), VARIANTS[run.variant], dataset,
                                     seed=stream_seed(train_cfg.seed, "test_noise")),
                       "status": run.status, "seconds": seconds}
    state = {name: t.detach().to(torch.float16).contiguous() for name, t in run.model.state_dict().items()}
    return state, {"history": run.history, "status": run.status, "numbers": run.numbers,
                   "reason_message": run.reason_message, "reason_values": run.reason_values}


def _metadata(model_cfg: ModelConfig, epochs: list[int], arms: dict[str, Any]) -> dict[str, str]:
    return {"format_version": str(LAB_RESULTS_FORMAT), "model_config": json.dumps(asdict(model_cfg)),
            "epochs": json.dumps(epochs), "arms": json.dumps(arms)}


def ship_lab_results(dataset: ImageDataset, path: str, epochs: tuple[int, ...] = SHIPPED_EPOCHS,
                     model_cfg: ModelConfig = LAB_MODEL, train_cfg: TrainConfig = LAB_TRAIN) -> dict:
    """Train every arm at each of ``epochs``, measure it on its float16 weights, save all to ``path``."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    arms: dict[str, dict[str, Any]] = {}
    for n in epochs:
        for key in VARIANTS:
            run = train_variant(key, dataset, model_cfg, replace(train_cfg, epochs=n))
            state, arms[f"{n}/{key}"] = _arm_entry(run, dataset, train_cfg)
            tensors |= {f"e{n}/{key}/{name}": t for name, t in state.items()}
    save_file(tensors, path, metadata=_metadata(model_cfg, list(epochs), arms))
    return arms


def _plain_format(message: Any, values: Any) -> bool:
    """A reason read from a file is formatted later: only ``{name}`` fields filled from numbers."""
    if not isinstance(message, str) or not isinstance(values, dict) or len(message) > 300:
        return False
    if not all(isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
               for k, v in values.items()):
        return False
    try:
        fields = [f for _t, f, spec, conv in string.Formatter().parse(message) if f is not None]
        specs = [(spec, conv) for _t, f, spec, conv in string.Formatter().parse(message) if f is not None]
    except ValueError:
        return False
    return all(f in values for f in fields) and all(not s and not c for s, c in specs)


def load_lab_results(path: str | os.PathLike[str]) -> dict[int, dict[str, LabRun]]:
    """The shipped arms by epochs and variant (models on the CPU, eval mode); raises
    ``LabResultsError`` for a missing, oversized, damaged or foreign file."""
    from safetensors import safe_open

    name = os.path.basename(path)
    try:  # the project's one header check first: bounded, well-formed, not truncated or padded
        validate.safetensors_header(path, LabResultsError, MAX_LAB_RESULTS_BYTES)
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except LabResultsError as e:
        raise LabResultsError(str(e).replace(str(path), name)) from None  # no server path
    except Exception as e:  # OSError, safetensors' own errors: the file is not usable
        raise LabResultsError(f"{name} cannot be read ({type(e).__name__})") from e
    try:
        if meta.get("format_version") != str(LAB_RESULTS_FORMAT):
            raise LabResultsError("unknown lab results format")
        cfg = ModelConfig(**json.loads(meta["model_config"]))
        arms = json.loads(meta["arms"])
        out: dict[int, dict[str, LabRun]] = {}
        for n in json.loads(meta["epochs"]):
            if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10_000:
                raise LabResultsError("bad epochs list")
            for key in VARIANTS:
                arm = arms[f"{n}/{key}"]
                prefix = f"e{n}/{key}/"
                state = {k[len(prefix):]: t.float() for k, t in tensors.items() if k.startswith(prefix)}
                model = build_model(cfg)
                model.load_state_dict(state, strict=True)
                if not (isinstance(arm["history"], list) and all(isinstance(r, dict) for r in arm["history"])
                        and isinstance(arm["numbers"], dict) and arm["status"] in ("finished", "diverged")
                        and _plain_format(arm["reason_message"], arm["reason_values"])):
                    raise LabResultsError(f"arm {n}/{key} is malformed")
                out.setdefault(n, {})[key] = LabRun(key, model.eval(), arm["history"], arm["status"],
                                                    arm["reason_message"], arm["reason_values"], arm["numbers"])
        return out
    except LabResultsError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise LabResultsError(f"{name} is not a valid lab results file "
                              f"({type(e).__name__})") from e


# --- other epoch counts: trained as a job by the training engine, added to a file beside the runs ---

LAB_TRAINED_FILE = "loss-lab-trained.safetensors"  # beside the runs: the shipped arms plus those trained here
OTHER_EPOCHS = (5, 10, 40, 100, 200, 280)  # what the page offers beyond the shipped counts (the cap allowing)
MAX_TRAINED_EPOCH_SETS = 6  # epoch counts kept beyond the shipped ones (the oldest goes first; under the 16 MB cap)


def lab_job_specs(epochs: int, model_cfg: ModelConfig = LAB_MODEL,
                  train_cfg: TrainConfig = LAB_TRAIN) -> list[RunSpec]:
    """The runs of a lab job: every arm at ``epochs`` (``RunSpec.objective`` names the variant);
    the engine's epoch cap counts them all (``len(VARIANTS) * epochs``)."""
    from vae_core.jobs.plan import RunSpec

    cfg = replace(train_cfg, epochs=int(epochs), device="cpu")
    return [RunSpec(f"loss-lab-e{int(epochs)}-{key}".replace("_", "-"), model_cfg, cfg, objective=key)
            for key in VARIANTS]


def arm_outcome(variant: str, end: dict[str, Any], dataset: ImageDataset, train_cfg: TrainConfig,
                t0: float) -> dict[str, Any]:
    """On the worker, for an arm ``train`` ended (``end``): its float16 weights as safetensors
    bytes and its entry (history, status, numbers measured on those weights), as ``ship_lab_results``
    stores them. A stopped arm has no entry: the lab shows whole runs only."""
    from safetensors.torch import save

    if end["status"] == "stopped":
        return {"weights": None, "arm": None}
    state, arm = _arm_entry(lab_run(variant, end, dataset, train_cfg, t0), dataset, train_cfg)
    return {"weights": save(state), "arm": arm}


def add_lab_results(path: str | os.PathLike[str], base: str | os.PathLike[str], epochs: int,
                    arms: dict[str, tuple[bytes, dict[str, Any]]],
                    model_cfg: ModelConfig = LAB_MODEL) -> None:
    """Add every arm at ``epochs`` (variant -> safetensors bytes, entry) to the results file
    ``path`` (made from ``base``, the shipped file, when it does not exist yet), replacing that
    epoch count if it was there and keeping at most ``MAX_TRAINED_EPOCH_SETS`` beyond the shipped
    ones (a damaged ``path`` is made anew from ``base``). Written atomically (a temporary file, then a rename) under the folder's lock, so two
    jobs ending at once both land; ``base`` is only read. Raises ``LabResultsError``."""
    from safetensors import safe_open
    from safetensors.torch import load, save_file

    from vae_core.store.runs import root_lock

    if set(arms) != set(VARIANTS):
        raise LabResultsError("a lab job must return every arm")
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    with root_lock(Path(folder)):
        source = os.fspath(base)
        if os.path.isfile(path):
            try:
                load_lab_results(path)
                source = path
            except LabResultsError:  # damaged: written anew from the shipped file
                pass
        load_lab_results(source)  # validated before anything of it is copied
        with safe_open(source, framework="pt") as f:
            meta = f.metadata()
            tensors = {k: f.get_tensor(k) for k in f.keys() if not k.startswith(f"e{epochs}/")}
        if json.loads(meta["model_config"]) != json.loads(json.dumps(asdict(model_cfg))):
            raise LabResultsError("the lab results were trained with another model")
        kept = [n for n in json.loads(meta["epochs"]) if n != epochs]
        extra = [n for n in kept if n not in SHIPPED_EPOCHS]
        for n in extra[:max(0, len(extra) + 1 - MAX_TRAINED_EPOCH_SETS)]:  # the oldest first
            kept.remove(n)
            tensors = {k: t for k, t in tensors.items() if not k.startswith(f"e{n}/")}
        entries = {k: v for k, v in json.loads(meta["arms"]).items() if int(k.split("/")[0]) in kept}
        for key, (weights, arm) in arms.items():
            try:  # the lab model's names and shapes, nothing else
                state = load(weights)
                build_model(model_cfg).load_state_dict({k: t.float() for k, t in state.items()})
            except Exception as e:  # safetensors' or torch's own errors: not this model's weights
                raise LabResultsError(f"the {key} arm's weights do not fit ({type(e).__name__})") from None
            tensors |= {f"e{epochs}/{key}/{name}": t.to(torch.float16) for name, t in state.items()}
            entries[f"{epochs}/{key}"] = arm
        tmp = os.path.join(folder, f".tmp-{os.getpid()}-{LAB_TRAINED_FILE}")
        try:
            save_file(tensors, tmp, metadata=_metadata(model_cfg, kept + [epochs], entries))
            load_lab_results(tmp)  # what the page will read: refused here, not there
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
