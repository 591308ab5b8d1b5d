"""Compare spaces: one dataset, two embedding spaces, do they see the same neighbourhoods?

A *space* is written ``ENCODER[:DERIVATION]``: an encoder name or model folder as for a workspace
(``minilm``, ``tfidf-svd``, ``glove-avg``, ``/models/e5``), optionally derived: ``:truncate=128``
(the first 128 dimensions, Matryoshka-style), ``:pca=64`` (PCA of the space to 64 dimensions), the
isotropy post-processing of Mu & Viswanath ``:abtt=3`` (all-but-the-top: the mean and the top 3 principal
directions removed) and ``:whiten`` / ``:whiten=64`` (PCA whitening, all or the top 64 dimensions), both fitted
on the base vectors and applied to queries too (`core.analysis.isotropy`),
or ``file:PATH``: a vector file (``.npy``, ``.fvecs``, HDF5) with one row per item of the dataset,
in its order (command line only: the app never opens a path a visitor names).
Both spaces cover the dataset's items in the same order (checked). `compare_spaces` measures
neighbour agreement, CKA, the Spearman correlation of pairwise similarities, each space's geometry,
and (with qrels) each space's exact-search MRR@10 / nDCG@10 with the queries they disagree on most;
its per-item rows (``id``, ``agreement``) are saved as a run of kind ``"compare"``.

kNN graphs come from `core.workspace.Workspace.knn` (the cached exact graph every page shares) for
plain spaces, and from the same `core.index.exact.knn_graph`, cached beside it, for derived ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.analysis.isotropy import AllButTheTop, Whitening, unit_rows
from core.analysis.spaces import (
    Geometry,
    chance_agreement,
    linear_cka,
    neighbour_agreement,
    similarity_spearman,
    space_geometry,
)
from core.index.exact import exact_search, knn_graph
from core.index.metrics import mrr_at_k, ndcg_at_k
from core.progress import ProgressFn, report
from core.store.artifacts import artifact_key
from core.workspace import relevant_positions

KIND = "compare"
DERIVATIONS = ("truncate", "pca", "abtt", "whiten")
#: Derivations that may be written without ``=N`` (``minilm:whiten`` keeps every dimension).
BARE_DERIVATIONS = ("whiten",)
#: What ``N`` counts in each derivation, for error messages.
DERIVATION_UNITS = {"truncate": "dimensions", "pca": "dimensions", "abtt": "directions to remove",
                    "whiten": "dimensions"}
#: CKA and the similarity correlation use a seeded sample of this many items at most (CKA is exact
#: in feature space, but TwoNN and the sampled pairs stay fast; the sample is stated).
CKA_SAMPLE = 20_000
DISAGREEING_SHOWN = 10


#: Encoder options a space may set, and their types (see `core.encode.transformer.TransformerEncoder`).
SPACE_OPTIONS = {"pooling": str, "max_length": int, "query_prefix": str, "passage_prefix": str}


@dataclass(frozen=True)
class SpaceSpec:
    """``encoder`` with optional encoder options and an optional derivation (``truncate``/``pca`` to ``dims``).

    Written ``minilm``, ``minilm(pooling=cls,max_length=128)``, ``minilm:truncate=128``,
    ``minilm(pooling=mean):pca=64`` or ``file:vectors.npy``.
    """

    encoder: str
    derivation: str | None = None
    dims: int | None = None
    options: tuple[tuple[str, object], ...] = ()

    @classmethod
    def parse(cls, text: str) -> SpaceSpec:
        text = str(text).strip()
        if not text:
            raise ValueError("a space needs an encoder name, e.g. minilm or tfidf-svd:truncate=128")
        close = text.rfind(")")  # options end here; a derivation can only follow them
        head, tail = text[: close + 1], text[close + 1 :]
        derivation, dims = None, None
        base, sep, rest = tail.rpartition(":")
        name, eq, value = rest.partition("=")
        bare = not eq and name.strip() in BARE_DERIVATIONS and not text.startswith(FILE_PREFIX)
        if sep and not eq and name.strip() in DERIVATIONS and not bare and not text.startswith(FILE_PREFIX):
            raise ValueError(f"{name.strip()} needs its number of {DERIVATION_UNITS[name.strip()]}, e.g. "
                             f"{base or head}:{name.strip()}=3")
        if sep and (eq or bare) and (base or head):
            name = name.strip()
            if name not in DERIVATIONS:
                raise ValueError(f"unknown derivation {rest!r} in {text!r}; use ENCODER:truncate=N, ENCODER:pca=N, "
                                 "ENCODER:abtt=N or ENCODER:whiten[=N]")
            dims = None if bare else _derivation_count(name, value)
            derivation, tail = name, base
        encoder, options = _split_options(head + tail)
        return cls(encoder, derivation, dims, options)

    @property
    def label(self) -> str:
        opts = "(" + ",".join(f"{k}={v}" for k, v in self.options) + ")" if self.options else ""
        how = "" if self.derivation is None else f":{self.derivation}" + ("" if self.dims is None else f"={self.dims}")
        return self.encoder + opts + how


def _derivation_count(name: str, value: str) -> int:
    """The ``N`` of ``name=N``: a whole number of at least 1, or a ValueError saying what it counts."""
    try:
        dims = int(value)
    except ValueError:
        raise ValueError(f"{name} needs a whole number of {DERIVATION_UNITS[name]}, got {value!r}") from None
    if dims < 1:
        raise ValueError(f"{name} needs at least 1 of its {DERIVATION_UNITS[name]}, got {dims}")
    return dims


def _split_options(text: str) -> tuple[str, tuple[tuple[str, object], ...]]:
    """``"minilm(pooling=cls,max_length=128)"`` -> ``("minilm", (("max_length", 128), ("pooling", "cls")))``."""
    if not text.endswith(")") or "(" not in text:
        return text, ()
    name, _, inner = text[:-1].partition("(")
    out = {}
    for part in (p for p in inner.split(",") if p.strip()):
        key, eq, value = part.partition("=")
        key, value = key.strip(), value.lstrip()  # a prefix keeps its trailing space ("query: ")
        if not eq or key not in SPACE_OPTIONS:
            raise ValueError(f"encoder option {part!r} is not one of {', '.join(SPACE_OPTIONS)} (as key=value)")
        if SPACE_OPTIONS[key] is int:
            try:
                out[key] = int(value)
            except ValueError:
                raise ValueError(f"{key} needs a whole number, got {value!r}") from None
        else:
            out[key] = value
    if not name:
        raise ValueError(f"a space needs an encoder name before its options, got {text!r}")
    return name, tuple(sorted(out.items()))


@dataclass
class Space:
    """One opened space: its workspace, vectors (derived if asked) and how it was derived."""

    spec: SpaceSpec
    ws: object
    x: np.ndarray
    key: str
    transform: np.ndarray | None = None  # (d, dims) projection of a PCA space (applied to queries too)
    mean: np.ndarray | None = None
    from_file: bool = False  # vectors read from a file: no encoder, so no query vectors
    fitted: object | None = None  # the AllButTheTop / Whitening fitted on the base vectors (applied to queries too)

    def queries(self) -> np.ndarray | None:
        if self.from_file:
            return None
        xq = self.ws.query_embeddings()
        return None if xq is None else self.derive(xq)

    def derive(self, v: np.ndarray) -> np.ndarray:
        if self.spec.derivation == "truncate":
            v = v[:, : self.spec.dims]
        elif self.spec.derivation == "pca":
            v = (v - self.mean) @ self.transform
        elif self.spec.derivation in ("abtt", "whiten"):
            v = self.fitted.transform(v)
        else:
            return v
        if self.ws.metric == "cosine":
            return unit_rows(v)
        return np.ascontiguousarray(v, dtype=np.float32)


def check_derivation(spec: SpaceSpec, d: int) -> None:
    """ValueError when ``spec``'s derivation cannot apply to a ``d``-dimensional space."""
    if spec.derivation is None or spec.dims is None:
        return
    if spec.derivation == "abtt" and spec.dims >= d:
        raise ValueError(f"{spec.label}: {spec.encoder} has {d} dimensions; all-but-the-top can remove at most "
                         f"{d - 1} directions, not {spec.dims}")
    if spec.dims > d:
        raise ValueError(f"{spec.label}: {spec.encoder} has {d} dimensions, fewer than the {spec.dims} asked for")


def fit_space(space: Space) -> Space:
    """Fit ``space``'s derivation on its base vectors ``space.x`` and replace them by the derived ones."""
    spec, x = space.spec, space.x
    check_derivation(spec, x.shape[1])
    if spec.derivation == "pca":
        xd = np.asarray(x, dtype=np.float64)
        space.mean = xd.mean(axis=0).astype(np.float32)
        _, vecs = np.linalg.eigh(np.cov(xd, rowvar=False))
        space.transform = np.ascontiguousarray(vecs[:, ::-1][:, : spec.dims], dtype=np.float32)
    elif spec.derivation == "abtt":
        space.fitted = AllButTheTop(spec.dims).fit(x)
    elif spec.derivation == "whiten":
        space.fitted = Whitening(spec.dims).fit(x)
    space.x = space.derive(x)
    return space


def open_space(dataset: str, spec: SpaceSpec | str, *, dataset_params: dict | None = None,
               progress: ProgressFn | None = None) -> Space:
    """The space's workspace and vectors (encoded if needed, with ``progress``)."""
    from core.workspace import Workspace

    spec = SpaceSpec.parse(spec) if isinstance(spec, str) else spec
    if spec.encoder.startswith(FILE_PREFIX):
        return _file_space(dataset, spec, dataset_params)
    if spec.options and spec.encoder in ("tfidf-svd", "glove-avg"):
        raise ValueError(f"{spec.label}: encoder options (pooling, max_length, prefixes) apply to transformer "
                         f"models, not to {spec.encoder}")
    ws = Workspace.open(dataset, spec.encoder, dataset_params=dataset_params or {},
                        encoder_options=dict(spec.options))
    return space_of_workspace(ws, spec, progress)


def space_of_workspace(ws, spec: SpaceSpec, progress: ProgressFn | None = None) -> Space:
    """``spec``'s space over an opened workspace of its encoder (derived and fitted when it asks)."""
    x = ws.embeddings(progress)
    if spec.derivation is None:
        return Space(spec, ws, x, ws.embeddings_key)
    return fit_space(Space(spec, ws, x, artifact_key(ws.embeddings_key, spec.derivation, spec.dims)))


FILE_PREFIX = "file:"


def _file_space(dataset: str, spec: SpaceSpec, dataset_params: dict | None) -> Space:
    """A space read from a vector file of the same items (same count, same order)."""
    from core.data.loading import load_file
    from core.workspace import Workspace

    if spec.derivation is not None:
        raise ValueError(f"{spec.label}: derive a file's vectors before saving them; only plain files are read")
    ws = Workspace.open(dataset, None, dataset_params=dataset_params or {})
    given = load_file(spec.encoder.removeprefix(FILE_PREFIX), metric=ws.metric)
    if given.vectors is None:
        raise ValueError(f"{spec.encoder.removeprefix(FILE_PREFIX)} holds texts, not vectors; encode it or give "
                         "a .npy/.fvecs/HDF5 file")
    if given.n != ws.dataset.n:
        raise ValueError(f"the vector file has {given.n:,} rows but {ws.dataset.name} has {ws.dataset.n:,} items: "
                         "a space must hold the same items in the same order")
    x = np.ascontiguousarray(given.vectors, dtype=np.float32)
    if ws.metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = x / np.where(norms > 0, norms, 1.0)
    return Space(spec, ws, x, artifact_key("file-space", given.fingerprint()), from_file=True)


def space_knn(space: Space, k: int, progress: ProgressFn | None = None) -> np.ndarray:
    """``I`` ``(n, k)`` exact neighbours in the space (the workspace's cached graph, or one cached beside it)."""
    if space.spec.derivation is None and not space.from_file:
        return space.ws.knn(k, progress)[1]
    key = artifact_key("knn-derived", space.key, k, space.ws.metric)
    hit = space.ws.cache.load("knn", key)
    if hit is not None:
        return hit[0]
    _, I = knn_graph(space.x, k, space.ws.metric, progress=progress)
    space.ws.cache.save("knn", key, I, {"derived": space.spec.label, "k": k})
    return I


@dataclass
class Retrieval:
    """Exact-search task quality of one space on the dataset's qrels, and each query's reciprocal rank."""

    mrr_at_10: float
    ndcg_at_10: float
    reciprocal_rank: np.ndarray  # (nq,), 0 when no relevant item is in the top 10


@dataclass
class Comparison:
    """What `compare_spaces` measured; ``rows`` has one row per item (``id``, ``agreement``, ...)."""

    dataset: str
    a: str
    b: str
    k: int
    n: int
    agreement_mean: float
    chance: float
    cka: float
    spearman: float
    pairs: int
    sample: int
    geometry_a: Geometry
    geometry_b: Geometry
    seconds: float
    rows: pd.DataFrame
    retrieval_a: Retrieval | None = None
    retrieval_b: Retrieval | None = None
    disagreeing: pd.DataFrame = field(default_factory=pd.DataFrame)
    provenance: dict = field(default_factory=dict)  # what each space was computed from, for run manifests

    def summary(self) -> dict:
        out = {"dataset": self.dataset, "space_a": self.a, "space_b": self.b, "k": self.k, "n": self.n,
               "agreement_mean": self.agreement_mean, "chance": self.chance, "cka": self.cka,
               "spearman": self.spearman, "pairs": self.pairs, "sample": self.sample,
               "seconds": round(self.seconds, 2)}
        for side, g in (("a", self.geometry_a), ("b", self.geometry_b)):
            out |= {f"{side}_{key}": value for key, value in g.as_dict().items()}
        for side, r in (("a", self.retrieval_a), ("b", self.retrieval_b)):
            if r is not None:
                out |= {f"{side}_mrr_at_10": r.mrr_at_10, f"{side}_ndcg_at_10": r.ndcg_at_10}
        return out

    def sentences(self) -> list[str]:
        """The comparison in words, one measure per sentence, with its live numbers."""
        out = [
            f"Neighbour agreement: on average {self.agreement_mean:.1%} of an item's {self.k} nearest neighbours "
            f"in {self.a} are also among its {self.k} nearest in {self.b} (two unrelated spaces would share "
            f"{self.chance:.2%} by chance).",
            f"Linear CKA {self.cka:.3f} (1 = the same space up to rotation and scale, near 0 = unrelated)"
            + (f", on a seeded sample of {self.sample:,} items" if self.sample < self.n else "") + ".",
            f"Spearman correlation of pairwise similarities: {self.spearman:.3f} over {self.pairs:,} sampled pairs.",
        ]
        if self.retrieval_a is not None and self.retrieval_b is not None:
            out.append(f"Exact search on the relevance task: {self.a} MRR@10 {self.retrieval_a.mrr_at_10:.3f}, "
                       f"nDCG@10 {self.retrieval_a.ndcg_at_10:.3f}; {self.b} MRR@10 "
                       f"{self.retrieval_b.mrr_at_10:.3f}, nDCG@10 {self.retrieval_b.ndcg_at_10:.3f}.")
        return out


def space_retrieval(space: Space, qrels: list[np.ndarray] | None) -> Retrieval | None:
    """Exact-search MRR@10 / nDCG@10 of ``space`` on the dataset's queries and ``qrels`` (``None`` without either)."""
    xq = space.queries()
    if xq is None or qrels is None or not any(len(q) for q in qrels):
        return None
    _, I = exact_search(space.x, xq, min(10, space.x.shape[0]), space.ws.metric)
    rr = np.zeros(I.shape[0])
    for q, (row, rel) in enumerate(zip(I, qrels, strict=True)):
        hits = np.flatnonzero(np.isin(row, relevant_positions(rel)))
        rr[q] = 1.0 / (hits[0] + 1) if hits.size else 0.0
    judged = [q for q, rel in enumerate(qrels) if len(rel)]
    return Retrieval(mrr_at_k(I[judged], [qrels[q] for q in judged], 10),
                     ndcg_at_k(I[judged], [qrels[q] for q in judged], 10), rr)


#: Kind and format version of a comparison saved in the artifact cache (bump when `Comparison` changes).
COMPARISON_KIND, COMPARISON_VERSION = "comparison", 1


def compare_spaces(dataset: str, a: str, b: str, *, k: int = 10, dataset_params: dict | None = None,
                   progress: ProgressFn | None = None, recorder=None, seed: int = 0) -> Comparison:
    """Compare space ``a`` and ``b`` of ``dataset`` (see the module docstring); rows go to ``recorder``.

    The result is saved in the artifact cache, keyed by both spaces' vectors, k, the seed and the dataset:
    asking again (another session, another server process, after `prepare`) loads it in milliseconds.
    """
    t0 = time.perf_counter()
    report(progress, 0, 6, f"space A: {a}")
    sa = open_space(dataset, a, dataset_params=dataset_params, progress=progress)
    report(progress, 1, 6, f"space B: {b}")
    sb = open_space(dataset, b, dataset_params=dataset_params, progress=progress)
    ds = sa.ws.dataset
    if sb.ws.dataset.ids != ds.ids:
        raise ValueError(f"{a} and {b} do not cover the same items in the same order")
    n = sa.x.shape[0]
    if n < 3:
        raise ValueError(f"comparing two spaces needs at least 3 items; {ds.name} has {n}")
    k = min(int(k), n - 1)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    key = artifact_key(COMPARISON_KIND, COMPARISON_VERSION, sa.key, sb.key, k, seed, ds.fingerprint(), sa.ws.metric)
    hit = sa.ws.cache.load(COMPARISON_KIND, key)
    saved = _comparison_from_artifact(hit, ds, sa.spec.label, sb.spec.label) if hit is not None else None
    if saved is not None:
        report(progress, 6, 6, "loaded from the cache")
        if recorder is not None:
            recorder.describe(saved.provenance)
            recorder.add(*saved.rows[["id", "agreement"]].to_dict("records"))
        return saved
    result = _compare(sa, sb, k, seed, progress, t0)
    sa.ws.cache.save(COMPARISON_KIND, key, result.rows["agreement"].to_numpy(np.float64), _comparison_meta(result))
    if recorder is not None:
        recorder.describe(result.provenance)
        recorder.add(*result.rows[["id", "agreement"]].to_dict("records"))
    return result


def _comparison_meta(c: Comparison) -> dict:
    """Everything of a `Comparison` but its per-item rows, as JSON (the agreement is the artifact's array)."""
    def retrieval(r: Retrieval | None) -> dict | None:
        return None if r is None else {"mrr_at_10": r.mrr_at_10, "ndcg_at_10": r.ndcg_at_10,
                                       "reciprocal_rank": [float(v) for v in r.reciprocal_rank]}

    return {
        "k": c.k, "n": c.n, "agreement_mean": c.agreement_mean, "chance": c.chance, "cka": c.cka,
        "spearman": c.spearman, "pairs": c.pairs, "sample": c.sample, "seconds": c.seconds,
        "geometry_a": c.geometry_a.as_dict(), "geometry_b": c.geometry_b.as_dict(),
        "retrieval_a": retrieval(c.retrieval_a), "retrieval_b": retrieval(c.retrieval_b),
        "disagreeing": {"columns": list(c.disagreeing.columns),
                        "rows": c.disagreeing.astype(object).values.tolist()},
        "provenance": c.provenance,
    }


def _comparison_from_artifact(hit: tuple[np.ndarray, dict], ds, a: str, b: str) -> Comparison | None:
    """The saved comparison, its item rows rebuilt from the dataset; ``None`` when it does not fit."""
    agreement, meta = hit
    if agreement.shape != (ds.n,):
        return None
    try:
        def retrieval(r: dict | None) -> Retrieval | None:
            return None if r is None else Retrieval(float(r["mrr_at_10"]), float(r["ndcg_at_10"]),
                                                    np.asarray(r["reciprocal_rank"], dtype=np.float64))

        table = meta["disagreeing"]
        return Comparison(
            ds.name, a, b, int(meta["k"]), int(meta["n"]), float(meta["agreement_mean"]), float(meta["chance"]),
            float(meta["cka"]), float(meta["spearman"]), int(meta["pairs"]), int(meta["sample"]),
            Geometry(**meta["geometry_a"]), Geometry(**meta["geometry_b"]), float(meta["seconds"]),
            _item_rows(ds, agreement), retrieval(meta["retrieval_a"]), retrieval(meta["retrieval_b"]),
            pd.DataFrame(table["rows"], columns=table["columns"]), dict(meta["provenance"]),
        )
    except (KeyError, TypeError, ValueError):
        return None  # an older or damaged record: computed again


def _item_rows(ds, agreement: np.ndarray) -> pd.DataFrame:
    n = ds.n
    return pd.DataFrame({
        "id": ds.ids,
        "agreement": agreement,
        "label": ds.labels if ds.labels is not None else [""] * n,
        "text": [ds.display_text(i)[:160] for i in range(n)],
    })


def _compare(sa: Space, sb: Space, k: int, seed: int, progress: ProgressFn | None, t0: float) -> Comparison:
    """The measurements of `compare_spaces` (k already checked against n)."""
    ds = sa.ws.dataset
    n = sa.x.shape[0]
    report(progress, 2, 6, "kNN graphs")
    I_a, I_b = space_knn(sa, k, progress), space_knn(sb, k, progress)
    agreement = neighbour_agreement(I_a, I_b, k)
    report(progress, 3, 6, "CKA and similarity correlation")
    rng = np.random.default_rng(seed)
    rows_s = np.sort(rng.choice(n, size=CKA_SAMPLE, replace=False)) if n > CKA_SAMPLE else np.arange(n)
    cka = linear_cka(sa.x[rows_s], sb.x[rows_s])
    rho, pairs = similarity_spearman(sa.x, sb.x, metric=sa.ws.metric, n_pairs=min(20_000, n * (n - 1) // 2),
                                     seed=seed)
    report(progress, 4, 6, "geometry of each space")
    geo_a = space_geometry(sa.x[rows_s], _subgraph(I_a, rows_s), k=k)
    geo_b = space_geometry(sb.x[rows_s], _subgraph(I_b, rows_s), k=k)
    report(progress, 5, 6, "retrieval")
    ev = sa.ws.eval_set() if ds.has_qrels else None
    qrels = ev.qrels if ev is not None else None
    ret_a, ret_b = space_retrieval(sa, qrels), space_retrieval(sb, qrels)
    rows = _item_rows(ds, agreement)
    disagreeing = pd.DataFrame()
    if ret_a is not None and ret_b is not None and ds.queries is not None:
        gap = ret_a.reciprocal_rank - ret_b.reciprocal_rank
        top = np.argsort(-np.abs(gap), kind="stable")[:DISAGREEING_SHOWN]
        texts = ds.queries.texts or [""] * len(ds.queries)
        text_of = dict(zip(ds.queries.ids, texts, strict=True))
        disagreeing = pd.DataFrame({
            "query": [ev.query_ids[q] for q in top], "text": [text_of.get(ev.query_ids[q], "")[:160] for q in top],
            f"RR@10 {sa.spec.label}": ret_a.reciprocal_rank[top], f"RR@10 {sb.spec.label}": ret_b.reciprocal_rank[top],
        })
    report(progress, 6, 6, "done")
    return Comparison(ds.name, sa.spec.label, sb.spec.label, k, n, float(agreement.mean()),
                      chance_agreement(n, k), cka, rho, pairs, int(rows_s.size), geo_a, geo_b,
                      time.perf_counter() - t0, rows, ret_a, ret_b, disagreeing,
                      {"dataset_fingerprint": ds.fingerprint(), "seed": seed, "space_a": sa.ws.provenance(),
                       "space_b": sb.ws.provenance()})


def _subgraph(I: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The graph restricted to a sample of rows, ids renumbered; neighbours outside it become -1."""
    if rows.size == I.shape[0]:
        return I
    pos = np.full(I.shape[0], -1, dtype=np.int64)
    pos[rows] = np.arange(rows.size)
    sub = I[rows]
    return np.where(sub >= 0, pos[np.clip(sub, 0, None)], -1)


def compare_run_params(dataset: str, a: str, b: str, k: int, dataset_params: dict | None = None) -> dict:
    return {"space_a": a, "space_b": b, "k": k, "dataset_params": dict(dataset_params or {})}


def neighbours_side_by_side(cmp_a: Space, cmp_b: Space, row: int, k: int) -> pd.DataFrame:
    """Item ``row``'s k nearest neighbours in each space, rank by rank, shared ones marked."""
    I_a, I_b = space_knn(cmp_a, k)[row, :k], space_knn(cmp_b, k)[row, :k]
    ds = cmp_a.ws.dataset
    shared = set(I_a.tolist()) & set(I_b.tolist())

    def name(i: int) -> str:
        return "" if i < 0 else ds.ids[i] + (" ✓" if i in shared else "")

    return pd.DataFrame({"rank": np.arange(1, k + 1), cmp_a.spec.label: [name(int(i)) for i in I_a],
                         cmp_b.spec.label: [name(int(i)) for i in I_b]})
