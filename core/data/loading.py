"""Load a person's own files into a `Dataset`: by path (CLI) or by uploaded bytes (app).

Formats, chosen by extension:

=====================  =======  ==============================================================
file                   kind     what is read
=====================  =======  ==============================================================
``.csv`` ``.tsv``      text     a table with a header row; one passage per row
``.jsonl`` ``.ndjson`` text     one JSON object per line; one passage per object
``.parquet``           text     a table; one passage per row (read in record batches)
``.arrow`` ``.feather`` text    an Arrow IPC / Feather table, like Parquet
``.txt``               text     one passage per non-empty line
``.npy``               vectors  a 2-D numeric array ``(n, d)`` (never unpickled)
``.npz``               vectors  numpy archive: the base array chosen by name (``array=``), optional
                                ``queries`` and ``neighbors`` arrays (never unpickled)
``.fvecs``             vectors  rows of ``int32 d`` followed by ``d`` float32 values
``.fbin`` ``.ibin``    vectors  big-ann-benchmarks: header ``uint32 n, uint32 d``, then ``n*d``
``.u8bin`` ``.i8bin``           float32 / int32 / uint8 / int8 values
``.hdf5`` ``.h5``      vectors  ann-benchmarks layout: ``train`` (base), ``test`` (queries),
                                optional ``neighbors`` (true k-NN -> qrels), attribute
                                ``distance`` (``angular``/``euclidean``/``dot``)
a folder               text     BEIR: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/test.tsv``
a folder               vectors  VectorDBBench: ``train*.parquet`` (base), ``test.parquet``
                                (queries), ``neighbors.parquet`` (ground truth -> qrels)
=====================  =======  ==============================================================

Any table (CSV, TSV, JSONL, Parquet, Arrow) with a vector column (``vector_column``, or one
named embedding/vector/emb …) is a vector dataset whose texts and labels come along.

Ids: tables use the ``id_column`` when given, else the 0-based row number;
``.txt`` uses the 1-based line number (as an editor shows it); vector files use
the 0-based row index; BEIR uses its ``_id`` fields.

Every problem with the input raises `ValueError` with a message saying what is
wrong, where (line, row, byte offset, column names) and what to do about it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from core.config import MAX_UPLOAD_MB
from core.data.archives import unpack
from core.data.beir import inspect_beir, load_beir
from core.data.dataset import METRICS, Dataset
from core.data.file_info import FileInfo
from core.data.table_files import (
    ARROW_FORMATS,
    inspect_arrow,
    inspect_table,
    load_text_table,
    read_table,
    refuse_columns,
)
from core.data.vdbbench import inspect_vdbbench, is_vdbbench_folder, load_vdbbench
from core.data.vector_files import inspect_vectors, load_vectors

TABLE_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
    ".txt": "txt",
}
VECTOR_FORMATS: dict[str, str] = {
    ".npy": "npy",
    ".npz": "npz",
    ".fvecs": "fvecs",
    ".fbin": "fbin",
    ".ibin": "ibin",
    ".u8bin": "u8bin",
    ".i8bin": "i8bin",
    ".hdf5": "hdf5",
    ".h5": "hdf5",
}
#: Archives of a dataset folder (BEIR, VectorDBBench), unpacked safely into a temporary folder.
ARCHIVE_FORMATS: dict[str, str] = {".zip": "zip"}
SUPPORTED_EXTENSIONS: tuple[str, ...] = (*TABLE_FORMATS, *VECTOR_FORMATS, *ARCHIVE_FORMATS)


# --------------------------------------------------------------------------- #
# Entry points
# --------------------------------------------------------------------------- #


def file_format(path: str | Path) -> str:
    """The format of a path by its extension; a folder is ``"vdbbench"`` (VectorDBBench's
    ``train*.parquet``/``test.parquet``) or ``"beir"``. ValueError if unsupported."""

    path = Path(path)
    if path.is_dir():
        if path.suffix.lower() == ".lance" or (path / "_versions").is_dir():
            return "lance"
        tables = lancedb_tables(path)
        if tables:
            if len(tables) == 1:
                return "lancedb"
            raise ValueError(f"{path.name} is a LanceDB database with {len(tables)} tables "
                             f"({', '.join(t.name for t in tables[:10])}); give the path of one of them")
        return "vdbbench" if is_vdbbench_folder(path) else "beir"
    return _format_from_name(path.name)


def lancedb_tables(folder: Path) -> list[Path]:
    """The ``*.lance`` table folders of a LanceDB database folder, by name."""
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and p.suffix.lower() == ".lance")
    except OSError:
        return []


def _lance_table(path: Path, fmt: str) -> tuple[Path, str]:
    """A LanceDB database folder of one table is that table."""
    return (lancedb_tables(path)[0], "lance") if fmt == "lancedb" else (path, fmt)


def _format_from_name(filename: str) -> str:
    path = Path(filename)
    suffix = path.suffix.lower()
    if suffix in TABLE_FORMATS:
        return TABLE_FORMATS[suffix]
    if suffix in VECTOR_FORMATS:
        return VECTOR_FORMATS[suffix]
    if suffix in ARCHIVE_FORMATS:
        return ARCHIVE_FORMATS[suffix]
    shown = f"'{suffix}'" if suffix else "no extension"
    raise ValueError(
        f"{path.name}: unsupported file type ({shown}); supported: {', '.join(SUPPORTED_EXTENSIONS)}, "
        "a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv) or a VectorDBBench folder "
        "(train.parquet, test.parquet, neighbors.parquet)"
    )


def inspect_file(path: str | Path) -> FileInfo:
    """Detect a file's format and describe its contents without building a dataset.

    Tables report their columns and a few preview rows; vector files their shape.
    """
    path = _existing(path)
    path, fmt = _lance_table(path, file_format(path))
    if fmt == "zip":
        with _unpacked(path) as folder:
            info = inspect_file(folder)
        info.path, info.format = str(path), f"zip ({info.format})"
        return info
    if fmt == "beir":
        return inspect_beir(path)
    if fmt == "vdbbench":
        return inspect_vdbbench(path)
    if fmt in VECTOR_FORMATS.values():
        return inspect_vectors(path, fmt)
    if fmt in ARROW_FORMATS:
        return inspect_arrow(path, fmt)
    return inspect_table(path, fmt, read_table(path, fmt))


def load_file(
    path: str | Path,
    *,
    name: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    id_column: str | None = None,
    metric: str | None = None,
    max_rows: int | None = None,
    vector_column: str | None = None,
    array: str | None = None,
) -> Dataset:
    """Load a file (or BEIR / VectorDBBench folder) as a `Dataset`.

    Args:
        path: the file; its extension picks the format (see the module docstring).
        name: dataset name; default the file name without extension.
        text_column: table column holding the passages; default a column named
            text/passage/content/sentence/body, else the only text column.
        label_column: table column holding categories (optional).
        id_column: table column holding unique ids (optional).
        metric: ``"cosine"``, ``"ip"`` or ``"l2"``; default what the file declares
            (hdf5 ``distance``), else cosine.
        max_rows: keep only the first ``max_rows`` items (after dropping empty texts).
        vector_column: table column holding one vector per row (default: one named
            embedding/vector/emb …); its vectors are used as given, the texts become titles.
        array: the array of an ``.npz`` file holding the base vectors (default: the only 2-D
            array, or one named embeddings/vectors/base/train …).

    Raises:
        ValueError: the file is missing, empty, malformed, or the options do not fit it.
    """
    path = _existing(path)
    path, fmt = _lance_table(path, file_format(path))
    _check_metric(metric)
    _check_max_rows(max_rows)
    name = name or path.stem or path.name
    columns = {"text_column": text_column, "label_column": label_column, "id_column": id_column}
    if fmt != "npz" and array is not None:
        raise ValueError(f"array only applies to .npz files, not to {fmt} input")
    if fmt == "zip":
        refuse_columns("a .zip archive", {**columns, "vector_column": vector_column})
        with _unpacked(path) as folder:
            dataset = load_file(folder, name=name, metric=metric, max_rows=max_rows)
        dataset.params["path"] = str(path)
        return dataset
    if fmt in TABLE_FORMATS.values() or fmt == "lance":
        return load_text_table(path, fmt, name=name, metric=metric, max_rows=max_rows, vector_column=vector_column,
                               **columns)
    refuse_columns(fmt, {**columns, "vector_column": vector_column})
    if fmt == "beir":
        return load_beir(path, name=name, metric=metric, max_rows=max_rows)
    if fmt == "vdbbench":
        return load_vdbbench(path, name=name, metric=metric, max_rows=max_rows)
    return load_vectors(path, fmt, name=name, metric=metric, max_rows=max_rows, array=array)


def check_upload_size(nbytes: int, limit_mb: float = MAX_UPLOAD_MB) -> None:
    """Raise ValueError when an upload is empty or larger than ``limit_mb`` megabytes."""
    if nbytes <= 0:
        raise ValueError("the uploaded file is empty (0 bytes)")
    if nbytes > limit_mb * 1024 * 1024:
        raise ValueError(
            f"the file is {nbytes / 2**20:.1f} MB, over the {limit_mb:g} MB upload limit; "
            "upload a sample of it, or load it by path from the command line (no size limit)"
        )


def load_upload(data: bytes, filename: str, **kwargs: Any) -> Dataset:
    """Load uploaded bytes as if they were the file ``filename`` (see `load_file` for kwargs).

    The bytes go to a temporary file with the same extension, which is deleted
    afterwards. ``params["path"]`` records the uploaded file name.
    """
    check_upload_size(len(data))
    kwargs.setdefault("name", Path(filename).stem)
    with _as_temp_file(data, filename) as path:
        dataset = load_file(path, **kwargs)
    dataset.params["path"] = Path(filename).name
    return dataset


def inspect_upload(data: bytes, filename: str) -> FileInfo:
    """`inspect_file` for uploaded bytes; ``path`` is the uploaded file name."""
    check_upload_size(len(data))
    with _as_temp_file(data, filename) as path:
        info = inspect_file(path)
    info.path = Path(filename).name
    return info


#: Unpacked archives kept under ``<home>/unpacked`` (the least recently used beyond this are removed).
KEEP_UNPACKED = 8


@contextlib.contextmanager
def _unpacked(path: Path) -> Iterator[Path]:
    """The dataset folder inside a checked ``.zip``: unpacked once per archive content (kept under
    ``<home>/unpacked/<content hash>``, written to a temporary sibling and renamed when complete), then
    reused by every later open of the same archive."""
    import hashlib
    import shutil

    from core import config

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    store = config.home() / "unpacked"
    store.mkdir(parents=True, exist_ok=True)
    folder = store / h.hexdigest()[:24]
    if not (folder / ".complete").exists():
        partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=store))
        try:
            unpack(path, partial)
            (partial / ".complete").write_text(path.name, encoding="utf-8")
            try:
                partial.rename(folder)
            except OSError:  # another process unpacked it meanwhile (or a stale one is in the way)
                if not (folder / ".complete").exists():
                    shutil.rmtree(folder, ignore_errors=True)
                    partial.rename(folder)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        _prune_unpacked(store, keep=folder)
    os.utime(folder)  # most recently used
    entries = [p for p in folder.iterdir() if p.name not in ("__MACOSX", ".complete")]
    root = entries[0] if len(entries) == 1 and entries[0].is_dir() else folder
    try:
        kind = file_format(root) if root.is_dir() else None
    except ValueError as exc:  # a LanceDB database of several tables
        raise ValueError(f"{path.name}: {exc}") from None
    if kind not in ("beir", "vdbbench", "lance", "lancedb"):
        raise ValueError(f"{path.name} holds neither a BEIR folder, a VectorDBBench folder nor a Lance table")
    yield root


def _prune_unpacked(store: Path, keep: Path) -> None:
    import shutil

    done = sorted((p for p in store.iterdir() if p.is_dir() and (p / ".complete").exists() and p != keep),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    for old in done[KEEP_UNPACKED - 1:]:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _as_temp_file(data: bytes, filename: str) -> Iterator[Path]:
    """The bytes in a temporary file named like ``filename`` (same extension), removed on exit."""
    safe_name = Path(filename).name or "upload"
    _format_from_name(safe_name)  # refuse unsupported types before writing anything
    with tempfile.TemporaryDirectory(prefix="densescope-upload-") as folder:
        path = Path(folder) / safe_name
        path.write_bytes(data)
        yield path


# --------------------------------------------------------------------------- #
# Argument checks
# --------------------------------------------------------------------------- #


def _existing(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    if path.is_file() and path.stat().st_size == 0:
        raise ValueError(f"{path.name} is empty (0 bytes)")
    return path


def _check_metric(metric: str | None) -> None:
    if metric is not None and metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")


def _check_max_rows(max_rows: int | None) -> None:
    if max_rows is None:
        return
    if isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) or max_rows < 1:
        raise ValueError(f"max_rows must be a positive integer or None (all rows), got {max_rows!r}")
