"""Arrow-backed tables (Parquet, Arrow IPC / Feather): columns read in record batches.

A table with a vector column is read batch by batch into one preallocated float32
``(n, d)`` array, so a 1M x 384 Parquet file is never held as Python lists nor as two
full copies: peak memory is the result plus one batch. The vector column may be a
list, large list or fixed-size list of numbers (what pandas, Hugging Face datasets,
LanceDB and Embedding Atlas write), or strings holding JSON arrays.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.data.limits import check_array_size

#: Rows per record batch read from a Parquet file.
BATCH_ROWS = 65_536
#: Row numbers (1-based) quoted in a message about bad vectors.
ROWS_QUOTED = 5
#: The first bytes of an Arrow IPC file (Feather v2) and of a Feather v1 file.
ARROW_MAGIC, FEATHER_V1_MAGIC = b"ARROW1", b"FEA1"


def _readable_error(path: Path, fmt: str, exc: Exception) -> ValueError:
    kind = {"parquet": "Parquet", "lance": "Lance"}.get(fmt, "Arrow/Feather")
    return ValueError(f"{path.name} is not a readable {kind} file: {exc}")


class ArrowSource:
    """One Parquet or Arrow IPC/Feather file: schema, row count and batches of chosen columns."""

    def __init__(self, path: Path, fmt: str):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path, self.fmt = path, fmt
        self._table = None
        self._lance = None
        try:
            if fmt == "lance":  # a LanceDB table folder: scanned in record batches like Parquet
                import lance

                self._lance = lance.dataset(str(path))
                self.schema = self._lance.schema
                self.num_rows = int(self._lance.count_rows())
                return
            if fmt == "parquet":
                self._parquet = pq.ParquetFile(path)
                self.schema = self._parquet.schema_arrow
                self.num_rows = int(self._parquet.metadata.num_rows)
                return
            with open(path, "rb") as f:
                head = f.read(6)
            if head.startswith(FEATHER_V1_MAGIC):  # Feather v1 has no batches: read it whole
                import pyarrow.feather as feather

                self._table = feather.read_table(path)
            elif head == ARROW_MAGIC:
                self._table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()  # memory-mapped, no copy
            else:
                self._table = pa.ipc.open_stream(pa.memory_map(str(path))).read_all()
        except Exception as e:  # pyarrow raises ArrowInvalid, OSError, ... for a broken file
            raise _readable_error(path, fmt, e) from None
        self.schema = self._table.schema
        self.num_rows = self._table.num_rows

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)

    def declared_values(self, column: str) -> int | None:
        """How many leaf values a Parquet list column holds, from the file's metadata (nothing decoded);
        ``None`` for Arrow files (memory-mapped) or a column the metadata does not describe."""
        if self._table is not None or self._lance is not None:
            return None
        meta = self._parquet.metadata
        leaves = [i for i in range(meta.num_columns) if meta.schema.column(i).path.split(".")[0] == column]
        if len(leaves) != 1:
            return None
        return sum(int(meta.row_group(g).column(leaves[0]).num_values) for g in range(meta.num_row_groups))

    def text_columns(self) -> list[str]:
        import pyarrow as pa

        return [f.name for f in self.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]

    def batches(self, columns: list[str], batch_rows: int = BATCH_ROWS) -> Iterator:
        """Record batches holding ``columns``, in row order."""
        try:
            if self._table is not None:
                yield from self._table.select(columns).to_batches(max_chunksize=batch_rows)
            elif self._lance is not None:
                yield from self._lance.to_batches(columns=columns, batch_size=batch_rows)
            else:
                # A reader of its own, dropped when the loop ends: a ParquetFile keeps what it decoded
                # alive (measured: the whole column, 0.57 GB of 400k x 384, until the file object goes),
                # and pre-buffering reads ahead whole row groups.
                import pyarrow.parquet as pq

                reader = pq.ParquetFile(self.path, pre_buffer=False)
                try:
                    yield from reader.iter_batches(batch_size=batch_rows, columns=columns)
                finally:
                    reader.close()
        except Exception as e:
            raise _readable_error(self.path, self.fmt, e) from None

    def pylist(self, column: str, n: int | None = None) -> list:
        """One column (its first ``n`` rows) as Python values."""
        out: list = []
        for batch in self.batches([column]):
            out.extend(batch.column(0).to_pylist())
            if n is not None and len(out) >= n:
                break
        return out if n is None else out[:n]

    def preview(self, rows: int) -> list[dict]:
        batch = next(self.batches(self.columns, batch_rows=rows), None)
        return [] if batch is None else batch.to_pylist()[:rows]


def vector_cell(value: Any) -> np.ndarray | None:
    """One cell as a float vector: a list (Parquet, JSONL) or a JSON array in a string (CSV); else None."""
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
    if isinstance(value, (list, tuple, np.ndarray)):
        try:
            return np.asarray(value, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            return None
    return None


def rows_text(rows: list[int]) -> str:
    """``row 3`` / ``rows 3, 7, 9 …`` (1-based) for messages."""
    shown = ", ".join(str(r + 1) for r in rows[:ROWS_QUOTED])
    return f"row {shown}" if len(rows) == 1 else f"rows {shown}" + (" …" if len(rows) > ROWS_QUOTED else "")


@dataclass
class _BadRows:
    """Row numbers (0-based) of each kind of bad vector, counted in full, quoted in part."""

    counts: dict[str, int] = field(default_factory=dict)
    quoted: dict[str, list[int]] = field(default_factory=dict)

    def add(self, kind: str, rows: np.ndarray) -> None:
        if rows.size:
            self.counts[kind] = self.counts.get(kind, 0) + int(rows.size)
            have = self.quoted.setdefault(kind, [])
            have.extend(int(r) for r in rows[: max(0, ROWS_QUOTED + 1 - len(have))])

    def describe(self, kind: str, what: str) -> str | None:
        if kind not in self.counts:
            return None
        return f"{self.counts[kind]:,} {what} ({rows_text(self.quoted[kind])})"


def _first_batch_dim(col, is_list: bool, as_vector, name: str, column: str) -> int:
    """The most common vector length in the first batch (the file's dimension ``d``)."""
    import pyarrow.compute as pc

    if is_list:
        lengths = pc.list_value_length(col).fill_null(0).to_numpy(zero_copy_only=False)
    else:
        lengths = np.array([0 if v is None else v.size for v in map(as_vector, col)], dtype=np.int64)
    lengths = lengths[lengths > 0]
    if lengths.size:
        return int(np.bincount(lengths).argmax())
    if is_list:
        raise ValueError(f"{name}: column {column!r} holds empty vectors")
    raise ValueError(f"{name}: column {column!r} is not a list of numbers in its first rows; each cell must be "
                     "an array of floats (a JSON array like [0.1, 0.2])")


def _fill_block(block: np.ndarray, col, ftype, d: int, as_vector) -> np.ndarray:
    """Write one batch's vectors into ``block`` (bad rows zeroed); return each row's length (-1: null/unreadable).

    ``col`` is an Arrow list array of type ``ftype``, or (``ftype`` None) a Python list of cells.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    m = len(col)
    if ftype is None:
        vectors = [as_vector(c) for c in col]
        lengths = np.array([-1 if v is None else v.size for v in vectors], dtype=np.int64)
        for i in np.flatnonzero(lengths == d):
            block[i] = vectors[i]
    elif pa.types.is_fixed_size_list(ftype):  # every row, null or not, owns d slots of the child array
        block[:] = col.values.slice(col.offset * d, m * d).to_numpy(zero_copy_only=False).reshape(m, d)
        lengths = np.where(col.is_null().to_numpy(zero_copy_only=False), -1, d)
    else:
        lengths = pc.list_value_length(col).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        values = col.flatten().to_numpy(zero_copy_only=False)
        if (lengths == d).all():
            block[:] = values.reshape(m, d)
        else:
            ends = np.cumsum(np.maximum(lengths, 0))
            for i in np.flatnonzero(lengths == d):
                block[i] = values[ends[i] - d : ends[i]]
    block[lengths != d] = 0
    return lengths


def read_vector_column(source: ArrowSource, column: str, n: int, as_vector) -> np.ndarray:
    """The first ``n`` rows of ``column`` as float32 ``(n, d)``, read batch by batch.

    ``as_vector`` turns one Python cell into a float vector or None (used for string columns).
    ValueError when the column's type cannot hold vectors, or listing every kind of bad row.
    """
    import pyarrow as pa

    name = source.path.name
    ftype = source.schema.field(column).type
    is_list = pa.types.is_list(ftype) or pa.types.is_large_list(ftype) or pa.types.is_fixed_size_list(ftype)
    if is_list and not (pa.types.is_integer(ftype.value_type) or pa.types.is_floating(ftype.value_type)):
        raise ValueError(f"{name}: column {column!r} holds lists of {ftype.value_type}, not numbers; "
                         "each cell must be an array of floats")
    if not is_list and not (pa.types.is_string(ftype) or pa.types.is_large_string(ftype)):
        raise ValueError(f"{name}: column {column!r} is of type {ftype}, not a list of numbers; "
                         "each cell must be an array of floats")

    def columns() -> Iterator:
        start = 0
        for batch in source.batches([column]):
            if start >= n:
                return
            col = batch.column(0).slice(0, n - start)
            start += len(col)
            yield col if is_list else col.to_pylist()

    d = int(ftype.list_size) if pa.types.is_fixed_size_list(ftype) else None
    if is_list:  # what the file declares, before a row group is decoded
        values = source.declared_values(column)
        if d is not None:
            check_array_size(n, d, f"{name} (column {column!r})")
        elif values is not None and source.num_rows:
            check_array_size(n, max(1, -(-values // source.num_rows)), f"{name} (column {column!r})")
    return vectors_from_batches(columns(), n, d, as_vector, name, column, ftype=ftype if is_list else None)


def vectors_from_batches(batches, n: int, d: int | None, as_vector, name: str, column: str, ftype=None) -> np.ndarray:
    """Stack batches of vector cells (Arrow list arrays of type ``ftype``, or Python lists of cells) into
    float32 ``(n, d)``; ``d`` (when None) is the most common length in the first batch.

    Raises one ValueError counting and quoting (1-based) the rows that are unreadable, of the wrong
    length, non-finite or all zeros: nothing is loaded from a file with bad rows.
    """
    out: np.ndarray | None = None
    bad = _BadRows()
    start = 0
    for col in batches:
        m = len(col)
        if out is None:
            d = d or _first_batch_dim(col, ftype is not None, as_vector, name, column)
            check_array_size(n, d, f"{name} (column {column!r})")  # before the (n, d) block is allocated
            out = np.empty((n, d), dtype=np.float32)
        block = out[start : start + m]
        lengths = _fill_block(block, col, ftype, d, as_vector)
        bad.add("unreadable", np.flatnonzero(lengths < 0) + start)
        bad.add("length", np.flatnonzero((lengths >= 0) & (lengths != d)) + start)
        ok = lengths == d
        bad.add("nonfinite", np.flatnonzero(ok & ~np.isfinite(block).all(axis=1)) + start)
        bad.add("zero", np.flatnonzero(ok & ~block.any(axis=1)) + start)
        start += m
    if out is None or start == 0:
        raise ValueError(f"{name}: column {column!r} has no rows")
    problems = [p for p in (bad.describe("unreadable", "not a list of numbers"),
                            bad.describe("length", f"with a length other than {d}"),
                            bad.describe("nonfinite", "with NaN or inf"),
                            bad.describe("zero", "all zeros")) if p]
    if problems:
        raise ValueError(f"{name}: column {column!r} has bad vectors: " + "; ".join(problems)
                         + ". Each cell must be an array of floats (a JSON array like [0.1, 0.2] in CSV). "
                         "Fix or drop those rows and load it again; nothing was loaded")
    return out
