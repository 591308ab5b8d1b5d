"""Each page's view state (`ui.view_state.ViewState`): what its widgets start from, what its URL holds and
what every link to it carries. A page reads its state with `ui.state.page_state`, builds its widgets from
it and writes the widgets' values back with `ui.state.publish_state`; another page links to it by
building one of these objects (never a query string by hand).

Fields whose default is ``None`` are chosen by the page from the data when a link leaves them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.index import registry
from ui.view_state import Choice, Flag, Float, Int, Names, ParamMap, Text, ViewState, url

MAX_SEED = 2**31 - 1
#: Run ids are SQLite row ids; a larger value is clipped (and then reported as no such run).
MAX_RUN_ID = 2**53
#: The Query page's pseudo-method: an HNSW graph built exactly as one build of a saved insertion-order study.
STUDY_METHOD = "order_study"
LATEST = "showing the latest instead"
STUDY_PARAMS = {"backend": str, "order": str, "seed": int, "ef_search": int}


def check_method_params(method: str, params: dict) -> dict:
    """``params`` of a registry method (build and search), each checked against its range."""
    if method == STUDY_METHOD:
        out = {}
        for name, value in params.items():
            kind = STUDY_PARAMS.get(name)
            if kind is None:
                raise ValueError(f"{method} has no parameter {name!r}")
            if kind is int and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED):
                raise ValueError(f"{method}: {name} must be a whole number in 0–{MAX_SEED:,}, got {value!r}")
            if kind is str and (not isinstance(value, str) or len(value) > 40):
                raise ValueError(f"{method}: {name} must be a short name, got {value!r}")
            out[name] = value
        return out
    registry.check_params(method, params, "all")  # raises naming the parameter and its range
    return dict(params)


# ---------------------------------------------------------------------------------------- Query

QUERY_MODES = ("text", "query", "item")
MODE_LABELS = {"text": "Free text", "query": "One of the dataset's queries", "item": "An item from the data"}


@dataclass(frozen=True)
class QueryState(ViewState):
    """The Query page: one query, 2-4 methods with their parameters, k, the cut-off and the mapped threshold.

    ``heldout``/``split_seed``: search the base an experiment searched (the items minus a seeded sample
    of ``heldout`` items held out as its queries), so a drill-down row's recall reappears exactly.
    ``order_run``: the insertion-order study whose builds the ``order_study`` method rebuilds.
    """

    PAGE = "query"
    mode: str | None = url("mode", Choice(QUERY_MODES, aliases=tuple((v, k) for k, v in MODE_LABELS.items())))
    text: str | None = url("q", Text(300))
    query: str | None = url("query", Text(200))
    item: str | None = url("item", Text(200))
    exclude_self: bool = url("exclude", Flag(), True)
    methods: tuple[str, ...] | None = url("methods", Names(max_items=4))
    params: dict | None = url("mparams", ParamMap(check_method_params))  # noqa: RUF009 (a field spec)
    k: int | None = url("k", Int(1, 50))
    cutoff: float | None = url("cutoff", Float(-1e6, 1e6))
    #: The global threshold on the query-adaptive mapped score (relevance filtering; judged datasets only).
    filter_threshold: float | None = url("fthreshold", Float(0.001, 0.999))
    heldout: int | None = url("heldout", Int(1, 10_000_000))
    split_seed: int = url("split_seed", Int(0, MAX_SEED), 0)
    order_run: int | None = url("order_run", Int(1, MAX_RUN_ID, clip=False),
                                fallback="the study's build is not offered")

    def method_params(self, method: str) -> dict:
        return dict((self.params or {}).get(method, {}))


# ---------------------------------------------------------------------------------- Compression

RECALL_DEFINITIONS = ("id", "ties")
QUALITY_METRICS = ("ndcg", "mrr")
BYTES_MODES = ("total", "index")


@dataclass(frozen=True)
class CompressionState(ViewState):
    """The Compression page: the run shown, how its numbers are counted, the budget and the drill-down."""

    PAGE = "compression"
    run: int | None = url("sweep_run", Int(1, MAX_RUN_ID, clip=False), fallback=LATEST)
    recall: str = url("recall", Choice(RECALL_DEFINITIONS), "id")
    quality: str = url("quality", Choice(QUALITY_METRICS), "ndcg")
    bytes: str = url("bytes", Choice(BYTES_MODES), "total")
    budget: float | None = url("budget", Float(0.5, 1e6))
    min_recall: float = url("min_recall", Float(0.0, 1.0), 0.9)
    drill: str | None = url("drill", Text(200))


# ---------------------------------------------------------------------------------------- Order


@dataclass(frozen=True)
class OrderState(ViewState):
    """The insertion-order page: the study shown, the per-query view (backend, efSearch, the drill-down
    order and seed), the recall-vs-intrinsic-dimension run and the encoder ranking (run, spaces, metric)."""

    PAGE = "order"
    run: int | None = url("order_run", Int(1, MAX_RUN_ID, clip=False), fallback=LATEST)
    backend: str | None = url("backend", Text(20))
    ef: int | None = url("ef", Int(1, 100_000))
    order: str | None = url("order", Text(40))
    seed: int | None = url("seed", Int(0, MAX_SEED))
    vsid_run: int | None = url("vsid_run", Int(1, MAX_RUN_ID, clip=False), fallback=LATEST)
    rank_run: int | None = url("rank_run", Int(1, MAX_RUN_ID, clip=False), fallback=LATEST)
    rank_spaces: str | None = url("rank_spaces", Text(600))  # spaces to rank, ';'-separated
    rank_metric: str = url("rank_metric", Choice(("ndcg_at_10", "mrr_at_10")), "ndcg_at_10")


# ------------------------------------------------------------------------------------------ Map

MAP_APPROX = tuple(m for m in registry.METHODS if m not in ("flat", "leanvec_ood"))


@dataclass(frozen=True)
class MapState(ViewState):
    """The embedding map: projection and its settings, colours, the selected point and what it is compared with."""

    PAGE = "map"
    projection: str | None = url("projection", Choice(("pca", "umap")))
    dims: int = url("dims", Int(2, 3), 2)
    colour: str | None = url("colour", Text(40))
    budget: int | None = url("budget", Int(1_000, 1_000_000))
    draw: str = url("draw", Choice(("auto", "points", "density")), "auto")
    seed: int = url("seed", Int(0, MAX_SEED), 0)
    n_neighbors: int | None = url("n_neighbors", Int(2, 101))
    min_dist: float | None = url("min_dist", Float(0.0, 0.99))
    n_epochs: int | None = url("epochs", Int(50, 500))
    point: str | None = url("point", Text(200))
    compare: str | None = url("compare", Choice(MAP_APPROX))
    compare_params: dict | None = url("cparams", ParamMap(check_method_params, max_entries=1))  # noqa: RUF009
    k: int = url("k", Int(1, 50), 10)


# -------------------------------------------------------------------- Intrinsic, Spaces, Runs, Data


@dataclass(frozen=True)
class IntrinsicState(ViewState):
    """Intrinsic dimension: the neighbourhood size k and the PCA variance threshold."""

    PAGE = "intrinsic"
    k: int | None = url("k", Int(2, 1_000))
    pca_threshold: float | None = url("pca", Float(0.8, 0.999))


@dataclass(frozen=True)
class SpacesState(ViewState):
    """Compare spaces: both spaces (encoder and derivation), k and the item whose neighbours are shown."""

    PAGE = "spaces"
    a_encoder: str | None = url("a_encoder", Text(200))
    a_how: str | None = url("a_how", Text(40))
    a_dims: int | None = url("a_dims", Int(1, 4096))
    b_encoder: str | None = url("b_encoder", Text(200))
    b_how: str | None = url("b_how", Text(40))
    b_dims: int | None = url("b_dims", Int(1, 4096))
    k: int | None = url("k", Int(1, 1_000))
    item: str | None = url("item", Text(200))


@dataclass(frozen=True)
class RunsState(ViewState):
    """Runs: the open run and the run it is compared with."""

    PAGE = "runs"
    run: int | None = url("run", Int(1, MAX_RUN_ID, clip=False), fallback=LATEST)
    other: int | None = url("other", Int(1, MAX_RUN_ID, clip=False), fallback=LATEST)


@dataclass(frozen=True)
class DataState(ViewState):
    """Data: everything on it follows the workspace (dataset and encoder, kept by `ui.state`)."""

    PAGE = "data"


@dataclass(frozen=True)
class PapersState(ViewState):
    """What the papers found: everything on it follows the workspace and its saved runs."""

    PAGE = "papers"


PAGE_STATES: dict[str, type[ViewState]] = {
    cls.PAGE: cls
    for cls in (QueryState, CompressionState, OrderState, MapState, IntrinsicState, SpacesState, RunsState, DataState,
                PapersState)
}
