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
import tempfile
import time
from pathlib import Path

from core import config
from core.data.dataset import Dataset, subsample

PREFIX = "upload:"
#: All uploads together may take at most this much disk (``DENSESCOPE_UPLOAD_QUOTA_MB``), stated on the Data page.
DEFAULT_QUOTA_MB = 2_000


def upload_quota_bytes() -> int:
    import os

    try:
        mb = float(os.environ.get("DENSESCOPE_UPLOAD_QUOTA_MB", DEFAULT_QUOTA_MB))
    except ValueError:
        mb = DEFAULT_QUOTA_MB
    return int(max(mb, 0.001) * 2**20)


def uploads_bytes() -> int:
    """Disk taken by the stored uploads (their files, not the caches derived from them)."""
    total = 0
    for folder in uploads_dir().iterdir():
        if folder.is_dir() and not folder.name.startswith("."):
            total += sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return total


def check_quota(new_bytes: int) -> None:
    """ValueError when storing ``new_bytes`` more would pass the uploads' quota."""
    used, quota = uploads_bytes(), upload_quota_bytes()
    if used + new_bytes > quota:
        raise ValueError(f"uploads on this server take {used / 2**20:,.0f} MB of their {quota / 2**20:,.0f} MB quota; "
                         f"this one ({new_bytes / 2**20:,.1f} MB) does not fit. Delete an upload you added (Data page, "
                         "'Delete this upload'), or ask the operator to raise DENSESCOPE_UPLOAD_QUOTA_MB")


def uploads_dir() -> Path:
    d = config.home() / "uploads"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _slug(filename: str) -> str:
    stem = Path(filename).stem or "data"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-")[:40] or "data"


#: Files that can be attached to an upload: queries (texts or vectors) and relevance judgments.
ATTACHMENTS: tuple[str, ...] = ("queries", "qrels", "labels")


def save_upload(data: bytes, filename: str, options: dict | None = None,
                attachments: dict[str, tuple[bytes, str]] | None = None) -> str:
    """Validate and store an uploaded file; return its dataset name (``upload:...``).

    ``attachments`` maps ``"queries"``/``"qrels"`` to ``(bytes, file name)``: a query file and a
    qrels file kept with the upload and attached whenever it is opened. Everything is written to a
    private folder and loaded once from there, so a bad file raises ValueError and nothing is kept.
    """
    from core.data.loading import check_upload_size

    check_upload_size(len(data))
    options = {k: v for k, v in (options or {}).items() if v not in (None, "")}
    attachments = {k: v for k, v in (attachments or {}).items() if v is not None}
    unknown = set(attachments) - set(ATTACHMENTS)
    if unknown:
        raise ValueError(f"unknown attachment(s) {', '.join(sorted(unknown))}; expected {', '.join(ATTACHMENTS)}")
    h = hashlib.sha256(data)
    for role in ATTACHMENTS:
        if role in attachments:
            check_upload_size(len(attachments[role][0]))
            h.update(role.encode() + attachments[role][0])
    name = f"{_slug(filename)}-{h.hexdigest()[:10]}"
    if not (uploads_dir() / name).exists():  # the same content again replaces itself: no new space
        check_quota(len(data) + sum(len(c) for c, _ in attachments.values()))
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=uploads_dir()))
    try:
        record = {"file": _safe_name(filename), "options": options, "uploaded": time.time(), "bytes": len(data)}
        (staging / record["file"]).write_bytes(data)
        for role, (content, attached_name) in attachments.items():
            stored = f"{role}-{_safe_name(attached_name)}"
            (staging / stored).write_bytes(content)
            record[role] = stored
        ds = _load_record(staging, record)  # raises ValueError on bad input
        record["kind"] = ds.kind
        (staging / "dataset.json").write_text(json.dumps(record, indent=1))
        folder = uploads_dir() / name
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return PREFIX + name


def _safe_name(filename: str) -> str:
    """The file's own name (no folders), for storing it."""
    return Path(filename).name or "upload"


def _load_record(folder: Path, record: dict) -> Dataset:
    from core.data.judgments import attach_judgments, read_qrels, read_queries
    from core.data.loading import load_file

    ds = load_file(folder / record["file"], **record.get("options", {}))
    queries = read_queries(folder / record["queries"]) if record.get("queries") else None
    qrels = read_qrels(folder / record["qrels"]) if record.get("qrels") else None
    if record.get("labels"):
        from core.data.judgments import attach_labels, read_labels

        name = record["labels"].removeprefix("labels-")
        ds = attach_labels(ds, *read_labels(folder / record["labels"]), filename=name)
    ds = attach_judgments(ds, queries, qrels)
    ds.params["path"] = record["file"]  # the uploaded name, never the server's folder
    return ds


def upload_kind(name: str) -> str:
    """``"text"`` or ``"vectors"``: what a stored upload holds (recorded when it was added)."""
    meta = uploads_dir() / name.removeprefix(PREFIX) / "dataset.json"
    try:
        return str(json.loads(meta.read_text()).get("kind") or "")
    except (OSError, ValueError):
        return ""


def list_user_datasets() -> list[str]:
    """Names (``upload:...``) of stored uploads, newest first."""
    entries = []
    for d in uploads_dir().iterdir():
        if d.name.startswith("."):  # a staging folder of an upload being checked
            continue
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
    folder = uploads_dir() / name.removeprefix(PREFIX)
    meta = folder / "dataset.json"
    if not meta.exists():
        raise ValueError(f"no uploaded dataset named {name!r}; upload it again on the Data page")
    record = json.loads(meta.read_text())
    ds = _load_record(folder, record)
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
