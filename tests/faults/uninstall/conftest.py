"""The uninstall test gets a control plane of its own: it deletes the CRD, which the rest of
the session needs, and a DatabaseTable left over by another test (whose operator is gone)
would hold the CRD's deletion forever. It serves ``default``, as the README's commands do."""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from hack.crd_wait import wait_established
from tests.e2e.conftest import Namespace
from tests.support.k8s import ROOT, namespaced_rbac


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    if os.environ.get("DBT_E2E_KUBECONFIG") or os.environ.get("DBT_E2E_USE_KUBECONFIG") == "1" \
            or os.environ.get("DBT_E2E_KIND") == "1":
        pytest.skip("deletes the CRD and what `kubectl apply -k .` installs: local control "
                    "plane only")
    from hack.controlplane import ControlPlane

    with ControlPlane() as plane:
        yield plane


@pytest.fixture(scope="module")
def crd(cluster: Any) -> None:
    cluster.kubectl_run("apply", "-k", str(ROOT))  # the README's install: CRD, RBAC, operator
    wait_established(cluster.kubectl_run)


@pytest.fixture
def namespace(cluster: Any, crd: None) -> Namespace:
    cluster.kubectl_run("apply", "-f", "-", input=namespaced_rbac("default"))
    return Namespace("default", cluster)
