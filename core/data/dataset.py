"""The `Dataset`: what a workspace is built from.

A dataset holds either texts (to be encoded) or vectors (used as given), plus
optional labels (categories), optional queries with relevance judgments
(qrels), and the similarity metric. Every dataset has a content fingerprint so
cached artifacts derived from it (embeddings, kNN graphs, ...) are keyed by what
the data *is*, not by what it is called.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Metric = Literal["cosine", "ip", "l2"]
METRICS: tuple[str, ...] = ("cosine", "ip", "l2")


@dataclass
class Queries:
    """Queries of a dataset: ids plus texts (text datasets) or vectors (vector datasets)."""

    ids: list[str]
    texts: list[str] | None = None
    vectors: np.ndarray | None = None  # float32 (nq, d)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Dataset:
    """A corpus of texts or vectors.

    Attributes:
        name: short name, e.g. ``"stdlib-docs"``.
        ids: one string id per item, unique, in a deterministic order.
        texts: the passages (text datasets) or ``None``.
        vectors: float32 ``(n, d)`` (vector datasets) or ``None``.
        labels: one category per item, or ``None``.
        queries: optional `Queries`.
        qrels: ``{query_id: {doc_id: relevance}}`` or ``None``.
        metric: ``"cosine"``, ``"ip"`` or ``"l2"``.
        params: how it was built (limit, seed, path, ...), for display and keys.
        description: one line for the dataset card.
        titles: one short title per item, shown beside its text in tables and hover but
            never encoded (the docstring corpora keep each summary sentence here, so a query
            made of that summary does not appear in the passage it must find), or ``None``.
    """

    name: str
    ids: list[str]
    texts: list[str] | None = None
    vectors: np.ndarray | None = None
    labels: list[str] | None = None
    queries: Queries | None = None
    qrels: dict[str, dict[str, int]] | None = None
    metric: str = "cosine"
    params: dict = field(default_factory=dict)
    description: str = ""
    titles: list[str] | None = None
    _fingerprint: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {self.metric!r}")
        if (self.texts is None) == (self.vectors is None):
            raise ValueError("a dataset holds either texts or vectors (exactly one of them)")
        n = len(self.ids)
        if n == 0:
            raise ValueError(f"dataset {self.name!r} is empty: it has no items")
        if self.texts is not None and len(self.texts) != n:
            raise ValueError(f"{len(self.texts)} texts but {n} ids")
        if self.vectors is not None and (self.vectors.ndim != 2 or self.vectors.shape[0] != n):
            raise ValueError(f"vectors have shape {self.vectors.shape}, expected ({n}, d)")
        if self.labels is not None and len(self.labels) != n:
            raise ValueError(f"{len(self.labels)} labels but {n} items")
        if self.titles is not None and len(self.titles) != n:
            raise ValueError(f"{len(self.titles)} titles but {n} items")
        if len(set(self.ids)) != n:
            raise ValueError(f"dataset {self.name!r} has duplicate ids")

    @property
    def kind(self) -> str:
        """``"text"`` or ``"vectors"``."""

        return "text" if self.texts is not None else "vectors"

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int | None:
        """Dimension of the given vectors (``None`` for text datasets)."""
        return None if self.vectors is None else int(self.vectors.shape[1])

    @property
    def n_labels(self) -> int:
        return 0 if self.labels is None else len(set(self.labels))

    @property
    def has_qrels(self) -> bool:
        """Whether the dataset has relevance judgments (not a file's ground-truth neighbours)."""
        return bool(self.qrels) and self.queries is not None and len(self.queries) > 0 and not self.qrels_are_neighbors

    @property
    def qrels_are_neighbors(self) -> bool:
        """The "qrels" are a benchmark file's true nearest neighbours (ann-benchmarks ``neighbors``,
        VectorDBBench ``neighbors.parquet``): ground truth for recall, not relevance judgments."""
        return self.params.get("qrels_from") == "neighbors"

    def fingerprint(self) -> str:
        """Content hash of items, labels, queries, qrels and metric (hex, 16 chars)."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            h.update(f"{self.metric}\x00{self.kind}\x00".encode())
            for i in self.ids:
                h.update(i.encode("utf-8", "surrogatepass") + b"\x00")
            if self.texts is not None:
                for t in self.texts:
                    h.update(t.encode("utf-8", "surrogatepass") + b"\x01")
            if self.vectors is not None:
                h.update(str(self.vectors.shape).encode())
                h.update(np.ascontiguousarray(self.vectors, dtype=np.float32).tobytes())
            if self.titles is not None:
                h.update(b"titles")
                for t in self.titles:
                    h.update(t.encode("utf-8", "surrogatepass") + b"\x06")
            if self.labels is not None:
                h.update(b"labels")
                for lab in self.labels:
                    h.update(str(lab).encode("utf-8", "surrogatepass") + b"\x02")
            if self.queries is not None:
                h.update(b"queries")
                for q in self.queries.ids:
                    h.update(q.encode() + b"\x03")
                for t in self.queries.texts or []:
                    h.update(t.encode("utf-8", "surrogatepass") + b"\x03")
                if self.queries.vectors is not None:
                    h.update(np.ascontiguousarray(self.queries.vectors, dtype=np.float32).tobytes())
            if self.qrels:
                for q in sorted(self.qrels):
                    for d, r in sorted(self.qrels[q].items()):
                        h.update(f"{q}\x04{d}\x04{r}\x05".encode())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint

    def display_text(self, i: int) -> str:
        """What a person reads for item ``i``: its title and text (``"title — text"``), or its id."""
        text = " ".join(self.texts[i].split()) if self.texts is not None else ""
        title = self.titles[i] if self.titles is not None else ""
        if title and text:
            return f"{title} — {text}"
        return title or text or self.ids[i]

    def label_array(self) -> np.ndarray | None:
        return None if self.labels is None else np.asarray(self.labels, dtype=object)

    def summary(self) -> dict:
        """Numbers for a dataset card."""
        return {
            "name": self.name,
            "kind": self.kind,
            "n": self.n,
            "dim": self.dim,
            "metric": self.metric,
            "categories": self.n_labels,
            "queries": 0 if self.queries is None else len(self.queries),
            "qrels": self.has_qrels,
        }


def check_vectors(x: np.ndarray, what: str = "vectors", *, allow_zero: bool = True) -> np.ndarray:
    """Validate a numeric matrix and return it as C-contiguous float32 ``(n, d)``.

    Raises ValueError naming the problem and the counts (NaN/inf rows, zero rows).
    """
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{what} must be a numpy array, got {type(x).__name__}")
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise ValueError(f"{what} must be numeric, got dtype {x.dtype}")
    if x.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (n, d), got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{what} is empty (shape {x.shape})")
    x = np.ascontiguousarray(x, dtype=np.float32)
    finite = np.isfinite(x).all(axis=1)
    if not finite.all():
        bad = int((~finite).sum())
        raise ValueError(
            f"{what}: {bad} of {x.shape[0]} rows contain NaN or inf "
            f"(first at row {int(np.flatnonzero(~finite)[0])}); clean or drop them first"
        )
    if not allow_zero:
        zero = ~np.any(x != 0, axis=1)
        if zero.any():
            raise ValueError(
                f"{what}: {int(zero.sum())} of {x.shape[0]} rows are all-zero vectors "
                f"(first at row {int(np.flatnonzero(zero)[0])}); a zero vector has no direction "
                "and cannot be normalised for cosine similarity; drop them or use metric 'l2'"
            )
    return x


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """L2-normalise rows (float32); zero rows must have been rejected before."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return x / norms


def subsample(ds: Dataset, n: int, seed: int = 0) -> Dataset:
    """A seeded random sample of ``n`` items, kept in their original order.

    Queries are kept when at least one of their relevant documents survives.
    """
    if n < 1:
        raise ValueError(f"sample size must be at least 1, got {n}")
    if n >= ds.n:
        return ds
    rows = np.sort(np.random.default_rng(seed).choice(ds.n, size=n, replace=False))
    ids = [ds.ids[i] for i in rows]
    keep = set(ids)
    queries, qrels = ds.queries, ds.qrels
    if ds.qrels and ds.queries is not None:
        qrels = {q: {d: r for d, r in rel.items() if d in keep} for q, rel in ds.qrels.items()}
        qrels = {q: rel for q, rel in qrels.items() if rel}
        qsel = [i for i, q in enumerate(ds.queries.ids) if q in qrels]
        queries = Queries(
            [ds.queries.ids[i] for i in qsel],
            None if ds.queries.texts is None else [ds.queries.texts[i] for i in qsel],
            None if ds.queries.vectors is None else ds.queries.vectors[qsel],
        )
    return Dataset(
        name=ds.name,
        ids=ids,
        texts=None if ds.texts is None else [ds.texts[i] for i in rows],
        vectors=None if ds.vectors is None else np.ascontiguousarray(ds.vectors[rows]),
        labels=None if ds.labels is None else [ds.labels[i] for i in rows],
        titles=None if ds.titles is None else [ds.titles[i] for i in rows],
        queries=queries,
        qrels=qrels,
        metric=ds.metric,
        params={**ds.params, "limit": n, "seed": seed},
        description=ds.description,
    )


def take_rows(ds: Dataset, rows) -> Dataset:
    """The items at ``rows`` (in that order) as a dataset without queries: an experiment's base after
    some items were held out as its queries (see `core.workspace.Workspace.eval_set`)."""
    rows = np.asarray(rows, dtype=np.int64)
    return Dataset(
        name=ds.name,
        ids=[ds.ids[i] for i in rows],
        texts=None if ds.texts is None else [ds.texts[i] for i in rows],
        vectors=None if ds.vectors is None else np.ascontiguousarray(ds.vectors[rows]),
        labels=None if ds.labels is None else [ds.labels[i] for i in rows],
        titles=None if ds.titles is None else [ds.titles[i] for i in rows],
        metric=ds.metric,
        params=dict(ds.params),
        description=ds.description,
    )
