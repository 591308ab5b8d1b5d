"""VectorDBBench folders: ``train*.parquet`` (base), ``test.parquet`` (queries), ``neighbors.parquet``.

The layout VectorDBBench downloads its datasets in (Cohere, OpenAI, LAION, SIFT, GIST …):
each file has an ``id`` column and a vector column ``emb``; the base may be sharded
(``train-00-of-10.parquet`` or ``shuffle_train-00-of-10.parquet``, read in name order);
``neighbors.parquet`` holds, per test ``id``, the ids of its true nearest neighbours
(``neighbors_id``), which become the qrels. The files do not say which metric was used:
the default is cosine (VectorDBBench's Cohere and OpenAI sets); pass ``metric="l2"``
for SIFT or GIST.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.data.arrow_files import ArrowSource, read_vector_column, vector_cell
from core.data.dataset import Dataset, Queries, check_vectors
from core.data.file_info import FileInfo

#: Column names VectorDBBench writes (the vector column also found under other common names).
ID_COLUMN, NEIGHBORS_COLUMN = "id", "neighbors_id"
VECTOR_COLUMNS: tuple[str, ...] = ("emb", "embedding", "vector")


def train_files(folder: Path) -> list[Path]:
    """The base files: ``train.parquet`` or its shards, in name order."""
    single = folder / "train.parquet"
    if single.is_file():
        return [single]
    shards = sorted(p for p in folder.glob("*train-*.parquet") if p.is_file())
    return shards


def is_vdbbench_folder(folder: Path) -> bool:
    return bool(train_files(folder)) and (folder / "test.parquet").is_file()


def _vector_column(source: ArrowSource) -> str:
    column = next((c for c in VECTOR_COLUMNS if c in source.columns), None)
    if column is None:
        raise ValueError(f"{source.path.name} has no vector column (looked for {', '.join(VECTOR_COLUMNS)}); "
                         f"found: {', '.join(source.columns)}")
    return column


def _ids(source: ArrowSource, n: int) -> list[str]:
    if ID_COLUMN not in source.columns:
        raise ValueError(f"{source.path.name} has no {ID_COLUMN!r} column; found: {', '.join(source.columns)}")
    ids = source.pylist(ID_COLUMN, n)
    if any(i is None for i in ids):
        raise ValueError(f"{source.path.name}: the {ID_COLUMN!r} column has empty values")
    return [str(i) for i in ids]


def _vectors(source: ArrowSource, n: int) -> np.ndarray:
    return read_vector_column(source, _vector_column(source), n, vector_cell)


def load_vdbbench(folder: Path, *, name: str, metric: str | None, max_rows: int | None) -> Dataset:
    """Base vectors from the train file(s), queries from test.parquet, qrels from neighbors.parquet."""
    files = train_files(folder)
    if not files or not (folder / "test.parquet").is_file():
        raise ValueError(f"{folder.name} is not a VectorDBBench folder: it needs train.parquet (or train-*.parquet "
                         "shards) and test.parquet")
    parts, ids, n_total = [], [], 0
    for path in files:
        source = ArrowSource(path, "parquet")
        n_total += source.num_rows
        want = source.num_rows if max_rows is None else min(source.num_rows, max_rows - len(ids))
        if want > 0:
            parts.append(_vectors(source, want))
            ids.extend(_ids(source, want))
    base = np.concatenate(parts) if len(parts) > 1 else parts[0]
    if len({p.shape[1] for p in parts}) > 1:
        raise ValueError(f"{folder.name}: the train shards have different dimensions "
                         f"({', '.join(str(p.shape[1]) for p in parts)})")
    if len(set(ids)) != len(ids):
        raise ValueError(f"{folder.name}: the train files repeat ids; every base vector needs its own id")
    metric = metric or "cosine"
    base = check_vectors(base, f"{folder.name}: base vectors", allow_zero=metric != "cosine")
    test = ArrowSource(folder / "test.parquet", "parquet")
    xq = check_vectors(_vectors(test, test.num_rows), f"{folder.name}/test.parquet", allow_zero=metric != "cosine")
    if xq.shape[1] != base.shape[1]:
        raise ValueError(f"{folder.name}: test.parquet has {xq.shape[1]}-dim queries but the base has "
                         f"{base.shape[1]} dims; both must come from the same encoder")
    query_ids = [f"q{i}" for i in _ids(test, test.num_rows)]
    qrels, note = None, None
    neighbors = folder / "neighbors.parquet"
    if neighbors.is_file():
        if len(ids) < n_total:
            note = "max_rows keeps a subset, so the stored neighbours no longer apply"
        else:
            qrels = _neighbor_qrels(ArrowSource(neighbors, "parquet"), set(query_ids), set(ids))
    params = {"path": str(folder), "format": "vdbbench", "max_rows": max_rows, "train_files": [p.name for p in files],
              "rows": n_total, **({"neighbors_dropped": note} if note else {}),
              **({"qrels_from": "neighbors"} if qrels else {})}
    return Dataset(
        name=name, ids=ids, vectors=base, queries=Queries(ids=query_ids, vectors=xq), qrels=qrels, metric=metric,
        params=params,
        description=f"VectorDBBench folder {folder.name}: {len(ids):,} vectors of {base.shape[1]} dims, "
                    f"{len(query_ids):,} queries" + (" with their true neighbours" if qrels else ""),
    )


def _neighbor_qrels(source: ArrowSource, query_ids: set[str], base_ids: set[str]) -> dict[str, dict[str, int]]:
    """``{"q<test id>": {"<train id>": 1}}``; ValueError when a row names an unknown query or base id."""
    name = source.path.name
    if NEIGHBORS_COLUMN not in source.columns:
        raise ValueError(f"{name} has no {NEIGHBORS_COLUMN!r} column; found: {', '.join(source.columns)}")
    qids = [f"q{i}" for i in _ids(source, source.num_rows)]
    lists = source.pylist(NEIGHBORS_COLUMN)
    qrels: dict[str, dict[str, int]] = {}
    for row, (qid, neighbours) in enumerate(zip(qids, lists, strict=True)):
        if qid not in query_ids:
            raise ValueError(f"{name}: row {row + 1} is for test id {qid[1:]!r}, which test.parquet does not have")
        judged = {str(j): 1 for j in neighbours or [] if j is not None and int(j) >= 0}
        unknown = [j for j in judged if j not in base_ids]
        if unknown:
            raise ValueError(f"{name}: row {row + 1} names base id {unknown[0]!r}, which no train file has")
        qrels[qid] = judged
    return qrels


def inspect_vdbbench(folder: Path) -> FileInfo:
    files = train_files(folder)
    sources = [ArrowSource(p, "parquet") for p in files]
    test = ArrowSource(folder / "test.parquet", "parquet")
    column = _vector_column(sources[0])
    ftype = sources[0].schema.field(column).type
    d = int(ftype.list_size) if hasattr(ftype, "list_size") else None
    n = sum(s.num_rows for s in sources)
    return FileInfo(path=str(folder), format="vdbbench", kind="vectors", n_rows=n,
                    shape=(n, d) if d else None, n_queries=test.num_rows)
