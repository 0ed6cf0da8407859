"""The loss lab's shipped results: the page reads these, it never trains.

The dashboard's lab shows arms trained ahead of time (``benchmarks/loss_lab.py --ship``), stored
in one safetensors file: float16 weights per (epochs, variant) and a JSON metadata entry with each
arm's history, status and numbers. The numbers are measured on the float16-rounded weights, so
what the page draws from the weights and the numbers it prints agree exactly.
"""
from __future__ import annotations

import json
import os
import string
from dataclasses import asdict, replace
from typing import Any

import torch

from vae_core.analysis.lab import LAB_MODEL, LAB_TRAIN, VARIANTS, LabRun, lab_numbers, train_variant
from vae_core.config import ModelConfig, TrainConfig
from vae_core.data import ImageDataset
from vae_core.models import LatentModel, build_model
from vae_core.seeds import stream_seed
from vae_core.store import validate

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


def ship_lab_results(dataset: ImageDataset, path: str, epochs: tuple[int, ...] = SHIPPED_EPOCHS,
                     model_cfg: ModelConfig = LAB_MODEL, train_cfg: TrainConfig = LAB_TRAIN) -> dict:
    """Train every arm at each of ``epochs``, measure it on its float16 weights, save all to ``path``."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    arms: dict[str, dict[str, Any]] = {}
    for n in epochs:
        for key in VARIANTS:
            run = train_variant(key, dataset, model_cfg, replace(train_cfg, epochs=n))
            seconds = run.numbers.get("seconds")
            if run.numbers.get("recon") is not None:
                run.numbers = {**lab_numbers(_rounded(run.model), VARIANTS[key], dataset,
                                             seed=stream_seed(train_cfg.seed, "test_noise")),
                               "status": run.status, "seconds": seconds}
            for name, t in run.model.state_dict().items():
                tensors[f"e{n}/{key}/{name}"] = t.detach().to(torch.float16).contiguous()
            arms[f"{n}/{key}"] = {"history": run.history, "status": run.status, "numbers": run.numbers,
                                  "reason_message": run.reason_message, "reason_values": run.reason_values}
    meta = {"format_version": str(LAB_RESULTS_FORMAT), "model_config": json.dumps(asdict(model_cfg)),
            "epochs": json.dumps(list(epochs)), "arms": json.dumps(arms)}
    save_file(tensors, path, metadata=meta)
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
