"""Benchmark: BEBR search, compiled kernels against the numpy reference, with plain binary codes as the baseline.

    python -m bench.bebr                      # 20k x 384 random unit vectors, 200 queries, bits 2, 3, 4
    python -m bench.bebr --n 5000 --bits 2    # smaller
    python -m bench.bebr --metric l2 --threads 1

For each ``bits``, in one process on the same data:

- baseline: plain binary codes of the same total bits, ``bits * d`` sign bits (of a random
  Gaussian projection to ``bits * d`` dims) in a faiss ``IndexBinaryFlat``, Hamming top-k;
- BEBR numpy reference (`search_bebr_reference`: decode every block, ``faiss.knn``);
- BEBR kernels (`search_bebr`: lookup tables up to ``LOOKUP_MAX_QUERIES`` queries, decode +
  matmul above).

Printed: batch milliseconds per query and QPS (all queries in one call), p50 single-query
latency, and each as a ratio to plain binary (1.00); rounds are interleaved and the median of
each kept. The reference's single-query latency is sampled on fewer queries (it is slow). The
kernels' results are checked against the reference (ids equal, largest score difference).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import statistics
import time

import faiss
import numpy as np

from core.analysis.sweep import limit_threads
from core.index.binary import search_bebr, search_bebr_reference
from core.index.registry import build


def unit_vectors(n: int, d: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def batch_ms(search, queries: np.ndarray) -> float:
    t0 = time.perf_counter()
    search(queries)
    return (time.perf_counter() - t0) * 1e3 / queries.shape[0]


def p50_ms(search, queries: np.ndarray) -> float:
    times = []
    for i in range(queries.shape[0]):
        t0 = time.perf_counter()
        search(queries[i : i + 1])
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def bench_bits(xb, xq, bits: int, metric: str, k: int, rounds: int, ref_single: int) -> list[tuple]:
    d = xb.shape[1]
    projection = np.random.default_rng(bits).standard_normal((d, bits * d)).astype(np.float32)
    binary = faiss.IndexBinaryFlat(bits * d)
    binary.add(np.packbits(xb @ projection > 0, axis=1))
    qcodes = np.packbits(xq @ projection > 0, axis=1)
    built = build("bebr", xb, metric, {"bits": bits, "center": True})

    t0 = time.perf_counter()
    search_bebr(built, xq[:1], k, {})
    search_bebr(built, xq, k, {})
    first_s = time.perf_counter() - t0  # numba: compile, or load from its disk cache

    D_ref, I_ref = search_bebr_reference(built, xq, k, {})
    checks = []
    for nq in (1, xq.shape[0]):  # one query: lookup tables; all: decode + matmul
        D, I = search_bebr(built, xq[:nq], k, {})
        checks.append(f"{np.mean(I == I_ref[:nq]):.4f} ids equal, max |dD| {np.abs(D - D_ref[:nq]).max():.1e}")

    cases = {  # name: (search function, its queries, how many of them are timed one by one)
        "plain binary (baseline)": (lambda q: binary.search(q, k), qcodes, qcodes.shape[0]),
        "BEBR numpy reference": (lambda q: search_bebr_reference(built, q, k, {}), xq, ref_single),
        "BEBR kernels": (lambda q: search_bebr(built, q, k, {}), xq, xq.shape[0]),
    }
    batch: dict[str, list[float]] = {name: [] for name in cases}
    single: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (search, queries, n_single) in cases.items():
            batch[name].append(batch_ms(search, queries))
            single[name].append(p50_ms(search, queries[:n_single]))
    base_b = statistics.median(batch["plain binary (baseline)"])
    base_s = statistics.median(single["plain binary (baseline)"])
    rows = []
    for name in cases:
        b, s = statistics.median(batch[name]), statistics.median(single[name])
        rows.append((bits, name, b, 1e3 / b, b / base_b, s, s / base_s))
    print(
        f"bits={bits}: {bits * d}-bit binary codes vs BEBR {bits} x {d} bits + {bits} scales; kernels' first "
        f"calls {first_s:.2f} s; kernels vs reference: 1 query {checks[0]}; {xq.shape[0]} queries {checks[1]}"
    )
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--bits", type=int, nargs="+", default=[2, 3, 4])
    ap.add_argument("--metric", choices=("cosine", "ip", "l2"), default="cosine")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median kept)")
    ap.add_argument("--ref-single", type=int, default=20, help="single queries timed for the reference")
    ap.add_argument("--threads", type=int, default=None, help="faiss/BLAS threads (default: unchanged)")
    args = ap.parse_args(argv)

    x = unit_vectors(args.n + args.queries, args.d, seed=0)
    xb, xq = x[: args.n], x[args.n :]
    print(
        f"{args.n} x {args.d} random unit vectors, {args.queries} queries, k={args.k}, metric={args.metric}, "
        f"faiss threads {faiss.omp_get_max_threads() if args.threads is None else args.threads}, "
        f"{args.rounds} interleaved rounds (median)"
    )
    rows = []
    with limit_threads(args.threads):
        for bits in args.bits:
            rows += bench_bits(xb, xq, bits, args.metric, args.k, args.rounds, min(args.ref_single, args.queries))
    print()
    print(f"{'bits':>4}  {'method':<24} {'batch ms/q':>10} {'QPS':>9} {'x binary':>9} {'p50 ms':>8} {'x binary':>9}")
    for bits, name, b, qps, rb, s, rs in rows:
        print(f"{bits:>4}  {name:<24} {b:>10.3f} {qps:>9.0f} {rb:>9.2f} {s:>8.3f} {rs:>9.2f}")


if __name__ == "__main__":
    main()
