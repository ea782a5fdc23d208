"""The console's live stream (SSE) ends as soon as the process starts shutting down, so a
deploy never waits on a keepalive."""

from __future__ import annotations

from aiohttp import StreamReader
from aiohttp.test_utils import TestClient

from bot.deps import Deps
from bot.lifecycle import shutdown
from handlers.radar.common import live_channel
from handlers.radar.live import live_streams
from tests.auth.support import sign_in
from tests.radar.support import make_radar


async def _open_stream(client: TestClient, deps: Deps, radar_id: int) -> StreamReader:
    await sign_in(client, deps, "admin")
    resp = await client.get(f"/api/radar/radars/{radar_id}/live")
    assert resp.status == 200
    assert await resp.content.readline() == b"retry: 3000\n"
    return resp.content


async def test_a_visit_reaches_the_open_stream(client: TestClient, deps: Deps, corp: None) -> None:
    radar = await make_radar(deps)
    stream = await _open_stream(client, deps, radar.id)
    await stream.readline()  # the blank line after "retry"
    # The subscription's confirmation comes out as a keepalive: the view is listening now.
    assert await stream.readline() == b": keepalive\n"
    streams = deps.resource(live_streams)
    assert await deps.redis.publish(live_channel(radar.id), '{"count": 1}') == 1
    assert await stream.readline() == b"\n"
    assert await stream.readline() == b"event: visit\n"
    assert streams.open == 1


async def test_shutdown_closes_an_open_stream(client: TestClient, deps: Deps, corp: None) -> None:
    radar = await make_radar(deps)
    stream = await _open_stream(client, deps, radar.id)
    streams = deps.resource(live_streams)
    assert streams.open == 1
    await shutdown(deps)  # what the web process does first when it stops
    rest = await stream.read()  # the server ended the response: a clean end of stream
    assert b"event:" not in rest
    assert stream.at_eof() and streams.open == 0
    # A console that reconnects to the stopping process is not kept either.
    again = await client.get(f"/api/radar/radars/{radar.id}/live")
    assert await again.content.read() == b"retry: 3000\n\n"


async def test_visits_committed_together_are_one_live_event(
    client: TestClient, deps: Deps, corp: None
) -> None:
    """The batches counted before the interval's publish are one event per radar with their
    total; a stopping process publishes what it counted at once."""
    import json

    from handlers.radar.batch import LiveTally, _Pending
    from handlers.radar.visits import NewVisit

    def batch(radar_id: int, n: int) -> list[_Pending]:
        at = deps.now()
        return [
            _Pending(NewVisit(f"v{n}{i}", 1, radar_id, "b", "", "", 1, "alice", "single", at), True)
            for i in range(n)
        ]

    pubsub = deps.redis.pubsub()
    await pubsub.subscribe(live_channel(7), live_channel(8))
    assert (await pubsub.get_message(timeout=None))["type"] == "subscribe"
    assert (await pubsub.get_message(timeout=None))["type"] == "subscribe"
    tally = LiveTally(deps)
    tally.add(batch(7, 2))
    tally.add(batch(8, 1))
    tally.add(batch(7, 3))
    await tally.close()
    await deps.redis.publish(live_channel(7), "end")
    got = []
    while (message := await pubsub.get_message(timeout=None)) is not None:
        if message["data"] == b"end":
            break
        got.append((message["channel"].decode(), json.loads(message["data"])["count"]))
    await pubsub.aclose()
    assert sorted(got) == [(live_channel(7), 5), (live_channel(8), 1)]
