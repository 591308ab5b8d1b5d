"""Comparing runs: two runs' rows side by side on their shared columns."""

from __future__ import annotations

import pandas as pd

#: Columns that identify a configuration rather than measure it.
RESULT_HINTS = ("recall", "ndcg", "mrr", "qps", "_ms", "_s", "bytes", "ratio", "dimension", "lid", "agreement")
#: The measures a compact comparison shows first (the rest stay in the full table), in this order.
FIRST_MEASURES = ("recall", "agreement", "ndcg", "mrr", "dimension", "lid", "qps", "bytes")


#: Columns that are neither a configuration nor a result: counts and bookkeeping of how a row was
#: measured. Two runs of the same configuration match even when these differ.
BOOKKEEPING = frozenset({
    "status", "reason", "note", "latency_queries", "threads", "latency_threads", "results_key", "study",
    "reused", "queries", "nq", "n_base", "n_queries_used", "factory", "label",
})


def is_result_column(name: str) -> bool:
    return any(h in name for h in RESULT_HINTS)


def compare_runs(a: pd.DataFrame, b: pd.DataFrame, label_a: str = "A", label_b: str = "B") -> pd.DataFrame:
    """Join two runs' rows on their shared configuration columns.

    Result columns present in both get suffixes ``" A"``/``" B"`` and a
    difference column ``"Δ <name>"`` (B - A). Rows present in one run only
    are kept with blanks for the other.
    """

    shared = [c for c in a.columns if c in b.columns]
    keys = [c for c in shared if not is_result_column(c) and c not in BOOKKEEPING]
    results = [c for c in shared if is_result_column(c) and pd.api.types.is_numeric_dtype(a[c])
               and pd.api.types.is_numeric_dtype(b[c])]
    if not keys:
        raise ValueError("the two runs share no configuration columns; they are of different kinds")
    left = a[keys + results].astype({k: str for k in keys}).drop_duplicates(keys)
    right = b[keys + results].astype({k: str for k in keys}).drop_duplicates(keys)
    merged = left.merge(right, on=keys, how="outer", suffixes=(f" {label_a}", f" {label_b}"))
    for c in results:
        merged[f"Δ {c}"] = merged[f"{c} {label_b}"] - merged[f"{c} {label_a}"]
    return merged


def change_summary(merged: pd.DataFrame, label_a: str = "A", label_b: str = "B", top: int = 3) -> str:
    """One sentence on what changed most between the runs: the largest differences of the first
    result column (recall, where there is one), with the configurations they belong to."""
    deltas = [c for c in merged.columns if c.startswith("Δ ")]
    if not deltas:
        return "The runs share no result column to compare."
    preferred = [c for c in deltas if "recall" in c] or deltas
    col = preferred[0]
    name = col.removeprefix("Δ ")
    moved = merged.dropna(subset=[col])
    if moved.empty:
        return f"No configuration was measured in both runs, so {name} cannot be compared."
    keys = [c for c in merged.columns if not c.startswith("Δ ") and not c.endswith((f" {label_a}", f" {label_b}"))]
    moved = moved.reindex(moved[col].abs().sort_values(ascending=False).index)
    if moved[col].abs().max() == 0:
        return f"{name} is the same in both runs for all {len(moved)} shared configurations."
    parts = []
    for _, r in moved[moved[col].abs() > 0].head(top).iterrows():
        what = " ".join(f"{k}={_plain(r[k])}" for k in keys if str(r[k]) not in ("nan", "None", ""))
        parts.append(f"{what}: {r[f'{name} {label_a}']:.3g} → {r[f'{name} {label_b}']:.3g} ({r[col]:+.3g})")
    return f"{name} changed most for " + "; ".join(parts) + f" ({len(moved)} configurations in both runs)."


def _plain(value: object) -> str:
    """``8.0`` as ``8`` (configuration values arrive as text, floats where a column had gaps)."""
    text = str(value)
    return text[:-2] if text.endswith(".0") and text[:-2].lstrip("-").isdigit() else text


def compact_comparison(merged: pd.DataFrame, label_a: str = "A", label_b: str = "B",
                       measures: int = 2) -> pd.DataFrame:
    """`compare_runs`'s table for reading: one ``configuration`` column (its non-empty key values,
    ``"method=pq m=8"``, integers as integers), then for the first ``measures`` result columns (recall first,
    see `FIRST_MEASURES`) the difference and the two runs' values. Empty key columns (a parameter only some
    methods have) are left out, so no column of blanks pushes the differences off the page."""
    deltas = [c.removeprefix("Δ ") for c in merged.columns if c.startswith("Δ ")]
    ranked = sorted(deltas, key=lambda c: next((j for j, h in enumerate(FIRST_MEASURES) if h in c),
                                               len(FIRST_MEASURES)))[:measures]
    keys = [c for c in merged.columns if not c.startswith("Δ ") and not c.endswith((f" {label_a}", f" {label_b}"))]
    out = pd.DataFrame({"configuration": [
        " ".join(f"{k}={_plain(r[k])}" for k in keys if str(r[k]) not in ("nan", "None", "", "<NA>"))
        for _, r in merged.iterrows()]})
    for c in ranked:
        out[f"Δ {c}"] = merged[f"Δ {c}"].to_numpy()
        out[f"{c} {label_a}"] = merged[f"{c} {label_a}"].to_numpy()
        out[f"{c} {label_b}"] = merged[f"{c} {label_b}"].to_numpy()
    return out
