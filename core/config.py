"""Where densescope keeps its files, and process-wide settings."""

from __future__ import annotations

import os
from pathlib import Path

#: Largest upload the app accepts, in megabytes (also set in .streamlit/config.toml).
MAX_UPLOAD_MB = 200


def home() -> Path:
    """Root folder for the artifact cache and run store.

    ``$DENSESCOPE_HOME`` when set, else ``~/.cache/densescope``.
    """

    env = os.environ.get("DENSESCOPE_HOME")
    root = Path(env).expanduser() if env else Path.home() / ".cache" / "densescope"
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_dir() -> Path:
    d = home() / "artifacts"
    d.mkdir(parents=True, exist_ok=True)
    return d


def store_path() -> Path:
    return home() / "runs.sqlite"


def offline_hub() -> None:
    """Never reach a model hub at run time unless the user asked for it."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
