"""Command line: ``python -m core <command>``, the app's experiments headless.

Every subcommand has ``--help``. Errors a user can fix exit with status 2 and
one line on stderr (no traceback); progress bars go to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from . import config

Handler = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[Handler, Callable[[argparse.ArgumentParser], None], str]] = {}


def command(name: str, help_text: str, add_args: Callable[[argparse.ArgumentParser], None]):
    """Register ``handler(args) -> exit code`` as subcommand ``name`` with its arguments."""

    def register(handler: Handler) -> Handler:
        COMMANDS[name] = (handler, add_args, help_text)
        return handler

    return register


class UserError(Exception):
    """An error the user can act on: printed as one line, exit status 2."""


# -- shared arguments ------------------------------------------------------------
def add_workspace_args(p: argparse.ArgumentParser, *, encoder: bool = True) -> None:
    p.add_argument("--dataset", default=None, help="built-in dataset name (see `datasets`); default stdlib-docs")
    p.add_argument("--path", default=None, help="a user file or BEIR folder instead of a built-in dataset")
    p.add_argument("--text-column", default=None, help="text column of a table file")
    p.add_argument("--label-column", default=None, help="category column of a table file")
    p.add_argument("--metric", choices=["cosine", "ip", "l2"], default=None, help="similarity metric override")
    p.add_argument("--limit", type=int, default=None, help="seeded random sample of N items")
    p.add_argument("--seed", type=int, default=0, help="seed for sampling")
    p.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE",
        help="extra dataset parameter, e.g. --param intrinsic_dim=8 for synthetic (repeatable)",
    )
    if encoder:
        p.add_argument("--encoder", default=None, help="encoder name, local model folder or hub id (default minilm)")


def add_ray_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ray", action="store_true",
                   help="run on Ray: a local instance, or the cluster at --ray-address")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="address of a running Ray cluster (e.g. ray://head:10001); implies --ray")


def _encode_args(p: argparse.ArgumentParser) -> None:
    add_workspace_args(p)
    add_ray_args(p)
    p.add_argument("--actors", type=int, default=1, help="Ray encoder actors (with --ray)")


def parse_value(text: str) -> object:
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def open_workspace(args: argparse.Namespace, progress=None):
    from .workspace import Workspace

    if args.path:
        from .loaders import load_file

        ds = load_file(
            args.path, text_column=args.text_column, label_column=args.label_column, metric=args.metric,
        )
        if args.limit:
            from .dataset import subsample

            ds = subsample(ds, args.limit, args.seed)
        return Workspace.open(ds, getattr(args, "encoder", None))
    from .datasets import DEFAULT_DATASET

    params: dict = {}
    for item in args.param:
        if "=" not in item:
            raise UserError(f"--param expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        params[key.strip()] = parse_value(value.strip())
    if args.limit is not None:
        params["limit"] = args.limit
        params["seed"] = args.seed
    return Workspace.open(args.dataset or DEFAULT_DATASET, getattr(args, "encoder", None),
                          dataset_params=params, progress=progress)


def bar(desc: str):
    from .progress import tqdm_progress

    return tqdm_progress(desc)


# -- commands --------------------------------------------------------------------
def _datasets_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--encoders", action="store_true", help="also list the encoders")


@command("datasets", "list the built-in datasets with their sizes", _datasets_args)
def cmd_datasets(args: argparse.Namespace) -> int:
    from .datasets import list_datasets

    for info in list_datasets():
        print(f"{info.name:<16} {info.kind:<8} ~{info.approx_n:>9,} items  {info.description}")
    if args.encoders:
        from .encoders import list_encoders

        print()
        for enc in list_encoders():
            print(f"{enc['name']:<16} {enc['description']}")
    return 0


@command("encode", "encode a dataset with an encoder and cache the embeddings", _encode_args)
def cmd_encode(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    if ws.dataset.kind == "vectors":
        x = ws.embeddings()
        print(f"{ws.dataset.name}: vector dataset, {x.shape[0]:,} x {x.shape[1]} used as given; nothing to encode")
        return 0
    if ws.has_embeddings():
        t0 = time.perf_counter()
        x = ws.embeddings()
        print(f"cached: {x.shape[0]:,} x {x.shape[1]} loaded in {time.perf_counter() - t0:.2f} s "
              f"from {ws.embeddings_path()}")
        return 0
    use_ray = args.ray or args.ray_address
    where = "on Ray" if use_ray else "in-process"
    update, close = bar(f"encode {ws.dataset.name} with {ws.encoder_name} ({where})")
    t0 = time.perf_counter()
    try:
        if use_ray:
            from .distributed import encode_with_ray

            x = encode_with_ray(ws, address=args.ray_address, actors=args.actors, progress=update)
        else:
            x = ws.embeddings(progress=update)
    finally:
        close()
    seconds = time.perf_counter() - t0
    print(f"encoded {x.shape[0]:,} passages to {x.shape[1]}-d in {seconds:.1f} s "
          f"({x.shape[0] / seconds:.1f} passages/s) -> {ws.embeddings_path()}")
    return 0


def _runs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", default="list", choices=["list", "show", "export", "delete"])
    p.add_argument("run_id", nargs="?", type=int, help="run number (for show/export/delete)")
    p.add_argument("--kind", default=None, help="only runs of this kind (sweep, order, id, ...)")
    p.add_argument("--out", default=None, help="export file: .csv, .parquet or .json")


@command("runs", "list, show, export or delete saved runs", _runs_args)
def cmd_runs(args: argparse.Namespace) -> int:
    from .store import RunStore, export_rows

    store = RunStore()
    if args.action == "list":
        df = store.runs_frame(args.kind)
        if df.empty:
            print("no runs yet")
        else:
            print(df.to_string(index=False))
        return 0
    if args.run_id is None:
        raise UserError(f"`runs {args.action}` needs a run number, e.g. `runs {args.action} 1`")
    run = store.get_run(args.run_id)
    if args.action == "show":
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


def _prepare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--skip-encode", action="store_true", help="only build the dataset, do not encode it")


@command("prepare", "one-time set-up: build the demo corpus, encode it, warm compiled caches", _prepare_args)
def cmd_prepare(args: argparse.Namespace) -> int:
    from .datasets import DEFAULT_DATASET
    from .workspace import Workspace

    t0 = time.perf_counter()
    ws = Workspace.open(DEFAULT_DATASET)
    print(f"demo corpus {ws.dataset.name}: {ws.dataset.n:,} passages, {ws.dataset.n_labels} categories, "
          f"{0 if ws.dataset.queries is None else len(ws.dataset.queries):,} queries "
          f"({time.perf_counter() - t0:.1f} s)")
    if not args.skip_encode:
        if ws.has_embeddings():
            print(f"embeddings ({ws.encoder_name}) already cached at {ws.embeddings_path()}")
        else:
            update, close = bar(f"encode {ws.dataset.name} with {ws.encoder_name} (one time)")
            try:
                ws.embeddings(progress=update)
                ws.query_embeddings(progress=update)
            finally:
                close()
            print(f"embeddings cached at {ws.embeddings_path()}")
    for warm in WARMERS:
        warm()
    print(f"ready in {time.perf_counter() - t0:.1f} s; data under {config.home()}")
    return 0


#: One-time warm-ups other modules register (e.g. numba compilation for UMAP).
WARMERS: list[Callable[[], None]] = []


# -- entry point -----------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    _load_plugins()
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="densescope from the command line: datasets, encoding, experiments, runs.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_handler, add_args, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_args(p)
    return parser


#: Modules that register experiment subcommands with `command` (each owned by its engine).
PLUGINS = ("core.cli_sweep", "core.cli_intrinsic", "core.cli_map", "core.cli_ray")


def _load_plugins() -> None:
    """Experiment commands live beside their engines (sweep, id, order, map, ray)."""
    import importlib

    for mod in PLUGINS:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


def main(argv: list[str] | None = None) -> int:
    config.offline_hub()
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = COMMANDS[args.command][0]
    try:
        return handler(args)
    except (UserError, ValueError, FileNotFoundError, KeyError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
