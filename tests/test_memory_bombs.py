"""Files that declare far more than they hold are refused from their headers, before any allocation
(issue 19): an HDF5 declaring 1M x 256, an .npz that unpacks to a gigabyte, a tiny Parquet of repeated
vectors. Each load runs in a child process whose peak memory is measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys
from core.data.loading import load_file
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_file(sys.argv[1])
    outcome = "loaded"
except ValueError as exc:
    outcome = str(exc)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "grew_mb": (after - before) / 1024}))
"""


def load_in_child(path: Path, limit_gb: float) -> dict:
    env = {**os.environ, "DENSESCOPE_MAX_ARRAY_GB": str(limit_gb)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def hdf5_bomb(path: Path) -> Path:
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:  # chunked, never written: a few KB on disk for 1 GiB declared
        f.create_dataset("train", shape=(1_000_000, 256), dtype="float32", chunks=(1024, 256))
        f.create_dataset("test", shape=(10, 256), dtype="float32")
    return path


def npz_bomb(path: Path) -> Path:
    np.savez_compressed(path, embeddings=np.zeros((100_000, 256), dtype=np.float32))  # 100 MB unpacked
    return path


def parquet_bomb(path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = pa.array([[0.5] * 256], type=pa.list_(pa.float32()))
    column = pa.chunked_array([row] * 100_000)  # the same list, 100,000 times: tiny once compressed
    pq.write_table(pa.table({"embedding": column}), path, compression="zstd")
    return path


@pytest.mark.parametrize("make", [hdf5_bomb, npz_bomb, parquet_bomb], ids=["hdf5", "npz", "parquet"])
def test_a_file_declaring_more_than_the_limit_is_refused_before_reading(tmp_path, make):
    suffix = {"hdf5_bomb": ".hdf5", "npz_bomb": ".npz", "parquet_bomb": ".parquet"}[make.__name__]
    path = make(tmp_path / f"bomb{suffix}")
    assert path.stat().st_size < 2 * 2**20  # small on disk
    result = load_in_child(path, limit_gb=0.05)  # 51 MB per array
    assert "over this server's limit" in result["outcome"], result
    assert "DENSESCOPE_MAX_ARRAY_GB" in result["outcome"]
    assert result["grew_mb"] < 60, result  # nothing near the declared size was allocated


def test_under_the_limit_the_same_file_loads(tmp_path):
    path = npz_bomb(tmp_path / "fine.npz")
    result = load_in_child(path, limit_gb=1)
    assert "over this server's limit" not in result["outcome"], result  # (all-zero vectors are refused as data)


def test_the_limit_follows_the_machine_by_default(monkeypatch):
    from core.data import limits

    monkeypatch.delenv("DENSESCOPE_MAX_ARRAY_GB", raising=False)
    total = limits.machine_memory_bytes()
    assert total is None or limits.max_array_bytes() == max(limits.FLOOR_BYTES, int(total * limits.MEMORY_SHARE))
    monkeypatch.setenv("DENSESCOPE_MAX_ARRAY_GB", "2")
    assert limits.max_array_bytes() == 2 * 2**30
    with pytest.raises(ValueError, match=r"2\.00 GiB per array"):
        limits.check_array_size(1_000_000, 1024, "big.npy")
    limits.check_array_size(1_000, 1024, "small.npy")
