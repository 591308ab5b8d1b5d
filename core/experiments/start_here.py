"""Home's *Start here*: six prepared views of a workspace, each with its live numbers and thumbnail data.

`start_cards` reads the workspace's saved runs (what `densescope prepare` saves: the UMAP map, the order
study, the quick sweep, recall against intrinsic dimension, the spaces comparison) and returns one `Card`
per view that has its run: a title, one sentence with the numbers, the target page and the fields of its
view state (the app builds the state object and its link), and the small arrays its thumbnail draws.
A view whose run is missing is left out; `missing_steps` names the `prepare` steps that would add it.
`card_runs` is the cheap part (run ids, whether the map is cached) a cache can be keyed by.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Points a map thumbnail draws at most (a seeded sample; the selected point and its neighbours always).
THUMB_POINTS = 600
#: Items the map card searches with binary codes to pick its example point.
PICK_SAMPLE = 2_000
#: The map card's example: the item at this quantile of binary codes' recall (a hard but typical one).
PICK_QUANTILE = 0.1
#: The Query card's methods (beside exact search): the sweep's fastest HNSW, sign bits, PCA without re-rank.
QUERY_METHODS = ("hnsw_flat", "binary", "pca")
CARD_K = 10
MIN_RECALL = 0.9


@dataclass(frozen=True)
class Card:
    """One view of *Start here*: ``page`` and ``fields`` make its view state (`ui.page_states`)."""

    key: str
    title: str
    sentence: str
    page: str
    fields: dict
    thumbnail: dict = field(default_factory=dict)  # kind + arrays, drawn by `figures.thumbnails`
    anchor: str = ""  # the section of the page it opens on (a header's anchor), "" for the top


def card_runs(ws, store=None) -> dict:
    """The saved runs the cards read (ids, ``None`` when missing) and whether the UMAP map is cached."""
    from core.analysis.projection import projection_is_cached
    from core.experiments.compression import latest_sweep_run
    from core.experiments.insertion_order import latest_order_run
    from core.experiments.papers import CLAIMS_BY_KEY, claim_run
    from core.experiments.recall_vs_id import latest_vs_id_run
    from core.store.runs import RunStore

    store = store or RunStore()
    ids = {}
    compare = claim_run(ws, CLAIMS_BY_KEY["convergent"], store)
    for name, run in (("order", latest_order_run(ws, store)), ("sweep", latest_sweep_run(ws, store)),
                      ("vs_id", latest_vs_id_run(store)), ("compare", compare)):
        ids[name] = None if run is None else int(run.id)
    try:
        ids["map"] = bool(ws.has_embeddings() and projection_is_cached(ws, "umap", 2))
    except ValueError:
        ids["map"] = False
    return ids


def missing_steps(runs: dict) -> list[str]:
    """`core.experiments.demo.STEPS` names that would add the missing cards."""
    names = {"map": "map", "order": "order", "sweep": "sweep", "vs_id": "vs_id", "compare": "spaces"}
    return [names[k] for k, v in runs.items() if not v]


# ------------------------------------------------------------------------------------------ the map


def map_card(ws) -> Card | None:
    """The UMAP map with a point selected and what sign-bit binary codes miss of its 10 nearest neighbours."""
    from core.analysis.neighbourhoods import neighbour_misses
    from core.analysis.projection import project
    from core.index import registry
    from core.index.defaults import approx_defaults, approx_neighbours, exact_neighbours, split_params
    from core.index.exact import exact_search

    x = ws.embeddings()
    n, d = x.shape
    if n < CARD_K + 2:
        return None
    proj = project(ws, "umap", 2)
    params = approx_defaults("binary", n, d)
    build, search = split_params("binary", params)
    built = registry.build("binary", x, ws.metric, build)
    candidates = np.sort(np.random.default_rng(0).choice(proj.rows, min(PICK_SAMPLE, proj.rows.size), replace=False))
    # exact search of the sample only: the whole kNN graph of a large dataset may not be cached
    _, gt = exact_search(x, x[candidates], CARD_K + 1, ws.metric)
    _, I = registry.search(built, x[candidates], CARD_K + 1, search)
    recall = np.array([np.isin(g[g != r][:CARD_K], row[row != r][:CARD_K]).mean()
                       for r, g, row in zip(candidates, gt, I, strict=True)])
    target = np.quantile(recall, PICK_QUANTILE, method="lower")
    row = int(candidates[np.flatnonzero(recall == target)[0]])
    _, exact = exact_neighbours(x, row, CARD_K, ws.metric)
    found = approx_neighbours(built, x, row, CARD_K, search)
    missed = neighbour_misses(exact, found)
    ds = ws.dataset
    sentence = (f"Binary sign codes (1 bit per dimension, 32× smaller) find {CARD_K - len(missed)} of "
                f"{ds.ids[row]}'s {CARD_K} nearest neighbours; over {candidates.size:,} items they find "
                f"{recall.mean():.0%} on average.")
    pos = {int(r): i for i, r in enumerate(proj.rows)}
    keep = np.random.default_rng(0).choice(proj.rows.size, min(THUMB_POINTS, proj.rows.size), replace=False)
    marked = [pos[int(i)] for i in exact if int(i) in pos]
    thumb = {"kind": "map", "x": proj.coords[keep, 0], "y": proj.coords[keep, 1],
             "found": proj.coords[[p for p, i in zip(marked, exact, strict=False) if int(i) not in missed]],
             "missed": proj.coords[[pos[int(i)] for i in missed if int(i) in pos]],
             "selected": proj.coords[pos[row]] if row in pos else None}
    return Card("map", "A point and what binary codes miss", sentence, "map",
                {"projection": "umap", "point": ds.ids[row], "compare": "binary", "compare_params": {"binary": params},
                 "k": CARD_K}, thumb)


# ---------------------------------------------------------------------------------------- the sweep


def _sweep_rows(run_id: int) -> pd.DataFrame:
    from core.experiments.compression import load_sweep_run

    rows = load_sweep_run(run_id).rows
    return rows[rows["status"] == "ok"] if "status" in rows else rows


def _query_rows(rows: pd.DataFrame) -> dict[str, pd.Series]:
    """The sweep row of each `QUERY_METHODS` the Query card shows: the fastest HNSW setting, sign bits and PCA
    without re-rank (the lowest-recall row of each method)."""
    out = {}
    for method in QUERY_METHODS:
        part = rows[rows["method"] == method]
        if "rerank" in part and method != "hnsw_flat":
            part = part[pd.to_numeric(part["rerank"], errors="coerce").fillna(0) == 0]
        if not part.empty:
            out[method] = part.sort_values("recall_at_k").iloc[0]
    return out


def short_label(row) -> str:
    """A sweep row's method in a few words: "HNSW efSearch 16", "sign bits", "PCA to 96 d"."""
    method = str(row["method"])
    if method == "hnsw_flat":
        return f"HNSW efSearch {int(row['ef_search'])}"
    if method == "binary":
        return "sign bits"
    if method == "pca":
        return f"PCA to {int(row['d_out'])} d"
    return str(row["label"])


def query_card(ws, run_id: int) -> Card | None:
    """The sweep query that the fastest settings of HNSW, sign bits and PCA answer worst, side by side."""
    from core.experiments.compression import RESULTS_KIND, load_sweep_run
    from core.experiments.export import config_from_row
    from core.index.metrics import recall_per_query

    sweep = load_sweep_run(run_id)
    picked = _query_rows(_sweep_rows(run_id))
    if len(picked) < 2:
        return None
    ev = ws.eval_set(sweep.run.params.get("n_queries"), int(sweep.run.params.get("seed", 0)))
    recalls = {}
    for method, row in picked.items():
        hit = ws.cache.load(RESULTS_KIND, row.get("results_key")) if isinstance(row.get("results_key"), str) else None
        if hit is None or hit[0].shape[0] != ev.xq.shape[0]:
            return None
        k = int(row["k"])
        recalls[method] = recall_per_query(hit[0], ws.ground_truth(ev, k)[1], k)
    mean = np.mean(list(recalls.values()), axis=0)
    q = int(np.argmin(mean))
    own = ws.dataset.queries is not None and len(ws.dataset.queries) > 0
    if not own:
        return None  # held-out items: the Query page would need the sweep's split (its drill-down links do that)
    labels = {m: short_label(r) for m, r in picked.items()}
    found = {m: round(float(recalls[m][q]) * int(picked[m]["k"])) for m in picked}
    texts = ws.dataset.queries.texts or [""] * len(ws.dataset.queries)
    text = dict(zip(ws.dataset.queries.ids, texts, strict=True)).get(ev.query_ids[q], "")
    sentence = (f"“{' '.join(str(text).split())[:90]}”: of its {CARD_K} exact neighbours, "
                + ", ".join(f"{labels[m]} finds {found[m]}" for m in picked)
                + f" (dashed: their means over {len(mean):,} queries, "
                + ", ".join(f"{float(picked[m]['recall_at_k']):.0%}" for m in picked) + ").")
    params = {m: config_from_row(r.to_dict()).params for m, r in picked.items()}
    thumb = {"kind": "bars", "labels": [labels[m] for m in picked], "values": [recalls[m][q] for m in picked],
             "means": [float(picked[m]["recall_at_k"]) for m in picked]}
    return Card("query", "A hard query, side by side", sentence, "query",
                {"mode": "query", "query": ev.query_ids[q], "methods": ("flat", *picked),
                 "params": {m: p for m, p in params.items() if p}, "k": CARD_K}, thumb)


def budget_card(run_id: int) -> Card | None:
    """The smallest budget (total bytes per vector) the budget question answers at recall ≥ `MIN_RECALL`."""
    from core.experiments.compression import size_versus_float32, smallest_answered_budget
    from core.index.metrics import best_under_budget

    rows = _sweep_rows(run_id)
    col = "total_bytes_per_vector" if "total_bytes_per_vector" in rows else "bytes_per_vector"
    if rows.empty or "d" not in rows:
        return None
    float32 = 4.0 * float(rows["d"].iloc[0])
    budget = smallest_answered_budget(rows, col, MIN_RECALL, fallback=float32 / 8)
    answer = best_under_budget(rows, budget, MIN_RECALL, bytes_col=col)
    if answer.rows.empty:
        return None
    best = answer.rows.iloc[0]
    k = int(best["k"])
    sentence = (f"Under {budget:,.1f} B per vector ({size_versus_float32(float32 / float(best[col]))}) "
                f"with recall@{k} ≥ {MIN_RECALL:.0%}: {best['label']} reaches {best['recall_at_k']:.1%} at "
                f"{best['qps']:,.0f} queries/s.")
    thumb = {"kind": "scatter", "x": rows[col].to_numpy(float), "y": rows["recall_at_k"].to_numpy(float),
             "pick": (float(best[col]), float(best["recall_at_k"])), "budget": budget, "floor": MIN_RECALL}
    return Card("budget", "A memory budget with an answer", sentence, "compression",
                {"run": run_id, "budget": budget, "min_recall": MIN_RECALL}, thumb)


# ------------------------------------------------------------------------------- order, ID, spaces


def order_card(run_id: int) -> Card | None:
    """The insertion-order study at efSearch 10: mean recall per order (first backend)."""
    from core.experiments.papers import ORDER_EF
    from core.store.runs import RunStore

    rows = RunStore().rows(run_id)
    if rows.empty or not {"order", "ef_search", "recall_at_k", "backend"} <= set(rows):
        return None
    efs = sorted(int(e) for e in rows["ef_search"].unique())
    ef = ORDER_EF if ORDER_EF in efs else efs[0]
    backend = sorted(rows["backend"].unique())[0]
    at = rows[(rows["ef_search"] == ef) & (rows["backend"] == backend)]
    mean = at.groupby("order", sort=False)["recall_at_k"].mean()
    best, worst = mean.idxmax(), mean.idxmin()
    k = int(at["k"].iloc[0])
    sentence = (f"HNSW ({backend}, efSearch {ef}) finds {mean[best]:.1%} of the {k} nearest neighbours when the "
                f"vectors go in {best} order and {mean[worst]:.1%} in {worst} order: "
                f"{100 * (mean[best] - mean[worst]):.1f} points from the order alone.")
    thumb = {"kind": "bars", "labels": list(mean.index), "values": list(mean.to_numpy(float)), "zoom": True}
    return Card("order", "Insertion order moves recall", sentence, "order",
                {"run": run_id, "backend": backend, "ef": ef}, thumb)


def vs_id_card(run_id: int) -> Card | None:
    """Recall against the data's intrinsic dimension (synthetic), one line per efSearch."""
    from core.store.runs import RunStore

    rows = RunStore().rows(run_id)
    if rows.empty or not {"true_dim", "ef_search", "recall_at_k"} <= set(rows):
        return None
    lines = {f"efSearch {int(ef)}": part.groupby("true_dim")["recall_at_k"].mean().sort_index()
             for ef, part in rows.groupby("ef_search")}
    first = next(iter(lines.items()))
    lo, hi = first[1].index[0], first[1].index[-1]
    sentence = (f"On synthetic data of known dimension, HNSW at {first[0]} finds {first[1].iloc[0]:.0%} of the "
                f"nearest neighbours at intrinsic dimension {int(lo)} and {first[1].iloc[-1]:.0%} at {int(hi)}.")
    thumb = {"kind": "lines", "series": {name: (s.index.to_numpy(float), s.to_numpy(float))
                                         for name, s in lines.items()}, "log_x": True}
    return Card("vs_id", "Recall falls with intrinsic dimension", sentence, "order", {"vsid_run": run_id}, thumb,
                anchor="recall-against-intrinsic-dimension")


def spaces_card(run_id: int) -> Card | None:
    """Two encoders' neighbourhoods: the share of each item's 10 nearest neighbours they share."""
    from core.analysis.spaces import chance_agreement
    from core.store.runs import RunStore

    store = RunStore()
    run, rows = store.get_run(run_id), store.rows(run_id)
    if rows.empty or "agreement" not in rows:
        return None
    k = int(run.params.get("k", CARD_K))
    a, b = run.params.get("space_a"), run.params.get("space_b")
    agree = rows["agreement"].to_numpy(float)
    sentence = (f"{a} and {b} share {agree.mean():.0%} of each item's {k} nearest neighbours on average "
                f"(chance: {chance_agreement(len(agree), k):.2%}); {(agree == 0).mean():.0%} of the items share none.")
    return Card("spaces", "Two encoders compared", sentence, "spaces",
                {"a_encoder": a, "b_encoder": b, "k": k}, {"kind": "histogram", "values": agree, "bins": k + 1})


def start_cards(ws, runs: dict) -> list[Card]:
    """The *Start here* cards of ``ws`` from ``runs`` (`card_runs`), in teaching order; missing ones left out."""
    cards = []
    makers = (("map", lambda: map_card(ws)), ("sweep", lambda: query_card(ws, runs["sweep"])),
              ("sweep", lambda: budget_card(runs["sweep"])), ("order", lambda: order_card(runs["order"])),
              ("vs_id", lambda: vs_id_card(runs["vs_id"])), ("compare", lambda: spaces_card(runs["compare"])))
    for need, make in makers:
        if runs.get(need):
            card = make()
            if card is not None:
                cards.append(card)
    return cards
