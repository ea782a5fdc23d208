"""The radar on the visitor chain: a personal link belongs to the first browser that opens it;
the friends-only gate covers every way into the content."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.deps import Deps
from storage.radar import Visit
from tests.radar.support import first_page_src, make_radar, make_share, open_link, page_config
from tests.support import Clock


async def test_original_link_belongs_to_the_first_browser(
    client: TestClient, deps: Deps, corp: None, clock: Clock
) -> None:
    radar = await make_radar(deps)
    share = await make_share(deps, radar)  # sent to wm_ann in a single chat
    link = f"/r/{share.token}"
    assert (await open_link(client, link))[0] == 200  # ann's phone
    ann_jar = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    clock.advance(1)
    assert (await open_link(client, link))[0] == 200  # a friend opens the forwarded card
    friend_jar = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies(ann_jar)
    clock.advance(1)
    assert (await open_link(client, link, fresh=False))[0] == 200  # ann again
    ann, friend, ann_again = await Visit.all().order_by("started_at", "id")
    assert ann.visitor_id == ann_again.visitor_id != friend.visitor_id
    assert (ann.external_userid, ann.level) == ("wm_ann", 1)
    assert (ann_again.external_userid, ann_again.level) == ("wm_ann", 1)
    assert (friend.external_userid, friend.level, friend.channel) == ("", 2, "forward")
    assert friend.parent_visitor_id == ann.visitor_id
    other = await make_share(deps, await make_radar(deps), ext="")  # a later group send
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies(friend_jar)
    await open_link(client, f"/r/{other.token}", fresh=False)
    later = await Visit.get(share_id=other.id)
    assert later.visitor_id == friend.visitor_id and later.external_userid == ""


async def test_friends_only_content_only_for_the_first_browser(
    client: TestClient, deps: Deps, corp: None
) -> None:
    radar = await make_radar(deps, friends_only=True)
    share = await make_share(deps, radar)
    link = f"/r/{share.token}"
    status, html = await open_link(client, link)
    assert status == 200
    file_url = page_config(html)["files"][0]
    first_page = first_page_src(html)  # the PDF's first page as an image
    assert (await client.get(file_url)).status == 200  # ann, a customer
    assert (await client.get(first_page)).status == 200
    status, _ = await open_link(client, link)  # a forward of the same card
    assert status == 403
    assert (await client.get(file_url)).status == 403  # nor the file behind it
    assert (await client.get(first_page)).status == 403  # nor its first page
    client.session.cookie_jar.clear()
    assert (await client.get(file_url)).status == 403  # no cookie at all
    assert (await client.get(first_page)).status == 403
    status, _ = await open_link(client, f"{link}?from=nobody.forged12345")
    assert status == 403  # a bad `from` is no way round the gate
    assert await Visit.filter(external_userid="").count() == 0
