"""Exported indexes: the written `search.py`, run in a subprocess on the evaluation queries, gets the
recall of the sweep row it came from; the manifest says what the files are and where they came from."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from core.analysis.sweep import Config
from core.cli.main import main
from core.experiments.compression import size_versus_float32, sweep_for_workspace
from core.experiments.export import config_from_row, export_configuration, zip_folder
from core.index.metrics import recall_at_k
from core.store.runs import RunStore
from core.workspace import Workspace

PARAMS = {"n": 1500, "dim": 32, "intrinsic_dim": 8, "noise": 0.01, "n_clusters": 4, "seed": 0}
CLI_DATA = ["--dataset", "synthetic", *[a for key, v in PARAMS.items() for a in ("--param", f"{key}={v}")]]
K, NQ = 10, 60


@pytest.fixture
def ws(fresh_home):
    return Workspace.open("synthetic", dataset_params=PARAMS)


def snippet_recall(ws, folder, tmp_path) -> float:
    """Run the export's search.py on the evaluation queries in a fresh interpreter; recall@K of what it returns."""
    ev = ws.eval_set(NQ, 0)
    _, gt = ws.ground_truth(ev, K)
    np.save(tmp_path / "q.npy", ev.xq)
    out = tmp_path / "I.npy"
    res = subprocess.run([sys.executable, str(folder / "search.py"), str(tmp_path / "q.npy"), str(K), str(out)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return recall_at_k(np.load(out), gt, K)


CASES = [
    ("hnsw_flat", {"M": [16]}, "hnsw_flat M=16 ef_construction=40 ef_search=16"),
    ("ivf_pq", {"nlist": [16], "m": [8], "nprobe": [4]}, "ivf_pq nlist=16 m=8 nprobe=4"),
    ("binary", {"center": [True], "rerank": [50]}, "binary center=True rerank=50"),
    ("bebr", {"bits": [2], "center": [True]}, "bebr bits=2 center=True"),
    ("pca", {"d_out": [8], "codec": ["sq8"], "rerank": [30]}, "pca d_out=8 codec=sq8 rerank=30"),
    ("leanvec_ood", {"d_out": [8], "codec": ["flat"], "rerank": [0]}, "leanvec_ood d_out=8 codec=flat rerank=0"),
]


@pytest.mark.parametrize("method, grid, label", CASES, ids=[c[0] for c in CASES])
def test_exported_snippet_gets_the_sweep_rows_recall(ws, tmp_path, method, grid, label):
    rows = pd.DataFrame(list(sweep_for_workspace(ws, methods=[method], overrides={method: grid}, k=K, n_queries=NQ,
                                                 latency_queries=5, threads=1)))
    row = rows[rows["label"] == label].iloc[0].to_dict()
    assert row["status"] == "ok", row["reason"]
    folder = tmp_path / "export"
    result = export_configuration(ws, config_from_row(row), folder, k=K, n_queries=NQ, seed=0, threads=1,
                                  row_recall=row["recall_at_k"])
    assert result.recall == pytest.approx(row["recall_at_k"], abs=1e-12)
    assert snippet_recall(ws, folder, tmp_path) == pytest.approx(row["recall_at_k"], abs=1e-12)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["label"] == label and manifest["dataset_fingerprint"] == ws.dataset.fingerprint()
    assert manifest["environment"]["packages"]["numpy"] and manifest["evaluation"]["seed"] == 0
    assert manifest["n"] == len(json.loads((folder / "ids.json").read_text())) == 1500 - NQ
    assert "the held-out queries are not in the index" in manifest["rows"]
    for name, info in manifest["files"].items():
        assert (folder / name).stat().st_size == info["bytes"]
    assert "(the sweep row: the same)" in result.sentence()


def test_export_ids_are_dataset_ids_and_the_zip_holds_every_file(ws, tmp_path):
    folder = tmp_path / "flat"
    result = export_configuration(ws, Config.make("flat"), folder, k=K, n_queries=NQ)
    ev = ws.eval_set(NQ, 0)
    ids = json.loads((folder / "ids.json").read_text())
    assert ids == [ws.dataset.ids[int(r)] for r in ev.base_rows]
    assert result.recall == 1.0
    import io
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(zip_folder(folder))).namelist()
    assert sorted(names) == sorted(f"flat/{p.name}" for p in folder.iterdir())
    assert set(result.manifest["files"]) == {"index.faiss", "ids.json", "search.py"}


def test_config_from_row_reads_stored_types():
    row = {"method": "ivf_pq", "nlist": 16.0, "m": 8.0, "nprobe": np.int64(4)}
    cfg = config_from_row(row)
    assert cfg.build_params == {"nlist": 16, "m": 8} and cfg.search_params == {"nprobe": 4}
    assert config_from_row({"method": "binary", "center": 1.0, "rerank": 0.0}).build_params == {"center": True}
    with pytest.raises(ValueError, match="nlist is missing"):
        config_from_row({"method": "ivf_flat", "nlist": float("nan"), "nprobe": 4})
    with pytest.raises(ValueError, match="unknown method"):
        config_from_row({"method": "nope"})


def test_size_versus_float32_says_larger_when_it_is():
    assert size_versus_float32(4.0) == "4.0× smaller than float32"
    assert size_versus_float32(1 / 1.6) == "1.6× larger than float32"
    assert size_versus_float32(1.0) == "about the size of float32"


def test_cli_sweep_export_and_export_index_from_a_run(fresh_home, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    label = "ivf_flat nlist=16 nprobe=4"
    args = ["sweep", *CLI_DATA, "--methods", "ivf_flat", "--grid", "ivf_flat.nlist=16", "--grid",
            "ivf_flat.nprobe=4", "--queries", str(NQ), "--threads", "1"]
    assert main([*args, "--export", "ivf_flat nlist=99 nprobe=4"]) == 2
    assert "is not in this sweep's plan; its labels: 'ivf_flat nlist=16 nprobe=4'" in capsys.readouterr().err
    assert main([*args, "--export", label, "--export-dir", "mine"]) == 0
    out = capsys.readouterr().out
    assert "Exported IVF-Flat (IVF16,Flat) for 1,440 vectors" in out and "(the sweep row: the same)" in out
    assert (tmp_path / "mine" / "index.faiss").exists()
    assert main([*args, "--export", label, "--export-dir", "mine"]) == 2
    assert "mine exists and is not an empty folder" in capsys.readouterr().err
    run_id = RunStore().list_runs(kind="sweep")[0].id
    assert main(["export-index", *CLI_DATA, "--run", str(run_id), "--label", label, "--out", "again"]) == 0
    assert "(the sweep row: the same)" in capsys.readouterr().out
    assert main(["export-index", *CLI_DATA, "--method", "sq", "--set", "qtype=int4", "--out", "sq4"]) == 0
    manifest = json.loads((tmp_path / "sq4" / "manifest.json").read_text())
    assert manifest["factory"] == "SQ4" and manifest["build_params"] == {"qtype": "int4"}
    assert main(["export-index", *CLI_DATA]) == 2


def test_saved_runs_carry_a_manifest_printed_by_runs_show(ws, capsys):
    from core.experiments.intrinsic import estimate_id

    store = RunStore()
    with store.recording("sweep", ws.dataset.name, ws.encoder_name, {"seed": 3}) as rec:
        list(sweep_for_workspace(ws, methods=["flat"], k=K, n_queries=NQ, latency_queries=5, recorder=rec, seed=3))
    with store.recording("id", ws.dataset.name, ws.encoder_name, {"k": 10}) as rec_id:
        estimate_id(ws, 10, recorder=rec_id)
    for run_id in (rec.run_id, rec_id.run_id):
        m = store.get_run(run_id).manifest()
        assert m["dataset_fingerprint"] == ws.dataset.fingerprint()
        assert m["encoder_config"] == ws.encoder_config() and m["environment"]["packages"]["faiss-cpu"]
        assert m["provenance"]["dataset_params"]["n"] == 1500
    assert store.get_run(rec.run_id).manifest()["seeds"] == {"seed": 3}
    assert main(["runs", "show", str(rec.run_id), "--manifest"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["run"] == rec.run_id and printed["kind"] == "sweep" and printed["status"] == "done"
    assert main(["runs", "list", "--manifest"]) == 2


def test_smallest_near_best_is_the_default_export_without_a_budget_answer():
    from core.experiments.compression import smallest_near_best

    rows = pd.DataFrame({"label": ["flat", "sq8", "sq4", "pq", "broken"], "status": ["ok"] * 4 + ["failed"],
                         "recall_at_k": [1.0, 0.995, 0.95, 0.99, float("nan")],
                         "bytes_per_vector": [1536.0, 384.0, 192.0, 384.0, 8.0]})
    assert smallest_near_best(rows)["label"] == "sq8"  # 0.995 and 0.99 tie on size: the higher recall
    assert smallest_near_best(rows, within=0.06)["label"] == "sq4"
    assert smallest_near_best(rows[rows["status"] != "ok"]) is None
