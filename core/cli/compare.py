"""`densescope compare`: two embedding spaces of one dataset side by side (the Compare spaces page)."""

from __future__ import annotations

import argparse

from core.cli.common import UserError, add_workspace_args, bar, command


def _compare_args(p: argparse.ArgumentParser) -> None:
    add_workspace_args(p, encoder=False)
    p.add_argument("--space-a", required=True, metavar="SPACE",
                   help="encoder name or model folder, optionally derived: minilm, tfidf-svd, minilm:truncate=128, "
                        "minilm:pca=64")
    p.add_argument("--space-b", required=True, metavar="SPACE", help="the other space, same forms as --space-a")
    p.add_argument("--k", type=int, default=10, help="neighbours compared per item (default 10)")
    p.add_argument("--out", default=None, help="write one row per item (id, agreement, ...) to .csv/.parquet/.json")


@command("compare", "compare two embedding spaces of one dataset: neighbour agreement, CKA, geometry",
         _compare_args)
def cmd_compare(args: argparse.Namespace) -> int:
    from core.experiments.spaces import KIND, SpaceSpec, compare_run_params, compare_spaces
    from core.store.runs import RunStore, export_rows

    if args.path:
        raise UserError("compare works on built-in datasets and uploads by name (--dataset); --path is not "
                        "supported yet")
    if args.k < 1:
        raise UserError(f"--k must be at least 1, got {args.k}")
    a, b = SpaceSpec.parse(args.space_a).label, SpaceSpec.parse(args.space_b).label
    dataset = args.dataset or "stdlib-docs"
    params = {}
    if args.limit is not None:
        params = {"limit": args.limit, "seed": args.seed}
    update, close = bar(f"compare {a} and {b} on {dataset}")
    try:
        with RunStore().recording(KIND, dataset, f"{a} vs {b}", compare_run_params(dataset, a, b, args.k, params)) \
                as rec:
            result = compare_spaces(dataset, a, b, k=args.k, dataset_params=params, progress=update, recorder=rec)
    finally:
        close()
    print(f"{result.dataset}: {result.n:,} items, {a} against {b}, k={result.k}; run #{rec.run_id} "
          f"({result.seconds:.1f} s)")
    for sentence in result.sentences():
        print(sentence)
    print()
    rows = [("dimensions", "dim", "{:d}"), ("mean pairwise cosine", "mean_cosine", "{:.3f}"),
            ("variance in the top PC", "top1_variance", "{:.1%}"), ("variance in the top 10 PCs", "top10_variance",
                                                                     "{:.1%}"),
            ("isotropy (Mu & Viswanath, 1 = even)", "isotropy", "{:.3f}"),
            ("hubness skew of the k-occurrence", "hubness_skew", "{:.2f}"), ("TwoNN ID", "twonn_id", "{:.1f}"),
            ("PCA-99% ID", "pca99_id", "{:d}")]
    ga, gb = result.geometry_a.as_dict(), result.geometry_b.as_dict()
    width = max(len(r[0]) for r in rows)
    print(f"{'geometry':<{width}}  {a:>18}  {b:>18}")
    for name, key, fmt in rows:
        print(f"{name:<{width}}  {fmt.format(ga[key]):>18}  {fmt.format(gb[key]):>18}")
    if args.out:
        path = export_rows(result.rows, args.out)
        print(f"wrote {len(result.rows):,} rows to {path}")
    return 0
