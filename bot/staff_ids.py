"""A member's WeCom userid changed (change_contact/update_user with NewUserID): every row
that names them moves to the new id in one transaction, whichever feature owns the table.

Tables name a staff member in columns called by convention one of `STAFF_COLUMNS`; this walks
every registered model, so a feature's new table is covered without being listed here.
Append-only facts keep their idempotency keys (they record what happened under the old id).
Where a row under the new id already exists for the same thing (a sync ran in between), the
row under the old id wins: it carries the history."""

from __future__ import annotations

import logging
from typing import Any

from tortoise import Tortoise
from tortoise.models import Model
from tortoise.transactions import in_transaction

log = logging.getLogger(__name__)

STAFF_COLUMNS = ("userid", "root_userid", "owner", "invitor", "created_by", "granted_by")


def _staff_fields(model: type[Model]) -> list[str]:
    fields = model._meta.fields_map
    return [name for name in STAFF_COLUMNS if name in fields]


def _unique_groups(model: type[Model], column: str) -> list[tuple[str, ...]]:
    """The unique constraints `column` is part of (a lone unique or primary key included)."""
    meta = model._meta
    groups = [tuple(g) for g in meta.unique_together if column in g]
    field = meta.fields_map[column]
    if field.pk or field.unique:
        groups.append((column,))
    return groups


async def _drop_clashes(model: type[Model], column: str, old: str, new: str) -> None:
    for group in _unique_groups(model, column):
        others = [c for c in group if c != column]
        if not others:
            if await model.filter(**{column: old}).exists():
                await model.filter(**{column: new}).delete()
            continue
        for values in await model.filter(**{column: old}).values(*others):
            await model.filter(**{column: new}, **values).delete()


async def _move(model: type[Model], column: str, old: str, new: str) -> int:
    if not model._meta.fields_map[column].pk:
        return await model.filter(**{column: old}).update(**{column: new})
    # tortoise will not UPDATE a primary key: write the row anew under the new id
    rows = await model.filter(**{column: old}).values()
    for row in rows:
        await model.create(**{**row, column: new})
    await model.filter(**{column: old}).delete()
    return len(rows)


async def rename_staff(old: str, new: str) -> dict[str, int]:
    """Move every reference from `old` to `new`; the number of rows moved per table."""
    moved: dict[str, int] = {}
    if not old or not new or old == new:
        return moved
    async with in_transaction():
        for model in _models():
            for column in _staff_fields(model):
                await _drop_clashes(model, column, old, new)
                count = await _move(model, column, old, new)
                if count:
                    moved[f"{model._meta.db_table}.{column}"] = count
    log.info("userid changed: %s rows moved to the new id", sum(moved.values()))
    return moved


def _models() -> list[Any]:
    return [m for app in Tortoise.apps.values() for m in app.values()]
