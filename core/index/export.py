"""Export one built configuration as files a person takes home: the index, its parts, a manifest and a
short `search.py` that loads them and searches with the chosen settings (faiss and numpy only).

What is written, by method:

- one faiss index (flat, SQ, PQ, OPQ, fast-scan, IVF-*, HNSW-*, RaBitQ, and the reductions, whose
  projection is a faiss transform inside the index): ``index.faiss`` (`faiss.write_index`);
- binary sign codes: ``index.faissb`` (`faiss.write_index_binary`) and, when centred, ``threshold.npy``;
- BEBR codes (not a faiss index): ``codes.npy``, ``scales.npy`` and, when centred, ``mean.npy``;
- with a re-rank shortlist: also ``base.npy``, the float vectors the shortlist is re-scored with.

Every export has ``ids.json`` (the dataset id of each index row: faiss returns rows) and
``manifest.json`` (method, factory string, build and search parameters, k, metric, what a query must
look like, each file's size and sha256). `search.py` runs as ``python search.py queries.npy [k]``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import textwrap
from pathlib import Path

import faiss
import numpy as np

from core.index.registry import display_name, factory_string
from core.index.spec import Built

#: faiss SearchParameters constructor per search parameter set, as it appears in search.py.
SEARCH_PARAMS_CODE = {
    ("nprobe",): "faiss.SearchParametersIVF(nprobe={nprobe})",
    ("ef_search",): "faiss.SearchParametersHNSW(efSearch={ef_search})",
    ("qb",): "faiss.RaBitQSearchParameters(qb={qb})",
    ("nprobe", "qb"): "faiss.IVFRaBitQSearchParameters(nprobe={nprobe}, qb={qb})",
}


def _faiss_search_params(search_params: dict) -> str:
    names = tuple(sorted(n for n in search_params if n != "rerank"))
    if not names:
        return "None"
    key = next((k for k in SEARCH_PARAMS_CODE if tuple(sorted(k)) == names), None)
    if key is None:
        raise ValueError(f"no faiss search parameters for {', '.join(names)}")
    return SEARCH_PARAMS_CODE[key].format(**search_params)


def _kind(built: Built) -> str:
    if built.method == "bebr":
        return "bebr"
    if isinstance(built.index, faiss.IndexBinary):
        return "binary"
    if built.index is None:
        raise ValueError(f"{built.method}: nothing to export (no index)")
    return "faiss"


def _preamble(metric: str) -> str:
    return textwrap.dedent(f'''\
        """Search an index exported by densescope: python search.py queries.npy [k] -> results.npy.

        Queries: float32 (nq, d) from the same encoder as the base
        ({"L2-normalised here, as the base was" if metric == "cosine" else "used as given"}). Prints the first
        queries' result ids.
        """
        import json
        import sys
        from pathlib import Path

        import faiss
        import numpy as np

        HERE = Path(__file__).parent
        IDS = json.loads((HERE / "ids.json").read_text(encoding="utf-8"))
        ''')


def _prepare(metric: str) -> str:
    normalise = "\n    faiss.normalize_L2(xq)" if metric == "cosine" else ""
    return f'    xq = np.ascontiguousarray(xq, dtype="float32"){normalise}\n'


RERANK_CODE = '''

def rerank(xq, I, k):
    """Exact scores of the shortlist I with the float vectors; the best k, best first."""
    cand = BASE[np.maximum(I, 0)]
    scores = {score}
    scores[I < 0] = {worst}
    order = np.argsort({sort_key}, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(I, order, axis=1)
'''

MAIN_CODE = '''

if __name__ == "__main__":
    k = int(sys.argv[2]) if len(sys.argv) > 2 else {k}
    D, I = search(np.load(sys.argv[1]), k)
    np.save(sys.argv[3] if len(sys.argv) > 3 else "results.npy", I)
    for row in I[:3]:
        print([IDS[i] for i in row if i >= 0])
'''


def _rerank_code(metric: str) -> str:
    if metric == "l2":
        return RERANK_CODE.format(score="((cand - xq[:, None, :]) ** 2).sum(axis=2)", worst="np.inf",
                                  sort_key="scores")
    return RERANK_CODE.format(score='np.einsum("qd,qrd->qr", xq, cand)', worst="-np.inf", sort_key="-scores")


def search_snippet(built: Built, search_params: dict, k: int) -> str:
    """The `search.py` of an export: loads the files and searches as the sweep's configuration did."""
    kind, metric = _kind(built), built.metric
    r = int(search_params.get("rerank", 0))
    fetch = "R" if r else "k"
    lines = [_preamble(metric)]
    if kind == "faiss":
        lines.append(f'INDEX = faiss.read_index(str(HERE / "index.faiss"))\n'
                     f"PARAMS = {_faiss_search_params(search_params)}\n")
        body = f"    D, I = INDEX.search(xq, {fetch}, params=PARAMS)\n"
    elif kind == "binary":
        threshold = 'np.load(HERE / "threshold.npy")' if "threshold" in built.arrays else "0.0"
        lines.append(f'INDEX = faiss.read_index_binary(str(HERE / "index.faissb"))\nTHRESHOLD = {threshold}\n')
        body = f"    D, I = INDEX.search(np.packbits(xq > THRESHOLD, axis=1), {fetch})  # Hamming distances\n"
    else:
        centred = "mean" in built.arrays and metric == "l2"
        lines.append(textwrap.dedent(f'''\
            CODES, SCALES = np.load(HERE / "codes.npy"), np.load(HERE / "scales.npy")  # (n, bits, d/8), (n, bits)
            MEAN = {'np.load(HERE / "mean.npy")' if centred else "None"}
            D_IN = {built.d}


            def decode(start, stop):
                """The float reconstruction sum_j scales[:, j] * sign_j of rows start:stop."""
                signs = np.unpackbits(CODES[start:stop], axis=2, count=D_IN).astype("float32") * 2 - 1
                return np.einsum("nb,nbd->nd", SCALES[start:stop], signs)
            '''))
        faiss_metric = "METRIC_L2" if metric == "l2" else "METRIC_INNER_PRODUCT"
        body = textwrap.dedent(f'''\
                xq_c = xq if MEAN is None else xq - MEAN
                heap = faiss.ResultHeap(len(xq), {fetch}, keep_max={metric != "l2"})
                for start in range(0, len(CODES), 16384):
                    xhat = decode(start, start + 16384)
                    D, I = faiss.knn(xq_c, xhat, min({fetch}, len(xhat)), metric=faiss.{faiss_metric})
                    heap.add_result(D, I + start)
                heap.finalize()
                D, I = heap.D, heap.I
            ''')
        body = textwrap.indent(body, "    ")
    if r:
        lines.append(f'BASE = np.load(HERE / "base.npy")  # float32 vectors for the exact re-rank\nR = {r}\n')
        lines.append(_rerank_code(metric))
        body += "    return rerank(xq, I, k)\n"
    else:
        body += "    return D, I\n"
    setting = ", ".join(f"{n}={v}" for n, v in search_params.items()) or "no search parameters"
    lines.append(f'\n\ndef search(xq, k={k}):\n    """Top-k rows of the index ({setting})."""\n'
                 + _prepare(metric) + body)
    lines.append(MAIN_CODE.format(k=k))
    return "".join(lines)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def write_export(folder: str | Path, built: Built, search_params: dict, k: int, ids: list[str],
                 manifest: dict | None = None) -> dict:
    """Write the export of ``built`` (searched with ``search_params``) into ``folder``; return the manifest.

    ``ids`` names each index row (the dataset id of base row i); ``manifest`` adds provenance
    (dataset fingerprint, encoder, seeds, versions, measured recall).
    """
    folder = Path(folder)
    if len(ids) != built.n:
        raise ValueError(f"{len(ids)} ids for an index of {built.n} vectors")
    # Written into a temporary sibling, then renamed: a killed export leaves no folder that looks
    # complete (a search.py beside a missing or truncated manifest), only a hidden ".partial" one.
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = folder.parent / f".{folder.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        out = _write_files(partial, built, search_params, k, ids, manifest)
        if folder.exists():
            old = folder.parent / f".{folder.name}.old-{os.getpid()}"
            folder.rename(old)
            partial.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return out


def _write_files(folder: Path, built: Built, search_params: dict, k: int, ids: list[str],
                 manifest: dict | None) -> dict:
    kind = _kind(built)
    if kind == "faiss":
        faiss.write_index(built.index, str(folder / "index.faiss"))
    elif kind == "binary":
        faiss.write_index_binary(built.index, str(folder / "index.faissb"))
        if "threshold" in built.arrays:
            np.save(folder / "threshold.npy", built.arrays["threshold"])
    else:
        np.save(folder / "codes.npy", built.arrays["codes"])
        np.save(folder / "scales.npy", built.arrays["scales"])
        if "mean" in built.arrays and built.metric == "l2":  # search.py reads it for L2 only (a constant per
            np.save(folder / "mean.npy", built.arrays["mean"])  # query otherwise: it cannot change a ranking)
    if int(search_params.get("rerank", 0)):
        if built.xb is None:
            raise ValueError(f"{built.method}: a re-rank needs the float base vectors, which this build did not keep")
        np.save(folder / "base.npy", np.ascontiguousarray(built.xb, dtype=np.float32))
    (folder / "ids.json").write_text(json.dumps(list(ids), ensure_ascii=False), encoding="utf-8")
    (folder / "search.py").write_text(search_snippet(built, search_params, k), encoding="utf-8")
    files = {p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)}
             for p in sorted(folder.iterdir()) if p.is_file() and p.name != "manifest.json"}
    out = {
        **(manifest or {}),  # provenance first: the index's own facts below are what the files hold
        "method": built.method,
        "method_name": display_name(built.method),
        "factory": factory_string(built.method, {**built.params, **search_params}),
        "build_params": dict(built.params),
        "search_params": dict(search_params),
        "k": int(k),
        "metric": built.metric,
        "n": int(built.n),
        "d": int(built.d),
        "queries": ("float32 (nq, d), L2-normalised (search.py does it)" if built.metric == "cosine"
                    else "float32 (nq, d), as given"),
        "kind": {"faiss": "one faiss index", "binary": "a faiss binary index of sign codes",
                 "bebr": "numpy codes and scales (not a faiss index)"}[kind],
        "files": files,
    }
    (folder / "manifest.json").write_text(json.dumps(out, indent=1, ensure_ascii=False, default=str),
                                          encoding="utf-8")
    return out
