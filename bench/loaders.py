"""Load time and peak memory of a large Parquet table of embeddings (issue 13).

Writes an ``n x d`` float32 table (``id``, ``text``, ``embedding`` as a list column, the layout
embedding pipelines and Hugging Face datasets write) with its own helper, then loads it in a fresh
process per scenario so each peak RSS is its own:

- ``pandas`` (baseline): ``pd.read_parquet`` then ``np.stack`` of the list column, what a
  notebook does;
- ``densescope``: ``core.data.loading.load_file`` (record batches into one preallocated
  float32 array, ids and texts as strings).

Run from the repository root: ``python -m bench.loaders [--n 1000000] [--d 384]``.
Prints seconds and peak RSS per scenario and the ratios against the baseline.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SCENARIOS = ("pandas", "densescope")


def write_table(path: Path, n: int, d: int, seed: int = 0, batch: int = 100_000) -> float:
    """Write the test table in row groups (never holding more than one batch); return seconds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    schema = pa.schema([("id", pa.string()), ("text", pa.string()), ("embedding", pa.list_(pa.float32()))])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, n, batch):
            m = min(batch, n - start)
            x = rng.standard_normal((m, d), dtype=np.float32)
            values = pa.array(x.ravel())
            offsets = pa.array(np.arange(0, (m + 1) * d, d, dtype=np.int32))
            writer.write_table(pa.table({
                "id": [f"doc{start + i}" for i in range(m)],
                "text": [f"passage number {start + i}" for i in range(m)],
                "embedding": pa.ListArray.from_arrays(offsets, values),
            }, schema=schema))
    return time.perf_counter() - t0


def load(scenario: str, path: str) -> dict:
    """Run in a child process: load the table one way; report seconds, shape and peak RSS."""
    import resource

    t0 = time.perf_counter()
    if scenario == "pandas":
        import pandas as pd

        df = pd.read_parquet(path)
        x = np.stack(df["embedding"].to_numpy()).astype(np.float32)
        shape = x.shape
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from core.data.loading import load_file

        ds = load_file(path, id_column="id")
        shape = ds.vectors.shape
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"scenario": scenario, "seconds": seconds, "peak_rss": peak, "shape": list(shape)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--child", nargs=2, metavar=("SCENARIO", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(load(*args.child)))
        return
    with tempfile.TemporaryDirectory(prefix="densescope-bench-") as tmp:
        path = Path(tmp) / "embeddings.parquet"
        secs = write_table(path, args.n, args.d)
        raw = args.n * args.d * 4
        print(f"wrote {args.n:,} x {args.d} float32 ({raw / 2**30:.2f} GiB of vectors) to Parquet "
              f"({path.stat().st_size / 2**30:.2f} GiB on disk) in {secs:.1f} s")
        results = {}
        for scenario in SCENARIOS:
            out = subprocess.run([sys.executable, "-m", "bench.loaders", "--child", scenario, str(path)],
                                 capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
            results[scenario] = json.loads(out.stdout.strip().splitlines()[-1])
        base = results["pandas"]
        print(f"{'scenario':<12} {'seconds':>8} {'peak RSS':>10} {'RSS / vectors':>14} "
              f"{'time ratio':>11} {'RSS ratio':>10}")
        for name, r in results.items():
            print(f"{name:<12} {r['seconds']:>8.1f} {r['peak_rss'] / 2**30:>8.2f} GiB {r['peak_rss'] / raw:>13.2f}x "
                  f"{r['seconds'] / base['seconds']:>10.2f}x {r['peak_rss'] / base['peak_rss']:>9.2f}x")
        print("baseline: pandas (pd.read_parquet + np.stack) in its own process; ratios below 1 are better")


if __name__ == "__main__":
    main()
