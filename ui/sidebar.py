"""The sidebar workspace picker: dataset (+ its parameters) and encoder; and the line naming runs in progress."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.data.uploads import PREFIX, list_user_datasets
from figures.text import markdown_text
from ui.glossary import show_glossary
from ui.runs_in_progress import show_runs_in_progress
from ui.state import DEFAULT_DATASET, DEFAULT_ENCODER, set_workspace_spec, take_switch, workspace_spec
from ui.url import clean_encoder

VECTOR_SUFFIXES = {".npy", ".fvecs", ".hdf5", ".h5"}
CUSTOM_MODEL = "custom model folder or hub id…"


@st.cache_data(show_spinner=False)
def _builtin_datasets() -> list[dict]:
    from core.data.builtin import list_datasets

    return [
        {"name": i.name, "kind": i.kind, "description": i.description, "approx_n": i.approx_n}
        for i in list_datasets()
    ]


@st.cache_data(show_spinner=False)
def _encoders() -> list[dict]:
    from core.encode.registry import list_encoders

    return list_encoders()


def _upload_kind(name: str) -> str:
    """What a stored upload holds: recorded when it was added (older uploads: guessed from the file type)."""
    from core.data.uploads import upload_kind, uploads_dir

    kind = upload_kind(name)
    if kind:
        return kind
    folder = uploads_dir() / name.removeprefix(PREFIX)
    files = [p for p in folder.iterdir() if p.name != "dataset.json"] if folder.is_dir() else []
    return "vectors" if any(Path(f).suffix.lower() in VECTOR_SUFFIXES for f in files) else "text"


def _dataset_params(name: str, current: dict) -> dict:
    """Widgets for a dataset's parameters; returns the chosen params."""
    sb = st.sidebar
    if name == "glove-6b-50d":
        cur = int(current.get("limit") or 400_000)
        sizes = sorted({10_000, 50_000, 100_000, 400_000, cur})
        limit = sb.selectbox(
            "Words (seeded random subset)", sizes, index=sizes.index(cur) if cur in sizes else 1,
            format_func=lambda v: f"{v:,}" + (" (all)" if v == 400_000 else ""), key="pick_glove_limit",
        )
        return {} if limit == 400_000 else {"limit": int(limit), "seed": 0}
    if name == "synthetic":
        c1, c2 = sb.columns(2)
        n = c1.number_input("points n", 100, 200_000, int(current.get("n", 10_000)), step=1000, key="pick_syn_n")
        dim = c2.number_input("ambient dim D", 2, 4096, int(current.get("dim", 1024)), key="pick_syn_dim")
        k = c1.number_input("intrinsic dim k", 1, 4096, int(current.get("intrinsic_dim", 16)), key="pick_syn_k")
        clusters = c2.number_input("clusters", 0, 100, int(current.get("n_clusters", 0)), key="pick_syn_clusters")
        noise = sb.number_input("noise std", 0.0, 10.0, float(current.get("noise", 0.0)), step=0.01,
                                format="%.3f", key="pick_syn_noise")
        return {"n": int(n), "dim": int(dim), "intrinsic_dim": int(k), "noise": float(noise),
                "n_clusters": int(clusters), "seed": 0}
    if name == "pydocs":
        cur = int(current.get("limit") or 0)
        options = [*sorted({5_000, 10_000, 20_000, cur} - {0}), 0]
        limit = sb.selectbox(
            "Passages (seeded sample)", options, index=options.index(cur) if cur in options else 0,
            format_func=lambda v: "all (~47k)" if v == 0 else f"{v:,}", key="pick_pydocs_limit",
        )
        return {"limit": int(limit), "seed": 0} if limit else {}
    # No widgets for this dataset's parameters: keep what a shared link asked for
    # (e.g. stdlib-docs with {"limit": 300, "seed": 0}).
    return {k: v for k, v in current.items() if k in ("limit", "seed")}


def workspace_picker() -> None:
    """Draw the picker; on change, update session state and the URL (shareable link)."""
    switched = take_switch()
    if switched:
        st.session_state["pick_dataset"] = switched["dataset"]
        st.session_state.pop("pick_encoder", None)
        st.sidebar.success(markdown_text(switched["message"]))
    spec = workspace_spec()
    builtins = _builtin_datasets()
    uploads = list_user_datasets()
    names = [d["name"] for d in builtins] + uploads
    for warning in st.session_state.get("url_warnings", []):
        st.sidebar.warning(f"Link: {markdown_text(warning)}.")
    if spec["dataset"] not in names:  # an upload deleted since the link was made
        st.sidebar.warning(f"Dataset {markdown_text(spec['dataset'])} is gone; showing {DEFAULT_DATASET}.")
        spec["dataset"] = DEFAULT_DATASET
    kinds = {d["name"]: d["kind"] for d in builtins}

    st.sidebar.markdown("### Workspace")
    dataset = st.sidebar.selectbox(
        "Dataset", names, index=names.index(spec["dataset"]), key="pick_dataset",
        format_func=lambda n: n.removeprefix(PREFIX) + (" (uploaded)" if n.startswith(PREFIX) else ""),
        help="Built-in corpora, and files you uploaded on the Data page.",
    )
    params = _dataset_params(dataset, spec["params"] if dataset == spec["dataset"] else {})
    kind = kinds.get(dataset) or _upload_kind(dataset)

    encoder, encoder_options = spec["encoder"], spec.get("encoder_options", {})
    if kind == "text":
        encoders = [e["name"] for e in _encoders()]
        choices = [*encoders, CUSTOM_MODEL]
        current = spec["encoder"] if spec["encoder"] in encoders else CUSTOM_MODEL
        if spec["encoder"] == "given-vectors":
            current = DEFAULT_ENCODER
        picked = st.sidebar.selectbox(
            "Encoder", choices, index=choices.index(current), key="pick_encoder",
            help="minilm: all-MiniLM-L6-v2 transformer (bundled); glove-avg: mean of GloVe word vectors; "
                 "tfidf-svd: LSA. A custom model is any local folder or a hub id already in the offline cache.",
        )
        if picked == CUSTOM_MODEL:
            custom = st.sidebar.text_input(
                "Model folder or hub id", value="" if spec["encoder"] in encoders else spec["encoder"],
                key="pick_custom_model", placeholder="/path/to/model or org/name",
            )
            encoder, refused = clean_encoder(custom.strip(), DEFAULT_ENCODER)
            if refused:
                st.sidebar.warning(markdown_text(refused.replace("encoder=", "Model ", 1)) + ".")
        else:
            encoder = picked
    else:
        st.sidebar.caption("Vector dataset: vectors are used as given (no encoder).")
        encoder = "given-vectors"

    show_glossary()  # every page: the sidebar is drawn before each
    show_runs_in_progress(dataset)  # the top of the main area: this function runs before every page
    new = {"dataset": dataset, "params": params, "encoder": encoder, "encoder_options": encoder_options}
    if new != spec:
        set_workspace_spec(dataset, params, encoder, encoder_options)
    else:
        from ui.state import sync_url

        sync_url()
