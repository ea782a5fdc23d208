"""The tracked link in a moment, `/m/<token>`: a customer's click is recorded (visitor
identity from the platform's chain) and the browser goes on to the content's URL; the staff
member whose moment it was gets an alert card, coalesced per (member, visitor, run) over
`[sop] alert_window_minutes`.

A personal post carries the member's own token, so a click names its member. An enterprise
task has one URL for every sender (one task per run), so a click is given to the run's
poster who follows the customer, when the customer is known; otherwise nobody is alerted."""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp import web
from tortoise.exceptions import IntegrityError

from bot import visitor_oauth, visitors
from bot.deps import Deps
from bot.http import RequestContext, message_page
from cards.sop import ClickAlert, click_alert_card
from handlers.sop.router import SopSettings, router
from handlers.sop.runs import LINK_PURPOSE
from storage.directory import Staff
from storage.facts import Customer, FollowRelation
from storage.sop import SopAlert, SopClick, SopPlan, SopRun, SopTask, TaskState

log = logging.getLogger(__name__)
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{8,40}\.[A-Za-z0-9_-]{10,40}$")
OPENS_PER_MINUTE = 30
ALERT_JOB = "sop_click_alert"


def _gone() -> web.Response:
    return message_page(404, "链接已失效", "该链接不存在或已失效。")


async def _resolve(deps: Deps, token: str) -> tuple[SopRun, SopTask | None] | None:
    if not TOKEN_RE.match(token) or not deps.signer.check_token(LINK_PURPOSE, token):
        return None
    task = await SopTask.get_or_none(token=token)
    if task is not None:
        found = await SopRun.get_or_none(id=task.run_id)
        return (found, task) if found else None
    sop_run = await SopRun.get_or_none(token=token)
    return (sop_run, None) if sop_run else None


async def _owner(sop_run: SopRun, external_userid: str) -> SopTask | None:
    """Task mode: the run's poster who follows this customer (posted first wins)."""
    if not external_userid:
        return None
    rows = await FollowRelation.filter(external_userid=external_userid, active=True).values_list(
        "userid", flat=True
    )
    followers = {str(u) for u in rows}
    posted = await SopTask.filter(run_id=sop_run.id, state=TaskState.POSTED).order_by("acted_at")
    return next((t for t in posted if t.userid in followers), None)


@router.get(r"/m/{token}", role=None)
async def open_link(ctx: RequestContext) -> web.StreamResponse:
    token = ctx.request.match_info["token"]
    resolved = await _resolve(ctx.deps, token)
    if resolved is None:
        return _gone()
    sop_run, task = resolved
    target = str((sop_run.item.get("link") or {}).get("url", ""))
    if not target.startswith(("http://", "https://")):
        return _gone()
    if not visitors.allow(ctx, "sop.open", visitors.request_visitor_id(ctx), OPENS_PER_MINUTE):
        return message_page(429, "访问过于频繁", "您打开得太频繁了，请稍后再试。")
    visitor = await visitors.identify(ctx)
    if visitor_oauth.wanted(ctx, visitor):
        response: web.StreamResponse = visitor_oauth.authorize_redirect(
            ctx.deps, f"/m/{token}/oauth", {}
        )
        visitors.keep(ctx, response, visitor)
        return response
    try:
        await record_click(ctx.deps, sop_run, task, visitor.id, visitor.external_userid)
    except Exception:  # the customer still reaches the content; the click is what is lost
        log.exception("sop: a click could not be recorded")
    response = web.Response(status=302, headers={"Location": target, "Cache-Control": "no-store"})
    visitors.keep(ctx, response, visitor)
    return response


@router.get(r"/m/{token}/oauth", role=None)
async def oauth_return(ctx: RequestContext) -> web.StreamResponse:
    token = ctx.request.match_info["token"]
    if await _resolve(ctx.deps, token) is None:
        return _gone()
    visitor = await visitors.identify(ctx)
    await visitor_oauth.adopt(ctx, f"/m/{token}/oauth", visitor)
    location = visitor_oauth.return_location(f"/m/{token}", {})
    response = web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})
    visitors.write_cookie(ctx, response, visitor.id, tried=True)
    return response


async def record_click(
    deps: Deps, sop_run: SopRun, task: SopTask | None, visitor_id: str, external_userid: str
) -> SopClick | None:
    """One row per (link, visitor, minute): a reload is not a second click."""
    if task is None:
        task = await _owner(sop_run, external_userid)
    now = deps.now()
    minute = int(now.timestamp()) // 60
    link = task.token if task else sop_run.token
    try:
        click = await SopClick.create(
            key=f"{link[:60]}:{visitor_id[:40]}:{minute}",
            task_id=task.id if task else 0,
            run_id=sop_run.id,
            userid=task.userid if task else "",
            visitor_id=visitor_id,
            external_userid=external_userid,
            at=now,
        )
    except IntegrityError:
        return None
    if task is not None:
        try:
            await deps.queue.enqueue(ALERT_JOB, click.id, job_id=f"sop-click:{click.id}")
        except Exception:  # Redis away: the click is stored; only its alert is lost
            log.warning("sop: the click alert could not be queued", exc_info=True)
    return click


@router.job
async def sop_click_alert(ctx: dict[str, Any], click_id: int) -> bool:
    return await send_alert(ctx["deps"], click_id)


async def send_alert(deps: Deps, click_id: int) -> bool:
    """One card per (member, visitor, run) per window; the ledger row decides."""
    click = await SopClick.get_or_none(id=click_id)
    if click is None or not click.userid:
        return False
    window = deps.section(SopSettings).alert_window_minutes
    bucket = int(click.at.timestamp()) // 60 // window
    who_key = click.external_userid or click.visitor_id
    try:
        ledger = await SopAlert.create(
            key=f"{click.userid}:{who_key}:{click.run_id}:{bucket}"[:200],
            userid=click.userid,
            sent_at=deps.now(),
        )
    except IntegrityError:
        return False
    sop_run = await SopRun.get(id=click.run_id)
    plan = await SopPlan.get_or_none(id=sop_run.plan_id)
    customer = await Customer.get_or_none(external_userid=click.external_userid)
    who = customer.name if customer and customer.name else "一位访客"
    url = (
        deps.url(f"/sidebar?open=profile&external_userid={click.external_userid}")
        if click.external_userid
        else deps.url(f"/sidebar?open=sop&task={click.task_id}")
    )
    card = click_alert_card(
        ClickAlert(
            who=who,
            link_title=str((sop_run.item.get("link") or {}).get("title", "")),
            plan_name=plan.name if plan else "",
            at_text=click.at.astimezone(deps.settings.tz).strftime("%H:%M"),
            url=url,
        )
    )
    try:
        await deps.wecom.send_template_card([click.userid], card)
    except Exception:
        await ledger.delete()  # not sent: the next click in this window may alert
        raise
    return True


async def staff_name(userid: str) -> str:
    staff = await Staff.get_or_none(userid=userid)
    return staff.name if staff else userid
