"""Kopf's "last handled" state kept as digests, not as a copy of the spec (Kopf's storage plugin).

Kopf stores the essence of each object as last handled (its spec, labels and annotations) to
tell a real change from noise. By default that is a JSON copy in an annotation, and the
largest spec the CRD admits (1,600 columns of 63-character names and 128-character types,
about 318 KB) makes that annotation larger than the 256 KiB Kubernetes allows for all of an
object's annotations together, so Kopf can never record it as handled.

The operator plans from the catalog, never from Kopf's ``old``/``diff``: all it needs from the
diff base is *whether* the spec (or the rest) changed. So this storage keeps a SHA-256 of the
spec and of the rest, 150 bytes whatever the spec's size, and rebuilds for Kopf an essence that
differs from the current one exactly where a digest differs. Consequence: a handler's ``old``
holds a placeholder, not the previous spec (none of ours reads it).

Like ``persistence.UidBoundDiffBaseStorage`` (which reads the full copies older versions
wrote), the record names the uid it was written for: a restored object (same name, new uid,
old annotations) counts as never handled, so it is reconciled and reclaims its table.

The record is kept in ``status.lastHandled``, not in an annotation: Kopf sends a handler's
status and its metadata in two PATCH requests (the status subresource ignores metadata), so a
record in the status rides in the same PATCH as the handler's Ready condition. A create then
costs Kopf's finalizer PATCH and one status PATCH, and every write saved is also one watch
event less for the operator to process. Records that earlier versions kept in annotations
(``<prefix>/last-handled-digest``, ``<prefix>/last-handled-configuration``) are read, and
removed the next time a record is stored.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, cast

import kopf
from kopf._cogs.structs import dicts

from dbtable.persistence import FormedKeys, UidBoundDiffBaseStorage

STATUS_FIELD = "lastHandled"
DIGEST_KEY = "last-handled-digest"  # the annotation of earlier versions: read, then removed
_FULL_KEY = "last-handled-configuration"  # what Kopf's own storage wrote: read, then replaced


def digest(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _slim(body: Mapping[str, Any], extra_fields: Any) -> dict[str, Any]:
    """The parts of ``body`` an essence can hold. Kopf's ``build`` deep-copies the whole body
    before it deletes the metadata and the status, and on every event of every resource that
    copy of managedFields and of the status (every column) was most of its cost."""
    wanted = [dicts.parse_field(field) for field in extra_fields or ()]
    slim = {key: value for key, value in body.items() if key not in ("metadata", "status")}
    metadata = body.get("metadata") or {}
    if ("metadata",) in wanted:
        slim["metadata"] = metadata
    else:
        keep = {"labels", "annotations", "ownerReferences"} | {
            field[1] for field in wanted if len(field) > 1 and field[0] == "metadata"}
        slim["metadata"] = {key: value for key, value in metadata.items() if key in keep}
    if any(field[0] == "status" for field in wanted):
        slim["status"] = body.get("status")
    return slim


class DigestDiffBaseStorage(FormedKeys, kopf.AnnotationsDiffBaseStorage):
    """Stores ``{"uid": ..., "spec": sha256, "rest": sha256}`` in ``status.lastHandled``.

    An ``AnnotationsDiffBaseStorage`` still, for its ``build``: the annotations of earlier
    versions are Kopf's own, never part of what the user changed."""

    def __init__(self, *, prefix: str) -> None:
        super().__init__(prefix=prefix, key=DIGEST_KEY)
        self._full = UidBoundDiffBaseStorage(prefix=prefix, key=_FULL_KEY)

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        essence = super().build(body=kopf.Body(_slim(body, extra_fields)),
                                extra_fields=extra_fields)
        self.remove_annotations(essence, set(self._full.make_keys(_FULL_KEY, body=body)))
        self.remove_empty_stanzas(essence)
        return essence

    def _stored(self, body: kopf.Body) -> dict[str, Any] | None:
        record = body.status.get(STATUS_FIELD)
        if record is not None:
            return dict(record)
        for full_key in self.make_keys(self.key, body=body):
            encoded = body.metadata.annotations.get(full_key)
            if encoded is not None:
                return cast(dict[str, Any], json.loads(encoded))
        return None

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        stored = self._stored(body)
        if stored is None:  # never handled, or handled by an older version of the operator
            return self._full.fetch(body=body)
        if stored.get("uid") != body.metadata.uid:
            return None  # recorded for another object of this name: this one is new
        current = dict(self.build(body=body))  # a fresh copy already: popped at the top only
        spec = current.pop("spec", None)
        old: dict[str, Any] = current if digest(current) == stored.get("rest") else {}
        if digest(spec) == stored.get("spec"):
            old["spec"] = spec
        else:
            old["spec"] = {"lastHandledDigest": stored.get("spec")}  # differs: an update
        return cast(kopf.BodyEssence, old)

    def store(self, *, body: kopf.Body, patch: kopf.Patch,
              essence: kopf.BodyEssence) -> None:
        rest = dict(essence)  # popped at the top only
        spec = rest.pop("spec", None)
        patch.status[STATUS_FIELD] = {"uid": body.metadata.uid, "spec": digest(spec),
                                      "rest": digest(rest)}
        legacy = [*self.make_keys(self.key, body=body),
                  *self._full.make_keys(_FULL_KEY, body=body)]
        for full_key in legacy:
            if full_key in body.metadata.annotations:
                patch.metadata.annotations[full_key] = None  # an earlier version's: removed
