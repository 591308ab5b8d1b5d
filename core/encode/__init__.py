"""Encoders: texts -> float32 unit vectors (transformer models apart from the static baselines).

`registry` names them (`make_encoder`, `list_encoders`); `base` holds the `Encoder` contract.
May import: `core.config`, `core.progress`, `core.data`; nothing above.
"""
