"""Running encoding and sweeps on Ray: the same units of work as in-process, spread over a cluster.

Past one machine, a corpus is encoded with Ray Data (`encode_with_ray`: blocks of
passages go through a pool of actors that each load the encoder once) and a sweep
runs one Ray task per build group (`sweep_with_ray`: each task calls `run_sweep`
itself on its configurations, so there is no second code path). Both give the
in-process results: the same cached embeddings artifact (within float rounding:
``1 - cos`` <= 1e-6, because blocks batch texts differently), the same sweep rows
except timings.

Ray is quiet and local by default (`ray_session`): no dashboard, no usage stats,
no auth token written in the home folder, its temp folder under the densescope
home (``<home>/ray``), and it is shut down on exit. With ``address`` it connects
to an existing cluster and only disconnects.

This module never imports streamlit; Ray itself is imported lazily, so importing
this module is cheap and works without Ray installed (`ray_available`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import config as _config
from .progress import ProgressFn, report

log = logging.getLogger(__name__)

#: Environment Ray must see before it is imported: no usage stats, no auth token file.
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
#: Environment forwarded to the workers of a cluster started elsewhere (when set here).
FORWARDED_ENV = ("OMP_WAIT_POLICY", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")
#: Longest temp folder Ray accepts here: its deepest unix socket is
#: ``<temp>/session_YYYY-MM-DD_HH-MM-SS_ffffff_<pid>/sockets/plasma_store`` (~63 more
#: bytes) and a socket path may have at most 107 (103 on macOS).
MAX_TEMP_DIR_CHARS = 40
#: Ray session folders (logs) kept under the temp folder; older ones are pruned.
KEEP_SESSIONS = 3


def _prepare_env() -> None:
    for k, v in RAY_ENV.items():
        os.environ.setdefault(k, v)  # an explicit setting (e.g. token auth on a cluster) wins
    _config.offline_hub()


def ray_available() -> bool:
    """Whether Ray (with Ray Data) can be imported in this environment."""
    import importlib.util

    try:
        return importlib.util.find_spec("ray") is not None and importlib.util.find_spec("ray.data") is not None
    except (ImportError, ValueError):
        return False


def _import_ray():
    _prepare_env()
    try:
        import ray
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise RuntimeError('Ray is not installed: pip install "ray[data]"') from e
    return ray


# ---------------------------------------------------------------------------- session


@dataclass
class RaySession:
    """What `ray_session` connected to.

    Attributes:
        address: the cluster address given, or ``None`` for a local instance.
        started: ``True`` when this session started the instance (and shuts it down).
        temp_dir: Ray's temp folder for a local instance (``None`` on a remote cluster).
        note: why the temp folder is not under the densescope home, when it is not.
    """

    address: str | None
    started: bool
    temp_dir: Path | None = None
    note: str = ""
    info: dict = field(default_factory=dict)


def ray_temp_dir() -> tuple[Path, str]:
    """Ray's temp folder for a local instance, and a note when it is not ``<home>/ray``.

    ``<home>/ray`` when that path is short enough for Ray's unix sockets, else a short
    per-home folder in the system temp folder (each session's files are removed when it ends).
    """
    preferred = _config.home() / "ray"
    if len(str(preferred)) <= MAX_TEMP_DIR_CHARS:
        return preferred, ""
    digest = hashlib.sha256(str(preferred).encode()).hexdigest()[:8]
    short = Path(tempfile.gettempdir()) / f"dsray-{digest}"
    if len(str(short)) > MAX_TEMP_DIR_CHARS:
        short = Path("/tmp") / f"dsray-{digest}"
    return short, (
        f"Ray's temp folder is {short} (cleaned up at the end of the session), not {preferred}: "
        f"that path is longer than the {MAX_TEMP_DIR_CHARS} characters Ray's unix sockets allow"
    )


def _session_alive(session: Path) -> bool:
    """Whether the process that started a Ray session folder (``session_<date>_<pid>``) still runs."""
    try:
        pid = int(session.name.rsplit("_", 1)[1])
        os.kill(pid, 0)
    except (IndexError, ValueError, ProcessLookupError):
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _prune_sessions(temp_dir: Path, keep: int = KEEP_SESSIONS) -> None:
    """Delete all but the newest ``keep`` finished Ray session folders (logs) of a temp folder.

    A session whose starting process still runs (the app and a CLI may share a home) is
    never deleted.
    """
    if not temp_dir.is_dir():
        return
    sessions = sorted(
        (p for p in temp_dir.glob("session_*") if p.is_dir() and not p.is_symlink()),
        key=lambda p: p.stat().st_mtime,
    )
    for p in sessions[: max(0, len(sessions) - keep)]:
        if not _session_alive(p):
            shutil.rmtree(p, ignore_errors=True)


def _remove_session(temp_dir: Path, session_dir: Path | None) -> None:
    """Remove this session's folder from a fallback temp folder, and the folder once no session is left."""
    if session_dir is not None and session_dir.parent == temp_dir:
        shutil.rmtree(session_dir, ignore_errors=True)
    if not any(p.is_dir() and not p.is_symlink() for p in temp_dir.glob("session_*")):
        shutil.rmtree(temp_dir, ignore_errors=True)


def _quiet_ray_data() -> None:
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.enable_operator_progress_bars = False
    if hasattr(ctx, "print_on_execution_start"):
        ctx.print_on_execution_start = False
    for name in ("ray", "ray.data", "ray.data._internal"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # we report progress ourselves: silence the notice that Ray Data's bars are off
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)


@contextlib.contextmanager
def ray_session(
    address: str | None = None, num_cpus: int | None = None, *, object_store_memory: int | None = None
) -> Iterator[RaySession]:
    """Connect to Ray for the duration of a ``with`` block.

    - Ray already initialised in this process (a caller's session, a test fixture):
      reused as it is, and left running.
    - ``address`` given (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``): connect
      to that cluster; on exit only this driver disconnects, the cluster keeps running.
    - Otherwise start a local instance with ``num_cpus`` CPUs (default: all), quiet:
      no dashboard, usage stats off, auth token off, logs not sent to this process,
      temp folder `ray_temp_dir`; it is shut down on exit.
    """
    ray = _import_ray()
    if ray.is_initialized():
        yield RaySession(address, started=False, info=describe_cluster())
        return
    kwargs: dict[str, Any] = dict(
        include_dashboard=False,
        logging_level=logging.WARNING,
        log_to_driver=False,
        configure_logging=True,
        ignore_reinit_error=False,
    )
    temp_dir, note = None, ""
    if address is None:
        temp_dir, note = ray_temp_dir()
        temp_dir.mkdir(parents=True, exist_ok=True)
        _prune_sessions(temp_dir)
        kwargs.update(num_cpus=num_cpus, _temp_dir=str(temp_dir), object_store_memory=object_store_memory)
        if note:
            log.warning(note)
    else:
        env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
        if env:
            kwargs["runtime_env"] = {"env_vars": env}
    ray.init(address=address, **kwargs)
    _quiet_ray_data()
    session_dir = None
    if temp_dir is not None:
        with contextlib.suppress(Exception):
            session_dir = Path(ray._private.worker._global_node.get_session_dir_path())
    try:
        yield RaySession(address, started=True, temp_dir=temp_dir, note=note, info=describe_cluster())
    finally:
        ray.shutdown()  # on a cluster started elsewhere this only disconnects the driver
        if note and temp_dir is not None:
            _remove_session(temp_dir, session_dir)


def describe_cluster() -> dict:
    """Nodes and CPUs of the Ray instance this process is connected to.

    Keys: ``nodes`` (alive), ``cpus``, ``gpus``, ``object_store_gb``, ``address``, and
    ``text`` -- one line for the UI, e.g. ``"Ray: 1 node, 2 CPUs (local)"``. Without a
    running instance (or without Ray) only ``text`` says so.
    """
    if not ray_available():
        return {"text": "Ray is not installed"}
    ray = _import_ray()
    if not ray.is_initialized():
        return {"text": "Ray is not running (in-process)"}
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    res = ray.cluster_resources()
    cpus, gpus = int(res.get("CPU", 0)), int(res.get("GPU", 0))
    store = res.get("object_store_memory", 0) / 2**30
    try:
        addr = ray.get_runtime_context().gcs_address
    except Exception:  # pragma: no cover - older/newer Ray
        addr = ""
    where = "local" if all(n.get("NodeManagerAddress") in ("127.0.0.1", _own_ip()) for n in nodes) else addr
    text = f"Ray: {len(nodes)} node{'s' * (len(nodes) != 1)}, {cpus} CPU{'s' * (cpus != 1)}"
    if gpus:
        text += f", {gpus} GPU{'s' * (gpus != 1)}"
    text += f" ({where})" if where else ""
    return {
        "nodes": len(nodes),
        "cpus": cpus,
        "gpus": gpus,
        "object_store_gb": round(store, 2),
        "address": addr,
        "text": text,
    }


def _own_ip() -> str:
    try:
        import ray

        return ray.util.get_node_ip_address()
    except Exception:  # pragma: no cover
        return "127.0.0.1"


def cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def largest_node(resource: str) -> float:
    import ray

    return max((n.get("Resources", {}).get(resource, 0) for n in ray.nodes() if n.get("Alive")), default=0)


# ---------------------------------------------------------------------------- encoding


class _EncodeActor:
    """Ray Data actor: loads (or receives) the encoder once, then encodes blocks of passages.

    Pretrained encoders are built on the worker with `make_encoder` (the model must be
    installed on every node); encoders that are fitted on the corpus (``tfidf-svd``) are
    fitted once on the driver and shipped as an object (never refitted), so every
    actor uses exactly the driver's vocabulary and SVD. The actor checks that its
    encoder's `config` equals the driver's: the vectors are cached under that config.
    """

    def __init__(
        self, name: str, options: dict, fitted_ref: list | None, expected: dict, threads: int, batch_size: int
    ) -> None:
        import torch

        torch.set_num_threads(max(1, int(threads)))  # Ray starts workers with one thread
        _config.offline_hub()
        if fitted_ref is not None:
            import ray

            self.encoder = ray.get(fitted_ref[0])
        else:
            from .encoders import make_encoder

            self.encoder = make_encoder(name, **options)
        got = self.encoder.config()
        if got != expected:
            raise ValueError(
                f"the encoder on this worker differs from the driver's (different model files?): {got} != {expected}"
            )
        self.batch_size = batch_size

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"]]
        vectors = self.encoder.encode(texts, kind="passage", batch_size=self.batch_size)
        return {"row": np.asarray(batch["row"], dtype=np.int64), "vector": vectors}


def block_rows(n: int, batch_size: int, actors: int) -> int:
    """Passages per Ray Data block: large enough for length-sorted batching to pay off
    (at least 8 encoder batches), small enough to spread over the actors and report progress."""
    return int(min(max(n, 1), max(batch_size * 8, min(4096, math.ceil(n / (4 * max(actors, 1)))))))


def encode_with_ray(
    ws,
    *,
    address: str | None = None,
    batch_size: int = 64,
    actors: int = 1,
    threads_per_actor: int | None = None,
    gpus_per_actor: float = 0,
    progress: ProgressFn | None = None,
    force: bool = False,
) -> np.ndarray:
    """Encode the workspace's passages on Ray; write and return the embeddings artifact.

    The result is the artifact `Workspace.embeddings` writes (kind ``"embeddings"``,
    key `Workspace.embeddings_key`, same meta plus ``"backend": "ray"``, ``actors``,
    ``threads_per_actor`` and ``cluster``), so every page and command uses it
    unchanged. An artifact already cached is returned without starting Ray unless
    ``force``.

    Args:
        ws: a `core.workspace.Workspace` of a text dataset.
        address: Ray cluster address; ``None`` starts (or reuses) a local instance.
        batch_size: texts per encoder batch inside each actor (its token budget still
            applies); blocks of `block_rows` passages go to the actors, each
            length-sorted inside by the encoder.
        actors: size of the actor pool (each loads the encoder once).
        threads_per_actor: torch threads (and Ray CPUs) per actor; default: the
            cluster's CPUs divided among the actors (at most the largest node's).
        gpus_per_actor: Ray GPUs per actor (Ray hides GPUs from actors that reserve
            none; the encoder's ``device="auto"`` then picks CUDA). Not exercised here.
        progress: ``progress(done, total, message)`` as blocks come back.
    """
    from .dataset import check_vectors

    if ws.dataset.kind == "vectors":
        raise ValueError(f"{ws.dataset.name} is a vector dataset: there is nothing to encode")
    if not isinstance(actors, int) or actors < 1:
        raise ValueError(f"actors must be a positive integer, got {actors!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not force:
        hit = ws.cache.load("embeddings", ws.embeddings_key)
        if hit is not None:
            ws._memo = hit[0]
            return hit[0]
    texts = list(ws.dataset.texts)
    n = len(texts)
    encoder = ws.encoder  # fits tfidf-svd on the driver (once)
    expected = encoder.config()
    key = ws.embeddings_key

    with ray_session(address) as session:
        import pandas as pd
        import ray

        threads = threads_per_actor or max(1, min(cluster_cpus() // actors, int(largest_node("CPU"))))
        if threads > largest_node("CPU") or gpus_per_actor > largest_node("GPU"):
            raise ValueError(
                f"an actor needs {threads} CPUs and {gpus_per_actor:g} GPUs, more than the largest Ray node "
                f"has ({largest_node('CPU'):g} CPUs, {largest_node('GPU'):g} GPUs): it could never start"
            )
        fitted_ref = [ray.put(encoder)] if getattr(encoder, "needs_fit", False) else None
        rows = block_rows(n, batch_size, actors)
        frames = [
            pd.DataFrame({"row": np.arange(s, min(n, s + rows), dtype=np.int64), "text": texts[s : s + rows]})
            for s in range(0, n, rows)
        ]
        t0 = time.perf_counter()
        ds = ray.data.from_pandas(frames).map_batches(
            _EncodeActor,
            batch_size=rows,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=threads,
            num_gpus=gpus_per_actor or None,
            fn_constructor_kwargs=dict(
                name=ws.encoder_name,
                options=dict(ws.encoder_options),
                fitted_ref=fitted_ref,
                expected=expected,
                threads=threads,
                batch_size=batch_size,
            ),
        )
        out: np.ndarray | None = None
        seen = np.zeros(n, dtype=bool)
        done = 0
        report(progress, 0, n, f"encoding on {session.info.get('text', 'Ray')}")
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            ids, vecs = np.asarray(batch["row"]), np.asarray(batch["vector"], dtype=np.float32)
            if out is None:
                out = np.empty((n, vecs.shape[1]), dtype=np.float32)
            out[ids] = vecs
            seen[ids] = True
            done += len(ids)
            report(progress, done, n, f"encoded {done}/{n} passages on Ray")
        seconds = time.perf_counter() - t0
        info = session.info
    if out is None or not seen.all():
        missing = n - int(seen.sum())
        raise RuntimeError(f"Ray returned vectors for {n - missing} of {n} passages")
    x = check_vectors(out, "embeddings")
    ws._memo = x
    ws.cache.save(
        "embeddings",
        key,
        x,
        {
            "dataset": ws.dataset.name,
            "fingerprint": ws.dataset.fingerprint(),
            "encoder": expected,
            "seconds": seconds,
            "per_second": n / seconds if seconds > 0 else None,
            "backend": "ray",
            "actors": actors,
            "threads_per_actor": threads,
            "batch_size": batch_size,
            "block_rows": rows,
            "cluster": info.get("text", ""),
        },
    )
    return x


# ---------------------------------------------------------------------------- sweeps

#: Row columns that are measurements of time or of where a row ran (not compared).
TIMING_KEYS = ("qps", "p50_ms", "p99_ms", "train_s", "build_s", "search_s", "threads", "latency_threads")


def _sweep_task(xb, xq, gt_I, xq_train, qrels, configs, kwargs: dict, threads: int, inject: Callable | None):
    """Body of one Ray task: `run_sweep` over one build group.

    Yields ``None`` first (the task has started: its timeout starts now), then one
    row per configuration as it is measured.
    """
    import faiss

    from .sweep import run_sweep

    faiss.omp_set_num_threads(threads)  # Ray starts workers with one OpenMP thread
    yield None
    rows = run_sweep(xb, xq, gt_I, configs=configs, threads=threads, xq_train=xq_train, qrels=qrels, **kwargs)
    for cfg in configs:
        if inject is not None:
            inject(cfg)  # test hook: runs in the worker before each configuration
        yield next(rows)


def _failed_rows(data, configs, reason: str) -> list[dict]:
    from .sweep import result_row  # the sweep's own row layout, so failed rows have every column

    return [result_row(cfg, data, "failed", reason) for cfg in configs]


def _group_timeout(group, n: int, d: int, nq: int, latency_queries: int) -> float:
    """Seconds a build group may go without yielding a row: 20x its estimate, at least 10 min."""
    from .sweep import estimate_seconds

    try:
        est = estimate_seconds(group, n, d, nq, latency_queries)
    except Exception:  # pragma: no cover - a method without a cost model
        est = 60.0
    return max(600.0, 20.0 * est)


def _group_memory(group, n: int, d: int, cap: float) -> int | None:
    """Bytes of Ray's ``memory`` resource a build group reserves: its `estimate_memory_bytes`
    (the base is in the object store, not counted), at most ``cap``; ``None`` when ``cap`` is 0."""
    from .sweep import estimate_memory_bytes

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
    `core.sweep.run_sweep` on one group of configurations sharing a build (as
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
    from .sweep import eval_data, group_by_build, run_sweep

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

