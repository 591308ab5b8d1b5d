"""What a person explores: the `Dataset` type, the built-in corpora, file loaders and uploads.

Pipeline position: first (Dataset -> Embeddings -> Experiment -> rows -> Figure).
May import: `core.config`, `core.progress`, `core.env` and itself; nothing above (encode, index,
store, workspace, analysis, experiments, scale, cli) and never streamlit, views, ui or figures.
"""
