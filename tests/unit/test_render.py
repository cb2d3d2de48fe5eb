"""Rendering operations as SQL: names always quoted, types rebuilt by the grammar."""
from __future__ import annotations

from psycopg2 import sql

from dbtable.model import Owner
from dbtable.plan import (AddColumn, AddPrimaryKey, CreateTable, DropPrimaryKey, DropTable,
                          MarkOwned, RenameTable, Unmark)
from dbtable.render import render, to_text
from dbtable.spec import parse_spec

SPEC = parse_spec({"tableName": "WEBSITE_USERS",
                   "columns": [{"USER_ID": "integer"}, {"USER_NAME": "varchar(50)"}],
                   "primaryKey": "USER_ID"})


def text(operation: object, schema: str = "public") -> str:
    (statement,) = render([operation], schema)
    return to_text(statement)


def type_text(column: int) -> str:
    return to_text(SPEC.columns[column].type.sql())


def test_create_table_quotes_every_name() -> None:
    assert text(CreateTable(SPEC.name, SPEC.columns, SPEC.primary_key)) == (
        f'CREATE TABLE "public"."website_users" ("user_id" {type_text(0)}, '
        f'"user_name" {type_text(1)}, PRIMARY KEY ("user_id"))')


def test_alter_statements() -> None:
    assert text(RenameTable("a", "b"), "s") == 'ALTER TABLE "s"."a" RENAME TO "b"'
    assert text(AddColumn("t", SPEC.columns[1])) == \
        f'ALTER TABLE "public"."t" ADD COLUMN "user_name" {type_text(1)}'
    assert text(DropPrimaryKey("t", "t_pkey", ("a",))) == \
        'ALTER TABLE "public"."t" DROP CONSTRAINT "t_pkey"'
    assert text(AddPrimaryKey("t", ("a", "b"))) == \
        'ALTER TABLE "public"."t" ADD PRIMARY KEY ("a", "b")'
    assert text(DropTable("t")) == 'DROP TABLE "public"."t"'
    assert text(Unmark("t")) == 'COMMENT ON TABLE "public"."t" IS NULL'


def test_marker_is_a_literal_not_spliced_text() -> None:
    owner = Owner("ns", "it's", "u")
    (statement,) = render([MarkOwned("t", owner)], "public")
    assert sql.Literal(owner.marker()) in list(statement)
    assert to_text(statement) == (
        'COMMENT ON TABLE "public"."t" IS '
        + "'" + owner.marker().replace("'", "''") + "'")


def test_reserved_words_and_quotes_in_names_are_quoted() -> None:
    assert text(RenameTable("order", 'we"ird')) == \
        'ALTER TABLE "public"."order" RENAME TO "we""ird"'


def test_sql_constants_never_contain_user_names() -> None:
    (statement,) = render([CreateTable(SPEC.name, SPEC.columns, SPEC.primary_key)], "public")

    def constants(node: sql.Composable) -> list[str]:
        if isinstance(node, sql.Composed):
            return [s for part in node for s in constants(part)]
        return [node.string] if isinstance(node, sql.SQL) else []

    assert not any("user" in c.lower() for c in constants(statement))
