"""When the operator hands freed heap back: once a burst is over, and once more after the
idle connections are closed; never during work, never again while nothing happens."""
from __future__ import annotations

import gc
import weakref

from dbtable.heap import QuietTrim, collect_and_trim, malloc_trim


def ticks(decide: QuietTrim, cpu_per_tick: list[float], seconds: float = 5.0) -> list[int]:
    """The ticks (1-based) at which ``decide`` says trim, given each tick's CPU seconds."""
    cpu, trims = 0.0, []
    decide.tick(cpu, seconds)
    for n, used in enumerate(cpu_per_tick, start=1):
        cpu += used
        if decide.tick(cpu, seconds):
            trims.append(n)
    return trims


def test_idle_from_the_start_never_trims() -> None:
    assert ticks(QuietTrim(), [0.0] * 20) == []


def test_a_burst_is_trimmed_at_its_end_once_the_connections_closed_and_once_more() -> None:
    # busy for 3 ticks, then quiet: trims at the 1st, 3rd and 6th quiet tick, then nothing
    assert ticks(QuietTrim(), [2.0, 3.0, 1.0] + [0.01] * 20) == [4, 6, 9]


def test_never_during_work_and_a_new_burst_starts_over() -> None:
    pattern = [2.0] * 5 + [0.0] * 2 + [1.0] * 2 + [0.0] * 10
    assert ticks(QuietTrim(), pattern) == [6, 10, 12, 15]


def test_quiet_is_a_share_of_the_tick() -> None:
    # 0.2 s of CPU in a 5 s tick is 4 %: quiet; 0.3 s is 6 %: busy
    assert ticks(QuietTrim(), [0.3, 0.2]) == [2]
    assert ticks(QuietTrim(), [0.3, 0.3]) == []


def test_this_c_library_has_malloc_trim_and_it_answers() -> None:
    trim = malloc_trim()
    assert trim is not None  # glibc, as in the image (python:3.11-slim is Debian)
    assert trim() in (0, 1)  # 1: memory was released, 0: there was none to release


def test_a_trim_frees_cycles_first() -> None:
    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    gc.disable()  # only the trim's own collection may free them
    try:
        gone = weakref.ref(a)
        del a, b
        assert gone() is not None  # a cycle: reference counting alone keeps it
        collect_and_trim(lambda: 0)
        assert gone() is None
    finally:
        gc.enable()
