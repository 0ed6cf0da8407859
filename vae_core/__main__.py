"""The command line: ``python -m vae_core train|list …`` (``--help`` on each explains the flags)."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence

from .config import ModelConfig, TrainConfig
from .data import DatasetError, load_dataset
from .jobs import QUICK_PAIR_BATCH, QUICK_PAIR_EPOCHS, QUICK_PAIR_HIDDEN, QUICK_PAIR_LR, RunSpec
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
    hidden = tuple(args.hidden) if args.hidden else ((32, 64) if args.arch == "conv" else QUICK_PAIR_HIDDEN)
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
                        reason=end["reason"], pair=pair, overwrite=args.overwrite,
                        snapshots=end.get("snapshots"))
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


def _resolve_run_path(run: str, root: str):
    """RUN is a run folder path, or a run name under ``root``."""
    from pathlib import Path

    path = Path(run).expanduser()
    if path.is_dir():
        return path
    validate_run_name(run)
    path = Path(root) / run
    if not path.is_dir():
        raise RunError(f"No run folder {run!r} (looked for a path and for {path})")
    return path


EVALUATE_EPILOG = """JSON keys (per image, nats where a log-probability):
  centring             |mean of the codes| (mu for the VAE, z for the AE); lower is better
  scale_error          mean over dims of |std_d - 1|; lower is better
  prior_kl             KL(N(mean, cov of the codes) || N(0, I)); lower is better
  coverage             share of the prior's 2-sigma disk (12x12 grid cells) holding a code
  largest_gap          radius of the largest empty circle centred inside that disk
  smoothness           {"mean", "max"} pixel change between neighbouring cells (step 0.1)
                       of the decoded grid over [-2, 2]^2; lower is smoother
  prior_confident      share of 1,000 decoded z ~ N(0, I) the judge classifier labels with
                       p >= 0.9, each class counted up to its share of the data
  prior_confident_raw  the same share without the per-class cap
  prior_class_entropy  entropy of those samples' predicted classes (ln 10 = all ten)
  recon                test -log p(x|z)
  kl, elbo, iwae_nll, kl_per_dim, active_units   VAE only (null for the AE)
  run, kind, dataset, n_images, latent_dim, view, iwae_k, seed,
  classifier_accuracy, seconds                   bookkeeping
Full definitions: the docstring of vae_core/metrics.py."""


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from .classifier import load_or_train
    from .metrics import scorecard
    from .runs import load_run

    path = _resolve_run_path(args.run, args.root)
    run = load_run(path)
    if run.status == "diverged":
        raise RunError(f"{run.name} diverged ({run.reason}); its numbers would mean nothing")
    spec = args.dataset or run.dataset or "digits"
    dataset = load_dataset(spec, root=args.data_root)
    if tuple(dataset.image_shape) != tuple(run.model_config.input_shape):
        raise ValueError(f"{run.name} takes images {run.model_config.input_shape}, but {spec} "
                         f"has {dataset.image_shape}")
    if not args.quiet:
        print(f"judge classifier for {dataset.name} (cached in {args.root}/.classifiers)…",
              file=sys.stderr)
    judge = load_or_train(dataset, args.root)
    card = scorecard(run.model, dataset, judge, iwae_k=args.iwae_k, view=args.view,
                     seed=args.seed, run=run.name)
    if args.json:
        print(json.dumps(card, indent=1))
        return 0
    for key, value in card.items():
        if isinstance(value, float):
            value = f"{value:.4f}"
        elif isinstance(value, dict):
            value = ", ".join(f"{k} {v:.4f}" for k, v in value.items())
        elif isinstance(value, list):
            value = "[" + ", ".join(f"{v:.3f}" for v in value) + "]"
        print(f"{key:<20} {value}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from .metrics import sweep_point, sweep_run_name

    try:
        betas = [float(b) for b in args.betas.split(",") if b.strip()]
    except ValueError as e:
        raise ValueError(f"--betas must be numbers separated by commas, got {args.betas!r}") from e
    if not betas or any(b < 0 for b in betas) or len(set(betas)) != len(betas):
        raise ValueError(f"--betas must be distinct numbers >= 0, got {args.betas!r}")
    dataset = load_dataset(args.dataset, root=args.data_root)
    base = args.name or f"sweep-{dataset.name.split(':')[0].replace('/', '_')}-z{args.latent_dim}"
    validate_run_name(base)
    if not args.name:
        base = unique_run_name(base, args.root)
    specs = [RunSpec(sweep_run_name(base, b), _model_config(args, "vae", dataset.image_shape),
                     _train_config(args, b)) for b in betas]
    for spec in specs:
        validate_run_name(spec.name)
    code = train_and_save_specs(specs, dataset, args, pair=base)
    from .runs import load_run

    points = []
    print(f"\nsweep {base}: rate = test KL, distortion = test recon (nats per image)")
    print(f"{'beta':>6} {'rate':>8} {'distortion':>11} {'recon+KL':>9} {'active':>7}")
    for spec in specs:
        run = load_run(f"{args.root}/{spec.name}")
        if run.status == "diverged":
            print(f"{spec.train_config.beta:>6g}  diverged")
            continue
        p = sweep_point(run.name, run.model, run.train_config.beta,
                        run.train_config.kl_warmup_epochs, dataset)
        points.append(p)
        flag = "  <- posterior collapse (no active unit)" if p.collapsed else ""
        print(f"{p.beta:>6g} {p.rate:>8.3f} {p.distortion:>11.3f} {p.rate + p.distortion:>9.3f} "
              f"{p.active_units:>4}/{p.latent_dim}{flag}")
    if args.plot and points:
        from .figures import sweep_figure

        sweep_figure(points).write_html(args.plot, include_plotlyjs=True)
        print(f"plot -> {args.plot}")
    return code


def _add_training_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits",
                   help="digits (bundled, offline), mnist, fashion-mnist, or idx:PATH / a folder "
                        "of IDX files (default: digits)")
    p.add_argument("--latent-dim", type=int, default=2, help="size of z (default: 2, plottable)")
    p.add_argument("--arch", choices=["mlp", "conv"], default="mlp",
                   help="encoder/decoder type, shared by AE and VAE (default: mlp)")
    p.add_argument("--hidden", type=int, nargs="+",
                   help="MLP widths or conv channels, input side first (default: 128 64 for "
                        "mlp, 32 64 for conv)")
    # Defaults = the dashboard's one-click pair, tuned on digits (a 2-D VAE with fewer epochs
    # is still near collapse); use fewer epochs on MNIST-size data.
    p.add_argument("--epochs", type=int, default=QUICK_PAIR_EPOCHS,
                   help=f"passes over the training set (default: {QUICK_PAIR_EPOCHS}; "
                        "5-10 are plenty on MNIST)")
    p.add_argument("--batch-size", type=int, default=QUICK_PAIR_BATCH,
                   help=f"images per step (default: {QUICK_PAIR_BATCH})")
    p.add_argument("--lr", type=float, default=QUICK_PAIR_LR,
                   help=f"Adam learning rate (default: {QUICK_PAIR_LR:g})")
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

    p = sub.add_parser("evaluate", help="the scorecard of one run on its test split",
                       description="Compute the scorecard (metrics behind each AE-vs-VAE claim) "
                                   "of one run on the test split of its data set.",
                       epilog=EVALUATE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="RUN", help="a run folder path, or a run name under --root")
    p.add_argument("--dataset", help="data set spec (default: the one the run was trained on)")
    p.add_argument("--root", default="checkpoints",
                   help="folder of saved runs; the judge classifier is cached in ROOT/.classifiers "
                        "(default: checkpoints)")
    p.add_argument("--data-root", default="data",
                   help="where torchvision data sets are downloaded (default: data)")
    p.add_argument("--iwae-k", type=int, default=25,
                   help="importance samples per image for iwae_nll (default: 25)")
    p.add_argument("--view", choices=["first", "pca"], default="first",
                   help="2-D view for coverage/largest_gap/smoothness above latent 2 (default: first)")
    p.add_argument("--seed", type=int, default=0, help="seeds the sampled metrics (default: 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object (keys below)")
    p.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("sweep", help="train VAEs that differ only in beta; plot rate vs distortion",
                       description="Train one VAE per beta (same seed, data and architecture), saved "
                                   "as NAME-b<beta> with pair=NAME, then print rate (KL), distortion "
                                   "(recon) and active units per beta and flag posterior collapse.")
    p.add_argument("--betas", default="0,0.25,0.5,1,2,4,8",
                   help="comma-separated betas (default: 0,0.25,0.5,1,2,4,8)")
    p.add_argument("--name", help="sweep id NAME (default: made from the settings)")
    p.add_argument("--plot", metavar="HTML", help="also write the rate-distortion figure to this HTML file")
    _add_training_flags(p)
    p.set_defaults(func=cmd_sweep)

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
