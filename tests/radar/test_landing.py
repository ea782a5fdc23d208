"""The public landing link: tokens, levels, heartbeats, friends-only and removed pages."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from bot.deps import Deps
from handlers.radar import RadarSettings
from handlers.radar.common import SHARE_PURPOSE, clear_caches, radar_cached, share_by_token
from handlers.radar.followup import finalize
from storage.contact_ways import ContactWay
from storage.radar import Visit
from storage.visitors import Visitor
from tests.radar.support import first_page_src, make_radar, make_share, open_link, page_config
from tests.support import Clock, logged_statements


async def test_random_and_forged_tokens_are_404(client: TestClient, deps: Deps, corp: None) -> None:
    radar = await make_radar(deps)
    share = await make_share(deps, radar)
    rid, _, mac = share.token.partition(".")
    forged = [
        "abc",
        secrets.token_urlsafe(12) + "." + mac,  # someone else's MAC
        rid + "." + "A" * len(mac),
        rid + "." + mac[:-1] + ("A" if mac[-1] != "A" else "B"),
        deps.signer.token("other.purpose"),
    ]
    for token in forged:
        status, body = await open_link(client, f"/r/{token}")
        assert status == 404, token
        assert "链接无效" in body
    status, _ = await open_link(client, f"/r/{deps.signer.token(SHARE_PURPOSE)}")
    assert status == 404  # a valid MAC but no share
    assert await Visit.all().count() == 0
    status, _ = await open_link(client, f"/r/{share.token}")
    assert status == 200


async def test_levels_through_three_forwards(client: TestClient, deps: Deps, corp: None) -> None:
    radar = await make_radar(deps)
    share = await make_share(deps, radar)
    status, html = await open_link(client, f"/r/{share.token}")
    assert status == 200
    first = page_config(html)
    assert first["self"].startswith(f"/r/{share.token}?from=")
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/r/x"))
    assert "scrmbot_v" in cookie
    link = first["self"]
    for _ in range(3):
        status, html = await open_link(client, link)
        assert status == 200
        link = page_config(html)["self"]
    visits = await Visit.all().order_by("level")
    assert [v.level for v in visits] == [1, 2, 3, 4]
    assert [v.channel for v in visits] == ["single", "forward", "forward", "forward"]
    for parent, child in zip(visits, visits[1:], strict=False):
        assert child.parent_visitor_id == parent.visitor_id
    assert visits[0].external_userid == "wm_ann"  # the share's customer, not the forwards
    assert all(v.external_userid == "" for v in visits[1:])
    assert {v.root_userid for v in visits} == {"alice"}


async def test_revisit_keeps_level_and_forged_from_is_ignored(
    client: TestClient, deps: Deps, corp: None
) -> None:
    radar = await make_radar(deps)
    share = await make_share(deps, radar)
    _, html = await open_link(client, f"/r/{share.token}")
    link = page_config(html)["self"]
    await open_link(client, link)  # level 2 in a new browser
    await open_link(client, link, fresh=False)  # the same browser again
    await open_link(client, f"/r/{share.token}?from=someone.forgedmac123")
    levels = sorted(v.level for v in await Visit.all())
    assert levels == [1, 2, 2, 2]  # the forged `from` is dropped: a second browser, a forward


async def test_beats_give_duration_and_progress(
    client: TestClient, deps: Deps, corp: None, clock: object
) -> None:
    radar = await make_radar(deps)
    share = await make_share(deps, radar)
    _, html = await open_link(client, f"/r/{share.token}")
    cfg = page_config(html)
    for t, page in ((5, 1), (10, 2), (15, 3), (12, 2)):
        clock.advance(5)  # type: ignore[attr-defined]
        resp = await client.post(
            cfg["beat"], data=f'{{"k":"{cfg["key"]}","t":{t},"p":{page * 25},"pg":{page}}}'
        )
        assert resp.status == 204
    resp = await client.post(cfg["beat"], data='{"k":"x.1.bad","t":999}')
    assert resp.status == 400
    resp = await client.post(cfg["beat"], data=f'{{"k":"{cfg["key"]}","t":9999,"p":100}}')
    assert resp.status == 204  # accepted but capped by the time that really passed
    visit = await Visit.get()
    assert await finalize(deps, visit.id, 0) is False  # still beating
    clock.advance(120)  # type: ignore[attr-defined]
    assert await finalize(deps, visit.id, 1) is True
    await visit.refresh_from_db()
    assert visit.duration_seconds == 30  # 20 s elapsed + 10 s slack, not 9999
    assert visit.progress == 100
    assert visit.max_page == 3
    assert visit.finalized


async def test_a_beat_answers_404_for_a_forged_link_and_400_for_another_links_key(
    client: TestClient, deps: Deps, corp: None
) -> None:
    radar = await make_radar(deps)
    share, other = await make_share(deps, radar), await make_share(deps, radar)
    _, html = await open_link(client, f"/r/{share.token}")
    cfg = page_config(html)
    body = f'{{"k":"{cfg["key"]}","t":1}}'
    rid, _, mac = share.token.partition(".")
    forged = rid + "." + mac[:-1] + ("A" if mac[-1] != "A" else "B")
    assert (await client.post(f"/r/{forged}/beat", data=body)).status == 404
    assert (await client.post("/r/abc/beat", data=body)).status == 404
    assert (await client.post(f"/r/{other.token}/beat", data=body)).status == 400
    assert (await client.post(cfg["beat"], data=body)).status == 204
    assert cfg["beat"] == f"/r/{share.token}/beat"


async def test_beats_are_rate_limited(client: TestClient, deps: Deps, corp: None) -> None:
    radar = await make_radar(deps)
    share = await make_share(deps, radar)
    _, html = await open_link(client, f"/r/{share.token}")
    cfg = page_config(html)
    body = f'{{"k":"{cfg["key"]}","t":1}}'
    statuses = [(await client.post(cfg["beat"], data=body)).status for _ in range(45)]
    assert statuses.count(204) == 40
    assert statuses[-1] == 429
    resp = await client.post(cfg["beat"], data="x" * 2000)
    assert resp.status in (400, 429)


async def test_friends_only_asks_to_add_staff(client: TestClient, deps: Deps, corp: None) -> None:
    radar = await make_radar(deps, friends_only=True)
    group_share = await make_share(deps, radar, ext="")
    status, html = await open_link(client, f"/r/{group_share.token}")
    assert status == 403
    assert "添加顾问" in html and "Alice" in html
    # WeCom's qr_code is an image: shown as is, never redrawn as a QR code of its URL.
    assert '<img src="https://wework.qpic.cn/wwpic/cw1/0"' in html
    assert (await client.get(f"/r/{group_share.token}/qr.png")).status == 404
    assert await Visit.all().count() == 0
    share = await make_share(deps, radar)  # sent to wm_ann, alice's customer
    status, html = await open_link(client, f"/r/{share.token}")
    assert status == 200
    assert await Visit.all().count() == 1


async def test_one_contact_way_per_advisor_reused(
    client: TestClient, deps: Deps, corp: None, clock: Clock
) -> None:
    radar = await make_radar(deps, friends_only=True)
    share = await make_share(deps, radar, ext="")
    other = await make_share(deps, await make_radar(deps, friends_only=True), ext="")
    for token in (share.token, other.token, share.token):
        await open_link(client, f"/r/{token}")
    clock.now += timedelta(days=3)  # a day later it is still the same way
    await open_link(client, f"/r/{share.token}")
    assert [w["user"] for w in deps.wecom.ways] == [["alice"]]  # type: ignore[attr-defined]
    way = await ContactWay.get(feature="radar", purpose="advisor", owner_key="alice")
    assert way.config_id == "cw1" and way.state == "radar" and way.expires_at is None


async def test_contact_way_failure_is_not_kept(
    client: TestClient, deps: Deps, corp: None, clock: Clock
) -> None:
    radar = await make_radar(deps, friends_only=True)
    share = await make_share(deps, radar, ext="")
    deps.wecom.failing.add("add_contact_way")  # type: ignore[attr-defined]
    status, html = await open_link(client, f"/r/{share.token}")
    assert status == 403 and "暂时无法显示二维码" in html and "<img" not in html
    assert not await ContactWay.exists()
    clock.advance(11)  # past the first back-off
    status, html = await open_link(client, f"/r/{share.token}")
    assert '<img src="https://wework.qpic.cn/wwpic/cw1/0"' in html


async def test_contact_qr_backs_off_while_wecom_fails(
    client: TestClient, deps: Deps, corp: None, clock: Clock
) -> None:
    """20 views while WeCom fails cost one call, not 20 (or 80 with the client's retries);
    the waits double, and the real QR is shown once WeCom answers."""
    radar = await make_radar(deps, friends_only=True)
    share = await make_share(deps, radar, ext="")
    wecom = deps.wecom
    wecom.down.add("add_contact_way")  # type: ignore[attr-defined]
    for _ in range(20):
        assert (await open_link(client, f"/r/{share.token}"))[0] == 403
    assert wecom.calls.count("add_contact_way") == 1  # type: ignore[attr-defined]
    for wait in (10, 20, 40):
        clock.advance(wait - 1)
        await open_link(client, f"/r/{share.token}")
        assert wecom.calls.count("add_contact_way") == 1 + (wait > 10) + (wait > 20)  # type: ignore[attr-defined]
        clock.advance(1)
        await open_link(client, f"/r/{share.token}")
        assert wecom.calls.count("add_contact_way") == 2 + (wait > 10) + (wait > 20)  # type: ignore[attr-defined]
    wecom.down.clear()  # type: ignore[attr-defined]
    clock.advance(80)
    _, html = await open_link(client, f"/r/{share.token}")
    assert "<img src=" in html and await ContactWay.exists(owner_key="alice")


async def test_deleted_radar_shows_removed_page(client: TestClient, deps: Deps, corp: None) -> None:
    from handlers.radar.common import forget_radar

    radar = await make_radar(deps)
    share = await make_share(deps, radar)
    _, html = await open_link(client, f"/r/{share.token}")
    file_url = page_config(html)["files"][0]
    assert (await client.get(file_url)).status == 200
    radar.deleted = True
    await radar.save()
    forget_radar(radar.id)
    status, html = await open_link(client, f"/r/{share.token}")
    assert status == 410
    assert "内容已下架" in html and "请联系您的顾问Alice" in html  # who sent it, and how
    assert 'alt="顾问Alice的联系二维码"' in html
    assert (await client.get(file_url)).status == 410


async def test_link_type_redirects_after_recording(
    client: TestClient, deps: Deps, corp: None
) -> None:
    from storage.radar import RadarType

    radar = await make_radar(deps, type=RadarType.LINK, url="https://example.com/a", files=[])
    share = await make_share(deps, radar)
    resp = await client.get(f"/r/{share.token}", allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "https://example.com/a"
    assert "scrmbot_v" in resp.cookies
    assert await Visit.all().count() == 1
    assert await Visitor.all().count() == 0  # an anonymous browser: its id is in its cookie
    jobs = [name for name, *_ in deps.queue.jobs]  # type: ignore[attr-defined]
    assert jobs == ["radar_followups"]  # no heartbeat write-back for links


async def test_landing_opens_are_limited_per_visitor_then_per_address(
    client: TestClient, deps: Deps, corp: None, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    """A browser with our cookie has its own budget; browsers without one (each open a new
    visitor) share their address's budget, so one exhausted address locks no customer out."""
    radar = await make_radar(deps)
    share = await make_share(deps, radar, ext="")
    link = f"/r/{share.token}"
    monkeypatch.setattr(deps.section(RadarSettings), "landing_per_minute", 3)
    monkeypatch.setattr(deps.section(RadarSettings), "new_visitors_per_minute", 4)
    assert (await open_link(client, link))[0] == 200  # this browser keeps its cookie
    kept = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    statuses = [(await open_link(client, link))[0] for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # the address's new-visitor budget (4) is spent
    client.session.cookie_jar.update_cookies(kept)
    statuses = [(await open_link(client, link, fresh=False))[0] for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # the visitor's own budget (3), not the address's
    clock.advance(60)
    assert (await open_link(client, link))[0] == 200  # a new minute
    assert await Visit.filter(radar_id=radar.id).count() == 8


async def test_carrier_nat_does_not_lock_out_new_visitors(
    client: TestClient, deps: Deps, corp: None
) -> None:
    """150 phones behind one address open a link within a minute (the old limit refused the
    121st); with the default settings every one of them gets the page."""
    radar = await make_radar(deps)
    share = await make_share(deps, radar, ext="")
    link = f"/r/{share.token}"
    statuses = [(await open_link(client, link))[0] for _ in range(150)]
    assert statuses.count(200) == 150


async def test_forwarded_for_counts_only_through_trusted_proxies(
    client: TestClient, deps: Deps, corp: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    radar = await make_radar(deps)
    share = await make_share(deps, radar, ext="")
    link = f"/r/{share.token}"
    monkeypatch.setattr(deps.section(RadarSettings), "new_visitors_per_minute", 2)

    async def opens(client_ip: str) -> list[int]:
        out = []
        for _ in range(3):
            client.session.cookie_jar.clear()
            resp = await client.get(link, headers={"X-Forwarded-For": f"{client_ip}, 10.0.0.7"})
            out.append(resp.status)
        return out

    assert await opens("203.0.113.1") == [200, 200, 429]
    assert await opens("203.0.113.2") == [429] * 3  # not trusted: the header is ignored
    monkeypatch.setattr(deps.settings.server, "trusted_proxies", ["127.0.0.1", "10.0.0.0/8"])
    assert await opens("203.0.113.3") == [200, 200, 429]  # each client its own budget
    assert await opens("203.0.113.4") == [200, 200, 429]


async def test_a_beat_redis_cannot_take_is_a_503_not_a_500(
    client: TestClient, deps: Deps, corp: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redis.exceptions import ConnectionError as RedisDown

    from handlers.radar import visits

    radar = await make_radar(deps)
    share = await make_share(deps, radar)
    _, html = await open_link(client, f"/r/{share.token}")
    cfg = page_config(html)

    async def down(*args: object, **kwargs: object) -> None:
        raise RedisDown("Connection refused")

    monkeypatch.setattr(visits, "add_beat", down)
    resp = await client.post(cfg["beat"], data=f'{{"k":"{cfg["key"]}","t":5}}')
    assert resp.status == 503


async def test_pdf_first_page_image_drawn_for_an_older_radar(
    client: TestClient, deps: Deps, corp: None
) -> None:
    """A PDF stored before first pages were drawn at upload gets its image on the first
    request for it, once; only the first page of this radar's own PDF is served."""
    from handlers.radar import uploads

    radar = await make_radar(deps)  # stored as a plain file: no image beside it
    pdf_name = radar.files[0]["name"]
    image = uploads.upload_dir(deps.settings) / uploads.first_page_name(pdf_name)
    assert not image.exists()
    share = await make_share(deps, radar)
    _, html = await open_link(client, f"/r/{share.token}")
    src = first_page_src(html)
    assert src == f"/r/{share.token}/f/{image.name}"
    assert "modulepreload" not in html  # the viewer waits for the image
    resp = await client.get(src)
    assert resp.status == 200 and resp.content_type == "image/jpeg"
    body = await resp.read()
    assert body.startswith(b"\xff\xd8\xff") and image.read_bytes() == body
    drawn = image.stat().st_mtime_ns
    assert (await client.get(src)).status == 200 and image.stat().st_mtime_ns == drawn
    other = await make_radar(deps)  # another radar's first page is not this link's file
    other_image = uploads.first_page_name(other.files[0]["name"])
    assert (await client.get(f"/r/{share.token}/f/{other_image}")).status == 404
    assert not (uploads.upload_dir(deps.settings) / other_image).exists()


async def test_undrawable_older_pdf_has_no_first_page_image(
    client: TestClient, deps: Deps, corp: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A damaged PDF kept from before uploads were checked: the image answers 404 (the
    viewer then tries the page itself), and pdfium is not asked again on every open."""
    from handlers.radar import uploads

    tries: list[str] = []
    render = uploads.render_first_page

    def counted(path: Path) -> tuple[int, int, int] | None:
        tries.append(path.name)
        return render(path)

    monkeypatch.setattr(uploads, "render_first_page", counted)
    name = uploads.store(
        deps.settings, b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n", "pdf", "PDF"
    )
    radar = await make_radar(deps, files=[{"name": name, "size": 40, "pages": 1}])
    share = await make_share(deps, radar)
    _, html = await open_link(client, f"/r/{share.token}")
    src = first_page_src(html)
    assert (await client.get(src)).status == 404
    assert (await client.get(src)).status == 404
    assert tries == [name]


async def test_an_expired_radar_is_read_once_by_the_opens_in_flight(deps: Deps, corp: None) -> None:
    """A popular link's cache entry expires under load: the opens that miss it together wait
    for one query rather than each running its own."""
    radar = await make_radar(deps)
    share = await make_share(deps, radar)
    clear_caches()
    with logged_statements("SELECT") as statements:
        shares = await asyncio.gather(*(share_by_token(share.token) for _ in range(10)))
        radars = await asyncio.gather(*(radar_cached(radar.id) for _ in range(10)))
    assert {s.id for s in shares if s} == {share.id} and len(shares) == 10
    assert {r.id for r in radars if r} == {radar.id} and len(radars) == 10
    assert len([t for t in statements.texts if 'FROM "radar_share"' in t]) == 1, statements.texts
    assert len([t for t in statements.texts if 'FROM "radar" ' in t]) == 1, statements.texts
    missing = await asyncio.gather(*(radar_cached(radar.id + 99) for _ in range(3)))
    assert missing == [None, None, None]  # not found is not cached: the next open asks again
