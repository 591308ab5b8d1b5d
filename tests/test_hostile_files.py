"""Hostile and damaged files (issue 19): each gives one clear ValueError through the loader, the upload
inspector's reader and the CLI (exit 2, one line, no traceback), and leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def beir_zip(path: Path) -> bytes:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("corpus.jsonl", "\n".join(json.dumps({"_id": f"d{i}", "text": f"document {i} " * 20})
                                             for i in range(50)))
        z.writestr("queries.jsonl", "\n".join(json.dumps({"_id": f"q{i}", "text": f"query {i}"}) for i in range(5)))
        z.writestr("qrels/test.tsv", "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(5)))
    return path.read_bytes()


def damaged(tmp: Path, how: str) -> Path:
    data = bytearray(beir_zip(tmp / "good.zip"))
    start = data.find(b"corpus.jsonl") + len("corpus.jsonl") + 10
    if how == "bad-crc":
        data[start] ^= 0xFF
    elif how == "bad-deflate":
        data[start : start + 40] = b"\x55" * 40
    else:  # the central directory names another file than the local header
        at = data.rfind(b"corpus.jsonl")
        data[at : at + 6] = b"CORPUX"
    out = tmp / f"{how}.zip"
    out.write_bytes(bytes(data))
    return out


def make(tmp: Path, case: str) -> Path:
    import h5py

    if case in ("bad-crc", "bad-deflate", "name-mismatch"):
        return damaged(tmp, case)
    if case == "npz-1d-object":
        path = tmp / "obj.npz"
        np.savez(path, a=np.array([1, 2, 3]))
        return path
    if case == "npz-1d":
        path = tmp / "flat.npz"
        np.savez(path, embeddings=np.arange(10, dtype=np.float32))
        return path
    path = tmp / f"{case}.hdf5"
    with h5py.File(path, "w") as f:
        if case == "hdf5-train-group":
            f.create_group("train")
        elif case == "hdf5-train-scalar":
            f.create_dataset("train", data=1.0)
        elif case == "hdf5-test-group":
            f.create_dataset("train", data=np.ones((10, 4), np.float32))
            f.create_group("test")
        else:  # declared (1e9, 1e5): an impossible array in a tiny file
            f.create_dataset("train", shape=(10**9, 10**5), dtype="float32", chunks=(1, 1000))
    return path


CASES = ["bad-crc", "bad-deflate", "name-mismatch", "npz-1d-object", "npz-1d", "hdf5-train-group",
         "hdf5-train-scalar", "hdf5-test-group", "hdf5-huge"]


@pytest.mark.parametrize("case", CASES)
def test_a_hostile_file_is_one_clear_message_everywhere(tmp_path, fresh_home, case):
    from core.data.loading import inspect_file, load_file

    path = make(tmp_path, case)
    readers = [load_file] + ([] if case == "hdf5-huge" else [inspect_file])  # inspecting a header is fine
    for read in readers:
        with pytest.raises(ValueError) as info:
            read(path)
        assert path.name in str(info.value), (read.__name__, str(info.value))
    unpacked = Path(fresh_home) / "unpacked"
    assert not unpacked.exists() or not [p for p in unpacked.iterdir() if not p.name.startswith(".")]
    env = {**os.environ, "DENSESCOPE_HOME": str(fresh_home)}
    done = subprocess.run([sys.executable, "-m", "core", "sweep", "--path", str(path), "--methods", "flat"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-1500:]
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr and path.name in done.stderr


@pytest.mark.parametrize("case", ["npz-1d", "hdf5-test-group"])
def test_a_bad_query_file_is_one_clear_message(tmp_path, fresh_home, case):
    base = tmp_path / "base.npy"
    np.save(base, np.random.default_rng(0).standard_normal((60, 4)).astype(np.float32))
    queries = make(tmp_path, case)
    env = {**os.environ, "DENSESCOPE_HOME": str(fresh_home)}
    done = subprocess.run([sys.executable, "-m", "core", "sweep", "--path", str(base), "--query-file", str(queries),
                           "--methods", "flat"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr, done.stderr


def test_a_zip_is_unpacked_once_however_often_it_is_opened(tmp_path, fresh_home):
    from core.data.loading import inspect_file, load_file

    path = tmp_path / "set.zip"
    beir_zip(path)
    first = load_file(path)
    unpacked = [p for p in (Path(fresh_home) / "unpacked").iterdir() if not p.name.startswith(".")]
    stamp = (unpacked[0] / ".complete").stat().st_mtime_ns
    for _ in range(3):
        inspect_file(path)
        again = load_file(path)
    assert again.ids == first.ids and len(unpacked) == 1
    assert (unpacked[0] / ".complete").stat().st_mtime_ns == stamp  # reused, not written again


def test_uploads_share_a_stated_quota_and_a_visitor_can_delete_their_own(fresh_home, monkeypatch):
    from core.data import uploads

    monkeypatch.setenv("DENSESCOPE_UPLOAD_QUOTA_MB", "0.01")  # 10 KB for all uploads
    small = ("body,topic\n" + "".join(f"note {i} about things,t{i % 2}\n" for i in range(40))).encode()
    name = uploads.save_upload(small, "first.csv", {"text_column": "body"})
    assert uploads.uploads_bytes() > len(small)
    big = ("body\n" + "".join(f"another note number {i}\n" for i in range(600))).encode()
    with pytest.raises(ValueError, match="quota"):
        uploads.save_upload(big, "second.csv", {"text_column": "body"})
    assert uploads.list_user_datasets() == [name]  # nothing half-stored
    assert uploads.save_upload(small, "first.csv", {"text_column": "body"}) == name  # the same file again fits

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "views" / "data.py"), default_timeout=300)
    at.session_state["ws_spec"] = {"dataset": name, "params": {}, "encoder": "tfidf-svd", "encoder_options": {}}
    at.run()
    assert not at.exception and not [b for b in at.button if b.key == "upload_delete"]  # not this visitor's
    at.session_state["my_uploads"] = {name}
    at.run()
    at.button(key="upload_delete").click().run()
    at.button(key="upload_delete_yes").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert uploads.list_user_datasets() == []
