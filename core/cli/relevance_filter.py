"""``densescope filter``: relevance filtering of the workspace's judged queries, the Query page's section headless.

Fits the query-adaptive mapping (Rossi et al. 2024's Cosine Adapter form, `core.analysis.relevance_filter`)
on a seeded training split of the judged queries and prints, on the held-out ones, the best F1 of the mapped
threshold, the raw cut-off and top-k, and the precision each reaches at equal recall; saves the curves as a
run of kind ``filter`` and, with ``--out``, writes them to .csv/.parquet/.json.
"""

from __future__ import annotations

import argparse

import numpy as np

from core.cli.common import UserError, add_workspace_args, bar, command, open_workspace

KIND = "filter"


def _filter_args(p: argparse.ArgumentParser) -> None:
    add_workspace_args(p)
    p.add_argument("--depth", type=int, default=100,
                   help="candidates per query: its exact top-N, whose scores also give the mapping's features "
                        "(default 100)")
    p.add_argument("--max-k", type=int, default=20, help="top-k baseline for k = 1..K (default 20)")
    p.add_argument("--test-size", type=float, default=0.5,
                   help="share of the judged queries held out for evaluation (default 0.5)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the training/evaluation split (default 0)")
    p.add_argument("--out", default=None, help="write the curves (one row per threshold) to .csv, .parquet or .json")


def _check(args: argparse.Namespace) -> None:
    if args.depth < 2:
        raise UserError(f"--depth must be at least 2, got {args.depth}")
    if args.max_k < 1:
        raise UserError(f"--max-k must be at least 1, got {args.max_k}")
    if not 0.0 < args.test_size < 1.0:
        raise UserError(f"--test-size must be between 0 and 1 (exclusive), got {args.test_size}")


def _table(frame, formats: dict[str, str]) -> str:
    shown = frame.copy()
    for column, fmt in formats.items():
        shown[column] = shown[column].map(lambda v, f=fmt: "—" if v != v else f.format(v))  # NaN: not reached
    return shown.to_string(index=False)


@command("filter", "relevance filtering: a query-adaptive score mapping against the raw cut-off and top-k "
                   "(held-out precision, recall, F1)", _filter_args)
def cmd_filter(args: argparse.Namespace) -> int:
    from core.experiments.relevance_filter import METHOD, relevance_filter, unavailable_reason
    from core.store.runs import RunStore, export_rows

    _check(args)
    ws = open_workspace(args)
    reason = unavailable_reason(ws)
    if reason is not None:
        raise UserError(f"relevance filtering is not available on {ws.dataset.name}: {reason}")
    params = {"depth": args.depth, "max_k": args.max_k, "test_size": args.test_size, "split_seed": args.split_seed,
              "embeddings_key": ws.embeddings_key, "dataset_params": dict(ws.dataset.params)}
    update, close = bar(f"relevance filtering on {ws.dataset.name}")
    try:
        with RunStore().recording(KIND, ws.dataset.name, ws.encoder_name, params) as rec:
            result = relevance_filter(ws, depth=args.depth, max_k=args.max_k, test_size=args.test_size,
                                      seed=args.split_seed, progress=update, recorder=rec)
    finally:
        close()
    print(f"{ws.label}: mapping fitted on {len(result.train_ids):,} training queries in {result.fit_seconds:.2f} s; "
          f"curves on {len(result.test_ids):,} held-out queries ({result.n_relevant_test:,} relevant documents), "
          f"candidates = each query's exact top-{result.depth}; run #{rec.run_id}")
    print(f"method: {METHOD}, linear mapping sigmoid(a_q*s + b_q) with a_q, b_q from the query's score statistics")
    print("\nbest F1 on the held-out queries (threshold chosen on them: an upper bound for each method)")
    print(_table(result.best_f1(), {"best_f1": "{:.3f}", "precision": "{:.3f}", "recall": "{:.3f}",
                                    "threshold": "{:.4f}"}))
    print("\nat the thresholds of best F1 on the training queries (the honest operating point)")
    print(_table(result.at_training_thresholds(), {"threshold": "{:.4f}", "precision": "{:.3f}", "recall": "{:.3f}",
                                                   "f1": "{:.3f}"}))
    gain = result.precision_gain()
    print("\nprecision at equal recall (interpolated: the best precision at that recall or more)")
    print(_table(gain, {"recall": "{:.2f}", "raw_precision": "{:.3f}", "mapped_precision": "{:.3f}",
                        "top_k_precision": "{:.3f}", "gain": "{:+.3f}", "ratio": "{:.2f}"}))
    if len(gain):
        print(f"mean precision gain over the raw cut-off: {np.nanmean(gain['gain']):+.3f} across "
              f"{len(gain)} recall levels")
    if args.out:
        rows = result.rows()
        path = export_rows(rows, args.out)
        print(f"wrote {len(rows):,} rows to {path}")
    return 0
