"""Training engine on a local Dask cluster: submit-to-first-record latency and jobs per minute.

    python benchmarks/engine_throughput.py --workers 1 --jobs 12
    python benchmarks/engine_throughput.py --workers 2 --jobs 12

Starts the embedded LocalCluster with ``--workers`` processes, waits until the workers are warm,
then (1) submits single digits pairs one at a time on the idle cluster and reports the time from
``submit`` to the first streamed record, (2) submits ``--jobs`` digits pairs (``--epochs`` each)
at once and reports jobs finished per minute of wall time.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from vae_core.jobs import (TrainingEngine, close_local_cluster, local_cluster,
                           quick_pair_specs)


def wait_ready(engine: TrainingEngine) -> None:
    while engine.status().state != "ready":
        if engine.status().state == "unavailable":
            raise SystemExit(engine.status().message)
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--probes", type=int, default=5, help="first-record latency samples")
    args = parser.parse_args()

    t0 = time.perf_counter()
    local_cluster(args.workers)
    engine = TrainingEngine(n_workers=args.workers)
    wait_ready(engine)
    print(f"cluster of {engine.max_workers} worker(s) up and warm in "
          f"{time.perf_counter() - t0:.1f} s")
    root = tempfile.mkdtemp(prefix="engine-bench-")
    shape = (1, 8, 8)  # digits

    latencies = []
    for i in range(args.probes):
        start = time.perf_counter()
        job = engine.submit(quick_pair_specs(f"probe{i}", shape, epochs=2), "digits", root=root)
        while job.active and not any(job.records.values()):
            time.sleep(0.002)
        latencies.append(time.perf_counter() - start)
        while job.active:
            time.sleep(0.01)
        assert job.state == "finished", job.error
    print(f"submit -> first record: median {statistics.median(latencies) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms over {args.probes} jobs (idle cluster)")

    start = time.perf_counter()
    jobs = [engine.submit(quick_pair_specs(f"load{i}", shape, epochs=args.epochs), "digits",
                          root=root) for i in range(args.jobs)]
    while any(j.active for j in jobs):
        time.sleep(0.05)
    wall = time.perf_counter() - start
    lost = [j for j in jobs if j.state != "finished"]
    waits = sorted(j.started - j.submitted for j in jobs if j.started)
    print(f"{args.jobs} digits pairs ({args.epochs} epochs) on {args.workers} worker(s): "
          f"{wall:.1f} s wall, {args.jobs / wall * 60:.1f} jobs/min, {len(lost)} not finished, "
          f"queue wait p50 {waits[len(waits) // 2]:.1f} s max {waits[-1]:.1f} s")
    engine.shutdown()
    close_local_cluster()


if __name__ == "__main__":
    main()
