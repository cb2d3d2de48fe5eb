"""Heap memory handed back to the system once a burst of work is over (issue 10).

A burst (10,000 resources created at once) leaves the heap full of freed memory: the bodies of
watch events and patches, and the 256 KiB read buffer of each TLS connection to the API server,
freed when aiohttp closes the connection once idle (dbtable/apisession.py). glibc keeps freed
memory for reuse and gives back only the top of its heap, and objects in reference cycles wait
for the garbage collector's rare full pass, so the process would stay at its burst's size while
idle. Once the process has gone quiet after being busy, a full collection and
``malloc_trim(0)`` return every whole free page: at once, again once the idle connections are
closed, and once more a few seconds later. Never while work is under way, and never again while
nothing happens.

The decision is pure (``QuietTrim``); the loop and the call into the C library are the edge.
"""
from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

# A process using less than this share of one CPU over a tick is quiet.
QUIET_SHARE = 0.05
TICK_S = 2.0
# Trim at these counts of quiet ticks after a busy one: at once (2 to 4 s after the last work),
# once the keep-alive (2 s, checked every 2 s: apisession.IDLE_CONNECTION_S) has closed the
# connections the burst opened, and once more.
TRIM_AT_QUIET_TICKS = (1, 3, 6)


@dataclass
class QuietTrim:
    """Says when to trim, from the process's CPU time read once per tick."""

    quiet_share: float = QUIET_SHARE
    trim_at: tuple[int, ...] = TRIM_AT_QUIET_TICKS
    _last_cpu: float | None = None
    _quiet_ticks: int | None = None  # None: no busy tick since the last trims

    def tick(self, cpu_seconds: float, seconds: float) -> bool:
        """``cpu_seconds``: the process's CPU time now; ``seconds``: the tick's length."""
        last, self._last_cpu = self._last_cpu, cpu_seconds
        if last is None:
            return False
        if cpu_seconds - last >= self.quiet_share * seconds:
            self._quiet_ticks = 0  # busy: trim once it is over
            return False
        if self._quiet_ticks is None:
            return False
        self._quiet_ticks += 1
        if self._quiet_ticks >= max(self.trim_at):
            self._quiet_ticks = None
        return self._quiet_ticks is None or self._quiet_ticks in self.trim_at


def malloc_trim() -> Callable[[], int] | None:
    """glibc's ``malloc_trim(0)``, or None where the C library has none (musl, macOS)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: int(trim(0))


def collect_and_trim(trim: Callable[[], int]) -> int:
    """Free what only the garbage collector can (cycles: a closed connection's TLS state), then
    return the free pages. 1 when memory was returned."""
    gc.collect()
    return trim()


async def trim_when_quiet(logger: logging.Logger, tick: float = TICK_S,
                          decide: QuietTrim | None = None) -> None:
    """Every ``tick`` seconds, trim the heap if ``decide`` says a burst is over."""
    trim = malloc_trim()
    if trim is None:
        logger.debug("No malloc_trim in this C library: freed heap stays with the process.")
        return
    decide = decide or QuietTrim()
    loop = asyncio.get_running_loop()
    own = 0.0  # the trims' own CPU time: not work that makes the process busy
    while True:
        await asyncio.sleep(tick)
        if decide.tick(time.process_time() - own, tick):
            started = time.process_time()
            # It walks the whole heap (tens of ms): in a thread, not in the event loop.
            await loop.run_in_executor(None, collect_and_trim, trim)
            own += time.process_time() - started
