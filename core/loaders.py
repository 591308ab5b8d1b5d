"""Load a person's own files into a `Dataset`: by path (CLI) or by uploaded bytes (app).

Formats, chosen by extension:

=====================  =======  ==============================================================
file                   kind     what is read
=====================  =======  ==============================================================
``.csv`` ``.tsv``      text     a table with a header row; one passage per row
``.jsonl`` ``.ndjson`` text     one JSON object per line; one passage per object
``.parquet``           text     a table; one passage per row
``.txt``               text     one passage per non-empty line
``.npy``               vectors  a 2-D numeric array ``(n, d)`` (never unpickled)
``.fvecs``             vectors  rows of ``int32 d`` followed by ``d`` float32 values
``.hdf5`` ``.h5``      vectors  ann-benchmarks layout: ``train`` (base), ``test`` (queries),
                                optional ``neighbors`` (true k-NN -> qrels), attribute
                                ``distance`` (``angular``/``euclidean``/``dot``)
a folder               text     BEIR: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/test.tsv``
=====================  =======  ==============================================================

Ids: tables use the ``id_column`` when given, else the 0-based row number;
``.txt`` uses the 1-based line number (as an editor shows it); vector files use
the 0-based row index; BEIR uses its ``_id`` fields.

Every problem with the input raises `ValueError` with a message saying what is
wrong, where (line, row, byte offset, column names) and what to do about it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import MAX_UPLOAD_MB
from .dataset import METRICS, Dataset, Queries, check_vectors

TABLE_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".txt": "txt",
}
VECTOR_FORMATS: dict[str, str] = {".npy": "npy", ".fvecs": "fvecs", ".hdf5": "hdf5", ".h5": "hdf5"}
SUPPORTED_EXTENSIONS: tuple[str, ...] = (*TABLE_FORMATS, *VECTOR_FORMATS)
#: Column names taken as the text column without asking, in this order of preference.
TEXT_COLUMN_NAMES: tuple[str, ...] = ("text", "passage", "content", "sentence", "body")
#: Column names suggested (not chosen) as labels and ids.
LABEL_COLUMN_NAMES: tuple[str, ...] = ("label", "category", "class", "topic", "tag", "genre")
ID_COLUMN_NAMES: tuple[str, ...] = ("id", "_id", "doc_id", "docid", "uid")
#: ann-benchmarks ``distance`` attribute -> densescope metric.
HDF5_DISTANCES: dict[str, str] = {
    "angular": "cosine",
    "cosine": "cosine",
    "euclidean": "l2",
    "l2": "l2",
    "dot": "ip",
    "ip": "ip",
    "inner_product": "ip",
}
BEIR_FILES: tuple[str, ...] = ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv")
MISSING_LABEL = "(none)"
PREVIEW_ROWS = 5


@dataclass
class FileInfo:
    """What a file holds, so the UI can ask which column is the text and which the label.

    Attributes:
        path: the file (or BEIR folder) inspected.
        format: ``"csv"``, ``"tsv"``, ``"jsonl"``, ``"parquet"``, ``"txt"``, ``"npy"``,
            ``"fvecs"``, ``"hdf5"`` or ``"beir"``.
        kind: ``"text"`` or ``"vectors"``.
        n_rows: rows, lines, vectors, or corpus documents.
        columns: table column names (empty for other formats).
        text_columns: the columns that hold text (candidates for text and label).
        preview: the first rows as ``{column: value}`` (long values shortened).
        text_column: the column `load_file` would take as the text by default
            (named like text, or the only text column), else ``None``: ask.
        label_column, id_column: guesses from the column names (``label``,
            ``category``, ... / ``id``, ``_id``, ...), else ``None``.
        shape: ``(n, d)`` of the base vectors (vector files).
        n_queries: queries in the file (hdf5 ``test``, BEIR), else ``None``.
        metric: the metric the file declares (hdf5 ``distance``), else ``None``.
    """

    path: str
    format: str
    kind: str
    n_rows: int
    columns: list[str] = field(default_factory=list)
    text_columns: list[str] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)
    text_column: str | None = None
    label_column: str | None = None
    id_column: str | None = None
    shape: tuple[int, int] | None = None
    n_queries: int | None = None
    metric: str | None = None


# --------------------------------------------------------------------------- #
# Entry points
# --------------------------------------------------------------------------- #


def file_format(path: str | Path) -> str:
    """The format of a path by its extension (``"beir"`` for a folder); ValueError if unsupported."""
    path = Path(path)
    return "beir" if path.is_dir() else _format_from_name(path.name)


def _format_from_name(filename: str) -> str:
    path = Path(filename)
    suffix = path.suffix.lower()
    if suffix in TABLE_FORMATS:
        return TABLE_FORMATS[suffix]
    if suffix in VECTOR_FORMATS:
        return VECTOR_FORMATS[suffix]
    shown = f"'{suffix}'" if suffix else "no extension"
    raise ValueError(
        f"{path.name}: unsupported file type ({shown}); supported: {', '.join(SUPPORTED_EXTENSIONS)}, "
        "or a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv)"
    )


def inspect_file(path: str | Path) -> FileInfo:
    """Detect a file's format and describe its contents without building a dataset.

    Tables report their columns and a few preview rows; vector files their shape.
    """
    path = _existing(path)
    fmt = file_format(path)
    if fmt == "beir":
        return inspect_beir(path)
    if fmt in ("npy", "fvecs", "hdf5"):
        return inspect_vectors(path, fmt)
    if fmt == "parquet":
        return inspect_parquet(path)
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
) -> Dataset:
    """Load a file (or BEIR folder) as a `Dataset`.

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

    Raises:
        ValueError: the file is missing, empty, malformed, or the options do not fit it.
    """
    path = _existing(path)
    fmt = file_format(path)
    _check_metric(metric)
    _check_max_rows(max_rows)
    name = name or path.stem or path.name
    columns = {"text_column": text_column, "label_column": label_column, "id_column": id_column}
    if fmt in TABLE_FORMATS.values():
        return load_text_table(path, fmt, name=name, metric=metric, max_rows=max_rows, **columns)
    refuse_columns(fmt, columns)
    if fmt == "beir":
        return load_beir(path, name=name, metric=metric, max_rows=max_rows)
    return load_vectors(path, fmt, name=name, metric=metric, max_rows=max_rows)


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


def refuse_columns(fmt: str, columns: dict[str, str | None]) -> None:
    given = [k for k, v in columns.items() if v is not None]
    if given:
        raise ValueError(
            f"{', '.join(given)} only apply to table files (.csv, .tsv, .jsonl, .parquet), not to {fmt} input"
        )


# --------------------------------------------------------------------------- #
# Reading text tables
# --------------------------------------------------------------------------- #


@dataclass
class _Table:
    """A table read into memory: column names and column-major values."""

    columns: list[str]
    data: dict[str, list[Any]]
    n_rows: int


def read_utf8(path: Path) -> str:
    """The file's text; ValueError naming the byte offset when it is not UTF-8."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{path.name} is not UTF-8 text: tried utf-8, byte 0x{raw[e.start]:02x} at byte offset {e.start} "
            "is invalid. Re-save the file as UTF-8 (e.g. 'CSV UTF-8' in Excel, or "
            "iconv -f latin1 -t utf-8) and load it again"
        ) from None
    if not text.strip():
        raise ValueError(f"{path.name} is empty (it holds only whitespace)")
    return text


def read_table(path: Path, fmt: str) -> _Table:
    if fmt in ("csv", "tsv"):
        return read_delimited(path, "," if fmt == "csv" else "\t")
    if fmt == "jsonl":
        return read_jsonl(path)
    if fmt == "txt":
        return _read_txt(path)
    return _read_parquet(path)


def read_delimited(path: Path, delimiter: str) -> _Table:
    """A CSV/TSV with a header row; ValueError naming the line of a ragged or broken row."""
    sep = "comma" if delimiter == "," else "tab"
    header: list[str] | None = None
    header_line = 0
    rows: list[list[str]] = []
    for line, row in _csv_records(path, delimiter):
        if header is None:
            if any(cell.strip() for cell in row):
                header, header_line = _header(row, path), line
        elif len(row) == 1 and len(header) > 1 and not row[0].strip():
            continue  # a blank line (spaces only) between rows
        elif len(row) != len(header):
            raise ValueError(
                f"{path.name}: line {line} has {len(row)} fields but the header (line {header_line}) "
                f"has {len(header)}; check that line for an unquoted {sep} or a missing closing quote"
            )
        else:
            rows.append(row)
    if header is None or not rows:
        raise ValueError(f"{path.name} has a header row but no data rows")
    data = {col: [row[j] for row in rows] for j, col in enumerate(header)}
    return _Table(header, data, len(rows))


def _csv_records(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """``(first line number, fields)`` of each non-empty record (a quoted field may span lines)."""
    reader = csv.reader(io.StringIO(read_utf8(path), newline=""), delimiter=delimiter)
    start = 1
    try:
        for row in reader:
            if row:
                yield start, row
            start = reader.line_num + 1
    except csv.Error as e:
        raise ValueError(f"{path.name}: cannot parse line {reader.line_num}: {e}") from None


def _header(row: list[str], path: Path) -> list[str]:
    """Column names: blanks become ``column_<i>``; repeated names are refused."""
    names = [cell.strip() or f"column_{i + 1}" for i, cell in enumerate(row)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{path.name}: the header repeats column name(s) {', '.join(repeated)}; rename them")
    return names


def read_jsonl(path: Path) -> _Table:
    """One JSON object per line; columns are the keys in order of first appearance."""
    records: list[dict[str, Any]] = []
    # split on "\n" only: str.splitlines would also split on U+2028 inside JSON strings
    for lineno, line in enumerate(read_utf8(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path.name}: line {lineno} is not valid JSON ({e.msg}, column {e.colno})") from None
        if not isinstance(record, dict):
            raise ValueError(
                f"{path.name}: line {lineno} is a JSON {type(record).__name__}, expected an object "
                'like {"text": "..."}'
            )
        records.append(record)
    columns = list(dict.fromkeys(key for record in records for key in record))
    data = {col: [record.get(col) for record in records] for col in columns}
    return _Table(columns, data, len(records))


def _read_txt(path: Path) -> _Table:
    """One passage per line, in a column named ``text``; ids are line numbers (1-based)."""
    lines = read_utf8(path).split("\n")
    if lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start a new one
    data: dict[str, list[Any]] = {
        "line": [str(i) for i in range(1, len(lines) + 1)],
        "text": [line.rstrip("\r") for line in lines],
    }
    return _Table(["line", "text"], data, len(lines))


def _read_parquet(path: Path, columns: list[str] | None = None) -> _Table:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=columns)
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError, ... for a broken file
        raise ValueError(f"{path.name} is not a readable Parquet file: {e}") from None
    names = list(table.column_names)
    return _Table(names, {n: table.column(n).to_pylist() for n in names}, table.num_rows)


def _parquet_text_columns(path: Path) -> tuple[list[str], list[str]]:
    """(all columns, string columns) of a Parquet file, from its schema only."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as e:
        raise ValueError(f"{path.name} is not a readable Parquet file: {e}") from None
    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    return list(schema.names), text


# --------------------------------------------------------------------------- #
# Choosing columns, building text datasets
# --------------------------------------------------------------------------- #


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _looks_numeric(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _text_columns(table: _Table) -> list[str]:
    """Columns whose values are strings, not all of them numbers (CSV cells are all strings)."""
    out = []
    for col in table.columns:
        values = [v for v in table.data[col] if not _is_missing(v) and v != ""]
        if values and all(isinstance(v, str) for v in values) and not all(_looks_numeric(v) for v in values):
            out.append(col)
    return out


def _named_column(columns: list[str], names: tuple[str, ...]) -> str | None:
    """The first column whose lower-cased name is in ``names`` (in the order of ``names``)."""
    by_lower = {c.lower(): c for c in reversed(columns)}
    return next((by_lower[n] for n in names if n in by_lower), None)


def _require_column(column: str, columns: list[str], role: str, filename: str) -> str:
    if column not in columns:
        raise ValueError(f"{filename}: {role} {column!r} not found; available columns: {', '.join(map(repr, columns))}")
    return column


def _choose_text_column(
    columns: list[str], text_columns: list[str], requested: str | None, taken: set[str], filename: str
) -> str:
    """The requested column, else one named like text, else the only text column; else ValueError."""
    if requested is not None:
        return _require_column(requested, columns, "text column", filename)
    named = _named_column(columns, TEXT_COLUMN_NAMES)
    if named is not None:
        return named
    candidates = [c for c in text_columns if c not in taken]
    if len(candidates) == 1:
        return candidates[0]
    found = f"{len(candidates)} text columns" if candidates else "no text column"
    raise ValueError(
        f"{filename}: cannot tell which column holds the passages ({found}, none named "
        f"{'/'.join(TEXT_COLUMN_NAMES)}); pass text_column= one of: {', '.join(map(repr, columns))}"
    )


def _pick_text_column(
    columns: list[str],
    text_columns: list[str],
    text_column: str | None,
    label_column: str | None,
    id_column: str | None,
    filename: str,
) -> str:
    """Check the label and id columns exist; return the text column (see `_choose_text_column`)."""
    for column, role in ((label_column, "label column"), (id_column, "id column")):
        if column is not None:
            _require_column(column, columns, role, filename)
    taken = {c for c in (label_column, id_column) if c is not None}
    return _choose_text_column(columns, text_columns, text_column, taken, filename)


def load_text_table(
    path: Path,
    fmt: str,
    *,
    name: str,
    text_column: str | None,
    label_column: str | None,
    id_column: str | None,
    metric: str | None,
    max_rows: int | None,
) -> Dataset:
    """A text `Dataset` from a table file: pick columns, drop empty texts, check ids."""
    if fmt == "txt":
        text_column, id_column = text_column or "text", id_column or "line"
    if fmt == "parquet":  # read the schema first: only the chosen columns are loaded
        columns, text_cols = _parquet_text_columns(path)
    else:
        table = read_table(path, fmt)
        columns, text_cols = table.columns, _text_columns(table)
    text_column = _pick_text_column(columns, text_cols, text_column, label_column, id_column, path.name)
    if fmt == "parquet":
        table = _read_parquet(path, [c for c in columns if c in {text_column, label_column, id_column}])
    rows, dropped = _non_empty_rows(table.data[text_column], max_rows)
    if not rows:
        raise ValueError(f"{path.name}: column {text_column!r} has no non-empty text in {table.n_rows} rows")
    params = {
        "path": str(path),
        "format": fmt,
        "text_column": text_column,
        "label_column": label_column,
        "id_column": id_column,
        "max_rows": max_rows,
        "rows": table.n_rows,
        "dropped_empty": dropped,
    }
    return Dataset(
        name=name,
        ids=_ids(table, id_column, rows, path.name),
        texts=[str(table.data[text_column][i]).strip() for i in rows],
        labels=None if label_column is None else [_label(table.data[label_column][i]) for i in rows],
        metric=metric or "cosine",
        params=params,
        description=f"{len(rows)} passages from {path.name}" + (f" ({dropped} empty dropped)" if dropped else ""),
    )


def _non_empty_rows(values: list[Any], max_rows: int | None) -> tuple[list[int], int]:
    """Indices of rows with non-blank text (the first ``max_rows`` of them), and how many were blank."""
    keep = [i for i, v in enumerate(values) if not _is_missing(v) and str(v).strip()]
    dropped = len(values) - len(keep)
    return (keep if max_rows is None else keep[:max_rows]), dropped


def _label(value: Any) -> str:
    return MISSING_LABEL if _is_missing(value) or str(value).strip() == "" else str(value).strip()


def _ids(table: _Table, id_column: str | None, rows: list[int], filename: str) -> list[str]:
    """Ids of the kept rows: the id column's values (unique, non-empty) or the row numbers."""
    if id_column is None:
        return [str(i) for i in rows]
    values = table.data[id_column]
    ids: list[str] = []
    first_row: dict[str, int] = {}
    for i in rows:
        if _is_missing(values[i]) or str(values[i]).strip() == "":
            raise ValueError(f"{filename}: id column {id_column!r} is empty in row {i}; every row needs an id")
        value = str(values[i]).strip()
        if value in first_row:
            raise ValueError(
                f"{filename}: id column {id_column!r} repeats {value!r} (rows {first_row[value]} and {i}); "
                "ids must be unique -- pick another id column or leave it unset to number the rows"
            )
        first_row[value] = i
        ids.append(value)
    return ids


# --------------------------------------------------------------------------- #
# Vector files
# --------------------------------------------------------------------------- #


def load_vectors(path: Path, fmt: str, *, name: str, metric: str | None, max_rows: int | None) -> Dataset:
    """A vector `Dataset` from .npy, .fvecs or ann-benchmarks .hdf5."""
    queries, qrels, extra = None, None, {}
    if fmt == "npy":
        base, declared = _read_npy(path, max_rows), None
    elif fmt == "fvecs":
        base, declared = _read_fvecs(path, max_rows), None
    else:
        base, queries, qrels, declared, extra = _read_hdf5(path, max_rows)
    metric = metric or declared or "cosine"
    allow_zero = metric != "cosine"
    base = check_vectors(base, f"{path.name}: base vectors", allow_zero=allow_zero)
    if queries is not None:
        queries = _check_queries(queries, base.shape[1], path.name, allow_zero)
    ids = [str(i) for i in range(base.shape[0])]
    query_obj = None if queries is None else Queries(ids=[f"q{i}" for i in range(len(queries))], vectors=queries)
    params = {"path": str(path), "format": fmt, "max_rows": max_rows, **extra}
    description = f"{base.shape[0]} vectors of dimension {base.shape[1]} from {path.name}"
    return Dataset(
        name=name,
        ids=ids,
        vectors=base,
        queries=query_obj,
        qrels=qrels,
        metric=metric,
        params=params,
        description=description,
    )


def _check_queries(queries: np.ndarray, dim: int, filename: str, allow_zero: bool) -> np.ndarray:
    queries = check_vectors(queries, f"{filename}: query vectors", allow_zero=allow_zero)
    if queries.shape[1] != dim:
        raise ValueError(
            f"{filename}: queries have {queries.shape[1]} dims but the base vectors have {dim}; "
            "both must come from the same encoder"
        )
    return queries


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a .npy header, without reading (or unpickling) the data."""
    fmt = np.lib.format
    with open(path, "rb") as f:
        try:
            version = fmt.read_magic(f)
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = read_header(f)
        except (ValueError, EOFError) as e:
            raise ValueError(f"{path.name} is not a valid .npy file ({e}); save arrays with numpy.save") from None
    if dtype.hasobject:
        raise ValueError(
            f"{path.name} holds Python objects (dtype {dtype}), which would have to be unpickled -- "
            "that can run arbitrary code, so it is refused. Save a numeric array instead: "
            "np.save(path, np.asarray(vectors, dtype=np.float32))"
        )
    return shape, dtype


def _read_npy(path: Path, max_rows: int | None) -> np.ndarray:
    """The array (its first ``max_rows`` rows), memory-mapped so only those rows are read."""
    shape, _ = _npy_header(path)
    try:
        array = np.load(path, mmap_mode="r" if all(shape) else None, allow_pickle=False)
        return np.array(array[:max_rows] if array.ndim >= 1 else array)
    except (ValueError, OSError) as e:
        raise ValueError(f"{path.name}: cannot read the array of shape {shape} ({e}); is the file truncated?") from None


def _read_fvecs(path: Path, max_rows: int | None) -> np.ndarray:
    """``.fvecs``: each row is ``int32 d`` then ``d`` float32 values (little-endian)."""
    size = path.stat().st_size
    if size < 4:
        raise ValueError(f"{path.name} is too short ({size} bytes) to be an .fvecs file")
    dim = int(np.fromfile(path, dtype="<i4", count=1)[0])
    if dim <= 0 or dim > 1_000_000:
        raise ValueError(f"{path.name}: the first row's dimension header is {dim}; this is not an .fvecs file")
    row_bytes = (dim + 1) * 4
    if size % row_bytes:
        raise ValueError(
            f"{path.name}: size {size} bytes is not a multiple of (d+1)*4 = {row_bytes} bytes "
            f"(d = {dim} from the first header); the file is truncated or not .fvecs"
        )
    rows = np.memmap(path, dtype="<i4", mode="r", shape=(size // row_bytes, dim + 1))[:max_rows]
    bad = np.flatnonzero(rows[:, 0] != dim)
    if bad.size:
        raise ValueError(
            f"{path.name}: row {int(bad[0])} has dimension header {int(rows[bad[0], 0])}, expected {dim}; "
            "all vectors in an .fvecs file must have the same dimension"
        )
    return np.ascontiguousarray(rows[:, 1:]).view("<f4").astype(np.float32)


def _read_hdf5(
    path: Path, max_rows: int | None
) -> tuple[np.ndarray, np.ndarray | None, dict | None, str | None, dict[str, Any]]:
    """ann-benchmarks layout -> (base, queries, qrels from neighbors, declared metric, extra params)."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path.name} is not a readable HDF5 file ({e})") from None
    with f:
        if "train" not in f:
            raise ValueError(
                f"{path.name} has no 'train' dataset (found: {', '.join(f.keys()) or 'nothing'}); "
                "ann-benchmarks files hold base vectors in 'train' and queries in 'test'"
            )
        n_train = int(f["train"].shape[0])
        base = np.asarray(f["train"][:max_rows])
        queries = np.asarray(f["test"][:]) if "test" in f else None
        neighbors = np.asarray(f["neighbors"][:]) if "neighbors" in f and queries is not None else None
        declared = _declared_metric(f.attrs.get("distance"), path.name)
    extra: dict[str, Any] = {"distance": declared}
    qrels = None
    if neighbors is not None:
        if max_rows is not None and max_rows < n_train:
            extra["neighbors_dropped"] = "max_rows keeps a subset, so the stored neighbours no longer apply"
        else:
            qrels = _neighbor_qrels(neighbors, n_train, len(queries), path.name)
    return base, queries, qrels, declared, extra


def _declared_metric(distance: Any, filename: str) -> str | None:
    if distance is None:
        return None
    value = distance.decode() if isinstance(distance, bytes) else str(distance)
    if value.lower() not in HDF5_DISTANCES:
        raise ValueError(
            f"{filename}: unknown distance {value!r} in the file's attributes; "
            f"known: {', '.join(HDF5_DISTANCES)} (or pass metric=)"
        )
    return HDF5_DISTANCES[value.lower()]


def _neighbor_qrels(neighbors: np.ndarray, n_train: int, n_queries: int, filename: str) -> dict:
    """``{"q<i>": {"<j>": 1}}`` for each query's stored true neighbours (negative ids are padding)."""
    if neighbors.ndim != 2 or neighbors.shape[0] != n_queries:
        raise ValueError(
            f"{filename}: 'neighbors' has shape {neighbors.shape}, expected ({n_queries}, k): one row per query"
        )
    if neighbors.size and neighbors.max() >= n_train:
        raise ValueError(f"{filename}: 'neighbors' refers to row {int(neighbors.max())} but 'train' has {n_train}")
    return {f"q{i}": {str(int(j)): 1 for j in row if j >= 0} for i, row in enumerate(neighbors)}


# --------------------------------------------------------------------------- #
# BEIR folders
# --------------------------------------------------------------------------- #


def _beir_paths(folder: Path) -> dict[str, Path]:
    paths = {name: folder / name for name in BEIR_FILES}
    missing = [name for name, p in paths.items() if not p.is_file()]
    if missing:
        raise ValueError(
            f"{folder.name} is not a complete BEIR folder: missing {', '.join(missing)} "
            f"(expected {', '.join(BEIR_FILES)})"
        )
    return paths


def _beir_text(record: dict[str, Any]) -> str:
    """``title + ". " + text`` when there is a title (no extra period after ``?``/``!``/``.``)."""
    title = str(record.get("title") or "").strip()
    text = str(record.get("text") or "").strip()
    if not title:
        return text
    joiner = " " if title[-1] in ".!?" else ". "
    return f"{title}{joiner}{text}" if text else title


def _beir_records(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    table = read_jsonl(path)
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise ValueError(f"{path.name} has no {', '.join(missing)} field; found: {', '.join(table.columns)}")
    return [{c: table.data[c][i] for c in table.columns} for i in range(table.n_rows)]


def _read_beir_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``qrels/test.tsv`` (header ``query-id corpus-id score``) as ``{query: {doc: score}}``."""
    table = read_delimited(path, "\t")
    if len(table.columns) < 3:
        raise ValueError(f"{path.name}: expected columns query-id, corpus-id, score; found {table.columns}")
    qcol, dcol, scol = table.columns[:3]
    qrels: dict[str, dict[str, int]] = {}
    for i in range(table.n_rows):
        score = table.data[scol][i].strip()
        if not score.lstrip("-").isdigit():
            raise ValueError(f"{path.name}: data row {i + 1} has score {score!r}; scores must be integers")
        qrels.setdefault(table.data[qcol][i].strip(), {})[table.data[dcol][i].strip()] = int(score)
    return qrels


def _beir_corpus(path: Path, max_rows: int | None) -> tuple[dict[str, str], int]:
    """``{doc id: text}`` of the first ``max_rows`` non-empty documents, and how many were empty."""
    texts_by_id: dict[str, str] = {}
    seen: set[str] = set()
    dropped = 0
    for record in _beir_records(path, ("_id",)):
        doc_id, text = str(record["_id"]), _beir_text(record)
        if doc_id in seen:
            raise ValueError(f"{path.name} repeats _id {doc_id!r}; document ids must be unique")
        seen.add(doc_id)
        if not text:
            dropped += 1
        elif max_rows is None or len(texts_by_id) < max_rows:
            texts_by_id[doc_id] = text
    return texts_by_id, dropped


def load_beir(folder: Path, *, name: str, metric: str | None, max_rows: int | None) -> Dataset:
    """A BEIR folder: corpus, queries, and test qrels; only queries with a relevant document are kept."""
    paths = _beir_paths(folder)
    texts_by_id, dropped = _beir_corpus(paths["corpus.jsonl"], max_rows)
    records = _beir_records(paths["queries.jsonl"], ("_id", "text"))
    query_texts = {str(r["_id"]): str(r.get("text") or "").strip() for r in records}
    qrels = _filter_qrels(_read_beir_qrels(paths["qrels/test.tsv"]), set(texts_by_id), query_texts)
    if not qrels:
        raise ValueError(
            f"{folder.name}: no query in qrels/test.tsv has a relevant document in the corpus"
            + (" (max_rows may have cut them off)" if max_rows else "")
        )
    query_ids = sorted(qrels)
    params = {"path": str(folder), "format": "beir", "max_rows": max_rows, "dropped_empty": dropped}
    return Dataset(
        name=name,
        ids=list(texts_by_id),
        texts=list(texts_by_id.values()),
        queries=Queries(ids=query_ids, texts=[query_texts[q] for q in query_ids]),
        qrels=qrels,
        metric=metric or "cosine",
        params=params,
        description=f"BEIR corpus {folder.name}: {len(texts_by_id)} passages, {len(query_ids)} test queries",
    )


def _filter_qrels(
    qrels: dict[str, dict[str, int]], doc_ids: set[str], query_texts: dict[str, str]
) -> dict[str, dict[str, int]]:
    """Judgments on loaded documents, for queries with text and at least one relevant document."""
    kept: dict[str, dict[str, int]] = {}
    for qid, judged in qrels.items():
        judged = {d: r for d, r in judged.items() if d in doc_ids}
        if query_texts.get(qid) and any(r > 0 for r in judged.values()):
            kept[qid] = judged
    return kept


# --------------------------------------------------------------------------- #
# Inspection
# --------------------------------------------------------------------------- #


def shorten(value: Any, width: int = 200) -> Any:
    if isinstance(value, str) and len(value) > width:
        return value[: width - 1] + "…"
    return value


def inspect_table(path: Path, fmt: str, table: _Table) -> FileInfo:
    text_cols = ["text"] if fmt == "txt" else _text_columns(table)
    preview = [{c: shorten(table.data[c][i]) for c in table.columns} for i in range(min(PREVIEW_ROWS, table.n_rows))]
    return _table_info(path, fmt, table.n_rows, table.columns, text_cols, preview)


def _table_info(
    path: Path, fmt: str, n_rows: int, columns: list[str], text_cols: list[str], preview: list[dict]
) -> FileInfo:
    named = _named_column(columns, TEXT_COLUMN_NAMES)
    suggested = named or (text_cols[0] if len(text_cols) == 1 else None)
    return FileInfo(
        path=str(path),
        format=fmt,
        kind="text",
        n_rows=n_rows,
        columns=columns,
        text_columns=text_cols,
        preview=preview,
        text_column=suggested,
        label_column=_named_column(columns, LABEL_COLUMN_NAMES),
        id_column=_named_column(columns, ID_COLUMN_NAMES),
    )


def inspect_parquet(path: Path) -> FileInfo:
    import pyarrow.parquet as pq

    columns, text_cols = _parquet_text_columns(path)
    parquet = pq.ParquetFile(path)
    first = next(parquet.iter_batches(batch_size=PREVIEW_ROWS), None)
    rows = [] if first is None else first.to_pylist()
    preview = [{c: shorten(v) for c, v in row.items()} for row in rows]
    return _table_info(path, "parquet", parquet.metadata.num_rows, columns, text_cols, preview)


def inspect_vectors(path: Path, fmt: str) -> FileInfo:
    if fmt == "hdf5":
        return _inspect_hdf5(path)
    shape = _npy_header(path)[0] if fmt == "npy" else _read_fvecs(path, None).shape
    n = int(shape[0]) if len(shape) else 0
    dims = (n, int(shape[1])) if len(shape) == 2 else None
    return FileInfo(path=str(path), format=fmt, kind="vectors", n_rows=n, shape=dims)


def _inspect_hdf5(path: Path) -> FileInfo:
    """Shapes and declared metric of an ann-benchmarks file, reading no vectors."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path.name} is not a readable HDF5 file ({e})") from None
    with f:
        if "train" not in f:
            raise ValueError(f"{path.name} has no 'train' dataset (found: {', '.join(f.keys()) or 'nothing'})")
        shape = tuple(int(s) for s in f["train"].shape)
        n_queries = int(f["test"].shape[0]) if "test" in f else None
        metric = _declared_metric(f.attrs.get("distance"), path.name)
    dims = (shape[0], shape[1]) if len(shape) == 2 else None
    return FileInfo(
        path=str(path),
        format="hdf5",
        kind="vectors",
        n_rows=shape[0] if shape else 0,
        shape=dims,
        n_queries=n_queries,
        metric=metric,
    )


def inspect_beir(folder: Path) -> FileInfo:
    paths = _beir_paths(folder)
    n_docs = sum(1 for line in read_utf8(paths["corpus.jsonl"]).split("\n") if line.strip())
    n_queries = sum(1 for line in read_utf8(paths["queries.jsonl"]).split("\n") if line.strip())
    return FileInfo(path=str(folder), format="beir", kind="text", n_rows=n_docs, n_queries=n_queries)
