"""How the operator reads its credentials outside a Pod (dbtable.login.credentials),
with requirements.txt installed as on a laptop: the kubernetes client reads the kubeconfig,
exec plugins included (cloud clusters). The image leaves the client out; that path is
tests/e2e/test_install.py's test_the_operator_logs_in_without_the_kubernetes_client. Each case
runs in a fresh interpreter; the exec plugin is a real one, a script the client runs.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.support.k8s import ROOT

PROBE = """
import dbtable.login as op
import kopf, logging
info = op.credentials(logger=logging.getLogger("t"), settings=kopf.OperatorSettings())
print(info.token or "-", info.certificate_path or "-")
"""


def _kubeconfig(tmp_path: Path, user: dict) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:6443",
                                               "insecure-skip-tls-verify": True}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "users": [{"name": "u", "user": user}]}))
    return path


def _probe(kubeconfig: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_SERVICE")}
    env.update(KUBECONFIG=str(kubeconfig), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_certificate_kubeconfig(tmp_path: Path) -> None:
    cert, key = tmp_path / "client.crt", tmp_path / "client.key"
    cert.write_text("cert")
    key.write_text("key")
    user = {"client-certificate": str(cert), "client-key": str(key)}
    assert _probe(_kubeconfig(tmp_path, user)) == ["-", str(cert)]


def test_a_token_kubeconfig(tmp_path: Path) -> None:
    assert _probe(_kubeconfig(tmp_path, {"token": "t0ken"})) == ["t0ken", "-"]


def test_an_exec_plugin_kubeconfig_logs_in_through_the_kubernetes_client(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin"
    plugin.write_text("#!/bin/sh\necho '" + json.dumps({
        "apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
        "status": {"token": "from-the-plugin"}}) + "'\n")
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin),
                     "interactiveMode": "Never"}}
    assert _probe(_kubeconfig(tmp_path, user)) == ["from-the-plugin", "-"]
