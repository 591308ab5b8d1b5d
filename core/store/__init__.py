"""What is kept on disk: the content-addressed artifact cache, the SQLite run store, run comparison.

May import: `core.config`, `core.env`, `core.progress`, `core.data`; nothing above.
"""
