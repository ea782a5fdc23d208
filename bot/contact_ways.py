"""The one way features make contact ways (联系我) and group join ways (加入群聊).

WeCom keeps at most 500,000 API-made ways per corp, contact and join ways together, hides them
from its console, and can delete one only by its `config_id` (W1). So every way is made here:
stored with who asked for it, reused when the same owner asks again, refused with a clear
error when the live count reaches `[contact_ways] max_live`, and deleted in WeCom by a cron
once its `expires_at` has passed. `state` (≤ 30 characters, W2/W4) is checked before the call.
获客链接 (W5) live here too, the same way, outside the quota guard (they use WeCom's paid
获客 quota instead).

    way = await contact_ways.contact_way(
        deps, feature="shop", purpose="advisor", owner_key=userid, users=[userid], state="shop"
    )
    way.qr_code  # WeCom's image URL: show it as <img src>, never redraw it as a QR code
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError

from bot.http import ApiError
from bot.metrics import CONTACT_WAYS
from bot.wecom_errors import WeComError
from storage.contact_ways import ContactWay, WayKind

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)

STATE_MAX = 30
RETRY_FIRST = 10.0  # seconds before asking WeCom again for an owner's way after a failure
RETRY_MAX = 600.0  # ... doubling up to this
JOIN_CHATS_MAX = 5
ACQUISITION_USERS_MAX = 100  # members one 获客链接 covers (W5)
DELETE_BATCH = 200


class ContactWayError(ApiError):
    """A way that cannot be made: a 4xx whose Chinese message says why."""


def check_state(state: str) -> None:
    if len(state) > STATE_MAX:
        raise ContactWayError(
            400, f"渠道参数 state 不能超过 {STATE_MAX} 个字符（现为 {len(state)} 个）", "state"
        )


async def usage() -> int:
    """Live ways, contact and join together (they share WeCom's quota; links do not count)."""
    live = await ContactWay.exclude(kind=WayKind.LINK).count()
    CONTACT_WAYS.set(live)
    return live


async def _guard(deps: Deps) -> None:
    cfg = deps.settings.contact_ways
    live = await usage()
    if live >= cfg.max_live:
        raise ContactWayError(
            409,
            f"联系我和加入群聊二维码已有 {live} 个，达到本系统上限 {cfg.max_live} 个"
            f"（企业微信共 {cfg.quota} 个额度）：请删除不再使用的二维码，或调整配置 "
            f"contact_ways.max_live 后重试",
        )


async def _reusable(
    deps: Deps, kind: WayKind, feature: str, purpose: str, owner_key: str
) -> ContactWay | None:
    way = await ContactWay.get_or_none(
        kind=kind, feature=feature, purpose=purpose, owner_key=owner_key
    )
    if way is None or way.expires_at is None or way.expires_at > deps.now():
        return way
    await delete_way(deps, way)  # expired but not yet swept: make room for the new one
    return None


def _retry_key(kind: WayKind, feature: str, purpose: str, owner_key: str) -> str:
    return f"scrmbot:ways:retry:{kind.value}:{feature}:{purpose}:{owner_key}"


async def _created(deps: Deps, key: str, make: Callable[[], Awaitable[dict[str, Any]]]) -> Any:
    """Ask WeCom for a new way. While WeCom fails for this owner, it is asked again only after
    a wait that doubles per failure (shared by every process), so a busy page showing the QR
    does not hammer a failing API."""
    now = deps.now().timestamp()
    if (retry_at := await deps.redis.get(key + ":at")) and now < float(retry_at):
        raise ContactWayError(503, "企业微信暂时无法生成二维码，请稍后再试")
    try:
        result = await make()
    except WeComError:
        failures = int(await deps.redis.incr(key + ":n"))
        wait = min(RETRY_FIRST * 2 ** (failures - 1), RETRY_MAX)
        async with deps.redis.pipeline(transaction=False) as pipe:
            pipe.expire(key + ":n", 3600)
            pipe.set(key + ":at", now + wait, ex=int(RETRY_MAX) + 60)
            await pipe.execute()
        raise
    await deps.redis.delete(key + ":n", key + ":at")
    return result


async def _store(deps: Deps, fields: dict[str, Any]) -> ContactWay:
    """Keep the way WeCom made; a concurrent request that stored one first wins, and ours is
    deleted in WeCom at once so it never leaks out of the registry."""
    try:
        return await ContactWay.create(**fields)
    except IntegrityError:
        mine = ContactWay(**fields)
        await _delete_in_wecom(deps, mine)
        key = {k: fields[k] for k in ("kind", "feature", "purpose", "owner_key")}
        return await ContactWay.get(**key)


async def _made(
    deps: Deps,
    owner: tuple[WayKind, str, str, str],  # kind, feature, purpose, owner_key
    state: str,
    expires_at: datetime | None,
    make: Callable[[], Awaitable[dict[str, Any]]],
    qr_code: Callable[[dict[str, Any]], Awaitable[str]],
    guarded: bool = True,
) -> ContactWay:
    """The owner's way if one is live, else one made in WeCom (under the quota guard and the
    back-off) and stored; a way whose QR could not be read is deleted in WeCom again."""
    kind, feature, purpose, owner_key = owner
    if way := await _reusable(deps, kind, feature, purpose, owner_key):
        return way
    if guarded:
        await _guard(deps)
    result = await _created(deps, _retry_key(kind, feature, purpose, owner_key), make)
    fields: dict[str, Any] = dict(kind=kind, feature=feature, purpose=purpose, owner_key=owner_key)
    fields |= {"config_id": str(result["config_id"]), "state": state, "expires_at": expires_at}
    try:
        qr = await qr_code(result)
    except Exception:
        await _delete_in_wecom(deps, ContactWay(**fields))
        raise
    return await _store(deps, fields | {"qr_code": qr})


async def contact_way(
    deps: Deps,
    *,
    feature: str,
    purpose: str,
    owner_key: str,
    users: list[str],
    state: str = "",
    expires_at: datetime | None = None,
    remark: str = "",
    skip_verify: bool = True,
) -> ContactWay:
    """The owner's QR contact way, made once and reused (WeCom errors raise `WeComError`)."""
    check_state(state)

    async def qr_code(result: dict[str, Any]) -> str:  # add_contact_way answers with it
        return str(result.get("qr_code") or "")

    return await _made(
        deps,
        (WayKind.CONTACT, feature, purpose, owner_key),
        state,
        expires_at,
        lambda: deps.wecom.add_contact_way(
            type=1 if len(users) == 1 else 2,
            scene=2,
            user=users,
            state=state,
            remark=remark[:30],
            skip_verify=skip_verify,
        ),
        qr_code,
    )


async def join_way(
    deps: Deps,
    *,
    feature: str,
    purpose: str,
    owner_key: str,
    chat_ids: list[str],
    state: str = "",
    expires_at: datetime | None = None,
    remark: str = "",
) -> ContactWay:
    """The owner's group join QR (≤ 5 groups), made once and reused."""
    check_state(state)
    if not 1 <= len(chat_ids) <= JOIN_CHATS_MAX:
        raise ContactWayError(400, f"加入群聊二维码需关联 1 至 {JOIN_CHATS_MAX} 个群聊", "chat_ids")

    async def qr_code(result: dict[str, Any]) -> str:  # add_join_way gives only the config_id
        found = await deps.wecom.get_join_way(str(result["config_id"]))
        return str(found.get("qr_code") or "")

    return await _made(
        deps,
        (WayKind.JOIN, feature, purpose, owner_key),
        state,
        expires_at,
        lambda: deps.wecom.add_join_way(
            scene=2, chat_id_list=chat_ids, state=state, remark=remark[:30]
        ),
        qr_code,
    )


async def acquisition_link(
    deps: Deps,
    *,
    feature: str,
    purpose: str,
    owner_key: str,
    users: list[str],
    name: str,
    expires_at: datetime | None = None,
) -> ContactWay:
    """The owner's 获客链接 (≤ 100 members, the app's secret; W5), made once and reused. It
    uses no contact-way quota but WeCom's paid 获客 quota per new customer; `qr_code` holds
    the link's URL, to which callers append `customer_channel` (≤ 64 bytes, the add's State)."""
    if not 1 <= len(users) <= ACQUISITION_USERS_MAX:
        raise ContactWayError(400, f"获客链接需关联 1 至 {ACQUISITION_USERS_MAX} 名员工", "users")

    async def url(result: dict[str, Any]) -> str:
        return str(result.get("url") or "")

    async def make() -> dict[str, Any]:
        link = await deps.wecom.create_acquisition_link(name[:30], users)
        return {"config_id": link["link_id"], "url": link.get("url", "")}

    return await _made(
        deps, (WayKind.LINK, feature, purpose, owner_key), "", expires_at, make, url, False
    )


async def update_users(deps: Deps, way: ContactWay, users: list[str]) -> None:
    """Put other staff members behind a live contact way or 获客链接; its QR code or URL
    (already printed or forwarded) keeps working. WeCom's refusal raises `WeComError`."""
    if way.kind is WayKind.LINK:
        await deps.wecom.update_acquisition_link(way.config_id, users)
        return
    if way.kind is not WayKind.CONTACT:
        raise ContactWayError(400, "只有联系我二维码可以更换员工", "users")
    await deps.wecom.update_contact_way(way.config_id, user=users)


async def expire(
    feature: str, at: datetime, *, purpose: str | None = None, owner_key: str | None = None
) -> int:
    """Have the feature's ways (of one purpose / owner) deleted after `at`; returns how many."""
    query = ContactWay.filter(feature=feature)
    if purpose is not None:
        query = query.filter(purpose=purpose)
    if owner_key is not None:
        query = query.filter(owner_key=owner_key)
    return int(await query.update(expires_at=at))


async def _delete_in_wecom(deps: Deps, way: ContactWay) -> None:
    if way.kind is WayKind.JOIN:
        await deps.wecom.del_join_way(way.config_id)
    elif way.kind is WayKind.LINK:
        await deps.wecom.delete_acquisition_link(way.config_id)
    else:
        await deps.wecom.del_contact_way(way.config_id)


async def delete_way(deps: Deps, way: ContactWay) -> bool:
    """Delete in WeCom, then forget it; a refusal is recorded and retried by the cron."""
    try:
        await _delete_in_wecom(deps, way)
    except WeComError as exc:
        log.warning("contact way %s could not be deleted: %s", way.config_id, exc)
        await ContactWay.filter(id=way.id).update(delete_error=str(exc)[:1000])
        return False
    await ContactWay.filter(id=way.id).delete()
    return True


async def delete_expired(deps: Deps) -> int:
    """The cron: every way past its `expires_at` deleted in WeCom and here."""
    due = ContactWay.filter(expires_at__lte=deps.now()).order_by("expires_at")
    deleted = 0
    for way in await due.limit(DELETE_BATCH):
        deleted += await delete_way(deps, way)
    await usage()  # keeps the /metrics gauge current
    return deleted
