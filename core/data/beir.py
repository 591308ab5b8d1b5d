"""BEIR folders: corpus.jsonl, queries.jsonl and qrels/*.tsv -> a dataset with queries and judgments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.data.dataset import Dataset, Queries
from core.data.file_info import FileInfo
from core.data.table_files import read_delimited, read_jsonl, read_utf8

BEIR_FILES: tuple[str, ...] = ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv")


# --------------------------------------------------------------------------- #
# BEIR folders
# --------------------------------------------------------------------------- #


def _beir_paths(folder: Path) -> dict[str, Path]:
    paths = {name: folder / name for name in BEIR_FILES}
    missing = [name for name, p in paths.items() if not p.is_file()]
    if missing:
        raise ValueError(
            f"{folder.name} is not a complete BEIR folder: missing {', '.join(missing)} "
            f"(expected {', '.join(BEIR_FILES)})"
        )
    return paths


def _beir_text(record: dict[str, Any]) -> str:
    """``title + ". " + text`` when there is a title (no extra period after ``?``/``!``/``.``)."""
    title = str(record.get("title") or "").strip()
    text = str(record.get("text") or "").strip()
    if not title:
        return text
    joiner = " " if title[-1] in ".!?" else ". "
    return f"{title}{joiner}{text}" if text else title


def _beir_records(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    table = read_jsonl(path)
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise ValueError(f"{path.name} has no {', '.join(missing)} field; found: {', '.join(table.columns)}")
    return [{c: table.data[c][i] for c in table.columns} for i in range(table.n_rows)]


def _read_beir_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``qrels/test.tsv`` (header ``query-id corpus-id score``) as ``{query: {doc: score}}``."""
    table = read_delimited(path, "\t")
    if len(table.columns) < 3:
        raise ValueError(f"{path.name}: expected columns query-id, corpus-id, score; found {table.columns}")
    qcol, dcol, scol = table.columns[:3]
    qrels: dict[str, dict[str, int]] = {}
    for i in range(table.n_rows):
        score = table.data[scol][i].strip()
        if not score.lstrip("-").isdigit():
            raise ValueError(f"{path.name}: data row {i + 1} has score {score!r}; scores must be integers")
        qrels.setdefault(table.data[qcol][i].strip(), {})[table.data[dcol][i].strip()] = int(score)
    return qrels


def _beir_corpus(path: Path, max_rows: int | None) -> tuple[dict[str, str], int]:
    """``{doc id: text}`` of the first ``max_rows`` non-empty documents, and how many were empty."""
    texts_by_id: dict[str, str] = {}
    seen: set[str] = set()
    dropped = 0
    for record in _beir_records(path, ("_id",)):
        doc_id, text = str(record["_id"]), _beir_text(record)
        if doc_id in seen:
            raise ValueError(f"{path.name} repeats _id {doc_id!r}; document ids must be unique")
        seen.add(doc_id)
        if not text:
            dropped += 1
        elif max_rows is None or len(texts_by_id) < max_rows:
            texts_by_id[doc_id] = text
    return texts_by_id, dropped


def load_beir(folder: Path, *, name: str, metric: str | None, max_rows: int | None) -> Dataset:
    """A BEIR folder: corpus, queries, and test qrels; only queries with a relevant document are kept."""
    paths = _beir_paths(folder)
    texts_by_id, dropped = _beir_corpus(paths["corpus.jsonl"], max_rows)
    records = _beir_records(paths["queries.jsonl"], ("_id", "text"))
    query_texts = {str(r["_id"]): str(r.get("text") or "").strip() for r in records}
    qrels = _filter_qrels(_read_beir_qrels(paths["qrels/test.tsv"]), set(texts_by_id), query_texts)
    if not qrels:
        raise ValueError(
            f"{folder.name}: no query in qrels/test.tsv has a relevant document in the corpus"
            + (" (max_rows may have cut them off)" if max_rows else "")
        )
    query_ids = sorted(qrels)
    params = {"path": str(folder), "format": "beir", "max_rows": max_rows, "dropped_empty": dropped}
    return Dataset(
        name=name,
        ids=list(texts_by_id),
        texts=list(texts_by_id.values()),
        queries=Queries(ids=query_ids, texts=[query_texts[q] for q in query_ids]),
        qrels=qrels,
        metric=metric or "cosine",
        params=params,
        description=f"BEIR corpus {folder.name}: {len(texts_by_id)} passages, {len(query_ids)} test queries",
    )


def _filter_qrels(
    qrels: dict[str, dict[str, int]], doc_ids: set[str], query_texts: dict[str, str]
) -> dict[str, dict[str, int]]:
    """Judgments on loaded documents, for queries with text and at least one relevant document."""
    kept: dict[str, dict[str, int]] = {}
    for qid, judged in qrels.items():
        judged = {d: r for d, r in judged.items() if d in doc_ids}
        if query_texts.get(qid) and any(r > 0 for r in judged.values()):
            kept[qid] = judged
    return kept


def inspect_beir(folder: Path) -> FileInfo:
    paths = _beir_paths(folder)
    n_docs = sum(1 for line in read_utf8(paths["corpus.jsonl"]).split("\n") if line.strip())
    n_queries = sum(1 for line in read_utf8(paths["queries.jsonl"]).split("\n") if line.strip())
    return FileInfo(path=str(folder), format="beir", kind="text", n_rows=n_docs, n_queries=n_queries)
