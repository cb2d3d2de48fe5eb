"""Load the hostile-resource fixtures (tests/fixtures/hostile.yaml)."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "hostile.yaml"


@dataclass(frozen=True)
class HostileCase:
    name: str
    field: str
    spec: dict[str, Any]
    # The API server's own rules (crd.yaml) refuse it: kubectl apply must fail, the operator
    # must never see it. Without the mark either refusal will do.
    at_admission: bool = False


def load_hostile_cases() -> list[HostileCase]:
    data = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    cases = []
    for case in data["cases"]:
        spec = copy.deepcopy(data["base"])
        spec.update(copy.deepcopy(case.get("set", {})))
        for key in case.get("unset", []):
            spec.pop(key)
        cases.append(HostileCase(case["name"], case["field"], spec,
                                 bool(case.get("admission", False))))
    return cases
