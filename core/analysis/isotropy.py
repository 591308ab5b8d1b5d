"""Isotropy post-processing of an embedding space (Mu & Viswanath, "All-but-the-Top", 2018).

Sentence and word embeddings share a large common mean and a few dominant directions; removing them
spreads the vectors more evenly over the dimensions (the isotropy score of `core.analysis.spaces` rises).
Two estimators, scikit-learn style (``fit(X)`` returns ``self``, fitted attributes end in ``_``), both
fitted on the *base* vectors and applied unchanged to queries:

* `AllButTheTop` -- subtract the mean, remove the projections on the top ``n_components`` principal
  directions (Mu & Viswanath suggest about d/100 of them); the dimension is kept.
* `Whitening` -- PCA whitening: centre, rotate onto the principal directions (optionally only the top
  ``n_components``) and scale each to unit variance, so the covariance becomes the identity (the stronger
  form; DefSent+ and whitening-based sentence-embedding work push toward such a space).

Unit-length renormalisation for cosine search is left to the caller (`unit_rows`): the transforms
themselves are linear, so their outputs' statistics can be checked exactly.
"""

from __future__ import annotations

import numpy as np


def _as_matrix(X: np.ndarray, what: str = "X") -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(f"{what} must be a 2-D array of at least 2 vectors, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{what} holds NaN or infinite values")
    return X


def principal_directions(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, variances, directions)`` of ``X`` ``(n, d)``: directions ``(d, d)`` as rows, by variance
    descending (eigenvectors of the covariance, float64; each sign fixed so its largest entry is positive)."""
    X = _as_matrix(X)
    mean = X.mean(axis=0)
    cov = np.cov(X - mean, rowvar=False).reshape(X.shape[1], X.shape[1])
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(-vals, kind="stable")
    vals, vecs = np.clip(vals[order], 0.0, None), vecs[:, order].T
    signs = np.sign(vecs[np.arange(vecs.shape[0]), np.abs(vecs).argmax(axis=1)])
    return mean, vals, vecs * np.where(signs == 0, 1.0, signs)[:, None]


class AllButTheTop:
    """Remove the common mean and the top ``n_components`` principal directions of the data.

    Fitted: ``mean_`` ``(d,)``, ``components_`` ``(n_components, d)`` (orthonormal rows),
    ``explained_variance_`` of the removed directions.
    """

    def __init__(self, n_components: int = 1) -> None:
        self.n_components = n_components

    def fit(self, X: np.ndarray) -> AllButTheTop:
        X = _as_matrix(X)
        n_comp = self.n_components
        if isinstance(n_comp, bool) or not isinstance(n_comp, (int, np.integer)) or n_comp < 0:
            raise ValueError(f"abtt removes a whole number of directions (0 or more), got {n_comp!r}")
        if n_comp >= X.shape[1]:
            raise ValueError(f"abtt={n_comp} would remove every direction of a {X.shape[1]}-dimensional space; "
                             f"choose fewer than {X.shape[1]}")
        mean, vals, vecs = principal_directions(X)
        self.mean_ = mean
        self.components_ = vecs[:n_comp]
        self.explained_variance_ = vals[:n_comp]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``(X - mean_)`` minus its projection on ``components_``, float32 ``(n, d)``."""
        X = _fitted_shape(X, self.mean_)
        centred = X - self.mean_
        return (centred - (centred @ self.components_.T) @ self.components_).astype(np.float32)


class Whitening:
    """PCA whitening: centre, project on the top ``n_components`` principal directions (all when ``None``)
    and divide each by its standard deviation, so the fitted data's covariance is the identity.

    Directions with (numerically) no variance are dropped. Fitted: ``mean_``, ``components_``
    ``(k, d)``, ``explained_variance_`` ``(k,)``.
    """

    def __init__(self, n_components: int | None = None, eps: float = 1e-10) -> None:
        self.n_components = n_components
        self.eps = eps

    def fit(self, X: np.ndarray) -> Whitening:
        X = _as_matrix(X)
        n_comp = self.n_components
        if n_comp is not None and (isinstance(n_comp, bool) or not isinstance(n_comp, (int, np.integer))
                                   or not 1 <= n_comp <= X.shape[1]):
            raise ValueError(f"whiten keeps between 1 and {X.shape[1]} dimensions, got {n_comp!r}")
        mean, vals, vecs = principal_directions(X)
        keep = vals > self.eps * max(float(vals[0]), 1e-300)
        if n_comp is not None:
            keep[n_comp:] = False
        if not keep.any():
            raise ValueError("the vectors do not vary: there is nothing to whiten")
        self.mean_ = mean
        self.components_ = vecs[keep]
        self.explained_variance_ = vals[keep]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Whitened vectors, float32 ``(n, k)``."""
        X = _fitted_shape(X, self.mean_)
        return (((X - self.mean_) @ self.components_.T) / np.sqrt(self.explained_variance_)).astype(np.float32)


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero), float32 C-contiguous."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.ascontiguousarray(X / np.where(norms > 0, norms, 1.0), dtype=np.float32)


def _fitted_shape(X: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``X`` as float64, checked against the dimension a transform was fitted on."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != mean.shape[0]:
        raise ValueError(f"vectors have shape {X.shape} but the transform was fitted on {mean.shape[0]} dimensions")
    return X
