"""The pure part of putting our finalizer on before any DDL: what to do with a version of the
object, and the JSON patch that adds the finalizer to exactly that version."""
from __future__ import annotations

from typing import Any

import pytest

from dbtable.finalizer import (FINALIZER, Presence, add_operations, deleted_unreleased, is_held,
                              presence)

OTHER = "example.com/hold"


def obj(finalizers: list[str] | None = None, deleting: bool = False,
        version: str = "17") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "alpha", "namespace": "ns", "resourceVersion": version}
    if finalizers is not None:
        metadata["finalizers"] = finalizers
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-27T10:00:00Z"
    return {"metadata": metadata}


@pytest.mark.parametrize(("body", "expected"), [
    (obj(), Presence.ADD),
    (obj([]), Presence.ADD),
    (obj([OTHER]), Presence.ADD),
    (obj([FINALIZER]), Presence.HELD),
    (obj([OTHER, FINALIZER]), Presence.HELD),
    # Being deleted: nothing new is created; one that holds ours from before is cleaned up.
    (obj([OTHER], deleting=True), Presence.RELEASED),
    (obj(deleting=True), Presence.RELEASED),
    (obj([FINALIZER], deleting=True), Presence.HELD),
    (None, Presence.RELEASED),
])
def test_presence(body: dict[str, Any] | None, expected: Presence) -> None:
    assert presence(body) is expected


def test_the_delete_handler_filter_is_true_only_with_our_finalizer() -> None:
    assert is_held(obj([OTHER, FINALIZER]), extra="ignored")
    assert not is_held(obj([OTHER]))
    assert not is_held(obj())
    assert not is_held({})


def test_the_patch_appends_to_a_list_of_other_controllers_and_tests_the_version() -> None:
    assert add_operations(obj([OTHER], version="42")) == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
        {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER}]


def test_the_patch_makes_the_list_when_there_is_none() -> None:
    for body in (obj(version="5"), obj([], version="5")):
        assert add_operations(body) == [
            {"op": "test", "path": "/metadata/resourceVersion", "value": "5"},
            {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]}]


def test_only_a_deletion_that_skipped_our_cleanup_is_caught_on_the_watch() -> None:
    # Removed by the API server while still listing ours, never marked for deletion.
    assert deleted_unreleased(type="DELETED", body=obj([FINALIZER]))
    # A graceful deletion (our cleanup ran, or runs on the MODIFIED events before it).
    assert not deleted_unreleased(type="DELETED", body=obj([FINALIZER], deleting=True))
    # Our finalizer removed by hand (the table left as it is), or never added.
    assert not deleted_unreleased(type="DELETED", body=obj([OTHER]))
    assert not deleted_unreleased(type="DELETED", body=obj())
    # The object still lives.
    assert not deleted_unreleased(type="MODIFIED", body=obj([FINALIZER]))
    assert not deleted_unreleased(type="ADDED", body=obj([FINALIZER]))
