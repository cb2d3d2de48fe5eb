"""Publish a resource's status in the middle of a handler call (an edge: the Kubernetes API).

A change applied in steps runs them all in one handler call, one transaction each; before a
step that takes a while (a validation, a concurrent index build, a rewrite) the status must
already say Reconciling and name it. Kopf writes a handler's patch only when the call returns,
so this PATCHes the status at once: the handler runs in a worker thread, the PATCH on the
operator's event loop through Kopf's own client (its session, its API limits).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import kopf
from kopf._cogs.clients import patching  # the client Kopf itself patches with (1.45.x)

log = logging.getLogger(__name__)
# With its status subresource: Kopf then PATCHes .../status, where the API server takes it.
RESOURCE = kopf.Resource(group="kopf.demo", version="v1", plural="databasetables",
                         kind="DatabaseTable", namespaced=True, subresources=frozenset({"status"}))
PUBLISH_TIMEOUT_S = 10.0


class StatusPublisher:
    """Callable from a sync handler's thread: ``publish(body, status)``; never raises (the
    handler's own patch carries the status anyway when the call ends)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, settings: kopf.OperatorSettings,
                 timeout_s: float = PUBLISH_TIMEOUT_S) -> None:
        self.loop, self.settings, self.timeout_s = loop, settings, timeout_s

    def __call__(self, body: kopf.Body, status: Mapping[str, Any]) -> None:
        patch = kopf.Patch({"status": dict(status)})
        future = asyncio.run_coroutine_threadsafe(patching.patch_obj(
            settings=self.settings, resource=RESOURCE, namespace=body.metadata.namespace,
            name=body.metadata.name, patch=patch, logger=log), self.loop)
        try:
            future.result(timeout=self.timeout_s)
        except Exception as e:  # the API slow or away: the step goes on, reported at the end
            future.cancel()
            log.warning("Could not publish the status of %s/%s before the next step: %s",
                        body.metadata.namespace, body.metadata.name, e)
