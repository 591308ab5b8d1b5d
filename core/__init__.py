"""densescope engine: datasets, encoders, indexes and experiments over numpy arrays.

Nothing in this package imports streamlit; the app's pages and the CLI
(``python -m core``) both call into it.
"""

import os

# OpenMP threads that spin while waiting make faiss's k-means 8-14x slower on 2 shared
# cores (measured: quick sweep 111 s -> 14 s). Must be set before faiss is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
