"""Batch encoding on Ray Data: one encoder per actor, blocks of texts in, rows of the same artifact out."""

from __future__ import annotations

import math
import time

import numpy as np

from core import config as _config
from core.progress import ProgressFn, report
from core.scale.session import cluster_cpus, largest_node, ray_session

# ---------------------------------------------------------------------------- encoding


class _EncodeActor:
    """Ray Data actor: loads (or receives) the encoder once, then encodes blocks of passages.

    Pretrained encoders are built on the worker with `make_encoder` (the model must be
    installed on every node); encoders that are fitted on the corpus (``tfidf-svd``) are
    fitted once on the driver and shipped as an object (never refitted), so every
    actor uses exactly the driver's vocabulary and SVD. The actor checks that its
    encoder's `config` equals the driver's: the vectors are cached under that config.
    """

    def __init__(
        self, name: str, options: dict, fitted_ref: list | None, expected: dict, threads: int, batch_size: int
    ) -> None:
        from core.encode.transformer import TransformerEncoder

        _config.offline_hub()
        if fitted_ref is not None:
            import ray

            self.encoder = ray.get(fitted_ref[0])
        else:
            from core.encode.registry import make_encoder

            self.encoder = make_encoder(name, **options)
        if isinstance(self.encoder, TransformerEncoder):  # only these use torch (its import costs seconds)
            import torch

            torch.set_num_threads(max(1, int(threads)))  # Ray starts workers with one thread
        got = self.encoder.config()
        if got != expected:
            raise ValueError(
                f"the encoder on this worker differs from the driver's (different model files?): {got} != {expected}"
            )
        self.batch_size = batch_size

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"]]
        vectors = self.encoder.encode(texts, kind="passage", batch_size=self.batch_size)
        return {"row": np.asarray(batch["row"], dtype=np.int64), "vector": vectors}


def block_rows(n: int, batch_size: int, actors: int) -> int:
    """Passages per Ray Data block: large enough for length-sorted batching to pay off
    (at least 8 encoder batches), small enough to spread over the actors and report progress."""
    return int(min(max(n, 1), max(batch_size * 8, min(4096, math.ceil(n / (4 * max(actors, 1)))))))


def encode_with_ray(
    ws,
    *,
    address: str | None = None,
    batch_size: int = 64,
    actors: int = 1,
    threads_per_actor: int | None = None,
    gpus_per_actor: float = 0,
    progress: ProgressFn | None = None,
    force: bool = False,
) -> np.ndarray:
    """Encode the workspace's passages on Ray; write and return the embeddings artifact.

    The result is the artifact `Workspace.embeddings` writes (kind ``"embeddings"``,
    key `Workspace.embeddings_key`, same meta plus ``"backend": "ray"``, ``actors``,
    ``threads_per_actor`` and ``cluster``), so every page and command uses it
    unchanged. An artifact already cached is returned without starting Ray unless
    ``force``.

    Args:
        ws: a `core.workspace.Workspace` of a text dataset.
        address: Ray cluster address; ``None`` starts (or reuses) a local instance.
        batch_size: texts per encoder batch inside each actor (its token budget still
            applies); blocks of `block_rows` passages go to the actors, each
            length-sorted inside by the encoder.
        actors: size of the actor pool (each loads the encoder once).
        threads_per_actor: torch threads (and Ray CPUs) per actor; default: the
            cluster's CPUs divided among the actors (at most the largest node's).
        gpus_per_actor: Ray GPUs per actor (Ray hides GPUs from actors that reserve
            none; the encoder's ``device="auto"`` then picks CUDA). Not exercised here.
        progress: ``progress(done, total, message)`` as blocks come back.
    """
    from core.data.dataset import check_vectors

    if ws.dataset.kind == "vectors":
        raise ValueError(f"{ws.dataset.name} is a vector dataset: there is nothing to encode")
    if not isinstance(actors, int) or actors < 1:
        raise ValueError(f"actors must be a positive integer, got {actors!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not force:
        hit = ws.cache.load("embeddings", ws.embeddings_key)
        if hit is not None:
            ws._memo = hit[0]
            return hit[0]
    texts = list(ws.dataset.texts)
    n = len(texts)
    encoder = ws.encoder  # fits tfidf-svd on the driver (once)
    expected = encoder.config()
    key = ws.embeddings_key

    with ray_session(address) as session:
        import pandas as pd
        import ray

        threads = threads_per_actor or max(1, min(cluster_cpus() // actors, int(largest_node("CPU"))))
        if threads > largest_node("CPU") or gpus_per_actor > largest_node("GPU"):
            raise ValueError(
                f"an actor needs {threads} CPUs and {gpus_per_actor:g} GPUs, more than the largest Ray node "
                f"has ({largest_node('CPU'):g} CPUs, {largest_node('GPU'):g} GPUs): it could never start"
            )
        fitted_ref = [ray.put(encoder)] if getattr(encoder, "needs_fit", False) else None
        rows = block_rows(n, batch_size, actors)
        frames = [
            pd.DataFrame({"row": np.arange(s, min(n, s + rows), dtype=np.int64), "text": texts[s : s + rows]})
            for s in range(0, n, rows)
        ]
        t0 = time.perf_counter()
        ds = ray.data.from_pandas(frames).map_batches(
            _EncodeActor,
            batch_size=rows,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=threads,
            num_gpus=gpus_per_actor or None,
            fn_constructor_kwargs=dict(
                name=ws.encoder_name,
                options=dict(ws.encoder_options),
                fitted_ref=fitted_ref,
                expected=expected,
                threads=threads,
                batch_size=batch_size,
            ),
        )
        out: np.ndarray | None = None
        seen = np.zeros(n, dtype=bool)
        done = 0
        report(progress, 0, n, f"encoding on {session.info.get('text', 'Ray')}")
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            ids, vecs = np.asarray(batch["row"]), np.asarray(batch["vector"], dtype=np.float32)
            if out is None:
                out = np.empty((n, vecs.shape[1]), dtype=np.float32)
            out[ids] = vecs
            seen[ids] = True
            done += len(ids)
            report(progress, done, n, f"encoded {done}/{n} passages on Ray")
        seconds = time.perf_counter() - t0
        info = session.info
    if out is None or not seen.all():
        missing = n - int(seen.sum())
        raise RuntimeError(f"Ray returned vectors for {n - missing} of {n} passages")
    x = check_vectors(out, "embeddings")
    ws._memo = x
    ws.cache.save(
        "embeddings",
        key,
        x,
        {
            "dataset": ws.dataset.name,
            "fingerprint": ws.dataset.fingerprint(),
            "encoder": expected,
            "seconds": seconds,
            "per_second": n / seconds if seconds > 0 else None,
            "backend": "ray",
            "actors": actors,
            "threads_per_actor": threads,
            "batch_size": batch_size,
            "block_rows": rows,
            "cluster": info.get("text", ""),
        },
    )
    return x
