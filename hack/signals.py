"""The `up` commands (hack/controlplane_cli.py, hack/node_cli.py, hack/postgres_cli.py) run until
Ctrl-C or SIGTERM, then leave their ``with`` block, which stops what they started: a signal
only asks them to stop, it never ends the process in the middle of that cleanup."""
from __future__ import annotations

import signal
import threading


def stop_on_signals() -> threading.Event:
    """An event set once SIGTERM or SIGINT arrives (their handlers replaced for the process)."""
    stop = threading.Event()

    def request_stop(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop
