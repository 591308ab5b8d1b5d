"""Background jobs (`ui/background.py`): one job per key however many sessions ask, progress polled,
errors kept, a failed job started again."""

from __future__ import annotations

import threading
import time

from ui.background import forget_job, get_job, start_job


def wait(job, timeout=10.0):
    t0 = time.time()
    while job.running and time.time() - t0 < timeout:
        time.sleep(0.01)
    assert not job.running


def test_one_job_per_key_with_progress_and_result():
    release = threading.Event()
    calls = []

    def work(progress):
        calls.append(1)
        progress(1, 4, "first quarter")
        release.wait(5)
        progress(4, 4, "done")
        return "coords"

    a = start_job("k-test-1", "umap", work)
    b = start_job("k-test-1", "umap", work)  # a second session asking for the same map
    assert a is b
    t0 = time.time()
    while a.done == 0 and time.time() - t0 < 5:
        time.sleep(0.01)
    assert a.running and a.fraction == 0.25 and a.message == "first quarter"
    release.set()
    wait(a)
    assert a.result == "coords" and a.error is None and a.fraction == 1.0 and len(calls) == 1
    assert get_job("k-test-1") is a
    forget_job("k-test-1")
    assert get_job("k-test-1") is None


def test_a_failed_job_keeps_its_error_and_starts_again():
    def broken(progress):
        raise ValueError("no such map")

    job = start_job("k-test-2", "umap", broken)
    wait(job)
    assert job.error == "ValueError: no such map" and job.result is None
    again = start_job("k-test-2", "umap", lambda progress: 42)
    assert again is not job
    wait(again)
    assert again.result == 42
    forget_job("k-test-2")
