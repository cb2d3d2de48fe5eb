"""Every hostile or malformed spec is refused by the parser with an error naming its field."""
from __future__ import annotations

import pytest

from dbtable.errors import InvalidSpec
from dbtable.spec import parse_spec
from tests.support.hostile import load_hostile_cases

CASES = load_hostile_cases()


def test_the_adversarial_set_is_large() -> None:
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_spec_is_refused_naming_its_field(case) -> None:
    with pytest.raises(InvalidSpec) as raised:
        parse_spec(case.spec)
    fields = [e.field for e in raised.value.errors]
    assert any(f == case.field or f.startswith(case.field + "[") or f.startswith(case.field + ".")
               for f in fields), f"{case.name}: errors name {fields}, expected {case.field}"
    assert all(e.message for e in raised.value.errors)
