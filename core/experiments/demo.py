"""The demo's saved results: what `densescope prepare` computes once so every page opens on a result.

For the demo workspace (stdlib-docs encoded with MiniLM): the 2-D UMAP map, the intrinsic-dimension
estimates, the default insertion-order study and the quick compression sweep, each saved as a run
(the map as a cached projection), and the recall-against-intrinsic-dimension study on synthetic
data; the two measurements only the papers page reads (`core.experiments.evidence`: a global score cut-off
over the judged queries, the space's isotropy). A step whose result is already there is skipped, so a second
`prepare` costs nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from core.progress import ProgressFn

#: (name, what it computes) in the order `prepare_demo` runs them.
STEPS = (
    ("map", "UMAP 2-D map"),
    ("id", "intrinsic-dimension estimates"),
    ("order", "default HNSW insertion-order study"),
    ("sweep", "quick compression sweep"),
    ("vs_id", "recall against intrinsic dimension (synthetic)"),
    ("spaces", "the encoder against TF-IDF + SVD (Compare spaces)"),
    ("cutoff", "one global score cut-off over the judged queries (papers page)"),
    ("geometry", "how isotropic the space is (papers page)"),
    ("query", "the Query page's example query and the dataset's queries, encoded"),
)


def _map(ws, progress: ProgressFn | None) -> str:
    from core.analysis.projection import project

    proj = project(ws, "umap", 2, progress=progress)
    return "cached" if proj.cached else f"{proj.seconds:.0f} s"


def _id(ws, progress: ProgressFn | None) -> str:
    from core.experiments.intrinsic import DEFAULT_LB_K, DEFAULT_LID_K, estimate_id
    from core.store.runs import RunStore

    store = RunStore()
    for run in store.list_runs(kind="id", dataset=ws.dataset.name):
        if run.params.get("embeddings_key") == ws.embeddings_key and run.status == "done":
            return f"run #{run.id} already saved"
    params = {"k": DEFAULT_LID_K, "lb_k": DEFAULT_LB_K, "pca_threshold": 0.99, "embeddings_key": ws.embeddings_key,
              "dataset_params": dict(ws.dataset.params)}
    with store.recording("id", ws.dataset.name, ws.encoder_name, params) as rec:
        estimate_id(ws, DEFAULT_LID_K, pca_threshold=0.99, progress=progress, recorder=rec)
    return f"run #{rec.run_id}"


def _order(ws, progress: ProgressFn | None) -> str:
    from core.experiments.insertion_order import (
        OrderStudyParams,
        latest_order_run,
        order_run_params,
        order_study_for_workspace,
        prepare_order_study,
    )
    from core.store.runs import RunStore

    latest = latest_order_run(ws)
    if latest is not None:
        return f"run #{latest.id} already saved"
    params = OrderStudyParams()
    inputs = prepare_order_study(ws, params, progress=progress)
    with RunStore().recording("order", ws.dataset.name, ws.encoder_name, order_run_params(ws, params, inputs)) as rec:
        for _ in order_study_for_workspace(ws, params, progress, rec, inputs=inputs):
            pass
    return f"run #{rec.run_id}"


def _sweep(ws, progress: ProgressFn | None) -> str:
    from core.experiments.compression import latest_sweep_run, plan_sweep, sweep_for_workspace, sweep_run_params
    from core.store.runs import RunStore

    latest = latest_sweep_run(ws)
    if latest is not None:
        return f"run #{latest.id} already saved"
    plan = plan_sweep(ws, preset="quick")
    with RunStore().recording("sweep", ws.dataset.name, ws.encoder_name, sweep_run_params(ws, plan)) as rec:
        for _ in sweep_for_workspace(ws, plan=plan, progress=progress, recorder=rec):
            pass
    return f"run #{rec.run_id}"


def _vs_id(ws, progress: ProgressFn | None) -> str:
    from core.experiments.recall_vs_id import VS_ID_KIND, RecallVsIDParams, latest_vs_id_run, recall_vs_id_study
    from core.store.runs import RunStore

    latest = latest_vs_id_run()
    if latest is not None:
        return f"run #{latest.id} already saved"
    params = RecallVsIDParams()
    with RunStore().recording(VS_ID_KIND, "synthetic", "given-vectors", params.as_dict()) as rec:
        for _ in recall_vs_id_study(params, progress, rec):
            pass
    return f"run #{rec.run_id}"


def dataset_params(dataset) -> dict:
    """The parameters the dataset was asked for (its ``params`` also hold facts of the build)."""
    from core.data.builtin import dataset_info

    try:
        known = dataset_info(dataset.name).params
    except ValueError:  # an upload: a sample size and seed
        known = {"limit": None, "seed": 0}
    return {k: v for k, v in dataset.params.items() if k in known and v is not None}


def _spaces(ws, progress: ProgressFn | None) -> str:
    from core.experiments.spaces import KIND, compare_run_params, compare_spaces
    from core.store.runs import RunStore

    store = RunStore()
    other = "tfidf-svd" if ws.encoder_name != "tfidf-svd" else "glove-avg"
    params = dataset_params(ws.dataset)
    for run in store.list_runs(kind=KIND, dataset=ws.dataset.name):
        if run.params.get("space_b") == other and run.status == "done":
            # the page opens on the comparison itself: make sure it is in the cache (instant when it is)
            compare_spaces(ws.dataset.name, ws.encoder_name, other, k=10, dataset_params=params, progress=progress)
            return f"run #{run.id} already saved"
    with store.recording(KIND, ws.dataset.name, f"{ws.encoder_name} vs {other}",
                         compare_run_params(ws.dataset.name, ws.encoder_name, other, 10, params)) as rec:
        compare_spaces(ws.dataset.name, ws.encoder_name, other, k=10, dataset_params=params, progress=progress,
                       recorder=rec)
    return f"run #{rec.run_id}"


def _evidence(kind: str, compute: Callable):
    """A step saving one `core.experiments.evidence` run of ``kind`` (skipped when the workspace has one)."""

    def run(ws, progress: ProgressFn | None) -> str:
        from core.experiments.evidence import evidence_params, latest_evidence_run
        from core.store.runs import RunStore

        latest = latest_evidence_run(ws, kind)
        if latest is not None:
            return f"run #{latest.id} already saved"
        with RunStore().recording(kind, ws.dataset.name, ws.encoder_name, evidence_params(ws)) as rec:
            rows = compute(ws, progress=progress, recorder=rec)
        return f"run #{rec.run_id}" + ("" if rows else " (nothing to measure here)")

    return run


def _cutoff(ws, progress: ProgressFn | None) -> str:
    from core.experiments.evidence import CUTOFF_KIND, cutoff_rows

    if not ws.dataset.has_qrels:
        return "skipped: the dataset has no judged queries"
    return _evidence(CUTOFF_KIND, cutoff_rows)(ws, progress)


def _geometry(ws, progress: ProgressFn | None) -> str:
    from core.experiments.evidence import GEOMETRY_KIND, geometry_rows

    return _evidence(GEOMETRY_KIND, geometry_rows)(ws, progress)


def _query(ws, progress: ProgressFn | None) -> str:
    """The vectors the Query page opens on, so a cold server shows it without loading the model."""
    from core.experiments.query_comparison import example_query

    if ws.dataset.kind != "text":
        return "skipped: a vector dataset has no free-text query"
    text = example_query(ws.dataset)
    if text:
        ws.encode_query_text(text)
    ws.query_embeddings(progress)
    return f"{text!r} encoded" if text else "no example query"


_RUNNERS: dict[str, Callable] = {"map": _map, "id": _id, "order": _order, "sweep": _sweep, "vs_id": _vs_id,
                                 "spaces": _spaces, "cutoff": _cutoff, "geometry": _geometry, "query": _query}


def prepare_demo(ws, *, bar: Callable[[str], tuple[ProgressFn, Callable[[], None]]] | None = None,
                 say: Callable[[str], None] = print, steps: tuple[str, ...] | None = None) -> dict[str, float]:
    """Compute the demo's results on ``ws`` (skipping what is saved); return seconds per step.

    ``steps``: names from `STEPS` to run (default all).

    ``bar(label)`` gives a progress function and its closer for each step (the CLI's tqdm bar).
    """
    seconds: dict[str, float] = {}
    for name, what in STEPS:
        if steps is not None and name not in steps:
            continue
        update, close = bar(what) if bar is not None else (None, lambda: None)
        t0 = time.perf_counter()
        try:
            outcome = _RUNNERS[name](ws, update)
        finally:
            close()
        seconds[name] = time.perf_counter() - t0
        say(f"{what}: {outcome} ({seconds[name]:.1f} s)")
    return seconds
