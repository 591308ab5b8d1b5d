"""Shared fixtures. Every test runs against a private DENSESCOPE_HOME.

The folder ``.pytest-home`` in the repository (git-ignored) persists between
test runs so the MiniLM embeddings of stdlib-docs are encoded once, not on every
`make test`; tests that need an empty home use ``tmp_path`` instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_HOME = ROOT / ".pytest-home"
os.environ["DENSESCOPE_HOME"] = str(TEST_HOME)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Visitors never see tracebacks (.streamlit/config.toml); tests do, so a failure names its cause.
os.environ["STREAMLIT_CLIENT_SHOW_ERROR_DETAILS"] = "full"


@pytest.fixture
def fresh_home(tmp_path, monkeypatch):
    """An empty DENSESCOPE_HOME for tests that must start from nothing."""
    monkeypatch.setenv("DENSESCOPE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def rng():
    return np.random.default_rng(0)
