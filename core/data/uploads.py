"""User datasets: files uploaded in the app, kept under ``DENSESCOPE_HOME/uploads``.

An upload is stored once (content-addressed) with the options it was loaded
with (text column, label column, metric), so it appears in the dataset picker of
every later session and a shared link can name it: ``upload:<name>``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from pathlib import Path

from core import config
from core.data.dataset import Dataset, subsample

PREFIX = "upload:"


def uploads_dir() -> Path:
    d = config.home() / "uploads"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _slug(filename: str) -> str:
    stem = Path(filename).stem or "data"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-")[:40] or "data"


def save_upload(data: bytes, filename: str, options: dict | None = None) -> str:
    """Validate and store an uploaded file; return its dataset name (``upload:...``).

    The file is loaded once before it is kept, so a bad file raises ValueError
    here and nothing is stored.
    """

    from core.data.loading import check_upload_size, load_upload

    check_upload_size(len(data))
    options = {k: v for k, v in (options or {}).items() if v not in (None, "")}
    load_upload(data, filename, **options)  # raises ValueError on bad input
    digest = hashlib.sha256(data).hexdigest()[:10]
    name = f"{_slug(filename)}-{digest}"
    folder = uploads_dir() / name
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(filename).name
    tmp = folder / (target.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    record = {"file": target.name, "options": options, "uploaded": time.time(), "bytes": len(data)}
    (folder / "dataset.json").write_text(json.dumps(record, indent=1))
    return PREFIX + name


def list_user_datasets() -> list[str]:
    """Names (``upload:...``) of stored uploads, newest first."""
    entries = []
    for d in uploads_dir().iterdir():
        meta = d / "dataset.json"
        if meta.exists():
            try:
                entries.append((json.loads(meta.read_text()).get("uploaded", 0), PREFIX + d.name))
            except ValueError:
                continue
    return [name for _, name in sorted(entries, reverse=True)]


def delete_user_dataset(name: str) -> None:
    folder = uploads_dir() / name.removeprefix(PREFIX)
    if folder.is_dir() and folder.parent == uploads_dir():
        shutil.rmtree(folder)


def load_user_dataset(name: str) -> Dataset:
    from core.data.loading import load_file

    folder = uploads_dir() / name.removeprefix(PREFIX)
    meta = folder / "dataset.json"
    if not meta.exists():
        raise ValueError(f"no uploaded dataset named {name!r}; upload it again on the Data page")
    record = json.loads(meta.read_text())
    ds = load_file(folder / record["file"], **record.get("options", {}))
    ds.name = name
    return ds


def open_dataset(name: str, progress=None, **params) -> Dataset:
    """A built-in dataset by name (with params) or a stored upload (``upload:...``)."""
    if name.startswith(PREFIX):
        limit, seed = params.pop("limit", None), params.pop("seed", 0)
        ds = load_user_dataset(name)
        return subsample(ds, int(limit), int(seed)) if limit else ds
    from core.data.builtin import load_dataset

    return load_dataset(name, progress=progress, **params)
