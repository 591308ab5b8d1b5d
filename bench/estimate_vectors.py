"""Benchmark: the sweep's time estimate against its measured wall time on a vector file (issue 20).

    python -m bench.estimate_vectors                     # 50k x 50 ann-benchmarks HDF5, 500 and 5,000 queries
    python -m bench.estimate_vectors --n 100000 --dim 96 --queries 1000

Writes a seeded ann-benchmarks-layout HDF5 (train, test, neighbors; angular) into a temporary folder, plans
the quick preset on it (`plan_sweep`: the estimate the Compression page and the CLI show before a run), runs
it, and prints estimate / measured overall and per method family. Baseline: the measured wall time of the
same sweep in the same process; the target is a ratio within 0.5-2.0.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def write_ann_file(path: Path, n: int, d: int, nq: int, seed: int = 0) -> None:
    import h5py
    import numpy as np

    from core.index.exact import exact_search

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n + nq, d)).astype(np.float32) @ rng.standard_normal((d, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    _, gt = exact_search(x[:n], x[n:], 100, "cosine")
    with h5py.File(path, "w") as f:
        f.attrs["distance"] = "angular"
        f.create_dataset("train", data=x[:n])
        f.create_dataset("test", data=x[n:])
        f.create_dataset("neighbors", data=gt)


def measure(n: int, d: int, nq: int) -> None:
    from core.analysis.sweep import estimate_seconds, group_by_build
    from core.data.loading import load_file
    from core.experiments.compression import plan_sweep, sweep_for_workspace
    from core.store.artifacts import ArtifactCache
    from core.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="densescope-estimate-") as tmp:
        path = Path(tmp) / "ann.hdf5"
        write_ann_file(path, n, d, nq)
        ws = Workspace(load_file(path), cache=ArtifactCache(Path(tmp) / "cache"))
        plan = plan_sweep(ws, preset="quick")
        estimated: dict[str, float] = {}
        for group in group_by_build(plan.configs):
            family = group[0].method
            estimated[family] = estimated.get(family, 0.0) + estimate_seconds(group, plan.n_base, plan.d, plan.nq)
        measured: dict[str, float] = {}
        t0 = last = time.perf_counter()
        for row in sweep_for_workspace(ws, plan=plan):
            now = time.perf_counter()
            measured[row["method"]] = measured.get(row["method"], 0.0) + now - last
            last = now
        total = time.perf_counter() - t0
        print(f"\n{n:,} x {d}, {plan.nq:,} queries, {len(plan.configs)} configurations: "
              f"estimate {plan.estimate_s:.1f} s, measured {total:.1f} s, ratio {plan.estimate_s / total:.2f} "
              "(target 0.5-2.0)")
        print(f"{'method':18s} {'estimate s':>10s} {'measured s':>10s} {'ratio':>6s}")
        for method, seconds in measured.items():
            est = estimated.get(method, 0.0)
            print(f"{method:18s} {est:10.1f} {seconds:10.1f} {est / seconds if seconds else float('nan'):6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=50)
    parser.add_argument("--queries", type=int, nargs="+", default=[500, 5_000])
    args = parser.parse_args()
    for nq in args.queries:
        measure(args.n, args.dim, nq)


if __name__ == "__main__":
    main()
