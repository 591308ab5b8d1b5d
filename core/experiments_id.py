"""Workspace glue for the intrinsic-dimension and insertion-order experiments.

`core.intrinsic` and `core.order` work on arrays; this module feeds them a
workspace's cached artifacts (embeddings, exact kNN graph, evaluation split,
ground truth), caches what they compute, and flattens results into run rows:

* `lid_for_workspace` -- pointwise LID of every item from the cached kNN graph
  (artifact kind ``"lid"``), shared by both pages and both CLI commands.
* `estimate_id` -- LocalMLE mean, Levina–Bickel, TwoNN and PCA-ID side by side,
  one row per estimator (a run of kind ``"id"``).
* `order_study_for_workspace` -- the insertion-order study on the workspace's eval
  split; each configuration's per-query recall is an artifact (kind
  ``"per-query-recall"``, the row in its metadata), so rerunning a study, or one that
  adds an order, only builds what is new. `load_order_run` reads a saved run back.
* `order_diagnostics` -- in-degree, hubs and never-returned base points of one build.

LID of base and held-out query vectors comes from the kNN graph of *all* items
(queries included), the graph every page shares; a query's LID is therefore read
off its own row of that graph. For datasets with their own queries, query LID is
`core.order.query_lid` against the base (artifact kind ``"query-lid"``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from .cache import artifact_key
from .intrinsic import PCAID, LevinaBickelMLE, LocalMLE, TwoNN
from .knn import to_distances
from .order import (
    BACKENDS,
    DEFAULT_EF_SEARCH,
    DEFAULT_ORDERS,
    ORDERS,
    SEEDED_ORDERS,
    build_hnsw,
    faiss_level0_graph,
    in_degree,
    insertion_order,
    never_returned,
    query_lid,
    recall_vs_lid,
    run_order_study,
    validate_permutation,
)
from .progress import ProgressFn, report

#: Neighbours per point for LID (Elliott & Clark use 100).
DEFAULT_LID_K = 100
#: Neighbours per point for the Levina–Bickel global estimate (their suggested 10–20).
DEFAULT_LB_K = 20
DUPLICATE_TOL = 1e-2


def check_neighbours(k: int, n: int, what: str = "k") -> int:
    """``k`` as int if ``2 <= k <= n - 1`` (neighbours exclude the point itself), else ValueError."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"{what} must be an integer, got {k!r}")
    if k < 2:
        raise ValueError(f"{what}={k}: the LID estimate needs at least 2 neighbours per point")
    if k >= n:
        raise ValueError(
            f"{what}={k} neighbours needs at least {k + 1} items (each item's neighbours exclude itself), "
            f"but there are {n}; choose {what} <= {n - 1}"
        )
    return int(k)


# ----------------------------------------------------------------------- LID


@dataclass
class LIDResult:
    """Pointwise LID of every item of a workspace.

    Attributes:
        lid: float64 ``(n,)`` LID per item (NaN where degenerate).
        neighbours_used: int64 ``(n,)`` neighbours left after dropping duplicates.
        k: neighbours per item.
        cached: loaded from the artifact cache (not computed now).
        seconds: time it took when first computed (kNN graph excluded when that was cached).
    """

    lid: np.ndarray
    neighbours_used: np.ndarray
    k: int
    cached: bool
    seconds: float

    @property
    def mean(self) -> float:
        ok = np.isfinite(self.lid)
        return float(self.lid[ok].mean()) if ok.any() else float("nan")

    @property
    def median(self) -> float:
        ok = np.isfinite(self.lid)
        return float(np.median(self.lid[ok])) if ok.any() else float("nan")

    @property
    def n_degenerate(self) -> int:
        """Items without an estimate: all their neighbours are duplicates of them (or tied)."""
        return int(np.isnan(self.lid).sum())

    @property
    def n_with_duplicates(self) -> int:
        """Items with at least one duplicate neighbour dropped from their estimate."""
        return int((self.neighbours_used < self.k).sum())


def _lid_key(ws, k: int) -> str:
    return artifact_key("lid", ws.embeddings_key, int(k), ws.metric, DUPLICATE_TOL)


def lid_is_cached(ws, k: int = DEFAULT_LID_K) -> bool:
    """Whether `lid_for_workspace(ws, k)` would load instead of compute."""
    return ws.cache.exists("lid", _lid_key(ws, k))


def knn_distances(ws, k: int, progress: ProgressFn | None = None) -> np.ndarray:
    """Euclidean distances ``(n, k)`` to each item's ``k`` exact nearest neighbours (cached graph)."""
    D, _ = ws.knn(k, progress=progress)
    return to_distances(D, ws.metric)


def lid_for_workspace(ws, k: int = DEFAULT_LID_K, progress: ProgressFn | None = None) -> LIDResult:
    """LID (Amsaleg et al. MLE, `core.intrinsic.LocalMLE`) of every item; artifact kind ``"lid"``.

    The artifact is float64 ``(n, 2)``: column 0 the LID, column 1 the neighbours used.
    Raises ValueError when ``k >= n``.
    """
    n = ws.dataset.n
    k = check_neighbours(k, n)
    key = _lid_key(ws, k)
    hit = ws.cache.load("lid", key)
    if hit is not None:
        arr, meta = hit
        return LIDResult(arr[:, 0].copy(), arr[:, 1].astype(np.int64), k, True, float(meta.get("seconds", 0.0)))
    t0 = time.perf_counter()
    report(progress, 0, 2, f"exact {k}-NN graph of {n:,} items")
    R = knn_distances(ws, k, progress)
    report(progress, 1, 2, "LID by maximum likelihood")
    est = LocalMLE(k=k, duplicate_tol=DUPLICATE_TOL).fit(knn_distances=R)
    seconds = time.perf_counter() - t0
    arr = np.column_stack([est.dimension_pw_, est.n_neighbors_used_.astype(np.float64)])
    ws.cache.save("lid", key, arr, {"k": k, "metric": ws.metric, "seconds": seconds,
                                    "n_degenerate": est.n_degenerate_, "duplicate_tol": DUPLICATE_TOL})
    report(progress, 2, 2, "LID done")
    return LIDResult(est.dimension_pw_, est.n_neighbors_used_.astype(np.int64), k, False, seconds)


# ------------------------------------------------------------- global estimates


def pca_spectrum(ws, progress: ProgressFn | None = None) -> np.ndarray:
    """Explained-variance ratio of every principal component of the embeddings (artifact ``"pca-spectrum"``)."""
    key = artifact_key("pca-spectrum", ws.embeddings_key)

    def compute():
        x = ws.embeddings(progress)
        return PCAID(threshold=0.99).fit(x).explained_variance_ratio_

    return ws.cache.get_or_compute("pca-spectrum", key, compute)[0]


def pca_id_at(ratio: np.ndarray, threshold: float) -> int:
    """Components needed for ``threshold`` of the variance, from an explained-variance ratio.

    Same rule as `core.intrinsic.PCAID` (so a slider re-reads a cached spectrum instantly).
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    ratio = np.asarray(ratio, dtype=np.float64)
    if ratio.size == 0 or ratio.sum() <= 0:
        return 0
    first = int(np.searchsorted(np.cumsum(ratio), threshold - 1e-12)) + 1
    return min(first, ratio.size)


@dataclass
class IDResult:
    """What the Intrinsic dimension page and ``python -m core id`` show."""

    lid: LIDResult
    estimates: pd.DataFrame  # one row per estimator (see `global_estimates`)
    spectrum: np.ndarray  # PCA explained-variance ratio
    n: int
    dim: int


def global_estimates(
    ws,
    lid: LIDResult,
    spectrum: np.ndarray,
    *,
    lb_k: int = DEFAULT_LB_K,
    pca_threshold: float = 0.99,
) -> pd.DataFrame:
    """One row per global estimator: ``estimator``, ``dimension``, ``setting``, ``n_degenerate``, ``reads``.

    LocalMLE is the mean of the pointwise LID; Levina–Bickel (harmonic mean, k = ``lb_k``,
    at most the LID's k) and TwoNN reuse the same cached kNN graph; PCA-ID reads the
    cached spectrum at ``pca_threshold``.
    """
    lb_k = max(min(int(lb_k), lid.k), 2)

    def compute() -> np.ndarray:
        R = knn_distances(ws, lid.k)
        lb = LevinaBickelMLE(k=lb_k, duplicate_tol=DUPLICATE_TOL).fit(knn_distances=R)
        two = TwoNN(duplicate_tol=DUPLICATE_TOL).fit(knn_distances=R)
        return np.array([lb.dimension_, lb.n_degenerate_, two.dimension_, two.n_degenerate_], dtype=np.float64)

    # cached so that a revisit (or a moved slider) does not reload the whole kNN graph
    key = artifact_key("id-global", ws.embeddings_key, ws.metric, lid.k, lb_k, DUPLICATE_TOL)
    lb_dim, lb_deg, two_dim, two_deg = ws.cache.get_or_compute("id-global", key, compute)[0]
    pca = pca_id_at(spectrum, pca_threshold)
    rows = [
        {"estimator": "LocalMLE (mean LID)", "dimension": lid.mean, "setting": f"k={lid.k}",
         "n_degenerate": lid.n_degenerate, "reads": "average of each point's local dimension"},
        {"estimator": "Levina–Bickel", "dimension": float(lb_dim), "setting": f"k={lb_k}",
         "n_degenerate": int(lb_deg), "reads": "pooled MLE (harmonic mean), global"},
        {"estimator": "TwoNN", "dimension": float(two_dim), "setting": "2 nearest neighbours",
         "n_degenerate": int(two_deg), "reads": "ratio of 2nd to 1st neighbour distance, global"},
        {"estimator": "PCA-ID", "dimension": float(pca), "setting": f"{pca_threshold:.1%} of variance",
         "n_degenerate": 0, "reads": "linear: principal components needed"},
    ]
    return pd.DataFrame(rows)


def estimate_id(
    ws,
    k: int = DEFAULT_LID_K,
    *,
    lb_k: int = DEFAULT_LB_K,
    pca_threshold: float = 0.99,
    progress: ProgressFn | None = None,
    recorder=None,
) -> IDResult:
    """LID (cached) plus the global estimates; with ``recorder``, one run row per estimator."""
    x = ws.embeddings(progress)
    lid = lid_for_workspace(ws, k, progress)
    spectrum = pca_spectrum(ws, progress)
    est = global_estimates(ws, lid, spectrum, lb_k=lb_k, pca_threshold=pca_threshold)
    result = IDResult(lid, est, spectrum, int(x.shape[0]), int(x.shape[1]))
    if recorder is not None:
        recorder.add(*id_rows(result))
    return result


def id_rows(result: IDResult) -> list[dict]:
    """Run rows of an ID estimate: one per estimator, with the data's size and LID spread."""
    ok = result.lid.lid[np.isfinite(result.lid.lid)]
    spread = {
        "lid_median": float(np.median(ok)) if ok.size else None,
        "lid_p10": float(np.percentile(ok, 10)) if ok.size else None,
        "lid_p90": float(np.percentile(ok, 90)) if ok.size else None,
    }
    return [
        {**{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()},
         "n": result.n, "ambient_dim": result.dim, "lid_k": result.lid.k,
         "n_with_duplicates": result.lid.n_with_duplicates, **spread}
        for r in result.estimates.to_dict("records")
    ]


def lid_by_category(lid: np.ndarray, labels: Sequence | None, top: int = 12) -> pd.DataFrame:
    """Long table ``category``, ``lid`` for the ``top`` largest categories (finite LID only),
    categories ordered by median LID, highest first. Empty without labels."""
    if labels is None:
        return pd.DataFrame(columns=["category", "lid"])
    frame = pd.DataFrame({"category": [str(c) for c in labels], "lid": np.asarray(lid, dtype=np.float64)})
    frame = frame[np.isfinite(frame["lid"])]
    biggest = frame["category"].value_counts().index[:top]
    frame = frame[frame["category"].isin(biggest)]
    order = frame.groupby("category")["lid"].median().sort_values(ascending=False).index
    frame["category"] = pd.Categorical(frame["category"], categories=list(order), ordered=True)
    return frame.sort_values("category", kind="stable").reset_index(drop=True)


def category_lid_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per category of `lid_by_category`: ``items``, ``median``, ``p10``, ``p90`` (highest median first)."""
    if frame.empty:
        return pd.DataFrame(columns=["category", "items", "median", "p10", "p90"])
    g = frame.groupby("category", observed=True)["lid"]
    out = pd.DataFrame({
        "items": g.size(), "median": g.median(), "p10": g.quantile(0.1), "p90": g.quantile(0.9),
    }).reset_index()
    out["category"] = out["category"].astype(str)
    return out.sort_values("median", ascending=False, kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------- order study


@dataclass
class OrderStudyParams:
    """Parameters of an insertion-order study on a workspace (build and search kept apart)."""

    backends: tuple[str, ...] = BACKENDS
    orders: tuple[str, ...] = DEFAULT_ORDERS
    seeds: tuple[int, ...] = (0, 1, 2)
    M: int = 16
    ef_construction: int = 128
    ef_search: tuple[int, ...] = DEFAULT_EF_SEARCH
    k: int = 10
    n_queries: int | None = None  # None: the dataset's queries, or 10% held out (at most 1,000)
    query_seed: int = 0
    lid_k: int = DEFAULT_LID_K

    def __post_init__(self) -> None:
        self.backends = tuple(self.backends)
        self.orders = tuple(dict.fromkeys(self.orders))
        self.seeds = tuple(int(s) for s in self.seeds)
        self.ef_search = tuple(int(e) for e in self.ef_search)
        unknown = [b for b in self.backends if b not in BACKENDS]
        if unknown or not self.backends:
            raise ValueError(f"backends must be among {', '.join(BACKENDS)}, got {list(self.backends)}")
        bad = [o for o in self.orders if o not in ORDERS]
        if bad or not self.orders:
            raise ValueError(f"orders must be among {', '.join(ORDERS)}, got {list(self.orders)}")
        if not self.ef_search or min(self.ef_search) < 1:
            raise ValueError(f"efSearch must be a list of positive integers, got {list(self.ef_search)}")
        if any(o in SEEDED_ORDERS for o in self.orders) and not self.seeds:
            raise ValueError("random and category orders need at least one seed")
        if self.M < 2 or self.ef_construction < 1:
            raise ValueError(f"M must be >= 2 and efConstruction >= 1, got M={self.M}, "
                             f"efConstruction={self.ef_construction}")
        if self.k < 1:
            raise ValueError(f"k must be positive, got {self.k}")
        if self.n_queries is not None and self.n_queries < 1:
            raise ValueError(f"the number of queries must be positive, got {self.n_queries}")

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> OrderStudyParams:
        names = cls.__dataclass_fields__
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names})

    def configurations(self) -> list[tuple[str, str, int | None]]:
        """``(backend, order, seed)`` of every build, in the order they run."""
        return [
            (b, o, s)
            for b in self.backends
            for o in self.orders
            for s in (self.seeds if o in SEEDED_ORDERS else (None,))
        ]


@dataclass
class OrderStudyInputs:
    """Everything a study needs, read from the workspace's caches (see `prepare_order_study`)."""

    xb: np.ndarray
    xq: np.ndarray
    gt_D: np.ndarray
    gt_I: np.ndarray
    base_rows: np.ndarray  # dataset row of each base vector
    lid: np.ndarray  # (n_base,) LID of the base vectors
    query_lid: np.ndarray  # (nq,)
    labels: np.ndarray | None  # (n_base,) or None
    custom: np.ndarray | None  # (n_base,) permutation of base positions, or None
    source: str
    study_key: str
    metric: str
    extra: dict = field(default_factory=dict)

    @property
    def n_base(self) -> int:
        return int(self.xb.shape[0])


def custom_to_base(custom_rows, n_items: int, base_rows: np.ndarray) -> np.ndarray:
    """An uploaded order over dataset rows ``0..n_items-1`` as a permutation of base positions.

    Held-out query rows are skipped; the rest keep their relative order.
    """
    rows = validate_permutation(custom_rows, n_items, "uploaded order")
    position = np.full(n_items, -1, dtype=np.int64)
    position[np.asarray(base_rows, dtype=np.int64)] = np.arange(len(base_rows))
    mapped = position[rows]
    return mapped[mapped >= 0]


def _versions() -> dict:
    import faiss
    import hnswlib

    return {"faiss": getattr(faiss, "__version__", "?"), "hnswlib": getattr(hnswlib, "__version__", "?")}


def check_order_inputs(ws, params: OrderStudyParams, custom_order=None) -> int:
    """Cheap checks before anything is computed; returns the LID k. Raises ValueError."""
    ds = ws.dataset
    if "category" in params.orders and ds.labels is None:
        raise ValueError(f"{ds.name} has no categories: the category order needs a label per item")
    if "custom" in params.orders and custom_order is None:
        raise ValueError("the custom order needs a column of row ids: upload one (or --custom-order FILE)")
    if custom_order is not None:
        validate_permutation(custom_order, ds.n, "uploaded order")
    return check_neighbours(params.lid_k, ds.n, "LID k")


def prepare_order_study(
    ws, params: OrderStudyParams, *, custom_order=None, progress: ProgressFn | None = None
) -> OrderStudyInputs:
    """Eval split, exact ground truth, LID of base and queries (all cached artifacts).

    ``custom_order``: a permutation of the dataset's rows ``0..n-1`` (see `custom_to_base`).
    Raises ValueError on bad input before anything is built.
    """
    ds = ws.dataset
    lid_k = check_order_inputs(ws, params, custom_order)
    report(progress, 0, 3, "evaluation split and exact ground truth")
    ev = ws.eval_set(params.n_queries, params.query_seed, progress=progress)
    if params.k > ev.xb.shape[0]:
        raise ValueError(f"recall@{params.k} needs at least {params.k} base vectors; there are {ev.xb.shape[0]}")
    gt_D, gt_I = ws.ground_truth(ev, params.k, progress=progress)
    report(progress, 1, 3, f"LID of every item (k={lid_k})")
    lid = lid_for_workspace(ws, lid_k, progress).lid
    custom, custom_sha = None, None
    if custom_order is not None:
        rows = validate_permutation(custom_order, ds.n, "uploaded order")
        custom = custom_to_base(rows, ds.n, ev.base_rows)
        custom_sha = artifact_key("custom-order", rows.tolist())
        if not ws.cache.exists("custom-order", custom_sha):
            ws.cache.save("custom-order", custom_sha, rows, {"n": ds.n})
    study_key = artifact_key(
        "order-study", ws.embeddings_key, ev.key, ws.metric, params.k, params.M, params.ef_construction,
        lid_k, DUPLICATE_TOL, custom_sha, _versions(),
    )
    report(progress, 2, 3, "LID of the queries")
    if ev.query_rows is not None:  # held-out items: their own rows of the all-items graph
        qlid = lid[ev.query_rows]
    else:
        qlid = ws.cache.get_or_compute(
            "query-lid", artifact_key(study_key, "query-lid"),
            lambda: query_lid(ev.xb, ev.xq, metric=ws.metric, k=min(lid_k, ev.xb.shape[0] - 1)),
        )[0]
    qkey = artifact_key(study_key, "query-lid")
    if ev.query_rows is not None and not ws.cache.exists("query-lid", qkey):
        ws.cache.save("query-lid", qkey, np.asarray(qlid, dtype=np.float64), {"from": "kNN graph of all items"})
    labels = None
    if ds.labels is not None:
        labels = np.asarray([str(ds.labels[i]) for i in ev.base_rows])
    report(progress, 3, 3, "inputs ready")
    return OrderStudyInputs(
        xb=ev.xb, xq=ev.xq, gt_D=gt_D, gt_I=gt_I, base_rows=np.asarray(ev.base_rows), lid=lid[ev.base_rows],
        query_lid=np.asarray(qlid, dtype=np.float64), labels=labels, custom=custom, source=ev.source,
        study_key=study_key, metric=ws.metric, extra={"custom_sha": custom_sha, "lid_k": lid_k},
    )


def load_custom_order(ws, sha: str | None) -> np.ndarray | None:
    """The uploaded order (dataset rows) a run used, from its ``custom_order_sha``; None if gone."""
    if not sha:
        return None
    hit = ws.cache.load("custom-order", sha)
    return None if hit is None else hit[0]


def read_order_column(source) -> np.ndarray:
    """One column of row ids from a path, bytes or file object: ``.npy``, or CSV/text with one
    id per line (a header line is allowed). Raises ValueError saying what is wrong."""
    import io
    import os

    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            data = f.read()
    elif isinstance(source, bytes):
        data = source
    else:
        data = source.read()
    if data[:6] == b"\x93NUMPY":
        arr = np.load(io.BytesIO(data), allow_pickle=False)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        return arr
    try:
        frame = pd.read_csv(io.BytesIO(data), header=None, comment="#", skip_blank_lines=True)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"the order file is not one column of row ids ({exc})") from None
    if frame.shape[1] != 1:
        raise ValueError(f"the order file has {frame.shape[1]} columns; give one column of row ids")
    col = frame.iloc[:, 0]
    if not pd.api.types.is_numeric_dtype(col):
        col = pd.to_numeric(col.iloc[1:], errors="coerce")  # first line may be a header
        if col.isna().any() or col.empty:
            raise ValueError("the order file must hold integer row ids, one per line (a header line is allowed)")
    return col.to_numpy()


def eval_sizes(ws, n_queries: int | None) -> tuple[int, int, str]:
    """``(n_base, n_queries, source)`` the study will use, without computing anything
    (mirrors `core.workspace.Workspace.eval_set`)."""
    from .workspace import default_n_queries

    ds = ws.dataset
    if ds.queries is not None and len(ds.queries):
        nq = len(ds.queries) if n_queries is None else min(n_queries, len(ds.queries))
        return ds.n, nq, "the dataset's own queries"
    nq = default_n_queries(ds.n) if n_queries is None else min(n_queries, ds.n - 1)
    return ds.n - nq, nq, "items held out from the base (seeded sample)"


def per_query_key(study_key: str, backend: str, order: str, seed, ef_search: int) -> str:
    """Artifact key of one configuration's per-query recall."""
    return artifact_key(study_key, backend, order, None if seed is None else int(seed), int(ef_search))


def _seed_or_none(seed) -> int | None:
    if seed is None or pd.isna(seed):
        return None
    return int(seed)


def order_study_for_workspace(
    ws,
    params: OrderStudyParams,
    progress: ProgressFn | None = None,
    recorder=None,
    *,
    custom_order=None,
    inputs: OrderStudyInputs | None = None,
) -> Iterator[dict]:
    """Run the insertion-order study on ``ws``: yields one flat row per (backend, order, seed, efSearch).

    Rows are `core.order.OrderRow` fields plus ``study`` (the key of its artifacts) and
    ``reused`` (True when loaded from a previous identical configuration instead of built).
    Each configuration's per-query recall is saved as an artifact; rows go to ``recorder``.
    """
    if inputs is None:
        inputs = prepare_order_study(ws, params, custom_order=custom_order, progress=progress)
    configs = params.configurations()
    for done, (backend, order, seed) in enumerate(configs):
        keys = {ef: per_query_key(inputs.study_key, backend, order, seed, ef) for ef in params.ef_search}
        hits = {ef: ws.cache.load("per-query-recall", key) for ef, key in keys.items()}
        seed_text = "" if seed is None else f" seed {seed}"
        if all(h is not None and "row" in h[1] for h in hits.values()):
            report(progress, done, len(configs), f"{backend} · {order}{seed_text}: reused")
            rows = [dict(hits[ef][1]["row"], reused=True) for ef in params.ef_search]
        else:
            report(progress, done, len(configs), f"building {backend} HNSW, order {order}{seed_text}")
            rows = []
            for row, per_query in run_order_study(
                inputs.xb, inputs.xq, inputs.gt_I, metric=inputs.metric, lid=inputs.lid, labels=inputs.labels,
                orders=[order], seeds=[seed] if seed is not None else [0], backends=[backend], M=params.M,
                ef_construction=params.ef_construction, ef_search=params.ef_search, k=params.k,
                custom_order=inputs.custom if order == "custom" else None, gt_D=inputs.gt_D,
            ):
                flat = {**row.as_dict(), "study": inputs.study_key}
                ws.cache.save("per-query-recall", keys[row.ef_search], per_query, {"row": flat})
                rows.append(dict(flat, reused=False))
        for flat in rows:
            if recorder is not None:
                recorder.add(flat)
            yield flat
    report(progress, len(configs), len(configs), "insertion-order study done")


def order_run_params(ws, params: OrderStudyParams, inputs: OrderStudyInputs | None = None) -> dict:
    """Parameters saved with an order run: the study's, plus what identifies the workspace."""
    out = params.as_dict() | {"embeddings_key": ws.embeddings_key, "metric": ws.metric,
                              "dataset_params": dict(ws.dataset.params)}
    if inputs is not None:
        out |= {"n_base": inputs.n_base, "n_queries_used": int(inputs.xq.shape[0]), "queries": inputs.source,
                "custom_order_sha": inputs.extra.get("custom_sha")}
    return out


# ------------------------------------------------------------- reading results


def summarize_order_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean, min and max recall over seeds per ``backend``, ``order``, ``ef_search`` (``n_builds`` = seeds)."""
    if rows.empty:
        return pd.DataFrame(columns=["backend", "order", "ef_search", "mean", "min", "max", "n_builds"])
    g = rows.groupby(["backend", "order", "ef_search"], sort=False)["recall_at_k"]
    out = g.agg(["mean", "min", "max", "size"]).reset_index().rename(columns={"size": "n_builds"})
    return out.sort_values(["backend", "order", "ef_search"], kind="stable").reset_index(drop=True)


def order_gaps(rows: pd.DataFrame) -> pd.DataFrame:
    """Per ``backend`` and ``ef_search``: best and worst order (by mean recall over seeds) and the gap
    in percentage points. Needs at least two orders."""
    cols = ["backend", "ef_search", "best_order", "best", "worst_order", "worst", "gap_points"]
    summary = summarize_order_rows(rows)
    if summary.empty or summary["order"].nunique() < 2:
        return pd.DataFrame(columns=cols)
    out = []
    for (backend, ef), group in summary.groupby(["backend", "ef_search"], sort=True):
        best = group.loc[group["mean"].idxmax()]
        worst = group.loc[group["mean"].idxmin()]
        out.append({"backend": backend, "ef_search": int(ef), "best_order": best["order"], "best": best["mean"],
                    "worst_order": worst["order"], "worst": worst["mean"],
                    "gap_points": 100.0 * (best["mean"] - worst["mean"])})
    return pd.DataFrame(out, columns=cols)


def gap_sentence(gaps: pd.DataFrame, backend: str) -> str:
    """The best–worst gap of one backend in words, e.g. for the page and the CLI."""
    g = gaps[gaps["backend"] == backend]
    if g.empty:
        return ""
    differ = g[g["gap_points"] >= 0.05]
    ties = g[g["gap_points"] < 0.05]
    parts = [f"{r.gap_points:.1f} points at efSearch {r.ef_search} ({r.best_order} {r.best:.1%} vs "
             f"{r.worst_order} {r.worst:.1%})" for r in differ.itertuples()]
    text = f"{backend}: "
    if parts:
        text += "the best insertion order beats the worst by " + "; ".join(parts) + "."
    if not ties.empty:
        efs = ", ".join(str(int(e)) for e in ties["ef_search"])
        text += (" " if parts else "") + f"All orders tie (within 0.05 points) at efSearch {efs}."
    if len(differ) > 1:
        widest = differ.loc[differ["gap_points"].idxmax()]
        text += f" Widest gap: {widest.gap_points:.1f} points at efSearch {int(widest.ef_search)}."
    return text


def latest_order_run(ws, store=None):
    """The newest finished order run of this workspace's embeddings, or None."""
    from .store import RunStore

    store = store or RunStore()
    for run in store.list_runs(kind="order", dataset=ws.dataset.name):
        if run.params.get("embeddings_key") == ws.embeddings_key and run.status == "done" and run.n_rows:
            return run
    return None


@dataclass
class OrderRun:
    """A saved order run read back: its rows and the workspace artifacts they point to."""

    run: object  # core.store.Run
    rows: pd.DataFrame

    @property
    def study_key(self) -> str | None:
        return None if self.rows.empty or "study" not in self.rows else str(self.rows["study"].iloc[0])


def load_order_run(run_id: int, store=None) -> OrderRun:
    from .store import RunStore

    store = store or RunStore()
    run = store.get_run(run_id)
    if run.kind != "order":
        raise ValueError(f"run #{run_id} is a {run.kind} run, not an insertion-order study")
    rows = store.rows(run_id)
    if "seed" in rows:
        rows["seed"] = rows["seed"].astype("Int64")
    return OrderRun(run, rows)


def per_query_recall(ws, row) -> np.ndarray | None:
    """The per-query recall artifact of one row (dict or Series), or None when it is not cached."""
    hit = ws.cache.load("per-query-recall", per_query_key(
        str(row["study"]), str(row["backend"]), str(row["order"]), _seed_or_none(row["seed"]), int(row["ef_search"])))
    return None if hit is None else hit[0]


def query_lid_of_study(ws, study_key: str) -> np.ndarray | None:
    hit = ws.cache.load("query-lid", artifact_key(study_key, "query-lid"))
    return None if hit is None else hit[0]


def recall_vs_lid_table(ws, rows: pd.DataFrame, backend: str, ef_search: int, n_bins: int = 5) -> pd.DataFrame:
    """Per order: queries binned by LID quantile, mean per-query recall (averaged over seeds) and
    Spearman's rho. Columns: ``order``, ``lid_lo``, ``lid_hi``, ``lid_mean``, ``n_queries``,
    ``recall_mean``, ``spearman_rho``. Orders whose per-query recall is not cached are left out."""
    cols = ["order", "lid_lo", "lid_hi", "lid_mean", "n_queries", "recall_mean", "spearman_rho"]
    sel = rows[(rows["backend"] == backend) & (rows["ef_search"] == ef_search)]
    if sel.empty:
        return pd.DataFrame(columns=cols)
    qlid = query_lid_of_study(ws, str(sel["study"].iloc[0]))
    if qlid is None:
        return pd.DataFrame(columns=cols)
    out = []
    for order, group in sel.groupby("order", sort=False):
        arrays = [a for a in (per_query_recall(ws, r) for _, r in group.iterrows()) if a is not None]
        if not arrays or arrays[0].shape != qlid.shape:
            continue
        res = recall_vs_lid(np.mean(arrays, axis=0), qlid, n_bins=n_bins)
        out += [{"order": order, **b, "spearman_rho": res.spearman_rho} for b in res.bins]
    return pd.DataFrame(out, columns=cols)


# ----------------------------------------------------------------- diagnostics


@dataclass
class OrderDiagnostics:
    """Graph diagnostics of one build (base positions map to dataset rows via ``base_rows``)."""

    backend: str
    order: str
    seed: int | None
    ef_search: int
    in_degree: np.ndarray | None  # int64 (n_base,) level-0 in-degree (faiss only)
    never_returned: np.ndarray  # int64 base positions no search returned
    n_base: int
    k: int
    cached: bool

    @property
    def n_without_in_links(self) -> int | None:
        return None if self.in_degree is None else int((self.in_degree == 0).sum())


def order_diagnostics(
    ws,
    params: OrderStudyParams,
    backend: str,
    order: str,
    seed: int | None,
    ef_search: int,
    *,
    inputs: OrderStudyInputs | None = None,
    custom_order=None,
    progress: ProgressFn | None = None,
) -> OrderDiagnostics:
    """Build one index in ``order`` and read its graph: level-0 in-degree (faiss) and the base
    points that no search returns when every base vector is a query (top-``k`` at ``ef_search``).
    Cached as artifacts ``"hnsw-in-degree"`` and ``"never-returned"``."""
    if inputs is None:
        inputs = prepare_order_study(ws, params, custom_order=custom_order, progress=progress)
    seed = _seed_or_none(seed)
    key = artifact_key(inputs.study_key, backend, order, seed, int(ef_search), "diagnostics")
    deg_hit = ws.cache.load("hnsw-in-degree", key)
    nev_hit = ws.cache.load("never-returned", key)
    if nev_hit is not None and (backend != "faiss" or deg_hit is not None):
        return OrderDiagnostics(backend, order, seed, int(ef_search), None if deg_hit is None else deg_hit[0],
                                nev_hit[0], inputs.n_base, params.k, True)
    n = inputs.n_base
    perm = insertion_order(order, n, lid=inputs.lid, labels=inputs.labels, seed=seed, custom=inputs.custom)
    report(progress, 0, 2, f"building {backend} HNSW, order {order}")
    build = build_hnsw(inputs.xb, perm, backend, metric=inputs.metric, M=params.M,
                       ef_construction=params.ef_construction)
    report(progress, 1, 2, f"searching all {n:,} base vectors")
    _, I = build.search(inputs.xb, min(params.k, n), int(ef_search))
    nev = never_returned(I, n)
    deg = None
    if backend == "faiss":
        deg = in_degree(faiss_level0_graph(build.index, build.order)).in_degree
        ws.cache.save("hnsw-in-degree", key, deg, {"backend": backend, "order": order, "seed": seed})
    ws.cache.save("never-returned", key, nev, {"backend": backend, "order": order, "seed": seed})
    report(progress, 2, 2, "diagnostics done")
    return OrderDiagnostics(backend, order, seed, int(ef_search), deg, nev, n, params.k, False)


def hub_table(ws, diag: OrderDiagnostics, base_rows: np.ndarray, top: int = 10) -> pd.DataFrame:
    """The ``top`` nodes with most in-links: ``id``, ``in_degree`` (and ``category``, ``text`` when known)."""
    if diag.in_degree is None:
        return pd.DataFrame(columns=["id", "in_degree"])
    hubs = np.argsort(-diag.in_degree, kind="stable")[:top]
    return _describe_rows(ws, base_rows[hubs], {"in_degree": diag.in_degree[hubs]})


def never_returned_table(ws, diag: OrderDiagnostics, base_rows: np.ndarray, top: int = 20) -> pd.DataFrame:
    return _describe_rows(ws, base_rows[diag.never_returned[:top]], {})


def _describe_rows(ws, rows: np.ndarray, extra: dict) -> pd.DataFrame:
    ds = ws.dataset
    frame = {"id": [ds.ids[i] for i in rows], **{k: np.asarray(v) for k, v in extra.items()}}
    if ds.labels is not None:
        frame["category"] = [str(ds.labels[i]) for i in rows]
    if ds.texts is not None:
        frame["text"] = [" ".join(ds.texts[i].split())[:120] for i in rows]
    return pd.DataFrame(frame)


# -------------------------------------------------------------- time estimate

#: Per-vector build cost grows with n: measured here, going from 1k to 20k vectors raised it
#: 2.8x (50-d) to 4.2x (384-d), i.e. about n^0.35 to n^0.48. 0.45 errs on the slow side.
GROWTH_EXPONENT = 0.45


def probe_build_seconds(
    xb: np.ndarray, backend: str, *, metric: str, M: int, ef_construction: int, sample: int = 1000, seed: int = 0
) -> tuple[float, int]:
    """Time one build on a seeded sample of ``xb``: ``(seconds, sample size)``."""
    n = xb.shape[0]
    m = min(n, sample)
    rows = np.sort(np.random.default_rng(seed).choice(n, m, replace=False))
    return build_hnsw(xb[rows], np.arange(m), backend, metric=metric, M=M, ef_construction=ef_construction).build_s, m


def estimate_build_seconds(probe_seconds: float, probe_n: int, n: int) -> float:
    """Extrapolate a probe build to ``n`` vectors: per-vector cost grows as ``n ** GROWTH_EXPONENT``.

    Sanity check: a 1k-vector probe of 50-d data takes ~0.11 s here, which extrapolates to
    ~27 s for 50k vectors, against ~20 s measured for a faiss build of 50k GloVe vectors.
    """
    if probe_n <= 0:
        return 0.0
    return probe_seconds * (n / probe_n) * (max(n, probe_n) / probe_n) ** GROWTH_EXPONENT


def estimate_study_seconds(params: OrderStudyParams, per_build: dict[str, float]) -> float:
    """Seconds for all builds of a study, from per-backend seconds of one build."""
    return sum(per_build.get(b, 0.0) for b, _, _ in params.configurations())
