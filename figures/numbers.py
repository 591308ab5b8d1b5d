"""Numbers as a person reads them: an integer parameter is ``51``, never ``51.0``.

Result rows mix methods whose parameters differ, so a parameter column holds NaN for the methods
without it and pandas stores it as float (``nlist`` 51 becomes 51.0). `value_text` writes one value,
`integer_columns` gives a table's whole-number float columns back their integer type (pandas' nullable
``Int64``, which shows an empty cell for a missing value) before it is shown.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd


def value_text(value: object) -> str:
    """``51`` for 51.0 and ``np.int64(51)``, ``0.25`` for 0.25, ``True`` for booleans, ``""`` for NaN/None;
    any other value as ``str``."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        if not np.isfinite(v):
            return "" if np.isnan(v) else str(v)
        return str(int(v)) if v.is_integer() and abs(v) < 2**53 else f"{v:g}"
    return str(value)


def is_whole_column(values: pd.Series) -> bool:
    """Whether a float column holds only whole numbers (and NaN), with at least one number."""
    if not pd.api.types.is_float_dtype(values):
        return False
    finite = values.to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    return finite.size > 0 and bool(np.all(finite == np.round(finite))) and bool(np.all(np.abs(finite) < 2**53)) \
        and not np.isinf(values.to_numpy(dtype=float)).any()


def integer_columns(frame: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """A copy of ``frame`` whose whole-number float columns (of ``columns``, default all) are ``Int64``."""
    out = frame.copy()
    for col in columns if columns is not None else list(out.columns):
        if col in out and is_whole_column(out[col]):
            out[col] = out[col].astype("Int64")
    return out
