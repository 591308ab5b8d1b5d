"""One module per experiment, at workspace level: what a page or a CLI command calls.

Each feeds a `core.workspace.Workspace`'s cached artifacts to `core.analysis`, caches what it computes
and returns typed results / tidy rows saved as runs. May import everything below (analysis,
workspace, store, index, encode, data) and `core.scale` lazily for `--ray` execution.
"""
