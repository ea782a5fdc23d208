"""Visitors of the public pages (the identity chain in bot/visitors.py): a browser's first-party
id and who it turned out to be, and the personal links bound to the first browser that opened
them."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


# Only browsers the service account's OAuth identified get a row: an anonymous browser's
# first-party id lives in its cookie and in the pages' own records.
class Visitor(Model):
    """A browser (anonymous first-party id) and, through the service account's OAuth, who it is.

    `pending_id` is WeCom's answer for a WeChat user who is not yet a customer, kept until the
    person becomes one (then `external_userid` is filled in)."""

    id = fields.CharField(max_length=32, primary_key=True)
    openid = fields.CharField(max_length=64, default="")
    unionid = fields.CharField(max_length=64, default="", db_index=True)
    pending_id = fields.CharField(max_length=64, default="", db_index=True)
    external_userid = fields.CharField(max_length=64, default="", db_index=True)
    checked_at = fields.DatetimeField(null=True)  # last unionid lookup while pending
    created_at = fields.DatetimeField()

    class Meta:
        table = "visitor"


class LinkBinding(Model):
    """A personal link (sent to one customer) and the first browser that opened it: only that
    browser is taken to be the customer."""

    id = fields.BigIntField(primary_key=True)
    link = fields.CharField(max_length=96, unique=True)
    visitor_id = fields.CharField(max_length=32)
    external_userid = fields.CharField(max_length=64)
    bound_at = fields.DatetimeField()

    class Meta:
        table = "visitor_link"
