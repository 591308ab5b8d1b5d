"""`ui.shared`: what a page builds once per state is built once per server process, not once per visitor."""

import pytest

from core.store.runs import RunStore
from ui.shared import run_key, shared


def test_built_once_per_key_and_again_for_another_key():
    calls = []

    def build(value):
        calls.append(value)
        return {"value": value}

    first = shared("test.once", ("a", 1), lambda: build("a"))
    again = shared("test.once", ("a", 1), lambda: build("a"))
    other = shared("test.once", ("b", 1), lambda: build("b"))
    assert first is again and calls == ["a", "b"] and other == {"value": "b"}


def test_a_failed_build_is_not_kept():
    def fail():
        raise ValueError("no")

    with pytest.raises(ValueError):
        shared("test.fail", ("x",), fail)
    assert shared("test.fail", ("x",), lambda: 7) == 7


def test_a_runs_key_changes_as_it_grows_and_between_stores(tmp_path, monkeypatch):
    monkeypatch.setenv("DENSESCOPE_HOME", str(tmp_path / "one"))
    store = RunStore()
    with store.recording("sweep", "d", "e", {}) as rec:
        rec.add({"a": 1})
        running = run_key(store.get_run(rec.run_id))
        rec.add({"a": 2})
        grown = run_key(store.get_run(rec.run_id))
    done = run_key(store.get_run(rec.run_id))
    assert len({running, grown, done}) == 3
    monkeypatch.setenv("DENSESCOPE_HOME", str(tmp_path / "two"))
    other = RunStore()
    with other.recording("sweep", "d", "e", {}) as rec2:
        rec2.add({"a": 1})
    assert rec2.run_id == rec.run_id and run_key(other.get_run(rec2.run_id)) != done
