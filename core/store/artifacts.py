"""Content-addressed artifact cache: arrays on disk as ``.npy`` + JSON metadata.

An artifact is identified by a *kind* (``"embeddings"``, ``"knn"``, ``"lid"``,
``"umap"``, ...) and a *key*: the hash of everything it was computed from
(`artifact_key`). Writes are atomic (temp file, fsync, rename) and the metadata
records the array's shape, dtype, byte size and SHA-256, so a truncated or
corrupted file is detected on load, deleted and recomputed -- never returned.
Arrays are always loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core import config


def artifact_key(*parts: object) -> str:
    """Stable 24-hex-char hash of JSON-serialisable parts (dicts are key-sorted)."""

    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write_bytes(path: Path, write: Callable[[object], None]) -> tuple[int, str]:
    """Write ``path`` through a temp file and a rename; returns the size and SHA-256 of what was
    written, read from the temp file before the rename (another process may replace ``path`` after)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        size, digest = os.stat(tmp).st_size, _sha256_file(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return size, digest


#: Temp files older than this are left by a killed write (a live write finishes far sooner).
STALE_TEMP_S = 15 * 60
_SWEPT: set[Path] = set()


def sweep_stale_temp_files(root: Path, max_age_s: float = STALE_TEMP_S) -> int:
    """Delete the ``.<name>.<random>.tmp`` files killed writes left under ``root``; return how many."""
    now, removed = time.time(), 0
    for tmp in root.glob("*/.*.tmp"):
        try:
            if now - tmp.stat().st_mtime > max_age_s:
                tmp.unlink()
                removed += 1
        except OSError:
            continue
    return removed


#: Every notice of this process not yet taken, for a command to print when it ends (`take_process_notices`).
_PROCESS_NOTICES: list[str] = []
_NOTICES_LOCK = threading.Lock()


def take_process_notices() -> list[str]:
    """What went wrong with cached files anywhere in this process and was not reported yet, cleared."""
    with _NOTICES_LOCK:
        out = list(_PROCESS_NOTICES)
        _PROCESS_NOTICES.clear()
    return out


class ArtifactCache:
    """Arrays keyed by (kind, key) under one folder.

    Layout: ``root/<kind>/<key>.npy`` and ``root/<kind>/<key>.json``. The JSON is
    written last, so an artifact without metadata is an interrupted write and is
    ignored (and cleaned up).
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else config.cache_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        #: What went wrong with cached files since the last `take_notices` (shown to the person).
        self.notices: list[str] = []
        if self.root not in _SWEPT:
            _SWEPT.add(self.root)
            sweep_stale_temp_files(self.root)

    def take_notices(self) -> list[str]:
        """The notices collected so far, cleared (here and in `take_process_notices`)."""
        out, self.notices = self.notices, []
        with _NOTICES_LOCK:
            for notice in out:
                if notice in _PROCESS_NOTICES:
                    _PROCESS_NOTICES.remove(notice)
        return out

    def _paths(self, kind: str, key: str) -> tuple[Path, Path]:
        if not kind.replace("-", "").replace("_", "").isalnum() or not key.isalnum():
            raise ValueError(f"bad artifact name {kind!r}/{key!r}")
        d = self.root / kind
        return d / f"{key}.npy", d / f"{key}.json"

    def record(self, kind: str, key: str) -> dict | None:
        """The artifact's metadata record, read without loading the array (``None`` when absent).

        Checks that the array file is there with the recorded size; the checksum is
        verified only by `load`.
        """
        npy, js = self._paths(kind, key)
        try:
            record = json.loads(js.read_text())
            if npy.stat().st_size != record["bytes"]:
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return record

    def exists(self, kind: str, key: str) -> bool:
        """Whether a complete artifact is present (cheap: metadata and file size only)."""
        return self.record(kind, key) is not None

    def save(self, kind: str, key: str, array: np.ndarray, meta: dict | None = None) -> Path:
        """Write an array and its metadata atomically; return the .npy path."""
        npy, js = self._paths(kind, key)
        array = np.ascontiguousarray(array)
        if array.dtype == object:
            raise ValueError("object arrays cannot be cached (they would need pickle)")
        js.unlink(missing_ok=True)  # invalidate first: metadata is the commit marker
        size, digest = _atomic_write_bytes(npy, lambda f: np.save(f, array, allow_pickle=False))
        record = {
            "kind": kind,
            "key": key,
            "shape": list(array.shape),
            "dtype": str(array.dtype),
            "bytes": size,
            "sha256": digest,
            "created": time.time(),
            "meta": meta or {},
        }
        _atomic_write_bytes(js, lambda f: f.write(json.dumps(record, default=str, indent=1).encode()))
        return npy

    def load(self, kind: str, key: str, *, verify: bool = True) -> tuple[np.ndarray, dict] | None:
        """Return ``(array, meta)`` or ``None`` when missing or invalid.

        An invalid artifact (truncated, wrong checksum, unreadable metadata,
        shape/dtype mismatch) is deleted so the caller recomputes it. Several processes may share the
        cache (app servers behind one proxy, docs/SCALING.md): an array without metadata is another
        process's write in progress (a miss), deleted only once it is `STALE_TEMP_S` old; an
        artifact whose metadata changed while it was read was rewritten meanwhile and is read again.
        """
        for _ in range(3):
            outcome = self._load_once(kind, key, verify)
            if outcome != "rewritten":
                return outcome
        return None

    def _load_once(self, kind: str, key: str, verify: bool):
        npy, js = self._paths(kind, key)
        if not js.exists() or not npy.exists():
            if npy.exists() and not js.exists():
                with contextlib.suppress(OSError):
                    if time.time() - npy.stat().st_mtime > STALE_TEMP_S:
                        npy.unlink()  # a write interrupted long ago
            return None
        text = None
        try:
            text = js.read_text()
            record = json.loads(text)
            if npy.stat().st_size != record["bytes"]:
                raise ValueError("truncated: size differs from the record")
            if verify and _sha256_file(npy) != record["sha256"]:
                raise ValueError("checksum")
            array = np.load(npy, allow_pickle=False, mmap_mode=None)
            if list(array.shape) != record["shape"] or str(array.dtype) != record["dtype"]:
                raise ValueError("shape/dtype differ from the record")
        except Exception as exc:
            with contextlib.suppress(OSError):
                if text is not None and js.read_text() != text:
                    return "rewritten"  # another process committed a new write while this one read
            if not js.exists():
                return None  # another process is rewriting it now: a miss, not a corrupt file
            reason = str(exc) if isinstance(exc, ValueError) and exc.args else "unreadable"
            notice = f"cached {kind} were corrupt ({reason}); deleted and recomputed"
            self.notices.append(notice)
            with _NOTICES_LOCK:
                _PROCESS_NOTICES.append(notice)
            self.delete(kind, key)
            return None
        return array, record.get("meta", {})

    def delete(self, kind: str, key: str) -> None:
        npy, js = self._paths(kind, key)
        js.unlink(missing_ok=True)
        npy.unlink(missing_ok=True)

    def get_or_compute(
        self, kind: str, key: str, compute: Callable[[], tuple[np.ndarray, dict] | np.ndarray]
    ) -> tuple[np.ndarray, dict]:
        """Load the artifact, or compute, save and return it."""
        hit = self.load(kind, key)
        if hit is not None:
            return hit
        out = compute()
        array, meta = out if isinstance(out, tuple) else (out, {})
        self.save(kind, key, array, meta)
        return array, meta

    def list(self, kind: str | None = None) -> list[dict]:
        """Metadata records of the artifacts present (newest first)."""
        kinds = [kind] if kind else [p.name for p in self.root.iterdir() if p.is_dir()]
        out = []
        for k in kinds:
            d = self.root / k
            if not d.is_dir():
                continue
            for js in d.glob("*.json"):
                try:
                    out.append(json.loads(js.read_text()))
                except (OSError, ValueError):
                    continue
        return sorted(out, key=lambda r: -r.get("created", 0))
