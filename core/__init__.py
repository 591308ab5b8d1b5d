"""densescope engine: datasets, encoders, indexes and experiments over numpy arrays.

Layers, lowest first (a package imports only those before it; `tests/test_layers.py` checks):
``config``, ``progress``, ``env`` (foundation) < ``data``, ``encode``, ``index``, ``store`` <
``workspace`` < ``analysis`` < ``experiments`` < ``scale`` < ``cli``. Nothing here imports
streamlit, views, ui or figures; the app's pages and the CLI (``densescope``) both call in.
"""

import os

# OpenMP threads that spin while waiting make faiss's k-means 8-14x slower on 2 shared
# cores (measured: quick sweep 111 s -> 14 s). Must be set before faiss is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
