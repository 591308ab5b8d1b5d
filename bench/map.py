"""Benchmark: time to the first UMAP map, cold and warm, for 10k and 100k GloVe points.

    python -m bench.map            # 10k and 100k, all scenarios (~6 min on 2 cores)
    python -m bench.map --quick    # 10k only, without the umap-learn default baseline
    python -m bench.map --full     # also a UMAP of all 100k points (budget 100,000)
    python -m bench.map --large 400000   # only: one UMAP of N GloVe words, all drawn, numba warm

``--large N`` maps all N points (budget N), after warming numba, in one new process, and reports
the kNN graph's cost and kind (from `APPROX_GRAPH_POINTS` up an approximate HNSW graph: its measured
recall against exact search and efSearch) apart from the fuzzy graph and layout. Its baseline is the
same map from the exact kNN graph, measured earlier in bench/README.md (1,051 s at 400k).

Every scenario runs in a *new* Python process (that is what "cold" means), against a
fresh artifact cache and a private numba cache folder (``NUMBA_CACHE_DIR``), so the
numbers do not depend on what earlier runs left behind. "ask -> map" is the time from
calling `core.analysis.projection.project` on an open workspace to having coordinates (it
includes importing umap, the exact kNN graph and the fit); "process -> map" adds the
interpreter start, imports and loading the dataset.

Baseline (ratio 1.00): umap-learn with its defaults (pynndescent neighbours, spectral
init, its default epochs, no numba disk cache) on the same points, in a new process.
Scenarios:
  ours, numba cold   precomputed exact kNN, PCA init, 200 epochs; numba compiles (no prepare)
  ours, numba warm   the same after `python -m core prepare` warmed numba's disk cache
  ... umap preloaded as the app does: the map page imports umap in the background while it
                     shows the (instant) PCA map, so asking for UMAP skips the import
  ours, map cached   a new process opening a map that is already in the artifact cache
  same process       the second view in the same process
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ child side


def child(args: argparse.Namespace) -> None:
    t_start = float(os.environ["BENCH_T0"])
    t0 = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from core.workspace import Workspace

    ws = Workspace.open("glove-6b-50d", dataset_params={"limit": args.n, "seed": 0})
    x = ws.embeddings()
    out = {"load_s": time.perf_counter() - t0}
    if args.scenario == "warmup":
        from core.analysis.projection import warm_umap

        out["warm_s"] = warm_umap()
    elif args.scenario == "baseline":
        from core.analysis.projection import sample_rows

        rows = sample_rows(x.shape[0], args.budget, 0)
        t = time.perf_counter()
        import warnings

        import umap

        out["import_s"] = time.perf_counter() - t
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coords = umap.UMAP(n_neighbors=15, metric="cosine", random_state=0).fit_transform(x[rows])
        out["ask_s"] = time.perf_counter() - t
        out["shape"] = list(np.asarray(coords).shape)
    else:
        from core.analysis.projection import enable_umap_disk_cache, project

        if args.scenario == "map-preloaded":  # the page imports umap while it shows the PCA map
            t = time.perf_counter()
            enable_umap_disk_cache()
            out["import_s"] = time.perf_counter() - t
        t, c = time.perf_counter(), time.process_time()
        proj = project(ws, "umap", 2, budget=args.budget)
        out["ask_s"] = time.perf_counter() - t
        out["ask_cpu_s"] = time.process_time() - c
        out["cached"] = proj.cached
        out["shape"] = list(proj.coords.shape)
        out["note"] = proj.note
        out["graph"] = proj.graph
        t = time.perf_counter()
        again = project(ws, "umap", 2, budget=args.budget)
        out["again_s"] = time.perf_counter() - t
        assert again.cached
        t = time.perf_counter()
        project(ws, "pca", 2, budget=args.budget)
        out["pca_s"] = time.perf_counter() - t
    out["process_s"] = time.time() - t_start
    print("RESULT " + json.dumps(out))


# ------------------------------------------------------------------ parent side


def run_child(scenario: str, n: int, budget: int, home: Path, numba_dir: Path) -> dict:
    env = {**os.environ, "DENSESCOPE_HOME": str(home), "NUMBA_CACHE_DIR": str(numba_dir),
           "BENCH_T0": repr(time.time()), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "bench.map", "--child", scenario, "--n", str(n), "--budget", str(budget)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{scenario} n={n} failed:\n{proc.stderr[-3000:]}")


def bench_size(n: int, budget: int, with_baseline: bool) -> list[tuple[str, float, float]]:
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-map-") as tmp:
        tmp = Path(tmp)
        if with_baseline:
            r = run_child("baseline", n, budget, tmp / "home-base", tmp / "numba-base")
            rows.append(("umap-learn defaults (baseline)", r["ask_s"], r["process_s"]))
            print(f"  baseline: import umap {r['import_s']:.1f} s, ask->map {r['ask_s']:.1f} s", file=sys.stderr)
        cold = run_child("map", n, budget, tmp / "home-cold", tmp / "numba-cold")
        rows.append(("ours, numba cold (no prepare)", cold["ask_s"], cold["process_s"]))
        warm = run_child("warmup", 300, budget, tmp / "home-warmup", tmp / "numba-warm")
        print(f"  prepare's UMAP warm-up: {warm['warm_s']:.1f} s (once per installation)", file=sys.stderr)
        hot = run_child("map", n, budget, tmp / "home-warm", tmp / "numba-warm")
        rows.append(("ours, numba warm (after prepare)", hot["ask_s"], hot["process_s"]))
        pre = run_child("map-preloaded", n, budget, tmp / "home-pre", tmp / "numba-warm")
        rows.append(("ours, numba warm, umap preloaded", pre["ask_s"], pre["process_s"]))
        again = run_child("map", n, budget, tmp / "home-warm", tmp / "numba-warm")
        rows.append(("ours, map cached, new process", again["ask_s"], again["process_s"]))
        rows.append(("ours, same process, second view", hot["again_s"], float("nan")))
        rows.append(("PCA map (for reference)", hot["pca_s"], float("nan")))
        print(f"  {hot['note']}; dataset load {hot['load_s']:.1f} s", file=sys.stderr)
    return rows


def bench_large(n: int) -> None:
    """One UMAP of all ``n`` GloVe words (numba warm), its kNN graph's time and recall reported apart."""
    with tempfile.TemporaryDirectory(prefix="bench-map-") as tmp:
        tmp = Path(tmp)
        warm = run_child("warmup", 300, n, tmp / "home-warmup", tmp / "numba")
        print(f"  prepare's UMAP warm-up: {warm['warm_s']:.1f} s", file=sys.stderr)
        load_before = os.getloadavg()[0]
        r = run_child("map", n, n, tmp / "home", tmp / "numba")
    g = r.get("graph") or {}
    graph_s = float(g.get("seconds", float("nan")))
    print(f"\nUMAP 2-D of {n:,} GloVe words ({r['note']}), numba warm, cpu count {os.cpu_count()}")
    print(f"  dataset load                    {r['load_s']:9.1f} s")
    if g.get("kind") == "hnsw":
        print(f"  approximate kNN graph (HNSW over {g.get('shards', 1)} shards, M={g['M']}, "
              f"efC {g['ef_construction']}, efSearch {g['ef_search']}, "
              f"recall@{g['k']} {g['recall']:.4f} on {g['recall_sample']:,} points, measurement included) "
              f"{graph_s:.1f} s")
        print(f"  fuzzy graph + layout            {r['ask_s'] - graph_s:9.1f} s")
    else:
        print(f"  exact kNN graph, fuzzy graph and layout (graph {g})")
    print(f"  ask -> map                      {r['ask_s']:9.1f} s  (process CPU {r['ask_cpu_s']:.1f} s, "
          f"load average before {load_before:.1f}, after {os.getloadavg()[0]:.1f})")
    print(f"  process -> map                  {r['process_s']:9.1f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="10k only, no baseline")
    p.add_argument("--full", action="store_true", help="also UMAP all 100k points")
    p.add_argument("--large", type=int, default=0, metavar="N",
                   help="only one UMAP of N GloVe words, all drawn (approximate graph from 50,000)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=10_000, help=argparse.SUPPRESS)
    p.add_argument("--budget", type=int, default=20_000, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        args.scenario = args.child
        child(args)
        return 0
    if args.large:
        bench_large(args.large)
        return 0
    sizes = [(10_000, 20_000)] if args.quick else [(10_000, 20_000), (100_000, 20_000)]
    if args.full:
        sizes.append((100_000, 100_000))
    print(f"time to first UMAP map (2-D), GloVe-6B-50d subsets, cpu count {os.cpu_count()}")
    for n, budget in sizes:
        drawn = min(n, budget)
        print(f"\n{n:,} points (map of {drawn:,}{'' if drawn == n else ', seeded sample'}):", file=sys.stderr)
        rows = bench_size(n, budget, with_baseline=not args.quick)
        base = rows[0][1] if not args.quick else None
        print(f"\n{n:,} points, {drawn:,} drawn")
        print(f"  {'scenario':<36} {'ask -> map':>11} {'process -> map':>15} {'vs baseline':>12}")
        for name, ask, proc in rows:
            ratio = f"{ask / base:.2f}" if base else "-"
            proc_text = f"{proc:.1f} s" if proc == proc else "-"
            print(f"  {name:<36} {ask:>9.2f} s {proc_text:>15} {ratio:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
