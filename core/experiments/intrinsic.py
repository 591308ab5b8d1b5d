"""Workspace glue for intrinsic dimension: pointwise LID from the cached kNN graph and the global
estimators side by side.

* `lid_for_workspace` -- pointwise LID of every item from the cached kNN graph
  (artifact kind ``"lid"``), shared by the ID, order and map pages and the CLI.
* `estimate_id` -- LocalMLE mean, Levina–Bickel, TwoNN and PCA-ID side by side,
  one row per estimator (a run of kind ``"id"``).
* `lid_by_category` / `category_lid_summary` -- LID per category label.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.analysis.intrinsic import PCAID, LevinaBickelMLE, LocalMLE, TwoNN
from core.index.exact import to_distances
from core.progress import ProgressFn, report
from core.store.artifacts import artifact_key

#: Neighbours per point for LID (Elliott & Clark use 100).
DEFAULT_LID_K = 100
#: Neighbours per point for the Levina–Bickel global estimate (their suggested 10–20).
DEFAULT_LB_K = 20
DUPLICATE_TOL = 1e-2


#: Neighbours per point an estimate may use: LID estimators use 10-100 (Elliott & Clark: 100); the kNN
#: graph costs n x k x 12 bytes, so 399,999 neighbours of 400k GloVe words would need 1.9 TB.
MAX_NEIGHBOURS = 1_000


def check_neighbours(k: int, n: int, what: str = "k") -> int:
    """``k`` as int if ``2 <= k <= min(n - 1, MAX_NEIGHBOURS)`` (neighbours exclude the point itself), else
    ValueError."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"{what} must be an integer, got {k!r}")
    if k < 2:
        raise ValueError(f"{what}={k}: the LID estimate needs at least 2 neighbours per point")
    if k >= n:
        raise ValueError(
            f"{what}={k} neighbours needs at least {k + 1} items (each item's neighbours exclude itself), "
            f"but there are {n}; choose {what} <= {n - 1}"
        )
    if k > MAX_NEIGHBOURS:
        raise ValueError(f"{what}={k:,} is above {MAX_NEIGHBOURS:,} neighbours per point (LID estimators use "
                         f"10–100; the neighbour graph would take {n * k * 12 / 2**30:,.1f} GiB); choose {what} "
                         f"<= {MAX_NEIGHBOURS:,}")
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
    """LID (Amsaleg et al. MLE, `core.analysis.intrinsic.LocalMLE`) of every item; artifact kind ``"lid"``.

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

    Same rule as `core.analysis.intrinsic.PCAID` (so a slider re-reads a cached spectrum instantly).
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
        recorder.describe(ws.provenance())
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
