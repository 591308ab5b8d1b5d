"""The same units of work on Ray: batch encoding with Ray Data, one Ray task per sweep build group.

May import the layers below (analysis, workspace, store, index, encode, data); Ray is imported lazily.
"""
