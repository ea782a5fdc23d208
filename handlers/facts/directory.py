"""The corp directory and corp tags: change_contact / change_external_tag callbacks and the
sync helpers that read them whole."""

from __future__ import annotations

import logging
from typing import Any

from bot.deps import Deps
from bot.events import ContactEvent, ExternalTagEvent
from bot.staff_ids import rename_staff
from bot.wecom_errors import WeComError
from handlers.facts.router import router
from storage.directory import Department, Staff
from storage.facts import CorpTag, CorpTagGroup

log = logging.getLogger(__name__)
DIRECTORY_DENIED = frozenset({60011, 48002})
STAFF_LEFT = 5


class DirectoryDenied(RuntimeError):
    """The directory cannot be read with the configured secret."""


def explain_directory_error(exc: WeComError) -> str:
    return (
        f"{exc.explain()}. Reading the directory needs the app secret (wecom.secret) with the "
        "app's visible range (通讯录权限) covering the staff; since 2022 the customer-contact "
        "secret cannot read members or departments."
    )


def _staff_values(user: dict[str, Any]) -> dict[str, Any]:
    depts = [int(d) for d in user.get("department") or [] if str(d).lstrip("-").isdigit()]
    return {
        "name": str(user.get("name") or user.get("userid"))[:128],
        "departments": depts,
        "main_department": int(user.get("main_department") or (depts[0] if depts else 0)),
        "avatar": str(user.get("avatar") or "")[:512],
        "status": int(user.get("status") or 1),
    }


async def save_user(user: dict[str, Any]) -> None:
    await Staff.update_or_create(defaults=_staff_values(user), userid=str(user["userid"]))


async def save_department(dept: dict[str, Any]) -> None:
    values = {
        "name": str(dept.get("name") or dept.get("id"))[:128],
        "parent_id": int(dept.get("parentid") or 0),
        "order": int(dept.get("order") or 0),
        "deleted": False,
    }
    await Department.update_or_create(defaults=values, id=int(dept["id"]))


async def sync_directory(deps: Deps) -> dict[str, int]:
    """Departments and members in the app's visible range (app secret)."""
    try:
        depts = await deps.wecom.list_departments()
        users = await deps.wecom.list_users(1)
    except WeComError as exc:
        if exc.errcode in DIRECTORY_DENIED:
            raise DirectoryDenied(explain_directory_error(exc)) from exc
        raise
    for dept in depts:
        await save_department(dept)
    seen = {int(d["id"]) for d in depts}
    await Department.filter(id__not_in=seen or {-1}).update(deleted=True)
    for user in users:
        await save_user(user)
    userids = {str(u["userid"]) for u in users}
    # A member outside the visible range or deleted: keep the row (facts name them), mark left.
    await Staff.filter(userid__not_in=userids or {""}).update(status=STAFF_LEFT)
    return {"departments": len(depts), "staff": len(users)}


@router.event("change_contact", "create_user")
async def on_user_created(deps: Deps, event: ContactEvent) -> None:
    await _refresh_user(deps, event)


@router.event("change_contact", "update_user")
async def on_user_updated(deps: Deps, event: ContactEvent) -> None:
    if event.new_user_id and event.new_user_id != event.user_id:
        await rename_staff(event.user_id, event.new_user_id)  # every table, one transaction
    await _refresh_user(deps, event)


async def _refresh_user(deps: Deps, event: ContactEvent) -> None:
    userid = event.new_user_id or event.user_id
    if not userid:
        return
    try:
        user = await deps.wecom.get_user(userid)
    except WeComError as exc:
        log.warning("user/get %s failed, keeping the callback's fields: %s", userid, exc.explain())
        user = {"userid": userid, "name": event.name, "department": list(event.department)}
        if event.status:
            user["status"] = event.status
    await save_user(user)


@router.event("change_contact", "delete_user")
async def on_user_deleted(deps: Deps, event: ContactEvent) -> None:
    await Staff.filter(userid=event.user_id).update(status=STAFF_LEFT)


@router.event("change_contact", "create_party")
async def on_party_created(deps: Deps, event: ContactEvent) -> None:
    await _save_party(event)


@router.event("change_contact", "update_party")
async def on_party_updated(deps: Deps, event: ContactEvent) -> None:
    await _save_party(event)


async def _save_party(event: ContactEvent) -> None:
    if not event.party_id:
        return
    dept = await Department.get_or_none(id=event.party_id)
    values: dict[str, Any] = {"deleted": False}
    if event.name:
        values["name"] = event.name[:128]
    if event.parent_id or dept is None:
        values["parent_id"] = event.parent_id
    if dept is None:
        values.setdefault("name", str(event.party_id))
    await Department.update_or_create(defaults=values, id=event.party_id)


@router.event("change_contact", "delete_party")
async def on_party_deleted(deps: Deps, event: ContactEvent) -> None:
    await Department.filter(id=event.party_id).update(deleted=True)


async def sync_tags(deps: Deps) -> dict[str, int]:
    groups = await deps.wecom.get_corp_tag_list()
    group_ids: set[str] = set()
    tag_ids: set[str] = set()
    for group in groups:
        gid = str(group["group_id"])
        group_ids.add(gid)
        await CorpTagGroup.update_or_create(
            defaults={
                "name": str(group.get("group_name") or "")[:128],
                "order": int(group.get("order") or 0),
                "deleted": bool(group.get("deleted")),
            },
            group_id=gid,
        )
        for tag in group.get("tag") or []:
            tag_ids.add(str(tag["id"]))
            await CorpTag.update_or_create(
                defaults={
                    "group_id": gid,
                    "name": str(tag.get("name") or "")[:128],
                    "order": int(tag.get("order") or 0),
                    "deleted": bool(tag.get("deleted")),
                },
                tag_id=str(tag["id"]),
            )
    await CorpTagGroup.filter(group_id__not_in=group_ids or {""}).update(deleted=True)
    await CorpTag.filter(tag_id__not_in=tag_ids or {""}).update(deleted=True)
    return {"tag_groups": len(groups), "tags": len(tag_ids)}


@router.event("change_external_tag")
async def on_tag_changed(deps: Deps, event: ExternalTagEvent) -> None:
    # The callback carries only an id; the whole list is small, so read it again.
    await sync_tags(deps)
