"""Benchmark: learned compression against the training-free methods at equal code size, on a real workspace.

    python -m bench.learned                              # stdlib-docs x MiniLM from ~/.cache/densescope
    python -m bench.learned --schedule thorough
    python -m bench.learned --dataset stdlib-docs --encoder minilm --home ~/.cache/densescope

The workspace is opened as `densescope sweep` opens it, its embeddings read from the demo home's artifact
cache (read-only: everything this script writes -- the trained models -- goes to a fresh temporary home,
so every model is trained here and its training seconds are real). The evaluation is the sweep's: the
dataset's judged queries split in two (`core.experiments.compression.training_split_queries`), one half
evaluated, the other half the training queries of task-aware PQ; exact search on the same vectors is the
ground truth. All rows come from one `run_sweep` in one process on ``--threads`` threads.

Printed, one row per configuration: recall@10, nDCG@10, bytes per vector (measured: codes + model or
codebooks), QPS (all queries in one batch), training seconds; then the ratios each comparison is about:
learned BEBR against the training-free codes of the same bits per dimension (1 bit: sign bits; 2 and
4: the training-free residual binarization), and task-aware PQ against plain PQ of the same m.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from core.analysis.sweep import Config, run_sweep
from core.index.exact import exact_search
from core.index.registry import get_method


def configs(bits: list[int], ms: list[int], schedule: str) -> list[Config]:
    out = [Config.make("flat")]
    for b in bits:
        free = Config.make("binary", {"center": True}) if b == 1 else Config.make("bebr", {"bits": b, "center": True})
        out.append(free)
        out += [Config.make("bebr_learned", {"bits": b, "schedule": schedule}, {"distance": d})
                for d in ("sdc", "adc", "hamming")]
    for m in ms:
        out += [Config.make("pq", {"m": m}), Config.make("pq_task", {"m": m, "schedule": schedule})]
    return out


def baseline_of(row: dict, rows: list[dict]) -> dict | None:
    """The training-free row a learned row is compared with: same bits per dimension, or plain PQ of the same m."""
    for r in rows:
        if row["method"] == "bebr_learned":
            if row["bits"] == 1 and r["method"] == "binary":
                return r
            if r["method"] == "bebr" and r["bits"] == row["bits"]:
                return r
        if row["method"] == "pq_task" and r["method"] == "pq" and r["m"] == row["m"]:
            return r
    return None


def interleaved_qps(rows: list[dict], ev, metric: str, judged, seed: int, threads: int, rounds: int) -> dict:
    """Median batch QPS per configuration over ``rounds`` interleaved rounds (each configuration rebuilt as the
    sweep built it; trained models come back from the cache), so a burst of load on a shared machine hits every
    configuration alike instead of one row."""
    from core.analysis.sweep import limit_threads
    from core.index.registry import build, searcher

    fns = {}
    for row in rows:
        if row["status"] != "ok":
            continue
        cfg = Config.make(row["method"], {p.name: row[p.name] for p in get_method(row["method"]).build_params},
                          {p.name: row[p.name] for p in get_method(row["method"]).search_params})
        with limit_threads(threads):
            built = build(cfg.method, ev.xb, metric, cfg.build_params, seed=seed, judged=judged)
        fns[row["label"]] = searcher(built, 10, cfg.search_params)
    times: dict[str, list[float]] = {label: [] for label in fns}
    with limit_threads(threads):
        for _ in range(rounds):
            for label, fn in fns.items():
                t0 = time.perf_counter()
                fn(ev.xq)
                times[label].append(time.perf_counter() - t0)
    return {label: ev.xq.shape[0] / statistics.median(t) for label, t in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="stdlib-docs")
    ap.add_argument("--encoder", default="minilm")
    ap.add_argument("--home", default=str(Path.home() / ".cache" / "densescope"), help="where embeddings are cached")
    ap.add_argument("--schedule", default="quick", choices=("quick", "thorough"))
    ap.add_argument("--bits", default="1,2,4")
    ap.add_argument("--m", default="16,48", help="PQ sub-quantizers (bytes per code)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds of the QPS re-measurement")
    args = ap.parse_args()

    os.environ["DENSESCOPE_HOME"] = tempfile.mkdtemp(prefix="densescope-bench-learned-")
    from core.cli.sweep import warm_bebr_kernels
    from core.experiments.compression import training_judgments, training_split_queries
    from core.store.artifacts import ArtifactCache
    from core.workspace import Workspace

    ws = Workspace.open(args.dataset, args.encoder, cache=ArtifactCache(Path(args.home).expanduser() / "artifacts"))
    if not ws.has_embeddings():
        raise SystemExit(f"{args.dataset} x {args.encoder} is not encoded under {args.home}; run `densescope prepare`")
    warm_bebr_kernels()  # as `densescope prepare` does: the first search measures the search, not numba's compiler
    n_queries = training_split_queries(ws, ["pq_task"], None)
    ev = ws.eval_set(n_queries, args.seed)
    judged = training_judgments(ws, ev)
    _, gt = exact_search(ev.xb, ev.xq, 10, ws.metric)
    grid = configs([int(b) for b in args.bits.split(",")], [int(m) for m in args.m.split(",")], args.schedule)
    print(f"{args.dataset} x {args.encoder}: {ev.xb.shape[0]:,} x {ev.xb.shape[1]} base, {ev.xq.shape[0]:,} evaluation "
          f"queries, {0 if judged is None else len(judged.relevance):,} training queries (task-aware PQ only), "
          f"{args.threads} threads, schedule {args.schedule}")
    rows = []
    for row in run_sweep(ev.xb, ev.xq, gt, metric=ws.metric, configs=grid, qrels=ev.qrels, seed=args.seed,
                         threads=args.threads, train_judged=judged, latency_queries=100):
        rows.append(row)
        print(f"  {row['label']:<55} {row['status']:<7} recall@10 {row['recall_at_k']:.3f}  nDCG@10 "
              f"{row['ndcg_at_10']:.3f}  {row['bytes_per_vector']:7.1f} B/vec  {row['qps']:8.0f} QPS  "
              f"train {row['train_s']:6.1f} s  {row['reason']}", flush=True)
    qps = interleaved_qps(rows, ev, ws.metric, judged, args.seed, args.threads, args.rounds)
    print(f"\nmedian QPS over {args.rounds} interleaved rounds (all queries in one batch):")
    for label, value in qps.items():
        print(f"  {label:<55} {value:8.0f} QPS")
    print("\nratios to the training-free baseline of the same code size (same process; QPS: the interleaved medians):")
    for row in rows:
        base = baseline_of(row, rows)
        if base is None or row["status"] != "ok" or base["status"] != "ok":
            continue
        print(f"  {row['label']:<55} vs {base['label']:<28} recall {row['recall_at_k'] / base['recall_at_k']:.3f}  "
              f"nDCG {row['ndcg_at_10'] / base['ndcg_at_10']:.3f}  QPS {qps[row['label']] / qps[base['label']]:.2f}  "
              f"bytes {row['bytes_per_vector'] / base['bytes_per_vector']:.2f}")
    for row in rows:
        if row["note"] and row["method"] in ("bebr_learned", "pq_task") and row.get("distance", "sdc") == "sdc":
            print(f"  note, {row['label']}: {row['note']}")


if __name__ == "__main__":
    main()
