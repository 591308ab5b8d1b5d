"""Compression sweeps on Ray: one task per build group, rows streamed back as each configuration is
measured; a failed or timed-out group becomes rows with status "failed" and its reason.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from core.progress import ProgressFn, report
from core.scale.session import largest_node, ray_session

# ---------------------------------------------------------------------------- sweeps

#: Row columns that are measurements of time or of where a row ran (not compared).
TIMING_KEYS = ("qps", "p50_ms", "p99_ms", "train_s", "build_s", "search_s", "threads", "latency_threads")


def _sweep_task(xb, xq, gt_I, xq_train, qrels, configs, kwargs: dict, threads: int, inject: Callable | None):
    """Body of one Ray task: `run_sweep` over one build group.

    Yields ``None`` first (the task has started: its timeout starts now), then one
    row per configuration as it is measured.
    """
    import faiss

    from core.analysis.sweep import run_sweep

    faiss.omp_set_num_threads(threads)  # Ray starts workers with one OpenMP thread
    yield None
    rows = run_sweep(xb, xq, gt_I, configs=configs, threads=threads, xq_train=xq_train, qrels=qrels, **kwargs)
    for cfg in configs:
        if inject is not None:
            inject(cfg)  # test hook: runs in the worker before each configuration
        yield next(rows)


def _failed_rows(data, configs, reason: str) -> list[dict]:
    from core.analysis.sweep import result_row

    return [result_row(cfg, data, "failed", reason) for cfg in configs]


def _group_timeout(group, n: int, d: int, nq: int, latency_queries: int) -> float:
    """Seconds a build group may go without yielding a row: 20x its estimate, at least 10 min."""
    from core.analysis.sweep import estimate_seconds

    try:
        est = estimate_seconds(group, n, d, nq, latency_queries)
    except Exception:  # pragma: no cover - a method without a cost model
        est = 60.0
    return max(600.0, 20.0 * est)


def _group_memory(group, n: int, d: int, cap: float) -> int | None:
    """Bytes of Ray's ``memory`` resource a build group reserves: its `estimate_memory_bytes`
    (the base is in the object store, not counted), at most ``cap``; ``None`` when ``cap`` is 0."""
    from core.analysis.sweep import estimate_memory_bytes

    if cap <= 0:
        return None
    return int(min(max(estimate_memory_bytes(c, n, d) for c in group), cap))


def _reason(e: BaseException) -> str:
    import ray.exceptions as rex

    if isinstance(e, rex.WorkerCrashedError):
        return "worker died (WorkerCrashedError): the process running this build group exited unexpectedly"
    if isinstance(e, rex.NodeDiedError):
        return f"node died (NodeDiedError): {e}"
    if isinstance(e, rex.OutOfMemoryError):
        return "worker killed for memory (OutOfMemoryError)"
    if isinstance(e, rex.TaskCancelledError):
        return "cancelled"
    if isinstance(e, rex.RayTaskError):
        cause = getattr(e, "cause", None)
        if cause is not None and not isinstance(cause, rex.RayTaskError):
            return f"task error: {type(cause).__name__}: {cause}"
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[-1] if text else ''}"


def sweep_with_ray(
    xb: np.ndarray,
    xq: np.ndarray,
    gt_I: np.ndarray,
    *,
    metric: str,
    configs: Iterable,
    k: int = 10,
    qrels=None,
    address: str | None = None,
    progress: ProgressFn | None = None,
    on_row: Callable[[dict], None] | None = None,
    max_retries: int = 0,
    seed: int = 0,
    threads: int = 1,
    timeout_s: float | None = None,
    _inject: Callable | None = None,
    **sweep_options,
) -> Iterator[dict]:
    """`run_sweep` on Ray: one task per build group, rows yielded as they are measured.

    The base, queries and ground truth go to the object store once; each task runs
    `core.analysis.sweep.run_sweep` on one group of configurations sharing a build (as
    `group_by_build` forms them), so rows equal the in-process rows except the
    `TIMING_KEYS`. Tasks are streaming generators: every row is yielded here (and
    passed to ``on_row``) as soon as its configuration is measured, in completion
    order, so a caller that writes rows to the run store keeps every finished row
    if the sweep is interrupted (closing this generator cancels the tasks left).
    Each task reserves ``threads`` CPUs and its group's `estimate_memory_bytes` of
    Ray's ``memory`` resource (capped at the largest node's), so a node runs only
    as many builds at once as its memory holds.

    A task whose worker dies, or that raises outside `run_sweep`'s own error
    handling, or that yields nothing for ``timeout_s`` (default: 20x the group's
    `estimate_seconds`, at least 10 minutes) turns its remaining configurations
    into ``"failed"`` rows whose ``reason`` says why; the sweep goes on.

    Args:
        threads: faiss/BLAS threads per task (and Ray CPUs it reserves). With more
            than one thread, HNSW builds are not deterministic (in-process either).
        max_retries: Ray retries of a task whose worker died (rows already yielded
            are not repeated).
        _inject: test hook, called in the worker with each `Config` before it is
            measured (e.g. to kill the worker at a chosen configuration).
        sweep_options: passed to `run_sweep` (``xq_train``, ``latency_queries``,
            ``max_memory_bytes``).

    Bad input raises ValueError before anything is submitted.
    """
    from core.analysis.sweep import eval_data, group_by_build, run_sweep

    configs = list(configs)
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    if not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries must be a non-negative integer, got {max_retries!r}")
    # validate exactly as the in-process sweep does (it raises before running anything)
    run_sweep(
        xb, xq, gt_I, metric=metric, configs=configs, k=k, qrels=qrels, seed=seed, threads=threads, **sweep_options
    )
    data = eval_data(
        xb,
        xq,
        gt_I,
        metric,
        k,
        qrels,
        seed,
        sweep_options.get("xq_train"),
        sweep_options.get("latency_queries", 200),
        sweep_options.get("max_memory_bytes"),
    )
    return _sweep_rows(
        data,
        group_by_build(configs),
        qrels,
        dict(sweep_options, metric=metric, k=k, seed=seed),
        address,
        progress,
        on_row,
        max_retries,
        threads,
        timeout_s,
        _inject,
    )


def _sweep_rows(
    data, groups, qrels, kwargs, address, progress, on_row, max_retries, threads, timeout_s, inject
) -> Iterator[dict]:
    total = sum(len(g) for g in groups)
    xq_train = kwargs.pop("xq_train", None)
    latency = int(kwargs.get("latency_queries", 200))
    with ray_session(address) as session:
        import ray

        biggest = largest_node("CPU")
        if threads > biggest:
            raise ValueError(f"threads={threads} but the largest Ray node has {biggest:g} CPUs: no task could start")
        most_memory = largest_node("memory")
        task = ray.remote(_sweep_task)
        options = dict(num_cpus=threads, max_retries=max_retries, retry_exceptions=False, num_returns="streaming")
        # base, queries, ground truth (and optional training queries / qrels): in the object store once
        refs = [ray.put(a) for a in (data.xb, data.xq, data.gt_I)]
        refs.append(None if xq_train is None else ray.put(np.asarray(xq_train)))
        refs.append(None if qrels is None else ray.put(qrels))
        # generator -> [group, rows yielded, timeout, last activity (None until the task starts)]
        pending: dict[Any, list] = {}
        for group in groups:
            # reserve the group's estimated memory so Ray packs no more builds on a node than fit
            # (capped at the largest node's, so a task always has somewhere to run)
            need = _group_memory(group, data.n, data.d, most_memory)
            gen = task.options(memory=need, **options).remote(*refs, group, kwargs, threads, inject)
            limit = (
                timeout_s if timeout_s is not None else _group_timeout(group, data.n, data.d, data.xq.shape[0], latency)
            )
            pending[gen] = [group, 0, float(limit), None]
        done = 0
        report(progress, 0, total, f"sweeping on {session.info.get('text', 'Ray')}")

        def emit(row: dict) -> dict:
            nonlocal done
            done += 1
            if on_row is not None:
                on_row(row)
            report(progress, done, total, row.get("label", ""))
            return row

        def fail(gen, reason: str) -> list[dict]:
            group, i = pending.pop(gen)[:2]
            return [emit(r) for r in _failed_rows(data, group[i:], reason)]

        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                for gen in ready:
                    state = pending[gen]
                    try:
                        row = ray.get(next(gen))
                    except StopIteration:
                        yield from fail(gen, "the task ended without measuring this configuration")
                        continue
                    except Exception as e:  # worker died, task error, cancelled
                        yield from fail(gen, _reason(e))
                        continue
                    state[3] = time.monotonic()
                    if row is None:  # the task started
                        continue
                    state[1] += 1
                    if state[1] == len(state[0]):
                        del pending[gen]
                    yield emit(row)
                now = time.monotonic()
                for gen, (_, _, limit, last) in list(pending.items()):
                    if last is not None and now - last > limit:
                        with contextlib.suppress(Exception):
                            ray.cancel(gen, force=True)
                        yield from fail(gen, f"timed out: no row for {limit:g} s (task cancelled)")
        finally:
            for gen in pending:  # interrupted (generator closed, Ctrl-C): stop what is left
                with contextlib.suppress(Exception):
                    ray.cancel(gen, force=True)


def comparable(row: dict) -> dict:
    """A row without its `TIMING_KEYS` (to compare Ray rows with in-process rows)."""
    return {k: v for k, v in row.items() if k not in TIMING_KEYS}
