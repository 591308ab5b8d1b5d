"""Queries and relevance judgments as files, attached to any dataset.

- A **query file** is any file `load_file` reads: a text table (``id`` + ``text`` columns, BEIR's
  ``queries.jsonl``, one query per line of a ``.txt``) for a text dataset, or vectors (``.npy``,
  ``.fbin``, a table with a vector column …) of the dataset's dimension for a vector dataset.
- A **qrels file** is TREC's ``qid 0 docid rel`` (whitespace-separated, no header) or BEIR's TSV
  with a header ``query-id corpus-id score``.

Recall is still measured against exact search on the same vectors; nDCG and MRR use the qrels.
Judgments naming a query or document the dataset does not have are dropped and counted in
``params["qrels_dropped"]`` (a subset of a corpus legitimately loses some).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from core.data.dataset import Dataset, Queries

#: Header names of BEIR's qrels TSV (the first three columns are used in this order).
BEIR_QRELS_HEADER: tuple[str, ...] = ("query-id", "corpus-id", "score")


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """``{query id: {doc id: relevance}}`` from a TREC or BEIR qrels file; ValueError naming the line."""
    from core.data.table_files import read_utf8

    path = Path(path)
    lines = read_utf8(path).split("\n")
    qrels: dict[str, dict[str, int]] = {}
    start = 0
    first = lines[0].strip().lower().split()
    if first[:1] and first[0] in ("query-id", "query_id", "qid", "query"):
        start = 1
    for lineno, line in enumerate(lines[start:], start=start + 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) == 4:  # TREC: qid iteration docid relevance
            qid, _, doc, rel = fields
        elif len(fields) == 3:  # BEIR TSV without (or after) its header
            qid, doc, rel = fields
        else:
            raise ValueError(f"{path.name}: line {lineno} has {len(fields)} fields; expected TREC 'qid 0 docid rel' "
                             "or BEIR 'query-id corpus-id score'")
        try:
            value = int(rel)
        except ValueError:
            raise ValueError(f"{path.name}: line {lineno} has relevance {rel!r}; it must be an integer") from None
        qrels.setdefault(qid, {})[doc] = value
    if not qrels:
        raise ValueError(f"{path.name} holds no judgments")
    return qrels


def read_queries(path: str | Path, *, text_column: str | None = None, id_column: str | None = None,
                 vector_column: str | None = None) -> Queries:
    """Queries from a file: texts (with their ids) or vectors (ids from an id column, else ``q<row>``)."""
    from core.data.loading import inspect_file, load_file

    path = Path(path)
    info = inspect_file(path)
    if info.kind == "text" and id_column is None and info.id_column:
        id_column = info.id_column
    ds = load_file(path, text_column=text_column, id_column=id_column, vector_column=vector_column)
    if ds.kind == "text":
        return Queries(ids=list(ds.ids), texts=list(ds.texts))
    ids = list(ds.ids) if id_column or ds.params.get("id_column") else [f"q{i}" for i in range(ds.n)]
    return Queries(ids=ids, vectors=ds.vectors)


def attach_judgments(ds: Dataset, queries: Queries | None = None,
                     qrels: dict[str, dict[str, int]] | None = None) -> Dataset:
    """The dataset with ``queries`` (replacing its own) and ``qrels`` attached; ValueError when they cannot fit.

    Text queries need a text dataset (they are encoded with it); vector queries a vector dataset of
    the same dimension. Qrels alone (no query file) must name the dataset's own queries.
    """
    if queries is None and qrels is None:
        return ds
    queries = queries if queries is not None else ds.queries
    if queries is None:
        raise ValueError(f"{ds.name} has no queries of its own: attach a query file with the judgments")
    if len(set(queries.ids)) != len(queries.ids):
        raise ValueError("the query file repeats query ids; every query needs its own id")
    if queries.texts is not None and ds.kind != "text":
        raise ValueError(f"{ds.name} holds vectors, so its queries must be vectors of dimension {ds.dim} "
                         "(text queries would need the encoder that made the vectors)")
    if queries.vectors is not None:
        if ds.kind == "text":
            raise ValueError(f"{ds.name} is a text dataset: its queries must be texts (they are encoded with the "
                             "passages), not vectors")
        if queries.vectors.shape[1] != ds.dim:
            raise ValueError(f"the query vectors have {queries.vectors.shape[1]} dims but {ds.name}'s vectors have "
                             f"{ds.dim}; both must come from the same encoder")
    params = dict(ds.params)
    if qrels is not None:
        doc_ids, query_ids = set(ds.ids), set(queries.ids)
        kept: dict[str, dict[str, int]] = {}
        dropped_docs = dropped_queries = 0
        for qid, judged in qrels.items():
            if qid not in query_ids:
                dropped_queries += 1
                continue
            on_corpus = {d: r for d, r in judged.items() if d in doc_ids}
            dropped_docs += len(judged) - len(on_corpus)
            if any(r > 0 for r in on_corpus.values()):
                kept[qid] = on_corpus
        if not kept:
            example = next(iter(qrels))
            raise ValueError(f"no judgment matches this dataset: the qrels name queries such as {example!r} and "
                             f"documents such as {next(iter(qrels[example]))!r}, but the dataset's ids look like "
                             f"{ds.ids[0]!r} and the queries' like {queries.ids[0]!r}")
        if dropped_docs or dropped_queries:
            params["qrels_dropped"] = (f"{dropped_docs:,} judgments on documents not in the dataset and "
                                       f"{dropped_queries:,} queries not in the query file were dropped")
        qrels = kept
        params.pop("qrels_from", None)  # a qrels file holds relevance judgments, whatever the base file had
    elif ds.qrels is not None and queries is not ds.queries:
        qrels = None  # the dataset's judgments were for its own queries
        params.pop("qrels_from", None)
    else:
        qrels = ds.qrels
    return replace(ds, queries=queries, qrels=qrels, params=params, _fingerprint=None)


# ------------------------------------------------------------------------------ a labels file

#: Header names of a labels file's two columns (``id,label``).
LABEL_HEADERS = ("label", "labels", "category", "class", "topic")
ID_HEADERS = ("id", "_id", "doc_id", "docid")


def read_labels(path: str | Path) -> tuple[list[str] | None, list[str]]:
    """A labels file beside bare vectors: ``(ids or None, labels)``.

    One column (one label per line, in the vectors' order; a header line named like a label is skipped),
    or two comma/tab-separated columns ``id,label`` (a header line is allowed). ValueError naming the line.
    """
    import csv
    import io

    from core.data.table_files import read_utf8

    path = Path(path)
    text = read_utf8(path)
    sample = text[:4096]
    delimiter = "\t" if "\t" in sample else ","
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"{path.name} holds no labels")
    widths = {len(r) for r in rows}
    if len(widths) != 1 or widths.pop() not in (1, 2):
        bad = next(i for i, r in enumerate(rows, start=1) if len(r) != len(rows[0]) or len(r) > 2)
        raise ValueError(f"{path.name}: line {bad} has {len(rows[bad - 1])} fields; a labels file has one column "
                         "(a label per line) or two (id,label)")
    head = [c.strip().lower() for c in rows[0]]
    if len(head) == 1:
        if head[0] in LABEL_HEADERS:
            rows = rows[1:]
        return None, [r[0].strip() for r in rows]
    if head[0] in ID_HEADERS and head[1] in LABEL_HEADERS:
        rows = rows[1:]
    ids = [r[0].strip() for r in rows]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path.name}: the id column repeats ids; each item needs one label")
    return ids, [r[1].strip() for r in rows]


def attach_labels(ds: Dataset, ids: list[str] | None, labels: list[str], filename: str = "labels file") -> Dataset:
    """``ds`` with one label per item from a labels file (see `read_labels`); ValueError on a mismatch."""
    if ids is None:
        if len(labels) != ds.n:
            raise ValueError(f"{filename} has {len(labels):,} labels but {ds.name} has {ds.n:,} items; one label per "
                             "line, in the items' order (or two columns id,label)")
        return replace(ds, labels=list(labels), _fingerprint=None)
    by_id = dict(zip(ids, labels, strict=True))
    missing = [i for i in ds.ids if i not in by_id]
    if missing:
        raise ValueError(f"{filename} has no label for {len(missing):,} of {ds.n:,} items (for example "
                         f"{missing[0]!r}; the items' ids look like {ds.ids[0]!r})")
    return replace(ds, labels=[by_id[i] for i in ds.ids], _fingerprint=None)
