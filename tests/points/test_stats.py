"""Per-group daily sign-ins and join / leave counts in the corp's days, and the abuse signals:
one device for many customers, newcomer points farmed by churn, a burst after a rule change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient

from bot.deps import Deps
from handlers.points import ledger, rules, stats
from storage.facts import GroupMembershipEvent
from storage.points import EntryKind, PointsProgram
from tests.auth.support import sign_in
from tests.points.support import save_program
from tests.support import Clock


async def _fact(chat: str, ext: str, kind: str, at: datetime) -> None:
    await GroupMembershipEvent.create(
        key=f"{kind}:{chat}:{ext}:{at.timestamp()}", chat_id=chat, member_id=ext, kind=kind, at=at
    )


async def test_daily_counts_per_group_in_the_corps_days(
    client: TestClient, deps: Deps, corp: None, clock: Clock
) -> None:
    await save_program(deps, signin_points=1)
    clock.now = datetime(2025, 3, 2, 2, tzinfo=UTC)  # 10:00 on 2 March in Shanghai
    for ext in ("wm_ann", "wm_cat"):
        await rules.sign_in(deps, ext)
    # 23:30 on 1 March in Shanghai is 15:30 UTC: counted on the 1st
    await _fact("g1", "wm_new", "join", datetime(2025, 3, 1, 15, 30, tzinfo=UTC))
    await _fact("g1", "wm_new", "quit", datetime(2025, 3, 1, 16, 30, tzinfo=UTC))
    await sign_in(client, deps, "admin")
    data = await (await client.get("/api/points/stats?days=2")).json()
    assert data["days"] == ["2025-03-01", "2025-03-02"]
    g1 = next(g for g in data["groups"] if g["chat_id"] == "g1")
    assert g1["name"] == "会员一群"
    assert (g1["signins"], g1["joins"], g1["quits"]) == ([0, 2], [1, 0], [0, 1])
    assert [g["chat_id"] for g in data["groups"]] == ["g1", "g2"]  # only the scoped groups


async def test_abuse_signals(deps: Deps, corp: None, clock: Clock) -> None:
    await save_program(deps, signin_points=1, newcomer_points=50)
    for ext in ("wm_ann", "wm_ben", "wm_cat"):
        await rules.sign_in(deps, ext, visitor_id="phone-1", address="10.0.0.1")
    await ledger.credit(
        deps, "wm_ben", 50, key="newcomer:wm_ben", kind=EntryKind.EARN, rule="newcomer"
    )
    for hours in (1, 3):
        await _fact("g1", "wm_ben", "quit", clock.now - timedelta(hours=hours))
    await PointsProgram.filter(id=1).update(version=2, updated_at=clock.now - timedelta(hours=2))
    for n in range(25):
        await ledger.credit(deps, "wm_cat", 1, key=f"b{n}", kind=EntryKind.EARN, rule="signin")
    found = await stats.signals(deps)
    kinds = {(s["kind"], tuple(s["customers"])) for s in found["shared"]}
    assert kinds == {
        ("同一设备", ("wm_ann", "wm_ben", "wm_cat")),
        ("同一网络地址", ("wm_ann", "wm_ben", "wm_cat")),
    }
    assert found["churn"] == [{"external_userid": "wm_ben", "quits": 2}]
    assert (
        found["burst"]["flagged"] is True and found["burst"]["after"] == 29
    )  # 3 sign-ins, a newcomer award, 25 more
    assert found["names"]["wm_ben"] == "本"
