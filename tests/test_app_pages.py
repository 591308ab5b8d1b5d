"""AppTest for the foundation pages: Home, Data, Runs, and the router."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pagetest import open_view, page_text
from streamlit.testing.v1 import AppTest

from core.store.runs import RunStore

ROOT = Path(__file__).resolve().parents[1]

SYNTH = {
    "dataset": "synthetic",
    "params": {"n": 400, "dim": 24, "intrinsic_dim": 4, "noise": 0.0, "n_clusters": 3, "seed": 0},
    "encoder": "given-vectors",
    "encoder_options": {},
}


def run_page(path: str, spec: dict | None = None) -> AppTest:
    return open_view(path.removeprefix("views/"), spec)




def test_router_opens_home_with_the_demo_dataset():
    at = run_page("app.py")
    text = page_text(at)
    assert "What each page answers" in text
    assert "stdlib-docs" in text
    assert at.sidebar.selectbox(key="pick_dataset").value == "stdlib-docs"


def test_home_shows_live_numbers_of_a_vector_workspace():
    at = run_page("views/home.py", SYNTH)
    assert at.metric[0].value == "400"
    assert at.metric[1].value == "24"


def test_data_page_card_for_vectors():
    at = run_page("views/data.py", SYNTH)
    text = page_text(at)
    assert "400 × 24 used as given" in text
    assert len(at.get("plotly_chart")) >= 2  # categories and norms


def test_data_page_for_the_text_demo_offers_or_shows_encoding():
    at = run_page("views/data.py")
    text = page_text(at)
    assert "Sample items" in text
    assert ("Encoded:" in text) or any(b.label == "Encode" for b in at.button)


def test_data_page_encodes_with_a_fast_encoder():
    spec = {"dataset": "stdlib-docs", "params": {"limit": 150, "seed": 0}, "encoder": "tfidf-svd",
            "encoder_options": {}}
    at = run_page("views/data.py", spec)
    buttons = [b for b in at.button if b.key == "encode"]
    if buttons:  # not cached yet in this test home
        buttons[0].click().run()
        assert not at.exception
    assert "Encoded" in page_text(at) and "150 × " in page_text(at)
    # the relevance task: exact-search MRR/nDCG@10 and a sentence saying what it measures
    text = page_text(at)
    assert "Relevance task" in text and "does not contain the summary" in text
    labels = {m.label: m.value for m in at.metric}
    assert {"MRR@10", "nDCG@10", "relevant item in top 10"} <= set(labels)
    assert 0 <= float(labels["MRR@10"]) <= 1


def test_unknown_dataset_in_link_falls_back_with_a_warning():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["dataset"] = "no-such-dataset"
    at.run()
    assert not at.exception
    assert any("is not a dataset here; showing stdlib-docs" in w.value.replace("\\", "") for w in at.sidebar.warning)


BAD_LINKS = [
    ({"dataset": "synthetic", "params": '{"n": 1e9}'}, r"n=1,000,000,000 is above 200,000; using 200,000"),
    ({"dataset": "synthetic", "params": '{"n": -5}'}, r"n=-5 is below 100; using 100"),
    ({"dataset": "synthetic", "params": '{"n": "abc"}'}, r"n='abc' is not a number; using 10,000"),
    ({"dataset": "synthetic", "params": '{"noise": 1e999}'}, r"noise=inf is not a finite number; using 0"),
    ({"dataset": "synthetic", "params": "{not json"}, r"is not valid JSON"),
    ({"dataset": "synthetic", "params": "[1, 2]"}, r"is not a JSON object"),
    ({"encoder": "/etc"}, r"encoder='/etc' is not an encoder this server offers; using minilm"),
    ({"encoder": "/no/such/dir"}, r"encoder='/no/such/dir' is not an encoder this server offers"),
    ({"encoder": "bert-base-uncased"}, r"encoder='bert-base-uncased' is not an encoder this server offers"),
    ({"dataset": "[text](https://evil.example)"}, r"is not a dataset here"),
    ({"dataset": "glove-6b-50d", "params": '{"limit": 20000}'}, None),  # kept, not replaced
]


@pytest.mark.parametrize(("query", "warning"), BAD_LINKS)
def test_bad_link_values_warn_once_and_fall_back_never_a_traceback(query, warning):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.sidebar.warning]
    if warning is None:
        assert warnings == []
        assert at.sidebar.selectbox(key="pick_glove_limit").value == 20_000
        return
    text = "\n".join(warnings).replace("\\", "")  # the message is markdown-escaped
    assert warning in text, warnings
    assert "etc" not in text.split("offers")[-1] and "exist" not in text  # says nothing of server paths
    for raw in (w.value for w in at.sidebar.warning):
        assert "](" not in raw.replace("\\]\\(", "")  # a markdown link stays escaped


def test_runs_page_lists_opens_compares_and_deletes(fresh_home):
    store = RunStore()
    a = store.start_run("sweep", "stdlib-docs", "minilm", {"k": 10}, environment={})
    store.add_rows(a, [{"method": "flat", "recall_at_k": 1.0}, {"method": "pq", "recall_at_k": 0.5}])
    store.finish_run(a)
    b = store.start_run("sweep", "stdlib-docs", "minilm", {"k": 10}, environment={})
    store.add_rows(b, [{"method": "flat", "recall_at_k": 1.0}, {"method": "pq", "recall_at_k": 0.6}])
    store.finish_run(b)
    at = run_page("views/runs.py")
    frames = at.dataframe
    assert len(frames) >= 3  # runs list, rows, comparison
    comparison = frames[-1].value
    delta = comparison.set_index("configuration")["Δ recall_at_k"]
    assert delta["method=pq"] == pytest.approx(-0.1) or delta["method=pq"] == pytest.approx(0.1)
    at.button(key="runs_delete").click().run()
    at.button(key="runs_delete_yes").click().run()
    assert not at.exception
    assert len(RunStore().list_runs()) == 1


def test_runs_page_when_empty(fresh_home):
    at = run_page("views/runs.py")
    assert "No runs yet" in page_text(at)


def test_upload_of_a_csv_adds_a_dataset(fresh_home, tmp_path):
    from core.data.uploads import list_user_datasets, open_dataset, save_upload

    data = b"text,topic\nthe cat sat on the mat,pets\nstocks fell sharply today,finance\n"
    name = save_upload(data, "notes.csv", {"text_column": "text", "label_column": "topic"})
    assert name in list_user_datasets()
    ds = open_dataset(name)
    assert ds.n == 2 and ds.labels == ["pets", "finance"]


def test_bad_upload_is_refused_and_nothing_stored(fresh_home):
    from core.data.uploads import list_user_datasets, save_upload

    with pytest.raises(ValueError):
        save_upload(np.ones(3).tobytes(), "vectors.npy")
    assert list_user_datasets() == []


def test_pydocs_asks_before_the_long_walk():
    spec = {"dataset": "pydocs", "params": {"limit": 5000, "seed": 0}, "encoder": "minilm", "encoder_options": {}}
    at = run_page("views/data.py", spec)
    text = page_text(at)
    assert "min to walk" in text and "passages" in text
    assert any(b.key == "confirm_pydocs" for b in at.button)
    home = run_page("views/home.py", spec)  # other pages point to the Data page instead of starting it
    assert "takes minutes to build" in page_text(home)


def test_add_dataset_switches_to_it_and_says_so(fresh_home):
    from core.data.uploads import save_upload

    name = save_upload(b"text,topic\nthe cat sat on the mat,pets\nstocks fell sharply today,finance\n", "notes.csv",
                       {"text_column": "text", "label_column": "topic"})
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert at.sidebar.selectbox(key="pick_dataset").value == "stdlib-docs"
    # what the Data page's "Add dataset" does before its st.rerun
    at.session_state["switch_to"] = {"dataset": name, "encoder": "tfidf-svd", "message": "Added notes.csv; it is "
                                     "now the current dataset."}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.sidebar.selectbox(key="pick_dataset").value == name
    assert at.query_params["dataset"] == [name] or at.query_params["dataset"] == name
    assert any("it is now the current dataset" in s.value.replace("\\", "") for s in at.sidebar.success)
    at.run()  # the message is said once
    assert not at.sidebar.success and at.sidebar.selectbox(key="pick_dataset").value == name


MARKUP = ["<a href=x>a</a>", "<b>b</b>", "[t](u)", "**s**"]


def test_markup_in_labels_and_ids_stays_literal(fresh_home):
    from core.data.uploads import save_upload
    from figures.data import category_bar
    from figures.intrinsic import lid_by_category_box

    rows = "".join(f'"item {i} {MARKUP[i % 4]} text words here",{MARKUP[i % 4]}\n' for i in range(40))
    name = save_upload(("body,topic\n" + rows).encode(), "markup.csv", {"text_column": "body", "label_column": "topic"})
    spec = {"dataset": name, "params": {}, "encoder": "tfidf-svd", "encoder_options": {}}
    at = run_page("views/data.py", spec)
    assert not at.exception
    md = "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)
    assert "<a href" not in md and "](u)" not in md and "**s**" not in md
    fig = category_bar(pd.DataFrame({"category": MARKUP, "items": [4, 3, 2, 1]}))
    assert "&lt;a href=x&gt;a&lt;/a&gt;" in fig.data[0].y and "<b>b</b>" not in fig.data[0].y
    box = lid_by_category_box(pd.DataFrame({"category": MARKUP, "lid": [1.0, 2.0, 3.0, 4.0]}))
    assert [t.name for t in box.data][:2] == ["&lt;a href=x&gt;a&lt;/a&gt;", "&lt;b&gt;b&lt;/b&gt;"]
    assert all("<a" not in t.hovertemplate for t in box.data)


def test_every_page_header_names_a_run_in_progress_and_not_one_whose_process_died(fresh_home):
    import os
    import subprocess
    import sys
    import time

    store = RunStore()
    alive = store.start_run("sweep", "synthetic", "given-vectors", {"k": 10}, environment={})  # owned by this process
    store.add_rows(alive, [{"method": "flat"}, {"method": "pq"}])
    dead = subprocess.run(  # a process that starts a run and ends without finishing it
        [sys.executable, "-c", "from core.store.runs import RunStore; print(RunStore().start_run("
         "'order', 'synthetic', 'given-vectors', {}, environment={}))"],
        cwd=ROOT, env={**os.environ, "DENSESCOPE_HOME": str(fresh_home)}, capture_output=True, text=True, check=True,
    )
    dead_id = int(dead.stdout.strip())
    other = store.start_run("sweep", "stdlib-docs", "minilm", {}, environment={})  # another workspace's run
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.session_state["ws_spec"] = SYNTH
        at.run()
        at.switch_page("views/runs.py").run()  # another page than the one that would start a sweep
        assert not at.exception, [e.value for e in at.exception]
        infos = [i.value for i in at.main.info]
        started = time.strftime("%H:%M", time.localtime(store.get_run(alive).started))
        line = [i for i in infos if "in progress" in i]
        assert len(line) == 1, infos
        assert next(iter(at.main.children.values())).value == line[0]  # the top of the main area
        assert f"**Run #{alive} (sweep) in progress** — started {started}" in line[0]
        assert "2 rows saved so far" in line[0] and "Compression page" in line[0] and "Stop" in line[0]
        assert f"#{dead_id} " not in line[0] and f"#{other} " not in line[0]
        assert store.get_run(dead_id).status == "interrupted"
        store.finish_run(alive)
        at.run()
        assert not [i.value for i in at.main.info if "in progress" in i.value]  # none once it is done
    finally:
        store.finish_run(other)
