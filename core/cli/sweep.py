"""``densescope sweep``: the Compression page, headless.

Runs a preset (or chosen methods, with parameter ranges) of the compression sweep
on a workspace, draws a progress bar on stderr, prints the table and the
Pareto-optimal rows (bytes per vector against recall@k), saves the run (kind
``sweep``) and optionally writes the rows to a file.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from core.cli.common import (
    WARMERS,
    UserError,
    add_ray_args,
    add_workspace_args,
    bar,
    command,
    open_workspace,
    parse_value,
)

TABLE_COLUMNS = ["label", "recall_at_k", "ndcg_at_10", "mrr_at_10", "bytes_per_vector", "total_bytes_per_vector",
                 "compression_ratio", "qps", "p50_ms", "build_s"]
FORMATS = {"recall_at_k": "{:.3f}", "ndcg_at_10": "{:.3f}", "mrr_at_10": "{:.3f}", "bytes_per_vector": "{:,.1f}",
           "total_bytes_per_vector": "{:,.1f}",
           "compression_ratio": "{:.1f}x", "qps": "{:,.0f}", "p50_ms": "{:.3f}", "build_s": "{:.2f}"}


def _sweep_args(p: argparse.ArgumentParser) -> None:
    from core.analysis.sweep import PRESETS

    add_workspace_args(p)
    p.add_argument("--preset", choices=list(PRESETS), default="quick",
                   help="quick: each method at one or two settings (default); thorough: every method's full grid")
    p.add_argument("--methods", default=None, help="comma-separated subset of methods (see --list-methods)")
    p.add_argument("--grid", action="append", default=[], metavar="METHOD.PARAM=V1,V2",
                   help="values of one parameter, replacing the preset's, e.g. --grid hnsw_flat.ef_search=16,64 "
                        "(repeatable; d/4 and sqrt(n) are relative to the data)")
    p.add_argument("--k", type=int, default=10, help="recall@k against exact search (default 10)")
    p.add_argument("--queries", type=int, default=None,
                   help="number of queries (default: the dataset's, or 10%% held out, at most 1,000)")
    p.add_argument("--threads", type=int, default=None, help="faiss/BLAS threads for builds and batch search")
    p.add_argument("--memory", choices=["total", "index"], default="total",
                   help="bytes counted for the Pareto frontier: total = the index plus the float vectors "
                        "re-ranking keeps (default); index = the index alone")
    p.add_argument("--out", default=None, help="write the rows to .csv, .parquet or .json")
    p.add_argument("--export", default=None, metavar="LABEL",
                   help="after the sweep, export the configuration with this label (e.g. 'hnsw_flat M=32 "
                        "ef_construction=40 ef_search=64'): index, ids, manifest and search.py")
    p.add_argument("--export-dir", default=None, metavar="FOLDER",
                   help="folder for --export (default: export-<method> in the current folder)")
    add_ray_args(p)
    p.add_argument("--list-methods", action="store_true", help="list the methods and their parameters, then exit")


def parse_grid(items: list[str]) -> dict[str, dict[str, list]]:
    """``["hnsw_flat.ef_search=16,64"]`` -> ``{"hnsw_flat": {"ef_search": [16, 64]}}``."""

    grid: dict[str, dict[str, list]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        method, dot, param = name.strip().partition(".")
        if not sep or not dot or not method or not param:
            raise UserError(f"--grid expects METHOD.PARAM=V1,V2 (e.g. hnsw_flat.ef_search=16,64), got {item!r}")
        parsed = [parse_value(v.strip()) for v in values.split(",") if v.strip()]
        if not parsed:
            raise UserError(f"--grid {name.strip()} has no values")
        grid.setdefault(method, {})[param.strip()] = parsed
    return grid


def list_methods() -> str:
    from core.index.registry import METHODS

    lines = []
    for spec in METHODS.values():
        params = "; ".join(f"{p.name} ({'build' if p in spec.build_params else 'search'}: {p.range_text()}, "
                           f"grid {', '.join(map(str, p.grid))})" for p in spec.params) or "no parameters"
        lines.append(f"{spec.name:<18} {spec.family:<10} {params}")
    return "\n".join(lines)


class LazyBar:
    """A progress function that draws its bar only once something reports progress."""

    def __init__(self, desc: str) -> None:
        self.desc = desc
        self._update = self._close = None

    def __call__(self, done: int, total: int, message: str = "") -> None:
        if self._update is None:
            self._update, self._close = bar(self.desc)
        self._update(done, total, message)

    def close(self) -> None:
        if self._close is not None:
            self._close()
        self._update = self._close = None


def format_table(df: pd.DataFrame) -> str:
    optional = {"ndcg_at_10", "mrr_at_10"}
    cols = [c for c in TABLE_COLUMNS if c in df and (c not in optional or df[c].notna().any())]
    if "total_bytes_per_vector" in cols and (df["total_bytes_per_vector"] == df["bytes_per_vector"]).all():
        cols.remove("total_bytes_per_vector")
    out = df[cols].copy()
    for col, fmt in FORMATS.items():
        if col in out:
            out[col] = out[col].map(lambda v, f=fmt: "" if pd.isna(v) else f.format(v))
    return out.to_string(index=False)


@command("sweep", "compression sweep: recall@k, bytes per vector and speed of each index method", _sweep_args)
def cmd_sweep(args: argparse.Namespace) -> int:
    from core.experiments.compression import (
        duration,
        embeddings_sentence,
        pareto_rows,
        plan_sweep,
        summary_sentence,
        sweep_for_workspace,
        sweep_run_params,
        task_quality_costs,
    )
    from core.store.runs import RunStore, export_rows

    if args.list_methods:
        print(list_methods())
        return 0
    if args.out and Path(args.out).suffix.lower() not in (".csv", ".parquet", ".json"):
        raise UserError(f"--out must end in .csv, .parquet or .json, got {args.out!r}")
    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads must be at least 1, got {args.threads}")
    methods = None
    if args.methods is not None:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        if not methods:
            raise UserError("--methods is empty")
    overrides = parse_grid(args.grid)
    if args.export_dir and not args.export:
        raise UserError("--export-dir goes with --export LABEL")
    if args.export:
        from core.cli.export import check_export_folder

        check_export_folder(args.export_dir or f"export-{args.export.split()[0]}")
    ws = open_workspace(args)
    encode = LazyBar(f"encode {ws.dataset.name} with {ws.encoder_name}")
    try:
        plan = plan_sweep(ws, preset=args.preset, methods=methods, overrides=overrides, k=args.k,
                          n_queries=args.queries, seed=args.seed, progress=encode)
    finally:
        encode.close()
    labels = [c.label for c in plan.configs]
    if args.export and args.export not in labels:
        raise UserError(f"--export {args.export!r} is not in this sweep's plan; its labels: "
                        + ", ".join(f"'{v}'" for v in labels[:12]) + (" …" if len(labels) > 12 else ""))
    print(f"{ws.label}: {embeddings_sentence(plan.n_base, plan.d, ws.encoder_name)} (the base searched).")
    print(f"plan ({plan.preset}): {plan.describe()}.", flush=True)
    print(plan.memory_sentence(), flush=True)
    progress = LazyBar(f"sweep on {ws.dataset.name}")
    t0 = time.perf_counter()
    rows: list[dict] = []
    try:
        with RunStore().recording("sweep", ws.dataset.name, ws.encoder_name, sweep_run_params(ws, plan)) as rec:
            for row in sweep_for_workspace(ws, plan=plan, progress=progress, recorder=rec, threads=args.threads,
                                           execution="ray" if (args.ray or args.ray_address) else "in-process",
                                           ray_address=args.ray_address):
                rows.append(row)
    finally:
        progress.close()
    seconds = time.perf_counter() - t0
    df = pd.DataFrame(rows)
    ok = df[df["status"] == "ok"]
    print(f"{len(ok)} of {len(df)} configurations ran in {seconds:.1f} s (estimate was "
          f"{duration(plan.estimate_s)}); run #{rec.run_id}")
    print(format_table(ok))
    bytes_col = "total_bytes_per_vector" if args.memory == "total" else "bytes_per_vector"
    front = pareto_rows(df, bytes_col)
    if not front.empty:
        counted = "index + float vectors kept for re-ranking" if args.memory == "total" else "the index alone"
        print(f"\nPareto-optimal (no other configuration is both smaller ({counted}) and higher in "
              f"recall@{plan.k}):")
        print(format_table(front))
    sentence = summary_sentence(df, bytes_col, bold=False)
    if sentence:
        print("\n" + sentence)
    costs = task_quality_costs(df, "ndcg_at_10", bytes_col)
    if costs:
        print("\nTask quality against exact search (nDCG@10 Pareto frontier): " + "; ".join(costs) + ".")
    not_ok = df[df["status"] != "ok"]
    for r in not_ok.itertuples():
        print(f"{r.status}: {r.label}: {r.reason}")
    for note in sorted({n for n in df.get("note", pd.Series(dtype=str)) if isinstance(n, str) and n}):
        print(f"note: {note}")
    if args.out:
        path = export_rows(df, args.out)
        print(f"wrote {len(df)} rows to {path}")
    if args.export:
        from core.cli.export import export_row

        export_row(ws, df, args.export, args.export_dir, k=plan.k, n_queries=plan.n_queries, seed=plan.seed,
                   threads=args.threads, run_id=rec.run_id)
    return 0


def warm_bebr_kernels() -> None:
    """Warm-up for ``prepare``: compile BEBR's numba search kernels into numba's on-disk cache, so the
    first BEBR row of a sweep measures the search, not the compiler."""
    import numpy as np

    from core.index.registry import build, search

    t0 = time.perf_counter()
    x = np.random.default_rng(0).standard_normal((64, 16)).astype(np.float32)
    for metric in ("cosine", "l2"):
        built = build("bebr", x, metric, {"bits": 2, "center": True})
        for nq in (1, 32):  # the lookup kernel (a few queries) and the block-decoding one
            search(built, x[:nq], 5)
    print(f"BEBR kernels ready ({time.perf_counter() - t0:.1f} s)")


if warm_bebr_kernels not in WARMERS:
    WARMERS.append(warm_bebr_kernels)
