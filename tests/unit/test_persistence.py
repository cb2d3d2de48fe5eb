"""Kopf's last-handled record is bound to the uid it was written for."""
from __future__ import annotations

import json

import kopf

from dbtable.persistence import UidBoundDiffBaseStorage

KEY = "kopf.demo/last-handled-configuration"


def body(uid: str, annotations: dict[str, str] | None = None) -> kopf.Body:
    return kopf.Body({"apiVersion": "kopf.demo/v1", "kind": "DatabaseTable",
                      "metadata": {"name": "t", "namespace": "ns", "uid": uid,
                                   "annotations": annotations or {}},
                      "spec": {"tableName": "t"}})


def stored(storage: UidBoundDiffBaseStorage, original: kopf.Body) -> dict[str, str]:
    patch = kopf.Patch()
    storage.store(body=original, patch=patch, essence=storage.build(body=original))
    return dict(patch["metadata"]["annotations"])


def test_essence_of_the_same_object_is_fetched_as_built() -> None:
    storage = UidBoundDiffBaseStorage(prefix="kopf.demo")
    annotations = stored(storage, body("uid-1"))
    assert json.loads(annotations[KEY])["metadata"]["uid"] == "uid-1"
    again = body("uid-1", annotations)
    assert storage.fetch(body=again) == storage.build(body=again)


def test_essence_recorded_for_another_uid_is_ignored() -> None:
    storage = UidBoundDiffBaseStorage(prefix="kopf.demo")
    restored = body("uid-2", stored(storage, body("uid-1")))
    assert storage.fetch(body=restored) is None


def test_essence_written_before_the_uid_was_recorded_is_trusted() -> None:
    plain = kopf.AnnotationsDiffBaseStorage(prefix="kopf.demo")
    patch = kopf.Patch()
    original = body("uid-1")
    plain.store(body=original, patch=patch, essence=plain.build(body=original))
    storage = UidBoundDiffBaseStorage(prefix="kopf.demo")
    old = body("uid-1", dict(patch["metadata"]["annotations"]))
    assert storage.fetch(body=old) == storage.build(body=old)
