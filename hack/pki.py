"""Certificates and kubeconfigs for the local control plane (hack/controlplane.py).

Apart from the processes because it is a different concern: files made with ``openssl`` and
text, no server involved. ``ControlPlane`` calls these when it starts (a CA, the API server's
serving certificate, an admin client certificate, the ServiceAccount signing keys) and for the
kubeconfigs it hands out. ``ControlPlaneError`` lives here so that this module needs nothing
from hack/controlplane.py, which imports it from here (``hack.controlplane.ControlPlaneError``
is the same class).
"""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
from pathlib import Path

# P-256 for the TLS certificates: a tenth of RSA's key generation time (which was a quarter of
# start()); the service-account signing key stays RSA
_EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")


class ControlPlaneError(RuntimeError):
    """The control plane could not be started (message has the process logs' tail)."""


def _openssl(*args: str, cwd: Path) -> None:
    if shutil.which("openssl") is None:
        raise ControlPlaneError("the 'openssl' command is needed to make certificates: install "
                                "it (Debian/Ubuntu: apt-get install openssl)")
    res = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        raise ControlPlaneError(f"openssl {' '.join(args)} failed:\n{res.stderr}")


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def make_pki(pki: Path) -> None:
    """A CA, a serving cert for 127.0.0.1, an admin client cert and the SA signing keys."""
    pki.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", *_EC_KEY, "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-days", "3650", "-subj", "/CN=dbt-local-ca", cwd=pki)
    _sign(pki, "serving", "/CN=kube-apiserver",
          "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes.default.svc\n"
          "extendedKeyUsage=serverAuth\n")
    # group system:masters: bound to cluster-admin by RBAC's bootstrap policy
    _sign(pki, "admin", "/O=system:masters/CN=admin", "extendedKeyUsage=clientAuth\n")
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key", cwd=pki)
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


def _sign(pki: Path, name: str, subject: str, extensions: str) -> None:
    ext = pki / f"{name}.ext"
    ext.write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n" + extensions)
    _openssl("req", "-new", *_EC_KEY, "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", subject, cwd=pki)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "365", "-extfile", ext.name, "-out", f"{name}.crt", cwd=pki)


def admin_ssl_context(pki: Path, ca_file: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca_file))
    ctx.load_cert_chain(pki / "admin.crt", pki / "admin.key")
    return ctx


def write_kubeconfig(path: Path, server: str, ca_file: Path, user: dict[str, str],
                     namespace: str = "default") -> Path:
    """A self-contained kubeconfig (CA and credentials embedded), context namespace set."""
    creds = "".join(f"    {k}: {v}\n" for k, v in user.items())
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: local\n  cluster:\n    server: {server}\n"
        f"    certificate-authority-data: {b64(ca_file)}\n"
        f"users:\n- name: user\n  user:\n{creds}"
        f"contexts:\n- name: local\n  context:\n    cluster: local\n    user: user\n"
        f"    namespace: {namespace}\ncurrent-context: local\n")
    path.chmod(0o600)
    return path
