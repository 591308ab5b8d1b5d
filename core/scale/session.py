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
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import config as _config

log = logging.getLogger(__name__)

#: Environment Ray must see before it is imported: no usage stats, no auth token file.
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
#: Environment forwarded to the workers of a cluster started elsewhere (when set here).
FORWARDED_ENV = ("OMP_WAIT_POLICY", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")
#: Longest temp folder Ray accepts here: its deepest unix socket is
#: ``<temp>/session_YYYY-MM-DD_HH-MM-SS_ffffff_<pid>/sockets/plasma_store`` (~63 more
#: bytes) and a socket path may have at most 107 (103 on macOS).
MAX_TEMP_DIR_CHARS = 40
#: Seconds `check_address` waits for a cluster's address to accept a connection.
CONNECT_TIMEOUT_S = 5.0
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


#: The one Ray connection this process made, shared by every run in it (app sessions are threads of one
#: process, and `ray.shutdown` would pull Ray from under a run still using it: Ray then aborts the process).
_SHARED_LOCK = threading.Lock()
_SHARED: dict[str, Any] = {"users": 0, "session": None, "owner": None}


def ray_users() -> int:
    """How many runs of this process are inside `ray_session` on the shared connection now."""
    with _SHARED_LOCK:
        return int(_SHARED["users"])


@contextlib.contextmanager
def ray_session(
    address: str | None = None, num_cpus: int | None = None, *, object_store_memory: int | None = None
) -> Iterator[RaySession]:
    """Connect to Ray for the duration of a ``with`` block.

    - One connection per process, shared: a second run (another app session, another thread) that
      enters while one is open uses the same instance; the connection is closed only when the last
      run using it leaves (so no run ever loses Ray to another run's end).
    - Ray already initialised in this process by someone else (a caller's session, a test fixture):
      reused as it is, and left running.
    - ``address`` given (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``): connect
      to that cluster; on exit only this driver disconnects, the cluster keeps running.
      A ``HOST:PORT`` where nothing listens raises ValueError at once (`check_address`),
      and so does a failed connection (``ConnectionError`` from Ray).
    - Otherwise start a local instance with ``num_cpus`` CPUs (default: all), quiet:
      no dashboard, usage stats off, auth token off, logs not sent to this process,
      temp folder `ray_temp_dir`; it is shut down when its last user leaves.
    """
    ray = _import_ray()
    with _SHARED_LOCK:
        shared = _SHARED["session"]
        if shared is None and ray.is_initialized():
            foreign = True
        else:
            foreign = False
            if shared is None:
                owner = _RayOwner(ray, address, num_cpus, object_store_memory)
                shared = owner.start_and_wait()
                _SHARED.update(session=shared, owner=owner)
            elif address is not None and shared.address != address:
                raise ValueError(f"this process is already using Ray at {shared.address or 'a local instance'}; "
                                 f"a run on {address} must wait until the runs there have finished")
            _SHARED["users"] += 1
    if foreign:
        yield RaySession(address, started=False, info=describe_cluster())
        return
    try:
        yield shared
    finally:
        with _SHARED_LOCK:
            _SHARED["users"] -= 1
            if _SHARED["users"] == 0:
                owner = _SHARED["owner"]
                _SHARED.update(session=None, owner=None)
                owner.close()


class _RayOwner(threading.Thread):
    """The thread that starts Ray and lives until it is shut down.

    Ray's processes are started with a parent-death signal, which Linux sends when the *thread* that
    started them ends: a local instance started in an app session's script thread would be killed when
    that script run finished, under another session still using it. So Ray is started, and shut down, in
    this thread of its own, which lives as long as the shared connection.
    """

    def __init__(self, ray, address, num_cpus, object_store_memory) -> None:
        super().__init__(name="densescope-ray-owner", daemon=True)
        self.ray, self.args = ray, (address, num_cpus, object_store_memory)
        self.ready, self.stop, self.stopped = threading.Event(), threading.Event(), threading.Event()
        self.session: RaySession | None = None
        self.session_dir: Path | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.session, self.session_dir = _connect(self.ray, *self.args)
        except BaseException as exc:  # handed to the caller of start_and_wait
            self.error = exc
            self.ready.set()
            self.stopped.set()
            return
        self.ready.set()
        self.stop.wait()
        try:
            self.ray.shutdown()  # on a cluster started elsewhere this only disconnects the driver
            if self.session.note and self.session.temp_dir is not None:
                _remove_session(self.session.temp_dir, self.session_dir)
        finally:
            self.stopped.set()

    def start_and_wait(self) -> RaySession:
        self.start()
        self.ready.wait()
        if self.error is not None:
            raise self.error
        return self.session

    def close(self, timeout_s: float = 120.0) -> None:
        self.stop.set()
        self.stopped.wait(timeout_s)


def _connect(ray, address: str | None, num_cpus: int | None, object_store_memory: int | None
             ) -> tuple[RaySession, Path | None]:
    """``ray.init`` as `ray_session` describes; returns the session and its folder (local instances)."""
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
        check_address(address)
        env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
        if env:
            kwargs["runtime_env"] = {"env_vars": env}
    try:
        ray.init(address=address, **kwargs)
    except ConnectionError as e:  # "auto" with no cluster running, a head that went away
        if address is None:
            raise
        raise ValueError(f"cannot connect to the Ray cluster at {address}: {e}") from e
    _quiet_ray_data()
    session_dir = None
    if temp_dir is not None:
        with contextlib.suppress(Exception):
            session_dir = Path(ray._private.worker._global_node.get_session_dir_path())
    session = RaySession(address, started=address is None, temp_dir=temp_dir, note=note, info=describe_cluster())
    return session, session_dir


def check_address(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Raise ValueError at once when nothing listens at a ``HOST:PORT`` (or ``ray://HOST:PORT``) address.

    Without this, ``ray.init`` retries an address with no Ray head behind it for
    minutes before it gives up (measured: over 200 s, printing a warning every 5 s).
    Addresses that are not ``HOST:PORT`` (``"auto"``) are left to Ray.
    """
    import socket

    text = address.strip()
    if "://" in text:
        scheme, text = text.split("://", 1)
        if scheme != "ray":
            return
    host, sep, port = text.rstrip("/").rpartition(":")
    if not sep or not host or not port.isdigit():
        return
    host = host.strip("[]")  # [::1]:6379
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise ValueError(
            f"no Ray cluster answers at {address} ({why}): start one there (`ray start --head --port {port}`) "
            "or check the address"
        ) from e


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
