"""Benchmark: fitting the query-adaptive relevance mapping (issue 22, item 1) and what it gains.

    python -m bench.relevance_filter                          # stdlib-docs with MiniLM, split seeds 0-4
    python -m bench.relevance_filter --dataset pydocs --seeds 3

Baseline: evaluating the raw cosine cut-off's curve on the held-out queries (one sort of their pooled
candidate scores), in the same process. Printed beside it: the mapping's fit on the training queries
(median of ``--repeats``; target <= 10 s), the mapped curve's evaluation, and the whole experiment
(`relevance_filter`, candidates from the cached exact top-100). Then, per split seed, the held-out best F1
of each method and the precision the mapped threshold gains over the raw cut-off at equal recall.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="stdlib-docs")
    parser.add_argument("--encoder", default="minilm")
    parser.add_argument("--seeds", type=int, default=5, help="split seeds 0..N-1 (default 5)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import numpy as np

    from core.analysis.relevance_filter import QueryAdaptiveMapper, pr_curve
    from core.experiments.relevance_filter import DEPTH, judged_candidates, relevance_filter, split_queries
    from core.workspace import Workspace

    ws = Workspace.open(args.dataset, args.encoder)
    cand, _ = judged_candidates(ws, DEPTH)
    train, test = split_queries(len(cand.query_ids), 0.5, 0)
    total = int(cand.n_relevant[test].sum())
    raw_s, _ = timed(lambda: pr_curve(cand.scores[test], cand.relevant[test], total), args.repeats)
    fit_s, mapper = timed(lambda: QueryAdaptiveMapper().fit(cand.scores[train], cand.relevant[train]), args.repeats)
    mapped_s, _ = timed(lambda: pr_curve(mapper.transform(cand.scores[test]), cand.relevant[test], total),
                        args.repeats)
    whole_s, _ = timed(lambda: relevance_filter(ws, seed=0), args.repeats)
    print(f"{ws.label}: {len(cand.query_ids):,} judged queries, {len(train):,} training / {len(test):,} held out, "
          f"top-{DEPTH} candidates each ({len(train) * DEPTH:,} training pairs); mapper {mapper.n_iter_} L-BFGS-B "
          f"iterations, converged {mapper.converged_}")
    print("| step | time | ratio to baseline |\n| --- | --- | --- |")
    for name, seconds in (("raw cut-off curve on the held-out queries (baseline)", raw_s),
                          ("fit the mapping on the training queries", fit_s),
                          ("mapped curve on the held-out queries (map + curve)", mapped_s),
                          ("whole experiment (candidates cached, fit, 3 curves)", whole_s)):
        print(f"| {name} | {seconds * 1000:.1f} ms | {seconds / raw_s:.1f} |")

    print("\n| split seed | best F1 mapped / raw / top-k | precision at recall 0.1 / 0.2 / 0.3 / 0.5, raw -> mapped "
          "| mean gain |\n| --- | --- | --- | --- |")
    for seed in range(args.seeds):
        result = relevance_filter(ws, seed=seed)
        best = result.best_f1().set_index("method")["best_f1"]
        gain = result.precision_gain().set_index("recall")
        at = " / ".join(f"{gain.loc[r, 'raw_precision']:.3f} -> {gain.loc[r, 'mapped_precision']:.3f}"
                        for r in (0.1, 0.2, 0.3, 0.5) if r in gain.index)
        print(f"| {seed} | {best['mapped threshold']:.3f} / {best['raw cut-off']:.3f} / {best['top-k']:.3f} | {at} "
              f"| {np.nanmean(gain['gain']):+.3f} |")


if __name__ == "__main__":
    main()
