"""The compact form the drift index keeps each spec in: it must decode to exactly the spec the
watch delivered, for every spec, so the sweep compares what the user asked for."""
from __future__ import annotations

import json
import sys
from typing import Any

import kopf
import pytest
from hypothesis import given, strategies as st

from dbtable.compact_spec import decode_spec, encode_spec
from dbtable.drift import ReadyCondition, subject_from
from dbtable.spec import parse_spec
from tests.support.hostile import load_hostile_cases
from tests.support.seed import seed_spec

HOSTILE = load_hostile_cases()
# What JSON can carry, as the API server may deliver it (json.loads of the watch's text).
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30)


def exactly(value: Any) -> Any:
    """A value with its types spelled out (1 == 1.0 == True in Python, not in a spec)."""
    if isinstance(value, dict):
        return ("dict", [(k, exactly(v)) for k, v in value.items()])  # key order included
    if isinstance(value, list):
        return ("list", [exactly(v) for v in value])
    if isinstance(value, float):
        return ("float", value.hex())  # -0.0 and 0.0 differ
    return (type(value).__name__, value)


@pytest.mark.parametrize("case", HOSTILE, ids=[c.name for c in HOSTILE])
def test_every_hostile_spec_decodes_to_exactly_itself(case: Any) -> None:
    assert exactly(decode_spec(encode_spec(case.spec))) == exactly(case.spec)


@given(st.dictionaries(st.text(), JSON, max_size=6))
def test_any_json_object_decodes_to_exactly_itself(spec: dict[str, Any]) -> None:
    delivered = json.loads(json.dumps(spec))  # as the watch would deliver it
    assert exactly(decode_spec(encode_spec(delivered))) == exactly(delivered)


def test_what_json_escapes_decodes_to_itself() -> None:
    spec = {"tableName": "usérs\u0000\n\"\\", "lone": "\ud800", "ѕ": -0.0, "big": 2 ** 70,
            "tiny": 5e-324, "b": [True, False, None], "z": 1, "a": 1.0}
    delivered = json.loads(json.dumps(spec))
    assert exactly(decode_spec(encode_spec(delivered))) == exactly(delivered)
    assert encode_spec(delivered).isascii()  # one byte per character, whatever the spec holds


def test_kopfs_views_of_a_body_encode_as_their_content() -> None:
    raw = {"metadata": {"name": "users"}, "spec": seed_spec()}
    body = kopf.Body(raw)
    assert decode_spec(encode_spec(body.spec)) == seed_spec()


def test_a_decoded_spec_is_a_fresh_copy() -> None:
    text = encode_spec(seed_spec())
    first = decode_spec(text)
    first["columns"].append({"X": "text"})
    assert decode_spec(text) == seed_spec()


def test_equal_specs_encode_to_equal_bytes_and_different_ones_do_not() -> None:
    assert encode_spec(seed_spec()) == encode_spec(seed_spec())
    assert encode_spec(seed_spec()) != encode_spec({**seed_spec(), "tableName": "OTHER"})


def test_not_an_object_is_refused_on_decoding() -> None:
    with pytest.raises(ValueError):
        decode_spec(b"[1]")


def test_the_sweep_parses_the_same_table_from_the_subject_as_from_the_body() -> None:
    body = {"metadata": {"namespace": "ns", "name": "users", "uid": "u", "generation": 1},
            "spec": seed_spec()}
    assert parse_spec(subject_from(body, pending=False).spec) == parse_spec(seed_spec())


def test_a_subject_is_a_fraction_of_the_body_it_was_made_from() -> None:
    """The point of the compact form (issue 10): about 0.2 KB of spec, no per-object dict."""
    body = json.loads(json.dumps({"metadata": {"namespace": "ns", "name": "users", "uid": "u"},
                                  "spec": seed_spec()}))
    subject = subject_from(body, pending=False)
    assert not hasattr(subject, "__dict__")
    assert sys.getsizeof(subject.spec_json) < 300


def test_namespace_and_condition_words_are_shared_between_subjects() -> None:
    def body(name: str) -> dict[str, Any]:
        return json.loads(json.dumps({
            "metadata": {"namespace": "team-a", "name": name, "uid": name, "generation": 1},
            "spec": seed_spec(), "status": {"conditions": [
                {"type": "Ready", "status": "False", "reason": "Conflict", "message": name,
                 "observedGeneration": 1}]}}))

    one, two = subject_from(body("one"), False), subject_from(body("two"), False)
    assert one.namespace is two.namespace
    assert isinstance(one.ready, ReadyCondition) and isinstance(two.ready, ReadyCondition)
    assert one.ready.reason is two.ready.reason and one.ready.status is two.ready.status
    assert (one.ready.message, two.ready.message) == ("one", "two")  # a refusal's is kept
