"""Intrinsic-dimension estimators: hand-computed cases, duplicates, bad input,
agreement with scikit-dimension, and known-answer synthetic data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.analysis.intrinsic import PCAID, LevinaBickelMLE, LocalMLE, TwoNN, calibration_table, subspace_data
from core.index.exact import knn_graph, to_distances

# ------------------------------------------------------------ hand-computed


def test_lid_of_hand_made_distances():
    # r = (1, 2, 4), k = 3: (1/3) Σ ln(r_i / r_3) = (ln 1/4 + ln 1/2 + 0) / 3 = -ln 2
    # so LID = 1 / ln 2; Levina-Bickel's (k - 1) normalisation gives 2 / (3 ln 2).
    R = np.array([[1.0, 2.0, 4.0]])
    assert LocalMLE(k=3).fit(knn_distances=R).dimension_pw_[0] == pytest.approx(1 / math.log(2))
    assert LevinaBickelMLE(k=3).fit(knn_distances=R).dimension_pw_[0] == pytest.approx(2 / (3 * math.log(2)))


def test_lid_of_points_on_a_line_is_one_and_in_a_plane_two():
    # r_i = i/k is the expected profile for a 1-d manifold; r_i = sqrt(i/k) for 2-d
    k = 10_000
    i = np.arange(1, k + 1) / k
    est = LocalMLE(k=k, duplicate_tol=0).fit(knn_distances=np.stack([i, np.sqrt(i)]))
    assert est.dimension_pw_ == pytest.approx([1.0, 2.0], rel=2e-3)


def test_local_mle_mean_and_levina_bickel_harmonic_mean():
    R = np.array([[1.0, 2.0, 4.0], [1.0, 1.0, 2.0]])
    local = LocalMLE(k=3).fit(knn_distances=R)
    lb = LevinaBickelMLE(k=3).fit(knn_distances=R)
    assert local.dimension_ == pytest.approx(local.dimension_pw_.mean())
    assert lb.dimension_ == pytest.approx(1 / np.mean(1 / lb.dimension_pw_))


def test_extra_columns_are_ignored():
    R = np.array([[1.0, 2.0, 4.0, 100.0, 200.0]])
    assert LocalMLE(k=3).fit(knn_distances=R).dimension_pw_[0] == pytest.approx(1 / math.log(2))


# ----------------------------------------------------------------- duplicates


def test_duplicate_neighbours_are_dropped_and_all_duplicate_points_are_degenerate():
    R = np.array(
        [
            [0.0, 0.0, 1.0, 2.0, 4.0],  # two exact duplicates, then (1, 2, 4)
            [8e-4, 1.0, 1.0, 2.0, 4.0],  # a float32 "duplicate" ~1e-3 away (unit vectors), then (1, 1, 2, 4)
            [0.0, 0.0, 0.0, 0.0, 0.0],  # every neighbour a duplicate: no estimate
            [3.0, 3.0, 3.0, 3.0, 3.0],  # all tied: no estimate
        ]
    )
    est = LocalMLE(k=5).fit(knn_distances=R)
    assert est.dimension_pw_[0] == pytest.approx(1 / math.log(2))
    assert est.dimension_pw_[1] == pytest.approx(4 / (2 * math.log(4) + math.log(2)))
    assert np.isnan(est.dimension_pw_[2:]).all()
    assert est.n_degenerate_ == 2
    assert est.n_neighbors_used_.tolist() == [3, 4, 0, 5]
    assert est.dimension_ == pytest.approx(np.mean(est.dimension_pw_[:2]))


def test_duplicate_rows_in_X_get_the_same_finite_lid():
    X = subspace_data(300, 3, 16, random_state=1)
    X = np.concatenate([X, X[:50]])  # 50 points appear twice
    est = LocalMLE(k=10).fit(X)
    assert est.n_degenerate_ == 0 and np.isfinite(est.dimension_pw_).all()
    np.testing.assert_allclose(est.dimension_pw_[:50], est.dimension_pw_[300:], rtol=1e-5)
    assert (est.n_neighbors_used_[:50] == 9).all()
    assert 2.5 < est.dimension_ < 5  # true ID 3; the mean of k/S over k = 9 is biased up by k/(k-2)


def test_twonn_steps_over_duplicates():
    X = subspace_data(2000, 3, 16, random_state=2)
    with_dups = np.concatenate([X, X[:200], X[:200]])  # triplicates
    a, b = TwoNN().fit(X), TwoNN().fit(with_dups)
    assert b.n_degenerate_ == 0
    assert b.dimension_ == pytest.approx(a.dimension_, rel=0.1)


def test_pca_of_identical_points_is_zero():
    assert PCAID().fit(np.ones((10, 4))).dimension_ == 0


# ----------------------------------------------------------------- bad input


def test_k_not_below_n_is_a_clear_error():
    X = np.random.default_rng(0).standard_normal((50, 4))
    with pytest.raises(ValueError, match=r"k=100 neighbours needs at least 101 points.*50"):
        LocalMLE(k=100).fit(X)
    with pytest.raises(ValueError, match="k=50"):
        LocalMLE(k=50).fit(X)


@pytest.mark.parametrize(
    ("R", "k", "message"),
    [
        (np.array([[1.0, 2.0]]), 3, "has 2 neighbours per point but k=3"),
        (np.array([[2.0, 1.0, 4.0]]), 3, "sorted ascending"),
        (np.array([[-1.0, 1.0, 4.0]]), 3, "must be distances"),
        (np.array([1.0, 2.0, 4.0]), 3, "must be 2-D"),
        (np.array([[1.0, np.nan, 4.0]]), 3, "NaN"),
        (np.array([[1.0, 2.0, 4.0]]), 1, "k must be an integer >= 2"),
    ],
)
def test_bad_knn_distances(R, k, message):
    with pytest.raises(ValueError, match=message):
        LocalMLE(k=k).fit(knn_distances=R)


def test_other_bad_input():
    with pytest.raises(ValueError, match="give X"):
        LocalMLE().fit()
    with pytest.raises(ValueError, match="threshold"):
        PCAID(threshold=1.5).fit(np.eye(3))
    with pytest.raises(ValueError, match="discard_fraction"):
        TwoNN(discard_fraction=1.0).fit(knn_distances=np.array([[1.0, 2.0]] * 5))
    with pytest.raises(ValueError, match="NaN or infinite"):
        LocalMLE(k=2).fit(np.array([[0.0, np.nan], [1, 1], [2, 2]]))
    with pytest.raises(ValueError, match="intrinsic_dim"):
        subspace_data(10, 20, 8)


# ------------------------------------------------------------ skdim agreement


@pytest.fixture(scope="module")
def knn_of_synthetic():
    X = subspace_data(1000, 6, 128, random_state=5)
    D, I = knn_graph(X, 30, "l2")
    return X, to_distances(D, "l2").astype(np.float64), I


def test_pointwise_mle_agrees_with_skdim(knn_of_synthetic):
    skdim = pytest.importorskip("skdim")
    X, R, I = knn_of_synthetic
    k = R.shape[1]
    ref = skdim.id.MLE().fit(X, precomputed_knn_arrays=(R, I), comb="mle")
    # skdim's pointwise MLE is Levina & Bickel's (k-1) / Σ ln(r_k / r_i) ...
    lb = LevinaBickelMLE(k=k).fit(knn_distances=R)
    np.testing.assert_allclose(lb.dimension_pw_, ref.dimension_pw_, rtol=1e-6)
    assert lb.dimension_ == pytest.approx(ref.dimension_, rel=1e-6)  # comb="mle": harmonic mean
    # ... and the Amsaleg form normalises by k instead of k - 1
    local = LocalMLE(k=k).fit(knn_distances=R)
    np.testing.assert_allclose(local.dimension_pw_, ref.dimension_pw_ * k / (k - 1), rtol=1e-6)


def test_twonn_and_pca_agree_with_skdim(knn_of_synthetic):
    skdim = pytest.importorskip("skdim")
    X, R, _ = knn_of_synthetic
    ref = skdim.id.TwoNN(dist=True).fit(R[:, :2])
    assert TwoNN().fit(knn_distances=R).dimension_ == pytest.approx(ref.dimension_, rel=1e-6)
    assert PCAID(0.99).fit(X).dimension_ == skdim.id.lPCA(ver="ratio", alphaRatio=0.99).fit(X).dimension_


# --------------------------------------------------------- known-answer data

N_SYNTHETIC = 2000

# Expected estimate / true ID on subspace_data(2000, m, 1024, random_state=m) (N(0,1)
# coefficients, noise 0), measured here on three data seeds (spread in brackets):
#   m               4              8              16             32
#   LocalMLE k=100  1.02 (.005)    0.91 (.005)    0.74 (.002)    0.577 (.003)
#   Levina-Bickel20 1.02 (.015)    0.952 (.01)    0.817 (.005)   0.655 (.003)
#   TwoNN           1.03 (.025)    1.01 (.02)     0.90 (.02)     0.745 (.025)
# Why below 1 at high m: the MLE assumes the density is constant over each point's
# k-neighbourhood. For a Gaussian in m dims with n = 2000 the k-th neighbour sits at
# (k/n)^(1/m) of the typical inter-point scale: 0.47 for m = 4 but 0.91 for m = 32
# (k = 100), so neighbourhoods span the Gaussian's fall-off and the count of neighbours
# grows slower than r^m: the estimate drops, more for larger m and for larger
# neighbourhoods (LocalMLE k=100 < Levina-Bickel k=20 < TwoNN, 2 neighbours). At m = 4
# the bias is the small-sample one: E[k / Gamma(k-1)] = k/(k-2) = +2 % for k = 100.
# Tolerance: +-0.04 of the ratio for the MLEs (8x their seed spread, yet tight enough to
# catch a k vs k-1 mix-up in Levina-Bickel, a 5 % shift at k = 20), +-0.08 for TwoNN (its
# standard error at n = 2000 is ~ 1/sqrt(0.9 n) = 2.4 %, so about 3 sigma).
EXPECTED_RATIO = {
    "local_mle": {4: 1.02, 8: 0.91, 16: 0.74, 32: 0.577},
    "levina_bickel": {4: 1.02, 8: 0.952, 16: 0.817, 32: 0.655},
    "twonn": {4: 1.03, 8: 1.01, 16: 0.90, 32: 0.745},
}
TOLERANCE = {"local_mle": 0.04, "levina_bickel": 0.04, "twonn": 0.08}
_synthetic_cache: dict[int, dict[str, float]] = {}


def _estimates(m: int) -> dict[str, float]:
    if m not in _synthetic_cache:
        X = subspace_data(N_SYNTHETIC, m, 1024, random_state=m)
        D, _ = knn_graph(X, 100, "l2")
        R = to_distances(D, "l2")
        _synthetic_cache[m] = {
            "local_mle": LocalMLE(k=100).fit(knn_distances=R).dimension_,
            "levina_bickel": LevinaBickelMLE(k=20).fit(knn_distances=R).dimension_,
            "twonn": TwoNN().fit(knn_distances=R).dimension_,
            "pca": PCAID(0.99).fit(X).dimension_,
        }
    return _synthetic_cache[m]


@pytest.mark.parametrize("m", [4, 8, 16, 32])
def test_estimators_on_data_of_known_intrinsic_dimension(m):
    est = _estimates(m)
    assert est["pca"] == m  # exactly: the data span an m-dim subspace, noise 0
    for name, expected in EXPECTED_RATIO.items():
        ratio = est[name] / m
        assert abs(ratio - expected[m]) <= TOLERANCE[name], f"{name}: {est[name]:.2f} for true ID {m}"
    if m >= 16:  # bias grows with neighbourhood size
        assert est["local_mle"] < est["levina_bickel"] < est["twonn"] < m


def test_calibration_table_rows():
    rows = calibration_table(ks=(2, 5), n=400, dim=32, lid_k=20, levina_bickel_k=10)
    assert [r["true_dim"] for r in rows] == [2, 5]
    assert [r["pca"] for r in rows] == [2, 5]
    for r in rows:
        assert set(r) >= {"local_mle", "levina_bickel", "twonn", "pca", "n", "dim"}
        for name in ("local_mle", "levina_bickel", "twonn"):
            assert 0.7 * r["true_dim"] < r[name] < 1.3 * r["true_dim"]


def test_subspace_data_is_seeded_and_of_the_right_rank():
    a = subspace_data(100, 5, 64, random_state=3)
    assert a.dtype == np.float32 and a.shape == (100, 64)
    np.testing.assert_array_equal(a, subspace_data(100, 5, 64, random_state=3))
    assert np.linalg.matrix_rank(a.astype(np.float64), tol=1e-4) == 5
