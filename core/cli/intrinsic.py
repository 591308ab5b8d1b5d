"""``densescope id``: the Intrinsic dimension page, headless.

Reuses the app's cached artifacts (kNN graph, LID) and saves its rows as a run of kind ``id``
(``densescope order``, the insertion-order study, lives in `core.cli.order`).
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from core.cli.common import UserError, add_workspace_args, bar, command, open_workspace


def _id_args(p: argparse.ArgumentParser) -> None:
    add_workspace_args(p)
    p.add_argument("--k", type=int, default=100, help="neighbours per item for LID (default 100)")
    p.add_argument("--lb-k", type=int, default=20, help="neighbours for Levina–Bickel (default 20)")
    p.add_argument("--pca-threshold", type=float, default=0.99,
                   help="share of variance for PCA-ID (default 0.99)")
    p.add_argument("--out", default=None, help="write the rows to .csv, .parquet or .json")


@command("id", "intrinsic dimension: LID per item and global estimates (LocalMLE, Levina–Bickel, TwoNN, PCA)",
         _id_args)
def cmd_id(args: argparse.Namespace) -> int:
    from core.experiments.intrinsic import check_neighbours, estimate_id, id_rows
    from core.store.runs import RunStore, export_rows

    ws = open_workspace(args)
    check_neighbours(args.k, ws.dataset.n)  # fail before encoding or building anything
    if not 0.0 < args.pca_threshold <= 1.0:
        raise UserError(f"--pca-threshold must be in (0, 1], got {args.pca_threshold}")
    params = {"k": args.k, "lb_k": args.lb_k, "pca_threshold": args.pca_threshold,
              "embeddings_key": ws.embeddings_key, "dataset_params": dict(ws.dataset.params)}
    update, close = bar(f"intrinsic dimension of {ws.dataset.name}")
    t0 = time.perf_counter()
    try:
        with RunStore().recording("id", ws.dataset.name, ws.encoder_name, params) as rec:
            res = estimate_id(ws, args.k, lb_k=args.lb_k, pca_threshold=args.pca_threshold, progress=update,
                              recorder=rec)
    finally:
        close()
    how = "LID loaded from cache" if res.lid.cached else f"LID computed in {res.lid.seconds:.1f} s"
    print(f"{ws.label}: {res.n:,} items in {res.dim} dimensions; {how}; run #{rec.run_id} "
          f"({time.perf_counter() - t0:.1f} s)")
    table = res.estimates[["estimator", "dimension", "setting", "n_degenerate"]].copy()
    table["dimension"] = table["dimension"].map(lambda v: f"{v:.2f}")
    print(table.to_string(index=False))
    lid = res.lid
    print(f"LID: mean {lid.mean:.2f}, median {lid.median:.2f}; {lid.n_with_duplicates:,} items had duplicate "
          f"neighbours dropped, {lid.n_degenerate:,} have no estimate (all neighbours duplicates)")
    if args.out:
        path = export_rows(pd.DataFrame(id_rows(res)), args.out)
        print(f"wrote {len(res.estimates)} rows to {path}")
    return 0
