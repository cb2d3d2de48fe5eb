"""The pure core of database-table-operator and its two thin edges.

Data flows one way::

    spec ──parse──▶ DesiredTable ─┐
                                  ├─ plan ──▶ Plan ── render ──▶ SQL ── execute (one transaction)
    catalog ──read──▶ ActualTable ┘

``names``, ``types``, ``spec``, ``model``, ``plan``, ``render``, ``conditions``, ``failures``
and ``reporting`` are pure; ``catalog``, ``database``, ``pool`` and ``reconcile`` touch
PostgreSQL; only ``database_table_operator.py``
touches Kopf and Kubernetes, with one plugin for it here: ``diffbase`` (Kopf's storage of
what was last handled).
"""
