# Thin targets: the logic lives in hack/ and tests/.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest

.PHONY: help venv run test unit integration e2e e2e-cluster image node controlplane clean

help:
	@echo "make run          run the operator (local control plane + PostgreSQL unless configured)"
	@echo "make test         run every test: unit, integration, e2e, faults, then e2e-cluster"
	@echo "make unit | integration | e2e   run one suite"
	@echo "make image        build the operator image (docker, else podman or buildah)"
	@echo "make e2e-cluster  the image as the Deployment's Pod on a local kubelet (needs root)"
	@echo "make node         build (or reuse) kubelet, kube-scheduler, kube-controller-manager"
	@echo "make controlplane build (or reuse) the etcd/kube-apiserver/kubectl binaries"

venv: $(VENV)/.installed

# an existing virtualenv (or a symlink to a shared one) is reused, only brought up to date
$(VENV)/.installed: requirements.txt requirements-test.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

run: venv
	$(PY) -m hack.run

test: venv controlplane
	$(PYTEST) tests --ignore=tests/cluster
	$(MAKE) e2e-cluster

unit: venv
	$(PYTEST) tests/unit

integration: venv
	$(PYTEST) tests/integration

e2e: venv controlplane
	$(PYTEST) tests/e2e

# standard library only, like hack.controlplane: no virtualenv needed
image:
	$(PYTHON) -m hack.image build

controlplane:
	$(PYTHON) -m hack.controlplane build

node:
	$(PYTHON) -m hack.node build

# the in-cluster suite (tests/cluster): the image as the Pod of deploy/deployment.yaml; the
# Go builds happen here, outside the tests' timeouts; the suite builds (or reuses) the image
e2e-cluster: venv controlplane node
	$(PYTEST) tests/cluster

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
