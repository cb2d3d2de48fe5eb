"""hack/signals.py: SIGTERM and SIGINT only ask an `up` command to stop."""
from __future__ import annotations

import os
import signal

import pytest

from hack.signals import stop_on_signals


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_sets_the_event_and_the_process_lives_on(signum: int) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        stop = stop_on_signals()
        assert not stop.is_set()
        os.kill(os.getpid(), signum)
        assert stop.wait(5)
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
