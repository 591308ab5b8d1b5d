"""Colours shared by the figures: the category palette of the maps, the method families' colours, and the
distance that checks they can be told apart.

Distance is CIE76 ΔE: the Euclidean distance in CIELAB (sRGB, D65 white), where about 2.3 is the smallest
difference a person notices side by side and above 20 two small dots read as different colours.
The category palette was picked greedily (each next colour the one farthest from those already chosen and
from the "other" grey and white) starting from plotly's first nine colours with its grey removed; its
closest pair is about 28 apart, and the grey of "other" about 39 from every one.
"""

from __future__ import annotations

import numpy as np

#: One colour per drawn category (at most 20); none is a grey.
PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
    "#0000ff", "#ff1eff", "#4b5a0f", "#690fb4", "#ff0078", "#e1a55a", "#0078ff", "#960f4b", "#ff8787",
    "#3c9669", "#c300a5",
]
#: Points of the categories past the palette ("other"), and points without a value.
OTHER_COLOUR = "#c8c8c8"

#: One colour per method family of the compression sweep (reduction is brown: the pink it had sat ΔE 13
#: from PQ's red).
FAMILY_COLOURS = {
    "exact": "#212529", "scalar": "#1c7ed6", "pq": "#e03131", "ivf": "#f59f00", "graph": "#2f9e44",
    "binary": "#9c36b5", "rabitq": "#0c8599", "reduction": "#8c564b",
}
#: Families without a colour of their own (a family added to the registry later), in order.
EXTRA_FAMILY_COLOURS = ["#ff1eff", "#0000ff", "#bcbd22", "#e1a55a"]


def hex_to_lab(colours: list[str]) -> np.ndarray:
    """``"#rrggbb"`` colours as CIELAB ``(n, 3)`` (sRGB companding, D65 white)."""
    rgb = np.array([[int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)] for c in colours], dtype=np.float64)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    to_xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = linear @ to_xyz.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def colour_distance(a: str, b: str) -> float:
    """CIE76 ΔE between two ``"#rrggbb"`` colours (0 = the same colour)."""
    lab = hex_to_lab([a, b])
    return float(np.linalg.norm(lab[0] - lab[1]))


def min_pairwise_distance(colours: list[str]) -> float:
    """The smallest ΔE between any two of ``colours`` (``inf`` for fewer than two)."""
    if len(colours) < 2:
        return float("inf")
    lab = hex_to_lab(colours)
    d = np.linalg.norm(lab[:, None] - lab[None], axis=2)
    return float(d[np.triu_indices(len(colours), 1)].min())


def family_colour(family: str, i: int = 0) -> str:
    """The family's colour; a family without one takes the ``i``-th extra colour."""
    return FAMILY_COLOURS.get(family, EXTRA_FAMILY_COLOURS[i % len(EXTRA_FAMILY_COLOURS)])
