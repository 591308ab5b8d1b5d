"""The server's long-lived heap, kept out of the full garbage collection Streamlit runs after each script.

Streamlit calls ``gc.collect(2)`` after every script run (``runner.postScriptGC``, on by default): a
full collection walks every object the process tracks. A bare Streamlit page has a small heap; this
app imports faiss, torch, transformers, pandas, plotly, numba and umap, and on the demo's pages that
collection took 0.25-0.33 s of a 0.45-0.65 s page view, growing as more modules were imported over
the server's life (measured 2026-12-02 with a ``gc.callbacks`` timer in the server: one full
collection per view, every page).

Modules and what they hold live as long as the process. So after a script run that imported new
modules (`NEW_MODULES_TO_FREEZE` or more since the last freeze), `freeze_long_lived` collects once and
moves every object alive then into the permanent generation (``gc.freeze``): later collections walk
only what was made since, and the post-script
collection still frees each run's garbage. The price: an object alive at a freeze that later becomes
garbage *in a reference cycle* is not reclaimed (plain reference counting still frees the rest). A
freeze happens only when the set of imported modules grew by that much (the first run of a process,
the first use of a heavy page: a handful of times in a server's life), so what can be held back is bounded by a few
sessions' worth of objects. Only a served app freezes (a Streamlit runtime exists): AppTest runs pages
in the test process, whose heap is not the server's.
"""

from __future__ import annotations

import gc
import sys
import threading

from streamlit import runtime

_lock = threading.Lock()
_modules_at_freeze = 0
#: A freeze waits for this many new modules: a heavy import (torch: hundreds) is worth one, a lone small
#: module is not (its objects cost the collection little; every freeze pins what is alive at that moment).
NEW_MODULES_TO_FREEZE = 20


def freeze_long_lived() -> bool:
    """Collect and freeze the heap if `NEW_MODULES_TO_FREEZE` modules or more were imported since the last
    freeze; True if it froze."""
    global _modules_at_freeze
    if not runtime.exists() or len(sys.modules) < _modules_at_freeze + NEW_MODULES_TO_FREEZE:
        return False
    with _lock:
        if len(sys.modules) < _modules_at_freeze + NEW_MODULES_TO_FREEZE:
            return False
        gc.collect()
        gc.freeze()
        _modules_at_freeze = len(sys.modules)
    return True
