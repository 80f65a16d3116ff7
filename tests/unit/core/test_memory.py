"""The cyclic garbage collector: paused around bulk work (export, import), kept off a
hot-path process's long-lived heap."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from functions.core import memory
from functions.core.memory import collector_paused


@pytest.fixture
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_collector_paused__overlapping_holders__resumes_when_the_last_leaves(
    collector_on: None,
) -> None:
    # Given two overlapping pauses (two requests in two threads)
    first, second = collector_paused(), collector_paused()

    # When the first ends before the second
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    during = gc.isenabled()
    second.__exit__(None, None, None)

    # Then the collector stays off until the second ends, then runs again
    assert during is False
    assert gc.isenabled() is True


def test_collector_paused__work_raises__collector_runs_again(collector_on: None) -> None:
    # Given a pause around work that fails
    # When the work raises
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")

    # Then the collector runs again
    assert gc.isenabled() is True


def test_collector_paused__collector_off_before__stays_off(collector_on: None) -> None:
    # Given a process that turned the collector off itself
    gc.disable()

    # When a pause begins and ends
    with collector_paused():
        pass

    # Then it is still off: the pause only gives back what it took
    assert gc.isenabled() is False


def test_settle_long_lived__survivors_frozen_and_young_collected_less_often() -> None:
    # Given a process holding long-lived objects, with the collector's usual settings
    before = gc.get_threshold()
    kept = [{"flag": index} for index in range(1000)]
    try:
        # When it settles its heap
        memory.settle_long_lived()
        # Then what survived is out of the collector's sight, and the young are
        # collected less often (the oldest generation as it was)
        assert gc.get_freeze_count() >= len(kept)
        assert gc.get_threshold() == (
            memory.YOUNG_THRESHOLD,
            memory.MIDDLE_THRESHOLD,
            before[2],
        )
        # And a cycle made afterwards is still collected
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
