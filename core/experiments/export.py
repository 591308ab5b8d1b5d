"""Take the chosen index home: rebuild one sweep configuration on the workspace's evaluation base and
write it with `core.index.export.write_export` (index or parts, ``ids.json``, ``manifest.json``,
``search.py``), its recall measured again on the same queries and ground truth.

The export is built on the same base the sweep measured (with held-out queries removed when the
dataset has none), with the same seed, so its recall is the row's: exactly, except where a build
is not deterministic (faiss HNSW built on several threads), which the manifest says.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from core.analysis.sweep import Config, eval_data, limit_threads
from core.env import environment_info
from core.experiments.compression import training_judgments
from core.index.export import write_export
from core.index.metrics import recall_at_k
from core.index.registry import build, get_method, search
from core.progress import ProgressFn, report


@dataclass
class ExportResult:
    folder: Path
    manifest: dict
    recall: float
    row_recall: float | None
    seconds: float

    def sentence(self) -> str:
        m = self.manifest
        size = sum(f["bytes"] for f in m["files"].values())
        same = ""
        if self.row_recall is not None:
            same = (" (the sweep row: the same)" if abs(self.recall - self.row_recall) < 1e-9
                    else f" (the sweep row: {self.row_recall:.4f}; {m.get('determinism', 'rebuilt')})")
        return (f"Exported {m['method_name']} ({m['factory']}) for {m['n']:,} vectors: {len(m['files']) + 1} files "
                "with the manifest, "
                f"{size / 2**20:.1f} MiB; recall@{m['k']} of this build {self.recall:.4f}{same}.")


def _as_param(value: object, param) -> object:
    """A value read back from a stored row (JSON, pandas) as the type the parameter takes."""
    if param.choices is not None:
        for choice in param.choices:
            if value == choice or str(value) == str(choice):
                return choice
        raise ValueError(f"{param.name}={value!r} is not one of {param.choices}")
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        raise ValueError(f"{param.name} is missing from the row")
    if float(value) != int(float(value)):
        raise ValueError(f"{param.name}={value!r} is not an integer")
    return int(float(value))


def config_from_row(row: Mapping) -> Config:
    """The `Config` a sweep row was measured with (its method and parameter columns)."""
    method = str(row.get("method", ""))
    spec = get_method(method)
    b = {p.name: _as_param(row.get(p.name), p) for p in spec.build_params}
    s = {p.name: _as_param(row.get(p.name), p) for p in spec.search_params}
    return Config.make(method, b, s)


def find_row(rows, label: str) -> dict:
    """The row of a sweep (a DataFrame) whose label is ``label``; ValueError listing the labels otherwise."""
    hits = rows[rows["label"] == label]
    if hits.empty:
        shown = ", ".join(f"'{v}'" for v in rows["label"].head(8))
        raise ValueError(f"no configuration labelled {label!r} in this sweep; labels look like: {shown}")
    return hits.iloc[0].to_dict()


def export_configuration(
    ws,
    cfg: Config,
    folder: str | Path,
    *,
    k: int = 10,
    n_queries: int | None = None,
    seed: int = 0,
    threads: int | None = None,
    row_recall: float | None = None,
    run_id: int | None = None,
    progress: ProgressFn | None = None,
) -> ExportResult:
    """Build ``cfg`` on the workspace's evaluation base, measure its recall@k, write the export.

    ``n_queries``/``seed`` choose the evaluation split exactly as the sweep did (pass the run's);
    ``row_recall`` (the sweep row's recall) is compared with the rebuilt index's.
    """
    t0 = time.perf_counter()
    report(progress, 0, 3, "evaluation split and exact ground truth")
    ev = ws.eval_set(n_queries, seed, progress=progress)
    _, gt_I = ws.ground_truth(ev, k, progress=progress)
    data = eval_data(ev.xb, ev.xq, gt_I, ws.metric, k, None, seed, None, 1, None)
    report(progress, 1, 3, f"building {cfg.label}")
    with limit_threads(threads):
        used_threads = faiss.omp_get_max_threads()
        judged = training_judgments(ws, ev) if get_method(cfg.method).needs_judgments else None
        built = build(cfg.method, ev.xb, ws.metric, cfg.build_params, seed=seed, xq_train=data.xq_train,
                      judged=judged, progress=lambda _step, _steps, message="": report(progress, 1, 3, message))
        _, I = search(built, ev.xq, k, cfg.search_params)
    recall = recall_at_k(I, gt_I, k)
    report(progress, 2, 3, "writing the files")
    ds = ws.dataset
    graph = cfg.method.startswith("hnsw")
    manifest = {
        "label": cfg.label,
        "recall_at_k": recall,
        "sweep_row_recall_at_k": row_recall,
        "sweep_run": run_id,
        "determinism": ("faiss HNSW built on several threads is not deterministic: a rebuild can differ slightly"
                        if graph and used_threads > 1 else "deterministic rebuild (same data, seed and settings)"),
        "evaluation": {"queries": ev.source, "n_queries": len(ev.query_ids), "seed": seed, "k": k},
        **ws_manifest(ws),
        "rows": "index row i is the dataset item ids.json[i]"
                + (" (the held-out queries are not in the index)" if ev.query_rows is not None else ""),
    }
    ids = [ds.ids[int(r)] for r in ev.base_rows]
    out = write_export(folder, built, cfg.search_params, k, ids, manifest)
    report(progress, 3, 3, "export written")
    return ExportResult(Path(folder), out, recall, row_recall, time.perf_counter() - t0)


def ws_manifest(ws) -> dict:
    """Provenance of anything computed from a workspace: dataset fingerprint, encoder, versions."""
    return {**ws.provenance(), "environment": environment_info()}


def search_snippet_of(folder: str | Path) -> str:
    """The `search.py` an export wrote (to show beside the download)."""
    return (Path(folder) / "search.py").read_text(encoding="utf-8")


def zip_folder(folder: str | Path) -> bytes:
    """The folder's files as one .zip (for a download button)."""
    folder = Path(folder)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.iterdir()):
            if p.is_file():
                z.write(p, f"{folder.name}/{p.name}")
    return buf.getvalue()
