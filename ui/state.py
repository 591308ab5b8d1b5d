"""App-side glue: the current workspace, kept in session state and the URL.

Only Streamlit plumbing lives here (caching, query parameters, widgets shared
by pages); all computing is in `core`.
"""

from __future__ import annotations

import json

import streamlit as st

from core import config
from core.workspace import GIVEN_VECTORS, Workspace, encode_time_text
from figures.text import markdown_text

config.offline_hub()

DEFAULT_DATASET = "stdlib-docs"
DEFAULT_ENCODER = "minilm"
#: datasets whose build is slow enough that the app asks before starting it
CONFIRM_FIRST = {"pydocs"}


# -- cached resources ---------------------------------------------------------------
@st.cache_resource(show_spinner=False, max_entries=8)
def _workspace(dataset: str, params_json: str, encoder: str, encoder_json: str) -> Workspace:
    return Workspace.open(
        dataset, encoder, dataset_params=json.loads(params_json), encoder_options=json.loads(encoder_json)
    )


def workspace_spec() -> dict:
    """The workspace the user picked: {dataset, params, encoder, encoder_options}.

    On a session's first run it comes from the URL, each value checked (`ui.url`); what had to
    change is kept in ``url_warnings`` for the sidebar to say.
    """
    ss = st.session_state
    if "ws_spec" not in ss:
        from core.data.builtin import list_datasets
        from core.data.uploads import list_user_datasets
        from ui.url import clean_workspace_params

        query = {key: st.query_params.get(key) for key in ("dataset", "params", "encoder")}
        ss.ws_spec, ss.url_warnings = clean_workspace_params(
            query, datasets=[i.name for i in list_datasets()], uploads=list_user_datasets(),
            default_dataset=DEFAULT_DATASET, default_encoder=DEFAULT_ENCODER,
        )
    return ss.ws_spec


def set_workspace_spec(dataset: str, params: dict, encoder: str, encoder_options: dict | None = None) -> None:
    st.session_state.url_warnings = []
    st.session_state.ws_spec = {
        "dataset": dataset,
        "params": params,
        "encoder": encoder,
        "encoder_options": encoder_options or {},
    }
    sync_url()


def switch_dataset(dataset: str, encoder: str, message: str) -> None:
    """Make ``dataset`` current on the next run (call `st.rerun` next), and say ``message`` there.

    The sidebar's dataset widget already exists in this run, so the switch is handed to
    `ui.sidebar.workspace_picker`, which applies it before drawing the widget.
    """
    st.session_state["switch_to"] = {"dataset": dataset, "encoder": encoder, "message": message}


def take_switch() -> dict | None:
    """The pending `switch_dataset`, applied to the workspace spec, or ``None``."""
    pending = st.session_state.pop("switch_to", None)
    if pending:
        set_workspace_spec(pending["dataset"], {}, pending["encoder"])
    return pending


def sync_url() -> None:
    spec = workspace_spec()
    st.query_params["dataset"] = spec["dataset"]
    st.query_params["encoder"] = spec["encoder"]
    if spec["params"]:
        st.query_params["params"] = json.dumps(spec["params"], sort_keys=True, separators=(",", ":"))
    elif "params" in st.query_params:
        del st.query_params["params"]


def needs_confirmation(spec: dict) -> bool:
    confirmed = st.session_state.setdefault("confirmed_datasets", set())
    key = (spec["dataset"], json.dumps(spec["params"], sort_keys=True))
    return spec["dataset"] in CONFIRM_FIRST and key not in confirmed


def confirm(spec: dict) -> None:
    st.session_state.setdefault("confirmed_datasets", set()).add(
        (spec["dataset"], json.dumps(spec["params"], sort_keys=True))
    )


def current_workspace() -> Workspace | None:
    """The open workspace, or None (with the reason shown) when it cannot be opened."""
    spec = workspace_spec()
    if needs_confirmation(spec):
        return None
    try:
        with st.spinner(f"Loading {markdown_text(spec['dataset'])}…"):
            ws = _workspace(
                spec["dataset"],
                json.dumps(spec["params"], sort_keys=True),
                spec["encoder"] or GIVEN_VECTORS,
                json.dumps(spec["encoder_options"], sort_keys=True),
            )
            ws.summary()  # opens the encoder's configuration: a bad one fails here, not on a page
            st.session_state["_open_cache"] = ws.cache  # its recompute notices are said when the page ends
            return ws
    except (ValueError, FileNotFoundError, OSError) as exc:
        st.error(f"Cannot open workspace {markdown_text(spec['dataset'])} · {markdown_text(spec['encoder'])}: "
                 f"{markdown_text(exc)}. Pick another dataset or encoder in the sidebar.")
        return None


@st.cache_data(show_spinner=False, max_entries=16)
def _given_neighbors(embeddings_key: str, _ws):
    from core.experiments.relevance import given_neighbors_check

    return given_neighbors_check(_ws)


def given_neighbors_of(ws: Workspace):
    """`core.experiments.relevance.given_neighbors_check`, once per embeddings (not on every rerun)."""
    return _given_neighbors(ws.embeddings_key, ws)


# -- shared page helpers ------------------------------------------------------------
def streamlit_progress(label: str):
    """A core ProgressFn drawing an st.progress bar; returns (fn, bar)."""
    bar = st.progress(0.0, text=label)

    def update(done: int, total: int, message: str = "") -> None:
        frac = 0.0 if total <= 0 else min(1.0, done / total)
        bar.progress(frac, text=f"{label} — {message or ''} {done:,}/{total:,}".replace("—  ", "— "))

    return update, bar


def require_workspace() -> Workspace:
    """The current workspace; stops the page with a clear prompt when there is none."""
    ws = current_workspace()
    if ws is None:
        spec = workspace_spec()
        if needs_confirmation(spec):
            st.info(f"The **{spec['dataset']}** dataset takes minutes to build. Open the **Data** page to see "
                    "the estimate and start it.")
        st.stop()
    return ws


def show_late_cache_notices() -> None:
    """At the end of every page: what was found corrupt and recomputed after the embeddings were loaded
    (a kNN graph, ground truth, LID ...), said once."""
    cache = st.session_state.get("_open_cache")
    for notice in cache.take_notices() if cache is not None else []:
        st.warning(markdown_text(notice[0].upper() + notice[1:]) + ".")


def show_cache_notices(ws: Workspace) -> None:
    """Say what was wrong with cached files that had to be recomputed (once)."""
    for notice in ws.cache.take_notices():
        st.warning(markdown_text(notice[0].upper() + notice[1:]) + ".")


def require_embeddings(ws: Workspace, key: str = "encode_now"):
    """The workspace's embeddings; offers to encode them (with progress) when missing."""
    if ws.has_embeddings():
        with st.spinner("Loading the embeddings…"):
            x = ws.embeddings()
        show_cache_notices(ws)
        return x
    n = ws.dataset.n
    st.warning(
        f"**{ws.dataset.name}** ({n:,} passages) is not encoded with **{ws.encoder_name}** yet: "
        f"{encode_time_text(n, ws.measured_encode_rate(), ws.encoder_name, ws.expected_load_time())}."
    )
    if st.button("Encode now", key=key, type="primary"):
        return encode_with_progress(ws)
    st.stop()


def execution_picker(key: str) -> str:
    """In-process or Ray, with a line saying where the work will run; returns the choice."""
    import os

    from core.scale.session import ray_available

    options = ["in-process", "ray"] if ray_available() else ["in-process"]
    choice = st.radio(
        "Execution", options, horizontal=True, key=key,
        format_func=lambda o: {"in-process": "In-process", "ray": "Ray"}[o],
        help="Ray runs the same work as independent units (encoder actors, one task per index build) on a "
             "local Ray instance, or on the cluster named by RAY_ADDRESS.",
    )
    address = os.environ.get("RAY_ADDRESS")
    where = {
        "in-process": f"Runs in this app's process ({os.cpu_count()} CPUs).",
        "ray": f"Runs on the Ray cluster at {address}." if address
        else "Runs on a local Ray instance started for this run (no dashboard; files under the cache folder).",
    }[choice]
    st.caption(where)
    return choice


def encode_with_progress(ws: Workspace, execution: str = "in-process"):
    update, bar = streamlit_progress(f"Encoding {ws.dataset.n:,} passages with {ws.encoder_name} ({execution})")
    try:
        if execution == "ray":
            import os

            from core.scale.encode import encode_with_ray

            encode_with_ray(ws, address=os.environ.get("RAY_ADDRESS"), progress=update)
        x = ws.embeddings(progress=update)
        ws.query_embeddings(progress=update)
    except (ValueError, RuntimeError, OSError) as exc:
        bar.empty()
        st.error(f"Encoding failed, nothing was saved: {exc}")
        st.stop()
    bar.empty()
    meta = ws.embeddings_meta() or {}
    rate = meta.get("per_second")
    st.success(f"Encoded {x.shape[0]:,} × {x.shape[1]}" + (f" at {rate:.0f} passages/s" if rate else ""))
    return x


def page_intro(text: str) -> None:
    """The one or two sentences under a page title saying what it answers."""
    st.markdown(text)


def run_to_show(session_key: str, linked: int | None, latest, belongs) -> int | None:
    """The saved run a page shows: the one this session ran or opened (``session_key``), else the run its
    view state names (``linked``, from the link), else the latest saved (``latest``: a `Run` or ``None``).
    Each candidate is checked with ``belongs(run)`` (this page's kind and workspace); a link's run that is
    not one is said, not obeyed.
    """
    from core.store.runs import RunStore

    def usable(run_id: int | None) -> bool:
        try:
            return run_id is not None and bool(belongs(RunStore().get_run(run_id)))
        except (ValueError, OverflowError):
            return False

    ss = st.session_state
    if usable(ss.get(session_key)):
        return ss[session_key]
    chosen = None
    if linked is not None and not ss.get(f"{session_key}_link_used"):
        ss[f"{session_key}_link_used"] = True  # a link picks the run once; later the latest or the session's
        chosen = linked if usable(linked) else None
        if chosen is None:
            st.warning(f"The link asks for run {int(linked)}, which is not a saved run of this page and "
                       "workspace; showing the latest instead.")
    if chosen is None and latest is not None:
        chosen = latest.id
    ss[session_key] = chosen
    return chosen


def page_state(cls):
    """This session's view state of a page (a `ui.page_states` class).

    On the session's first run of the page it is read from the link (``st.query_params``), each value
    checked; what had to change is said once, as one warning per value. Later runs return what the
    page last published (`publish_state`), so widgets keep what the person set.
    """
    ss = st.session_state
    key = f"view_state_{cls.PAGE}"
    if key not in ss:
        query = {k: st.query_params.get(k) for k in cls.url_keys()}
        saved = st.query_params.get("view")
        if saved is not None:
            query = saved_view_query(cls.PAGE, saved) or query
        state, warnings = cls.from_query(query)
        ss[key] = state
        for warning in warnings:
            st.warning(markdown_text(warning))
    return ss[key]


def saved_view_query(page: str, raw: str) -> dict | None:
    """The URL values of a saved view (``?view=N``), or ``None`` after saying it does not exist."""
    from core.store.views import load_view
    from ui.view_state import BadValue, Int

    try:
        view_id, _ = Int(1, 2**53, clip=False).parse(raw)
        return load_view(view_id, page)
    except (BadValue, ValueError):
        st.warning(f"The link's view={markdown_text(raw[:40])} is not a saved view of this page; showing the "
                   "link's other values.")
        return None


def offer_saved_view(state) -> None:
    """Under a view whose link is too long to share safely, say so and offer a short saved link."""
    from ui.view_state import MAX_LINK_CHARS, link_too_long

    link = state.link(workspace_spec())
    if not link_too_long(link):
        return
    st.caption(f"This view's link is {len(link):,} characters long, more than {MAX_LINK_CHARS:,}: chat tools and "
               "mail may cut it. **Save view** keeps it under a short id.")
    if st.button("Save view", key=f"save_view_{state.PAGE}"):
        from urllib.parse import urlencode

        from core.store.views import save_view
        from ui.view_state import workspace_query

        spec = workspace_spec()
        view_id = save_view(state.PAGE, {**workspace_query(spec), **state.to_query()})
        short = f"/{state.PAGE}?" + urlencode({**workspace_query(spec), "view": view_id})
        st.success(f"Saved as view #{view_id}. Share this link: {markdown_text(short)}")


def publish_state(state) -> None:
    """Make ``state`` the page's view state and its URL: the workspace's values and this state's, nothing
    else (values another page left in the URL are dropped), so a copied link reopens exactly this view."""
    from ui.view_state import WORKSPACE_KEYS

    st.session_state[f"view_state_{state.PAGE}"] = state
    wanted = state.to_query()
    for key in list(st.query_params.keys()):
        if key not in WORKSPACE_KEYS and key not in wanted:
            del st.query_params[key]
    for key, value in wanted.items():
        if st.query_params.get(key) != value:
            st.query_params[key] = value


def state_link(state, ws: Workspace | None = None) -> str:
    """A link to ``state``'s page in the current workspace (relative URL)."""
    return state.link(workspace_spec())


def index_of(options: list, value, default) -> int:
    """Index of ``value`` in ``options`` for a widget's ``index=`` (of ``default`` when absent or not an option)."""
    return options.index(value) if value in options else options.index(default)


def not_offered(what: str, value, options, default) -> None:
    """Say that a link's value is not an option here (once per run) and what the page uses instead."""
    st.warning(f"The link's {markdown_text(what)} {markdown_text(value)} is not one of "
               f"{markdown_text(', '.join(str(o) for o in options))}; using {markdown_text(default)}.")
