"""Smart follow-up: tags once, timeline with duration, alerts coalesced per 30 minutes."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from bot.deps import Deps
from bot.domain_events import RadarVisited
from bot.wecom_errors import WeComError
from handlers.radar.followup import finalize, followup
from handlers.radar.visits import add_beat, epoch
from storage.core import DomainEventRow
from storage.facts import TimelineEntry
from storage.radar import AlertLog, TagMark, Visit
from storage.visitors import Visitor
from tests.auth.support import sign_in
from tests.radar.conftest import Clock
from tests.radar.support import make_radar, make_share, open_link, page_config


async def _run_jobs(deps: Deps) -> None:
    queue = deps.queue
    jobs, queue.jobs = list(queue.jobs), []  # type: ignore[attr-defined]
    for name, args, *_ in jobs:
        if name == "radar_followups":
            for visit_id in args[0]:
                await followup(deps, visit_id)


async def test_alert_tags_and_timeline(
    client: TestClient, deps: Deps, corp: None, clock: Clock
) -> None:
    radar = await make_radar(deps, tag_ids=["tag_hot"])
    share = await make_share(deps, radar)
    await open_link(client, f"/r/{share.token}")
    await _run_jobs(deps)
    wecom = deps.wecom
    assert len(wecom.cards) == 1  # type: ignore[attr-defined]
    touser, card = wecom.cards[0]  # type: ignore[attr-defined]
    assert touser == ["alice"]
    assert card["main_title"]["title"] == "客户 安 正在查看《产品手册》"
    assert card["card_action"]["url"] == deps.url("/sidebar?open=profile&external_userid=wm_ann")
    assert wecom.tags == [("alice", "wm_ann", ["tag_hot"])]  # type: ignore[attr-defined]
    entry = await TimelineEntry.get(external_userid="wm_ann", kind="radar_view")
    assert entry.text == "查看了雷达《产品手册》"
    visit = await Visit.get()
    clock.advance(40)
    await add_beat(deps, visit.id, epoch(visit.started_at), 35, 75, 3)
    clock.advance(100)
    assert await finalize(deps, visit.id, 1)
    await entry.refresh_from_db()
    assert entry.text == "查看了雷达《产品手册》，停留35秒，进度75%"
    # again within 30 minutes: no second card, no second tag call; a new timeline entry
    clock.advance(60)
    await open_link(client, f"/r/{share.token}", fresh=False)
    await _run_jobs(deps)
    assert len(wecom.cards) == 1  # type: ignore[attr-defined]
    assert len(wecom.tags) == 1  # type: ignore[attr-defined]
    assert await TimelineEntry.filter(external_userid="wm_ann", kind="radar_view").count() == 2
    clock.advance(31 * 60)
    await open_link(client, f"/r/{share.token}", fresh=False)
    await _run_jobs(deps)
    assert len(wecom.cards) == 2  # type: ignore[attr-defined]
    assert await AlertLog.all().count() == 2


async def test_level_two_alert_goes_to_root_staff(
    client: TestClient, deps: Deps, corp: None
) -> None:
    """A level-2 visitor who is a known customer (identified by the service account)."""
    radar = await make_radar(deps)
    share_ann = await make_share(deps, radar, userid="alice", ext="wm_ann")
    share_ben = await make_share(deps, radar, userid="bob", ext="")
    _, html = await open_link(client, f"/r/{share_ann.token}")
    forward = page_config(html)["self"]
    await open_link(client, f"/r/{share_ben.token}")  # a new browser ...
    ben = await Visit.get(share_id=share_ben.id)
    await Visitor.create(
        id=ben.visitor_id, openid="o_ben", external_userid="wm_ben", created_at=deps.now()
    )  # what the service account's OAuth stores
    await open_link(client, forward, fresh=False)  # ... that OAuth knows as ben
    await _run_jobs(deps)
    cards = deps.wecom.cards  # type: ignore[attr-defined]
    to_alice = [c for u, c in cards if u == ["alice"]]
    assert len(to_alice) == 2
    rows = {r["keyname"]: r["value"] for r in to_alice[1]["horizontal_content_list"]}
    assert rows["客户层级"] == "2级" and rows["转发人"] == "安"
    assert to_alice[1]["main_title"]["title"].startswith("客户 本 正在查看")


async def test_anonymous_visit_has_no_followup(client: TestClient, deps: Deps, corp: None) -> None:
    radar = await make_radar(deps)
    share = await make_share(deps, radar, ext="")
    await open_link(client, f"/r/{share.token}")
    await _run_jobs(deps)
    assert deps.wecom.cards == []  # type: ignore[attr-defined]
    assert await TimelineEntry.all().count() == 0


async def test_failed_wecom_calls_do_not_use_up_tags_or_alert(
    client: TestClient, deps: Deps, corp: None, clock: Clock
) -> None:
    """A tag call or alert that WeCom refused is tried again on the next visit."""
    radar = await make_radar(deps, tag_ids=["tag_hot"])
    share = await make_share(deps, radar)
    await open_link(client, f"/r/{share.token}")
    first = await Visit.get()
    deps.wecom.failing.update({"mark_tag", "send_template_card"})  # type: ignore[attr-defined]
    with pytest.raises(WeComError):
        await followup(deps, first.id)  # the tag call fails
    with pytest.raises(WeComError):
        await followup(deps, first.id)  # tagged now; the alert fails
    assert await AlertLog.all().count() == 0
    clock.advance(60)
    await open_link(client, f"/r/{share.token}", fresh=False)
    deps.queue.jobs = []  # type: ignore[attr-defined]
    second = await Visit.exclude(id=first.id).get()
    await followup(deps, second.id)
    assert deps.wecom.tags == [("alice", "wm_ann", ["tag_hot"])]  # type: ignore[attr-defined]
    assert len(deps.wecom.cards) == 1  # type: ignore[attr-defined]


async def test_a_failed_followup_is_retried_on_its_own(
    client: TestClient, deps: Deps, corp: None
) -> None:
    radar = await make_radar(deps, tag_ids=["tag_hot"])
    share = await make_share(deps, radar)
    await open_link(client, f"/r/{share.token}")
    visit = await Visit.get()
    jobs = {j.__name__: j for j in deps.dispatcher.jobs}
    deps.wecom.failing.add("mark_tag")  # type: ignore[attr-defined]
    deps.queue.jobs = []  # type: ignore[attr-defined]
    await jobs["radar_followups"]({"deps": deps}, [visit.id])
    [(name, args, _, delay)] = deps.queue.jobs  # type: ignore[attr-defined]
    assert (name, args) == ("radar_followups", ([visit.id], 1)) and delay
    await jobs["radar_followups"]({"deps": deps}, *args)
    assert deps.wecom.tags == [("alice", "wm_ann", ["tag_hot"])]  # type: ignore[attr-defined]
    assert len(deps.wecom.cards) == 1  # type: ignore[attr-defined]


async def test_alert_for_someone_elses_customer_leads_to_the_lead_page(
    client: TestClient, deps: Deps, corp: None
) -> None:
    """Ben (bob's customer) reads alice's radar through a forward: alice's card opens a page
    she may see — the lead and how to take them on — not a profile refused to her."""
    radar = await make_radar(deps)
    share_ann = await make_share(deps, radar, userid="alice", ext="wm_ann")
    _, html = await open_link(client, f"/r/{share_ann.token}")
    await open_link(client, page_config(html)["self"])  # a new browser ...
    ben = await Visit.get(level=2)
    await Visitor.create(
        id=ben.visitor_id, openid="o_ben", external_userid="wm_ben", created_at=deps.now()
    )  # what the service account's OAuth stores
    await open_link(client, page_config(html)["self"], fresh=False)  # ... known as ben
    await _run_jobs(deps)
    cards = [c for u, c in deps.wecom.cards if u == ["alice"]]  # type: ignore[attr-defined]
    own, lead = cards[0], cards[1]
    assert own["button_list"][0]["text"] == "查看客户画像"
    assert lead["button_list"][0]["text"] == "查看线索"
    url = lead["card_action"]["url"]
    assert url.startswith(deps.url("/radar/lead/"))
    path = url.removeprefix(deps.settings.base_url)
    await sign_in(client, deps, "alice")
    page = await client.get(path)
    text = await page.text()
    assert page.status == 200
    assert "本" in text and "产品手册" in text and "Bob" in text and "在职继承" in text
    await sign_in(client, deps, "carol")  # not the sender
    assert (await client.get(path)).status == 404
    await sign_in(client, deps, "bob")  # ben's own advisor, but not the sender either
    assert (await client.get(path)).status == 404


async def test_tagged_once_even_after_redis_is_lost(
    client: TestClient, deps: Deps, corp: None, clock: Clock
) -> None:
    """The "already tagged" mark lives in the database: a Redis flush does not re-tag."""
    radar = await make_radar(deps, tag_ids=["tag_hot"])
    share = await make_share(deps, radar)
    await open_link(client, f"/r/{share.token}")
    await _run_jobs(deps)
    assert deps.wecom.tags == [("alice", "wm_ann", ["tag_hot"])]  # type: ignore[attr-defined]
    await deps.redis.flushdb()
    clock.advance(60)
    await open_link(client, f"/r/{share.token}", fresh=False)
    await _run_jobs(deps)
    assert await Visit.all().count() == 2
    assert deps.wecom.tags == [("alice", "wm_ann", ["tag_hot"])]  # type: ignore[attr-defined]
    assert await TagMark.filter(radar_id=radar.id, external_userid="wm_ann").count() == 1


async def test_a_visit_publishes_radar_visited_once(
    client: TestClient, deps: Deps, corp: None
) -> None:
    radar = await make_radar(deps)
    share = await make_share(deps, radar)
    await open_link(client, f"/r/{share.token}")
    visit = await Visit.get()
    await followup(deps, visit.id)
    await followup(deps, visit.id)  # a re-run job
    [row] = await DomainEventRow.filter(kind="RadarVisited")
    event = RadarVisited.model_validate(row.payload)
    assert (event.visit_id, event.radar_id, event.external_userid) == (visit.id, radar.id, "wm_ann")
    assert (event.userid, event.level, event.radar_title) == ("alice", 1, "产品手册")
