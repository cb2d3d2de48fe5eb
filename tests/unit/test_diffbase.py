"""Kopf's diff base as digests: changes are seen exactly where they are, in ~150 bytes."""
from __future__ import annotations

import copy
import json
from typing import Any

import kopf
import pytest
from kopf._cogs.structs import diffs

from dbtable.diffbase import DigestDiffBaseStorage

PREFIX = "kopf.demo"
SPEC = {"tableName": "t", "columns": [{"ID": "integer"}], "primaryKey": "ID"}


def raw(spec: dict[str, Any], labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "kopf.demo/v1", "kind": "DatabaseTable",
            "metadata": {"name": "n", "namespace": "default", "uid": "u",
                         "labels": labels or {}, "annotations": annotations or {}},
            "spec": spec, "status": {"conditions": []}}


def handled(storage: DigestDiffBaseStorage, body: dict[str, Any]) -> dict[str, Any]:
    """The object after Kopf stored the diff base of ``body`` on it."""
    patch = kopf.Patch()
    storage.store(body=kopf.Body(body), patch=patch, essence=storage.build(body=kopf.Body(body)))
    result = copy.deepcopy(body)
    for key, value in patch.get("metadata", {}).get("annotations", {}).items():
        if value is None:
            result["metadata"]["annotations"].pop(key, None)
        else:
            result["metadata"]["annotations"][key] = value
    result.setdefault("status", {}).update(patch.get("status", {}))
    return result


def changed_fields(storage: DigestDiffBaseStorage, body: dict[str, Any]) -> set[tuple[str, ...]]:
    old = storage.fetch(body=kopf.Body(body))
    new = storage.build(body=kopf.Body(body))
    return {tuple(item[1][:1]) for item in diffs.diff(old, new)}


def test_unchanged_object_shows_no_diff() -> None:
    storage = DigestDiffBaseStorage(prefix=PREFIX)
    body = handled(storage, raw(SPEC, labels={"team": "a"}))
    assert changed_fields(storage, body) == set()


def test_spec_change_shows_in_spec_only() -> None:
    storage = DigestDiffBaseStorage(prefix=PREFIX)
    body = handled(storage, raw(SPEC, labels={"team": "a"}))
    body["spec"] = {**SPEC, "columns": [{"ID": "integer"}, {"X": "text"}]}
    assert changed_fields(storage, body) == {("spec",)}


def test_label_change_does_not_show_in_spec() -> None:
    storage = DigestDiffBaseStorage(prefix=PREFIX)
    body = handled(storage, raw(SPEC, labels={"team": "a"}))
    body["metadata"]["labels"] = {"team": "b"}
    assert changed_fields(storage, body) == {("metadata",)}


def test_never_handled_object_has_no_diff_base() -> None:
    storage = DigestDiffBaseStorage(prefix=PREFIX)
    assert storage.fetch(body=kopf.Body(raw(SPEC))) is None


def test_full_copy_written_by_kopfs_storage_is_read_then_replaced() -> None:
    storage = DigestDiffBaseStorage(prefix=PREFIX)
    full = kopf.AnnotationsDiffBaseStorage(prefix=PREFIX)
    body = raw(SPEC)
    patch = kopf.Patch()
    full.store(body=kopf.Body(body), patch=patch, essence=full.build(body=kopf.Body(body)))
    body["metadata"]["annotations"].update(patch["metadata"]["annotations"])
    assert "kopf.demo/last-handled-configuration" in body["metadata"]["annotations"]
    assert changed_fields(storage, body) == set()  # an upgrade is not a change
    body = handled(storage, body)
    assert "kopf.demo/last-handled-configuration" not in body["metadata"]["annotations"]
    assert changed_fields(storage, body) == set()


def test_largest_spec_the_crd_admits_is_stored_in_a_few_bytes() -> None:
    storage = DigestDiffBaseStorage(prefix=PREFIX)
    spec = {"tableName": "t" * 63, "primaryKey": "c" * 63,
            "columns": [{f"c{i:04d}".ljust(63, "x"): "t" * 128} for i in range(1600)]}
    assert len(json.dumps(spec)) > 256 * 1024  # what Kopf's own storage would have copied
    body = handled(storage, raw(spec))
    assert body["metadata"]["annotations"] == {}
    assert len(json.dumps(body["status"]["lastHandled"])) < 200


def test_the_record_goes_in_the_status_patch_only() -> None:
    """Kopf sends metadata and status in two PATCH requests: a record in the status rides
    with the handler's own status, and the object itself is not patched at all."""
    storage = DigestDiffBaseStorage(prefix=PREFIX)
    body = kopf.Body(raw(SPEC, labels={"team": "a"}))
    patch = kopf.Patch()
    storage.store(body=body, patch=patch, essence=storage.build(body=body))
    assert set(patch) == {"status"}
    assert set(patch["status"]["lastHandled"]) == {"uid", "spec", "rest"}


def test_a_digest_annotation_of_an_earlier_version_is_read_then_removed() -> None:
    storage = DigestDiffBaseStorage(prefix=PREFIX)
    record = handled(storage, raw(SPEC))["status"]["lastHandled"]
    body = raw(SPEC, annotations={"kopf.demo/last-handled-digest": json.dumps(record)})
    assert changed_fields(storage, body) == set()  # an upgrade is not a change
    body["spec"] = {**SPEC, "primaryKey": ""}
    assert changed_fields(storage, body) == {("spec",)}
    body = handled(storage, body)
    assert "kopf.demo/last-handled-digest" not in body["metadata"]["annotations"]
    assert changed_fields(storage, body) == set()


def test_record_of_another_uid_is_ignored() -> None:
    """A restored object (same name, new uid, the old annotations) is new to Kopf."""
    storage = DigestDiffBaseStorage(prefix=PREFIX)
    restored = handled(storage, raw(SPEC))
    restored["metadata"]["uid"] = "u2"
    assert storage.fetch(body=kopf.Body(restored)) is None


def full_object(spec: dict[str, Any]) -> dict[str, Any]:
    """An object as the API server sends it: managedFields, a status, kubectl's copy."""
    body = raw(spec, labels={"team": "a"},
               annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}",
                            "kopf.demo/last-handled-digest": "{}", "note": "x",
                            "drift.kopf.demo/checked": "t1"})
    body["metadata"].update(resourceVersion="7", generation=3, finalizers=["f"],
                            managedFields=[{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
                            ownerReferences=[{"kind": "Thing", "name": "o", "uid": "x"}])
    body["status"] = {"columns": [{"name": "id", "type": "integer"}], "conditions": []}
    return body


@pytest.mark.parametrize("extra", [None, [("metadata", "annotations", "drift.kopf.demo/checked")],
                                   ["spec"], [("status", "columns")], ["metadata"]])
def test_the_essence_is_kopfs_own_without_copying_the_rest_of_the_object(extra: Any) -> None:
    """``build`` hands Kopf only what an essence can hold: the same essence as Kopf's own
    storage makes from the whole object (less our earlier annotations)."""
    body = kopf.Body(full_object(SPEC))
    kopfs = kopf.AnnotationsDiffBaseStorage(prefix=PREFIX, key="last-handled-digest")
    ours = DigestDiffBaseStorage(prefix=PREFIX).build(body=body, extra_fields=extra)
    assert ours == kopfs.build(body=body, extra_fields=extra)
