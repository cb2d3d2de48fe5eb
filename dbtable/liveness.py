"""The liveness probe's verdict on the database workers (an edge: Kopf's probe errors)."""
from __future__ import annotations

from typing import Any

import kopf

from dbtable.pool import ConnectionPool


def check_workers(pool: ConnectionPool | None, stuck_after: float) -> dict[str, Any]:
    """What /healthz reports; raises while a handler has been at the database past the bound
    (every database wait is bounded, so such a worker is stuck where no bound reaches)."""
    busy = pool.busy() if pool is not None else []
    stuck = [b for b in busy if b.seconds > stuck_after]
    if stuck:
        raise kopf.PermanentError(
            f"{len(stuck)} worker(s) busy with the database for more than "
            f"{stuck_after:g} s (longest {stuck[0].seconds:.0f} s, {stuck[0].thread})")
    return {"busy": len(busy), "longestSeconds": round(busy[0].seconds, 1) if busy else 0}
