"""Comparing runs: two runs' rows side by side on their shared columns."""

from __future__ import annotations

import pandas as pd

#: Columns that identify a configuration rather than measure it.
RESULT_HINTS = ("recall", "ndcg", "mrr", "qps", "_ms", "_s", "bytes", "ratio", "dimension", "lid")


def is_result_column(name: str) -> bool:
    return any(h in name for h in RESULT_HINTS)


def compare_runs(a: pd.DataFrame, b: pd.DataFrame, label_a: str = "A", label_b: str = "B") -> pd.DataFrame:
    """Join two runs' rows on their shared configuration columns.

    Result columns present in both get suffixes ``" A"``/``" B"`` and a
    difference column ``"Δ <name>"`` (B - A). Rows present in one run only
    are kept with blanks for the other.
    """

    shared = [c for c in a.columns if c in b.columns]
    keys = [c for c in shared if not is_result_column(c) and c not in ("status", "reason", "note")]
    results = [c for c in shared if is_result_column(c) and pd.api.types.is_numeric_dtype(a[c])
               and pd.api.types.is_numeric_dtype(b[c])]
    if not keys:
        raise ValueError("the two runs share no configuration columns; they are of different kinds")
    left = a[keys + results].astype({k: str for k in keys})
    right = b[keys + results].astype({k: str for k in keys})
    merged = left.merge(right, on=keys, how="outer", suffixes=(f" {label_a}", f" {label_b}"))
    for c in results:
        merged[f"Δ {c}"] = merged[f"{c} {label_b}"] - merged[f"{c} {label_a}"]
    return merged
