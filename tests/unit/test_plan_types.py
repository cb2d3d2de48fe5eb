"""The planner's type comparison: by the server's identity (oid, typmod) when it has one."""
from __future__ import annotations

import dataclasses

from dbtable.model import ActualColumn, ActualTable, DesiredTable, Owner, TypeIdentity
from dbtable.plan import Plan, RefusalReason, plan_reconcile
from dbtable.spec import parse_spec

OWNER = Owner("default", "typed", "uid-1")
INT4_ARRAY, MOOD_A, MOOD_B, GEOMETRY, VARCHAR = 1007, 16390, 16400, 17000, 1043


def desired(column_type: str, identity: TypeIdentity | None = None,
            unresolved: str | None = None) -> DesiredTable:
    spec = parse_spec({"tableName": "typed", "primaryKey": "ID",
                       "columns": [{"ID": "integer"}, {"VALUE": column_type}]})
    key, value = spec.columns
    key = dataclasses.replace(key, resolved=TypeIdentity(23))
    value = dataclasses.replace(value, resolved=identity, unresolved=unresolved)
    return dataclasses.replace(spec, columns=(key, value))


def actual(printed: str, identity: TypeIdentity | None) -> ActualTable:
    return ActualTable(schema="public", name="typed",
                       columns=(ActualColumn("id", "integer", TypeIdentity(23)),
                                ActualColumn("value", printed, identity)),
                       primary_key=("id",), primary_key_constraint="typed_pkey", owner=OWNER)


def plan(spec: DesiredTable, table: ActualTable) -> Plan:
    return plan_reconcile(spec, OWNER, table, None)


def test_internal_array_name_is_the_same_type_as_its_column() -> None:
    assert plan(desired("_int4", TypeIdentity(INT4_ARRAY)),
                actual("integer[]", TypeIdentity(INT4_ARRAY))) == Plan()


def test_same_printed_name_of_another_schemas_type_is_a_changed_type() -> None:
    result = plan(desired("other.mood", TypeIdentity(MOOD_B)), actual("mood", TypeIdentity(MOOD_A)))
    (refusal,) = result.refusals
    assert (refusal.reason, refusal.field) == (RefusalReason.TYPE_CHANGED, "spec.columns.value")
    assert refusal.message.endswith("set it back to mood")


def test_user_defined_modifiers_compare_by_typmod() -> None:
    same = plan(desired("geometry(Point,4326)", TypeIdentity(GEOMETRY, 1107460)),
                actual("geometry(Point,4326)", TypeIdentity(GEOMETRY, 1107460)))
    assert same == Plan()
    other = plan(desired("geometry(Point,3857)", TypeIdentity(GEOMETRY, 1074692)),
                 actual("geometry(Point,4326)", TypeIdentity(GEOMETRY, 1107460)))
    assert [r.reason for r in other.refusals] == [RefusalReason.TYPE_CHANGED]


def test_builtin_modifiers_compare_by_format_types_spelling() -> None:
    assert plan(desired("varchar(50)", TypeIdentity(VARCHAR)),
                actual("character varying(50)", TypeIdentity(VARCHAR, 54))) == Plan()
    shorter = plan(desired("varchar(49)", TypeIdentity(VARCHAR)),
                   actual("character varying(50)", TypeIdentity(VARCHAR, 54)))
    assert [r.reason for r in shorter.refusals] == [RefusalReason.TYPE_CHANGED]
    longer = plan(desired("varchar(51)", TypeIdentity(VARCHAR)),
                  actual("character varying(50)", TypeIdentity(VARCHAR, 54)))
    assert [type(op).__name__ for op in longer.operations] == ["WidenColumnType"]


def test_builtin_of_another_oid_is_a_changed_type_whatever_it_prints() -> None:
    # e.g. a "text" type earlier on the search_path than pg_catalog's
    result = plan(desired("text", TypeIdentity(25)), actual("text", TypeIdentity(99999)))
    assert [r.reason for r in result.refusals] == [RefusalReason.TYPE_CHANGED]


def test_type_the_server_cannot_make_is_refused_on_its_column_before_anything() -> None:
    spec = desired("nosuch", unresolved="type nosuch does not exist")
    for result in (plan_reconcile(spec, OWNER, None, None), plan(spec, actual("text", None))):
        assert result.operations == ()
        (refusal,) = result.refusals
        assert (refusal.reason, refusal.field) == (RefusalReason.INVALID_SPEC,
                                                   "spec.columns.value")
        assert refusal.message == "column type nosuch: type nosuch does not exist"


def test_without_a_server_the_grammars_spelling_decides() -> None:
    # The plan command offline: neither side has an identity.
    assert plan(desired("varchar(50)"), actual("character varying(50)", None)) == Plan()
    changed = plan(desired("varchar(40)"), actual("character varying(50)", None))
    assert [r.reason for r in changed.refusals] == [RefusalReason.TYPE_CHANGED]
