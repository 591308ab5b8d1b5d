"""Label and id columns found by name (issue 20): text tables and vector tables, CSV, JSONL and Parquet, on the
command line and in the loader; an explicit column or ``none`` overrides; a guessed id column that repeats is
not taken."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.data.loading import load_file
from core.data.table_files import NO_COLUMN

ROOT = Path(__file__).resolve().parents[1]
ROWS = [{"doc_id": f"d{i}", "body": f"note {i} about topic {i % 3}", "topic": f"t{i % 3}"} for i in range(12)]


def write(tmp_path: Path, fmt: str, rows=ROWS, vectors: bool = False) -> Path:
    rows = [dict(r, embedding=[float(i), 1.0, 0.5]) if vectors else dict(r) for i, r in enumerate(rows)]
    path = tmp_path / f"table.{fmt}"
    if fmt == "csv":
        import csv

        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            for r in rows:
                w.writerow({k: json.dumps(v) if isinstance(v, list) else v for k, v in r.items()})
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("vectors", [False, True], ids=["texts", "vectors"])
def test_label_and_id_columns_are_found_by_name(tmp_path, fmt, vectors):
    ds = load_file(write(tmp_path, fmt, vectors=vectors))
    assert ds.kind == ("vectors" if vectors else "text")
    assert ds.labels == [f"t{i % 3}" for i in range(12)] and ds.ids == [f"d{i}" for i in range(12)]
    assert ds.params["columns_found_by_name"] == "label column 'topic', id column 'doc_id'"
    assert "found by name" in ds.description
    plain = load_file(write(tmp_path, fmt, vectors=vectors), label_column=NO_COLUMN, id_column=NO_COLUMN)
    assert plain.labels is None and plain.ids == [str(i) for i in range(12)]


def test_a_guessed_id_column_that_repeats_is_not_taken(tmp_path):
    rows = [dict(r, doc_id="same") for r in ROWS]
    ds = load_file(write(tmp_path, "csv", rows))
    assert ds.ids == [str(i) for i in range(12)] and ds.labels is not None


def test_the_command_line_finds_them_and_none_overrides(tmp_path, fresh_home):
    import pandas as pd

    path = write(tmp_path, "csv")
    env = {**os.environ, "DENSESCOPE_HOME": str(fresh_home)}

    def mapped(*extra) -> pd.DataFrame:
        out = tmp_path / f"map{len(extra)}.csv"
        done = subprocess.run([sys.executable, "-m", "core", "map", "--path", str(path), "--encoder", "tfidf-svd",
                               "--method", "pca", "--out", str(out), *extra], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-1500:]
        return pd.read_csv(out, keep_default_na=False)

    found = mapped()
    assert list(found["id"]) == [f"d{i}" for i in range(12)]
    assert list(found["label"]) == [f"t{i % 3}" for i in range(12)]
    plain = mapped("--label-column", "none", "--id-column", "none")
    assert list(plain["id"].astype(str)) == [str(i) for i in range(12)] and set(plain["label"]) <= {""}
