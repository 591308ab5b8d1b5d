"""`export-index`: one configuration (from a saved sweep run, or given) written as files to take home."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli.common import UserError, add_workspace_args, bar, command, open_workspace


def _export_args(p: argparse.ArgumentParser) -> None:
    add_workspace_args(p)
    p.add_argument("--run", type=int, default=None, help="a saved sweep run (see `runs list --kind sweep`)")
    p.add_argument("--label", default=None, help="the configuration's label in that run")
    p.add_argument("--method", default=None, help="or: a method (see `sweep --list-methods`) ...")
    p.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                   help="... with its build and search parameters (repeatable; defaults otherwise)")
    p.add_argument("--k", type=int, default=10, help="recall@k measured on the export (default 10; --run: the run's)")
    p.add_argument("--queries", type=int, default=None,
                   help="evaluation queries (default as the sweep; --run: the run's)")
    p.add_argument("--threads", type=int, default=None, help="faiss/BLAS threads for the build")
    p.add_argument("--out", default=None, metavar="FOLDER", help="folder to write (default export-<method>)")


def export_row(ws, rows, label: str, out: str | None, *, k: int, n_queries, seed: int, threads, run_id) -> None:
    """Export the row of ``rows`` labelled ``label`` (shared by `sweep --export` and `export-index --run`)."""
    from core.experiments.export import config_from_row, find_row

    row = find_row(rows, label)
    if row.get("status") != "ok":
        raise UserError(f"{label!r} did not run in that sweep ({row.get('status')}: {row.get('reason')})")
    cfg = config_from_row(row)
    _export(ws, cfg, out, k=k, n_queries=n_queries, seed=seed, threads=threads, run_id=run_id,
            row_recall=float(row["recall_at_k"]))


def check_export_folder(folder: str | Path) -> Path:
    """The export folder, refused when it already holds files (nothing is overwritten)."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UserError(f"{folder} exists and is not an empty folder; choose another (nothing was overwritten)")
    return folder


def _export(ws, cfg, out, *, k, n_queries, seed, threads, run_id=None, row_recall=None) -> None:
    from core.experiments.export import export_configuration

    folder = check_export_folder(out or f"export-{cfg.method}")
    update, close = bar(f"export {cfg.label}")
    try:
        result = export_configuration(ws, cfg, folder, k=k, n_queries=n_queries, seed=seed, threads=threads,
                                      row_recall=row_recall, run_id=run_id, progress=update)
    finally:
        close()
    print(result.sentence())
    print(f"wrote {folder}/ ({', '.join(result.manifest['files'])}, manifest.json); "
          f"search with: python {folder}/search.py queries.npy")


@command("export-index", "export one index configuration: faiss index (or parts), ids, manifest, search.py",
         _export_args)
def cmd_export(args: argparse.Namespace) -> int:
    from core.analysis.sweep import Config
    from core.cli.common import parse_value
    from core.store.runs import RunStore

    if (args.run is None) == (args.method is None):
        raise UserError("give either --run N --label LABEL (a saved sweep row) or --method M [--set PARAM=VALUE]")
    if args.run is not None:
        if not args.label:
            raise UserError("--run needs --label (the configuration's label, as `runs show N` lists it)")
        store = RunStore()
        run = store.get_run(args.run)
        if run.kind != "sweep":
            raise UserError(f"run #{run.id} is a {run.kind} run, not a sweep")
        ws = open_workspace(args)
        if run.params.get("embeddings_key") not in (None, ws.embeddings_key):
            raise UserError(f"run #{run.id} was measured on other vectors ({run.dataset} · {run.encoder}); "
                            "open the same dataset and encoder (--dataset/--path, --encoder)")
        export_row(ws, store.rows(run.id), args.label, args.out, k=int(run.params.get("k", args.k)),
                   n_queries=run.params.get("n_queries"), seed=int(run.params.get("seed", 0)),
                   threads=args.threads, run_id=run.id)
        return 0
    from core.index.registry import get_method

    spec = get_method(args.method)
    given: dict = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--set expects PARAM=VALUE, got {item!r}")
        given[name.strip()] = parse_value(value.strip())
    build_names = {p.name for p in spec.build_params}
    cfg = Config.make(args.method, {k: v for k, v in given.items() if k in build_names},
                      {k: v for k, v in given.items() if k not in build_names})
    ws = open_workspace(args)
    _export(ws, cfg, args.out, k=args.k, n_queries=args.queries, seed=args.seed, threads=args.threads)
    return 0
