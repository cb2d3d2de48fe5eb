"""Kopf gives every resource a shallow copy of the operator's memo (its ResourceMemory): the
memo's size is paid once per resource (issue 10: 10,000 resources)."""
from __future__ import annotations

import ast
import copy
import sys
from pathlib import Path

import kopf

ROOT = Path(__file__).resolve().parents[2]
# The entry point and the dbtable modules its handlers delegate to.
SOURCES = [ROOT / "database_table_operator.py", *sorted((ROOT / "dbtable").glob("*.py"))]
MAX_KEYS = 10  # a dict of up to 10 keys is 296 bytes; 11 to 21 make it 488


def memo_keys() -> set[str]:
    """Every key the operator puts in its memo: ``memo.x = ...`` and ``memo.setdefault("x")``."""
    keys: set[str] = set()
    nodes = (node for source in SOURCES
             for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))))
    for node in nodes:
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) \
                and isinstance(node.value, ast.Name) and node.value.id == "memo":
            keys.add(node.attr)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "setdefault" and isinstance(node.func.value, ast.Name) \
                and node.func.value.id == "memo" and isinstance(node.args[0], ast.Constant):
            keys.add(node.args[0].value)
    return keys


def copied_size(count: int) -> int:
    memo = kopf.Memo({f"key{n}": n for n in range(count)})
    return sys.getsizeof(copy.copy(memo))  # as Kopf's ResourceMemories.recall copies it


def test_the_memo_stays_within_the_smaller_copy() -> None:
    keys = memo_keys()
    assert {"database", "pool", "background"} <= keys  # the scan sees the operator's keys
    assert len(keys) <= MAX_KEYS, sorted(keys)


def test_one_key_more_than_the_limit_makes_every_copy_bigger() -> None:
    assert copied_size(MAX_KEYS) < copied_size(MAX_KEYS + 1)
