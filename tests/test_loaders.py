"""User files: every format loads to the hand-checkable answer; every bad input is explained."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.data.loading import (
    SUPPORTED_EXTENSIONS,
    check_upload_size,
    inspect_file,
    inspect_upload,
    load_file,
    load_upload,
)

CSV = 'id,text,label\na1,"Cats purr, mostly.",pets\na2,Dogs bark.,pets\na3,Rain falls.,weather\n'


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def write_fvecs(path: Path, x: np.ndarray) -> Path:
    n, d = x.shape
    rows = np.empty((n, d + 1), dtype="<i4")
    rows[:, 0] = d
    rows[:, 1:] = x.astype("<f4").view("<i4")
    rows.tofile(path)
    return path


def write_hdf5(path: Path, train, test=None, neighbors=None, distance="angular") -> Path:
    with h5py.File(path, "w") as f:
        f.create_dataset("train", data=np.asarray(train, dtype=np.float32))
        if test is not None:
            f.create_dataset("test", data=np.asarray(test, dtype=np.float32))
        if neighbors is not None:
            f.create_dataset("neighbors", data=np.asarray(neighbors, dtype=np.int32))
        if distance is not None:
            f.attrs["distance"] = distance
    return path


def write_beir(folder: Path, *, qrels: str | None = None) -> Path:
    folder.mkdir()
    corpus = [
        {"_id": "d1", "title": "Cats", "text": "They purr."},
        {"_id": "d2", "title": "", "text": "Dogs bark."},
        {"_id": "d3", "title": "Why?", "text": "Because."},
        {"_id": "d4", "title": "", "text": "  "},
    ]
    queries = [{"_id": "q1", "text": "what purrs"}, {"_id": "q2", "text": "who barks"}, {"_id": "q3", "text": "x"}]
    write(folder / "corpus.jsonl", "\n".join(json.dumps(r) for r in corpus) + "\n")
    write(folder / "queries.jsonl", "\n".join(json.dumps(r) for r in queries) + "\n")
    (folder / "qrels").mkdir()
    default = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq2\td9\t1\nq3\td3\t0\n"
    write(folder / "qrels" / "test.tsv", default if qrels is None else qrels)
    return folder


# -- formats that load ---------------------------------------------------------------


def test_csv_with_quoted_comma_label_and_id_columns(tmp_path):
    ds = load_file(write(tmp_path / "pets.csv", CSV), label_column="label", id_column="id")
    assert ds.name == "pets" and ds.kind == "text" and ds.metric == "cosine"
    assert ds.texts == ["Cats purr, mostly.", "Dogs bark.", "Rain falls."]
    assert ds.ids == ["a1", "a2", "a3"]
    assert ds.labels == ["pets", "pets", "weather"]
    assert ds.params["text_column"] == "text" and ds.params["dropped_empty"] == 0


def test_csv_without_id_column_numbers_rows_and_strips_bom(tmp_path):
    ds = load_file(write(tmp_path / "a.csv", b"\xef\xbb\xbfpassage,n\nfirst one,1\nsecond,2\n"))
    assert ds.ids == ["0", "1"] and ds.texts == ["first one", "second"] and ds.labels is None


def test_tsv_takes_the_only_text_column(tmp_path):
    ds = load_file(write(tmp_path / "a.tsv", "score\tsentence_of_mine\n1.5\tHello there\n2\tGood bye\n"))
    assert ds.texts == ["Hello there", "Good bye"]
    assert ds.params["text_column"] == "sentence_of_mine"


def test_text_column_is_chosen_around_label_and_id_columns(tmp_path):
    path = write(tmp_path / "a.csv", "doc,topic\nSome words,x\nMore words,y\n")
    ds = load_file(path, label_column="topic")
    assert ds.texts == ["Some words", "More words"] and ds.labels == ["x", "y"]


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson"])
def test_jsonl(tmp_path, suffix):
    lines = [{"content": "alpha beta", "cat": "a"}, {"content": "gamma", "cat": "b", "extra": 1}]
    path = write(tmp_path / f"x{suffix}", "\n".join(json.dumps(r) for r in lines) + "\n\n")
    ds = load_file(path, label_column="cat")
    assert ds.texts == ["alpha beta", "gamma"] and ds.labels == ["a", "b"]


def test_parquet_reads_the_chosen_columns(tmp_path):
    table = pa.table({"body": ["one", None, "three"], "k": [1, 2, 3], "other": [[0.1, 0.2]] * 3})
    pq.write_table(table, tmp_path / "t.parquet")
    ds = load_file(tmp_path / "t.parquet", id_column="k")
    assert ds.texts == ["one", "three"] and ds.ids == ["1", "3"]
    assert ds.params["dropped_empty"] == 1


def test_txt_one_passage_per_non_empty_line_ids_are_line_numbers(tmp_path):
    ds = load_file(write(tmp_path / "notes.txt", "first line\n\n  \nfourth line\n"))
    assert ds.texts == ["first line", "fourth line"]
    assert ds.ids == ["1", "4"]
    assert ds.params["dropped_empty"] == 2


def test_empty_texts_are_dropped_and_counted(tmp_path):
    ds = load_file(write(tmp_path / "a.csv", 'text\nkeep me\n""\n   \nand me\n'))
    assert ds.texts == ["keep me", "and me"]
    assert ds.params["dropped_empty"] == 2
    assert "2 empty dropped" in ds.description


def test_max_rows_keeps_the_first_non_empty_rows(tmp_path):
    ds = load_file(write(tmp_path / "a.txt", "a\n\nb\nc\n"), max_rows=2)
    assert ds.texts == ["a", "b"]


def test_npy_float64_becomes_float32(tmp_path):
    x = np.arange(12, dtype=np.float64).reshape(4, 3) + 1
    np.save(tmp_path / "v.npy", x)
    ds = load_file(tmp_path / "v.npy")
    assert ds.kind == "vectors" and ds.vectors.dtype == np.float32
    assert np.array_equal(ds.vectors, x.astype(np.float32))
    assert ds.ids == ["0", "1", "2", "3"] and ds.metric == "cosine"
    assert load_file(tmp_path / "v.npy", max_rows=2).vectors.shape == (2, 3)


def test_fvecs(tmp_path):
    x = np.array([[1, 2, 3], [4, 5, 6.5]], dtype=np.float32)
    ds = load_file(write_fvecs(tmp_path / "v.fvecs", x))
    assert np.array_equal(ds.vectors, x)


@pytest.mark.parametrize(("distance", "metric"), [("angular", "cosine"), ("euclidean", "l2"), ("dot", "ip")])
def test_hdf5_ann_benchmarks_layout(tmp_path, distance, metric):
    train = np.eye(4, 3) + 0.5
    test = [[1, 0, 0], [0, 1, 0]]
    path = write_hdf5(tmp_path / "ann.hdf5", train, test, [[0, 1], [1, -1]], distance)
    ds = load_file(path)
    assert ds.metric == metric and ds.vectors.shape == (4, 3)
    assert ds.queries.ids == ["q0", "q1"] and ds.queries.vectors.shape == (2, 3)
    assert ds.qrels == {"q0": {"0": 1, "1": 1}, "q1": {"1": 1}}


def test_hdf5_explicit_metric_wins_and_subset_drops_neighbors(tmp_path):
    path = write_hdf5(tmp_path / "ann.h5", np.ones((5, 2)), [[1, 1]], [[0, 1]], "euclidean")
    ds = load_file(path, metric="cosine", max_rows=3)
    assert ds.metric == "cosine" and ds.n == 3 and ds.qrels is None
    assert "neighbors_dropped" in ds.params


def test_beir_folder(tmp_path):
    ds = load_file(write_beir(tmp_path / "scifact"))
    assert ds.name == "scifact"
    assert ds.ids == ["d1", "d2", "d3"]
    assert ds.texts == ["Cats. They purr.", "Dogs bark.", "Why? Because."]
    assert ds.params["dropped_empty"] == 1
    # q3 has only a non-relevant judgment; d9 is not in the corpus
    assert ds.queries.ids == ["q1", "q2"] and ds.queries.texts == ["what purrs", "who barks"]
    assert ds.qrels == {"q1": {"d1": 1}, "q2": {"d2": 1}}


def test_upload_loads_and_records_the_file_name(tmp_path):
    ds = load_upload(CSV.encode(), "my pets.csv", label_column="label")
    assert ds.name == "my pets" and ds.params["path"] == "my pets.csv"
    assert ds.labels == ["pets", "pets", "weather"]


# -- inspection ----------------------------------------------------------------------


def test_inspect_csv_gives_columns_preview_and_guesses(tmp_path):
    info = inspect_file(write(tmp_path / "a.csv", CSV))
    assert info.format == "csv" and info.kind == "text" and info.n_rows == 3
    assert info.columns == ["id", "text", "label"]
    assert info.text_columns == ["id", "text", "label"]
    assert (info.text_column, info.label_column, info.id_column) == ("text", "label", "id")
    assert info.preview[0] == {"id": "a1", "text": "Cats purr, mostly.", "label": "pets"}


def test_inspect_leaves_the_text_column_open_when_ambiguous(tmp_path):
    info = inspect_file(write(tmp_path / "a.csv", "question,answer\nwhy,because\n"))
    assert info.text_column is None and info.text_columns == ["question", "answer"]


def test_inspect_parquet_and_upload(tmp_path):
    pq.write_table(pa.table({"doc": ["x" * 500, "y"], "n": [1, 2]}), tmp_path / "t.parquet")
    info = inspect_upload((tmp_path / "t.parquet").read_bytes(), "t.parquet")
    assert info.path == "t.parquet" and info.n_rows == 2 and info.text_column == "doc"
    assert len(info.preview[0]["doc"]) == 200  # shortened


def test_inspect_vector_files(tmp_path):
    np.save(tmp_path / "v.npy", np.zeros((7, 5), dtype=np.float32))
    assert inspect_file(tmp_path / "v.npy").shape == (7, 5)
    assert inspect_file(write_fvecs(tmp_path / "v.fvecs", np.ones((3, 2)))).shape == (3, 2)
    info = inspect_file(write_hdf5(tmp_path / "a.hdf5", np.ones((4, 2)), np.ones((2, 2)), distance="euclidean"))
    assert (info.shape, info.n_queries, info.metric) == ((4, 2), 2, "l2")


def test_inspect_beir(tmp_path):
    info = inspect_file(write_beir(tmp_path / "b"))
    assert (info.format, info.n_rows, info.n_queries) == ("beir", 4, 3)


# -- bad input -----------------------------------------------------------------------


def test_empty_file(tmp_path):
    with pytest.raises(ValueError, match=r"empty \(0 bytes\)"):
        load_file(write(tmp_path / "a.csv", ""))


def test_whitespace_only_file(tmp_path):
    with pytest.raises(ValueError, match=r"only whitespace"):
        load_file(write(tmp_path / "a.txt", "\n \n"))


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"no such file"):
        load_file(tmp_path / "nope.csv")


def test_ambiguous_text_column_lists_the_columns(tmp_path):
    with pytest.raises(ValueError, match=r"cannot tell which column.*'question', 'answer'"):
        load_file(write(tmp_path / "a.csv", "question,answer\nwhy,because\n"))


def test_no_text_column_at_all(tmp_path):
    with pytest.raises(ValueError, match=r"no text column.*pass text_column="):
        load_file(write(tmp_path / "a.csv", "x,y\n1,2\n3,4\n"))


@pytest.mark.parametrize("option", ["text_column", "label_column", "id_column"])
def test_wrong_column_name_lists_available_columns(tmp_path, option):
    with pytest.raises(ValueError, match=r"'txt' not found; available columns: 'id', 'text', 'label'"):
        load_file(write(tmp_path / "a.csv", CSV), **{option: "txt"})


def test_all_texts_empty(tmp_path):
    with pytest.raises(ValueError, match=r"no non-empty text"):
        load_file(write(tmp_path / "a.csv", "text,n\n,1\n  ,2\n"))


def test_non_utf8_names_encoding_offset_and_fix(tmp_path):
    path = write(tmp_path / "a.csv", b"text\ncaf\xe9\n")  # latin-1 é at byte 8
    with pytest.raises(ValueError, match=r"not UTF-8.*tried utf-8.*0xe9 at byte offset 8.*Re-save"):
        load_file(path)


def test_ragged_csv_names_the_line(tmp_path):
    path = write(tmp_path / "a.csv", "text,label\nfine,a\nnot fine, really,b\nfine,c\n")
    with pytest.raises(ValueError, match=r"line 3 has 3 fields but the header.*has 2"):
        load_file(path)


def test_ragged_csv_line_counts_multiline_quoted_fields(tmp_path):
    path = write(tmp_path / "a.csv", 'text,label\n"two\nlines",a\nshort\n')
    with pytest.raises(ValueError, match=r"line 4 has 1 fields"):
        load_file(path)


def test_header_only_csv(tmp_path):
    with pytest.raises(ValueError, match=r"no data rows"):
        load_file(write(tmp_path / "a.csv", "text,label\n"))


def test_bad_json_line(tmp_path):
    with pytest.raises(ValueError, match=r"line 2 is not valid JSON"):
        load_file(write(tmp_path / "a.jsonl", '{"text": "ok"}\n{"text": oops}\n'))


def test_json_line_that_is_not_an_object(tmp_path):
    with pytest.raises(ValueError, match=r"line 1 is a JSON list, expected an object"):
        load_file(write(tmp_path / "a.jsonl", '["a", "b"]\n'))


def test_duplicate_ids(tmp_path):
    with pytest.raises(ValueError, match=r"repeats 'x' \(rows 0 and 2\)"):
        load_file(write(tmp_path / "a.csv", "id,text\nx,a\ny,b\nx,c\n"), id_column="id")


def test_npy_object_array_is_refused_not_unpickled(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"holds Python objects.*refused"):
        load_file(tmp_path / "o.npy")
    with pytest.raises(ValueError, match=r"refused"):
        inspect_file(tmp_path / "o.npy")


def test_npy_not_2d(tmp_path):
    np.save(tmp_path / "v.npy", np.ones(5))
    with pytest.raises(ValueError, match=r"2-D array \(n, d\)"):
        load_file(tmp_path / "v.npy")


def test_not_an_npy_file(tmp_path):
    with pytest.raises(ValueError, match=r"not a valid .npy file"):
        load_file(write(tmp_path / "v.npy", b"hello world, not numpy"))


def test_truncated_npy(tmp_path):
    np.save(tmp_path / "v.npy", np.ones((100, 8), dtype=np.float32))
    (tmp_path / "v.npy").write_bytes((tmp_path / "v.npy").read_bytes()[:-100])
    with pytest.raises(ValueError, match=r"cannot read the array of shape \(100, 8\).*truncated"):
        load_file(tmp_path / "v.npy")


def test_nan_vectors_are_counted(tmp_path):
    x = np.ones((5, 2), dtype=np.float32)
    x[1, 0] = np.nan
    x[3, 1] = np.inf
    np.save(tmp_path / "v.npy", x)
    with pytest.raises(ValueError, match=r"2 of 5 rows contain NaN or inf"):
        load_file(tmp_path / "v.npy")


def test_zero_vectors_refused_for_cosine_allowed_for_l2(tmp_path):
    x = np.ones((4, 3), dtype=np.float32)
    x[2] = 0
    np.save(tmp_path / "v.npy", x)
    with pytest.raises(ValueError, match=r"1 of 4 rows are all-zero"):
        load_file(tmp_path / "v.npy")
    assert load_file(tmp_path / "v.npy", metric="l2").n == 4


def test_zero_vectors_refused_for_angular_hdf5(tmp_path):
    path = write_hdf5(tmp_path / "a.hdf5", [[1, 0], [0, 0]], [[1, 1]], distance="angular")
    with pytest.raises(ValueError, match=r"all-zero"):
        load_file(path)


def test_query_dimension_mismatch(tmp_path):
    path = write_hdf5(tmp_path / "a.hdf5", np.ones((4, 3)), np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"queries have 5 dims but the base vectors have 3"):
        load_file(path)


def test_hdf5_without_train(tmp_path):
    with h5py.File(tmp_path / "a.hdf5", "w") as f:
        f.create_dataset("base", data=np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"no 'train' dataset \(found: base\)"):
        load_file(tmp_path / "a.hdf5")


def test_hdf5_unknown_distance(tmp_path):
    path = write_hdf5(tmp_path / "a.hdf5", np.ones((2, 2)), distance="jaccard")
    with pytest.raises(ValueError, match=r"unknown distance 'jaccard'.*angular"):
        load_file(path)


def test_fvecs_size_not_a_multiple_of_the_row(tmp_path):
    path = write_fvecs(tmp_path / "v.fvecs", np.ones((3, 4)))
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(ValueError, match=r"not a multiple of \(d\+1\)\*4 = 20 bytes"):
        load_file(path)


def test_fvecs_mixed_dimensions(tmp_path):
    rows = np.array([[2, 0, 0], [3, 0, 0]], dtype="<i4")  # 12-byte rows, second header says 3
    rows.tofile(tmp_path / "v.fvecs")
    with pytest.raises(ValueError, match=r"row 1 has dimension header 3, expected 2"):
        load_file(tmp_path / "v.fvecs")


def test_unsupported_extension_lists_supported_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unsupported file type \('.xlsx'\).*\.csv, \.tsv"):
        load_file(write(tmp_path / "a.xlsx", b"PK"))
    with pytest.raises(ValueError, match=r"unsupported file type"):
        load_upload(b"data", "sheet.xlsx")
    assert ".parquet" in SUPPORTED_EXTENSIONS


def test_column_options_do_not_apply_to_vectors(tmp_path):
    np.save(tmp_path / "v.npy", np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"text_column only apply to table files"):
        load_file(tmp_path / "v.npy", text_column="text")


def test_bad_metric_and_max_rows(tmp_path):
    path = write(tmp_path / "a.csv", CSV)
    with pytest.raises(ValueError, match=r"metric must be one of cosine, ip, l2"):
        load_file(path, metric="dot")
    with pytest.raises(ValueError, match=r"max_rows must be a positive integer"):
        load_file(path, max_rows=0)


def test_upload_over_the_limit_and_empty_upload():
    with pytest.raises(ValueError, match=r"2.0 MB, over the 1 MB upload limit"):
        check_upload_size(2 * 1024 * 1024, limit_mb=1)
    check_upload_size(1024 * 1024, limit_mb=1)  # exactly at the limit is fine
    with pytest.raises(ValueError, match=r"uploaded file is empty"):
        load_upload(b"", "a.csv")


@pytest.mark.parametrize("missing", ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"])
def test_beir_missing_file_is_named(tmp_path, missing):
    folder = write_beir(tmp_path / "b")
    (folder / missing).unlink()
    with pytest.raises(ValueError, match=f"not a complete BEIR folder: missing {missing}"):
        load_file(folder)


def test_beir_without_usable_qrels(tmp_path):
    folder = write_beir(tmp_path / "b", qrels="query-id\tcorpus-id\tscore\nq1\tnope\t1\n")
    with pytest.raises(ValueError, match=r"no query in qrels/test.tsv has a relevant document"):
        load_file(folder)


def test_beir_bad_score(tmp_path):
    folder = write_beir(tmp_path / "b", qrels="query-id\tcorpus-id\tscore\nq1\td1\thigh\n")
    with pytest.raises(ValueError, match=r"score 'high'; scores must be integers"):
        load_file(folder)
