"""The operator's login to the API server (an edge: Kopf and the Kubernetes credentials).

The login handler in database_table_operator.py delegates here: the credentials found as Kopf
or the kubernetes client finds them, then Kopf's session with a bounded pool of connections
(dbtable/apisession.py).
"""
from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
from typing import Any

import kopf

from dbtable.apisession import in_cluster_server, limit_from_env, limited_session


async def login_session(**kwargs: Any) -> kopf.AiohttpSession | None:
    """Kopf's session made from the credentials, with at most DBT_API_CONNECTIONS connections
    (Kopf's own has no limit). On the operator's loop, so the session binds to it; reading the
    credentials (files, perhaps an exec plugin) runs in a thread."""
    loop = asyncio.get_running_loop()
    info = await loop.run_in_executor(None, functools.partial(credentials, **kwargs))
    # Kopf logs in only once the startup handlers are done: configure() has checked the limit.
    return limited_session(info, limit_from_env()) if info is not None else None


def credentials(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In a Pod, its ServiceAccount; elsewhere the kubeconfig (KUBECONFIG or ~/.kube/config).

    Kopf reads both itself. The kubernetes client, when installed (it is not in the image: it
    and what it imports cost the operator about 15 MB), reads the kubeconfig instead, for what
    only it can do: exec plugins and auth providers (cloud clusters' kubeconfigs).
    """
    info = kopf.login_with_service_account(**kwargs)
    if info is not None:
        # Kopf names the API server kubernetes.default.svc, which needs the cluster's DNS;
        # like client-go, take the address the kubelet puts in the environment instead.
        server = in_cluster_server(os.environ.get("KUBERNETES_SERVICE_HOST"),
                                   os.environ.get("KUBERNETES_SERVICE_PORT"))
        return dataclasses.replace(info, server=server) if server else info
    try:
        import kubernetes  # noqa: F401  (optional)
    except ImportError:
        return kopf.login_with_kubeconfig(**kwargs)
    return kopf.login_via_client(**kwargs)
