"""`FileInfo`: what an inspected user file holds, for the upload form to ask the right questions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PREVIEW_ROWS = 5


@dataclass
class FileInfo:
    """What a file holds, so the UI can ask which column is the text and which the label.

    Attributes:
        path: the file (or BEIR folder) inspected.
        format: ``"csv"``, ``"tsv"``, ``"jsonl"``, ``"parquet"``, ``"arrow"``, ``"txt"``,
            ``"npy"``, ``"npz"``, ``"fvecs"``, ``"fbin"`` (and ``ibin``/``u8bin``/``i8bin``),
            ``"hdf5"``, ``"beir"`` or ``"vdbbench"``.
        columns: table column names; the arrays of an ``.npz``.
        kind: ``"text"`` or ``"vectors"``.
        n_rows: rows, lines, vectors, or corpus documents.
        text_columns: the columns that hold text (candidates for text and label).
        preview: the first rows as ``{column: value}`` (long values shortened).
        text_column: the column `load_file` would take as the text by default
            (named like text, or the only text column), else ``None``: ask.
        label_column, id_column: guesses from the column names (``label``,
            ``category``, ... / ``id``, ``_id``, ...), else ``None``.
        shape: ``(n, d)`` of the base vectors (vector files).
        n_queries: queries in the file (hdf5 ``test``, BEIR), else ``None``.
        metric: the metric the file declares (hdf5 ``distance``), else ``None``.
        vector_column: a table's column of vectors found by name (embedding, vector, emb …),
            else ``None``; with one the table loads as vectors (its texts shown as titles).
            For an ``.npz``: the array taken as the base vectors.
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
    vector_column: str | None = None
