"""Long work that must not block a page: a job runs in a thread of the server process, shared by every
session that asks for the same key, and reports its progress for pages to poll.

A job is keyed by what it computes (e.g. the projection's cache key), so ten sessions asking for the
same UMAP start it once. Its result is whatever the work function returns (usually also written to
the artifact cache, so a later process finds it there). A job that failed keeps its error for the
pages to show; asking again after a failure starts it afresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


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

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, self.done / self.total)

    @property
    def seconds(self) -> float:
        return (self.finished or time.time()) - self.started

    def progress(self, done: int, total: int, message: str = "") -> None:
        """A `core.progress.ProgressFn` writing into the job."""
        self.done, self.total, self.message = int(done), int(total), message or self.message


_JOBS: dict[str, Job] = {}
_LOCK = threading.Lock()


def start_job(key: str, label: str, work: Callable[[Callable[[int, int, str], None]], object]) -> Job:
    """The job for ``key``: the running or finished one, or a new one running ``work(progress)`` in a
    daemon thread (a failed one is started again)."""
    with _LOCK:
        job = _JOBS.get(key)
        if job is not None and job.error is None:
            return job
        job = Job(key, label)
        _JOBS[key] = job

    def run() -> None:
        try:
            job.result = work(job.progress)
        except Exception as exc:  # shown on the page that polls the job, never lost
            job.error = f"{type(exc).__name__}: {exc}"
        finally:
            job.finished = time.time()

    threading.Thread(target=run, name=f"densescope-job-{label}", daemon=True).start()
    return job


def get_job(key: str) -> Job | None:
    with _LOCK:
        return _JOBS.get(key)


def list_jobs() -> list[Job]:
    """Every job this server process knows, oldest first."""
    with _LOCK:
        return list(_JOBS.values())


def forget_job(key: str) -> None:
    with _LOCK:
        _JOBS.pop(key, None)
