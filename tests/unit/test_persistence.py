"""Kopf's last-handled record is bound to the uid it was written for; the storages form
Kopf's annotation keys once."""
from __future__ import annotations

import json

import kopf
import pytest

from dbtable.diffbase import DigestDiffBaseStorage
from dbtable.persistence import ProgressAnnotations, UidBoundDiffBaseStorage

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


# Short keys, a handler id Kopf cuts and hashes (over 63 characters), and characters it
# replaces in annotation keys.
KEYS = ["reconcile", "drift", "last-handled-digest", "reconcile/sub" + "x" * 70, "a<b>c"]
STORAGES = [(ProgressAnnotations, kopf.AnnotationsProgressStorage),
            (UidBoundDiffBaseStorage, kopf.AnnotationsDiffBaseStorage),
            (DigestDiffBaseStorage, kopf.AnnotationsDiffBaseStorage)]


@pytest.mark.parametrize("ours, kopfs", STORAGES, ids=lambda c: c.__name__)
def test_keys_are_formed_once_and_as_kopf_forms_them_for_a_databasetable(ours, kopfs) -> None:
    storage, reference = ours(prefix="kopf.demo"), kopfs(prefix="kopf.demo")
    for key in KEYS:
        first = storage.make_keys(key, body=body("uid-1"))
        assert list(first) == list(reference.make_keys(key, body=body("uid-1")))
        assert storage.make_keys(key, body=body("uid-2")) is first  # formed once


def test_the_progress_of_a_handler_is_read_and_purged_under_kopfs_keys() -> None:
    storage, reference = ProgressAnnotations(prefix="kopf.demo"), \
        kopf.AnnotationsProgressStorage(prefix="kopf.demo")
    patch = kopf.Patch()
    reference.store(key="reconcile", record={"retries": 1}, body=body("uid-1"), patch=patch)
    written = body("uid-1", dict(patch["metadata"]["annotations"]))
    assert storage.fetch(key="reconcile", body=written) == {"retries": 1}
    purge = kopf.Patch()
    storage.purge(key="reconcile", body=written, patch=purge)
    assert purge["metadata"]["annotations"] == {k: None for k in patch["metadata"]["annotations"]
                                                if k.endswith("reconcile")}
