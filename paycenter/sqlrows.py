"""Rows of several models written by one SQL statement (PostgreSQL: a chain of data-modifying
CTEs), for the few use cases measured to need it (docs/benchmarks.md).

Each row is built as a model instance and written with exactly the columns and values
`save()` would write, so a field added to the model cannot be forgotten here; a column may
instead come from an earlier step of the chain (`computed`: column's attname → SQL). The
statement inserts nothing when the step it selects from returns no row.
"""

from django.db import connection, models


def insert_select(
    obj: models.Model, *, name: str, source: str, computed: dict[str, str] | None = None
) -> tuple[str, dict]:
    """`name AS (INSERT INTO … SELECT … FROM source RETURNING id)` and its parameters, which
    are named after the step so that several rows share one statement."""
    computed = computed or {}
    columns, values, params = [], [], {}
    for field in obj._meta.concrete_fields:
        if field.primary_key and field.attname not in computed:
            continue  # the database assigns it
        columns.append(connection.ops.quote_name(field.column))
        if field.attname in computed:
            values.append(computed[field.attname])
            continue
        key = f"{name}_{field.column}"
        params[key] = field.get_db_prep_save(field.pre_save(obj, add=True), connection)
        # Typed: a parameter in a SELECT list has no column type to take.
        values.append(f"%({key})s::{field.db_type(connection)}")
    table = connection.ops.quote_name(obj._meta.db_table)
    # Names are the models' own and the caller's; every value is a parameter.
    sql = f"{name} AS (INSERT INTO {table} ({', '.join(columns)})"
    sql += f" SELECT {', '.join(values)} FROM {source} RETURNING id)"  # noqa: S608
    return sql, params
