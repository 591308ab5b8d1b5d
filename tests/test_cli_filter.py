"""``densescope filter`` on planted vector files (see tests/test_relevance_filter.py): output, --out, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_relevance_filter import N_ITEMS, planted_scores

from core.cli.main import main
from core.store.runs import RunStore


def planted_files(tmp_path) -> list[str]:
    """Base (one-hot rows, metric ip), query vectors (each its row of planted scores) and TREC qrels."""
    scores, relevant = planted_scores()
    np.save(tmp_path / "base.npy", np.eye(N_ITEMS, dtype=np.float32))
    np.save(tmp_path / "queries.npy", scores.astype(np.float32))
    lines = [f"q{i} 0 {j} 1" for i in range(len(scores)) for j in np.flatnonzero(relevant[i])]
    (tmp_path / "qrels.txt").write_text("\n".join(lines) + "\n")
    return ["--path", str(tmp_path / "base.npy"), "--metric", "ip", "--query-file", str(tmp_path / "queries.npy"),
            "--qrels", str(tmp_path / "qrels.txt")]


def test_filter_prints_the_three_methods_and_writes_the_curves(fresh_home, tmp_path, capsys):
    out = tmp_path / "curves.json"
    assert main(["filter", *planted_files(tmp_path), "--depth", str(N_ITEMS), "--max-k", "5",
                 "--out", str(out)]) == 0
    text, err = capsys.readouterr()
    assert "30 training queries" in text and "30 held-out queries" in text
    best = {" ".join(line.split()[:-4]): line.split()[-4:-1] for line in text.split("\n\n")[1].splitlines()[2:]}
    assert best["mapped threshold"] == ["1.000", "1.000", "1.000"]  # best F1, precision, recall
    assert float(best["raw cut-off"][0]) < 0.9 and float(best["top-k"][0]) < 0.9
    assert "relevance filtering on base" in err  # the progress bar
    rows = json.loads(out.read_text())
    assert {r["method"] for r in rows} == {"mapped threshold", "raw cut-off", "top-k"}
    assert [r["k"] for r in rows if r["method"] == "top-k"] == [1, 2, 3, 4, 5]
    assert max(r["f1"] for r in rows if r["method"] == "mapped threshold") == pytest.approx(1.0)
    (run,) = RunStore().list_runs()
    assert run.kind == "filter" and run.status == "done" and run.n_rows == len(rows)


@pytest.mark.parametrize(
    ("extra", "phrase"),
    [(["--test-size", "1.5"], "--test-size must be between 0 and 1"), (["--depth", "1"], "--depth must be at least 2")],
)
def test_bad_settings_exit_2_with_one_line(fresh_home, tmp_path, capsys, extra, phrase):
    assert main(["filter", *planted_files(tmp_path), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and phrase in err


def test_a_dataset_without_judgments_is_refused_with_the_reason(fresh_home, tmp_path, capsys):
    np.save(tmp_path / "base.npy", np.eye(8, dtype=np.float32))
    assert main(["filter", "--path", str(tmp_path / "base.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert "relevance filtering is not available on base" in err and "relevance judgments" in err and "\n" not in err
