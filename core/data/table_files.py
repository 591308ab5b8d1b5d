"""Text tables: CSV, TSV, JSONL, Parquet and TXT -> texts, labels and ids (columns found or chosen)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.data.arrow_files import ArrowSource, read_vector_column, vector_cell, vectors_from_batches
from core.data.dataset import Dataset
from core.data.file_info import PREVIEW_ROWS, FileInfo

#: Column names taken as the text column without asking, in this order of preference.
TEXT_COLUMN_NAMES: tuple[str, ...] = ("text", "passage", "content", "sentence", "body")
#: Column names suggested (not chosen) as labels and ids.
LABEL_COLUMN_NAMES: tuple[str, ...] = ("label", "category", "class", "topic", "tag", "genre")
ID_COLUMN_NAMES: tuple[str, ...] = ("id", "_id", "doc_id", "docid", "uid")
#: A column of vectors (one list of floats per row), found by name: its vectors are used as given.
VECTOR_COLUMN_NAMES: tuple[str, ...] = ("embedding", "embeddings", "vector", "vectors", "emb", "vec")
#: Table formats read through Arrow: columns by name, in record batches.
ARROW_FORMATS: tuple[str, ...] = ("parquet", "arrow", "lance")
MISSING_LABEL = "(none)"


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
    return _read_arrow(path, fmt)


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


def _read_arrow(path: Path, fmt: str, columns: list[str] | None = None) -> _Table:
    """A Parquet or Arrow/Feather table (only ``columns`` when given) read into memory."""
    source = ArrowSource(path, fmt)
    names = source.columns if columns is None else [c for c in source.columns if c in columns]
    data: dict[str, list[Any]] = {c: [] for c in names}
    for batch in source.batches(names):
        for c in names:
            data[c].extend(batch.column(c).to_pylist())
    return _Table(names, data, source.num_rows)


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
    vector_column: str | None = None,
) -> Dataset:
    """A text `Dataset` from a table file: pick columns, drop empty texts, check ids.

    A table with a vector column (``vector_column``, or one named embedding/vector/emb …) becomes a
    vector dataset instead: see `load_vector_table`.
    """
    if fmt == "txt":
        text_column, id_column = text_column or "text", id_column or "line"
    if fmt in ARROW_FORMATS:  # read the schema first: only the chosen columns are loaded
        source = ArrowSource(path, fmt)
        columns, text_cols = source.columns, source.text_columns()
    else:
        table = read_table(path, fmt)
        columns, text_cols = table.columns, _text_columns(table)
    if vector_column is not None:
        _require_column(vector_column, columns, "vector column", path.name)
    elif fmt != "txt":
        vector_column = _named_column(columns, VECTOR_COLUMN_NAMES)
    found: list[str] = []
    if fmt != "txt":  # label and id columns found by name unless given (NO_COLUMN: none wanted)
        taken = {c for c in (text_column, vector_column) if c}
        if label_column is None:
            label_column = _named_column([c for c in columns if c not in taken], LABEL_COLUMN_NAMES)
            if label_column:
                found.append(f"label column {label_column!r}")
        if id_column is None:
            guess = _named_column([c for c in columns if c not in taken | {label_column}], ID_COLUMN_NAMES)
            values = (source.pylist(guess) if fmt in ARROW_FORMATS else table.data[guess]) if guess else None
            if guess and _usable_ids(values):
                id_column = guess
                found.append(f"id column {guess!r}")
    label_column = None if label_column == NO_COLUMN else label_column
    id_column = None if id_column == NO_COLUMN else id_column
    if vector_column is not None:
        ds = load_vector_table(path, fmt, source if fmt in ARROW_FORMATS else table, name=name,
                                 vector_column=vector_column, text_column=text_column,
                                 label_column=label_column, id_column=id_column, metric=metric, max_rows=max_rows)
        return _say_found(ds, found)
    text_column = _pick_text_column(columns, text_cols, text_column, label_column, id_column, path.name)
    if fmt in ARROW_FORMATS:
        table = _read_arrow(path, fmt, [c for c in columns if c in {text_column, label_column, id_column}])
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
    return _say_found(Dataset(
        name=name,
        ids=_ids(table, id_column, rows, path.name),
        texts=[str(table.data[text_column][i]).strip() for i in rows],
        labels=None if label_column is None else [_label(table.data[label_column][i]) for i in rows],
        metric=metric or "cosine",
        params=params,
        description=f"{len(rows)} passages from {path.name}" + (f" ({dropped} empty dropped)" if dropped else ""),
    ), found)


def _non_empty_rows(values: list[Any], max_rows: int | None) -> tuple[list[int], int]:
    """Indices of rows with non-blank text (the first ``max_rows`` of them), and how many were blank."""
    keep = [i for i, v in enumerate(values) if not _is_missing(v) and str(v).strip()]
    dropped = len(values) - len(keep)
    return (keep if max_rows is None else keep[:max_rows]), dropped


def _label(value: Any) -> str:
    return MISSING_LABEL if _is_missing(value) or str(value).strip() == "" else str(value).strip()


#: A label or id column option meaning "none", so a column is not found by name (``--label-column "(none)"``).
NO_COLUMN = "(none)"


def _usable_ids(values) -> bool:
    """Whether a column found by name can be the ids: every value present and unique."""
    if values is None:
        return False
    texts = [None if _is_missing(v) else str(v).strip() for v in values]
    return all(texts) and len(set(texts)) == len(texts)


def _say_found(ds: Dataset, found: list[str]) -> Dataset:
    """Note in the dataset which columns were found by their names (the Data page and the CLI say it)."""
    if found:
        ds.params["columns_found_by_name"] = ", ".join(found)
        ds.description += f"; found by name: {', '.join(found)}"
    return ds


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
    vector_column = None if fmt == "txt" else _named_column(columns, VECTOR_COLUMN_NAMES)
    return FileInfo(
        path=str(path),
        format=fmt,
        kind="vectors" if vector_column else "text",
        vector_column=vector_column,
        n_rows=n_rows,
        columns=columns,
        text_columns=text_cols,
        preview=preview,
        text_column=suggested,
        label_column=_named_column(columns, LABEL_COLUMN_NAMES),
        id_column=_named_column(columns, ID_COLUMN_NAMES),
    )


def inspect_arrow(path: Path, fmt: str) -> FileInfo:
    """Columns, row count and a preview of a Parquet or Arrow/Feather file (only the first rows read)."""
    source = ArrowSource(path, fmt)
    preview = [{c: shorten(v) for c, v in row.items()} for row in source.preview(PREVIEW_ROWS)]
    return _table_info(path, fmt, source.num_rows, source.columns, source.text_columns(), preview)


# --------------------------------------------------------------------------- #
# Tables with a vector column (embedding pipelines, LanceDB, HF datasets, Embedding Atlas)
# --------------------------------------------------------------------------- #


def load_vector_table(path: Path, fmt: str, table: _Table | ArrowSource, *, name: str, vector_column: str,
                      text_column: str | None, label_column: str | None, id_column: str | None,
                      metric: str | None, max_rows: int | None) -> Dataset:
    """A vector `Dataset` from a table whose ``vector_column`` holds one vector per row.

    The vectors are used as given (no re-encoding); a text column (the requested one, one named like
    text, or none) becomes the items' titles, shown on every page but not encoded. Rows of the wrong
    length, with NaN/inf or all zeros are reported with their counts and row numbers (1-based) and
    nothing is loaded, so a person fixes the file rather than losing rows silently. Parquet and Arrow
    files (``table`` an `ArrowSource`) are read in batches into one float32 array.
    """
    columns = table.columns
    for column, role in ((label_column, "label column"), (id_column, "id column"), (text_column, "text column")):
        if column is not None:
            _require_column(column, columns, role, path.name)
    n_rows = table.num_rows if isinstance(table, ArrowSource) else table.n_rows
    n = n_rows if max_rows is None else min(n_rows, max_rows)
    if n == 0:
        raise ValueError(f"{path.name} has no rows")
    if isinstance(table, ArrowSource):
        X = read_vector_column(table, vector_column, n, vector_cell)

        def values(column: str) -> list:
            return table.pylist(column, n)
    else:
        X = vectors_from_batches([table.data[vector_column][:n]], n, None, vector_cell, path.name, vector_column)

        def values(column: str) -> list:
            return table.data[column][:n]
    if text_column is None:
        text_column = _named_column([c for c in columns if c != vector_column], TEXT_COLUMN_NAMES)
    titles = None
    if text_column is not None:
        titles = ["" if _is_missing(v) else " ".join(str(v).split()) for v in values(text_column)]
    id_table = _Table([id_column], {id_column: values(id_column)}, n) if id_column else _Table([], {}, n)
    return Dataset(
        name=name,
        ids=_ids(id_table, id_column, list(range(n)), path.name),
        vectors=X,
        labels=None if label_column is None else [_label(v) for v in values(label_column)],
        titles=titles,
        metric=metric or "cosine",
        params={"path": str(path), "format": fmt, "vector_column": vector_column, "text_column": text_column,
                "label_column": label_column, "id_column": id_column, "max_rows": max_rows, "rows": n_rows},
        description=f"{n:,} vectors of {X.shape[1]} dims from {path.name} (vectors from file, used as given)"
                    + (f", with the texts of column {text_column!r}" if text_column else ""),
    )
