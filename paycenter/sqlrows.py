"""Rows of several models written by one SQL statement (PostgreSQL: a chain of data-modifying
CTEs), for the few use cases measured to need it (docs/benchmarks.md).

Each row is built as a model instance and written with the columns and values `save()`
would write, so a field added to the model cannot be forgotten here; a column may
instead come from an earlier step of the chain (`computed`: column's attname → SQL). A step
inserts nothing when the step it selects from returns no row.

The statement's text depends only on its shape, so it is built once per shape, and executed
as a server-side prepared statement: PostgreSQL parses and plans it once per connection.
"""

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.postgresql.base import ServerBindingCursor
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class InsertStep:
    """`name AS (INSERT INTO … SELECT … FROM jsonb_populate_record(…), source RETURNING id)`:
    the row's values travel as one JSON parameter named after the step, which PostgreSQL
    turns back into the table's column types. One parameter per row keeps the statement
    under psycopg's limit for caching its conversion, and its dumping cheap."""

    sql: str
    fields: tuple[models.Field, ...]
    plain: frozenset[str]  # attnames whose Python value is already what the column takes

    def param(self, obj: models.Model) -> str:
        row, db = {}, connections[DEFAULT_DB_ALIAS]
        for field in self.fields:
            if field.attname in self.plain:
                row[field.column] = getattr(obj, field.attname)
                continue
            value = field.get_db_prep_save(field.pre_save(obj, add=True), db)
            row[field.column] = value.obj if isinstance(value, Jsonb) else value
        return json.dumps(row, default=_exact)


# Django's own fields whose Python value is what the column takes once in JSON. A field of
# another class (one that encrypts, say) is prepared as save() would, and so is a timestamp
# set on save or a JSON field with its own encoder.
_PLAIN = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BooleanField,
    models.ForeignKey,
    models.DateTimeField,
    models.JSONField,
)


def _plain(field: models.Field) -> bool:
    if not type(field).__module__.startswith("django.db.models.") or not isinstance(field, _PLAIN):
        return False
    if isinstance(field, models.DateTimeField):
        return not (field.auto_now or field.auto_now_add)
    return not isinstance(field, models.JSONField) or field.encoder is None


@functools.cache
def insert_step(
    model: type[models.Model], *, name: str, source: str, computed: tuple[tuple[str, str], ...] = ()
) -> InsertStep:
    expressions = dict(computed)
    columns, values, fields = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.attname not in expressions:
            continue  # the database assigns it
        columns.append(field.column)
        if field.attname in expressions:
            values.append(expressions[field.attname])
        else:
            values.append(f"r.{field.column}")
            fields.append(field)
    table = model._meta.db_table
    sql = f"{name} AS (INSERT INTO {table} ({','.join(columns)}) SELECT {','.join(values)}"
    sql += f" FROM jsonb_populate_record(NULL::{table}, %({name})s::jsonb) AS r, {source} RETURNING id)"
    return InsertStep(sql=sql, fields=tuple(fields), plain=frozenset(f.attname for f in fields if _plain(f)))


def _exact(value: object) -> str:
    """Timestamps to the microsecond (DjangoJSONEncoder keeps milliseconds), decimals as text."""
    if isinstance(value, datetime | date | Decimal | UUID):
        return value.isoformat() if isinstance(value, datetime | date) else str(value)
    raise TypeError(f"{type(value).__name__} is not a column value")


class _PreparedCursor(ServerBindingCursor):
    def execute(self, query: str, params: Sequence | None = None, **kwargs: object) -> object:
        return super().execute(query, params, prepare=True)


def execute_prepared(sql: str, params: dict) -> tuple | None:
    """Run one statement as a prepared statement of this connection; its first row. Goes
    through Django's cursor wrapper: errors are Django's, and tests see the statement."""
    connection.ensure_connection()
    raw = _PreparedCursor(connection.connection)
    cursor = connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
    with cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()
