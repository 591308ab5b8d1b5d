"""Default parameters of approximate methods for a dataset size, and one point's neighbours exact vs approximate."""

from __future__ import annotations

import numpy as np

#: Approximate method the map page compares with first, and its teaching defaults: a small
#: efSearch, so that misses show up. Other methods start from the registry's defaults.
DEFAULT_APPROX = "hnsw_flat"
#: Bases larger than this build the map's comparison index in the background (the exact neighbours show at once).
BACKGROUND_INDEX_N = 50_000
MAP_DEFAULTS: dict[str, dict] = {"hnsw_flat": {"M": 16, "ef_search": 16}, "hnsw_sq8": {"M": 16, "ef_search": 16}}


def default_nlist(n: int) -> int:
    """IVF lists for ``n`` vectors: about 4·sqrt(n), at most n / 39 (faiss's points per centroid), at least 1."""
    return int(max(1, min(round(4 * np.sqrt(n)), n // 39)))


def approx_defaults(method: str, n: int, d: int) -> dict:
    """Parameters of a `core.index.registry` method that fit ``n`` vectors of ``d`` dims, for the map panel.

    The registry's defaults, with: small HNSW settings (misses show up), nlist for ``n``
    with nprobe 1, PQ's ``m`` the largest divisor of ``d`` not above its default, and a
    reduced dimension below ``d``.
    """
    from core.index.registry import get_method

    params = {**get_method(method).defaults(), **MAP_DEFAULTS.get(method, {})}
    if "nlist" in params:
        params["nlist"] = default_nlist(n)
        if "nprobe" in params:
            params["nprobe"] = 1
    if "m" in params:
        params["m"] = max(m for m in range(1, int(params["m"]) + 1) if d % m == 0)
    if "d_out" in params:
        params["d_out"] = max(1, min(int(params["d_out"]), d // 2))
    return params


def split_params(method: str, params: dict) -> tuple[dict, dict]:
    """``(build, search)`` parameters of a `core.index.registry` method, ann-benchmarks style."""
    from core.index.registry import get_method

    spec = get_method(method)
    build = {p.name: params[p.name] for p in spec.build_params if p.name in params}
    search = {p.name: params[p.name] for p in spec.search_params if p.name in params}
    return build, search


def approx_neighbours(built, x: np.ndarray, row: int, k: int, search_params: dict | None = None) -> np.ndarray:
    """Ids of the ``k`` neighbours of base point ``row`` that a built `core.index.registry` index returns.

    ``built`` is `core.index.registry.build`'s result over all of ``x``; the point itself is left out.
    """
    from core.index.registry import search

    _, I = search(built, x[row : row + 1], min(k + 1, built.n), search_params or {})
    ids = I[0][I[0] != row]
    return ids[:k]


def exact_neighbours(
    x: np.ndarray, row: int, k: int, metric: str, graph: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and ids of the ``k`` exact neighbours of base point ``row`` (itself excluded).

    Read from ``graph`` (``D, I`` of the whole base, e.g. `Workspace.knn`) when it has
    at least ``k`` columns, else one exact search of the point against all of ``x``.
    """
    if graph is not None and graph[1].shape[1] >= k:
        return graph[0][row, :k], graph[1][row, :k]
    from core.index.exact import exact_search

    k = min(k, x.shape[0] - 1)
    D, I = exact_search(x, x[row : row + 1], k + 1, metric)
    keep = I[0] != row
    return D[0][keep][:k], I[0][keep][:k]
