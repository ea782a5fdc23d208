"""Core tables: the durable callback inbox and its per-handler run ledger, console roles, and
the published domain events with their per-subscriber delivery ledger."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class InboxStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"  # will be retried
    DEAD = "dead"  # gave up; shown to admins


INBOX_FINISHED = (InboxStatus.DONE, InboxStatus.DEAD)  # nothing left to process
INBOX_OPEN = (InboxStatus.PENDING, InboxStatus.FAILED)  # to process (a failed row: again)


class InboxEvent(Model):
    """One decrypted WeCom callback, written before the 200 is sent."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=64, unique=True)  # sha256 of the decrypted XML
    kind = fields.CharField(max_length=96, db_index=True)  # "event/change_type"
    xml = fields.TextField()
    received_at = fields.DatetimeField(db_index=True)
    status = fields.CharEnumField(InboxStatus, default=InboxStatus.PENDING, db_index=True)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True, db_index=True)
    last_error = fields.TextField(null=True)
    done_at = fields.DatetimeField(null=True)
    replied = fields.BooleanField(default=False)  # a passive card reply already used ResponseCode

    class Meta:
        table = "inbox_event"


class HandlerRun(Model):
    """A handler that finished for an inbox row: a retry runs only the ones missing here."""

    id = fields.BigIntField(primary_key=True)
    inbox: fields.ForeignKeyRelation[InboxEvent] = fields.ForeignKeyField(
        "models.InboxEvent", related_name="runs", on_delete=fields.CASCADE
    )
    handler = fields.CharField(max_length=128)
    finished_at = fields.DatetimeField()

    class Meta:
        table = "inbox_handler_run"
        unique_together = (("inbox", "handler"),)


class ConsoleRole(Model):
    """Who may use the console beyond staff: admin or dept_admin (super admins are in config)."""

    id = fields.IntField(primary_key=True)
    userid = fields.CharField(max_length=64, unique=True)
    role = fields.CharField(max_length=16)  # "admin" | "dept_admin"
    departments = fields.JSONField[list[int]](default=list)  # dept_admin's scope, department ids
    granted_by = fields.CharField(max_length=64, default="")
    granted_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "console_role"


class EventStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"  # a subscriber failed; retried
    DEAD = "dead"  # gave up; shown to admins


class DomainEventRow(Model):
    """A published domain event (bot.domain_events), once per key."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=191, unique=True)  # "<kind>:<key derived from the fact>"
    kind = fields.CharField(max_length=64, db_index=True)
    subject = fields.CharField(max_length=191, default="", db_index=True)  # ordering scope
    payload = fields.JSONField[dict[str, object]]()
    published_at = fields.DatetimeField(db_index=True)
    status = fields.CharEnumField(EventStatus, default=EventStatus.PENDING, db_index=True)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True, db_index=True)
    last_error = fields.TextField(null=True)
    done_at = fields.DatetimeField(null=True)

    class Meta:
        table = "domain_event"


class EventDelivery(Model):
    """A subscriber that finished with an event: a retry runs only the ones missing here."""

    id = fields.BigIntField(primary_key=True)
    event: fields.ForeignKeyRelation[DomainEventRow] = fields.ForeignKeyField(
        "models.DomainEventRow", related_name="deliveries", on_delete=fields.CASCADE
    )
    subscriber = fields.CharField(max_length=128)
    delivered_at = fields.DatetimeField()

    class Meta:
        table = "domain_event_delivery"
        unique_together = (("event", "subscriber"),)


class WebSession(Model):
    """A signed-in browser. The cookie carries a random session id, this table only its hash,
    so a session can be revoked (logout, a member who left) and a leaked table is no key."""

    id = fields.CharField(max_length=64, primary_key=True)  # sha256 hex of the session id
    userid = fields.CharField(max_length=64, db_index=True)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(db_index=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "web_session"


class ConversationReply(Model):
    """One answer the app gave a staff member, or one card-button press. The unique key (a
    message's MsgId, a menu click, a day's enter_agent, a person's press of a button key) makes
    WeCom's re-deliveries answer once and a replayed button key do nothing."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=160, unique=True)
    userid = fields.CharField(max_length=64, db_index=True)
    kind = fields.CharField(max_length=32)
    via = fields.CharField(max_length=16)  # "passive" or "api"
    sent_at = fields.DatetimeField()
    inbox_id = fields.BigIntField(null=True)  # a button press: the callback that made it

    class Meta:
        table = "conversation_reply"


class WelcomeLog(Model):
    """The welcome decision for one add: sent by which provider, or why not (no_code, late,
    41051, no_provider, error). The unique key (the WelcomeCode, else the add itself) makes
    the fast lane and the worker decide once."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=160, unique=True)
    userid = fields.CharField(max_length=64, db_index=True)
    external_userid = fields.CharField(max_length=64, db_index=True)
    state = fields.CharField(max_length=64, default="")
    provider = fields.CharField(max_length=128, default="")
    status = fields.CharField(max_length=16, default="pending")  # pending | sent | not_sent
    reason = fields.CharField(max_length=32, default="")
    fallback_sent = fields.BooleanField(default=False)
    event_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "welcome_log"
