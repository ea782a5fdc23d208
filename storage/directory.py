"""The corp directory (departments and staff): kept by the facts feature, read by auth."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Department(Model):
    id = fields.IntField(primary_key=True)  # WeCom department id
    name = fields.CharField(max_length=128)
    parent_id = fields.IntField(default=0)
    order = fields.BigIntField(default=0)
    deleted = fields.BooleanField(default=False)

    class Meta:
        table = "department"


class Staff(Model):
    userid = fields.CharField(max_length=64, primary_key=True)
    name = fields.CharField(max_length=128)
    departments = fields.JSONField[list[int]](default=list)  # department ids
    main_department = fields.IntField(default=0)
    avatar = fields.CharField(max_length=512, default="")
    status = fields.IntField(default=1)  # 1 active, 2 disabled, 4 not activated, 5 left
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "staff"
