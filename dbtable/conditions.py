"""Status conditions shaped like metav1.Condition (pure)."""
from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(existing: Iterable[Mapping[str, Any]] | None, *, type: str, status: str,
                  reason: str, message: str, generation: int | None,
                  timestamp: str | None = None) -> list[dict[str, Any]]:
    """Return the conditions with ``type`` set; lastTransitionTime moves only when status does."""
    conditions = [dict(c) for c in existing or () if c.get("type") != type]
    previous = next((c for c in existing or () if c.get("type") == type), None)
    changed = previous is None or previous.get("status") != status
    condition: dict[str, Any] = {
        "type": type, "status": status, "reason": reason,
        # metav1.Condition caps the message at 32768 characters.
        "message": message[:32768],
        "lastTransitionTime": (timestamp or now()) if changed
        else previous.get("lastTransitionTime") or timestamp or now(),
    }
    if generation is not None:
        condition["observedGeneration"] = generation
    conditions.append(condition)
    return sorted(conditions, key=lambda c: c["type"])
