"""Our finalizer on the object before the database is touched (an edge: the Kubernetes API).

Kopf adds its finalizer in a processing cycle of its own and runs the create handler only on
the watch event of that PATCH: a round trip through the API server and the watch per create.
Instead the delete handler is gated on our finalizer being there (``is_held``), so Kopf
neither adds it nor removes it while the resource lives, and every handler that may write to
the database first calls ``FinalizerKeeper``: it PATCHes the finalizer on (from the handler's
thread, through Kopf's client on the operator's loop) and only says go once the API server
took it. An object already being deleted, or gone, gets nothing: no finalizer, no table.
"""
from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Mapping
from typing import Any

import kopf
from kopf._cogs.clients import api, errors  # the client Kopf itself patches with (1.45.x)

from dbtable.status_publisher import RESOURCE

log = logging.getLogger(__name__)
FINALIZER = "kopf.demo/database-table-operator"
ENSURE_TIMEOUT_S = 10.0
# Each attempt fails only when the object changed between the read and the PATCH.
MAX_ATTEMPTS = 5


class Presence(enum.Enum):
    HELD = "held"  # our finalizer is on the object: the database may be touched
    ADD = "add"  # not yet: PATCH it on
    RELEASED = "released"  # being deleted or gone: touch nothing, add nothing


class FinalizerNotAdded(Exception):
    """The API server did not take the finalizer (nor said the object is going)."""


def finalizers_of(body: Mapping[str, Any]) -> list[str]:
    return list((body.get("metadata") or {}).get("finalizers") or [])


def is_held(body: Mapping[str, Any], **_: Any) -> bool:
    """Kopf's ``when=`` for the delete handler: true once our finalizer is on the object."""
    return FINALIZER in finalizers_of(body)


def deleted_unreleased(type: str, body: Mapping[str, Any], **_: Any) -> bool:
    """Kopf's ``when=`` for a watch event: the object is gone while it still lists our
    finalizer and was never marked for deletion. The API server does this when a DELETE races
    the PATCH that adds the finalizer (it decides on the version it read first); no cleanup
    ran, so the table the handler created is still there. (A graceful deletion always carries a
    deletionTimestamp; a finalizer removed by hand is no longer listed.)"""
    return type == "DELETED" and is_held(body) \
        and not (body.get("metadata") or {}).get("deletionTimestamp")


def presence(body: Mapping[str, Any] | None) -> Presence:
    """What to do for this version of the object (None: it is gone)."""
    if body is None or (body.get("metadata") or {}).get("deletionTimestamp"):
        # A finalizer of ours from before the deletion still counts: the delete handler runs.
        return Presence.HELD if body is not None and is_held(body) else Presence.RELEASED
    return Presence.HELD if is_held(body) else Presence.ADD


def add_operations(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A JSON patch adding our finalizer to this version of the object, and to no other: the
    resourceVersion test makes the API server refuse it (422) if anything changed since, so
    another controller's finalizer added meanwhile is never replaced by our list."""
    version = (body.get("metadata") or {}).get("resourceVersion")
    test = {"op": "test", "path": "/metadata/resourceVersion", "value": version}
    if finalizers_of(body):
        return [test, {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER}]
    return [test, {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]}]


class FinalizerKeeper:
    """``await keeper.ensure(body)``, on the operator's loop: True once our finalizer is on
    the object (already, or added now), False if the object is being deleted or gone; raises
    FinalizerNotAdded otherwise (the API slow, away, or refusing). A sync handler reaches it
    through dbtable.finalizer_gate.holds_finalizer."""

    def __init__(self, loop: asyncio.AbstractEventLoop, settings: kopf.OperatorSettings,
                 timeout_s: float = ENSURE_TIMEOUT_S) -> None:
        self.loop, self.settings, self.timeout_s = loop, settings, timeout_s

    async def ensure(self, body: Mapping[str, Any]) -> bool:
        state = presence(body)
        if state is not Presence.ADD:
            return state is Presence.HELD
        try:
            return await asyncio.wait_for(self._ensure(body), timeout=self.timeout_s)
        except FinalizerNotAdded:
            raise
        except Exception as e:  # noqa: BLE001 - timeouts and API errors alike: no DDL
            raise FinalizerNotAdded(f"could not add the finalizer: {e or type(e).__name__}"
                                    ) from None

    async def _ensure(self, body: Mapping[str, Any] | None) -> bool:
        metadata = (body or {}).get("metadata") or {}
        namespace, name = metadata.get("namespace"), metadata.get("name")
        for _ in range(MAX_ATTEMPTS):
            state = presence(body)
            if state is not Presence.ADD:
                return state is Presence.HELD
            assert body is not None
            try:
                await api.patch(
                    url=RESOURCE.get_url(namespace=namespace, name=name),
                    headers={"Content-Type": "application/json-patch+json"},
                    payload=add_operations(body), settings=self.settings, logger=log)
                return True
            except errors.APINotFoundError:
                return False
            except (errors.APIUnprocessableEntityError, errors.APIConflictError):
                # Changed since (a deletion refuses new finalizers with 422 as well): look again.
                body = await self._read(namespace, name)
        raise FinalizerNotAdded(f"could not add the finalizer: the object kept changing "
                                f"({MAX_ATTEMPTS} attempts)")

    async def _read(self, namespace: str | None, name: str | None) -> Mapping[str, Any] | None:
        """The object as it is now, or None. A list by name: the operator's RBAC has list and
        watch, not get."""
        found = await api.get(
            url=RESOURCE.get_url(namespace=namespace,
                                 params={"fieldSelector": f"metadata.name={name}"}),
            settings=self.settings, logger=log)
        items = found.get("items") or []
        return items[0] if items else None
