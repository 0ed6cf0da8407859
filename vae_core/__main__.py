"""The command line: ``python -m vae_core train|list …`` (``--help`` on each explains the flags)."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence

from .config import ModelConfig, TrainConfig
from .data import DatasetError, load_dataset
from .jobs import RunSpec
from .runs import RunError, list_runs, save_run, unique_run_name, validate_run_name
from .train import train


def _progress_line(label: str, rec: dict, width: int = 28) -> str:
    p = rec.get("progress", 0.0)
    filled = int(round(p * width))
    secs = rec.get("seconds", 0.0)
    eta = secs * (1 - p) / p if p > 0 else 0.0
    return (f"\r{label:>10} [{'#' * filled}{'.' * (width - filled)}] {p * 100:5.1f}% "
            f"ep {rec.get('epoch', 0)} recon {rec.get('recon', 0):7.2f} kl {rec.get('kl', 0):6.2f} "
            f"{secs:5.1f}s eta {eta:4.0f}s")


def _train_with_bar(spec: RunSpec, dataset, quiet: bool) -> dict:
    end: dict = {}
    tty = sys.stderr.isatty()
    last_print = 0.0
    for rec in train(spec.model_config, spec.train_config, dataset):
        if rec["type"] == "end":
            end = rec
            break
        now = time.perf_counter()
        if not quiet and (rec["type"] == "epoch" or now - last_print > 0.2):
            line = _progress_line(spec.name, rec)
            if rec["type"] == "epoch" and not tty:
                print(line.strip() + f" | test recon {rec['test_recon']:.2f} kl {rec['test_kl']:.2f}",
                      file=sys.stderr)
            elif tty:
                print(line, end="", file=sys.stderr, flush=True)
            last_print = now
    if not quiet and tty:
        print(file=sys.stderr)
    return end


def _model_config(args: argparse.Namespace, kind: str, input_shape) -> ModelConfig:
    hidden = tuple(args.hidden) if args.hidden else ((32, 64) if args.arch == "conv" else (256, 128))
    return ModelConfig(kind=kind, latent_dim=args.latent_dim, arch=args.arch, hidden=hidden,
                       input_shape=input_shape)


def _train_config(args: argparse.Namespace, beta: float) -> TrainConfig:
    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, beta=beta,
                       seed=args.seed, device=args.device, kl_warmup_epochs=args.kl_warmup)


def train_and_save_specs(specs: list[RunSpec], dataset, args: argparse.Namespace,
                         pair: str | None) -> int:
    """Train each spec in turn with a progress bar, save it, print one summary line each."""
    failures = 0
    for spec in specs:
        end = _train_with_bar(spec, dataset, args.quiet)
        path = save_run(end["model"], spec.model_config, spec.train_config, end["history"],
                        spec.name, args.root, dataset=args.dataset, status=end["status"],
                        reason=end["reason"], pair=pair, overwrite=args.overwrite)
        final = end["history"][-1] if end["history"] else {}
        print(f"{spec.name}: {end['status']} in {end['seconds']:.1f}s "
              f"(test recon {final.get('test_recon', float('nan')):.2f}, "
              f"kl {final.get('test_kl', float('nan')):.2f}) -> {path}")
        if end["status"] == "diverged":
            print(f"  {end['reason']}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


def cmd_train(args: argparse.Namespace) -> int:
    dataset = load_dataset(args.dataset, root=args.data_root)
    base = args.name or f"{args.kind}-{dataset.name.split(':')[0].replace('/', '_')}-z{args.latent_dim}"
    validate_run_name(base)
    if not args.name:
        base = unique_run_name(base, args.root)
    kinds = ["ae", "vae"] if args.kind == "pair" else [args.kind]
    specs = [RunSpec(f"{base}-{k}" if args.kind == "pair" else base,
                     _model_config(args, k, dataset.image_shape), _train_config(args, args.beta))
             for k in kinds]
    return train_and_save_specs(specs, dataset, args, pair=base if args.kind == "pair" else None)


def cmd_list(args: argparse.Namespace) -> int:
    infos = list_runs(args.root)
    if not infos:
        print(f"No runs in {args.root}. Train one: python -m vae_core train --kind pair")
        return 0
    print(f"{'name':<28} {'status':<9} {'kind':<4} {'beta':>5} {'z':>3} {'dataset':<14} "
          f"{'epochs':>6} {'recon':>8} {'kl':>7}")
    for r in infos:
        if r.status == "broken":
            print(f"{r.name:<28} broken    {r.reason}")
            continue
        beta = f"{r.beta:g}" if r.kind == "vae" else "-"
        print(f"{r.name:<28} {r.status:<9} {r.kind:<4} {beta:>5} {r.latent_dim:>3} "
              f"{r.dataset[:14]:<14} {r.epochs:>6} {r.final.get('recon', float('nan')):>8.2f} "
              f"{r.final.get('kl', float('nan')):>7.2f}")
    return 0


def _add_training_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits",
                   help="digits (bundled, offline), mnist, fashion-mnist, or idx:PATH / a folder "
                        "of IDX files (default: digits)")
    p.add_argument("--latent-dim", type=int, default=2, help="size of z (default: 2, plottable)")
    p.add_argument("--arch", choices=["mlp", "conv"], default="mlp",
                   help="encoder/decoder type, shared by AE and VAE (default: mlp)")
    p.add_argument("--hidden", type=int, nargs="+",
                   help="MLP widths or conv channels, input side first (default: 256 128 for "
                        "mlp, 32 64 for conv)")
    p.add_argument("--epochs", type=int, default=30, help="passes over the training set (default: 30)")
    p.add_argument("--batch-size", type=int, default=128, help="images per step (default: 128)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: 1e-3)")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds weights, shuffling and noise; same seed = same history (default: 0)")
    p.add_argument("--kl-warmup", type=int, default=0,
                   help="ramp the KL weight from 0 to beta over this many epochs (default: 0, off)")
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda…")
    p.add_argument("--root", default="checkpoints", help="folder of saved runs (default: checkpoints)")
    p.add_argument("--data-root", default="data",
                   help="where torchvision data sets are downloaded (default: data)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing run of the same name (default: refuse)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vae_core",
                                     description="VAE Lab: train and inspect small AE and VAE runs.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train an AE, a VAE, or a fair AE+VAE pair and save it",
                       description="Train and save runs under --root (one folder per run).")
    p.add_argument("--kind", choices=["ae", "vae", "pair"], default="pair",
                   help="pair = AE and VAE with the same seed, data and architecture, saved as "
                        "NAME-ae and NAME-vae (default: pair)")
    p.add_argument("--beta", type=float, default=1.0,
                   help="weight of the KL term, recon + beta * KL (VAE only; default: 1)")
    p.add_argument("--name", help="run name (letters, digits, . _ -); default: made from the settings")
    _add_training_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("list", help="list saved runs, broken ones included")
    p.add_argument("--root", default="checkpoints", help="folder of saved runs (default: checkpoints)")
    p.set_defaults(func=cmd_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DatasetError, RunError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
