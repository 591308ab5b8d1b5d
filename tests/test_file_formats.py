"""Arrow/Feather and streamed Parquet vector tables, .npz, big-ann .fbin/.ibin/.u8bin/.i8bin and
VectorDBBench folders: each read back exactly, each bad case named with its rows."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from core.data import arrow_files
from core.data.loading import file_format, inspect_file, load_file


def vectors(n=12, d=6, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def table(x, list_type="list", texts=True):
    n, d = x.shape
    if list_type == "fixed":
        col = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), d)
    elif list_type == "large":
        col = pa.array(x.tolist(), type=pa.large_list(pa.float32()))
    else:
        col = pa.array(x.tolist(), type=pa.list_(pa.float32()))
    columns = {"id": pa.array([f"doc{i}" for i in range(n)]), "embedding": col}
    if texts:
        columns["text"] = pa.array([f"passage <b>{i}</b>" for i in range(n)])
        columns["label"] = pa.array(["even" if i % 2 == 0 else "odd" for i in range(n)])
    return pa.table(columns)


@pytest.mark.parametrize("list_type", ["list", "fixed", "large"])
@pytest.mark.parametrize("suffix", [".parquet", ".arrow", ".feather"])
def test_vector_tables_in_arrow_formats_read_back_exactly(tmp_path, suffix, list_type):
    x = vectors()
    path = tmp_path / f"t{suffix}"
    t = table(x, list_type)
    if suffix == ".parquet":
        pq.write_table(t, path)
    else:
        feather.write_feather(t, path)
    ds = load_file(path, label_column="label", id_column="id")
    assert ds.kind == "vectors" and ds.params["vector_column"] == "embedding"
    np.testing.assert_array_equal(ds.vectors, x)
    assert ds.ids[3] == "doc3" and ds.titles[3] == "passage <b>3</b>" and ds.labels[:2] == ["even", "odd"]
    assert "vectors from file" in ds.description
    info = inspect_file(path)
    assert info.n_rows == 12 and "embedding" in info.columns


def test_arrow_text_table_is_a_text_dataset(tmp_path):
    path = tmp_path / "texts.feather"
    feather.write_feather(pa.table({"text": ["one passage", "", "another"], "label": ["a", "b", "a"]}), path)
    ds = load_file(path, label_column="label")
    assert ds.kind == "text" and ds.texts == ["one passage", "another"] and ds.labels == ["a", "a"]
    assert file_format(path) == "arrow"


def test_parquet_streams_in_batches_and_names_bad_rows_in_later_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(arrow_files, "BATCH_ROWS", 4)
    x = vectors(n=20, d=5)
    rows = x.tolist()
    rows[9] = rows[9][:3]  # wrong length, third batch
    rows[13][2] = float("nan")  # NaN, fourth batch
    rows[17] = [0.0] * 5  # zero, fifth batch
    rows[18] = None  # null
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"embedding": pa.array(rows, type=pa.list_(pa.float32()))}), path, row_group_size=4)
    with pytest.raises(ValueError) as e:
        load_file(path)
    msg = str(e.value)
    assert "1 not a list of numbers (row 19)" in msg
    assert "1 with a length other than 5 (row 10)" in msg
    assert "1 with NaN or inf (row 14)" in msg and "1 all zeros (row 18)" in msg
    # the good prefix loads, in order, across batches
    ds = load_file(path, max_rows=9)
    np.testing.assert_array_equal(ds.vectors, x[:9])


def test_many_bad_rows_are_counted_in_full_and_quoted_in_part(tmp_path, monkeypatch):
    monkeypatch.setattr(arrow_files, "BATCH_ROWS", 3)
    x = vectors(n=30, d=4)
    x[::2] = 0
    path = tmp_path / "zeros.parquet"
    pq.write_table(table(x, texts=False), path)
    with pytest.raises(ValueError, match=r"15 all zeros \(rows 1, 3, 5, 7, 9 …\)"):
        load_file(path)


@pytest.mark.parametrize(
    "column, match",
    [
        (pa.array([["a", "b"], ["c", "d"]], type=pa.list_(pa.string())), "holds lists of string, not numbers"),
        (pa.array([1.0, 2.0]), "of type double, not a list of numbers"),
        (pa.array([[], []], type=pa.list_(pa.float32())), "holds empty vectors"),
        (pa.array([[1.0, 2.0], [1.0, 2.0, 3.0], [4.0, 5.0]], type=pa.list_(pa.float32())),
         r"1 with a length other than 2 \(row 2\)"),
        (pa.array(["[1, 2]", "[3, 4]", "oops"]), r"1 not a list of numbers \(row 3\)"),
    ],
)
def test_bad_vector_columns_in_parquet(tmp_path, column, match):
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"vector": column}), path)
    with pytest.raises(ValueError, match=match):
        load_file(path)


def test_json_strings_in_a_parquet_vector_column_are_read(tmp_path):
    path = tmp_path / "json.parquet"
    pq.write_table(pa.table({"vector": ["[1, 2]", "[3, 4.5]"], "text": ["a", "b"]}), path)
    ds = load_file(path)
    np.testing.assert_array_equal(ds.vectors, [[1, 2], [3, 4.5]])


def test_broken_arrow_file_is_named(tmp_path):
    path = tmp_path / "broken.arrow"
    path.write_bytes(b"ARROW1" + b"\x00" * 40)
    with pytest.raises(ValueError, match=r"broken\.arrow is not a readable Arrow/Feather file"):
        load_file(path)


# ------------------------------------------------------------------------------------------ .npz


def test_npz_picks_the_named_base_with_queries_and_neighbours(tmp_path):
    x, q = vectors(10, 4), vectors(3, 4, seed=1)
    gt = np.array([[0, 1], [2, 3], [4, -1]])
    path = tmp_path / "set.npz"
    np.savez(path, train=x, test=q, neighbors=gt)
    ds = load_file(path)
    np.testing.assert_array_equal(ds.vectors, x)
    np.testing.assert_array_equal(ds.queries.vectors, q)
    assert ds.qrels == {"q0": {"0": 1, "1": 1}, "q1": {"2": 1, "3": 1}, "q2": {"4": 1}}
    assert ds.params["array"] == "train"
    info = inspect_file(path)
    assert info.shape == (10, 4) and info.n_queries == 3


def test_npz_array_chosen_by_name_and_ambiguity_explained(tmp_path):
    a, b = vectors(5, 3), vectors(7, 3, seed=2)
    path = tmp_path / "two.npz"
    np.savez_compressed(path, first=a, second=b)
    with pytest.raises(ValueError, match=r"which array holds the vectors\? It holds: first \(5, 3\)"):
        load_file(path)
    np.testing.assert_array_equal(load_file(path, array="second").vectors, b)
    with pytest.raises(ValueError, match="has no array 'third'"):
        load_file(path, array="third")
    single = tmp_path / "one.npz"
    np.savez(single, whatever=a)
    np.testing.assert_array_equal(load_file(single).vectors, a)


def test_npz_objects_refused_and_queries_checked(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, embeddings=np.array([{"a": 1}, {"b": 2}], dtype=object))
    with pytest.raises(ValueError, match="Python objects"):
        load_file(path)
    path = tmp_path / "dims.npz"
    np.savez(path, embeddings=vectors(5, 4), queries=vectors(2, 3))
    with pytest.raises(ValueError, match="queries have 3 dims but the base vectors have 4"):
        load_file(path)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"not a valid \.npz"):
        load_file(tmp_path / "junk.npz")
    np.save(tmp_path / "plain.npy", vectors(3, 2))
    with pytest.raises(ValueError, match=r"array only applies to \.npz"):
        load_file(tmp_path / "plain.npy", array="x")


# --------------------------------------------------------------------------- big-ann-benchmarks


@pytest.mark.parametrize("fmt, dtype", [("fbin", "<f4"), ("ibin", "<i4"), ("u8bin", "u1"), ("i8bin", "i1")])
def test_bin_formats_read_back(tmp_path, fmt, dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((9, 5)) * 40).astype(dtype) if fmt != "u8bin" else rng.integers(1, 255, (9, 5), "u1")
    path = tmp_path / f"base.{fmt}"
    with open(path, "wb") as f:
        np.array(x.shape, dtype="<u4").tofile(f)
        x.astype(dtype).tofile(f)
    ds = load_file(path, metric="l2")
    np.testing.assert_array_equal(ds.vectors, x.astype(np.float32))
    assert load_file(path, metric="l2", max_rows=4).n == 4
    assert inspect_file(path).shape == (9, 5)


def test_truncated_bin_file_is_named(tmp_path):
    path = tmp_path / "cut.fbin"
    with open(path, "wb") as f:
        np.array([10, 4], dtype="<u4").tofile(f)
        np.zeros(30, dtype="<f4").tofile(f)
    with pytest.raises(ValueError, match=r"header says 10 vectors of dimension 4 \(168 bytes .*has 128 bytes"):
        load_file(path)
    (tmp_path / "tiny.u8bin").write_bytes(b"\x01\x00")
    with pytest.raises(ValueError, match="too short"):
        load_file(tmp_path / "tiny.u8bin")


# ------------------------------------------------------------------------------- VectorDBBench


def vdb_folder(tmp_path, shards=1, n=12, d=4, nq=3, q_dim=None):
    x, q = vectors(n, d), vectors(nq, q_dim or d, seed=5)
    folder = tmp_path / "cohere_small"
    folder.mkdir()
    ids = np.arange(100, 100 + n)
    parts = np.array_split(np.arange(n), shards)
    for s, rows in enumerate(parts):
        name = "train.parquet" if shards == 1 else f"shuffle_train-{s:02d}-of-{shards:02d}.parquet"
        pq.write_table(pa.table({"id": ids[rows], "emb": pa.array(x[rows].tolist(), type=pa.list_(pa.float32()))}),
                       folder / name)
    pq.write_table(pa.table({"id": np.arange(nq), "emb": pa.array(q.tolist(), type=pa.list_(pa.float32()))}),
                   folder / "test.parquet")
    pq.write_table(pa.table({"id": np.arange(nq), "neighbors_id": [[100 + i, 101 + i] for i in range(nq)]}),
                   folder / "neighbors.parquet")
    return folder, x, q


@pytest.mark.parametrize("shards", [1, 3])
def test_vdbbench_folder_gives_base_queries_and_ground_truth(tmp_path, shards):
    folder, x, q = vdb_folder(tmp_path, shards=shards)
    assert file_format(folder) == "vdbbench"
    ds = load_file(folder)
    np.testing.assert_array_equal(ds.vectors, x)
    np.testing.assert_array_equal(ds.queries.vectors, q)
    assert ds.ids[0] == "100" and ds.queries.ids == ["q0", "q1", "q2"]
    assert ds.qrels["q1"] == {"101": 1, "102": 1}
    assert inspect_file(folder).n_queries == 3
    sub = load_file(folder, max_rows=5)
    assert sub.n == 5 and sub.qrels is None and "neighbors_dropped" in sub.params


def test_vdbbench_mismatched_query_dimension(tmp_path):
    folder, _, _ = vdb_folder(tmp_path, q_dim=5)
    with pytest.raises(ValueError, match="5-dim queries but the base has 4 dims"):
        load_file(folder)


def test_vdbbench_unknown_neighbour_id(tmp_path):
    folder, _, _ = vdb_folder(tmp_path)
    pq.write_table(pa.table({"id": [0], "neighbors_id": [[999]]}), folder / "neighbors.parquet")
    with pytest.raises(ValueError, match="names base id '999', which no train file has"):
        load_file(folder)
