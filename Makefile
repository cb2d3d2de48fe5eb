# Thin targets: the logic lives in hack/ and tests/.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest

.PHONY: help venv run test unit integration e2e image controlplane clean

help:
	@echo "make run          run the operator (local control plane + PostgreSQL unless configured)"
	@echo "make test         run every test: unit, integration, e2e"
	@echo "make unit | integration | e2e   run one suite"
	@echo "make image        build the operator image (docker, else podman or buildah)"
	@echo "make controlplane build (or reuse) the etcd/kube-apiserver/kubectl binaries"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

run: venv
	$(PY) -m hack.run

test: venv controlplane
	$(PYTEST) tests

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

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
