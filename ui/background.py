"""Long work that must not block a page: a job runs in a thread of the server process, shared by every
session that asks for the same key, and reports its progress for pages to poll.

A job is keyed by what it computes (e.g. the projection's cache key, with a point budget of at least n
counted as n), so ten sessions asking for the same UMAP start it once. Its result is whatever the work
function returns (usually also written to the artifact cache, so a later process finds it there). A job
that failed or was cancelled keeps its reason for the pages to show; asking again starts it afresh.

Bounded: at most `max_running()` jobs compute at once (``DENSESCOPE_MAX_JOBS``, default half the CPUs,
at least one); the rest wait in a queue, in order, and say so. A job stops at its next progress report
when it is cancelled (`cancel_job`) or when no page has polled it for `IDLE_CANCEL_S` seconds (every
browser that asked for it has gone), so a visitor cannot leave work running that nobody waits for.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: A job nobody has polled for this long is stopped at its next progress report.
IDLE_CANCEL_S = 120.0


class JobCancelled(Exception):
    """Raised inside a job's work (from its progress function) to stop it."""


def max_running() -> int:
    """How many jobs may compute at once: ``DENSESCOPE_MAX_JOBS``, else half the CPUs (at least 1)."""
    raw = os.environ.get("DENSESCOPE_MAX_JOBS", "")
    try:
        value = int(raw)
    except ValueError:
        value = max(1, (os.cpu_count() or 2) // 2)
    return max(1, value)


@dataclass
class Job:
    key: str
    label: str
    started: float = field(default_factory=time.time)
    done: int = 0
    total: int = 0
    message: str = ""
    finished: float | None = None
    result: object = None
    error: str | None = None
    queued: bool = True
    cancel_reason: str | None = None
    last_seen: float = field(default_factory=time.time)

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def cancelled(self) -> bool:
        return self.cancel_reason is not None and self.finished is not None

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, self.done / self.total)

    @property
    def seconds(self) -> float:
        return (self.finished or time.time()) - self.started

    def seen(self) -> None:
        """A page is still waiting for this job."""
        self.last_seen = time.time()

    def check(self) -> None:
        """Raise `JobCancelled` when the job was cancelled or nobody waits for it any more."""
        if self.cancel_reason is None and time.time() - self.last_seen > IDLE_CANCEL_S:
            self.cancel_reason = f"nobody was waiting for it (no page asked for {IDLE_CANCEL_S:.0f} s)"
        if self.cancel_reason is not None:
            raise JobCancelled(self.cancel_reason)

    def progress(self, done: int, total: int, message: str = "") -> None:
        """A `core.progress.ProgressFn` writing into the job; it is also where a cancelled job stops."""
        self.done, self.total, self.message = int(done), int(total), message or self.message
        self.check()


_JOBS: dict[str, Job] = {}
_LOCK = threading.Lock()
_SLOTS_LOCK = threading.Condition()
_RUNNING: list[str] = []
_WAITING: list[str] = []


def _take_slot(job: Job) -> None:
    """Block until ``job`` may compute (its turn in the queue and a free slot); raise if cancelled meanwhile."""
    with _SLOTS_LOCK:
        _WAITING.append(job.key)
        try:
            while _WAITING[0] != job.key or len(_RUNNING) >= max_running():
                job.check()
                _SLOTS_LOCK.wait(timeout=1.0)
            job.check()
            _RUNNING.append(job.key)
        finally:
            _WAITING.remove(job.key)
            _SLOTS_LOCK.notify_all()


def _free_slot(job: Job) -> None:
    with _SLOTS_LOCK:
        if job.key in _RUNNING:
            _RUNNING.remove(job.key)
        _SLOTS_LOCK.notify_all()


def queue_position(key: str) -> int | None:
    """How many jobs are ahead of ``key`` in the queue (0: next), or ``None`` when it is not waiting."""
    with _SLOTS_LOCK:
        return _WAITING.index(key) if key in _WAITING else None


def start_job(key: str, label: str, work: Callable[[Callable[[int, int, str], None]], object]) -> Job:
    """The job for ``key``: the running, queued or finished one, or a new one running ``work(progress)`` in a
    daemon thread once a slot is free (a failed or cancelled one is started again)."""
    with _LOCK:
        job = _JOBS.get(key)
        if job is not None and job.error is None and job.cancel_reason is None:
            job.seen()
            return job
        job = Job(key, label)
        _JOBS[key] = job

    def run() -> None:
        try:
            _take_slot(job)
            job.queued = False
            job.started = time.time()
            try:
                job.result = work(job.progress)
            finally:
                _free_slot(job)
        except JobCancelled as exc:
            job.error = f"stopped: {exc}"
        except Exception as exc:  # shown on the page that polls the job, never lost
            job.error = f"{type(exc).__name__}: {exc}"
        finally:
            job.finished = time.time()

    threading.Thread(target=run, name=f"densescope-job-{label}", daemon=True).start()
    return job


def get_job(key: str) -> Job | None:
    """The job for ``key`` (a page polling it: it counts as still waited for)."""
    with _LOCK:
        job = _JOBS.get(key)
    if job is not None:
        job.seen()
    return job


def cancel_job(key: str, reason: str = "cancelled by a visitor") -> bool:
    """Ask the job for ``key`` to stop (at its next progress report); False when there is none running."""
    with _LOCK:
        job = _JOBS.get(key)
    if job is None or not job.running:
        return False
    job.cancel_reason = reason
    with _SLOTS_LOCK:
        _SLOTS_LOCK.notify_all()
    return True


def list_jobs() -> list[Job]:
    """Every job this server process knows, oldest first."""
    with _LOCK:
        return list(_JOBS.values())


def forget_job(key: str) -> None:
    with _LOCK:
        _JOBS.pop(key, None)
