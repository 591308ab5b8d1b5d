"""Estimators and studies over arrays: intrinsic dimension, insertion order, neighbourhoods
(hubness), 2-D projections and the compression sweep loop. Pure functions and sklearn-style
estimators; no run store. May import the lower layers (data, encode, index, store) and `core.workspace`.
"""
