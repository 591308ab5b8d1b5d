"""How much memory one loaded array may take, checked from a file's header before anything is read.

A 6 KB HDF5 can declare a million rows, a 1 MB .npz can unpack to a gigabyte, a 16 KB Parquet can hold a
2 GiB column of repeated vectors: the shape a file declares, times 4 bytes per float32 value, is checked
against `max_array_bytes` first, so a file cannot take the server's memory by what it claims.
"""

from __future__ import annotations

import os

#: Share of the machine's memory one array may take when ``DENSESCOPE_MAX_ARRAY_GB`` is not set.
MEMORY_SHARE = 0.25
#: The limit never drops below this (a small machine still loads a demo-sized file).
FLOOR_BYTES = 256 * 2**20


def meminfo_bytes(field: str, meminfo: str = "/proc/meminfo") -> int | None:
    """One ``/proc/meminfo`` field (``MemTotal``, ``MemAvailable`` ...) in bytes; ``None`` when unknown."""
    try:
        with open(meminfo) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def machine_memory_bytes(meminfo: str = "/proc/meminfo") -> int | None:
    return meminfo_bytes("MemTotal", meminfo)


def max_array_bytes() -> int:
    """``DENSESCOPE_MAX_ARRAY_GB`` (GiB) when set, else a quarter of the machine's memory (8 GiB unknown)."""
    raw = os.environ.get("DENSESCOPE_MAX_ARRAY_GB")
    if raw:
        try:
            value = float(raw)
            if value > 0:
                return int(value * 2**30)
        except ValueError:
            pass
    total = machine_memory_bytes()
    return max(FLOOR_BYTES, int((total or 32 * 2**30) * MEMORY_SHARE))


def check_array_size(n_rows: int, dim: int, filename: str, what: str = "vectors", itemsize: int = 4) -> None:
    """Raise ValueError when ``n_rows x dim`` values of ``itemsize`` bytes would pass `max_array_bytes`."""
    need = int(n_rows) * int(dim) * int(itemsize)
    limit = max_array_bytes()
    if need > limit:
        raise ValueError(
            f"{filename} declares {int(n_rows):,} {what} of {int(dim):,} dims: {need / 2**30:.2f} GiB in memory, over "
            f"this server's limit of {limit / 2**30:.2f} GiB per array (DENSESCOPE_MAX_ARRAY_GB); load a sample "
            "(a row limit), or a subset of the file"
        )


def check_bytes(nbytes: int, filename: str, what: str = "unpacked") -> None:
    """Raise ValueError when ``nbytes`` (e.g. an archive's unpacked size) would pass `max_array_bytes`."""
    limit = max_array_bytes()
    if int(nbytes) > limit:
        raise ValueError(f"{filename} would take {int(nbytes) / 2**30:.2f} GiB {what}, over this server's limit of "
                         f"{limit / 2**30:.2f} GiB (DENSESCOPE_MAX_ARRAY_GB); save a subset")
