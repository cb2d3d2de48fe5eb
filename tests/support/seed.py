"""The seed's example resource, read from example-cr.yaml so every suite tests the real file."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "example-cr.yaml"


def seed_spec() -> dict[str, Any]:
    """A fresh copy of example-cr.yaml's spec (callers may change it)."""
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))["spec"]
