import json
import os
import time

import numpy as np
import pytest

from core.store.artifacts import STALE_TEMP_S, ArtifactCache, artifact_key


@pytest.fixture
def cache(tmp_path):
    return ArtifactCache(tmp_path / "artifacts")


def test_round_trip_keeps_array_and_meta(cache):
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    cache.save("embeddings", "abc123", x, {"encoder": "minilm"})
    y, meta = cache.load("embeddings", "abc123")
    np.testing.assert_array_equal(x, y)
    assert meta == {"encoder": "minilm"}


def test_key_is_stable_and_order_independent_for_dicts():
    assert artifact_key("a", {"x": 1, "y": 2}) == artifact_key("a", {"y": 2, "x": 1})
    assert artifact_key("a", {"x": 1}) != artifact_key("a", {"x": 2})


def test_truncated_file_is_detected_and_removed(cache):
    x = np.random.default_rng(0).normal(size=(100, 8)).astype(np.float32)
    npy = cache.save("embeddings", "k1", x)
    data = npy.read_bytes()
    npy.write_bytes(data[: len(data) // 2])
    assert cache.load("embeddings", "k1") is None
    assert not npy.exists()


def test_flipped_byte_is_detected_by_checksum(cache):
    x = np.ones((50, 4), dtype=np.float32)
    npy = cache.save("embeddings", "k2", x)
    data = bytearray(npy.read_bytes())
    data[-3] ^= 0xFF
    npy.write_bytes(bytes(data))
    assert cache.load("embeddings", "k2") is None


def test_missing_metadata_means_interrupted_write(cache):
    x = np.ones((5, 4), dtype=np.float32)
    npy = cache.save("embeddings", "k3", x)
    npy.with_suffix(".json").unlink()
    assert cache.load("embeddings", "k3") is None
    # a fresh array without metadata may be another process's write in progress: kept
    assert npy.exists()
    old = time.time() - STALE_TEMP_S - 60
    os.utime(npy, (old, old))
    assert cache.load("embeddings", "k3") is None
    assert not npy.exists()  # an old one is a write interrupted long ago: deleted


def test_garbage_metadata_is_ignored(cache):
    npy = cache.save("embeddings", "k4", np.ones((2, 2), dtype=np.float32))
    npy.with_suffix(".json").write_text("{not json")
    assert cache.load("embeddings", "k4") is None


def test_failed_compute_leaves_nothing(cache):
    def boom():
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        cache.get_or_compute("embeddings", "k5", boom)
    assert cache.load("embeddings", "k5") is None
    assert list((cache.root).rglob("*.tmp")) == []


def test_get_or_compute_computes_once(cache):
    calls = []

    def compute():
        calls.append(1)
        return np.zeros((3, 3), dtype=np.float32), {"n": 3}

    cache.get_or_compute("knn", "k6", compute)
    arr, meta = cache.get_or_compute("knn", "k6", compute)
    assert len(calls) == 1 and meta == {"n": 3} and arr.shape == (3, 3)


def test_object_arrays_are_refused(cache):
    with pytest.raises(ValueError, match="pickle"):
        cache.save("embeddings", "k7", np.array([{"a": 1}], dtype=object))


def test_listing_shows_metadata(cache):
    cache.save("lid", "k8", np.ones(3, dtype=np.float32), {"k": 100})
    records = cache.list("lid")
    assert records[0]["meta"] == {"k": 100}
    assert json.loads(json.dumps(records))  # JSON-clean


def test_corruption_leaves_a_notice_for_the_person(cache):
    cache.save("emb", "k1", np.arange(6, dtype=np.float32))
    npy = cache.root / "emb" / "k1.npy"
    npy.write_bytes(npy.read_bytes()[:-3])
    assert cache.load("emb", "k1") is None
    assert cache.take_notices() == ["cached emb were corrupt (truncated: size differs from the record); deleted and "
                                    "recomputed"]
    assert cache.take_notices() == []


def test_stale_temp_files_of_killed_writes_are_swept(tmp_path):
    import os
    import time

    from core.store.artifacts import ArtifactCache, sweep_stale_temp_files

    (tmp_path / "emb").mkdir()
    old = tmp_path / "emb" / ".k1.npy.abc123.tmp"
    fresh = tmp_path / "emb" / ".k2.npy.def456.tmp"
    old.write_bytes(b"")
    fresh.write_bytes(b"")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    ArtifactCache(tmp_path)  # the first cache opened on a folder sweeps it
    assert not old.exists() and fresh.exists()  # a write in progress elsewhere is left alone
    assert sweep_stale_temp_files(tmp_path, max_age_s=0) == 1 and not fresh.exists()
