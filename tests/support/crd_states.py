"""crd.yaml as the API server returns it while it establishes the CRD, for the tests of
hack/crd_wait.py (tests/unit/test_crd_wait.py with a fake kubectl, tests/faults/test_crd_wait.py
with the real one)."""
from __future__ import annotations

import copy
from typing import Any

from tests.support.manifests import load_all

# the status the API server gives a CRD first: conditions null (seen in a failed benchmark)
FIRST_STATUS = {"acceptedNames": {"kind": "", "plural": ""}, "conditions": None,
                "storedVersions": ["v1"]}


def crd_states() -> list[dict[str, Any]]:
    """The CRD just stored (no status), then with its first status (null conditions), then
    Established False, then Established True."""
    [stored] = load_all("crd.yaml")
    accepted = {**FIRST_STATUS, "conditions": [
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
        {"type": "Established", "status": "False", "reason": "Installing"}]}
    established = copy.deepcopy(accepted)
    established["conditions"][1].update(status="True", reason="InitialNamesAccepted")
    return [stored] + [{**stored, "status": s} for s in (FIRST_STATUS, accepted, established)]
