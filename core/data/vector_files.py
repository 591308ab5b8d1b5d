"""Vector files: `.npy`, `.npz`, `.fvecs`, big-ann-benchmarks `.fbin`/`.ibin`/`.u8bin`/`.i8bin` and
ann-benchmarks HDF5 (base, test queries, neighbours as qrels)."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from core.data.dataset import Dataset, Queries, check_vectors
from core.data.file_info import FileInfo
from core.data.limits import check_array_size, check_bytes

#: big-ann-benchmarks binary formats: header ``uint32 n, uint32 d``, then ``n*d`` values of this type.
BIN_DTYPES: dict[str, str] = {"fbin": "<f4", "ibin": "<i4", "u8bin": "u1", "i8bin": "i1"}
#: ``.npz`` array names taken as the base vectors, the queries and the true neighbours, in this order.
NPZ_BASE_NAMES: tuple[str, ...] = ("embeddings", "vectors", "base", "train", "xb", "x", "emb", "data")
NPZ_QUERY_NAMES: tuple[str, ...] = ("queries", "query", "test", "xq")
NPZ_NEIGHBOR_NAMES: tuple[str, ...] = ("neighbors", "neighbours", "gt", "ground_truth", "knn")
#: Largest total a ``.npz`` may unpack to (its members are compressed; the archive is checked first).

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


# --------------------------------------------------------------------------- #
# Vector files
# --------------------------------------------------------------------------- #


def load_vectors(
    path: Path, fmt: str, *, name: str, metric: str | None, max_rows: int | None, array: str | None = None
) -> Dataset:
    """A vector `Dataset` from .npy, .npz, .fvecs, .fbin/.ibin/.u8bin/.i8bin or ann-benchmarks .hdf5."""
    queries, qrels, extra = None, None, {}
    if fmt == "npy":
        base, declared = _read_npy(path, max_rows), None
    elif fmt == "fvecs":
        base, declared = _read_fvecs(path, max_rows), None
    elif fmt in BIN_DTYPES:
        base, declared = read_bin(path, fmt, max_rows).astype(np.float32), None
    elif fmt == "npz":
        base, queries, qrels, extra = _read_npz(path, max_rows, array)
        declared = None
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


def read_npy_header(f) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the header of an open .npy stream (ValueError/EOFError when it is not one)."""
    fmt = np.lib.format
    version = fmt.read_magic(f)
    read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    shape, _, dtype = read_header(f)
    return shape, dtype


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a .npy header, without reading (or unpickling) the data."""
    with open(path, "rb") as f:
        try:
            shape, dtype = read_npy_header(f)
        except (ValueError, EOFError) as e:
            raise ValueError(f"{path.name} is not a valid .npy file ({e}); save arrays with numpy.save") from None
    if dtype.hasobject:
        raise ValueError(
            f"{path.name} holds Python objects (dtype {dtype}), which would have to be unpickled -- "
            "that can run arbitrary code, so it is refused. Save a numeric array instead: "
            "np.save(path, np.asarray(vectors, dtype=np.float32))"
        )
    return shape, dtype


def _rows_kept(n: int, max_rows: int | None) -> int:
    return n if max_rows is None else min(n, max(0, int(max_rows)))


def _check_shape(shape, max_rows: int | None, filename: str, what: str = "vectors") -> None:
    """The memory gate (`core.data.limits`) on a declared shape, for the rows that will be kept."""
    if len(shape) >= 1:
        dim = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        check_array_size(_rows_kept(int(shape[0]), max_rows), dim, filename, what)


def _read_npy(path: Path, max_rows: int | None) -> np.ndarray:
    """The array (its first ``max_rows`` rows), memory-mapped so only those rows are read."""
    shape, _ = _npy_header(path)
    _check_shape(shape, max_rows, path.name)
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
    check_array_size(_rows_kept(size // row_bytes, max_rows), dim, path.name)
    rows = np.memmap(path, dtype="<i4", mode="r", shape=(size // row_bytes, dim + 1))[:max_rows]
    bad = np.flatnonzero(rows[:, 0] != dim)
    if bad.size:
        raise ValueError(
            f"{path.name}: row {int(bad[0])} has dimension header {int(rows[bad[0], 0])}, expected {dim}; "
            "all vectors in an .fvecs file must have the same dimension"
        )
    return np.ascontiguousarray(rows[:, 1:]).view("<f4").astype(np.float32)


def bin_header(path: Path, fmt: str) -> tuple[int, int]:
    """``(n, d)`` from a big-ann-benchmarks file's 8-byte header, checked against the file's size."""
    size = path.stat().st_size
    if size < 8:
        raise ValueError(f"{path.name} is too short ({size} bytes) to be a .{fmt} file (an 8-byte header n, d)")
    n, d = (int(v) for v in np.fromfile(path, dtype="<u4", count=2))
    itemsize = np.dtype(BIN_DTYPES[fmt]).itemsize
    expected = 8 + n * d * itemsize
    if d == 0 or n == 0:
        raise ValueError(f"{path.name}: the header says {n} vectors of dimension {d}; nothing to load")
    if size != expected:
        raise ValueError(
            f"{path.name}: the header says {n:,} vectors of dimension {d} ({expected:,} bytes with the header) "
            f"but the file has {size:,} bytes; it is truncated or not a .{fmt} file"
        )
    return n, d


def read_bin(path: Path, fmt: str, max_rows: int | None = None) -> np.ndarray:
    """The first ``max_rows`` rows of a .fbin/.ibin/.u8bin/.i8bin file, memory-mapped (only those are read)."""
    n, d = bin_header(path, fmt)
    check_array_size(_rows_kept(n, max_rows), d, path.name)
    rows = np.memmap(path, dtype=BIN_DTYPES[fmt], mode="r", offset=8, shape=(n, d))
    return np.array(rows[:max_rows])


def _npz_members(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of each array in an ``.npz`` (from the member headers; nothing unpickled)."""
    import zipfile

    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"{path.name} is not a valid .npz file ({e}); save arrays with numpy.savez") from None
    members: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    with archive:
        total = sum(info.file_size for info in archive.infolist())
        check_bytes(total, path.name)
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with archive.open(info) as f:
                try:
                    shape, dtype = read_npy_header(f)
                except (ValueError, EOFError) as e:
                    raise ValueError(f"{path.name}: member {info.filename} is not a valid array ({e})") from None
            members[info.filename.removesuffix(".npy")] = (shape, dtype)
    if not members:
        raise ValueError(f"{path.name} holds no arrays; save them with numpy.savez(path, embeddings=...)")
    return members


def _npz_listing(members: dict) -> str:
    return ", ".join(f"{k} {tuple(s)} {dt}" for k, (s, dt) in members.items())


def _npz_pick(members: dict, names: tuple[str, ...]) -> str | None:
    lowered = {k.lower(): k for k in members}
    return next((lowered[n] for n in names if n in lowered), None)


def npz_base_name(path: Path, members: dict, array: str | None) -> str:
    """Which array of an .npz holds the base vectors: ``array``, a known name, or the only 2-D one."""
    if array is not None:
        if array not in members:
            raise ValueError(f"{path.name} has no array {array!r}; it holds: {_npz_listing(members)}")
        return array
    named = _npz_pick(members, NPZ_BASE_NAMES)
    if named:
        return named
    two_d = [k for k, (shape, dt) in members.items() if len(shape) == 2 and dt.kind in "fiub"]
    others = [k for k in two_d if k.lower() not in NPZ_QUERY_NAMES + NPZ_NEIGHBOR_NAMES]
    if len(others) == 1:
        return others[0]
    raise ValueError(f"{path.name}: which array holds the vectors? It holds: {_npz_listing(members)}; "
                     "choose one with --array NAME (app: the 'Array' field)")


def _read_npz(path: Path, max_rows: int | None, array: str | None):
    """An .npz -> (base, queries or None, qrels from neighbours or None, extra params)."""
    members = _npz_members(path)
    base_name = npz_base_name(path, members, array)
    for key, (_, dtype) in members.items():
        if dtype.hasobject and key == base_name:
            raise ValueError(f"{path.name}: array {key!r} holds Python objects (dtype {dtype}), which would have "
                             "to be unpickled -- that can run arbitrary code, so it is refused")
    query_name = _npz_pick({k: v for k, v in members.items() if k != base_name}, NPZ_QUERY_NAMES)
    neighbor_name = _npz_pick({k: v for k, v in members.items() if k != base_name}, NPZ_NEIGHBOR_NAMES)
    base_shape = members[base_name][0]
    if len(base_shape) != 2:
        raise ValueError(f"{path.name}: array {base_name!r} has shape {tuple(base_shape)}; vectors must be 2-D (n, d)")
    _check_shape(base_shape, None, f"{path.name} ({base_name})")  # np.load unpacks the whole member
    for other in (query_name, neighbor_name):
        if other:
            _check_shape(members[other][0], None, f"{path.name} ({other})", "rows")
    with np.load(path, allow_pickle=False) as npz:
        try:
            full = npz[base_name]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
            raise ValueError(f"{path.name}: cannot read array {base_name!r} ({e}); is the file damaged?") from None
        if full.ndim != 2:
            raise ValueError(f"{path.name}: array {base_name!r} has shape {full.shape}; vectors must be 2-D (n, d)")
        n_base = full.shape[0]
        base = np.array(full[:max_rows])
        del full
        queries = npz[query_name] if query_name and not members[query_name][1].hasobject else None
        neighbors = (npz[neighbor_name] if neighbor_name and queries is not None
                     and members[neighbor_name][1].kind in "iu" else None)
    extra: dict[str, Any] = {"array": base_name}
    if query_name and queries is not None:
        extra["queries_array"] = query_name
    qrels = None
    if neighbors is not None:
        if max_rows is not None and max_rows < n_base:
            extra["neighbors_dropped"] = "max_rows keeps a subset, so the stored neighbours no longer apply"
        else:
            qrels = _neighbor_qrels(neighbors, n_base, len(queries), f"{path.name}: {neighbor_name}")
            extra["neighbors_array"] = neighbor_name
            extra["qrels_from"] = "neighbors"
    return base, queries, qrels, extra


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
        train = _hdf5_matrix(f, "train", path.name)
        test = _hdf5_matrix(f, "test", path.name) if "test" in f else None
        n_train = int(train.shape[0])
        _check_shape(train.shape, max_rows, path.name)
        if test is not None:
            _check_shape(test.shape, None, f"{path.name} (test)", "queries")
        try:
            base = np.asarray(train[:max_rows])
            queries = np.asarray(test[:]) if test is not None else None
            neighbors = None
            if "neighbors" in f and queries is not None:
                nb = _hdf5_matrix(f, "neighbors", path.name)
                _check_shape(nb.shape, None, f"{path.name} (neighbors)", "rows")
                neighbors = np.asarray(nb[:])
        except (OSError, ValueError, TypeError) as e:
            raise ValueError(f"{path.name}: cannot read its arrays ({e}); is the file truncated?") from None
        declared = _declared_metric(f.attrs.get("distance"), path.name)
    extra: dict[str, Any] = {"distance": declared}
    qrels = None
    if neighbors is not None:
        if max_rows is not None and max_rows < n_train:
            extra["neighbors_dropped"] = "max_rows keeps a subset, so the stored neighbours no longer apply"
        else:
            qrels = _neighbor_qrels(neighbors, n_train, len(queries), path.name)
            extra["qrels_from"] = "neighbors"
    return base, queries, qrels, declared, extra


def _hdf5_matrix(f, name: str, filename: str):
    """The HDF5 dataset ``name`` when it is a 2-D numeric array, else a ValueError saying what it is."""
    import h5py

    node = f[name]
    if not isinstance(node, h5py.Dataset):
        raise ValueError(f"{filename}: '{name}' is a group, not an array; ann-benchmarks files hold a 2-D array "
                         f"(n, d) in '{name}'")
    if len(node.shape) != 2 or node.dtype.kind not in "fiub":
        raise ValueError(f"{filename}: '{name}' has shape {tuple(node.shape)} and type {node.dtype}; expected a 2-D "
                         "numeric array (n, d)")
    return node


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


def inspect_vectors(path: Path, fmt: str) -> FileInfo:
    if fmt == "hdf5":
        return _inspect_hdf5(path)
    if fmt == "npz":
        members = _npz_members(path)
        name = npz_base_name(path, members, None)
        shape = tuple(int(s) for s in members[name][0])
        if len(shape) != 2:
            raise ValueError(f"{path.name}: array {name!r} has shape {shape}; vectors must be 2-D (n, d)")
        query = _npz_pick({k: v for k, v in members.items() if k != name}, NPZ_QUERY_NAMES)
        return FileInfo(path=str(path), format=fmt, kind="vectors", n_rows=shape[0], shape=(shape[0], shape[1]),
                        columns=list(members), vector_column=name,
                        n_queries=int(members[query][0][0]) if query else None)
    if fmt in BIN_DTYPES:
        shape = bin_header(path, fmt)
    else:
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
        shape = tuple(int(s) for s in _hdf5_matrix(f, "train", path.name).shape)
        n_queries = int(_hdf5_matrix(f, "test", path.name).shape[0]) if "test" in f else None
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
