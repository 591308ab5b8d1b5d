"""`runs`: list, show, export and delete saved runs."""

from __future__ import annotations

import argparse

from core.cli.common import UserError, command


def _runs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", default="list", choices=["list", "show", "export", "delete"])
    p.add_argument("run_id", nargs="?", type=int, help="run number (for show/export/delete)")
    p.add_argument("--kind", default=None, help="only runs of this kind (sweep, order, id, ...)")
    p.add_argument("--out", default=None, help="export file: .csv, .parquet or .json")
    p.add_argument("--manifest", action="store_true",
                   help="show: print the run's manifest as JSON (parameters, seeds, dataset fingerprint, encoder "
                        "configuration, package versions) instead of its rows")


@command("runs", "list, show, export or delete saved runs", _runs_args)
def cmd_runs(args: argparse.Namespace) -> int:
    from core.store.runs import RunStore, export_rows

    if args.manifest and args.action != "show":
        raise UserError("--manifest goes with `runs show N`")
    store = RunStore()
    if args.action == "list":
        df = store.runs_frame(args.kind)
        if df.empty:
            print("no runs yet")
        else:
            print(df.to_string(index=False))
        print(f"(runs are kept in {store.path})")  # the operator's view; the app never shows server paths
        return 0
    if args.run_id is None:
        raise UserError(f"`runs {args.action}` needs a run number, e.g. `runs {args.action} 1`")
    run = store.get_run(args.run_id)
    if args.action == "show" and args.manifest:
        import json

        print(json.dumps(run.manifest(), indent=1, ensure_ascii=False, default=str))
    elif args.action == "show":
        print(run.label())
        print("params:", run.params)
        print(store.rows(run.id).to_string(index=False))
    elif args.action == "export":
        if not args.out:
            raise UserError("`runs export` needs --out FILE (.csv, .parquet or .json)")
        path = export_rows(store.rows(run.id), args.out)
        print(f"wrote {run.n_rows} rows to {path}")
    elif args.action == "delete":
        store.delete_run(run.id)
        print(f"deleted run #{run.id}")
    return 0
