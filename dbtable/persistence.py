"""Kopf's storages as the operator configures them (an edge: Kopf wiring, used in the
operator's startup settings): annotation keys formed once (``FormedKeys``), and the record of
what Kopf last handled bound to the object it was recorded for.

Kopf keeps the last handled spec in an annotation and fires the create handler only for an
object without one. A restore (Velero), a cluster rebuild or a re-create from a saved manifest
brings the annotation back on an object with a new uid, so Kopf would see the object as
handled and never reconcile it: its table would stay marked with the old uid. This storage
records the uid beside the essence and ignores an essence recorded for another uid, so Kopf
treats such an object as new, and the reconcile reclaims its table.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import kopf


class FormedKeys:
    """A Kopf storage mixin: each annotation key formed once, not on every call.

    Kopf forms a storage's keys (both naming versions, hashed when long) on every fetch, store
    and purge, several times per watch event of every resource: about 4 % of the operator's
    CPU in a burst of creates (issue 10, py-spy). The body changes the keys only for a
    ReplicaSet owned by a Deployment (Kopf's CollisionEvadingConvention); the operator's
    storages only ever see DatabaseTables, so the keys depend on the key alone."""

    def make_keys(self, key: str, *, body: kopf.Body | None = None) -> Iterable[str]:
        formed: dict[str, tuple[str, ...]] = self.__dict__.setdefault("_formed_keys", {})
        keys = formed.get(key)
        if keys is None:
            keys = formed[key] = tuple(super().make_keys(key))  # type: ignore[misc]
        return keys


class ProgressAnnotations(FormedKeys, kopf.AnnotationsProgressStorage):
    """Kopf's progress records in annotations (as ``kopf.AnnotationsProgressStorage``)."""


class UidBoundDiffBaseStorage(FormedKeys, kopf.AnnotationsDiffBaseStorage):
    """``AnnotationsDiffBaseStorage`` whose stored essence counts only for the same uid."""

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: Any) -> None:
        bound = copy.deepcopy(dict(essence))
        bound.setdefault("metadata", {})["uid"] = body.metadata.uid
        super().store(body=body, patch=patch, essence=bound)

    def fetch(self, *, body: kopf.Body) -> Any:
        essence = super().fetch(body=body)
        if essence is None:
            return None
        essence = copy.deepcopy(dict(essence))
        metadata = essence.get("metadata") or {}
        recorded = metadata.pop("uid", None)
        if not metadata:
            essence.pop("metadata", None)
        # No uid recorded: written before this storage, trusted as Kopf always did.
        if recorded is not None and recorded != body.metadata.uid:
            return None  # recorded for another object of this name: treat this one as new
        return essence
