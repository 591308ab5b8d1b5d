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


def test_jobs_beyond_the_limit_queue_in_order_and_run_one_at_a_time(monkeypatch):
    from ui.background import queue_position

    monkeypatch.setenv("DENSESCOPE_MAX_JOBS", "1")
    release = threading.Event()
    running, most = [], [0]

    def work(progress):
        running.append(1)
        most[0] = max(most[0], len(running))
        progress(0, 1, "working")
        release.wait(5)
        running.pop()
        return "ok"

    jobs = [start_job(f"k-queue-{i}", "umap", work) for i in range(3)]
    t0 = time.time()
    while queue_position("k-queue-2") != 1 and time.time() - t0 < 5:
        time.sleep(0.01)
    assert queue_position("k-queue-0") is None and queue_position("k-queue-1") == 0
    assert queue_position("k-queue-2") == 1 and jobs[1].queued and jobs[2].queued
    release.set()
    for job in jobs:
        wait(job)
    assert [j.result for j in jobs] == ["ok"] * 3 and most[0] == 1
    for i in range(3):
        forget_job(f"k-queue-{i}")


def test_a_cancelled_job_stops_at_its_next_progress_report_and_frees_its_slot(monkeypatch):
    from ui.background import cancel_job

    monkeypatch.setenv("DENSESCOPE_MAX_JOBS", "1")
    steps = []

    def work(progress):
        for i in range(1000):
            progress(i, 1000, "epoch")
            steps.append(i)
            time.sleep(0.005)
        return "finished"

    job = start_job("k-cancel", "umap", work)
    while not steps:
        time.sleep(0.01)
    assert cancel_job("k-cancel") is True
    wait(job)
    assert job.result is None and job.error.startswith("stopped: cancelled") and len(steps) < 1000
    after = start_job("k-cancel-next", "umap", lambda progress: "next")  # the slot is free again
    wait(after)
    assert after.result == "next"
    assert start_job("k-cancel", "umap", lambda progress: "again") is not job  # asking again restarts it
    for key in ("k-cancel", "k-cancel-next"):
        wait(get_job(key))
        forget_job(key)


def test_a_job_nobody_polls_stops_by_itself(monkeypatch):
    import ui.background as background

    monkeypatch.setattr(background, "IDLE_CANCEL_S", 0.2)

    def work(progress):
        for i in range(1000):
            progress(i, 1000, "epoch")
            time.sleep(0.01)
        return "finished"

    job = start_job("k-idle", "umap", work)
    wait(job, timeout=10)
    assert job.result is None and "nobody was waiting" in job.error
    forget_job("k-idle")


def test_a_map_budget_of_n_or_more_is_one_background_job():
    """1,000,000, 999,999 and 999,998 on the 400k GloVe map are one layout, so one job."""
    from core.analysis.projection import layout_job_key

    keys = {layout_job_key("glove", "umap", 2, b, 400_000, 0, {"n_neighbors": 15}) for b in (1_000_000, 999_999,
                                                                                            999_998, 400_000)}
    assert len(keys) == 1
    assert layout_job_key("glove", "umap", 2, 399_999, 400_000, 0, {}) not in keys
