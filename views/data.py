"""Data: the dataset card, encoding, and uploading your own file."""

import tempfile
from pathlib import Path

import streamlit as st

from core import config
from core.data.describe import category_table, norm_summary, query_table, sample_table, vector_norms
from core.data.uploads import PREFIX, upload_quota_bytes, uploads_bytes
from core.experiments.compression import format_bytes
from core.experiments.relevance import exact_relevance
from core.workspace import encode_time_text, load_time_for_encoder, measured_rate_for_encoder
from figures.data import category_bar, norm_histogram
from figures.text import markdown_text as esc
from ui.page_states import DataState
from ui.shared import shared
from ui.state import (
    DEFAULT_DATASET,
    DEFAULT_ENCODER,
    confirm,
    current_workspace,
    encode_with_progress,
    execution_picker,
    given_neighbors_of,
    needs_confirmation,
    page_state,
    publish_state,
    show_cache_notices,
    streamlit_progress,
    switch_dataset,
    workspace_spec,
)
from ui.tables import show_table

st.title("Data")
publish_state(page_state(DataState))  # the URL holds the workspace only
st.markdown(
    "What is in the current corpus, and how its items became vectors. Encode it here once; "
    "every other page reuses the cached embeddings. You can also add your own file below."
)


def pydocs_gate(spec: dict) -> None:
    from core.data.docstrings import estimate_pydocs

    est = estimate_pydocs()
    limit = spec["params"].get("limit")
    n = min(limit, est["passages"]) if limit else est["passages"]
    rate = measured_rate_for_encoder(spec["encoder"], spec.get("encoder_options"))
    load = load_time_for_encoder(spec["encoder"], spec.get("encoder_options"))
    st.warning(
        f"**pydocs** is built by walking the docstrings of every package installed in this environment: "
        f"about {est['passages']:,} passages (counted from the installed files), ~{est['walk_seconds'] / 60:.0f} "
        f"min to walk; then encoding {n:,} passages takes {encode_time_text(n, rate, spec['encoder'], load)}."
    )
    if st.button("Build pydocs now", key="confirm_pydocs", type="primary"):
        confirm(spec)
        with st.status("Walking installed packages…", expanded=True) as status:
            from core.data.builtin import load_dataset

            bar = st.progress(0.0)
            load_dataset("pydocs", progress=lambda d, t, m="": bar.progress(min(1.0, d / max(t, 1)), text=m),
                         **spec["params"])
            status.update(label="pydocs is ready", state="complete")
        st.rerun()


def dataset_card(ws) -> None:
    ds = ws.dataset
    s = ws.summary()
    cols = st.columns(5)
    cols[0].metric("Items", f"{s['n']:,}")
    cols[1].metric("Dimensions", s["dim"] or "—", help="Known once the corpus is encoded")
    cols[2].metric("Metric", s["metric"])
    cols[3].metric("Categories", f"{s['categories']:,}" if s["categories"] else "none")
    cols[4].metric("Queries", f"{s['queries']:,}" if s["queries"] else "none")
    if ds.description:
        st.caption(esc(ds.description))
    if ds.params:
        with st.expander("How it was built"):
            st.text(", ".join(f"{k}={v}" for k, v in ds.params.items() if k != "path"))
    st.markdown("**Sample items** (seeded random sample)")
    show_table(sample_table(ds, width=240), key="data_sample")
    if ds.queries is not None and len(ds.queries):
        st.markdown("**Sample queries** and their relevant items")
        show_table(query_table(ds), key="data_queries")
    if ds.labels is not None:
        key = (ds.name, repr(sorted(ds.params.items())), ds.fingerprint())
        cats = shared("data.categories", key, lambda: category_table(ds.labels))
        chart, _ = st.columns([3, 2])
        chart.plotly_chart(shared("data.category_bar", key, lambda: category_bar(cats)), key="cat_bar")
        chart.caption(f"{len(cats):,} categories; the largest holds {cats['share'].iloc[0]:.1%} of the items.")


def encoding_section(ws) -> None:
    st.subheader("Vectors")
    ds = ws.dataset
    if ds.kind == "vectors":
        raw = vector_norms(ds.vectors)
        ns = norm_summary(raw)
        st.markdown(
            f"Vector dataset: {ds.n:,} × {ds.dim} used as given"
            + (" (normalised to unit length for cosine)." if ws.metric == "cosine" else ".")
        )
        st.plotly_chart(norm_histogram(raw, title="Norms of the vectors as given"), key="norms")
        st.caption(f"Norms: min {ns['min']:.3g}, median {ns['median']:.3g}, max {ns['max']:.3g}.")
        relevance_section(ws)  # vectors given with queries: their judgments, or the file's ground truth
        return
    st.markdown(f"Encoder **{esc(ws.encoder_name)}**")
    try:
        cfg = ws.encoder_config()
    except (ValueError, OSError) as exc:
        st.error(f"This encoder cannot be loaded: {esc(exc)}")
        return
    with st.expander("Encoder configuration"):
        st.json(cfg)
    if ws.has_embeddings():
        x = ws.embeddings()
        show_cache_notices(ws)
        meta = ws.embeddings_meta() or {}
        rate = meta.get("per_second")
        st.success(
            f"Encoded: {x.shape[0]:,} × {x.shape[1]} float32 ({format_bytes(x.nbytes)}), cached"
            + (f"; first encode ran at {rate:.0f} passages/s" if rate else "")
            + "."
        )
        with st.expander("Internals"):
            st.text(f"Embeddings artifact key: {ws.embeddings_key} (the server's operator finds the file with "
                    "`densescope encode`; its path is not shown here)")
    else:
        n = ds.n
        st.info(f"Not encoded yet: {n:,} passages; "
                f"{encode_time_text(n, ws.measured_encode_rate(), ws.encoder_name, ws.expected_load_time())}.")
        execution = execution_picker("encode_execution")
        if st.button("Encode", key="encode", type="primary"):
            encode_with_progress(ws, execution)
            st.rerun()  # the card above (Dimensions) and this section redraw as encoded, not half of each
        return
    relevance_section(ws)
    norms = vector_norms(x)
    spread = float(norms.max() - norms.min()) if norms.size else 0.0
    if spread < 1e-3:  # unit vectors: a histogram of one bar says nothing
        st.caption(f"Every embedding has length {float(norms.mean()):.3f} (the encoder normalises them), so "
                   "cosine similarity and inner product rank neighbours alike.")
    else:
        st.plotly_chart(norm_histogram(norms, title="Norms of the embeddings"), key="norms")


def relevance_section(ws) -> None:
    """Exact-search MRR@10 / nDCG@10 on the dataset's own relevance task, with what it measures."""
    if ws.dataset.qrels_are_neighbors:
        st.markdown("**Ground truth from the file**")
        try:
            check = given_neighbors_of(ws)
        except ValueError as exc:
            st.warning(f"The file's neighbours cannot be checked: {esc(exc)}")
            return
        if check is not None:
            st.caption(esc(check.sentence()))
        return
    if not ws.dataset.has_qrels:
        return
    st.markdown("**Relevance task** (exact search, the reference for every index)")
    if not ws.has_query_embeddings():
        n_q = len(ws.dataset.queries)
        st.caption(f"The {n_q:,} queries are not encoded yet: "
                   f"{encode_time_text(n_q, ws.measured_encode_rate(), ws.encoder_name, ws.expected_load_time())}.")
        if not st.button("Encode the queries and score the task", key="relevance_encode"):
            return
        update, bar = streamlit_progress(f"Encoding {n_q:,} queries with {ws.encoder_name}")
        ws.query_embeddings(progress=update)
        bar.empty()
    try:
        # the same vectors, queries and judgments give the same scores: computed once per server
        result = shared("data.relevance", (str(ws.cache.root), ws.embeddings_key, ws.dataset.name,
                                           repr(sorted(ws.dataset.params.items()))), lambda: exact_relevance(ws))
    except ValueError as exc:
        st.warning(f"The relevance task cannot be scored: {esc(exc)}")
        return
    if result is None:
        st.caption("No query has a judged item in this dataset.")
        return
    c1, c2, c3 = st.columns(3)
    c1.metric("MRR@10", f"{result.mrr_at_10:.3f}")
    c2.metric("nDCG@10", f"{result.ndcg_at_10:.3f}")
    c3.metric("relevant item in top 10", f"{result.success_at_10:.1%}", help=f"of {result.n_queries:,} queries")
    st.caption(result.task + " " + result.sentence())


UPLOAD_TYPES = ["csv", "tsv", "jsonl", "ndjson", "parquet", "arrow", "feather", "txt", "npy", "npz", "fvecs",
                "fbin", "ibin", "u8bin", "i8bin", "hdf5", "h5", "zip"]
NONE = "(none)"


def pick_column(container, label: str, columns: list[str], default: str | None, key: str, optional: bool = True,
                help: str | None = None) -> str | None:
    choices = [NONE, *columns] if optional else columns
    index = choices.index(default) if default in choices else 0
    value = container.selectbox(label, choices, index=index, key=key, help=help)
    return None if value == NONE else value


def inspect_upload(up):
    """(bytes, FileInfo) of an uploaded file, or None after saying what is wrong with it."""
    from core.data.loading import check_upload_size, inspect_file

    data = up.getvalue()
    try:
        check_upload_size(len(data))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(up.name).name
            path.write_bytes(data)
            info = inspect_file(path)
    except ValueError as exc:
        st.error(esc(str(exc) if up.name in str(exc) else f"{up.name}: {exc}"))
        return None
    return data, info


def upload_options(info) -> dict:
    """The questions a file's contents raise: which columns (or which .npz array) hold what."""
    options: dict = {}
    columns = list(info.columns or [])
    if info.format == "npz":
        arrays = columns
        options["array"] = st.selectbox("Array holding the base vectors", arrays, key="upload_array",
                                        index=arrays.index(info.vector_column) if info.vector_column in arrays else 0)
        return options
    if not columns:
        return options
    if info.preview:
        show_table(info.preview, key="data_upload_preview")
    vector = pick_column(st, "Vector column (optional)", columns, info.vector_column, "upload_vector_col",
                         help="A column with one vector per row (a list of floats, or a JSON array in CSV): its "
                              "vectors are used as given, nothing is encoded. None: the text is encoded.")
    options["vector_column"] = vector
    c1, c2, c3 = st.columns(3)
    if vector is None:
        text_choices = [c for c in columns if c != vector]
        default = info.text_column if info.text_column in text_choices else text_choices[0]
        options["text_column"] = c1.selectbox("Text column", text_choices, index=text_choices.index(default),
                                              key="upload_text_col")
    else:
        options["text_column"] = pick_column(c1, "Text shown beside each vector", [c for c in columns if c != vector],
                                             info.text_column, "upload_text_col")
    # "(none)" is kept for these two (core.data.table_files.NO_COLUMN): else the loader finds them by name
    options["label_column"] = pick_column(c2, "Category column (optional)", columns, info.label_column,
                                          "upload_label_col") or NONE
    options["id_column"] = pick_column(c3, "Id column (optional)", columns, info.id_column, "upload_id_col",
                                       help="Unique ids, needed when a qrels file names the documents by id.") or NONE
    return options


#: The upload form's questions about one file; a new file asks them again, from its own guesses.
FILE_WIDGETS = ("upload_array", "upload_vector_col", "upload_text_col", "upload_label_col", "upload_id_col",
                "upload_metric")


def forget_previous_file(up) -> None:
    """Drop the answers given for another file, so this one's detected columns are offered afresh."""
    token = (getattr(up, "file_id", None), up.name, up.size)
    if st.session_state.get("upload_form_for") != token:
        for key in FILE_WIDGETS:
            st.session_state.pop(key, None)
        st.session_state["upload_form_for"] = token


def delete_own_upload() -> None:
    """An upload this visitor added in this session can be deleted again (with a confirmation)."""
    spec = workspace_spec()
    name = spec["dataset"]
    if name not in st.session_state.get("my_uploads", set()):
        return
    if st.button("Delete this upload", key="upload_delete",
                 help="Removes the file you uploaded from this server (its cached embeddings go with the cache)."):
        st.session_state["upload_delete_confirm"] = name
    if st.session_state.get("upload_delete_confirm") == name:
        st.warning(f"Delete {esc(name.removeprefix(PREFIX))} from this server? Links to it stop working.")
        if st.button("Yes, delete it", key="upload_delete_yes", type="primary"):
            from core.data.uploads import delete_user_dataset

            delete_user_dataset(name)
            st.session_state["my_uploads"].discard(name)
            st.session_state.pop("upload_delete_confirm", None)
            switch_dataset(DEFAULT_DATASET, DEFAULT_ENCODER, f"Deleted {name.removeprefix(PREFIX)}.")
            st.rerun()


def upload_section() -> None:
    st.subheader("Add your own data")
    st.markdown(
        "Text as **CSV/TSV/JSONL/Parquet/Arrow/TXT** (pick the text column and an optional category column); "
        "your own embeddings as a **table with a vector column** (its texts and labels come along), "
        "**.npy/.npz/.fvecs/.fbin/.u8bin/.i8bin/.ibin** or ann-benchmarks **HDF5**; a **BEIR or VectorDBBench "
        f"folder as .zip**. Limit: **{config.MAX_UPLOAD_MB} MB** per file; all uploads on this server share "
        f"**{upload_quota_bytes() / 2**20:,.0f} MB** ({uploads_bytes() / 2**20:,.0f} MB used)."
    )
    up = st.file_uploader("File", type=UPLOAD_TYPES, key="upload_file")
    if up is None:
        return
    from core.data.uploads import save_upload

    forget_previous_file(up)
    inspected = inspect_upload(up)
    if inspected is None:
        return
    data, info = inspected
    options = upload_options(info)
    options["metric"] = st.selectbox("Metric", ["cosine", "ip", "l2"], key="upload_metric",
                                     index=["cosine", "ip", "l2"].index(info.metric or "cosine"))
    with st.expander("Queries, relevance judgments and labels (optional)"):
        st.caption("A query file (texts for a text dataset: a table with id and text columns, BEIR's "
                   "queries.jsonl or one query per line; vectors of the same dimension for a vector dataset) and "
                   "a qrels file (TREC 'qid 0 docid rel' or BEIR's TSV). Recall is always measured against exact "
                   "search; nDCG@10 and MRR@10 use the judgments.")
        q1, q2 = st.columns(2)
        qfile = q1.file_uploader("Query file", type=[t for t in UPLOAD_TYPES if t not in ("zip", "hdf5", "h5")],
                                 key="upload_queries")
        rfile = q2.file_uploader("Qrels file", type=["txt", "tsv", "qrels", "trec"], key="upload_qrels")
        lfile = st.file_uploader("Labels file (for bare vectors: one label per line, or id,label)",
                                 type=["txt", "csv", "tsv"], key="upload_labels")
    if st.button("Add dataset", key="upload_add", type="primary"):
        attachments = {"queries": (qfile.getvalue(), qfile.name) if qfile else None,
                       "qrels": (rfile.getvalue(), rfile.name) if rfile else None,
                       "labels": (lfile.getvalue(), lfile.name) if lfile else None}
        try:
            name = save_upload(data, up.name, options, attachments)
        except ValueError as exc:
            st.error(esc(f"{up.name} was not added: {exc}"))
            return
        st.session_state.setdefault("my_uploads", set()).add(name)  # this visitor may delete it again
        spec = workspace_spec()
        switch_dataset(name, spec["encoder"] if spec["encoder"] != "given-vectors" else "minilm",
                       f"Added {name.removeprefix(PREFIX)}; it is now the current dataset.")
        st.rerun()

spec = workspace_spec()
if needs_confirmation(spec):
    pydocs_gate(spec)
else:
    ws = current_workspace()
    if ws is not None:
        st.subheader(esc(ws.dataset.name))
        dataset_card(ws)
        encoding_section(ws)
delete_own_upload()
upload_section()
