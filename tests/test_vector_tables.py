"""Tables with a vector column: the vectors are used as given, the texts and labels feed every page."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.data.loading import load_file


def frame(n: int = 12, d: int = 4, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "id": [f"doc{i}" for i in range(n)],
        "text": [f"passage number {i} about <b>things</b>" for i in range(n)],
        "topic": [f"t{i % 3}" for i in range(n)],
        "embedding": [rng.standard_normal(d).round(4).tolist() for _ in range(n)],
    })


def write(df: pd.DataFrame, path, fmt: str):
    if fmt == "parquet":
        df.to_parquet(path)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in df.to_dict("records")))
    else:  # csv: one JSON array per cell
        df.assign(embedding=[json.dumps(v) for v in df["embedding"]]).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv"])
def test_a_vector_column_is_found_and_used_as_given_with_texts_and_labels(tmp_path, fmt):
    df = frame()
    ds = load_file(write(df, tmp_path / f"emb.{fmt}", fmt), label_column="topic", id_column="id")
    assert ds.kind == "vectors" and ds.vectors.shape == (12, 4) and ds.texts is None
    np.testing.assert_allclose(ds.vectors, np.array(df["embedding"].tolist(), dtype=np.float32))
    assert ds.titles[3] == "passage number 3 about <b>things</b>" and ds.labels[:3] == ["t0", "t1", "t2"]
    assert ds.ids[0] == "doc0" and "vectors from file" in ds.description
    assert ds.display_text(3) == "passage number 3 about <b>things</b>"


def test_an_explicit_vector_column_and_a_missing_one(tmp_path):
    df = frame().rename(columns={"embedding": "v"})
    path = write(df, tmp_path / "emb.parquet", "parquet")
    assert load_file(path).kind == "text"  # "v" is not a vector name: a text table, encoded later
    assert load_file(path, vector_column="v").kind == "vectors"
    with pytest.raises(ValueError, match="vector column 'nope' not found"):
        load_file(path, vector_column="nope")


def test_bad_vectors_are_counted_with_their_rows_and_nothing_is_loaded(tmp_path):
    df = frame()
    df.at[2, "embedding"] = [1.0, 2.0, 3.0]  # wrong length
    df.at[5, "embedding"] = [float("nan"), 0.0, 1.0, 2.0]
    df.at[7, "embedding"] = [0.0, 0.0, 0.0, 0.0]
    df.at[8, "embedding"] = [0.0, 0.0, 0.0, 0.0]
    path = write(df, tmp_path / "bad.jsonl", "jsonl")
    with pytest.raises(ValueError) as err:
        load_file(path)
    message = str(err.value)
    assert "1 with a length other than 4 (row 3)" in message
    assert "1 with NaN or inf (row 6)" in message and "2 all zeros (rows 8, 9)" in message
    assert "nothing was loaded" in message


def test_cells_that_are_not_vectors_are_named(tmp_path):
    df = frame().astype({"embedding": object})
    df.at[4, "embedding"] = "not a vector"
    path = write(df, tmp_path / "odd.csv", "csv")
    with pytest.raises(ValueError, match=r"1 not a list of numbers \(row 5\)"):
        load_file(path)


def test_the_cli_takes_a_vector_table(tmp_path, fresh_home, capsys):
    from core.cli.main import main

    path = write(frame(n=60, d=8), tmp_path / "emb.parquet", "parquet")
    assert main(["id", "--path", str(path), "--k", "5"]) == 0
    assert main(["encode", "--path", str(path)]) == 0
    assert "vector dataset, 60 x 8 used as given" in capsys.readouterr().out


def test_a_fixed_size_list_column_is_read_too(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = pa.array(np.arange(12, dtype=np.float32) + 1)
    pq.write_table(pa.table({"text": ["a", "b", "c"], "embedding": pa.FixedSizeListArray.from_arrays(values, 4)}),
                   tmp_path / "fsl.parquet")
    ds = load_file(tmp_path / "fsl.parquet")
    assert ds.vectors.shape == (3, 4) and ds.titles == ["a", "b", "c"]
    assert ds.vectors[2].tolist() == [9.0, 10.0, 11.0, 12.0]
