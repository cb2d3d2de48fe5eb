"""The pure core of database-table-operator and its two thin edges.

Data flows one way::

    spec ──parse──▶ DesiredTable ─┐
                                  ├─ plan ──▶ Plan ── render ──▶ SQL ── execute (one transaction)
    catalog ──read──▶ ActualTable ┘

``names``, ``types``, ``spec``, ``model``, ``plan``, ``render``, ``conditions``, ``failures``
and ``reporting`` are pure; ``catalog``, ``database``, ``pool`` and ``reconcile`` touch
PostgreSQL. ``database_table_operator.py`` registers the Kopf handlers; the Kopf and
Kubernetes edge they delegate to is here: ``converge`` and ``release`` (the handlers' work,
reported through ``handler_report``), ``finalizer``, ``finalizer_gate``,
``status_publisher``, ``worker``, ``login`` and ``apisession``, ``background``, ``sweep``,
``heap``, ``liveness``, and ``diffbase`` (Kopf's storage of what was last handled).
"""
