"""Encoder rankings under exact search and HNSW: τ by hand, a fixture HNSW provably reorders, the CLI, the page."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pagetest import open_view, page_text
from scipy.stats import kendalltau

from core.analysis.encoder_ranking import competition_ranks, evaluate_space, kendall_tau_b
from core.analysis.isotropy import unit_rows
from core.cli.main import main
from core.experiments.encoder_ranking import (
    KIND,
    RankingParams,
    ranking_agreement,
    ranking_long,
    ranking_table,
)
from core.store.runs import RunStore
from figures.encoder_ranking import rank_slope_figure

N, NQ = 1000, 100


def test_kendall_tau_on_hand_computed_cases():
    # one discordant pair of six: (5 - 1) / 6
    assert kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(2 / 3)
    # a tie in a: pairs (0,1) tied, (0,2) and (1,2) concordant -> 2 / sqrt((3 - 1) * 3)
    assert kendall_tau_b([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / np.sqrt(6))
    assert kendall_tau_b([3, 2, 1], [1, 2, 3]) == -1.0
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 4, 12), rng.integers(0, 4, 12)
    assert kendall_tau_b(a, b) == pytest.approx(kendalltau(a, b).statistic)
    assert np.isnan(kendall_tau_b([1, 1], [1, 2]))
    with pytest.raises(ValueError, match="same length"):
        kendall_tau_b([1, 2], [1, 2, 3])


def test_competition_ranks_share_ties_and_put_nan_last():
    assert competition_ranks([0.5, 0.9, 0.5, float("nan"), 0.1]).tolist() == [2, 1, 2, 5, 4]


@pytest.fixture(scope="module")
def two_spaces():
    """Space A: known-item queries in random 64-d data -- exact search finds every relevant item (nDCG 1), but
    a weak graph (M=4, efConstruction=8) over data of high intrinsic dimension misses many at efSearch 10.
    Space B: 2-d data where a decoy sits just nearer each query than its relevant item, so exact search puts
    the relevant item second (nDCG 1/log2(3) = 0.631) and a graph in two dimensions finds it all the same."""
    qrels = [{i: 1} for i in range(NQ)]
    rng = np.random.default_rng(0)
    xa = unit_rows(rng.standard_normal((N, 64)))
    qa = unit_rows(xa[:NQ] + unit_rows(rng.standard_normal((NQ, 64))))
    rng = np.random.default_rng(1)
    xb = rng.uniform(0, 100, (N, 2)).astype(np.float32)
    u = unit_rows(rng.standard_normal((NQ, 2)))
    xb[NQ : 2 * NQ] = xb[:NQ] + 0.01 * u
    qb = (xb[:NQ] + 0.006 * u).astype(np.float32)
    rows = []
    for name, x, q in (("A", xa, qa), ("B", xb, qb)):
        for row in evaluate_space(x, q, qrels, metric="l2", M=4, ef_construction=8, ef_search=(10, 40)):
            rows.append({"space": name, **row})
    return pd.DataFrame(rows)


def test_hnsw_at_ef10_reorders_the_two_spaces(two_spaces):
    rows = two_spaces.set_index(["space", "search"])
    assert rows.loc[("A", "exact"), "ndcg_at_10"] == 1.0
    assert rows.loc[("B", "exact"), "ndcg_at_10"] == pytest.approx(1 / np.log2(3))
    assert rows.loc[("A", "faiss ef=10"), "recall_at_k"] < 0.5  # the weak graph loses A's neighbours
    assert rows.loc[("B", "faiss ef=10"), "ndcg_at_10"] > rows.loc[("A", "faiss ef=10"), "ndcg_at_10"]
    table = ranking_table(two_spaces).set_index("space")
    assert table.loc["A", "exact rank"] == 1 and table.loc["B", "exact rank"] == 2
    assert table.loc["A", "faiss ef=10 rank"] == 2 and table.loc["A", "faiss ef=10 change"] == -1
    assert table.loc["B", "faiss ef=10 change"] == 1
    assert table.loc["A", "faiss ef=40 rank"] == 1  # more search effort restores the exact order
    agreement = ranking_agreement(two_spaces).set_index("search")
    assert agreement.loc["faiss ef=10", "kendall_tau"] == -1.0
    assert agreement.loc["faiss ef=10", "winner_exact"] == "A" and agreement.loc["faiss ef=10", "winner_hnsw"] == "B"
    assert agreement.loc["faiss ef=40", "kendall_tau"] == 1.0 and agreement.loc["faiss ef=40", "max_change"] == 0


def test_the_slope_chart_draws_one_line_per_space(two_spaces):
    fig = rank_slope_figure(ranking_long(two_spaces), metric_name="nDCG@10")
    lines = [t for t in fig.data if t.mode and "lines" in t.mode]
    assert sorted(t.name for t in lines) == ["A", "B"]
    a = next(t for t in lines if t.name == "A")
    assert list(a.x) == ["exact", "faiss ef=10", "faiss ef=40"] and list(a.y) == [1, 2, 1]
    assert fig.layout.yaxis.autorange == "reversed"


def test_ranking_params_check_their_inputs():
    with pytest.raises(ValueError, match="between 2 and"):
        RankingParams(spaces=("minilm", "minilm"))
    with pytest.raises(ValueError, match="backends"):
        RankingParams(spaces=("minilm", "tfidf-svd"), backends=("annoy",))
    with pytest.raises(ValueError, match="abtt needs"):
        RankingParams(spaces=("minilm", "minilm:abtt=0"))
    p = RankingParams(spaces=("tfidf-svd", "glove-avg"), ef_search=(40, 10))
    assert RankingParams.from_dict(p.as_dict()) == p and p.settings == ["exact", "faiss ef=10", "faiss ef=40"]


@pytest.fixture
def judged_corpus(tmp_path):
    """A tiny text corpus with known-item queries and TREC qrels."""
    topics = ["sorting lists", "parsing json", "opening files", "network sockets", "regular expressions",
              "date arithmetic", "random numbers", "command line arguments"]
    docs = tmp_path / "docs.csv"
    docs.write_text("id,text\n" + "".join(f"d{i},how to do {t} in python step {j} with {t}\n"
                                          for i, (t, j) in enumerate((t, j) for t in topics for j in range(5))))
    queries = tmp_path / "queries.csv"
    queries.write_text("id,text\n" + "".join(f"q{i},{t}\n" for i, t in enumerate(topics)))
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("".join(f"q{i} 0 d{i * 5 + j} 1\n" for i in range(len(topics)) for j in range(5)))
    return docs, queries, qrels


def test_the_cli_ranks_spaces_and_saves_a_run(fresh_home, judged_corpus, capsys):
    docs, queries, qrels = judged_corpus
    args = ["order", "--rank-encoders", "--path", str(docs), "--text-column", "text", "--query-file", str(queries),
            "--qrels", str(qrels), "--encoders", "tfidf-svd;tfidf-svd:truncate=4,tfidf-svd:abtt=1", "--efs", "10"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "ranked by nDCG@10" in out and "Kendall's τ" in out and "tfidf-svd:truncate=4" in out
    (run,) = RunStore().list_runs(kind=KIND)
    rows = RunStore().rows(run.id)
    assert len(rows) == 3 * 2 and set(rows["search"]) == {"exact", "faiss ef=10"}
    assert run.params["spaces"] == ["tfidf-svd", "tfidf-svd:truncate=4", "tfidf-svd:abtt=1"]
    provenance = run.environment["provenance"]
    assert provenance["space tfidf-svd:abtt=1"]["encoder_config"]["encoder"] == "tfidf-svd"
    # the exact scores are the project's nDCG@10 of exact search on each space
    assert rows["ndcg_at_10"].between(0, 1).all() and (rows[rows["search"] == "exact"]["recall_at_k"] == 1).all()


def test_the_cli_refuses_a_dataset_without_judgments(fresh_home, capsys):
    assert main(["order", "--rank-encoders", "--dataset", "synthetic", "--encoders", "a,b"]) == 2
    assert "given vectors" in capsys.readouterr().err
    assert main(["order", "--rank-encoders", "--encoders", "minilm"]) == 2
    assert "between 2 and" in capsys.readouterr().err


SMALL = {"dataset": "stdlib-docs", "params": {"limit": 150, "seed": 0}, "encoder": "tfidf-svd", "encoder_options": {}}


def test_the_order_page_ranks_spaces_on_a_button_and_shows_the_saved_run(fresh_home):
    import streamlit as st

    from core.workspace import Workspace

    st.cache_data.clear()
    Workspace.open("stdlib-docs", "tfidf-svd", dataset_params=SMALL["params"]).embeddings()
    at = open_view("order.py", SMALL)
    text = page_text(at)
    assert "Does approximate search change which encoder wins" in text and "No saved ranking" in text
    at.multiselect(key="rank_spaces").set_value(["tfidf-svd", "tfidf-svd:truncate=64", "tfidf-svd:abtt=3"]).run()
    at.button(key="rank_encoders_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    text = page_text(at)
    assert "Kendall's τ with the exact ranking" in text
    (table,) = [df.value for df in at.dataframe if "exact rank" in df.value]
    assert set(table["space"]) == {"tfidf-svd", "tfidf-svd:truncate=64", "tfidf-svd:abtt=3"}
    assert "faiss ef=10 rank" in table and "faiss ef=40 change" in table
    (run,) = RunStore().list_runs(kind=KIND)
    assert at.query_params.get("rank_run") in (str(run.id), [str(run.id)])


def test_a_link_cannot_make_the_page_open_a_server_path(fresh_home):
    import streamlit as st
    from pagetest import ROOT
    from streamlit.testing.v1 import AppTest

    from core.workspace import Workspace

    st.cache_data.clear()
    Workspace.open("stdlib-docs", "tfidf-svd", dataset_params=SMALL["params"]).embeddings()
    at = AppTest.from_file(str(ROOT / "views" / "order.py"), default_timeout=120)
    at.session_state["ws_spec"] = SMALL
    at.query_params["rank_spaces"] = "tfidf-svd;/etc:abtt=1;file:/etc/passwd"
    at.run()
    assert not at.exception
    assert any("not encoders this server offers" in w.value for w in at.warning)
    assert at.multiselect(key="rank_spaces").value == ["tfidf-svd"]
