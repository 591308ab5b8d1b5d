"""Learned recurrent binarization (after BEBR, Tencent: "Binary Embedding-based Retrieval at Tencent"),
searched with symmetric distances (SDC), asymmetric distances (ADC) or Hamming distance.

The model, trained embedding-to-embedding on a sample of the base (task-agnostic: no queries, no
judgments), maps a centred vector ``x - m`` to ``bits`` binary vectors, one per recurrent step:

    z = (x - m) R                           R: a learned rotation (orthogonal, d x d)
    r_1 = z;   s_j = sign(r_j + MLP_j(r_j))    a residual MLP block per step, sign by straight-through
    ẑ_j = ẑ_{j-1} + a_j ⊙ s_j;   r_{j+1} = z - ẑ_j   a_j: learned per-dimension level scales
    x̂ = ẑ Rᵀ + m

so each step binarizes the residual the steps before left, and ``bits`` steps give ``bits`` bits per
dimension. BEBR weights step j by a fixed 2^-j; here the per-dimension scales ``a_j`` are learned
(initialised by the greedy residual fit), and R is learned as ITQ learns its rotation (orthogonal
Procrustes between the vectors and their codes). The loss is the reconstruction error plus a
similarity-preserving term: the batch's softmax over code-to-code inner products is fitted to its
softmax over the float vectors' (a listwise distillation; BEBR trains with an NCE-form contrastive
objective between binary and float embeddings).

Because R is orthogonal, inner products and distances between decoded vectors are those between the
codes' ẑ, and ẑ is separable per dimension: ``<ẑ_q, ẑ_x> = Σ_t L_t(c_q,t) L_t(c_x,t)``, ``c_{·,t}``
the ``bits`` bits of dimension t and ``L_t`` its 2^bits levels. That is BEBR's symmetric distance
calculation: the query is binarized by the same model, and the score of two codes is a sum of
per-dimension look-ups. It runs on the compiled look-up kernels of `core.index.bebr_kernel` (per-byte
tables of partial sums). ``adc`` scores the float query instead; ``hamming`` counts differing bits
of the same codes (faiss ``knn_hamming``), every bit weighted alike.
"""

from __future__ import annotations

import time

import faiss
import numpy as np

from core.index.exact import faiss_metric
from core.index.learned import (
    SCHEDULES,
    Stopwatch,
    cached_parameters,
    content_key,
    pack,
    steps_for,
    torch_session,
    unpack,
)
from core.index.spec import Built, Params, training_sample
from core.progress import ProgressFn

#: Softmax temperature of the similarity-preserving term (inner products of unit vectors lie in [-1, 1]).
TEMPERATURE = 0.05
#: Weight of the similarity-preserving term against the (normalised) reconstruction error.
SIMILARITY_WEIGHT = 1.0
LEARNING_RATE = 2e-3
#: The MLP blocks learn slower: their output moves signs whose residuals are ~0.05 (unit vectors, 384 dims).
MLP_LEARNING_RATE = 1e-4
#: Adam steps between two rotation updates, and the vectors each update is fitted on.
ROTATE_EVERY = 20
PROCRUSTES_SAMPLE = 8192
#: Largest base sample the model trains on (a seeded sample above it, said in the row's note).
MAX_TRAIN = 20_000
DISTANCES = ("sdc", "adc", "hamming")
#: Part of the cache key: bump it when training changes, so models trained the old way are not reused.
VERSION = 3


# ---------------------------------------------------------------- the model in numpy (inference)


class LearnedBinarizer:
    """A trained recurrent binarizer: `encode` to packed codes, `decode` back, `levels_` per step.

    Fitted attributes (numpy, float32): ``mean_`` ``(d,)``, ``rotation_`` ``(d, d)``, ``levels_``
    ``(bits, d)``, per step ``w1_`` ``(d, h)``, ``b1_`` ``(h,)``, ``w2_`` ``(h, d)``, ``b2_`` ``(d,)``
    (empty when ``hidden`` is 0).
    """

    def __init__(self, bits: int = 2, hidden: int = 32, schedule: str = "quick", random_state: int = 0) -> None:
        self.bits = bits
        self.hidden = hidden
        self.schedule = schedule
        self.random_state = random_state

    # -- fitting
    def fit(self, x: np.ndarray, progress: ProgressFn | None = None) -> LearnedBinarizer:
        """Train on ``x`` float32 ``(n, d)`` (cached by the data, the settings and the seed)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] < 2:
            raise ValueError(f"learned binarization needs at least 2 training vectors, got shape {x.shape}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        key = (content_key(x), int(self.bits), int(self.hidden), self.schedule, int(self.random_state),
               TEMPERATURE, SIMILARITY_WEIGHT, LEARNING_RATE, MLP_LEARNING_RATE, ROTATE_EVERY, VERSION)
        flat, meta, self.from_cache_ = cached_parameters("learned-bebr", key, lambda: self._train(x, progress))
        self._set(unpack(flat, meta["layout"]))
        self.train_seconds_ = float(meta["train_seconds"])
        self.train_note_ = str(meta.get("note", ""))
        self.loss_ = float(meta["loss"])
        return self

    def _set(self, parts: dict[str, np.ndarray]) -> None:
        self.mean_, self.rotation_, self.levels_ = parts["mean"], parts["rotation"], parts["levels"]
        self.mlp_ = [tuple(parts[f"{name}{j}"] for name in ("w1_", "b1_", "w2_", "b2_"))
                     for j in range(self.bits)] if self.hidden else []

    def _train(self, x: np.ndarray, progress: ProgressFn | None) -> tuple[np.ndarray, dict]:
        schedule = steps_for(SCHEDULES[self.schedule], x.shape[0])
        watch = Stopwatch(schedule, progress, f"learned BEBR ({self.bits} bits/dim)")
        with torch_session(self.random_state) as torch:
            parts, loss = train_binarizer(torch, x, int(self.bits), int(self.hidden), schedule.batch, watch)
        flat, layout = pack(parts)
        return flat, {"layout": layout, "train_seconds": watch.seconds, "steps": watch.steps_done,
                      "note": watch.note(), "loss": loss}

    # -- inference
    def rotate(self, x: np.ndarray) -> np.ndarray:
        """``(x - m) R``: float32 ``(n, d)``."""
        return np.ascontiguousarray((x - self.mean_) @ self.rotation_, dtype=np.float32)

    def encode(self, x: np.ndarray, block: int = 16384) -> np.ndarray:
        """Packed codes uint8 ``(n, bits, ceil(d / 8))`` (a set bit means +1), step by step."""
        out = []
        for start in range(0, x.shape[0], block):
            out.append(self.encode_rotated(self.rotate(x[start : start + block])))
        return np.concatenate(out) if out else np.zeros((0, self.bits, -(-x.shape[1] // 8)), np.uint8)

    def encode_rotated(self, z: np.ndarray) -> np.ndarray:
        zhat = np.zeros_like(z)
        codes = []
        for j in range(self.bits):
            r = z - zhat
            h = r
            if self.mlp_:
                w1, b1, w2, b2 = self.mlp_[j]
                h = r + np.maximum(r @ w1 + b1, 0.0) @ w2 + b2
            positive = h >= 0
            zhat += np.where(positive, self.levels_[j], -self.levels_[j])
            codes.append(np.packbits(positive, axis=1))
        return np.stack(codes, axis=1)

    def decode_rotated(self, codes: np.ndarray) -> np.ndarray:
        """ẑ of packed codes: float32 ``(n, d)`` (in the rotated, centred space)."""
        d = self.levels_.shape[1]
        signs = np.unpackbits(codes, axis=2, count=d).astype(np.float32) * 2.0 - 1.0
        return np.einsum("bd,nbd->nd", self.levels_, signs, dtype=np.float32)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """x̂ of packed codes: float32 ``(n, d)``."""
        return self.decode_rotated(codes) @ self.rotation_.T + self.mean_

    def parameter_arrays(self) -> dict[str, np.ndarray]:
        """What a query needs to be encoded (counted in the index's size)."""
        parts = {"mean": self.mean_, "rotation": self.rotation_, "levels": self.levels_}
        for j, (w1, b1, w2, b2) in enumerate(self.mlp_):
            parts.update({f"w1_{j}": w1, f"b1_{j}": b1, f"w2_{j}": w2, f"b2_{j}": b2})
        return parts


# ---------------------------------------------------------------- training (torch)


def greedy_levels(z: np.ndarray, bits: int) -> np.ndarray:
    """Per-dimension level scales of the greedy residual fit: ``a_j = mean |r_j|`` per dimension."""
    r = z.astype(np.float64).copy()
    levels = []
    for _ in range(bits):
        a = np.abs(r).mean(axis=0)
        r -= a * np.where(r >= 0, 1.0, -1.0)
        levels.append(a)
    return np.asarray(levels, dtype=np.float32)


def train_binarizer(torch, x: np.ndarray, bits: int, hidden: int, batch: int, watch: Stopwatch) -> tuple[dict, float]:
    """Fit the model of the module docstring on ``x`` ``(n, d)``; returns its arrays and the last loss.

    Block-coordinate training: Adam steps (straight-through signs) on the level scales and the MLP
    blocks with the rotation fixed, and every `ROTATE_EVERY` steps the rotation that best maps the
    vectors onto their current reconstructions (orthogonal Procrustes, as ITQ learns its rotation:
    ``R = U Vᵀ`` for ``Xᵀ Ẑ = U Σ Vᵀ``), which keeps R exactly orthogonal and costs one d x d SVD.
    """
    nn = torch.nn
    n, d = x.shape
    mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)
    xc = torch.from_numpy(np.ascontiguousarray(x - mean))
    rot = torch.eye(d)
    levels = nn.Parameter(torch.from_numpy(greedy_levels(xc.numpy(), bits)))
    mlps = nn.ModuleList()
    if hidden:
        for _ in range(bits):
            mlp = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, d))
            nn.init.zeros_(mlp[2].weight)  # each step starts as the greedy sign of its residual
            nn.init.zeros_(mlp[2].bias)
            mlps.append(mlp)
    opt = torch.optim.Adam([{"params": [levels]}, {"params": list(mlps.parameters()), "lr": MLP_LEARNING_RATE}],
                           lr=LEARNING_RATE)
    scale = float((xc**2).sum(dim=1).mean())
    gen = torch.Generator().manual_seed(watch.schedule.steps)
    size = min(batch, n)
    procrustes_rows = torch.randperm(n, generator=gen)[:PROCRUSTES_SAMPLE]
    loss_value = float("nan")
    for step in watch.steps():
        if step % ROTATE_EVERY == 0:
            rot = procrustes(torch, xc[procrustes_rows], rot, levels, mlps)
        xb = xc[torch.randperm(n, generator=gen)[:size]]
        z = xb @ rot
        zhat = forward_codes(torch, z, levels, mlps)
        mse = ((z - zhat) ** 2).sum(dim=1).mean() / scale
        loss = mse + SIMILARITY_WEIGHT * similarity_loss(torch, xb, zhat)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_value = float(loss.detach())
    parts = {"mean": mean, "rotation": rot.numpy().copy(), "levels": levels.detach().numpy().copy()}
    for j, mlp in enumerate(mlps):
        parts.update({f"w1_{j}": mlp[0].weight.detach().numpy().T.copy(), f"b1_{j}": mlp[0].bias.detach().numpy(),
                      f"w2_{j}": mlp[2].weight.detach().numpy().T.copy(), f"b2_{j}": mlp[2].bias.detach().numpy()})
    return parts, loss_value


def procrustes(torch, x, rot, levels, mlps):
    """The orthogonal ``R`` minimising ``||x R - ẑ||``, ẑ the codes' reconstruction under the current ``rot``."""
    with torch.no_grad():
        zhat = forward_codes(torch, x @ rot, levels, mlps)
        u, _, vt = torch.linalg.svd(x.T.double() @ zhat.double())
        return (u @ vt).float()


def forward_codes(torch, z, levels, mlps):
    """ẑ of a batch ``z`` with straight-through signs (forward: ±1; backward: the identity)."""
    zhat = torch.zeros_like(z)
    for j in range(levels.shape[0]):
        r = z - zhat
        h = r + mlps[j](r) if len(mlps) else r
        s = h + (torch.where(h >= 0, 1.0, -1.0) - h).detach()
        zhat = zhat + levels[j] * s
    return zhat


def similarity_loss(torch, x, zhat):
    """KL of the batch's softmax over code-to-code inner products from its softmax over the float
    vectors' (each row without itself)."""
    eye = torch.eye(x.shape[0], dtype=torch.bool)
    teacher = (x @ x.T / TEMPERATURE).masked_fill(eye, -1e9).softmax(dim=1)
    student = (zhat @ zhat.T / TEMPERATURE).masked_fill(eye, -1e9).log_softmax(dim=1)
    return torch.nn.functional.kl_div(student, teacher, reduction="batchmean")


# ---------------------------------------------------------------- build and search


def model_of(built: Built) -> LearnedBinarizer:
    model = LearnedBinarizer(int(built.params["bits"]), int(built.params["hidden"]))
    arrays = {k: v for k, v in built.arrays.items() if k not in ("codes", "norms2")}
    model._set(arrays)
    return model


def build_learned_bebr(xb: np.ndarray, metric: str, params: Params, *, seed: int = 0,
                       progress: ProgressFn | None = None, **_) -> Built:
    sample, note = training_sample(xb, seed, MAX_TRAIN)
    model = LearnedBinarizer(int(params["bits"]), int(params["hidden"]), str(params["schedule"]), seed)
    model.fit(sample, progress)
    t0 = time.perf_counter()
    codes = model.encode(xb)
    arrays = {**model.parameter_arrays(), "codes": codes}
    if metric == "l2":  # ||y - ẑ||² = ||y||² - 2 <y, ẑ> + ||ẑ||²: 4 bytes a vector the kernels need
        zhat = model.decode_rotated(codes).astype(np.float64)
        arrays["norms2"] = np.einsum("nd,nd->n", zhat, zhat).astype(np.float32)
    notes = [note, model.train_note_]
    if model.from_cache_:
        notes.append(f"model loaded from the artifact cache (trained in {model.train_seconds_:.1f} s)")
    return Built(arrays=arrays, train_s=model.train_seconds_, build_s=time.perf_counter() - t0,
                 note="; ".join(s for s in notes if s))


def query_vectors(model: LearnedBinarizer, xq: np.ndarray, distance: str, metric: str) -> np.ndarray:
    """The vector ``y`` scored against each code's ẑ: ranking by ``<y, ẑ>`` (or ``||y - ẑ||``) is ranking
    by ``<q', x̂>`` (or ``||q' - x̂||``), q' the query (adc) or its own decoded code (sdc)."""
    if distance == "adc":
        return model.rotate(xq) if metric == "l2" else np.ascontiguousarray(xq @ model.rotation_, dtype=np.float32)
    zq = model.decode_rotated(model.encode(xq))
    if metric == "l2":
        return zq
    return np.ascontiguousarray(zq + model.mean_ @ model.rotation_, dtype=np.float32)  # <q̂, x̂> = <ẑ_q + mR, ẑ_x> + c


def level_queries(y: np.ndarray, levels: np.ndarray, nb: int) -> np.ndarray:
    """``[y ⊙ a_1 | y ⊙ a_2 | ...]``, each part zero-padded to ``8 nb``: scoring it against all the bits of a
    code as one level gives ``Σ_j <y ⊙ a_j, s_j> = <y, ẑ>``."""
    nq, d = y.shape
    out = np.zeros((nq, levels.shape[0], nb * 8), dtype=np.float32)
    out[:, :, :d] = y[:, None, :] * levels[None, :, :]
    return out.reshape(nq, -1)


def search_learned_bebr(built: Built, xq: np.ndarray, k: int, sp: Params, block: int = 16384):
    """Top-k by the chosen ``distance``; ``D`` are inner products ``<q', x̂>`` up to a per-query constant
    (squared L2 distances for L2), or Hamming distances for ``hamming``.

    Up to ``LOOKUP_MAX_QUERIES`` queries: the per-byte look-up kernel of `core.index.bebr_kernel`; more:
    each block of codes decoded once to ẑ and scored for all queries by ``faiss.knn`` (one matmul).
    """
    model = model_of(built)
    codes = built.arrays["codes"]
    distance = str(sp["distance"])
    if distance == "hamming":
        qcodes = model.encode(xq)
        return faiss.knn_hamming(qcodes.reshape(len(xq), -1), codes.reshape(codes.shape[0], -1), k)
    from core.index import bebr_kernel  # numba loads on the first search, not with the registry

    y = query_vectors(model, xq, distance, built.metric)
    if xq.shape[0] > bebr_kernel.LOOKUP_MAX_QUERIES:
        return decode_knn(model, codes, y, k, built.metric, block)
    l2 = built.metric == "l2"
    n, bits, nb = codes.shape
    yy = level_queries(y, model.levels_, nb)
    D, I = bebr_kernel.lookup_search(yy, codes.reshape(n, 1, bits * nb), np.ones((n, 1), dtype=np.float32),
                                     built.arrays.get("norms2") if l2 else None, k, l2)
    if l2:  # the kernel adds ||yy||²; the distance needs ||y||²
        D = D - (yy.astype(np.float64) ** 2).sum(1, keepdims=True).astype(np.float32) \
            + (y.astype(np.float64) ** 2).sum(1, keepdims=True).astype(np.float32)
    return D, I


def decode_knn(model: LearnedBinarizer, codes: np.ndarray, y: np.ndarray, k: int, metric: str, block: int):
    """Top-k of ``y`` against the decoded codes, ``block`` codes at a time (exact scores of ẑ, best first)."""
    heap = faiss.ResultHeap(y.shape[0], k, keep_max=metric != "l2")
    for start in range(0, codes.shape[0], block):
        zhat = model.decode_rotated(codes[start : start + block])
        D, I = faiss.knn(y, zhat, min(k, zhat.shape[0]), metric=faiss_metric(metric))
        heap.add_result(D, I + start)
    heap.finalize()
    return heap.D, heap.I
