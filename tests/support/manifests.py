"""The repository's manifests as data, for the tests that check them without a cluster
(tests/unit/test_manifests_*.py, test_cluster_wide_manifests.py): loaders and module-scoped
fixtures (a test module imports the fixtures it uses by name)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]



def load_all(name: str) -> list[dict[str, Any]]:
    with open(ROOT / name, encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def load_one(name: str) -> dict[str, Any]:
    (doc,) = load_all(name)
    return doc


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    return load_one("crd.yaml")


@pytest.fixture(scope="module")
def version(crd: dict[str, Any]) -> dict[str, Any]:
    (v1,) = crd["spec"]["versions"]
    return v1


@pytest.fixture(scope="module")
def spec_schema(version: dict[str, Any]) -> dict[str, Any]:
    return version["schema"]["openAPIV3Schema"]["properties"]["spec"]


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    return load_one("example-cr.yaml")


@pytest.fixture(scope="module")
def rbac() -> list[dict[str, Any]]:
    return load_all("service-account.yaml")


@pytest.fixture(scope="module")
def deployment() -> dict[str, Any]:
    return load_one("deploy/deployment.yaml")


def rule_set(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(group, resource, verb) for rule in rules for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines  # type: ignore[misc]
            if line and not line.startswith("#")]
