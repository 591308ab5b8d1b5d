"""Benchmark: what running on a local Ray instance costs against running in-process.

    python -m bench.ray_overhead                   # encode + sweep (~10 min on 2 busy cores)
    python -m bench.ray_overhead --skip sweep      # encode only
    python -m bench.ray_overhead --passages 500    # a smaller encode

Everything runs in one process, in-process first, then on a local Ray instance of
``--cpus`` CPUs (default 2) started by `core.scale.session.ray_session`; ratios are
ray / in-process wall time (baseline in-process = 1.00).

1. Encode: ``--passages`` stdlib-docs passages (default 1,000) with MiniLM at batch 64.
   In-process: `Encoder.encode` with the model already loaded. Ray: `encode_with_ray`
   with one actor using all CPUs (end to end: dataset creation, actor start, model
   load in the actor, encode, reassembly, artifact write into a temporary cache),
   and the same for 64 passages, whose time is
   almost all fixed cost, so ``ray(n) - ray(64)`` estimates the per-passage
   rate on Ray. ``--rounds`` interleaved rounds, medians reported (the load of
   shared cores drifts). Also ``1 - cos`` between the two results.
2. Sweep: the ``quick`` preset on stdlib-docs MiniLM (3,336 x 384, 2,309 dataset
   queries) when the workspace in $DENSESCOPE_HOME has it cached, else the synthetic
   stand-in of bench/sweep.py. In-process `run_sweep` on all CPUs, then
   `sweep_with_ray` with 1 thread per task (tasks in parallel, one per CPU) and
   with all CPUs per task (one task at a time, as in-process), ``--rounds``
   interleaved rounds, medians reported. Recall and size columns are compared
   with the in-process rows.

Also printed: the per-unit costs the scaling plan (docs/SCALING.md) extrapolates
from -- passages/s per core, build and search seconds per configuration.
The Ray session's temp folder is ``$DENSESCOPE_HOME/ray``; the encode's artifact
goes to a temporary cache that is deleted at the end.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench/README.md (Sweep)

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from core.analysis.sweep import estimate_seconds, ground_truth, preset_configs, run_sweep
from core.encode.registry import make_encoder
from core.scale.encode import encode_with_ray
from core.scale.session import ray_session
from core.scale.sweep import comparable, sweep_with_ray
from core.store.artifacts import ArtifactCache
from core.workspace import Workspace

K = 10


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def max_one_minus_cos(a: np.ndarray, b: np.ndarray) -> float:
    return float((1 - (a * b).sum(axis=1)).max())


def encode_bench(n: int, cpus: int, rounds: int, batch_size: int = 64) -> dict:
    import torch

    print(f"\n== encode: {n:,} stdlib-docs passages, MiniLM, batch {batch_size}, {cpus} CPUs, load {_load()}")
    ds = Workspace.open("stdlib-docs", "minilm", dataset_params={"limit": n, "seed": 0}).dataset
    small = Workspace.open("stdlib-docs", "minilm", dataset_params={"limit": 64, "seed": 0}).dataset
    torch.set_num_threads(cpus)
    load_s, enc = timed(lambda: make_encoder("minilm"))
    enc.encode(small.texts[:16], batch_size=batch_size)  # warm up
    local, ray_full, ray_fixed = [], [], []
    with tempfile.TemporaryDirectory(prefix="dsbench-") as tmp, ray_session(num_cpus=cpus) as session:
        print(f"   {session.info['text']}, temp folder {session.temp_dir}; model load in-process {load_s:.1f} s")
        cache = ArtifactCache(Path(tmp) / "artifacts")
        ws = Workspace(ds, "minilm", cache=cache)
        ws_small = Workspace(small, "minilm", cache=cache)
        for i in range(rounds):  # interleaved: the load of these shared cores drifts
            s, x0 = timed(lambda: enc.encode(ds.texts, kind="passage", batch_size=batch_size))
            local.append(s)
            s, _ = timed(lambda: encode_with_ray(ws_small, batch_size=batch_size, force=True))
            ray_fixed.append(s)
            s, x1 = timed(lambda: encode_with_ray(ws, batch_size=batch_size, force=True))
            ray_full.append(s)
            print(
                f"   round {i + 1}: in-process {local[-1]:.1f} s, ray {ray_full[-1]:.1f} s, "
                f"ray 64 passages {ray_fixed[-1]:.1f} s (load {_load()})"
            )
        meta = cache.load("embeddings", ws.embeddings_key)[1]
    lo, rf, fx = (float(np.median(v)) for v in (local, ray_full, ray_fixed))
    print(f"   in-process (model loaded once): {lo:.1f} s = {n / lo:.1f} passages/s ({n / lo / cpus:.1f} per core)")
    print(
        f"   ray, 1 actor x {meta['threads_per_actor']} threads, blocks of {meta['block_rows']}: {rf:.1f} s end to "
        f"end; 64 passages (~fixed cost: plan, actor start, model load in the actor): {fx:.1f} s"
    )
    print(f"   ray / in-process (medians): {rf / lo:.2f} end to end; {(rf - fx) / lo:.2f} without the fixed cost")
    print(f"   max 1 - cos (ray vs in-process): {max_one_minus_cos(x0, x1):.1e}")
    return {"local_s": lo, "ray_s": rf, "fixed_s": fx, "per_core": n / lo / cpus}


def _load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def sweep_data() -> tuple[np.ndarray, np.ndarray, str]:
    from bench.sweep import stdlib_or_standin

    return stdlib_or_standin(encode=False)


def sweep_bench(cpus: int, rounds: int) -> None:
    xb, xq, name = sweep_data()
    n, d = xb.shape
    print(f"\n== quick preset on {name}: base {n:,} x {d}, {xq.shape[0]:,} queries, k={K}, load {_load()}")
    _, gt = ground_truth(xb, xq, K, "cosine")
    configs = preset_configs("quick", n=n, d=d)
    est = estimate_seconds(configs, n, d, xq.shape[0])
    print(f"   {len(configs)} configurations; estimate_seconds {est:.1f} s")
    variants = {"in-process": None, "ray 1 thread/task": 1, f"ray {cpus} threads/task": cpus}
    walls: dict[str, list[float]] = {v: [] for v in variants}
    local = None
    with ray_session(num_cpus=cpus) as session:
        print(f"   {session.info['text']}")
        for i in range(rounds):  # interleaved: the load of these shared cores drifts
            for variant, threads in variants.items():
                if threads is None:
                    s, rows = timed(
                        lambda: list(run_sweep(xb, xq, gt, metric="cosine", configs=configs, k=K, threads=cpus))
                    )
                    local = local or rows
                else:
                    s, rows = timed(
                        lambda t=threads: list(
                            sweep_with_ray(xb, xq, gt, metric="cosine", configs=configs, k=K, threads=t)
                        )
                    )
                walls[variant].append(s)
                ref = {r["label"]: r for r in local}
                same = sum(
                    all(
                        _eq(comparable(r).get(c), comparable(ref[r["label"]]).get(c))
                        for c in ("recall_at_k", "bytes_per_vector", "status")
                    )
                    for r in rows
                )
                print(
                    f"   round {i + 1}, {variant}: {s:.1f} s; {same}/{len(rows)} rows with the in-process recall "
                    f"and size (load {_load()})"
                )
    base = float(np.median(walls["in-process"]))
    for variant, w in walls.items():
        print(f"   {variant:22s} median {np.median(w):6.1f} s   ray / in-process {np.median(w) / base:.2f}")
    ok = [r for r in local if r["status"] == "ok"]
    builds = {(r["method"], r["train_s"], r["build_s"]): r["train_s"] + r["build_s"] for r in ok}
    slowest = max(builds, key=builds.get)
    search = [r["search_s"] for r in ok]
    print(
        f"   per unit (in-process, {cpus} threads): {len(builds)} builds, {sum(builds.values()):.1f} s in all, "
        f"median {np.median(list(builds.values())):.2f} s, max {builds[slowest]:.1f} s ({slowest[0]}); "
        f"batch search of {xq.shape[0]:,} queries median {np.median(search) * 1e3:.0f} ms, max {max(search):.2f} s"
    )


def _eq(a, b) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip", default="", help="comma list of: encode, sweep")
    ap.add_argument("--passages", type=int, default=1000)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance and in-process threads")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds of each (medians are reported)")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    import ray

    print(f"ray {ray.__version__}, load {os.getloadavg()}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    if "encode" not in skip:
        encode_bench(args.passages, args.cpus, args.rounds)
    if "sweep" not in skip:
        sweep_bench(args.cpus, args.rounds)


if __name__ == "__main__":
    main()
