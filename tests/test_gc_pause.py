"""`imports_without_gc`: the cyclic collector is off while heavy imports run, back on after,
and what they allocated is frozen out of later collections."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from ftkit.gc_pause import imports_without_gc


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    """Each test starts with the collector on and nothing frozen, and leaves it that way."""
    gc.enable()
    gc.unfreeze()
    yield
    gc.enable()
    gc.unfreeze()


def test_the_collector_is_off_inside_and_on_after_with_the_imports_frozen() -> None:
    with imports_without_gc():
        assert not gc.isenabled()
        loaded = [[i] for i in range(1000)]  # what an import leaves behind
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(loaded)


def test_nested_and_concurrent_stretches_keep_it_off_until_the_last_ends() -> None:
    inner_started, outer_done = threading.Event(), threading.Event()
    seen_in_thread: list[bool] = []

    def background_import() -> None:
        with imports_without_gc():
            inner_started.set()
            outer_done.wait(5)
            seen_in_thread.append(gc.isenabled())

    with imports_without_gc():
        with imports_without_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer stretch is still open
        thread = threading.Thread(target=background_import)
        thread.start()
        assert inner_started.wait(5)
    assert not gc.isenabled()  # the background stretch is still open
    outer_done.set()
    thread.join(5)
    assert seen_in_thread == [False]
    assert gc.isenabled()


def test_a_collector_turned_off_before_stays_off() -> None:
    gc.disable()
    with imports_without_gc():
        pass
    assert not gc.isenabled()


def test_an_import_that_fails_still_turns_the_collector_back_on() -> None:
    with pytest.raises(ImportError), imports_without_gc():
        import ftkit_no_such_module  # type: ignore[import-not-found]  # noqa: F401
    assert gc.isenabled()
