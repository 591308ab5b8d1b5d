"""Query-adaptive relevance filtering: each query's raw scores mapped to calibrated ones, one global threshold.

After *Relevance Filtering for Embedding-based Retrieval* (Rossi et al., Walmart, CIKM 2024): a search
always returns k results, and neither a top-k nor one global raw cosine cut-off filters them well, because
score levels differ from query to query (one query's best match scores 0.7, another's irrelevant tail
scores 0.6). The paper's "Cosine Adapter" maps each query's raw scores through a *query-dependent*
monotonic function to interpretable scores, then applies one global threshold to those.

The model here, and why
-----------------------
`QueryAdaptiveMapper` keeps the paper's mapping form -- a monotonic function of the raw score whose
parameters depend on the query, squashed to a relevance probability and trained with binary cross-entropy
on judged (query, document) pairs -- in its simplest, *linear* variant::

    mapped(s; q) = sigmoid(a_q * s + b_q),    a_q >= 0

The paper predicts ``a_q, b_q`` with a neural network over the query embedding. Here they are a linear
function of **features of the query's own score distribution** over the corpus, from its top-``depth``
exact scores ``s_1 >= s_2 >= ... >= s_depth``:

* per candidate (all increasing in ``s``): the raw score ``s``, its z-score in the query's list
  ``(s - mean) / std``, its gap to the query's top score ``s - s_1``;
* per query (they move the query's level, ``b_q``): the top score ``s_1``, the first gap ``s_1 - s_2``,
  the mean and the standard deviation of the top-``depth``.

Expanded, ``a_q = w_s + w_z / std_q + w_g`` (a slope that varies with how spread out the query's scores are)
and ``b_q`` collects the rest, so the model is an L2-regularised logistic regression on these features with
the three per-candidate weights bounded at ``>= 0`` (fitted with L-BFGS-B). The bounds make every query's
mapping non-decreasing in its raw score: it never reorders a query's results, it only moves where each
query is cut. Why not the paper's network: the judged sets this app sees are small (a few hundred to a few
thousand queries, BEIR sets have ~300), a per-dimension network over 384-768-d embeddings would overfit
them, while eight weights over score statistics do not; the problem is convex (one deterministic optimum,
no seed), fits in about a second, needs no GPU, and works for any encoder, metric and for free-text queries
(only their scores are needed).

Arrays: ``D`` float ``(nq, depth)`` *closeness* scores, best first (similarities as they are; for L2 use the
negated distance, see `closeness`); ``relevant`` bool ``(nq, depth)``.

Curves (`pr_curve`, `top_k_curve`) are of the **retrieved set pooled over queries**: precision = relevant
kept / kept, recall = relevant kept / all judged-relevant documents of those queries (including those no
candidate list reached), F1 their harmonic mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit, logit

#: Names of the features, in the order of ``coef_``; the first `N_MONOTONE` increase with the score.
FEATURES = ("score", "z_score", "gap_to_top", "top_score", "first_gap", "mean_top", "std_top")
N_MONOTONE = 3
#: Standard deviations under this count as zero (a query whose top scores are all equal).
_EPS = 1e-9


def closeness(D: np.ndarray, metric: str) -> np.ndarray:
    """Scores as "higher is closer" float64: similarities as given, L2 distances negated."""
    D = np.asarray(D, dtype=np.float64)
    return -D if metric == "l2" else D


def _check_scores(D, depth: int | None = None) -> np.ndarray:
    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 2 or D.shape[1] < 2:
        raise ValueError(f"scores must be a (queries, depth >= 2) array, got shape {D.shape}")
    if depth is not None and D.shape[1] != depth:
        raise ValueError(f"the mapping was fitted on each query's top-{depth} scores; got {D.shape[1]} per query")
    if not np.isfinite(D).all():
        raise ValueError("scores contain NaN or infinite values")
    return D


def query_statistics(D: np.ndarray) -> dict[str, np.ndarray]:
    """Per query ``(nq,)``: top score, first gap, mean and standard deviation of its list ``D`` (best first)."""
    D = _check_scores(D)
    return {"top_score": D[:, 0], "first_gap": D[:, 0] - D[:, 1], "mean_top": D.mean(axis=1),
            "std_top": np.maximum(D.std(axis=1), _EPS)}


def score_features(D: np.ndarray) -> np.ndarray:
    """Features of every candidate, float64 ``(nq * depth, len(FEATURES))`` (rows query-major)."""
    stats = query_statistics(D)
    D = np.asarray(D, dtype=np.float64)
    col = {name: value[:, None] for name, value in stats.items()}
    per_item = [D, (D - col["mean_top"]) / col["std_top"], D - col["top_score"]]
    per_query = [np.broadcast_to(col[name], D.shape) for name in FEATURES[N_MONOTONE:]]
    return np.stack(per_item + per_query, axis=-1).reshape(-1, len(FEATURES))


class QueryAdaptiveMapper:
    """Cosine-Adapter-style mapping ``sigmoid(a_q * s + b_q)`` of a query's raw scores (see the module doc).

    Args:
        alpha: L2 penalty on the standardised weights (the intercept is not penalised).
        max_iter: L-BFGS-B iterations at most.

    Fitted: ``coef_`` (one weight per `FEATURES`, on standardised features), ``intercept_``,
    ``feature_mean_``/``feature_scale_`` (the standardisation), ``depth_``, ``n_iter_``, ``converged_``,
    ``n_train_queries_``, ``n_train_pairs_``, ``positive_rate_``.
    """

    def __init__(self, alpha: float = 1e-3, max_iter: int = 500) -> None:
        self.alpha = alpha
        self.max_iter = max_iter

    def fit(self, D: np.ndarray, relevant: np.ndarray) -> QueryAdaptiveMapper:
        D = _check_scores(D)
        y = np.asarray(relevant, dtype=bool)
        if y.shape != D.shape:
            raise ValueError(f"relevant has shape {y.shape} but the scores have {D.shape}")
        if not y.any() or y.all():
            raise ValueError("the training candidates must include both relevant and irrelevant documents "
                             f"(relevant: {int(y.sum())} of {y.size})")
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")
        X = score_features(D)
        mean, scale = X.mean(axis=0), X.std(axis=0)
        scale = np.where(scale > _EPS, scale, 1.0)
        Z = (X - mean) / scale
        yf = y.reshape(-1).astype(np.float64)
        n, p = Z.shape
        alpha = float(self.alpha)

        def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
            z = Z @ w[:p] + w[p]
            value = -(yf * log_expit(z) + (1 - yf) * log_expit(-z)).mean() + 0.5 * alpha * (w[:p] @ w[:p])
            residual = expit(z) - yf
            return float(value), np.r_[Z.T @ residual / n + alpha * w[:p], residual.mean()]

        bounds = [(0.0, None)] * N_MONOTONE + [(None, None)] * (p - N_MONOTONE + 1)
        start = np.zeros(p + 1)
        start[p] = float(logit(np.clip(yf.mean(), 1e-6, 1 - 1e-6)))
        res = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": int(self.max_iter)})
        self.coef_, self.intercept_ = res.x[:p].copy(), float(res.x[p])
        self.feature_mean_, self.feature_scale_ = mean, scale
        self.depth_ = int(D.shape[1])
        self.n_iter_, self.converged_ = int(res.nit), bool(res.success)
        self.n_train_queries_, self.n_train_pairs_ = int(D.shape[0]), int(n)
        self.positive_rate_ = float(yf.mean())
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise ValueError("the mapping is not fitted yet: call fit first")

    def mapping(self, D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each query's ``(a_q, b_q)``, float64 ``(nq,)`` each: ``mapped = sigmoid(a_q * s + b_q)``."""
        self._check_fitted()
        D = _check_scores(D, self.depth_)
        stats = query_statistics(D)
        w = dict(zip(FEATURES, self.coef_ / self.feature_scale_, strict=True))
        m = dict(zip(FEATURES, self.feature_mean_, strict=True))
        slope = w["score"] + w["z_score"] / stats["std_top"] + w["gap_to_top"]
        intercept = (self.intercept_ - w["score"] * m["score"]
                     - w["z_score"] * (stats["mean_top"] / stats["std_top"] + m["z_score"])
                     - w["gap_to_top"] * (stats["top_score"] + m["gap_to_top"]))
        for name in FEATURES[N_MONOTONE:]:
            intercept = intercept + w[name] * (stats[name] - m[name])
        return slope, intercept

    def map_scores(self, D: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Mapped values of ``scores`` ``(nq, m)`` (any scores of those queries), given their top lists ``D``."""
        slope, intercept = self.mapping(D)
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim != 2 or scores.shape[0] != slope.shape[0]:
            raise ValueError(f"scores must be ({slope.shape[0]}, m), got shape {scores.shape}")
        return expit(slope[:, None] * scores + intercept[:, None])

    def transform(self, D: np.ndarray) -> np.ndarray:
        """Mapped scores of each query's own top list, ``(nq, depth)`` in (0, 1), best first like ``D``."""
        return self.map_scores(D, D)

    def raw_cut_off(self, D: np.ndarray, threshold: float) -> np.ndarray:
        """The raw score at which each query's mapping reaches ``threshold``, ``(nq,)`` (+inf where it never
        does: a flat mapping below the threshold; -inf where it always does)."""
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        slope, intercept = self.mapping(D)
        target = float(logit(threshold))
        with np.errstate(divide="ignore", invalid="ignore"):
            cut = (target - intercept) / slope
        flat = slope <= 0
        return np.where(flat, np.where(intercept >= target, -np.inf, np.inf), cut)


# ------------------------------------------------------------------ curves of the retrieved set


@dataclass(frozen=True)
class Curve:
    """Precision, recall and F1 of the pooled retrieved set at each threshold, float64 ``(m,)`` each.

    ``threshold[i]``: keep candidates scoring ``>= threshold[i]`` (for top-k, ``threshold`` is ``k``).
    Ordered from the strictest threshold (fewest kept) to the loosest.
    """

    threshold: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    kept: np.ndarray

    def best_f1(self) -> int:
        """Index of the best F1 (the strictest threshold among ties)."""
        return int(np.argmax(self.f1))


def _f1(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    total = precision + recall
    return np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)


def pr_curve(scores: np.ndarray, relevant: np.ndarray, n_relevant: int) -> Curve:
    """The curve of one global threshold on ``scores`` (any shape, pooled), every distinct value a point.

    ``relevant`` marks the candidates judged relevant; ``n_relevant`` counts every judged-relevant document
    of these queries (the recall denominator, >= ``relevant.sum()``).
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(relevant, dtype=bool).reshape(-1)
    if s.shape != y.shape:
        raise ValueError(f"scores ({s.size}) and relevant ({y.size}) differ in size")
    if n_relevant < int(y.sum()) or n_relevant < 1:
        raise ValueError(f"n_relevant must be >= the relevant candidates ({int(y.sum())}) and >= 1, got {n_relevant}")
    order = np.argsort(-s, kind="stable")
    s, hits = s[order], np.cumsum(y[order])
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), s.size - 1]  # the last of each run of equal scores
    kept = last + 1.0
    precision, recall = hits[last] / kept, hits[last] / n_relevant
    return Curve(s[last], precision, recall, _f1(precision, recall), kept)


def top_k_curve(relevant: np.ndarray, n_relevant: int, max_k: int) -> Curve:
    """The curve of keeping each query's top-k, ``k = 1..max_k`` (``relevant`` ``(nq, >= max_k)``, best first)."""
    y = np.asarray(relevant, dtype=bool)
    if y.ndim != 2 or not 1 <= max_k <= y.shape[1]:
        raise ValueError(f"max_k must be between 1 and {y.shape[1] if y.ndim == 2 else 0}, got {max_k}")
    hits = np.cumsum(y[:, :max_k].sum(axis=0)).astype(np.float64)
    k = np.arange(1, max_k + 1, dtype=np.float64)
    kept = k * y.shape[0]
    precision, recall = hits / kept, hits / n_relevant
    return Curve(k, precision, recall, _f1(precision, recall), kept)


def precision_at_recall(curve: Curve, levels: np.ndarray) -> np.ndarray:
    """Interpolated precision at each recall level: the best precision among points with recall >= it
    (NaN where the curve never reaches that recall)."""
    levels = np.asarray(levels, dtype=np.float64)
    order = np.argsort(curve.recall)
    recall, best = curve.recall[order], np.maximum.accumulate(curve.precision[order][::-1])[::-1]
    at = np.searchsorted(recall, levels - 1e-12, side="left")
    out = np.full(levels.shape, np.nan)
    ok = at < recall.size
    out[ok] = best[at[ok]]
    return out


def at_threshold(curve: Curve, threshold: float) -> int:
    """Index of the point that keeps exactly the candidates scoring ``>= threshold`` (-1: none kept)."""
    return int(np.searchsorted(-curve.threshold, -threshold, side="right")) - 1
