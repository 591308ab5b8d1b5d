"""URL query parameters are untrusted input: each is checked before use.

`clean_workspace_params` turns the raw ``dataset`` / ``params`` / ``encoder`` values of a link into a
workspace spec the pages can open, plus one plain warning per value it had to change (saying what it
was changed to). Pure functions (no Streamlit calls), so tests feed them any string.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from core.encode.registry import visitor_may_use

MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class Number:
    """A numeric dataset parameter a link may set: its default and the range the app offers."""

    default: float
    low: float
    high: float
    integer: bool = True

    def show(self, value: float) -> str:
        return f"{int(value):,}" if self.integer else f"{value:g}"


#: What a link may set per built-in dataset, with the app's ranges (the sidebar offers the same).
DATASET_PARAMS: dict[str, dict[str, Number]] = {
    "synthetic": {
        "n": Number(10_000, 100, 200_000),
        "dim": Number(1024, 2, 4096),
        "intrinsic_dim": Number(16, 1, 4096),
        "n_clusters": Number(0, 0, 100),
        "noise": Number(0.0, 0.0, 10.0, integer=False),
        "seed": Number(0, 0, MAX_SEED),
    },
    "glove-6b-50d": {"limit": Number(400_000, 1, 400_000), "seed": Number(0, 0, MAX_SEED)},
    "pydocs": {"limit": Number(5_000, 1, 100_000), "seed": Number(0, 0, MAX_SEED)},
    "stdlib-docs": {"limit": Number(5_000, 1, 100_000), "seed": Number(0, 0, MAX_SEED)},
}
#: Uploaded datasets take a sample size and seed.
UPLOAD_PARAMS = {"limit": Number(1_000_000, 1, 10_000_000), "seed": Number(0, 0, MAX_SEED)}


def shown(value: object, width: int = 60) -> str:
    """A visitor's value quoted for a message (cut, one line); escape it before rendering."""
    text = " ".join(repr(value).split()) if not isinstance(value, str) else repr(" ".join(value.split()))
    return text if len(text) <= width else text[: width - 1] + "…"


def clean_number(name: str, raw: object, rule: Number) -> tuple[float | int, str | None]:
    """``raw`` as a number within ``rule``'s range, and a warning when it had to change."""
    value: float | None = None
    if isinstance(raw, bool):
        value = None
    elif isinstance(raw, (int, float)):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            value = None
    if value is None or not math.isfinite(value):
        what = "not a finite number" if value is not None else "not a number"
        return _typed(rule.default, rule), f"{name}={shown(raw)} is {what}; using {rule.show(rule.default)}"
    if rule.integer and not value.is_integer():
        rounded = float(round(value))
        clipped = min(max(rounded, rule.low), rule.high)
        return _typed(clipped, rule), f"{name}={shown(raw)} is not a whole number; using {rule.show(clipped)}"
    if value < rule.low:
        return _typed(rule.low, rule), f"{name}={rule.show(value)} is below {rule.show(rule.low)}; using " \
                                       f"{rule.show(rule.low)}"
    if value > rule.high:
        return _typed(rule.high, rule), f"{name}={rule.show(value)} is above {rule.show(rule.high)}; using " \
                                        f"{rule.show(rule.high)}"
    return _typed(value, rule), None


def _typed(value: float, rule: Number) -> float | int:
    return int(value) if rule.integer else float(value)


def clean_params(dataset: str, raw: object, *, uploaded: bool = False) -> tuple[dict, list[str]]:
    """The ``params`` value of a link (a JSON object) checked against the dataset's rules."""
    if raw in (None, ""):
        return {}, []
    warnings: list[str] = []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw, parse_constant=lambda c: c)  # NaN/Infinity stay strings: not numbers
        except ValueError:
            return {}, [f"params={shown(raw)} is not valid JSON; using the dataset's defaults"]
    if not isinstance(raw, dict):
        return {}, [f"params={shown(raw)} is not a JSON object; using the dataset's defaults"]
    rules = UPLOAD_PARAMS if uploaded else DATASET_PARAMS.get(dataset, {})
    out: dict = {}
    for key, value in raw.items():
        if key not in rules:
            warnings.append(f"{dataset} has no parameter {shown(key)}; ignored")
            continue
        out[key], note = clean_number(key, value, rules[key])
        if note:
            warnings.append(note)
    if dataset == "synthetic" and "intrinsic_dim" in out:
        dim = out.get("dim", int(rules["dim"].default))
        if out["intrinsic_dim"] > dim:
            warnings.append(f"intrinsic_dim={out['intrinsic_dim']:,} is above dim={dim:,}; using {dim:,}")
            out["intrinsic_dim"] = dim
    return out, warnings


def clean_encoder(raw: object, default: str) -> tuple[str, str | None]:
    """An encoder from a link: a registered name or an operator-allowed model folder, else ``default``.

    The warning is the same whether or not the value names a real path on the server.
    """
    if raw in (None, ""):
        return default, None
    if raw == "given-vectors" or visitor_may_use(raw):
        return str(raw), None
    return default, (f"encoder={shown(raw)} is not an encoder this server offers; using {default} (a local model "
                     "folder must be one the operator allowed under DENSESCOPE_MODELS)")


def clean_workspace_params(query: dict, *, datasets: list[str], uploads: list[str], default_dataset: str,
                           default_encoder: str) -> tuple[dict, list[str]]:
    """A workspace spec from a link's raw query values, and one warning per value that changed."""
    warnings: list[str] = []
    dataset = query.get("dataset") or default_dataset
    if dataset not in datasets and dataset not in uploads:
        warnings.append(f"dataset={shown(dataset)} is not a dataset here; showing {default_dataset}")
        dataset = default_dataset
    params, notes = clean_params(dataset, query.get("params"), uploaded=dataset in uploads)
    encoder, note = clean_encoder(query.get("encoder"), default_encoder)
    warnings += notes + ([note] if note else [])
    return {"dataset": dataset, "params": params, "encoder": encoder, "encoder_options": {}}, warnings
