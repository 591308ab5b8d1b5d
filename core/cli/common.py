"""What every command shares: the command registry, workspace/Ray arguments, errors, progress bars."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

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
    p.add_argument("--label-column", default=None,
                   help="category column of a table file (default: one named label, category, class, topic ...; "
                        "'none' for no categories)")
    p.add_argument("--id-column", default=None,
                   help="id column of a table file (default: one named id, _id, doc_id ... when its values are "
                        "unique, else row numbers; 'none' for row numbers)")
    p.add_argument("--vector-column", default=None,
                   help="column of a table file holding one vector per row (default: one named embedding, "
                        "vector, emb ...); its vectors are used as given and the texts shown beside them")
    p.add_argument("--array", default=None, help="array of an .npz file holding the base vectors")
    p.add_argument("--labels", default=None, metavar="FILE",
                   help="categories for a --path file from a separate file: one label per line in the items' "
                        "order, or two columns id,label")
    p.add_argument("--query-file", default=None, metavar="FILE",
                   help="queries to use instead of the dataset's: texts (a table with id and text columns, BEIR "
                        "queries.jsonl, .txt) for a text dataset, vectors of its dimension for a vector dataset")
    p.add_argument("--qrels", default=None, metavar="FILE",
                   help="relevance judgments for nDCG/MRR: TREC 'qid 0 docid rel' or BEIR's TSV")
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


def parse_value(text: str) -> object:
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def _judgments(args: argparse.Namespace):
    """(queries, qrels) from --queries / --qrels, or (None, None)."""
    from core.data.judgments import read_qrels, read_queries

    queries_path, qrels_path = getattr(args, "query_file", None), getattr(args, "qrels", None)
    return (read_queries(queries_path) if queries_path else None, read_qrels(qrels_path) if qrels_path else None)


def _column(value: str | None) -> str | None:
    """A --label-column/--id-column value: ``none`` means no such column (not one found by name)."""
    from core.data.table_files import NO_COLUMN

    return NO_COLUMN if value is not None and value.strip().lower() in ("none", "(none)") else value


def open_workspace(args: argparse.Namespace, progress=None):
    """The workspace the arguments name; ``--encoder`` may be a space as on Compare spaces
    (``minilm(pooling=cls)``, ``minilm:abtt=3``, ``given-vectors:whiten``), opened as its workspace."""
    from core.experiments.space_workspace import space_workspace

    return _open_workspace(args, progress, space_workspace)


def _open_workspace(args: argparse.Namespace, progress, opener):
    from core.data.judgments import attach_judgments

    queries, qrels = _judgments(args)
    if args.path:
        from core.data.loading import load_file

        ds = load_file(
            args.path, text_column=args.text_column, label_column=_column(args.label_column), metric=args.metric,
            id_column=_column(getattr(args, "id_column", None)),
            vector_column=getattr(args, "vector_column", None), array=getattr(args, "array", None),
        )
        if getattr(args, "labels", None):
            from core.data.judgments import attach_labels, read_labels

            ds = attach_labels(ds, *read_labels(args.labels), filename=Path(args.labels).name)
        ds = attach_judgments(ds, queries, qrels)
        if args.limit:
            from core.data.dataset import subsample

            ds = subsample(ds, args.limit, args.seed)
        return opener(ds, getattr(args, "encoder", None))
    if getattr(args, "array", None):
        raise UserError("--array applies to an .npz file given with --path")
    from core.data.builtin import DEFAULT_DATASET

    params: dict = {}
    for item in args.param:
        if "=" not in item:
            raise UserError(f"--param expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        params[key.strip()] = parse_value(value.strip())
    if args.limit is not None:
        params["limit"] = args.limit
        params["seed"] = args.seed
    if queries is None and qrels is None:
        return opener(args.dataset or DEFAULT_DATASET, getattr(args, "encoder", None), dataset_params=params,
                      progress=progress)
    from core.data.uploads import open_dataset

    ds = attach_judgments(open_dataset(args.dataset or DEFAULT_DATASET, progress=progress, **params), queries, qrels)
    return opener(ds, getattr(args, "encoder", None))


def bar(desc: str):
    from core.progress import tqdm_progress

    return tqdm_progress(desc)


#: One-time warm-ups other modules register (e.g. numba compilation for UMAP).
WARMERS: list[Callable[[], None]] = []
