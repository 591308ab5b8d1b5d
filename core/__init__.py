"""densescope engine: datasets, encoders, indexes and experiments over numpy arrays.

Nothing in this package imports streamlit; the app's pages and the CLI
(``python -m core``) both call into it.
"""

__version__ = "0.1.0"
