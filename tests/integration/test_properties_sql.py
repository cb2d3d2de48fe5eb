"""Property-based tests (hypothesis) of the rendered SQL: every statement re-parses (pglast:
PostgreSQL's own parser, GPL, tests only) into exactly one statement of the intended kind,
carrying exactly the intended names; and the plan command, offline, prints exactly those.
"""
from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from typing import Any

import pglast
import pytest
import yaml
from hypothesis import Phase, assume, given, settings, strategies as st
from pglast import ast
from pglast.enums import AlterTableType, ConstrType, DropBehavior, ObjectType

from dbtable.model import ActualColumn, ActualTable, DeletionPolicy, DesiredTable, Owner
from dbtable.plan import (AddColumn, AddPrimaryKey, CreateTable, DropPrimaryKey, DropTable,
                          MarkOwned, Operation, RenameTable, Unmark, plan_delete,
                          plan_reconcile)
from dbtable.render import render, to_text
from dbtable.spec import parse_spec
from tests.support.k8s import ROOT
from tests.support.parsed_sql import assert_plain_column, strings
from tests.support.spec_strategies import BASE, identifiers, specs

pytestmark = pytest.mark.integration

# Any text PostgreSQL can hold in a name (no NUL, at most 63 bytes): the schema comes from the
# operator's settings and constraint names from the catalog, not from the validated spec.
catalog_names = st.text(st.characters(exclude_characters="\0", exclude_categories=("Cs",)),
                        min_size=1, max_size=20).filter(lambda s: len(s.encode()) <= 63)
owners = st.builds(Owner, namespace=st.text(), name=st.text(), uid=st.text())


def assert_relation(relation: ast.RangeVar, schema: str, table: str) -> None:
    assert (relation.catalogname, relation.schemaname, relation.relname) == (None, schema, table)
    assert relation.relpersistence == "p" and relation.alias is None


def assert_primary_key(constraint: Any, columns: tuple[str, ...]) -> None:
    assert isinstance(constraint, ast.Constraint)
    assert constraint.contype == ConstrType.CONSTR_PRIMARY
    assert strings(constraint.keys) == columns
    assert constraint.conname is None and constraint.indexname is None
    assert constraint.options is None and constraint.including is None


def only_command(statement: Any, schema: str, table: str) -> ast.AlterTableCmd:
    assert isinstance(statement, ast.AlterTableStmt)
    assert statement.objtype == ObjectType.OBJECT_TABLE and not statement.missing_ok
    assert_relation(statement.relation, schema, table)
    (command,) = statement.cmds
    assert command.behavior == DropBehavior.DROP_RESTRICT and not command.missing_ok
    return command


def assert_parses_as_intended(op: Operation, text: str, schema: str) -> None:
    (raw,) = pglast.parse_sql(text)
    statement = raw.stmt
    if isinstance(op, CreateTable):
        assert isinstance(statement, ast.CreateStmt)
        assert_relation(statement.relation, schema, op.table)
        assert not statement.if_not_exists
        assert statement.inhRelations is None and statement.ofTypename is None
        assert statement.options is None and statement.tablespacename is None
        assert statement.partspec is None and statement.constraints is None
        *columns, key = statement.tableElts
        assert len(columns) == len(op.columns)
        for column, wanted in zip(columns, op.columns):
            assert_plain_column(column, wanted.name, wanted.type)
        assert_primary_key(key, op.primary_key)
    elif isinstance(op, RenameTable):
        assert isinstance(statement, ast.RenameStmt)
        assert statement.renameType == ObjectType.OBJECT_TABLE and statement.subname is None
        assert_relation(statement.relation, schema, op.table)
        assert statement.newname == op.new_name
    elif isinstance(op, AddColumn):
        command = only_command(statement, schema, op.table)
        assert command.subtype == AlterTableType.AT_AddColumn
        assert_plain_column(command.def_, op.column.name, op.column.type)
    elif isinstance(op, DropPrimaryKey):
        command = only_command(statement, schema, op.table)
        assert command.subtype == AlterTableType.AT_DropConstraint
        assert command.name == op.constraint
    elif isinstance(op, AddPrimaryKey):
        command = only_command(statement, schema, op.table)
        assert command.subtype == AlterTableType.AT_AddConstraint
        assert_primary_key(command.def_, op.columns)
    elif isinstance(op, (MarkOwned, Unmark)):
        assert isinstance(statement, ast.CommentStmt)
        assert statement.objtype == ObjectType.OBJECT_TABLE
        assert strings(statement.object) == (schema, op.table)
        assert statement.comment == (op.comment() if isinstance(op, MarkOwned) else op.keep)
    elif isinstance(op, DropTable):
        assert isinstance(statement, ast.DropStmt)
        assert statement.removeType == ObjectType.OBJECT_TABLE
        assert statement.behavior == DropBehavior.DROP_RESTRICT and not statement.missing_ok
        assert tuple(strings(o) for o in statement.objects) == ((schema, op.table),)
    else:
        raise AssertionError(f"no expectation for {type(op).__name__}")


@st.composite
def actual_tables(draw: st.DrawFn, desired: DesiredTable, owner: Owner | None,
                  renamed: bool = True) -> ActualTable:
    """A table the spec can converge from: a prefix of its columns, maybe another name and key."""
    count = draw(st.integers(1, len(desired.columns)))
    columns = tuple(ActualColumn(c.name, c.type.canonical) for c in desired.columns[:count])
    key = tuple(draw(st.lists(st.sampled_from([c.name for c in columns]), max_size=3,
                              unique=True)))
    name = draw(identifiers.map(str.lower)) if renamed and draw(st.booleans()) else desired.name
    return ActualTable(schema="ignored", name=name, columns=columns, primary_key=key,
                       primary_key_constraint=draw(catalog_names) if key else None,
                       owner=owner)


@settings(max_examples=200, deadline=None)
@given(spec=specs(), schema=catalog_names, owner=owners, data=st.data())
def test_rendered_sql_reparses_into_exactly_the_intended_statements(
        db: Any, spec: dict[str, Any], schema: str, owner: Owner, data: st.DataObject) -> None:
    desired = parse_spec(spec)
    scenario = data.draw(st.sampled_from(("create", "converge", "adopt", "delete")),
                         label="scenario")
    if scenario == "create":
        plan = plan_reconcile(desired, owner, None, None)
    elif scenario == "converge":
        plan = plan_reconcile(desired, owner, data.draw(actual_tables(desired, owner)), None)
    elif scenario == "adopt":
        # A consent names "namespace/name"; Kubernetes names never hold a '/'.
        assume("/" not in owner.namespace + owner.name)
        occupant = dataclasses.replace(data.draw(actual_tables(desired, None, renamed=False)),
                                       comment=owner.consent())  # a database owner consented
        plan = plan_reconcile(DesiredTable(desired.name, desired.columns, desired.primary_key,
                                           adopt_existing=True), owner, None, occupant)
    else:
        plan = plan_delete(data.draw(actual_tables(desired, owner)),
                           data.draw(st.sampled_from(DeletionPolicy)))
    assert not plan.refused
    statements = render(plan.operations, schema)
    assert len(statements) == len(plan.operations)
    for op, statement in zip(plan.operations, statements):
        text = to_text(statement)
        # The offline text (plan command) is the text the operator executes.
        assert text == statement.as_string(db)
        assert_parses_as_intended(op, text, schema)


kubernetes_names = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)


@st.composite
def plan_files(draw: st.DrawFn) -> list[Owner]:
    """Resources as a file may hold them: names and uids valid or not."""
    names = kubernetes_names | st.text(min_size=1) if draw(st.booleans()) else kubernetes_names
    uids = st.uuids().map(str) | st.text(min_size=1) if draw(st.booleans()) else \
        st.uuids().map(str)
    return draw(st.lists(st.builds(Owner, namespace=names, name=names, uid=uids),
                         min_size=1, max_size=25))


# No shrinking: each example is a subprocess, and the failing example is reported either way.
@settings(max_examples=10, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(owners=plan_files())
def test_offline_plan_prints_exactly_the_statements_postgresql_would_run(
        tmp_path_factory: Any, owners: list[Owner]) -> None:
    """The plan command, in a process that never connected to a server, prints exactly the
    CREATE TABLE and the marker the operator would run, or refuses the file naming the field.

    In-process the check above cannot see the marker's quoting: what psycopg2 makes of a
    backslash without a connection depends on whether the process has connected before (libpq
    keeps a global guess of standard_conforming_strings), and this test session has.
    """
    documents = [{"apiVersion": "kopf.demo/v1", "kind": "DatabaseTable",
                  "metadata": {"namespace": o.namespace, "name": o.name, "uid": o.uid},
                  "spec": {**BASE, "tableName": f"t{i}"}} for i, o in enumerate(owners)]
    path = tmp_path_factory.mktemp("plan") / "resources.yaml"
    path.write_text(yaml.safe_dump_all(documents, allow_unicode=True), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "database_table_operator", "plan", str(path)],
                            cwd=ROOT, capture_output=True, text=True, encoding="utf-8",
                            timeout=60)
    label = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
    valid = all(re.fullmatch(label, o.namespace) and len(o.namespace) <= 63
                and re.fullmatch(rf"{label}(\.{label})*", o.name) and len(o.name) <= 253
                and re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", o.uid)
                for o in owners)
    if not valid:
        assert (result.returncode, result.stdout) == (2, ""), result.stdout
        assert any(f"metadata.{field}: " in result.stderr
                   for field in ("name", "namespace", "uid"))
        return
    assert result.returncode == 0, result.stderr
    statements = [raw.stmt for raw in pglast.parse_sql(result.stdout)]
    assert [type(s).__name__ for s in statements] == ["CreateStmt", "CommentStmt"] * len(owners)
    assert [s.comment for s in statements[1::2]] == [o.marker() for o in owners]
