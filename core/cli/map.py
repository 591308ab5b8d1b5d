"""``densescope map``: the Embedding map page's projection, headless.

Also registers the UMAP warm-up that ``densescope prepare`` runs once, so the
first UMAP map in a fresh app process loads numba's compiled kernels from disk
instead of compiling them (see `core.analysis.projection`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from core.cli.common import WARMERS, UserError, add_workspace_args, bar, command, open_workspace


def _map_args(p: argparse.ArgumentParser) -> None:
    add_workspace_args(p)
    p.add_argument("--method", choices=["pca", "umap"], default="umap", help="projection (default umap)")
    p.add_argument("--dims", type=int, choices=[2, 3], default=2, help="2 or 3 dimensions (default 2)")
    p.add_argument("--budget", type=int, default=None,
                   help="draw a seeded random sample above this many points (default 20000)")
    p.add_argument("--sample-seed", type=int, default=0, help="seed of the point sample and of UMAP")
    p.add_argument("--n-neighbors", type=int, default=None, help="UMAP neighbours per point (default 15)")
    p.add_argument("--min-dist", type=float, default=None, help="UMAP min_dist (default 0.1)")
    p.add_argument("--epochs", type=int, default=None, help="UMAP epochs (default 200)")
    p.add_argument("--out", default=None,
                   help="write the map to .csv (id, label, x, y[, z]) or .parquet (also text and each item's "
                        "exact --neighbours nearest neighbour ids and scores)")
    p.add_argument("--neighbours", type=int, default=10, help="neighbours per item in a .parquet --out (default 10)")


@command("map", "2-D/3-D map of the embeddings (PCA or UMAP), cached like the app's", _map_args)
def cmd_map(args: argparse.Namespace) -> int:
    from core.analysis.projection import DEFAULT_BUDGET, coords_frame, project

    params = {}
    if args.method == "umap":
        for name, value in (("n_neighbors", args.n_neighbors), ("min_dist", args.min_dist),
                            ("n_epochs", args.epochs)):
            if value is not None:
                params[name] = value
    elif any(v is not None for v in (args.n_neighbors, args.min_dist, args.epochs)):
        raise UserError("--n-neighbors, --min-dist and --epochs apply to --method umap only")
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in (".csv", ".parquet"):
        raise UserError(f"--out must end in .csv or .parquet, got {args.out!r}")
    if args.neighbours < 1:
        raise UserError(f"--neighbours must be at least 1, got {args.neighbours}")
    ws = open_workspace(args)
    update, close = bar(f"{args.method} map of {ws.dataset.name}")
    t0 = time.perf_counter()
    try:
        proj = project(ws, args.method, args.dims, budget=args.budget or DEFAULT_BUDGET,
                       seed=args.sample_seed, params=params, progress=update)
    finally:
        close()
    seconds = time.perf_counter() - t0
    how = "loaded from cache" if proj.cached else "computed"
    print(f"{proj.method_name} {args.dims}-D of {ws.dataset.name} ({proj.note}): {how} in {seconds:.1f} s")
    if proj.graph_note:
        print(f"UMAP laid out from the {proj.graph_note}")
    if proj.explained_variance:
        parts = ", ".join(f"PC{j + 1} {v:.1%}" for j, v in enumerate(proj.explained_variance))
        print(f"explained variance: {parts} (total {sum(proj.explained_variance):.1%})")
    if out is not None and out.suffix.lower() == ".parquet":
        from core.analysis.projection import map_table, table_parquet

        update, close = bar(f"exact {args.neighbours} nearest neighbours")
        try:
            frame = map_table(ws, proj, args.neighbours, progress=update)
        finally:
            close()
        out.write_bytes(table_parquet(frame))
        print(f"wrote {len(frame):,} rows to {out} (coordinates, label, text, {args.neighbours} exact neighbours each)")
    elif out is not None:
        frame = coords_frame(proj, ws.dataset)
        frame.to_csv(out, index=False)
        print(f"wrote {len(frame):,} rows to {out}")
    return 0


def warm_umap_cache() -> None:
    """Warm-up for ``prepare``: compile umap's kernels into numba's on-disk cache."""

    from core.analysis.projection import warm_umap

    print("warming UMAP (numba compiles its kernels once; later maps load them from disk)…", file=sys.stderr)
    seconds = warm_umap()
    print(f"UMAP kernels ready ({seconds:.1f} s)")


if warm_umap_cache not in WARMERS:
    WARMERS.append(warm_umap_cache)
