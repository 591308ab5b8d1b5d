"""Bare vectors with a separate labels file (issue 20): one column or id,label; on the command line and as an
upload attachment; a length mismatch is one clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.data.judgments import attach_labels, read_labels
from core.data.loading import load_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def vectors(tmp_path):
    path = tmp_path / "base.npy"
    np.save(path, np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32))
    return path


def test_one_column_and_id_label_files(tmp_path, vectors):
    ds = load_file(vectors)
    one = tmp_path / "labels.txt"
    one.write_text("label\na\nb\na\nc\nb\na\n")
    assert attach_labels(ds, *read_labels(one)).labels == ["a", "b", "a", "c", "b", "a"]
    two = tmp_path / "labels.csv"
    two.write_text("id,label\n" + "".join(f"{i},k{5 - i}\n" for i in reversed(range(6))))  # any order, by id
    assert attach_labels(ds, *read_labels(two)).labels == [f"k{5 - i}" for i in range(6)]


def test_a_mismatch_is_one_clear_message(tmp_path, vectors):
    ds = load_file(vectors)
    short = tmp_path / "short.txt"
    short.write_text("a\nb\n")
    with pytest.raises(ValueError, match=r"has 2 labels but .* has 6 items"):
        attach_labels(ds, *read_labels(short), filename=short.name)
    partial = tmp_path / "partial.csv"
    partial.write_text("0,a\n1,b\n")
    with pytest.raises(ValueError, match="no label for 4 of 6 items"):
        attach_labels(ds, *read_labels(partial))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("0,a\n1,b,c\n")
    with pytest.raises(ValueError, match="line 2 has 3 fields"):
        read_labels(ragged)


def test_labels_on_the_command_line_and_with_an_upload(tmp_path, vectors, fresh_home):
    from core.data.uploads import load_user_dataset, save_upload

    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\na\nc\nb\na\n")
    out = tmp_path / "map.csv"
    env = {**os.environ, "DENSESCOPE_HOME": str(fresh_home)}
    done = subprocess.run([sys.executable, "-m", "core", "map", "--path", str(vectors), "--labels", str(labels),
                           "--method", "pca", "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-1500:]
    import pandas as pd

    assert list(pd.read_csv(out)["label"]) == ["a", "b", "a", "c", "b", "a"]
    bad = tmp_path / "bad.txt"
    bad.write_text("a\n")
    done = subprocess.run([sys.executable, "-m", "core", "map", "--path", str(vectors), "--labels", str(bad),
                           "--method", "pca", "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2 and "has 1 labels but" in done.stderr and "Traceback" not in done.stderr
    name = save_upload(vectors.read_bytes(), "base.npy", {}, {"labels": (labels.read_bytes(), "labels.txt")})
    assert load_user_dataset(name).labels == ["a", "b", "a", "c", "b", "a"]
    with pytest.raises(ValueError, match="has 1 labels"):
        save_upload(vectors.read_bytes(), "base.npy", {}, {"labels": (bad.read_bytes(), "bad.txt")})
