"""What the learned methods share: torch set up for small, seeded, deterministic CPU training, training
schedules (the quick and thorough budgets), and a cache of trained parameters keyed by their inputs.

torch is imported when a learned method trains, never with the registry.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from core.progress import ProgressFn, report

#: Threads torch trains on (the sweep's machines are shared; more threads barely help at these sizes).
TORCH_THREADS = 2


@dataclass(frozen=True)
class Schedule:
    """A training budget: optimisation steps, batch size, and a wall-clock cap (a safety net: a run that
    hits it says so in its row's note, since stopping on time is the one non-deterministic exit)."""

    steps: int
    batch: int
    max_seconds: float


#: The quick schedule keeps each learned method under a minute on stdlib-docs on 2 cores (bench/learned.py).
SCHEDULES: dict[str, Schedule] = {
    "quick": Schedule(steps=400, batch=256, max_seconds=55.0),
    "thorough": Schedule(steps=3000, batch=512, max_seconds=600.0),
}


#: Most passes over the training sample a schedule makes (small data needs fewer steps than the schedule's).
MAX_EPOCHS = 40


def steps_for(schedule: Schedule, n: int) -> Schedule:
    """``schedule`` with at most `MAX_EPOCHS` passes over ``n`` training rows (and at least one step)."""
    batch = min(schedule.batch, n)
    steps = max(1, min(schedule.steps, -(-MAX_EPOCHS * n // batch)))
    return Schedule(steps, batch, schedule.max_seconds)


@contextmanager
def torch_session(seed: int, threads: int = TORCH_THREADS) -> Iterator[object]:
    """``torch`` seeded and deterministic on ``threads`` threads for the block (settings restored after)."""
    import torch

    before = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(int(threads))
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(int(seed))
    try:
        yield torch
    finally:
        torch.set_num_threads(before)
        torch.use_deterministic_algorithms(deterministic)


def content_key(*arrays: np.ndarray) -> str:
    """SHA-256 of the arrays' shapes, dtypes and bytes: what a trained model was trained on."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}{a.dtype}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()[:24]


class Stopwatch:
    """Steps of a training loop with progress reports and the schedule's time cap."""

    def __init__(self, schedule: Schedule, progress: ProgressFn | None, what: str, every: int = 25) -> None:
        self.schedule, self.progress, self.what, self.every = schedule, progress, what, every
        self.t0 = time.perf_counter()
        self.steps_done = 0
        self.capped = False

    def steps(self) -> Iterator[int]:
        for step in range(self.schedule.steps):
            if time.perf_counter() - self.t0 > self.schedule.max_seconds:
                self.capped = True
                return
            if step % self.every == 0:
                report(self.progress, step, self.schedule.steps, f"training {self.what}: step {step}/"
                       f"{self.schedule.steps}")
            yield step
            self.steps_done = step + 1
        report(self.progress, self.schedule.steps, self.schedule.steps, f"trained {self.what}")

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.t0

    def note(self) -> str:
        if not self.capped:
            return ""
        return (f"training stopped at the {self.schedule.max_seconds:.0f} s cap after {self.steps_done} of "
                f"{self.schedule.steps} steps")


def cached_parameters(
    kind: str, key_parts: tuple, train: Callable[[], tuple[np.ndarray, dict]]
) -> tuple[np.ndarray, dict, bool]:
    """Trained parameters (one float32 vector) and their meta from the artifact cache, or ``train()`` them
    and keep them there; the last value says whether they came from the cache."""
    from core.store.artifacts import ArtifactCache, artifact_key

    cache = ArtifactCache()
    key = artifact_key(kind, *key_parts)
    hit = cache.load(kind, key)
    if hit is not None:
        return hit[0], hit[1], True
    array, meta = train()
    cache.save(kind, key, np.ascontiguousarray(array, dtype=np.float32), meta)
    return array, meta, False


def pack(parts: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
    """Arrays as one float32 vector and their layout ``{name: shape}`` (how `cached_parameters` stores them)."""
    layout = {name: list(a.shape) for name, a in parts.items()}
    flat = np.concatenate([np.asarray(a, dtype=np.float32).ravel() for a in parts.values()]) if parts else \
        np.zeros(0, np.float32)
    return flat, layout


def unpack(flat: np.ndarray, layout: dict) -> dict[str, np.ndarray]:
    """Inverse of `pack`."""
    out, start = {}, 0
    for name, shape in layout.items():
        size = int(np.prod(shape)) if shape else 1
        out[name] = np.ascontiguousarray(flat[start : start + size].reshape(shape), dtype=np.float32)
        start += size
    return out
