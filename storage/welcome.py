"""The default welcome message (默认欢迎语): what a new customer gets when no feature with a
higher priority (fission, a channel's contact way) has a welcome for the add."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class DefaultWelcome(Model):
    """One row (id 1), edited by admins."""

    id = fields.IntField(primary_key=True)
    enabled = fields.BooleanField(default=False)
    text = fields.TextField(default="")
    updated_by = fields.CharField(max_length=64, default="")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "welcome_default"
