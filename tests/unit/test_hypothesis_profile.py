"""CI's property tests draw the same examples on every run; local runs keep searching at random."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Loads the suite's profiles the way pytest does (tests/conftest.py), then prints the
# examples a property test is given.
_DRAW = """
import tests.conftest
from hypothesis import given, settings, strategies as st

seen = []

@settings(max_examples=30)
@given(st.text(min_size=1))
def record(text):
    seen.append(text)

record()
print(ascii(seen))
"""


def drawn_examples(ci: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    result = subprocess.run([sys.executable, "-c", _DRAW], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120, check=True)
    return result.stdout


def test_ci_runs_draw_the_same_examples_every_time() -> None:
    assert drawn_examples(ci=True) == drawn_examples(ci=True)


def test_local_runs_keep_the_random_search() -> None:
    assert drawn_examples(ci=False) != drawn_examples(ci=False)
