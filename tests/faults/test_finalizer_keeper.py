"""FinalizerKeeper against the real API server when the object changed between the read the
handler was given and the keeper's PATCH: the resourceVersion test makes the API server refuse
the PATCH, and the keeper reads the object again and decides on what it finds.

No operator runs: the test reads the object, changes it with kubectl, then hands the keeper
the version it read, so the refusal and the re-read happen on every run, not by chance. The
keeper talks to the API server as the operator does: Kopf's client, the ServiceAccount's token
(its RBAC has list, not get).
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml
from kopf._cogs.clients import auth  # the vault Kopf's client takes its credentials from
from kopf._cogs.structs import credentials

from dbtable.finalizer import FINALIZER, FinalizerKeeper
from tests.e2e.conftest import SERVICE_ACCOUNT
from tests.faults.conftest import Namespace
from tests.support.k8s import resource

OTHER = "example.com/hold"
SPEC = {"tableName": "kept", "columns": [{"ID": "integer"}], "primaryKey": "ID"}


class Keeper:
    """The operator's keeper, logged in as the operator's ServiceAccount, counting its
    re-reads (a spy over the real method)."""

    def __init__(self, info: kopf.ConnectionInfo, monkeypatch: pytest.MonkeyPatch) -> None:
        self.info, self.reads = info, 0
        read = FinalizerKeeper._read

        async def counted(keeper: FinalizerKeeper, *args: Any) -> Mapping[str, Any] | None:
            self.reads += 1
            return await read(keeper, *args)

        monkeypatch.setattr(FinalizerKeeper, "_read", counted)

    def ensure(self, body: Mapping[str, Any]) -> bool:
        async def run() -> bool:
            vault = credentials.Vault({"test": self.info})
            auth.vault_var.set(vault)
            keeper = FinalizerKeeper(asyncio.get_running_loop(), kopf.OperatorSettings())
            try:
                return await keeper.ensure(body)
            finally:
                await vault.close()  # its sessions, as Kopf closes them when it stops

        return asyncio.run(run())


@pytest.fixture
def keeper(namespace: Namespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Keeper:
    token = namespace.cluster.create_token(namespace.name, SERVICE_ACCOUNT)
    kubeconfig = namespace.cluster.write_token_kubeconfig(tmp_path / "sa.kubeconfig", token,
                                                          namespace.name)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    info = kopf.login_with_kubeconfig(settings=kopf.OperatorSettings(),
                                      logger=logging.getLogger("test-keeper"))
    assert info is not None
    return Keeper(info, monkeypatch)


def create(namespace: Namespace, name: str, finalizers: list[str]) -> dict[str, Any]:
    """The object as a handler would be given it: read right after it was created."""
    document = yaml.safe_load(resource(name, SPEC))
    document["metadata"]["finalizers"] = finalizers
    namespace.apply(yaml.safe_dump(document))
    found = namespace.get(name)
    assert found is not None
    return found


def finalizers(namespace: Namespace, name: str) -> list[str] | None:
    found = namespace.get(name)
    return None if found is None else list(found["metadata"].get("finalizers") or [])


def add_finalizer(namespace: Namespace, name: str, finalizer: str) -> None:
    """Another controller adds its finalizer (a JSON patch, as ours: kept beside any other)."""
    namespace.kubectl("patch", "databasetable", name, "--type=json", "-p", json.dumps(
        [{"op": "add", "path": "/metadata/finalizers", "value": [finalizer]}]))


def test_a_finalizer_added_by_another_controller_meanwhile_is_kept_beside_ours(
        namespace: Namespace, keeper: Keeper) -> None:
    read = create(namespace, "changed", finalizers=[])
    add_finalizer(namespace, "changed", OTHER)

    assert keeper.ensure(read) is True
    assert finalizers(namespace, "changed") == [OTHER, FINALIZER]
    assert keeper.reads == 1  # refused once for the old version, read again, then taken


def test_an_object_being_deleted_meanwhile_gets_no_finalizer(
        namespace: Namespace, keeper: Keeper) -> None:
    read = create(namespace, "deleting", finalizers=[OTHER])  # held, so it stays, deleting
    namespace.kubectl("delete", "databasetable", "deleting", "--wait=false")

    assert keeper.ensure(read) is False
    assert keeper.reads == 1
    assert finalizers(namespace, "deleting") == [OTHER]


def test_an_object_gone_meanwhile_gets_nothing(namespace: Namespace, keeper: Keeper) -> None:
    read = create(namespace, "gone", finalizers=[])
    namespace.kubectl("delete", "databasetable", "gone", "--wait=true")

    assert keeper.ensure(read) is False
    assert keeper.reads == 0  # the PATCH found nothing to patch (404): nothing to read again
    assert finalizers(namespace, "gone") is None
