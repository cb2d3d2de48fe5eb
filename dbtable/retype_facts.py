"""What a column type change would make PostgreSQL re-check by scanning the table: read from
the catalog by dbtable/reconcile.py for the planner (dbtable/plan_type_changes.py).

Proven on the server (tests/integration/test_type_changes.py): even a widening that keeps the
table's files re-validates every validated CHECK constraint on the column and rebuilds every
expression or partial index that uses it, each a full scan under ACCESS EXCLUSIVE. Plain
indexes, primary keys, unique and foreign keys, NOT NULL and defaults cost nothing.
"""
from __future__ import annotations

from dbtable.model import ActualTable, DesiredTable
from dbtable.plan_columns import plan_renames

# (column name, what is re-checked) for one table, named by schema and name as parameters.
RECHECKS = """
WITH t AS (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = %s AND c.relname = %s)
SELECT a.attname, format('check constraint %%I', k.conname)
  FROM pg_constraint k JOIN t ON k.conrelid = t.oid
  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (k.conkey)
 WHERE k.contype = 'c' AND k.convalidated
UNION ALL
SELECT DISTINCT a.attname, format('index %%I', ic.relname)
  FROM pg_index i JOIN t ON i.indrelid = t.oid
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
   AND d.refclassid = 'pg_class'::regclass AND d.refobjid = t.oid AND d.refobjsubid > 0
  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
 WHERE i.indexprs IS NOT NULL OR i.indpred IS NOT NULL
 ORDER BY 1, 2
"""


def retype_candidates(desired: DesiredTable, actual: ActualTable) -> tuple[str, ...]:
    """The spec's columns whose type is spelled differently from the catalog's (after
    renames): the only ones whose type may change, so the only reason to read RECHECKS."""
    renames, _ = plan_renames(desired, actual)
    current = {renames.new_name(c.name): c.type for c in actual.columns}
    return tuple(c.name for c in desired.columns
                 if c.name in current and c.type.canonical != current[c.name])
