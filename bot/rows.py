"""Insert plain rows without building model instances, for group-commit hot paths where a
tortoise model's construction costs more than the INSERT itself (tens of microseconds each)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model


async def insert_rows(
    model: type[Model], rows: Sequence[Mapping[str, Any]], using_db: BaseDBAsyncClient
) -> None:
    """One multi-row INSERT of `rows` (field name → value); fields not given take the model's
    default. Values go through each field's own conversion, as `bulk_create` does."""
    if not rows:
        return
    executor = using_db.executor_class(model=model, db=using_db)
    fields = model._meta.fields_map
    columns = executor.regular_columns_all
    defaults = {c: fields[c].default for c in columns}
    for name, default in defaults.items():
        if callable(default):
            raise TypeError(f"{model.__name__}.{name}: callable defaults are not supported here")
    convert = {c: fields[c].to_db_value for c in columns}
    values = [
        [_db_value(convert[c], row.get(c, defaults[c]), model) for c in columns] for row in rows
    ]
    await using_db.execute_many(executor.insert_query_all, values)


def _db_value(convert: Any, value: Any, model: type[Model]) -> Any:
    # Plain values the caller generated pass as they are (the field's validators cost more
    # than the insert); anything else (datetimes, enums, JSON) through the field.
    if value is None or type(value) in _PLAIN:
        return value
    return convert(value, model)


_PLAIN = (str, int, bool)
