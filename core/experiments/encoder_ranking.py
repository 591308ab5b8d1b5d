"""Encoder rankings under HNSW and exact search (Elliott & Clark 2024).

Each *space* (an encoder, its options or a derivation, written as on Compare spaces: ``minilm``,
``minilm(pooling=cls)``, ``minilm:truncate=128``, ``tfidf-svd``, ``glove-avg``) of one text dataset with
relevance judgments is scored by nDCG@10 and MRR@10 (trec_eval's definitions, `core.index.metrics`) with
exact search and with HNSW at the vector-database defaults the paper used (M=16, efConstruction=128,
efSearch 10 and 40). The spaces are ranked under each search setting; `ranking_table` puts the rankings
side by side with each space's rank change, `ranking_agreement` gives Kendall's τ-b between the exact
ranking and each HNSW one and whether the winner changes. Rows (one per space and search setting) are
saved as a run of kind ``"encoder-ranking"``.

Embeddings come from each space's workspace (cached by content hash, so a space encoded once -- here or
on any page -- is not encoded again); the HNSW graphs are built single-threaded in the items' order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from core.analysis.encoder_ranking import (
    EXACT,
    PAPER_EF_CONSTRUCTION,
    PAPER_EF_SEARCH,
    PAPER_M,
    competition_ranks,
    evaluate_space,
    kendall_tau_b,
    setting_label,
)
from core.analysis.insertion_order import BACKENDS
from core.experiments.spaces import SpaceSpec, open_space
from core.progress import ProgressFn, report

KIND = "encoder-ranking"
#: The spaces ranked unless others are named: the bundled transformer, its CLS-pooling and truncated
#: variants, its all-but-the-top post-processing, and the two static baselines.
DEFAULT_SPACES = ("minilm", "minilm(pooling=cls)", "minilm:truncate=128", "minilm:truncate=64", "minilm:abtt=3",
                  "tfidf-svd", "glove-avg")
METRICS = {"ndcg_at_10": "nDCG@10", "mrr_at_10": "MRR@10"}
MAX_SPACES = 12


@dataclass(frozen=True)
class RankingParams:
    """What is ranked and how HNSW is configured (defaults: Elliott & Clark's)."""

    spaces: tuple[str, ...] = DEFAULT_SPACES
    backends: tuple[str, ...] = ("faiss",)
    M: int = PAPER_M
    ef_construction: int = PAPER_EF_CONSTRUCTION
    ef_search: tuple[int, ...] = PAPER_EF_SEARCH

    def __post_init__(self) -> None:
        labels = tuple(dict.fromkeys(SpaceSpec.parse(s).label for s in self.spaces))
        object.__setattr__(self, "spaces", labels)
        object.__setattr__(self, "backends", tuple(dict.fromkeys(self.backends)))
        object.__setattr__(self, "ef_search", tuple(sorted({int(e) for e in self.ef_search})))
        if not 2 <= len(labels) <= MAX_SPACES:
            raise ValueError(f"a ranking needs between 2 and {MAX_SPACES} different spaces, got {len(labels)}")
        bad = [b for b in self.backends if b not in BACKENDS]
        if bad or not self.backends:
            raise ValueError(f"backends must be among {', '.join(BACKENDS)}, got {', '.join(self.backends) or 'none'}")
        if not self.ef_search or self.ef_search[0] < 1:
            raise ValueError(f"efSearch must be positive whole numbers, got {list(self.ef_search)}")
        if self.M < 2 or self.ef_construction < 1:
            raise ValueError(f"M must be >= 2 and efConstruction >= 1, got M={self.M}, "
                             f"efConstruction={self.ef_construction}")

    @property
    def settings(self) -> list[str]:
        """Search settings in display order: exact, then each backend at each efSearch."""
        return [EXACT] + [setting_label(b, e) for b in self.backends for e in self.ef_search]

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> RankingParams:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in known})


def split_spaces(text: str) -> list[str]:
    """``"minilm;minilm(pooling=cls,max_length=128),tfidf-svd"`` -> the three spaces: split on ``;``, and on
    commas outside an encoder's options (how a command line and a page's URL write a list of spaces)."""
    out, depth, current = [], 0, ""
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == ";" or (ch == "," and depth <= 0):
            out.append(current)
            current = ""
        else:
            current += ch
    out.append(current)
    return [s.strip() for s in out if s.strip()]


def judged_queries(ws) -> tuple[np.ndarray, list[dict]]:
    """The dataset's query rows that have at least one positive judgment, and their ``{position: grade}``."""
    ds = ws.dataset
    if ds.queries is None or not len(ds.queries) or not ds.has_qrels or ds.qrels_are_neighbors:
        raise ValueError(f"{ds.name} has no queries with relevance judgments; ranking encoders by nDCG@10 needs "
                         "them (a BEIR folder, or --query-file and --qrels)")
    pos = {doc: i for i, doc in enumerate(ds.ids)}
    qrels = [{pos[d]: int(r) for d, r in ds.qrels.get(q, {}).items() if r > 0 and d in pos} for q in ds.queries.ids]
    rows = np.array([q for q, rel in enumerate(qrels) if rel], dtype=np.int64)
    if rows.size == 0:
        raise ValueError(f"none of {ds.name}'s queries has a relevant item among its passages")
    return rows, [qrels[q] for q in rows]


def check_ranking_inputs(dataset, params: RankingParams, dataset_params: dict | None = None):
    """The dataset opened and checked before anything is encoded: a text dataset with judged queries."""
    from core.workspace import Workspace

    ws = Workspace.open(dataset, None, dataset_params=dataset_params or {})
    if ws.dataset.kind != "text":
        raise ValueError(f"{ws.dataset.name} holds given vectors: there is one space only, nothing to rank; pick "
                         "a text dataset")
    judged_queries(ws)
    for text in params.spaces:
        spec = SpaceSpec.parse(text)
        if spec.encoder.startswith("file:"):
            raise ValueError(f"{text}: a vector file has no query encoder, so it cannot be searched with queries")
    return ws


def rank_encoders(dataset, params: RankingParams, *, dataset_params: dict | None = None,
                  progress: ProgressFn | None = None, recorder=None) -> Iterator[dict]:
    """Score every space of ``params`` with exact search and HNSW; yields (and records) one row per space and
    search setting. Spaces are encoded through their workspaces (cached) with ``progress``."""
    ws = check_ranking_inputs(dataset, params, dataset_params)
    rows_q, qrels = judged_queries(ws)
    if recorder is not None:
        recorder.describe({"dataset_fingerprint": ws.dataset.fingerprint(), "dataset": ws.dataset.name,
                           "spaces": list(params.spaces)})
    n_spaces = len(params.spaces)
    for i, text in enumerate(params.spaces):
        report(progress, i, n_spaces, f"{text}: embeddings")
        t0 = time.perf_counter()
        space = open_space(ws.dataset, text, progress=progress)
        if recorder is not None:  # what each space was computed from, for `runs show N --manifest`
            recorder.describe({f"space {space.spec.label}": space.ws.provenance()})
        report(progress, i, n_spaces, f"{text}: query embeddings")
        xq = space.ws.query_embeddings(progress)
        xq = np.ascontiguousarray(space.derive(xq)[rows_q])
        report(progress, i, n_spaces, f"{text}: exact search and HNSW")
        for row in evaluate_space(space.x, xq, qrels, metric=space.ws.metric, backends=params.backends, M=params.M,
                                  ef_construction=params.ef_construction, ef_search=params.ef_search):
            out = {"space": space.spec.label, "dim": int(space.x.shape[1]), **row, "M": params.M,
                   "ef_construction": params.ef_construction, "n_base": int(space.x.shape[0]),
                   "n_queries": int(xq.shape[0]), "seconds": round(time.perf_counter() - t0, 2)}
            if recorder is not None:
                recorder.add(out)
            yield out
    report(progress, n_spaces, n_spaces, "done")


def ranking_run_params(ws, params: RankingParams) -> dict:
    return {**params.as_dict(), "dataset_fingerprint": ws.dataset.fingerprint(),
            "dataset_params": dict(ws.dataset.params)}


# ------------------------------------------------------------------------ reading rows


def _settings(rows: pd.DataFrame) -> list[str]:
    order = list(dict.fromkeys(rows["search"]))
    return [EXACT] + [s for s in order if s != EXACT] if EXACT in order else order


def ranking_long(rows: pd.DataFrame, metric: str = "ndcg_at_10") -> pd.DataFrame:
    """One row per space and search setting: ``space``, ``search``, ``score``, ``rank`` (1 = best within the
    setting), ``recall_at_k``; settings in display order (exact first)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    out = []
    for setting in _settings(rows):
        part = rows[rows["search"] == setting]
        scores = pd.to_numeric(part[metric], errors="coerce").to_numpy(dtype=float)
        out.append(pd.DataFrame({"space": part["space"].astype(str).to_numpy(), "search": setting, "score": scores,
                                 "rank": competition_ranks(scores),
                                 "recall_at_k": pd.to_numeric(part["recall_at_k"], errors="coerce").to_numpy()}))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(
        columns=["space", "search", "score", "rank", "recall_at_k"])


def ranking_table(rows: pd.DataFrame, metric: str = "ndcg_at_10") -> pd.DataFrame:
    """The rankings side by side, one line per space sorted by its exact rank: ``exact <metric>``,
    ``exact rank``, then per HNSW setting its score, rank and ``change`` (places moved: + up, − down)."""
    long = ranking_long(rows, metric)
    name = METRICS[metric]
    exact = long[long["search"] == EXACT].set_index("space")
    table = pd.DataFrame({"space": exact.index, f"exact {name}": exact["score"].to_numpy(),
                          "exact rank": exact["rank"].to_numpy()})
    for setting in _settings(rows)[1:]:
        part = long[long["search"] == setting].set_index("space").reindex(table["space"])
        table[f"{setting} {name}"] = part["score"].to_numpy()
        table[f"{setting} rank"] = part["rank"].to_numpy()
        table[f"{setting} change"] = table["exact rank"].to_numpy() - part["rank"].to_numpy()
    return table.sort_values(["exact rank", "space"], kind="stable").reset_index(drop=True)


def ranking_agreement(rows: pd.DataFrame, metric: str = "ndcg_at_10") -> pd.DataFrame:
    """Per HNSW setting: Kendall's τ-b with the exact ranking (over the spaces' scores), the largest rank
    change, the winners under each, and the mean recall@10 of HNSW against exact search."""
    long = ranking_long(rows, metric)
    exact = long[long["search"] == EXACT].set_index("space")
    out = []
    for setting in _settings(rows)[1:]:
        part = long[long["search"] == setting].set_index("space").reindex(exact.index)
        moved = (exact["rank"] - part["rank"]).abs()
        out.append({"search": setting, "kendall_tau": kendall_tau_b(exact["score"], part["score"]),
                    "max_change": int(moved.max()), "spaces_moved": int((moved > 0).sum()),
                    "winner_exact": ", ".join(exact.index[exact["rank"] == 1]),
                    "winner_hnsw": ", ".join(part.index[part["rank"] == 1]),
                    "mean_recall": float(part["recall_at_k"].mean())})
    return pd.DataFrame(out)


def ranking_sentences(rows: pd.DataFrame, metric: str = "ndcg_at_10") -> list[str]:
    """What the ranking run found, one sentence per HNSW setting, with its numbers."""
    name = METRICS[metric]
    out = []
    for r in ranking_agreement(rows, metric).itertuples():
        who = (f"the winner stays {r.winner_exact}" if r.winner_exact == r.winner_hnsw else
               f"the winner changes from {r.winner_exact} to {r.winner_hnsw}")
        moved = ("no space changes rank" if r.max_change == 0 else
                 f"{r.spaces_moved} space{'s' if r.spaces_moved != 1 else ''} change rank, by up to {r.max_change} "
                 f"place{'s' if r.max_change != 1 else ''}")
        out.append(f"{r.search} (recall@10 against exact search {r.mean_recall:.3f}, mean over the spaces): by {name}, "
                   f"{moved}; Kendall's τ with the exact ranking {r.kendall_tau:.2f}; {who}.")
    return out


def latest_ranking_run(ws, store=None):
    """The newest ranking run with rows on this workspace's dataset (same fingerprint), or None."""
    from core.store.runs import RunStore

    store = store or RunStore()
    fingerprint = ws.dataset.fingerprint()
    for run in store.list_runs(kind=KIND, dataset=ws.dataset.name):
        if run.params.get("dataset_fingerprint") == fingerprint and run.n_rows and run.status != "running":
            return run
    return None


def load_ranking_rows(run_id: int, store=None) -> pd.DataFrame:
    """Rows of a saved ranking run; ValueError when the run is another kind."""
    from core.store.runs import RunStore

    store = store or RunStore()
    run = store.get_run(run_id)
    if run.kind != KIND:
        raise ValueError(f"run #{run_id} is a {run.kind} run, not an encoder ranking")
    rows = store.rows(run_id)
    for col in ("ndcg_at_10", "mrr_at_10", "recall_at_k", "build_s"):
        if col in rows:
            rows[col] = pd.to_numeric(rows[col], errors="coerce").astype(float)
    return rows
