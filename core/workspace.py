"""A workspace is one (dataset, encoder) pair and the artifacts derived from it.

Everything a page or a CLI command needs -- embeddings, query embeddings, the
evaluation split, exact ground truth, the kNN graph -- comes from here, computed
once and cached on disk keyed by content (dataset fingerprint + encoder config),
so no page and no command ever computes the same thing twice.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from core.data.dataset import Dataset, check_vectors, normalize_rows
from core.progress import ProgressFn
from core.store.artifacts import ArtifactCache, artifact_key

#: Encoder name used for vector datasets, whose vectors are used as given.
GIVEN_VECTORS = "given-vectors"


@dataclass
class EvalSet:
    """Base and query vectors for an experiment, with ground-truth bookkeeping.

    Attributes:
        xb: float32 ``(nb, d)`` base vectors searched by every method.
        xq: float32 ``(nq, d)`` query vectors.
        base_rows: ``(nb,)`` row of each base vector in the dataset.
        query_ids: one id per query (dataset query ids, or ids of held-out items).
        qrels: per query, ``{base position (into xb): grade}`` of the documents judged relevant (grade > 0),
            or ``None``; `relevant_positions` gives the positions alone.
        source: ``"dataset queries"`` or ``"held-out sample (seed s)"``.
    """

    xb: np.ndarray
    xq: np.ndarray
    base_rows: np.ndarray
    query_ids: list[str]
    qrels: list[np.ndarray] | None
    source: str
    query_rows: np.ndarray | None = None  # dataset rows of held-out queries
    given_neighbors: list[np.ndarray] | None = None  # a benchmark file's true neighbours (base positions)

    @property
    def key(self) -> str:
        return artifact_key(self.source, self.query_ids, int(self.xb.shape[0]))


def relevant_positions(entry) -> np.ndarray:
    """The base positions of one query's judgments (a ``{position: grade}`` dict or a sequence), int64."""
    keys = list(entry.keys()) if isinstance(entry, dict) else list(entry)
    return np.asarray(sorted(int(k) for k in keys), dtype=np.int64)


def default_n_queries(n: int) -> int:
    """Held-out queries for datasets without queries: 10% of n, at most 1,000, at least 1."""

    return max(1, min(1000, n // 10))


def held_out_split(n: int, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of ``range(n)`` into sorted (query_rows, base_rows)."""
    if not 1 <= n_queries < n:
        raise ValueError(f"n_queries must be between 1 and {n - 1} for {n} items, got {n_queries}")
    rng = np.random.default_rng(seed)
    query_rows = np.sort(rng.choice(n, size=n_queries, replace=False))
    mask = np.ones(n, dtype=bool)
    mask[query_rows] = False
    return query_rows, np.flatnonzero(mask)


def measured_encode_rate(cache: ArtifactCache, encoder_config: dict) -> float | None:
    """Median passages/s of cached encodes made with ``encoder_config`` (``None`` if none).

    Encodes saved since load times are kept apart (``load_seconds`` in their meta) give the rate of
    the encoding alone; older ones counted the model's load in it, so their rate reads a little low.
    """
    rates = [
        r["meta"]["per_second"]
        for r in cache.list("embeddings")
        if (r.get("meta") or {}).get("encoder") == encoder_config and r["meta"].get("per_second")
    ]
    return float(np.median(rates)) if rates else None


def measured_rate_for_encoder(name: str, options: dict | None = None,
                              cache: ArtifactCache | None = None) -> float | None:
    """`measured_encode_rate` for an encoder given by name (before any workspace exists)."""
    enc = _named_encoder(name, options)
    return None if enc is None else measured_encode_rate(cache or ArtifactCache(), enc.config())


def _named_encoder(name: str, options: dict | None):
    from core.encode.registry import make_encoder

    try:
        enc = make_encoder(name, **(options or {}))
    except (ValueError, OSError):
        return None
    return None if getattr(enc, "needs_fit", False) else enc  # a fitted config depends on its corpus


#: Seconds a process's first encode spends loading the model, by encoder family (the ``"encoder"`` of its
#: config), used until a load has been measured on this machine. Transformers import torch and
#: transformers, read the weights and run a first batch: 13-17 s for minilm in a fresh process on this
#: project's 2 shared CPU cores (``make_encoder("minilm").encode(["x"])``, timed). Static encoders load
#: their vectors (GloVe) or fit (TF-IDF) when the workspace opens, so an encode starts at once.
DEFAULT_LOAD_SECONDS: dict[str, float] = {"transformer": 15.0}
#: Under this many seconds a load is not worth a word in an estimate.
NEGLIGIBLE_LOAD_S = 0.5

_loaded_in_process: set[str] = set()  # configs (as JSON) of encoders that have encoded in this process


def _config_id(encoder_config: dict) -> str:
    return json.dumps(encoder_config, sort_keys=True, default=str)


@dataclass(frozen=True)
class LoadTime:
    """What loading the encoder adds to an encode: ``seconds``, and ``source`` -- ``"measured"`` (median of
    this machine's first loads), ``"default"`` (`DEFAULT_LOAD_SECONDS` for its family) or ``"loaded"``
    (already loaded in this process: nothing to add)."""

    seconds: float
    source: str
    family: str = ""


def measured_load_seconds(cache: ArtifactCache, encoder_config: dict) -> float | None:
    """Median model-load seconds of cached encodes made with ``encoder_config`` (``None`` if none timed)."""
    loads = [
        r["meta"]["load_seconds"]
        for r in cache.list("embeddings")
        if (r.get("meta") or {}).get("encoder") == encoder_config and r["meta"].get("load_seconds") is not None
    ]
    return float(np.median(loads)) if loads else None


def expected_load_time(cache: ArtifactCache, encoder_config: dict) -> LoadTime:
    """The load time an encode with ``encoder_config`` will add: none once loaded in this process, else
    this machine's measured loads, else the stated default of the encoder's family."""
    family = str(encoder_config.get("encoder", ""))
    if _config_id(encoder_config) in _loaded_in_process:
        return LoadTime(0.0, "loaded", family)
    measured = measured_load_seconds(cache, encoder_config)
    if measured is not None:
        return LoadTime(measured, "measured", family)
    return LoadTime(DEFAULT_LOAD_SECONDS.get(family, 0.0), "default", family)


def load_time_for_encoder(name: str, options: dict | None = None,
                          cache: ArtifactCache | None = None) -> LoadTime | None:
    """`expected_load_time` for an encoder given by name (before any workspace exists)."""
    enc = _named_encoder(name, options)
    return None if enc is None else expected_load_time(cache or ArtifactCache(), enc.config())


def _duration(seconds: float, about: str = "~") -> str:
    """``~40 s`` / ``~3 min`` / ``under 1 s`` (``about`` leads a rounded figure)."""
    if seconds < 1:
        return "under 1 s"
    return about + (f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min")


def encode_time_text(n: int, rate: float | None, encoder: str, load: LoadTime | None = None) -> str:
    """A sentence estimating an encode of ``n`` passages from a measured rate, plus the model's load time
    when ``load`` is given (`expected_load_time`)::

        about 40 s: ~35 s encoding at the 75 passages/s measured ... + ~5 s loading the model (...)
    """
    loads = load is not None and load.seconds >= NEGLIGIBLE_LOAD_S
    if not loads:
        why = ""
    elif load.source == "measured":
        why = f" (measured when {encoder} was first loaded here)"
    else:
        why = f" (typical for a {load.family} model; no load timed here yet)"
    if rate is None:
        text = (f"no encode with {encoder} has been timed on this machine yet, so there is no estimate; "
                "the progress bar shows the rate as it goes")
        return text + (f"; loading the model first takes {_duration(load.seconds)}{why}" if loads else "")
    seconds = n / rate
    measured = f"the {rate:.0f} passages/s measured in earlier encodes with {encoder} here"
    if not loads:
        already = "; the model is already loaded" if load is not None and load.source == "loaded" else ""
        return f"{_duration(seconds, 'about ')} at {measured}{already}"
    return (f"{_duration(seconds + load.seconds, 'about ')}: {_duration(seconds)} encoding at {measured} "
            f"+ {_duration(load.seconds)} loading the model{why}")


@dataclass
class Workspace:
    dataset: Dataset
    encoder_name: str = GIVEN_VECTORS
    encoder_options: dict = field(default_factory=dict)
    cache: ArtifactCache = field(default_factory=ArtifactCache)
    _memo: np.ndarray | None = field(default=None, init=False, repr=False)
    _knn_memo: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.dataset.kind == "vectors":
            self.encoder_name = GIVEN_VECTORS
        elif self.encoder_name == GIVEN_VECTORS:
            from core.encode.registry import DEFAULT_ENCODER

            self.encoder_name = DEFAULT_ENCODER

    # -- identity ------------------------------------------------------------
    @classmethod
    def open(
        cls,
        dataset: str | Dataset,
        encoder: str | None = None,
        *,
        dataset_params: dict | None = None,
        encoder_options: dict | None = None,
        cache: ArtifactCache | None = None,
        progress: ProgressFn | None = None,
    ) -> Workspace:
        if isinstance(dataset, str):
            from core.data.uploads import open_dataset

            dataset = open_dataset(dataset, progress=progress, **(dataset_params or {}))
        return cls(
            dataset,
            encoder or GIVEN_VECTORS,
            dict(encoder_options or {}),
            cache or ArtifactCache(),
        )

    @cached_property
    def encoder(self):  # -> core.encode.base.Encoder | None
        if self.dataset.kind == "vectors":
            return None
        from core.encode.registry import make_encoder

        enc = make_encoder(self.encoder_name, **self.encoder_options)
        if getattr(enc, "needs_fit", False):
            enc.fit(self.dataset.texts)
        return enc

    def provenance(self) -> dict:
        """What results computed here come from: the dataset (name, fingerprint, parameters), the
        encoder's configuration and the embeddings' cache key (for run manifests and exports)."""
        try:
            encoder = self.encoder_config()
        except (ValueError, OSError) as exc:  # a model folder that went away: say so, keep the name
            encoder = {"name": self.encoder_name, "unavailable": str(exc)}
        ds = self.dataset
        return {"dataset": ds.name, "dataset_fingerprint": ds.fingerprint(), "dataset_params": dict(ds.params),
                "dataset_kind": ds.kind, "dataset_n": ds.n, "metric": self.metric, "encoder_config": encoder,
                "embeddings_key": self.embeddings_key}

    def encoder_config(self) -> dict:
        """The encoder's configuration, as fitted on this corpus; an encoder that must be fitted is not
        fitted for it (asking whether embeddings are cached costs no TF-IDF + SVD fit)."""
        if self.dataset.kind == "vectors":
            return {"name": GIVEN_VECTORS, "normalize": self.dataset.metric == "cosine"}
        if "encoder" in self.__dict__:  # already built (and fitted)
            return self.encoder.config()
        from core.encode.registry import make_encoder

        enc = make_encoder(self.encoder_name, **self.encoder_options)
        return enc.config_for(self.dataset.texts) if getattr(enc, "needs_fit", False) else enc.config()

    @property
    def metric(self) -> str:
        return self.dataset.metric

    @property
    def vectors_label(self) -> str:
        """What the vectors are, for a sentence: "given vectors" or "minilm embeddings"."""
        return "given vectors" if self.dataset.kind == "vectors" else f"{self.encoder_name} embeddings"

    @property
    def label(self) -> str:
        return f"{self.dataset.name} · {self.encoder_name}"

    @cached_property
    def embeddings_key(self) -> str:
        return artifact_key("embeddings", self.dataset.fingerprint(), self.encoder_config())

    # -- embeddings ------------------------------------------------------------
    def has_embeddings(self) -> bool:
        if self.dataset.kind == "vectors" or self._memo is not None:
            return True
        return self.cache.exists("embeddings", self.embeddings_key)

    def embeddings(self, progress: ProgressFn | None = None) -> np.ndarray:
        """float32 ``(n, d)`` vectors of the base items (computed once, then cached)."""
        if self.dataset.kind == "vectors":
            return self._given_vectors()
        if self._memo is not None:
            return self._memo
        hit = self.cache.load("embeddings", self.embeddings_key)
        if hit is not None:
            self._memo = hit[0]
            return self._memo
        config = self.encoder_config()
        first_load = _config_id(config) not in _loaded_in_process
        t0 = time.perf_counter()
        if first_load:  # one text first: its time is the model's load (weights, imports, first batch)
            self.encoder.encode(self.dataset.texts[:1], kind="passage")
        self._mark_loaded()
        t1 = time.perf_counter()
        x = self.encoder.encode(self.dataset.texts, kind="passage", progress=progress)
        t2 = time.perf_counter()
        x = check_vectors(x, "embeddings")
        self._memo = x
        self.cache.save(
            "embeddings",
            self.embeddings_key,
            x,
            {
                "dataset": self.dataset.name,
                "fingerprint": self.dataset.fingerprint(),
                "encoder": config,
                "seconds": t2 - t0,
                "encode_seconds": t2 - t1,
                # only a first load in this process measures one (a loaded model adds nothing)
                "load_seconds": t1 - t0 if first_load else None,
                "per_second": self.dataset.n / (t2 - t1) if t2 > t1 else None,
            },
        )
        return x

    def _mark_loaded(self) -> None:
        _loaded_in_process.add(_config_id(self.encoder_config()))

    def embeddings_meta(self) -> dict | None:
        record = self.cache.record("embeddings", self.embeddings_key)
        return None if record is None else record.get("meta", {})

    def measured_encode_rate(self) -> float | None:
        """Passages per second of this machine's past encodes with the same encoder, or ``None``.

        The median over the cached embeddings whose encoder config matches (any dataset), so
        time estimates shown before an encode come from measurements, not a constant.
        """
        if self.dataset.kind == "vectors":
            return None
        return measured_encode_rate(self.cache, self.encoder_config())

    def expected_load_time(self) -> LoadTime | None:
        """What loading the encoder adds to encoding now (`expected_load_time`); ``None`` for vectors."""
        if self.dataset.kind == "vectors":
            return None
        return expected_load_time(self.cache, self.encoder_config())

    def embeddings_path(self):
        return self.cache.root / "embeddings" / f"{self.embeddings_key}.npy"

    @cached_property
    def _given(self) -> np.ndarray:
        x = check_vectors(self.dataset.vectors, f"vectors of {self.dataset.name}",
                          allow_zero=self.metric != "cosine")
        return normalize_rows(x) if self.metric == "cosine" else x

    def _given_vectors(self) -> np.ndarray:
        return self._given

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Encode free-text queries with the workspace's encoder (unit rows)."""
        if self.dataset.kind == "vectors":
            raise ValueError("this is a vector dataset: it has no text encoder; pick a query from the data")
        x = check_vectors(self.encoder.encode(list(texts), kind="query"), "query vectors")
        self._mark_loaded()
        return x

    def encode_query_text(self, text: str) -> np.ndarray:
        """`encode_queries` of one text, saved in the artifact cache (used for the pages' example queries, which
        `prepare` encodes: a cold server then opens the Query page without loading the model)."""
        key = artifact_key("query-text", self.embeddings_key, text)
        hit = self.cache.load("query-text", key)
        if hit is not None:
            return hit[0]
        x = self.encode_queries([text])
        self.cache.save("query-text", key, x, {"chars": len(text)})
        return x

    def has_query_embeddings(self) -> bool:
        """Whether the dataset's queries are ready without encoding (given as vectors, or cached)."""
        q = self.dataset.queries
        if q is None or len(q) == 0:
            return False
        if q.vectors is not None:
            return True
        return self.cache.exists("query-embeddings",
                                 artifact_key("query-embeddings", self.dataset.fingerprint(), self.encoder_config()))

    def query_embeddings(self, progress: ProgressFn | None = None) -> np.ndarray | None:
        """Vectors of the dataset's own queries (cached), or ``None`` when it has none."""
        q = self.dataset.queries
        if q is None or len(q) == 0:
            return None
        if q.vectors is not None:
            x = check_vectors(q.vectors, "query vectors", allow_zero=self.metric != "cosine")
            return normalize_rows(x) if self.metric == "cosine" else x
        key = artifact_key("query-embeddings", self.dataset.fingerprint(), self.encoder_config())

        def encode() -> np.ndarray:
            x = self.encoder.encode(q.texts, kind="query", progress=progress)
            self._mark_loaded()
            return x

        return self.cache.get_or_compute("query-embeddings", key, encode)[0]

    # -- evaluation ------------------------------------------------------------
    def eval_set(
        self, n_queries: int | None = None, seed: int = 0, progress: ProgressFn | None = None
    ) -> EvalSet:
        """Base and queries for an experiment.

        The dataset's own queries when it has them (all of the base is searched),
        else a seeded held-out sample of base items, removed from the base.
        """
        x = self.embeddings(progress)
        xq = self.query_embeddings(progress)
        if xq is not None:
            if xq.shape[1] != x.shape[1]:
                raise ValueError(f"queries have {xq.shape[1]} dims but the base has {x.shape[1]}")
            ids = self.dataset.queries.ids
            if n_queries is not None and n_queries < len(ids):
                sel = np.sort(np.random.default_rng(seed).choice(len(ids), n_queries, replace=False))
                xq, ids = xq[sel], [ids[i] for i in sel]
            qrels, given = None, None
            if self.dataset.qrels and self.dataset.qrels_are_neighbors:
                # ground truth the file brought: kept apart, checked against exact search, never a judgment
                pos = {doc: i for i, doc in enumerate(self.dataset.ids)}
                given = [np.asarray([pos[d] for d in self.dataset.qrels.get(q, {}) if d in pos], dtype=np.int64)
                         for q in ids]
            elif self.dataset.qrels:
                pos = {doc: i for i, doc in enumerate(self.dataset.ids)}
                # graded: {base position: grade} per query (grades > 0), so nDCG keeps 0/1/2 judgments apart
                qrels = [
                    {pos[d]: int(r) for d, r in self.dataset.qrels.get(q, {}).items() if r > 0 and d in pos}
                    for q in ids
                ]
            return EvalSet(x, xq, np.arange(x.shape[0]), list(ids), qrels, "dataset queries", given_neighbors=given)
        n = x.shape[0]
        if n < 2:
            raise ValueError("need at least 2 items to hold some out as queries")
        nq = default_n_queries(n) if n_queries is None else min(n_queries, n - 1)
        query_rows, base_rows = held_out_split(n, nq, seed)
        return EvalSet(
            np.ascontiguousarray(x[base_rows]), np.ascontiguousarray(x[query_rows]), base_rows,
            [self.dataset.ids[i] for i in query_rows], None, f"held-out sample (seed {seed})",
            query_rows=query_rows,
        )

    def ground_truth(self, ev: EvalSet, k: int, progress: ProgressFn | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k of the eval queries in the eval base (cached artifact)."""
        from core.index.exact import exact_search

        key = artifact_key("gt", self.embeddings_key, ev.key, k, self.metric)
        D_key = key + "d"
        hitI = self.cache.load("ground-truth", key)
        hitD = self.cache.load("ground-truth", D_key)
        if hitI is not None and hitD is not None:
            return hitD[0], hitI[0]
        D, I = exact_search(ev.xb, ev.xq, k, self.metric, progress=progress)
        self.cache.save("ground-truth", D_key, D, {"k": k, "part": "D"})
        self.cache.save("ground-truth", key, I, {"k": k, "part": "I"})
        return D, I

    def has_knn(self, k: int) -> bool:
        """Whether `knn(k)` would be read (from memory or the cache), not computed."""
        if not self.has_embeddings():
            return False
        k_eff = min(k, self.dataset.n - 1)
        if any(have >= k_eff for have in self._knn_memo):
            return True
        return any(self.cache.exists("knn", artifact_key("knn", self.embeddings_key, have, self.metric))
                   and self.cache.exists("knn", artifact_key("knn", self.embeddings_key, have, self.metric) + "d")
                   for have in sorted({k_eff, 10, 15, 30, 50, 100}) if have >= k_eff)

    def knn(self, k: int = 100, progress: ProgressFn | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Exact kNN graph of all items (self excluded), ``D, I`` of shape ``(n, k)``; cached.

        A graph with more neighbours answers smaller-k requests by slicing.
        """
        from core.index.exact import knn_graph

        x = self.embeddings(progress)
        k_eff = min(k, x.shape[0] - 1)
        for have, (D, I) in self._knn_memo.items():
            if have >= k_eff:
                return D[:, :k_eff], I[:, :k_eff]
        for have in sorted({k_eff, 10, 15, 30, 50, 100}):
            if have < k_eff:
                continue
            key = artifact_key("knn", self.embeddings_key, have, self.metric)
            hitI = self.cache.load("knn", key)
            hitD = self.cache.load("knn", key + "d")
            if hitI is not None and hitD is not None:
                self._knn_memo[have] = (hitD[0], hitI[0])
                return hitD[0][:, :k_eff], hitI[0][:, :k_eff]
        D, I = knn_graph(x, k_eff, self.metric, progress=progress)
        self._knn_memo[k_eff] = (D, I)
        key = artifact_key("knn", self.embeddings_key, k_eff, self.metric)
        self.cache.save("knn", key + "d", D, {"k": k_eff, "part": "D"})
        self.cache.save("knn", key, I, {"k": k_eff, "part": "I"})
        return D, I

    # -- description -------------------------------------------------------------
    def summary(self) -> dict:
        s = self.dataset.summary()
        s["encoder"] = self.encoder_name
        s["encoded"] = self.has_embeddings()
        if s["encoded"]:
            s["dim"] = int(self.embeddings().shape[1])
        return s
