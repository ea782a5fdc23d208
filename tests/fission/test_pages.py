"""The customer pages by phase: the warm-up page and signing up before the start, the ended
page (participants still see progress and how to redeem, others only that it ended), and the
identity every action needs."""

from __future__ import annotations

import re
from datetime import timedelta

from aiohttp.test_utils import TestClient

from bot.deps import Deps
from handlers.fission.credit import credit, state_of
from handlers.fission.pages import personal_url
from storage.fission import FissionParticipant
from tests.fission.conftest import T0, make_activity, make_participant
from tests.support import Clock


def path(url: str) -> str:
    return url[url.index("/f/") :]


async def test_warm_up_sign_up_and_ended(client: TestClient, deps: Deps, clock: Clock) -> None:
    activity = await make_activity(tiers=((1, 5),))
    clock.now = T0 - timedelta(hours=2)
    link = path(personal_url(deps, activity.id, "wm_early"))
    page = await (await client.get(link)).text()
    assert "活动即将开始" in page and "立即报名" in page
    token = re.search(r'name="token" value="([^"]+)"', page)
    assert token
    resp = await client.post(
        link.replace("?", "/join?"), data={"token": token.group(1)}, allow_redirects=False
    )
    assert resp.status == 303
    assert await FissionParticipant.exists(activity_id=activity.id, external_userid="wm_early")
    resp = await client.get(f"/f/{activity.id}/poster.png?" + link.split("?")[1])
    assert resp.status == 409  # no poster before the start

    winner = await make_participant(activity, "wm_w")
    await credit(
        deps,
        state=state_of(winner.code),
        helper="wm_h",
        userid="alice",
        at=T0 + timedelta(minutes=1),
    )
    clock.now = T0 + timedelta(days=8)  # ended
    async with client.session.get(
        client.make_url(path(personal_url(deps, activity.id, "wm_w")))
    ) as r:
        page = await r.text()
    assert "恭喜获得「奖品1」" in page and "已获得的奖品仍可领取" in page
    assert "poster-img" not in page


async def test_strangers_and_forged_tokens(client: TestClient, deps: Deps, clock: Clock) -> None:
    activity = await make_activity()
    page = await (await client.get(f"/f/{activity.id}")).text()
    assert "请从顾问发给您的链接打开" in page and "立即报名" not in page
    resp = await client.post(f"/f/{activity.id}/join", data={"token": "forged"})
    assert resp.status == 400
    resp = await client.get(f"/f/{activity.id}/progress")
    assert resp.status == 403
    resp = await client.get(f"/f/{activity.id}?t=eyJhIjoxLCJlIjoid21fdyJ9.forged")
    assert "请从顾问发给您的链接打开" in await resp.text()
    assert (await client.get("/f/999")).status == 404
    clock.now = T0 + timedelta(days=8)
    page = await (await client.get(f"/f/{activity.id}")).text()
    assert "活动已结束" in page
