"""Property-based tests (hypothesis) of the parse → plan → render → execute path, on PostgreSQL.

1. Any spec the parser accepts becomes, in a fresh schema, exactly the table it describes
   (names, types, order, primary key), a second reconcile runs no statement, and a random
   sequence of allowed changes (add columns, rename, change the key) converges too.
2. Any text the parser accepts as a name or type is a valid identifier or type; anything else
   is refused with an error naming its field.
3. Every rendered statement re-parses (pglast: PostgreSQL's own parser, GPL, tests only) into
   exactly one statement of the intended kind, carrying exactly the intended names.
"""
from __future__ import annotations

import dataclasses

import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pglast
import psycopg2
import pytest
from hypothesis import Phase, assume, given, settings, strategies as st
from pglast import ast
from pglast.enums import AlterTableType, ConstrType, DropBehavior, ObjectType
import yaml
from psycopg2 import sql

from dbtable.catalog import read_owned_table
from dbtable.database import DatabaseSettings
from dbtable.errors import InvalidSpec
from dbtable.model import ActualColumn, ActualTable, DeletionPolicy, DesiredTable, Owner
from dbtable.plan import (AddColumn, AddPrimaryKey, CreateTable, DropPrimaryKey, DropTable,
                          MarkOwned, Operation, RenameTable, Unmark, plan_delete,
                          plan_reconcile)
from dbtable.reconcile import reconcile_table
from dbtable.render import render, to_text
from dbtable.spec import MAX_KEY_COLUMNS, parse_spec
from dbtable.types import ADMISSION_PATTERN, ColumnType, TypeSyntaxError, parse_type
from tests.support.k8s import ROOT
from tests.unit.test_types import ACCEPTED

pytestmark = pytest.mark.integration

# -- strategies ------------------------------------------------------------------------------

IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
# Key words PostgreSQL reserves (or treats specially) that are still valid names here, because
# every name is quoted with sql.Identifier.
KEY_WORDS = ("user", "order", "select", "table", "from", "group", "primary", "key", "default",
             "null", "check", "column", "constraint", "references", "all", "end", "limit",
             "where", "with", "time", "integer", "text", "current_user", "analyse", "do")
# Types without a default btree operator class cannot be in a primary key (PostgreSQL: "data
# type json has no default operator class for access method btree"); arrays could, but are
# kept out of keys on purpose. test_key_capable_types_are_exactly_those_with_a_btree_opclass
# holds this list to the server.
NO_BTREE = frozenset({"json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"})


def is_identifier(text: str) -> bool:
    return bool(IDENTIFIER_RE.fullmatch(text)) and len(text.encode("utf-8")) <= 63


def key_capable(column_type: ColumnType) -> bool:
    return not column_type.array and column_type.keyword not in NO_BTREE


@st.composite
def mixed_case(draw: st.DrawFn, words: st.SearchStrategy[str]) -> str:
    word = draw(words)
    upper = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.upper() if u else c.lower() for c, u in zip(word, upper))


identifiers = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_$]{0,62}", fullmatch=True),
    mixed_case(st.from_regex(r"[a-z_][a-z0-9_$]{0,8}", fullmatch=True)),
    mixed_case(st.sampled_from(KEY_WORDS)),
)

_builtin_texts = st.one_of(
    st.sampled_from([text for text, _ in ACCEPTED]),
    st.integers(1, 10485760).map(lambda n: f"varchar({n})"),
    st.tuples(st.integers(1, 1000), st.integers(-1000, 1000)).map(
        lambda ps: f"numeric({ps[0]},{ps[1]})"),
    st.integers(0, 6).map(lambda p: f"timestamp({p}) with time zone"),
    st.integers(1, 83886080).map(lambda n: f"bit varying({n})"),
)
type_texts = st.one_of(
    mixed_case(_builtin_texts),
    st.tuples(_builtin_texts, st.lists(st.sampled_from(["[]", "[3]", " [ ]", "[2147483647]"]),
                                       min_size=1, max_size=3))
      .filter(lambda t: "serial" not in t[0].lower())  # no arrays of serial (PostgreSQL)
      .map(lambda t: t[0] + "".join(t[1])),
)
key_type_texts = type_texts.filter(lambda t: key_capable(parse_type(t)))
KEY_SEPARATORS = (",", ", ", " , ", ",\t", "\t,  ")


def column_lists(min_size: int = 1, max_size: int = 6, avoid: frozenset[str] = frozenset()
                 ) -> st.SearchStrategy[list[dict[str, str]]]:
    # Dropping names already taken (rather than filtering draws) keeps hypothesis from giving
    # up on examples; a step may then add no column, which is a valid (empty) change too.
    names = st.lists(identifiers, min_size=min_size, max_size=max_size, unique_by=str.lower).map(
        lambda ns: [n for n in ns if n.lower() not in avoid])
    return names.flatmap(lambda ns: st.tuples(*(type_texts for _ in ns)).map(
        lambda ts: [{n: t} for n, t in zip(ns, ts)]))


@st.composite
def key_text(draw: st.DrawFn, columns: list[dict[str, str]]) -> str:
    """A primary key drawn from the key-capable columns, spelled with any case and spacing."""
    candidates = [n for c in columns for n, t in c.items() if key_capable(parse_type(t))]
    names = draw(st.lists(st.sampled_from(candidates), min_size=1,
                          max_size=min(len(candidates), 4), unique=True))
    spelled = [draw(mixed_case(st.just(n))) for n in names]
    return spelled[0] + "".join(draw(st.sampled_from(KEY_SEPARATORS)) + n for n in spelled[1:])


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    columns = draw(column_lists())
    if not any(key_capable(parse_type(t)) for c in columns for t in c.values()):
        ((name, _),) = columns[0].items()
        columns[0] = {name: draw(key_type_texts)}
    return {"tableName": draw(identifiers), "columns": columns,
            "primaryKey": draw(key_text(columns))}


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def db(operator_db: dict[str, str]) -> Iterator[Any]:
    """One connection for all examples of the module (each example makes its own schema)."""
    connection = psycopg2.connect(operator_db["url"])
    yield connection
    connection.close()


@contextmanager
def fresh_schema(conn: Any, url: str) -> Iterator[DatabaseSettings]:
    schema = f"prop_{secrets.token_hex(6)}"
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield DatabaseSettings(url=url, schema=schema, lock_timeout_ms=2000,
                               statement_timeout_ms=10000)
    finally:
        with conn, conn.cursor() as cur:
            cur.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def assert_converged(conn: Any, settings_: DatabaseSettings, desired: DesiredTable,
                     owner: Owner) -> None:
    """The catalog has exactly the spec's table, and reconciling again changes nothing."""
    with conn, conn.cursor() as cur:
        table = read_owned_table(cur, settings_.schema, owner)
    assert table is not None
    assert table.name == desired.name
    assert [c.name for c in table.columns] == [c.name for c in desired.columns]
    for wanted, actual in zip(desired.columns, table.columns):
        assert wanted.type.matches(actual.type), (wanted.type.canonical, actual.type)
    assert table.primary_key == desired.primary_key
    again = reconcile_table(conn, settings_, desired, owner)
    assert again.plan.operations == () and again.plan.refusals == ()
    assert again.statements == ()


# -- 1. accepted specs become exactly their tables --------------------------------------------


def test_key_capable_types_are_exactly_those_with_a_btree_opclass(db: Any) -> None:
    for text, _ in ACCEPTED:
        column_type = parse_type(text)
        if column_type.array:
            continue
        statement = sql.SQL("CREATE TEMP TABLE key_probe (k {} PRIMARY KEY)").format(
            column_type.sql())
        try:
            with db, db.cursor() as cur:
                cur.execute(statement)
                cur.execute("DROP TABLE key_probe")
            accepted = True
        except psycopg2.Error as e:
            assert "no default operator class for access method \"btree\"" in str(e), str(e)
            accepted = False
        assert accepted == key_capable(column_type), text


@settings(max_examples=100, deadline=None)
@given(spec=specs(), uid=st.uuids())
def test_any_accepted_spec_creates_exactly_its_table(db: Any, operator_db: dict[str, str],
                                                     spec: dict[str, Any], uid: Any) -> None:
    desired = parse_spec(spec)
    owner = Owner("props", "table", str(uid))
    with fresh_schema(db, operator_db["url"]) as schema_settings:
        outcome = reconcile_table(db, schema_settings, desired, owner)
        assert outcome.statements[0].startswith("CREATE TABLE")
        assert_converged(db, schema_settings, desired, owner)


CHANGES = ("add columns", "rename", "change key")


@settings(max_examples=60, deadline=None)
@given(spec=specs(), data=st.data())
def test_random_sequences_of_allowed_changes_converge(db: Any, operator_db: dict[str, str],
                                                      spec: dict[str, Any],
                                                      data: st.DataObject) -> None:
    owner = Owner("props", "changes", secrets.token_hex(8))
    with fresh_schema(db, operator_db["url"]) as schema_settings:
        reconcile_table(db, schema_settings, parse_spec(spec), owner)
        for _ in range(data.draw(st.integers(1, 4), label="steps")):
            changes = data.draw(st.sets(st.sampled_from(CHANGES), min_size=1), label="changes")
            spec = dict(spec)
            if "add columns" in changes:
                taken = frozenset(n.lower() for c in spec["columns"] for n in c)
                spec["columns"] = spec["columns"] + data.draw(
                    column_lists(max_size=3, avoid=taken), label="added")
            if "rename" in changes:
                spec["tableName"] = data.draw(identifiers, label="new name")
            if "change key" in changes:
                spec["primaryKey"] = data.draw(key_text(spec["columns"]), label="new key")
            desired = parse_spec(spec)
            outcome = reconcile_table(db, schema_settings, desired, owner)
            assert not outcome.plan.refused, outcome.plan.refusals
            assert_converged(db, schema_settings, desired, owner)


# -- 2. everything else is refused, naming its field ------------------------------------------

METACHARACTERS = list(" \t\n\r;'\"`-/*().,[]{}\\$%&|<>=!?@#:^~+\0\x7f\u00a0\u200béѕі\u212a\u0130")
INTERESTING = ["", " ", "id", "ID ", "x; DROP TABLE y", 'a"b', "a'b", "a--", "a/*b*/", "$$x$$",
               "1a", "$a", "a" * 63, "a" * 64, "é" * 31, "\u212aelvin", "user\n", "user\0",
               "pg_catalog.pg_class", "integer); DROP TABLE x; --", "text DEFAULT now()",
               "int primary key", "varchar(0)", "varchar(99999999)", "numeric(1,2,3)",
               "pg_sleep(10)", "integer[", "int[]]", "text collate \"C\"", "serial[]"]
VALID_TYPE_TEXTS = [text for text, _ in ACCEPTED] + [
    "mood", "app.mood", "my$type[]", "_int4", "vector(1536)", "geometry(Point,4326)",
    "public.geography(PointZ, 4326)[]", "t(-1,0,a$b)"]


@st.composite
def near_misses(draw: st.DrawFn, valid: st.SearchStrategy[str]) -> str:
    """A valid text with one character inserted, replaced or removed."""
    text = draw(valid)
    i = draw(st.integers(0, len(text)))
    c = draw(st.sampled_from(METACHARACTERS) | st.characters())
    edit = draw(st.sampled_from(("insert", "replace", "delete")))
    if edit == "insert" or not text:
        return text[:i] + c + text[i:]
    i = min(i, len(text) - 1)
    return text[:i] + (c if edit == "replace" else "") + text[i + 1:]


def arbitrary_text(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(),
        st.text(alphabet=st.sampled_from(METACHARACTERS + list("aZ_09"))),
        st.sampled_from(INTERESTING),
        valid,
        near_misses(valid),
    )


BASE = {"tableName": "T", "columns": [{"ID": "integer"}, {"NAME": "text"}], "primaryKey": "ID"}


def refused_fields(spec: dict[str, Any]) -> list[str] | None:
    """The fields parse_spec's errors name, or None when it accepts the spec."""
    try:
        parse_spec(spec)
    except InvalidSpec as e:
        assert all(error.message for error in e.errors)
        return [error.field for error in e.errors]
    return None


@settings(max_examples=400, deadline=None)
@given(text=arbitrary_text(identifiers))
def test_table_name_is_accepted_exactly_when_it_is_an_identifier(text: str) -> None:
    fields = refused_fields({**BASE, "tableName": text})
    if is_identifier(text):
        assert fields is None
        assert parse_spec({**BASE, "tableName": text}).name == text.lower()
    else:
        assert fields == ["spec.tableName"]


@settings(max_examples=400, deadline=None)
@given(text=arbitrary_text(identifiers))
def test_column_name_is_accepted_exactly_when_it_is_a_new_identifier(text: str) -> None:
    spec = {**BASE, "columns": [{"ID": "integer"}, {text: "text"}]}
    fields = refused_fields(spec)
    if is_identifier(text) and text.lower() != "id":
        assert fields is None
        assert parse_spec(spec).columns[1].name == text.lower()
    else:
        assert fields == ["spec.columns[1]"]


@settings(max_examples=600, deadline=None)
@given(text=arbitrary_text(st.sampled_from(VALID_TYPE_TEXTS) | type_texts))
def test_column_type_is_accepted_only_when_the_type_grammar_accepts_it(text: str) -> None:
    spec = {**BASE, "columns": [{"ID": "integer"}, {"NAME": text}]}
    fields = refused_fields(spec)
    try:
        column_type = parse_type(text)
    except TypeSyntaxError:
        assert fields == ["spec.columns[1].NAME"]
        return
    assert fields is None
    assert parse_spec(spec).columns[1].type == column_type
    # What the operator accepts, the API server admits (the CRD's pattern is the coarser one).
    assert re.search(ADMISSION_PATTERN, text), text
    # And it is only a type: one plain column, nothing smuggled in.
    (raw,) = pglast.parse_sql(to_text(sql.SQL("CREATE TABLE t (c {})").format(
        column_type.sql())))
    (column,) = raw.stmt.tableElts
    assert_plain_column(column, "c", column_type)


@settings(max_examples=400, deadline=None)
@given(text=arbitrary_text(st.sampled_from(["ID", "name", "ID, NAME", " name ,\tid "])))
def test_primary_key_is_accepted_only_when_it_names_declared_columns(text: str) -> None:
    fields = refused_fields({**BASE, "primaryKey": text})
    parts = [p.strip() for p in text.split(",")]
    folded = [p.lower() for p in parts]
    valid = (all(is_identifier(p) for p in parts) and set(folded) <= {"id", "name"}
             and len(set(folded)) == len(folded) and len(parts) <= MAX_KEY_COLUMNS)
    if valid:
        assert fields is None
        assert parse_spec({**BASE, "primaryKey": text}).primary_key == tuple(folded)
    else:
        assert fields and set(fields) == {"spec.primaryKey"}


# -- 3. rendered SQL re-parses into exactly the intended statements ---------------------------

# Any text PostgreSQL can hold in a name (no NUL, at most 63 bytes): the schema comes from the
# operator's settings and constraint names from the catalog, not from the validated spec.
catalog_names = st.text(st.characters(exclude_characters="\0", exclude_categories=("Cs",)),
                        min_size=1, max_size=20).filter(lambda s: len(s.encode()) <= 63)
owners = st.builds(Owner, namespace=st.text(), name=st.text(), uid=st.text())


def strings(nodes: Any) -> tuple[str, ...]:
    return tuple(node.sval for node in nodes or ())


def assert_relation(relation: ast.RangeVar, schema: str, table: str) -> None:
    assert (relation.catalogname, relation.schemaname, relation.relname) == (None, schema, table)
    assert relation.relpersistence == "p" and relation.alias is None


def assert_plain_column(column: Any, name: str, column_type: ColumnType) -> None:
    assert isinstance(column, ast.ColumnDef)
    assert column.colname == name
    assert column.constraints is None and column.collClause is None
    assert column.raw_default is None and column.cooked_default is None
    assert column.identity == "\x00" and column.generated == "\x00"
    assert not column.is_not_null
    type_name = column.typeName
    assert not type_name.setof and not type_name.pct_type
    assert bool(type_name.arrayBounds) == column_type.array
    if column_type.user_defined:
        assert strings(type_name.names) == tuple(
            p for p in (column_type.schema, column_type.name) if p is not None)
        # Modifiers reach the parser as constants and plain names, nothing else.
        assert tuple(typmod_values(type_name.typmods)) == column_type.modifiers


def typmod_values(typmods: Any) -> list[int | str]:
    values: list[int | str] = []
    for node in typmods or ():
        if isinstance(node, ast.A_Const):
            values.append(node.val.ival)
        else:
            assert isinstance(node, ast.ColumnRef), node
            (field,) = node.fields
            values.append(field.sval)
    return values


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
