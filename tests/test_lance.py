"""Lance tables (issue 20): a ``*.lance`` folder is read in record batches like Parquet (vector column, text,
label, id), a LanceDB database folder with one table opens it, with several the message lists them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

lance = pytest.importorskip("lance")


def table(n=60, d=8, seed=0):
    import pyarrow as pa

    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return pa.table({"doc_id": [f"d{i}" for i in range(n)],
                     "vector": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), d),
                     "text": [f"passage {i}" for i in range(n)], "topic": [f"t{i % 4}" for i in range(n)]})


def test_a_lance_table_reads_like_its_parquet_twin(tmp_path):
    import pyarrow.parquet as pq

    from core.data.loading import inspect_file, load_file

    t = table()
    lance.write_dataset(t, str(tmp_path / "db" / "docs.lance"))
    pq.write_table(t, tmp_path / "twin.parquet")
    a, b = load_file(tmp_path / "db" / "docs.lance"), load_file(tmp_path / "twin.parquet")
    assert a.kind == "vectors" and np.array_equal(a.vectors, b.vectors)
    assert a.ids == b.ids == [f"d{i}" for i in range(60)] and a.labels == b.labels and a.titles == b.titles
    info = inspect_file(tmp_path / "db" / "docs.lance")
    assert info.format == "lance" and info.n_rows == 60 and info.vector_column == "vector"
    # a LanceDB database folder holding one table opens that table; with two it says which to pick
    assert load_file(tmp_path / "db").n == 60
    lance.write_dataset(table(10, seed=1), str(tmp_path / "db" / "other.lance"))
    with pytest.raises(ValueError, match=r"LanceDB database with 2 tables \(docs.lance, other.lance\)"):
        load_file(tmp_path / "db")
    assert load_file(tmp_path / "db" / "other.lance", max_rows=5).n == 5


def test_a_zipped_lance_table_uploads(tmp_path, fresh_home):
    import shutil

    from core.data.uploads import load_user_dataset, save_upload

    lance.write_dataset(table(), str(tmp_path / "docs.lance"))
    archive = shutil.make_archive(str(tmp_path / "docs"), "zip", tmp_path, "docs.lance")
    name = save_upload(Path(archive).read_bytes(), "docs.zip")
    ds = load_user_dataset(name)
    assert ds.n == 60 and ds.kind == "vectors" and ds.labels[:2] == ["t0", "t1"]
