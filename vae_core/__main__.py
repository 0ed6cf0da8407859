"""The command line: ``python -m vae_core train|list …`` (``--help`` on each explains the flags)."""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from vae_core.config import ModelConfig, TrainConfig, default_hidden
from vae_core.data import DatasetError, load_dataset
from vae_core.jobs import (DEFAULT_SWEEP_BETAS, QUICK_PAIR_BATCH, QUICK_PAIR_EPOCHS,
                           QUICK_PAIR_LR, SCHEDULER_ENV, EngineError, Job, RunSpec,
                           TrainingEngine, check_scheduler_address, close_local_cluster,
                           local_cluster_running, parse_betas, plan_runs)
from vae_core.analysis.posterior import DEFAULT_IWAE_K
from vae_core.store.run_format import display_name, final_metrics, validate_run_name
from vae_core.store.runs import list_runs, unique_run_name
from vae_core.store.validate import RunError, check_device, check_writable_folder


def printable(text: str) -> str:
    """``text`` safe for a terminal: a folder name's escape sequences or line ends are shown as
    ``\\x1b``, ``\\n``…, never sent raw (they could rewrite the screen)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in display_name(text))


def time_limit(text: str) -> float:
    """``--time-limit``: seconds, a finite number >= 0 (0 = no limit)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0 (0 = no limit), "
                                         f"got {text!r}")
    return value


def scheduler_address(text: str) -> str:
    """``--scheduler``: tcp://HOST:PORT or tls://HOST:PORT, checked before anything connects."""
    try:
        return check_scheduler_address(text)
    except EngineError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _progress_line(label: str, rec: dict, width: int = 28) -> str:
    p = rec.get("progress", 0.0)
    filled = int(round(p * width))
    secs = rec.get("seconds", 0.0)
    eta = secs * (1 - p) / p if p > 0 else 0.0
    return (f"\r{label:>10} [{'#' * filled}{'.' * (width - filled)}] {p * 100:5.1f}% "
            f"ep {rec.get('epoch', 0)} recon {rec.get('recon', 0):7.2f} kl {rec.get('kl', 0):6.2f} "
            f"{secs:5.1f}s eta {eta:4.0f}s")


def _model_config(args: argparse.Namespace, kind: str, input_shape) -> ModelConfig:
    hidden = tuple(args.hidden) if args.hidden else default_hidden(args.arch)
    return ModelConfig(kind=kind, latent_dim=args.latent_dim, arch=args.arch, hidden=hidden,
                       input_shape=input_shape)


def _train_config(args: argparse.Namespace, beta: float) -> TrainConfig:
    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, beta=beta,
                       seed=args.seed, device=args.device, kl_warmup_epochs=args.kl_warmup)


def _print_records(job: Job, shown: dict[str, int], tty: bool, last_print: list[float]) -> None:
    """The bar of the run training now, from the records the workers stream back; without a
    terminal, one line per epoch instead."""
    for spec in job.runs:
        records = job.records.get(spec.name, [])
        for rec in records[shown.get(spec.name, 0):]:
            if rec["type"] == "epoch" and not tty:
                print(_progress_line(spec.name, rec).strip() + f" | test recon "
                      f"{rec['test_recon']:.2f} kl {rec['test_kl']:.2f}", file=sys.stderr)
        shown[spec.name] = len(records)
        now = time.perf_counter()
        if tty and records and spec.name not in job.results and now - last_print[0] > 0.2:
            print(_progress_line(spec.name, records[-1]), end="", file=sys.stderr, flush=True)
            last_print[0] = now


def train_and_save_specs(specs: list[RunSpec], dataset, args: argparse.Namespace,
                         group: str | None, interleave: bool = True) -> tuple[int, Job]:
    """Submit the runs as one job to the engine (a local cluster, or ``--scheduler``), show its
    streamed progress, and print one summary line per saved run. Ctrl-C stops the job and keeps
    what was trained."""
    own_cluster = args.scheduler is None and not local_cluster_running()
    engine = TrainingEngine(args.scheduler, n_workers=1, data_root=args.data_root,
                            time_limit_s=args.time_limit or None)
    tty = sys.stderr.isatty() and not args.quiet
    try:
        job = engine.submit(specs, args.dataset, root=args.root, group=group, interleave=interleave,
                            data=dataset, overwrite=args.overwrite)
        shown: dict[str, int] = {}
        last_print = [0.0]
        while job.active:
            try:
                time.sleep(0.1)
                status = engine.status()
                if job.state == "queued" and status.state == "unavailable":
                    job.stop.set()
                    raise EngineError(status.message)
                if not args.quiet:
                    _print_records(job, shown, tty, last_print)
            except KeyboardInterrupt:
                print("\nstopping (keeps what was trained; Ctrl-C again to quit)…", file=sys.stderr)
                job.stop.set()
        if not args.quiet:
            _print_records(job, shown, False, last_print)
    finally:
        engine.shutdown()
        if own_cluster:  # started for this command (not one a caller in-process shares)
            close_local_cluster()
    if tty:
        print(file=sys.stderr)
    failures = 0
    for spec in specs:
        result = job.results.get(spec.name)
        if result is None:
            continue
        final = final_metrics(job.records.get(spec.name, []))
        print(f"{result['name']}: {result['status']} in {result['seconds']:.1f}s "
              f"(test recon {final.get('recon', float('nan')):.2f}, "
              f"kl {final.get('kl', float('nan')):.2f}) -> {result['path'] or 'not saved'}")
        if result["status"] == "diverged":
            print(f"  {result['reason']}", file=sys.stderr)
            failures += 1
        elif result["status"] == "collapsed":  # a valid model, saved, but say why it draws one image
            print(f"  warning: {result['reason']}", file=sys.stderr)
    if job.state == "failed":
        print(f"error: training failed: {job.error}", file=sys.stderr)
        failures += 1
    return (1 if failures else 0), job


def preflight(args: argparse.Namespace, specs: list[RunSpec], group: str | None = None) -> None:
    """Every user error that can be found before training, raised as ``ValueError``/``RunError``
    (``main`` prints one line and exits 2): the runs folder is writable, the device exists here,
    and each run name (and the pair/sweep name) is valid and free unless ``--overwrite``. Ranges
    and types were checked when ``specs``' configs were built."""

    check_writable_folder(args.root, "--root")
    check_device(args.device)
    names = [s.name for s in specs]
    for name in names + ([group] if group else []):
        validate_run_name(name)
    root = Path(args.root)
    taken = [n for n in names if os.path.lexists(root / n)]
    if taken and not args.overwrite:
        raise RunError(f"run name(s) already used in {root}: {', '.join(taken)}; choose another "
                       "--name, delete them, or pass --overwrite")


def cmd_train(args: argparse.Namespace) -> int:
    check_writable_folder(args.root, "--root")
    check_device(args.device)
    train_cfg = _train_config(args, args.beta)  # ranges and types, before the data set loads
    dataset = load_dataset(args.dataset, root=args.data_root)
    base = args.name or f"{args.kind}-{dataset.name.split(':')[0].replace('/', '_')}-z{args.latent_dim}"
    validate_run_name(base)
    if not args.name:
        base = unique_run_name(base, args.root)
    specs, group = plan_runs(args.kind, base, _model_config(args, "vae", dataset.image_shape),
                             train_cfg)
    preflight(args, specs, group)
    return train_and_save_specs(specs, dataset, args, group=group)[0]


LIST_NOTE = ("recon, kl: the last epoch's test numbers, one sampled z per image (what training "
             "logged); `evaluate` averages --iwae-k samples per image, so its VAE recon differs "
             "slightly. epochs: completed/planned.")


def cmd_list(args: argparse.Namespace) -> int:
    infos = list_runs(args.root)
    if not infos:
        print(f"No runs in {args.root}. Train one: python -m vae_core train --kind pair")
        return 0
    print(f"{'name':<28} {'status':<9} {'kind':<4} {'beta':>5} {'z':>3} {'dataset':<14} "
          f"{'epochs':>7} {'recon':>8} {'kl':>7}")
    for r in infos:
        name = printable(r.name)
        if r.status == "broken":
            print(f"{name:<28} broken    {printable(r.reason)}")
            continue
        beta = f"{r.beta:g}" if r.kind == "vae" else "-"
        kl = f"{r.final['kl']:.2f}" if "kl" in r.final else "-"  # an AE has no KL term
        epochs = f"{r.epochs_trained}/{r.epochs}"
        print(f"{name:<28} {r.status:<9} {r.kind:<4} {beta:>5} {r.latent_dim:>3} "
              f"{printable(r.dataset)[:14]:<14} {epochs:>7} {r.final.get('recon', float('nan')):>8.2f} "
              f"{kl:>7}")
    print(f"\n{LIST_NOTE}")
    return 0


def _resolve_run_path(run: str, root: str):
    """RUN is a run folder path, or a run name under ``root``."""

    path = Path(run).expanduser()
    if path.is_dir():
        return path
    validate_run_name(run)
    path = Path(root) / run
    if not path.is_dir():
        raise RunError(f"No run folder {run!r} (looked for a path and for {path})")
    return path


EVALUATE_EPILOG = """JSON keys (per image, nats where a log-probability):
  centring             |mean of the codes| (the AE's z; one z ~ q(z|x) per image for the
                       VAE, or its mu with --codes mean); lower is better
  scale_error          mean over dims of |std_d - 1|; lower is better
  prior_kl             KL(N(mean, cov of the codes) || N(0, I)); lower is better
  coverage             share of the prior's 2-sigma disk (12x12 grid cells) holding a code
  largest_gap          radius (in stds) of the largest empty circle in the standardised codes'
                       2-sigma disk (scale-free)
  smoothness           {"mean", "max"} pixel change between neighbouring cells (step 0.1 std)
                       of the decoded grid over the codes' own 2-sigma box; lower is smoother
  prior_confident      share of 1,000 decoded z ~ N(0, I) the judge classifier labels with
                       p >= 0.9, each class counted up to its share of the data
  prior_confident_raw  the same share without the per-class cap
  prior_class_entropy  entropy of those samples' predicted classes (ln 10 = all ten)
  fitted_confident, fitted_confident_raw, fitted_class_entropy
  box_confident, box_confident_raw, box_class_entropy
                       the same for 1,000 draws from a Gaussian fitted to the model's own
                       test codes (mean, covariance) and uniform over their bounding box
  prior_classes_covered, fitted_classes_covered, box_classes_covered
                       classes with >= 0.2/K of the draws judged as them with p >= 0.9
  prior_in_gaps, fitted_in_gaps, box_in_gaps
                       share of draws farther from every test code than gap_radius (95th
                       percentile of the codes' nearest-neighbour distances); ~0.05 = no gaps
  prior_class_counts, fitted_class_counts, box_class_counts
                       confident draws per class (the class histogram)
  generation_n, gap_radius   draws per source (1,000); the in-a-gap distance
  code_span            the codes span +-code_span (0.5-99.5 percentile box, centred square)
  collapsed            true for a VAE with no active unit or KL < 0.1 nat; false for an AE
  recon                test -log p(x|z), averaged over iwae_k samples z ~ q(z|x) for a VAE
                       (`list` shows the last epoch's one-sample estimate, so it differs a bit)
  kl, elbo, iwae_nll, kl_per_dim, active_units   VAE only (null for the AE)
  coverage_standardised, recon_floor, intervals (95% bootstrap per metric; overlapping = tie)
  run, kind, dataset, n_images, latent_dim, view, codes, iwae_k, seed, bootstrap,
  classifier_accuracy, seconds                   bookkeeping
Full definitions: the docstring of vae_core/analysis/scorecard.py."""


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from vae_core.analysis.classifier import load_or_train
    from vae_core.analysis.scorecard import scorecard
    from vae_core.store.run_format import load_run

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
                     codes=args.codes, seed=args.seed, run=run.name)
    if args.json:
        print(json.dumps(card, indent=1))
        return 0
    for key, value in card.items():
        if key == "intervals":
            continue  # printed below, one per metric
        if isinstance(value, float):
            value = f"{value:.4f}"
        elif isinstance(value, dict):
            value = ", ".join(f"{k} {v:.4f}" for k, v in value.items())
        elif isinstance(value, list):
            value = "[" + ", ".join(f"{v:.3f}" for v in value) + "]"
        print(f"{key:<20} {value}")
    for key, value in (card.get("intervals") or {}).items():
        if value is not None:
            print(f"{key + ' 95%':<20} [{value[0]:.4f}, {value[1]:.4f}]")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from vae_core.analysis.sweep import sweep_point

    try:
        betas = parse_betas(args.betas)  # the dashboard's rules
    except ValueError as e:
        raise ValueError(f"--betas: {e}") from None
    check_writable_folder(args.root, "--root")
    check_device(args.device)
    _train_config(args, betas[0])  # ranges and types, before the data set loads
    dataset = load_dataset(args.dataset, root=args.data_root)
    base = args.name or f"sweep-{dataset.name.split(':')[0].replace('/', '_')}-z{args.latent_dim}"
    validate_run_name(base)
    if not args.name:
        base = unique_run_name(base, args.root)
    specs, group = plan_runs("sweep", base, _model_config(args, "vae", dataset.image_shape),
                             _train_config(args, 1.0), betas)
    preflight(args, specs, group)
    code, job = train_and_save_specs(specs, dataset, args, group=group, interleave=False)
    from vae_core.store.run_format import load_run

    points = []
    print(f"\nsweep {base}: rate = test KL, distortion = test recon (nats per image)")
    print(f"{'beta':>6} {'rate':>8} {'distortion':>11} {'recon+KL':>9} {'active':>7}")
    for spec in specs:
        saved = job.results.get(spec.name, {}).get("path")
        if not saved:
            print(f"{spec.train_config.beta:>6g}  not trained")
            continue
        run = load_run(saved)
        if run.status == "diverged":
            print(f"{spec.train_config.beta:>6g}  diverged")
            continue
        p = sweep_point(run.name, run.model, run.train_config.beta,
                        run.train_config.kl_warmup_epochs, dataset)
        points.append(p)
        flag = "  <- posterior collapse (no active unit or KL < 0.1 nat)" if p.collapsed else ""
        print(f"{p.beta:>6g} {p.rate:>8.3f} {p.distortion:>11.3f} {p.rate + p.distortion:>9.3f} "
              f"{p.active_units:>4}/{p.latent_dim}{flag}")
    if args.plot and points:
        from vae_core.viz.evidence_figures import sweep_figure

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
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", type=scheduler_address,
                   default=os.environ.get(SCHEDULER_ENV),
                   help="train on an existing Dask cluster (dask scheduler + dask worker; "
                        "tls://HOST:PORT with Dask's TLS settings, see README) instead of a local "
                        f"one started for this command (default: ${SCHEDULER_ENV} if set)")
    p.add_argument("--time-limit", type=time_limit, default=0, metavar="SECONDS",
                   help="stop the job after this many seconds, keeping what was trained "
                        "(default: 0, no limit)")


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
    p.add_argument("--iwae-k", type=int, default=DEFAULT_IWAE_K,
                   help=f"importance samples per image for iwae_nll (default: {DEFAULT_IWAE_K})")
    p.add_argument("--view", choices=["pca", "first"], default="pca",
                   help="2-D view for coverage/largest_gap/smoothness above latent 2: the codes' "
                        "top-2 PCA plane (default; unused dims cannot fool it) or dims 0 and 1")
    p.add_argument("--codes", choices=["sampled", "mean"], default="sampled",
                   help="the VAE's codes for the shape numbers: one z ~ q(z|x) per image "
                        "(default, what should match N(0, I)) or the posterior means mu")
    p.add_argument("--seed", type=int, default=0, help="seeds the sampled metrics (default: 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object (keys below)")
    p.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("sweep", help="train VAEs that differ only in beta; plot rate vs distortion",
                       description="Train one VAE per beta (same seed, data and architecture), saved "
                                   "as NAME-b<beta> in group NAME, then print rate (KL), distortion "
                                   "(recon) and active units per beta and flag posterior collapse.")
    p.add_argument("--betas", default=",".join(f"{b:g}" for b in DEFAULT_SWEEP_BETAS),
                   help="comma-separated betas (default: %(default)s)")
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
    except (DatasetError, RunError, EngineError, ValueError, OSError) as e:
        print("error: " + " ".join(str(e).split()), file=sys.stderr)  # one line, always
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
