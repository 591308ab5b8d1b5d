"""The served app freezes its long-lived heap so Streamlit's full collection after each run stays cheap."""

from __future__ import annotations

import gc
import sys
import types

import ui.gc_heap as gc_heap


def test_freezes_once_per_new_set_of_modules_and_only_in_a_served_app(monkeypatch):
    monkeypatch.setattr(gc_heap, "_modules_at_freeze", 0)
    monkeypatch.setattr(gc_heap.runtime, "exists", lambda: False)
    assert not gc_heap.freeze_long_lived()  # AppTest / plain python: no runtime, nothing frozen
    monkeypatch.setattr(gc_heap.runtime, "exists", lambda: True)
    try:
        before = gc.get_freeze_count()
        assert gc_heap.freeze_long_lived()
        frozen = gc.get_freeze_count()
        assert frozen > before
        kept = [object() for _ in range(3)]  # noqa: F841 - new objects, but no new module
        assert not gc_heap.freeze_long_lived() and gc.get_freeze_count() == frozen
        monkeypatch.setitem(sys.modules, "densescope_test_module_0", types.ModuleType("densescope_test_module_0"))
        assert not gc_heap.freeze_long_lived()  # one small module is not worth pinning the heap again
        for i in range(1, gc_heap.NEW_MODULES_TO_FREEZE):
            name = f"densescope_test_module_{i}"
            monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
        assert gc_heap.freeze_long_lived() and gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()  # the test process's heap goes back to the collector


def test_a_cycle_made_after_the_freeze_is_still_collected(monkeypatch):
    monkeypatch.setattr(gc_heap, "_modules_at_freeze", 0)
    monkeypatch.setattr(gc_heap.runtime, "exists", lambda: True)
    try:
        gc_heap.freeze_long_lived()

        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a
        import weakref

        alive = weakref.ref(a)
        del a, b
        gc.collect()
        assert alive() is None
    finally:
        gc.unfreeze()
