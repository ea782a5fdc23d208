"""Every contact way (联系我), group join way (加入群聊) and 获客链接 scrmbot made through the API.

WeCom never shows API-made ways in its console and can only edit or delete them by their
`config_id` (a link: its `link_id`), so a way exists here from the moment WeCom answers until it is deleted there."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class WayKind(StrEnum):
    CONTACT = "contact"  # externalcontact/add_contact_way
    JOIN = "join"  # externalcontact/groupchat/add_join_way
    LINK = "link"  # externalcontact/customer_acquisition/create_link (获客链接; no way quota)


class ContactWay(Model):
    """One live way: `feature`, `purpose` and `owner_key` say who asked for it and for what
    (radar / advisor / the staff userid); a feature asking again for the same triple gets this
    way back instead of a new one. `expires_at` set: deleted in WeCom by a cron after it."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(WayKind)
    config_id = fields.CharField(max_length=64, unique=True)
    feature = fields.CharField(max_length=32)
    purpose = fields.CharField(max_length=32)
    owner_key = fields.CharField(max_length=128)
    state = fields.CharField(max_length=30, default="")
    qr_code = fields.TextField(default="")  # WeCom's image URL of the QR code; a link's url
    expires_at = fields.DatetimeField(null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    delete_error = fields.TextField(null=True)  # WeCom refused the last deletion: retried

    class Meta:
        table = "contact_way"
        unique_together = (("kind", "feature", "purpose", "owner_key"),)
