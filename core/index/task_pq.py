"""Task-aware product quantization (JPQ-style): PQ trained for the retrieval ranking, not the reconstruction.

After "Jointly Optimizing Query Encoder and Product Quantization to Improve Retrieval Performance"
(JPQ, Zhan et al. 2021), with the encoder kept fixed, in three stages on judged *training* queries:

1. faiss's PQ, trained exactly as the plain ``pq`` method (the starting point, and the baseline);
2. query-weighted codes: per sub-space, k-means under the training queries' second moment, so the
   codes spend their resolution on the directions queries look along (reconstruction-optimal PQ
   neglects directions the base hardly varies along, however much the queries weigh them);
3. JPQ's step: the codes fixed, the centroids trained with a listwise ranking loss over ``<q, x̂>``
   (the query at full precision, as ADC searches it): per training query a softmax over its judged
   passages and the hard negatives the current index ranks highest, the judged ones as targets.

Honesty rules: the training queries come with their judgments from outside the evaluation (the caller
splits them; `core.experiments.compression.training_judgments`); a seeded fifth of them is held back
for validation, and the stage (and fine-tuning step) with the best validation nDCG@10 is kept, plain
PQ included, so training never keeps a quantizer that ranks the held-back queries worse. Codes and
centroids are written back into the faiss ``IndexPQ``: search is faiss's own ADC, as fast as plain PQ.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import faiss
import numpy as np

from core.index.exact import faiss_metric
from core.index.faiss_indexes import quiet_kmeans
from core.index.learned import Schedule, Stopwatch, cached_parameters, content_key, steps_for, torch_session
from core.index.metrics import ndcg_at_k
from core.index.spec import Built, Params, train_add, training_sample
from core.progress import ProgressFn, report

TEMPERATURE = 0.05
LEARNING_RATE = 2e-4
#: Hard negatives per training query, mined from the current index every `MINE_EVERY` steps.
NEGATIVES = 100
MINE_EVERY = 50
#: Validation (on the held-back training queries) every `VALIDATE_EVERY` steps.
VALIDATE_EVERY = 25
VALIDATION_SHARE = 0.2
#: Fewest judged training queries a fine-tuning runs with (fewer: the method is skipped).
MIN_TRAIN_QUERIES = 10
VERSION = 3
#: Training budgets (steps of the fine-tuning; the quick one stays under a minute on stdlib-docs on 2 cores).
TASK_SCHEDULES = {
    "quick": Schedule(steps=150, batch=256, max_seconds=45.0),
    "thorough": Schedule(steps=2000, batch=256, max_seconds=600.0),
}


@dataclass(frozen=True)
class Judged:
    """Training queries and their judgments: ``xq`` float32 ``(m, d)`` and, per query,
    ``{base position: grade}`` of its judged-relevant base vectors (grade > 0)."""

    xq: np.ndarray
    relevance: list[dict[int, float]]

    def __post_init__(self) -> None:
        if self.xq.ndim != 2 or len(self.relevance) != self.xq.shape[0]:
            raise ValueError(f"training judgments: {self.xq.shape[0]} queries but {len(self.relevance)} judgments")

    def usable(self, n: int) -> Judged:
        """Only the queries with at least one judged passage inside the base of ``n`` vectors."""
        keep = [i for i, r in enumerate(self.relevance) if any(0 <= int(p) < n and g > 0 for p, g in r.items())]
        return Judged(np.ascontiguousarray(self.xq[keep], dtype=np.float32),
                      [{int(p): float(g) for p, g in self.relevance[i].items() if 0 <= int(p) < n and g > 0}
                       for i in keep])

    def key(self) -> str:
        return content_key(self.xq, np.frombuffer(json.dumps([sorted(r.items()) for r in self.relevance]).encode(),
                                                  dtype=np.uint8))


def split_validation(m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded ``(fit_rows, validation_rows)`` of ``m`` training queries (a fifth held back, at least 2)."""
    n_val = max(2, round(m * VALIDATION_SHARE))
    rows = np.random.default_rng(seed).permutation(m)
    return np.sort(rows[n_val:]), np.sort(rows[:n_val])


def pq_centroids(index) -> np.ndarray:
    pq = index.pq
    return faiss.vector_to_array(pq.centroids).reshape(pq.M, pq.ksub, pq.dsub).copy()


def set_centroids(index, centroids: np.ndarray) -> None:
    faiss.copy_array_to_vector(np.ascontiguousarray(centroids, dtype=np.float32).ravel(), index.pq.centroids)


def validation_ndcg(index, judged: Judged) -> float:
    _, I = index.search(judged.xq, min(10, index.ntotal))
    return ndcg_at_k(I, judged.relevance, 10)


def build_task_pq(xb: np.ndarray, metric: str, params: Params, *, seed: int = 0, judged: Judged | None = None,
                  progress: ProgressFn | None = None, **_) -> Built:
    """faiss ``PQ{m}x8np`` trained as plain PQ, then its centroids fine-tuned on ``judged`` (see the module)."""
    n, d = xb.shape
    if judged is None:
        raise ValueError("task-aware PQ trains on judged training queries; none were given")
    judged = judged.usable(n)
    if len(judged.relevance) < MIN_TRAIN_QUERIES:
        raise ValueError(f"task-aware PQ needs at least {MIN_TRAIN_QUERIES} training queries with a judged passage "
                         f"in the base, got {len(judged.relevance)}")
    m = int(params["m"])
    index = faiss.index_factory(d, f"PQ{m}x8np", faiss_metric(metric))
    quiet_kmeans(index)
    sample, sample_note = training_sample(xb, seed)
    pq_s, build_s = train_add(index, xb, sample)
    key = (content_key(xb), judged.key(), metric, m, str(params["schedule"]), int(seed), TEMPERATURE,
           LEARNING_RATE, NEGATIVES, VERSION)
    fit_rows, val_rows = split_validation(len(judged.relevance), seed)
    fit = Judged(judged.xq[fit_rows], [judged.relevance[i] for i in fit_rows])
    val = Judged(judged.xq[val_rows], [judged.relevance[i] for i in val_rows])

    def train() -> tuple[np.ndarray, dict]:
        schedule = steps_for(TASK_SCHEDULES[str(params["schedule"])], len(fit.relevance))
        return train_task_pq(index, xb, fit, val, metric, schedule, seed, progress)

    best, meta, hit = cached_parameters("task-pq", key, train)
    size = m * index.pq.ksub * (d // m)
    set_centroids(index, best[:size].reshape(m, -1, d // m))
    set_codes(index, best[size:].astype(np.uint8).reshape(n, m))
    notes = [sample_note, meta.get("note", ""),
             f"trained on {len(fit.relevance):,} judged training queries (none of the evaluation queries); "
             f"validation nDCG@10 on {len(val.relevance):,} held-back ones: plain PQ {meta['val_before']:.3f}, "
             f"query-weighted codes {meta['val_assigned']:.3f}, kept {meta['val_after']:.3f} ({meta['kept']})"]
    if hit:
        notes.append(f"loaded from the artifact cache (trained in {meta['train_seconds']:.1f} s)")
    return Built(index=index, train_s=pq_s + float(meta["train_seconds"]), build_s=build_s,
                 note="; ".join(s for s in notes if s))


def set_codes(index, codes: np.ndarray) -> None:
    faiss.copy_array_to_vector(np.ascontiguousarray(codes, dtype=np.uint8).ravel(), index.codes)


def get_codes(index) -> np.ndarray:
    return faiss.vector_to_array(index.codes).reshape(index.ntotal, index.pq.code_size).copy()


def query_weighted_codes(xb: np.ndarray, centroids: np.ndarray, xq: np.ndarray, seed: int,
                         niter: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Codes and centroids minimising the error the training queries see, ``E_q[(q·(x - x̂))²]``.

    Per sub-space j: ``S_j`` the training queries' second moment on its dimensions (plus a little of its
    trace, so no direction is ignored), ``L_j`` its Cholesky factor; k-means on ``x_j L_j`` started from
    the PQ centroids, whose cells are then averaged in the original space. Directions the queries look
    along get the centroids' resolution even when the base hardly varies along them.
    """
    m, ksub, dsub = centroids.shape
    codes = np.empty((xb.shape[0], m), dtype=np.uint8)
    out = centroids.copy()
    for j in range(m):
        cols = slice(j * dsub, (j + 1) * dsub)
        q = xq[:, cols].astype(np.float64)
        s = q.T @ q / len(q)
        s += np.eye(dsub) * max(np.trace(s) / dsub, 1e-12) * 1e-2
        chol = np.linalg.cholesky(s).astype(np.float32)
        y = np.ascontiguousarray(xb[:, cols] @ chol)
        km = faiss.Kmeans(dsub, ksub, niter=niter, seed=seed + j, min_points_per_centroid=1, verbose=False)
        km.train(y, init_centroids=np.ascontiguousarray(centroids[j] @ chol))
        _, assign = km.index.search(y, 1)
        assign = assign[:, 0]
        codes[:, j] = assign
        counts = np.bincount(assign, minlength=ksub)
        sums = np.zeros((ksub, dsub))
        np.add.at(sums, assign, xb[:, cols])
        filled = counts > 0
        out[j, filled] = (sums[filled] / counts[filled, None]).astype(np.float32)
    return codes, out


def train_task_pq(index, xb: np.ndarray, fit: Judged, val: Judged, metric: str, schedule: Schedule, seed: int,
                  progress: ProgressFn | None) -> tuple[np.ndarray, dict]:
    """Plain PQ -> query-weighted codes -> centroids fine-tuned for ranking; the stage (and fine-tuning
    step) with the best validation nDCG@10 is kept. Returns ``[centroids, codes]`` flat and a meta dict."""
    t0 = time.perf_counter()
    plain = (pq_centroids(index), get_codes(index))
    before = validation_ndcg(index, val)
    report(progress, 0, schedule.steps, "task-aware PQ: codes weighted by the training queries")
    codes, centroids = query_weighted_codes(xb, plain[0], fit.xq, seed)
    set_codes(index, codes)
    set_centroids(index, centroids)
    assigned = validation_ndcg(index, val)
    tuned, tuned_score, watch = finetune(index, codes, centroids, fit, val, metric, schedule, seed, progress)
    stages = [(before, "plain PQ", plain), (assigned, "query-weighted codes", (centroids, codes)),
              (tuned_score, "fine-tuned centroids", (tuned, codes))]
    score, kept, (c, k) = max(stages, key=lambda s: s[0])  # the first of equals: the simplest stage
    set_centroids(index, c)
    set_codes(index, k)
    meta = {"train_seconds": time.perf_counter() - t0, "steps": watch.steps_done, "val_before": before,
            "val_assigned": assigned, "val_after": score, "kept": kept, "note": watch.note()}
    return np.concatenate([c.ravel(), k.ravel().astype(np.float32)]), meta


def finetune(index, codes: np.ndarray, start: np.ndarray, fit: Judged, val: Judged, metric: str,
             schedule: Schedule, seed: int, progress: ProgressFn | None) -> tuple[np.ndarray, float, Stopwatch]:
    """JPQ's step: ``index``'s codes fixed, its centroids trained with the listwise loss on ``fit``;
    returns the centroids of the step with the best validation nDCG@10 on ``val``, that score, and the watch."""
    watch = Stopwatch(schedule, progress, "task-aware PQ")
    best, best_score = start.copy(), -1.0
    with torch_session(seed) as torch:
        centroids = torch.nn.Parameter(torch.from_numpy(start.copy()))
        opt = torch.optim.Adam([centroids], lr=LEARNING_RATE)
        codes_t = torch.from_numpy(codes.astype(np.int64))
        xq = torch.from_numpy(np.ascontiguousarray(fit.xq))
        targets, weights = positives(fit.relevance)
        gen = torch.Generator().manual_seed(int(seed))
        size = min(schedule.batch, len(fit.relevance))
        negatives = None
        for step in watch.steps():
            if step % MINE_EVERY == 0:
                set_centroids(index, centroids.detach().numpy())
                negatives = index.search(fit.xq, min(NEGATIVES, index.ntotal))[1]
            rows = torch.randperm(len(fit.relevance), generator=gen)[:size].numpy()
            cand, target_w = candidates(targets[rows], weights[rows], negatives[rows])
            loss = listwise_loss(torch, centroids, codes_t, xq[rows], torch.from_numpy(cand),
                                 torch.from_numpy(target_w), metric)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if (step + 1) % VALIDATE_EVERY == 0 or step + 1 == schedule.steps:
                set_centroids(index, centroids.detach().numpy())
                score = validation_ndcg(index, val)
                if score > best_score:
                    best_score, best = score, centroids.detach().numpy().copy()
    return best, best_score, watch


def positives(relevance: list[dict[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Judged passages per query as a padded ``(m, P)`` id array (-1 pads) and their grade weights."""
    width = max(len(r) for r in relevance)
    ids = np.full((len(relevance), width), -1, dtype=np.int64)
    w = np.zeros((len(relevance), width), dtype=np.float32)
    for i, r in enumerate(relevance):
        items = sorted(r.items())
        ids[i, : len(items)] = [p for p, _ in items]
        grades = np.asarray([g for _, g in items], dtype=np.float32)
        w[i, : len(items)] = grades / grades.sum()
    return ids, w


def candidates(pos: np.ndarray, pos_w: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate ids ``(B, P + K)`` (judged first; negatives that are judged, or -1, become -1) and target weights."""
    neg = neg.copy()
    for j in range(pos.shape[1]):
        neg[(neg == pos[:, j : j + 1]) & (pos[:, j : j + 1] >= 0)] = -1
    cand = np.concatenate([pos, neg], axis=1)
    w = np.concatenate([pos_w, np.zeros(neg.shape, dtype=np.float32)], axis=1)
    return cand, w


def listwise_loss(torch, centroids, codes, q, cand, target_w, metric: str):
    """Cross-entropy of the softmax over the candidates' scores ``<q, x̂>/τ`` (``-||q - x̂||²/τ`` for L2)
    against the judged passages' weights; padded candidates (-1) are left out.

    The batch's distinct candidates are decoded once (an embedding look-up into the flattened
    codebooks, whose gradient is a plain scatter-add) and scored by one matmul."""
    m, ksub, dsub = centroids.shape
    valid = cand >= 0
    unique, where = torch.unique(cand.clamp(min=0), return_inverse=True)
    offsets = torch.arange(m) * ksub
    xhat = torch.nn.functional.embedding(codes[unique] + offsets, centroids.reshape(m * ksub, dsub))
    xhat = xhat.reshape(unique.shape[0], m * dsub)  # (U, d)
    ip = q @ xhat.T  # (B, U)
    if metric == "l2":
        ip = 2 * ip - (xhat**2).sum(dim=1)[None, :]  # -||q - x̂||² up to the query's own norm
    scores = ip.gather(1, where)
    logits = (scores / TEMPERATURE).masked_fill(~valid, -1e9)
    return -(target_w * logits.log_softmax(dim=1)).sum(dim=1).mean()
