"""Search over vectors: exact kNN, the registry of index/compression methods, search metrics.

`registry.METHODS` is the one list of methods; families live in `faiss_indexes`, `binary`,
`reduction`; `spec` is the shape of a method. May import: `core.config`, `core.progress`,
`core.data`; nothing above.
"""
