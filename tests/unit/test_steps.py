"""Every operation says what its statement does to the table: the lock, and whether it scans
or rewrites. No default exists, so a new operation that forgets is caught here."""
from __future__ import annotations

import importlib
import pkgutil
import typing

import pytest

import dbtable
from dbtable import operations
from dbtable.steps import (ACCESS_EXCLUSIVE, SHARE_ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, Step,
                           table_effect)


def _all_steps() -> list[type[Step]]:
    for module in pkgutil.iter_modules(dbtable.__path__):  # operations may live anywhere
        importlib.import_module(f"dbtable.{module.name}")
    found: list[type[Step]] = []
    todo = list(Step.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda c: c.__name__)


STEPS = _all_steps()


def _declared(cls: type[Step], fact: str) -> bool:
    """Set in the class itself or in an operation it derives from, never taken from Step."""
    return any(fact in vars(base) for base in cls.__mro__
               if base is not Step and issubclass(base, Step))


@pytest.mark.parametrize("cls", STEPS, ids=lambda c: c.__name__)
def test_every_operation_declares_scans_and_rewrites(cls: type[Step]) -> None:
    for fact in ("scans", "rewrites"):
        assert _declared(cls, fact), f"{cls.__name__} must declare {fact} (no default)"
        assert isinstance(getattr(cls, fact), bool), f"{cls.__name__}.{fact}"
    assert cls.lock in (ACCESS_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE_ROW_EXCLUSIVE)
    # A rewrite copies every row under ACCESS EXCLUSIVE: it is also a scan, never a light lock.
    if cls.rewrites:
        assert cls.scans and cls.lock == ACCESS_EXCLUSIVE, cls.__name__


def test_step_itself_has_no_default() -> None:
    assert not hasattr(Step, "scans") and not hasattr(Step, "rewrites")


def test_every_operation_is_part_of_the_operation_union() -> None:
    union = set(typing.get_args(operations.Operation))
    assert {c for c in STEPS} - union == set()


# What PostgreSQL does for each existing statement (see each class's comment). A change to
# any of them must be deliberate: this table changes with it.
EXPECTED = {
    "CreateTable": (False, False), "RenameTable": (False, False), "AddColumn": (False, False),
    "DropPrimaryKey": (False, False), "AddPrimaryKey": (True, False),
    "MarkOwned": (False, False), "ReclaimTable": (False, False), "MarkRetained": (False, False),
    "Unmark": (False, False), "DropTable": (False, False), "RenameColumn": (False, False),
    "DropColumn": (False, False), "SetDefault": (False, False), "DropDefault": (False, False),
    "DropNotNull": (False, False), "AddNotNullCheck": (False, False),
    "ValidateNotNullCheck": (True, False), "SetNotNull": (False, False),
    "DropNotNullCheck": (False, False), "CreateUniqueIndex": (True, False),
    "AttachUniqueConstraint": (False, False), "DropUniqueConstraint": (False, False),
    "DropUniqueIndex": (False, False), "WidenColumnType": (False, False),
    "RecheckColumnType": (True, False), "RewriteColumnType": (True, True),
    "CreateIndex": (True, False),
    "CreateIndexWithTable": (False, False), "BuildReplacement": (True, False),
    "MarkIndex": (False, False), "RenameIndex": (False, False), "PlaceIndex": (False, False),
    "DropIndex": (False, False), "DropFailedIndex": (False, False),
    "RenameNotNullCheck": (False, False),
    "AddForeignKey": (False, False), "AddValidForeignKey": (False, False),
    "MarkForeignKey": (False, False), "ValidateForeignKey": (True, False),
    "DropForeignKey": (False, False), "AddUniqueWithTable": (False, False),
    "RenameUniqueConstraint": (False, False), "RenameForeignKey": (False, False),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_known_operations_scan_and_rewrite_as_postgresql_does(name: str) -> None:
    cls = getattr(operations, name)
    assert (cls.scans, cls.rewrites) == EXPECTED[name]


def test_plan_words_for_each_effect() -> None:
    assert table_effect(operations.AddColumn) == "no scan, no rewrite"
    assert table_effect(operations.ValidateNotNullCheck) == \
        "scans the table, reads and writes go on"
    assert table_effect(operations.AddPrimaryKey) == \
        "scans the table, blocks reads and writes meanwhile"
    assert table_effect(operations.RewriteColumnType) == \
        "rewrites the table, blocks reads and writes"
