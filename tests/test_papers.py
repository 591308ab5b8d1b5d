"""What the papers found: each claim's rule on hand-made rows where it holds and where it does not, the page
on runs saved in a fresh run store, and the measurements `prepare` adds for it (cut-off, geometry)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pagetest import open_view

from core.experiments import papers
from core.experiments.evidence import cutoff_table, geometry_row
from core.experiments.papers import CLAIMS, CLAIMS_BY_KEY, FAILS, HOLDS, NOT_RUN

SYNTH = {"dataset": "synthetic", "params": {"n": 300, "dim": 16, "intrinsic_dim": 4, "noise": 0.0, "n_clusters": 3,
                                            "seed": 0},
         "encoder": "given-vectors", "encoder_options": {}}


# -- rows a saved run would hold -----------------------------------------------------------------------------


def order_rows(holds: bool) -> list[dict]:
    desc, asc = (0.92, 0.89) if holds else (0.901, 0.899)  # +3 points, or +0.2 (under the 0.5-point floor)
    rows = [{"backend": "faiss", "order": "original", "seed": None, "ef_search": 10, "k": 10, "recall_at_k": 0.90}]
    rows += [{"backend": "faiss", "order": "random", "seed": s, "ef_search": 10, "k": 10, "recall_at_k": r}
             for s, r in ((0, 0.900), (1, 0.905))]
    rows += [{"backend": "faiss", "order": o, "seed": None, "ef_search": 10, "k": 10, "recall_at_k": r}
             for o, r in (("lid-desc", desc), ("lid-asc", asc))]
    rows += [{"backend": "faiss", "order": "lid-asc", "seed": None, "ef_search": 40, "k": 10, "recall_at_k": 0.99}]
    return rows


def vs_id_rows(holds: bool) -> list[dict]:
    recall = (1.0, 0.95, 0.8, 0.6) if holds else (0.9, 0.91, 0.9, 0.92)
    return [{"true_dim": d, "backend": "faiss", "ef_search": 10, "k": 10, "recall_at_k": r}
            for d, r in zip((2, 8, 32, 128), recall, strict=True)]


def sweep_rows(holds: bool) -> list[dict]:
    def row(method, label, recall, ndcg, nbytes, qps, **extra):
        return {"method": method, "label": label, "status": "ok", "k": 10, "n": 1000, "d": 384, "nq": 100,
                "recall_at_k": recall, "ndcg_at_10": ndcg, "bytes_per_vector": nbytes, "total_bytes_per_vector": nbytes,
                "qps": qps, **extra}

    return [
        row("flat", "flat", 1.0, 0.50, 1536.0, 1000.0),
        row("sq", "sq qtype=int8", 0.99, 0.499 if holds else 0.45, 385.0, 900.0, qtype="int8"),
        row("pq", "pq m=48", 0.80, 0.47, 200.0, 1500.0, m=48),
        row("pca", "pca d_out=96 rerank=50", 0.99, 0.49, 152.0, 2000.0 if holds else 500.0, d_out=96, rerank=50),
        row("binary", "binary rerank=0", 0.60, 0.40 if holds else 0.52, 48.0, 5000.0, rerank=0, center=False),
        row("bebr", "bebr bits=2", 0.80 if holds else 0.62, 0.42, 104.0, 3000.0, bits=2, center=True),
        row("bebr", "bebr bits=4", 0.90 if holds else 0.61, 0.44, 208.0, 2500.0, bits=4, center=True),
    ]


def cutoff_rows(holds: bool) -> list[dict]:
    kept_other = 800 if holds else 100
    return [{"threshold": t, "relevant_kept": rk, "other_kept": ok, "relevant_total": 100, "other_total": 1000,
             "queries": 100, "k": 10, "metric": "cosine", "example_query": "q0"}
            for t, rk, ok in ((0.3, 100, 1000), (0.5, 95, kept_other), (0.7, 50, 20))]


def compare_rows(holds: bool, n: int = 300) -> list[dict]:
    return [{"id": f"item{i}", "agreement": 0.3 if holds else 0.95} for i in range(n)]


def geometry_rows(holds: bool) -> list[dict]:
    return [{"space": "given-vectors", "n": 300, "sample": 300, "dim": 16, "mean_cosine": 0.3 if holds else 0.02,
             "top1_variance": 0.2, "top10_variance": 0.9, "isotropy": 0.4}]


ROWS = {"order": order_rows, "recall_vs_id": vs_id_rows, "int8": sweep_rows, "budget": sweep_rows,
        "leanvec": sweep_rows, "bebr": sweep_rows, "cutoff": cutoff_rows, "convergent": compare_rows,
        "anisotropy": geometry_rows}


# -- each rule, both ways ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(ROWS))
@pytest.mark.parametrize("holds", [True, False])
def test_each_rule_holds_on_its_fixture_and_fails_on_the_other(key, holds):
    claim = CLAIMS_BY_KEY[key]
    verdict = claim.judge(pd.DataFrame(ROWS[key](holds)), {"k": 10, "space_a": "a", "space_b": "b"})
    assert verdict.status == (HOLDS if holds else FAILS), verdict.sentence
    assert verdict.sentence and verdict.ours and verdict.view is not None


def test_every_claim_has_a_rule_with_its_threshold_and_empty_rows_are_not_run():
    assert {c.key for c in CLAIMS} == set(ROWS)
    for claim in CLAIMS:
        assert any(ch.isdigit() for ch in claim.rule), claim.rule  # 'holds' is said in numbers
        assert claim.judge(pd.DataFrame(), {}).status == NOT_RUN


def test_rules_compute_the_numbers_they_state():
    order = CLAIMS_BY_KEY["order"].judge(pd.DataFrame(order_rows(True)), {})
    assert order.value == pytest.approx(0.03)  # 0.92 - 0.89
    bebr = CLAIMS_BY_KEY["bebr"].judge(pd.DataFrame(sweep_rows(True)), {})
    assert bebr.value == pytest.approx((0.90 - 0.60) / (1 - 0.60))  # share of the 1-bit gap recovered
    leanvec = CLAIMS_BY_KEY["leanvec"].judge(pd.DataFrame(sweep_rows(True)), {})
    assert leanvec.value == pytest.approx(2.0)
    cut = CLAIMS_BY_KEY["cutoff"].judge(pd.DataFrame(cutoff_rows(True)), {})
    assert cut.value == pytest.approx(0.8) and cut.view == ("query", {"cutoff": 0.5, "mode": "query", "query": "q0"})
    best = papers.best_under_budgets(pd.DataFrame(sweep_rows(True)))
    assert [b for b, _ in best] == pytest.approx([512, 256, 128, 64])
    assert [r["method"] for _, r in best] == ["sq", "pca", "bebr", "binary"]
    conv = CLAIMS_BY_KEY["convergent"].judge(pd.DataFrame(compare_rows(True)), {"k": 10})
    assert conv.value == pytest.approx(0.3)


def test_cutoff_table_counts_results_passing_each_threshold():
    D = np.array([[0.9, 0.8, 0.1], [0.6, 0.5, 0.4]])
    relevant = np.array([[True, False, False], [False, True, False]])
    rows = cutoff_table(D, relevant, grid=3)
    assert [r["threshold"] for r in rows] == [0.5, 0.9]  # the relevant scores' quantiles (data values)
    assert rows[0] == {"threshold": 0.5, "relevant_kept": 2, "other_kept": 2, "relevant_total": 2, "other_total": 4,
                       "queries": 2, "k": 3}
    assert (rows[1]["relevant_kept"], rows[1]["other_kept"]) == (1, 0)


def test_geometry_row_mean_cosine_of_known_spaces():
    same = np.tile([[1.0, 0.0, 0.0]], (5, 1))
    assert geometry_row(same, "same")["mean_cosine"] == pytest.approx(1.0)
    signs = np.vstack([np.eye(4), -np.eye(4)])  # every direction and its opposite: mean cosine below 0
    assert geometry_row(signs, "signs")["mean_cosine"] == pytest.approx(-1 / 7)


# -- the page on saved runs -------------------------------------------------------------------------------------


def save_runs(holds: bool) -> None:
    from core.experiments.demo import dataset_params
    from core.experiments.evidence import evidence_params
    from core.store.runs import RunStore
    from core.workspace import Workspace

    ws = Workspace.open(SYNTH["dataset"], SYNTH["encoder"], dataset_params=SYNTH["params"])
    ws.embeddings()
    store, name, enc = RunStore(), ws.dataset.name, ws.encoder_name
    key = {"embeddings_key": ws.embeddings_key}
    saved = (("order", key, order_rows), ("sweep", key, sweep_rows), ("order-vs-id", {}, vs_id_rows),
             ("cutoff", evidence_params(ws), cutoff_rows), ("geometry", evidence_params(ws), geometry_rows),
             ("compare", {"space_a": enc, "space_b": "other", "k": 10, "dataset_params": dataset_params(ws.dataset)},
              compare_rows))
    for kind, params, rows in saved:
        with store.recording(kind, "synthetic" if kind == "order-vs-id" else name, enc, params) as rec:
            rec.add(*rows(holds))


def badges(at) -> dict[str, str]:
    out = {}
    for claim in CLAIMS:
        line = next(m.value for m in at.markdown if m.value.endswith(papers_claim_text(claim)))
        out[claim.key] = line.split("[", 1)[1].split("]", 1)[0]
    return out


def papers_claim_text(claim) -> str:
    from figures.text import markdown_text

    return markdown_text(claim.claim)


@pytest.mark.parametrize("holds", [True, False])
def test_papers_page_shows_each_verdict_from_saved_runs(fresh_home, holds):
    save_runs(holds)
    at = open_view("papers.py", SYNTH)
    assert set(badges(at).values()) == {HOLDS if holds else FAILS}
    links = [m.value for m in at.markdown if "data-claim=" in m.value]
    assert len(links) == len(CLAIMS)
    assert not [b for b in at.button if b.key.startswith("papers_run_")]  # nothing left to run
    assert [m.value for m in at.metric] == (["9", "0", "0"] if holds else ["0", "9", "0"])


def test_papers_page_offers_to_run_what_is_missing(fresh_home):
    at = open_view("papers.py", SYNTH)
    assert set(badges(at).values()) == {NOT_RUN}
    assert {b.key for b in at.button} == {f"papers_run_{c.key}" for c in CLAIMS}
    at.button(key="papers_run_anisotropy").click().run()  # the cheapest one: computed and saved here
    assert not at.exception
    assert badges(at)["anisotropy"] in (HOLDS, FAILS)
    assert any("Saved how isotropic the space is" in s.value for s in at.success)
