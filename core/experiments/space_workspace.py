"""A derived space as a workspace: every experiment that takes a workspace (the compression sweep, the
insertion-order study, ID estimates) runs on ``minilm:abtt=3`` or ``tfidf-svd:pca=64`` unchanged.

`SpaceWorkspace` wraps the workspace of the space's encoder: its base vectors are the encoder's cached
embeddings with the derivation fitted on them (`core.experiments.spaces.fit_space`), its queries -- the
dataset's own and free-text ones -- get the same fitted transform, and its ``embeddings_key`` (hence every
artifact cached from it: ground truth, kNN graphs, sweep results) is keyed by the derivation too, because
its encoder config names it. Where queries are held out of the items, the derivation of the evaluation
split is fitted on the remaining base only (a held-out query never shapes the transform).
`space_workspace` opens one from a space written as on Compare spaces.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from core.experiments.spaces import FILE_PREFIX, Space, SpaceSpec, check_derivation, fit_space, space_of_workspace
from core.progress import ProgressFn
from core.workspace import EvalSet, Workspace


class SpaceWorkspace(Workspace):
    """The workspace of a derived space over ``base`` (a plain workspace of the space's encoder)."""

    def __init__(self, base: Workspace, spec: SpaceSpec) -> None:
        if spec.derivation is None:
            raise ValueError(f"{spec.label} is not a derived space; open its workspace directly")
        super().__init__(base.dataset, base.encoder_name, dict(base.encoder_options), base.cache)
        self.base = base
        self.spec = spec
        self.encoder_name = spec.label
        self._space: Space | None = None

    @property
    def encoder(self):  # the base encoder: queries are encoded by it, then derived
        return self.base.encoder

    def encoder_config(self) -> dict:
        return {**self.base.encoder_config(), "derived": f"{self.spec.derivation}"
                + ("" if self.spec.dims is None else f"={self.spec.dims}")}

    @property
    def vectors_label(self) -> str:
        return f"{self.spec.label} vectors"

    def space(self, progress: ProgressFn | None = None) -> Space:
        """The fitted space (the base encoded first if needed)."""
        if self._space is None:
            self._space = space_of_workspace(self.base, self.spec, progress)
        return self._space

    def has_embeddings(self) -> bool:
        return self._space is not None or self.base.has_embeddings()

    def embeddings(self, progress: ProgressFn | None = None) -> np.ndarray:
        return self.space(progress).x

    def embeddings_meta(self) -> dict | None:
        return self.base.embeddings_meta()

    def embeddings_path(self):
        return self.base.embeddings_path()

    def measured_encode_rate(self) -> float | None:
        return self.base.measured_encode_rate()

    def expected_load_time(self):
        return self.base.expected_load_time()

    def has_query_embeddings(self) -> bool:
        return self.base.has_query_embeddings()

    def query_embeddings(self, progress: ProgressFn | None = None) -> np.ndarray | None:
        xq = self.base.query_embeddings(progress)
        return None if xq is None else self.space(progress).derive(xq)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.space().derive(self.base.encode_queries(texts))

    def eval_set(self, n_queries: int | None = None, seed: int = 0, progress: ProgressFn | None = None) -> EvalSet:
        """As `Workspace.eval_set`; when queries are held out of the items, the derivation is fitted on the
        remaining base alone, so no evaluation query shaped the transform that searches for it."""
        q = self.dataset.queries
        if q is not None and len(q):
            return super().eval_set(n_queries, seed, progress)
        ev = self.base.eval_set(n_queries, seed, progress)
        fitted = fit_space(Space(self.spec, self.base, ev.xb, self.embeddings_key))
        return dataclasses.replace(ev, xb=fitted.x, xq=fitted.derive(ev.xq),
                                   source=f"{ev.source}, {self.spec.derivation} fitted on the base only")


def space_workspace(dataset, text: str | None, *, dataset_params: dict | None = None,
                    progress: ProgressFn | None = None) -> Workspace:
    """The workspace of the space written ``text`` (``minilm``, ``minilm(pooling=cls)``, ``minilm:abtt=3``,
    ``given-vectors:whiten``) over ``dataset`` (a name or a `Dataset`); a plain workspace when nothing is
    derived. ValueError for a bad space or a ``file:`` space (those are read on Compare spaces only)."""
    if text is None:
        return Workspace.open(dataset, None, dataset_params=dataset_params, progress=progress)
    spec = SpaceSpec.parse(text)
    if spec.encoder.startswith(FILE_PREFIX):
        raise ValueError(f"{spec.label}: a vector file is compared as a space (`densescope compare`), not opened "
                         "as a workspace; load it as a dataset with --path instead")
    base = Workspace.open(dataset, spec.encoder, dataset_params=dataset_params, encoder_options=dict(spec.options),
                          progress=progress)
    if spec.derivation is None:
        return base
    if base.dataset.kind == "vectors":  # the dimension is known without encoding: say a bad N at once
        check_derivation(spec, int(np.asarray(base.dataset.vectors).shape[1]))
    return SpaceWorkspace(base, spec)
