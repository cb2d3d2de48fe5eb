# The operator image. Build it where the cluster can use it without a registry, e.g.
#   minikube image build -t database-table-operator:latest .
# or `make image` (docker, else podman or buildah; see README "Container image"),
# then `kubectl apply -k .` (deploy/deployment.yaml uses imagePullPolicy: IfNotPresent).

# Builder: install the pinned requirements into a virtualenv, so the runtime stage copies one
# directory and carries no pip cache or build leftovers.
FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
# All of requirements.txt but the kubernetes client: in a Pod, Kopf reads the ServiceAccount
# itself and needs no client, yet Kopf imports the client whenever it is installed (about 15 MB
# of the operator's memory). On a laptop the client reads any kubeconfig (exec plugins too).
COPY requirements.txt /tmp/requirements.txt
RUN grep -v '^kubernetes==' /tmp/requirements.txt > /tmp/image-requirements.txt \
    && /opt/venv/bin/pip install --no-compile -r /tmp/image-requirements.txt

# Runtime: same base image, so the virtualenv's interpreter symlink stays valid.
FROM python:3.11-slim
ENV WATCH_NAMESPACE=default PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PATH=/opt/venv/bin:$PATH

# A non-root user and group with a fixed id, so the Deployment can require runAsNonRoot and
# name the same uid/gid in its securityContext. Not named "operator": Debian's base-passwd
# already has a group of that name (gid 37), so `groupadd operator` fails on every Debian-based
# image, python:3.11-slim included. No home directory: the root filesystem is read-only anyway.
RUN groupadd --gid 1000 dbtable \
    && useradd --uid 1000 --gid 1000 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin --no-log-init dbtable

COPY --from=builder /opt/venv /opt/venv
COPY database_table_operator.py /src/database_table_operator.py
COPY dbtable/ /src/dbtable/
WORKDIR /src

USER 1000:1000
# Kopf's liveness endpoint (deploy/deployment.yaml probes it).
EXPOSE 8080

# Shell form, so ${WATCH_NAMESPACE} expands; `exec` makes kopf PID 1 and lets it receive
# SIGTERM for a clean shutdown. Standalone: one replica, no peering objects (see RBAC).
# WATCH_NAMESPACE names the one namespace served; "*" or empty serves every namespace with one
# cluster-wide watch (--all-namespaces: deploy/cluster-wide has its RBAC). Quoted, so "*" is
# never expanded by the shell. One line: the tests and benchmarks run this CMD as it is.
CMD case "$WATCH_NAMESPACE" in ""|"*") set -- --all-namespaces ;; *) set -- "--namespace=$WATCH_NAMESPACE" ;; esac; exec kopf run --standalone "$@" --liveness=http://0.0.0.0:8080/healthz /src/database_table_operator.py
