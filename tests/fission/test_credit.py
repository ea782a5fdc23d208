"""Help credit cannot be doubled, and every refused help says why: replays, concurrent
deliveries, two staff members behind one poster, old customers, self-help, the window,
revocation (also when the deletion is processed first) and the last prize raced."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot import event_delivery
from bot.deps import Deps
from bot.domain_events import DELIVER_JOB
from handlers.facts.store import record_add, record_end
from handlers.fission.credit import credit, state_of
from storage.core import DomainEventRow
from storage.fission import (
    AwardState,
    FissionAttempt,
    FissionAward,
    FissionHelp,
    FissionTier,
    Outcome,
)
from tests.fission.conftest import T0, fact, make_activity, make_participant
from tests.support import FakeQueue


async def deliver(deps: Deps) -> None:
    """Run every queued domain-event delivery, as the worker would."""
    assert isinstance(deps.queue, FakeQueue)
    while jobs := [args for name, args in deps.queue.take() if name == DELIVER_JOB]:
        for args in jobs:
            await event_delivery.process(deps, args[0])


async def add(deps: Deps, userid: str, helper: str, minutes: float, state: str):  # type: ignore[no-untyped-def]
    return await credit(
        deps, state=state, helper=helper, userid=userid, at=T0 + timedelta(minutes=minutes)
    )


async def helps(participant_id: int) -> int:
    return await FissionHelp.filter(participant_id=participant_id, revoked_at__isnull=True).count()


async def test_same_add_three_times_and_concurrently_credits_once(deps: Deps) -> None:
    activity = await make_activity()
    p = await make_participant(activity, "wm_p")
    state = state_of(p.code)
    await fact("alice", "wm_h1", 10, state=state)
    first = await add(deps, "alice", "wm_h1", 10, state)
    again = [await add(deps, "alice", "wm_h1", 10, state) for _ in range(2)]
    racing = await asyncio.gather(*(add(deps, "alice", "wm_h1", 10, state) for _ in range(2)))
    assert first is not None and first.attempt.outcome is Outcome.COUNTED
    assert {c.attempt.id for c in [*again, *racing] if c} == {first.attempt.id}
    assert await helps(p.id) == 1
    assert await FissionAttempt.filter(activity_id=activity.id).count() == 1


async def test_replayed_callbacks_through_domain_events_credit_once(deps: Deps) -> None:
    """The facts store the add and publish FollowAdded with the state; replays of the same
    callback (the same fact key) and two workers delivering the same event credit once."""
    activity = await make_activity()
    p = await make_participant(activity, "wm_p")
    at = T0 + timedelta(minutes=5)
    for _ in range(3):
        await record_add(
            deps,
            userid="bob",
            external_userid="wm_h",
            at=at,
            state=state_of(p.code),
            key="add:ev:1",
        )
    rows = await DomainEventRow.filter(kind="FollowAdded").values_list("id", flat=True)
    assert len(rows) == 1
    await asyncio.gather(*(event_delivery.process(deps, rows[0]) for _ in range(2)))
    await deliver(deps)
    assert await helps(p.id) == 1
    attempt = await FissionAttempt.get(activity_id=activity.id)
    assert (attempt.outcome, attempt.userid, attempt.helper) == (Outcome.COUNTED, "bob", "wm_h")
    assert await DomainEventRow.filter(kind="FissionHelped").count() == 1


async def test_helper_adding_two_staff_members_counts_once(deps: Deps) -> None:
    activity = await make_activity()
    p = await make_participant(activity, "wm_p")
    state = state_of(p.code)
    await fact("alice", "wm_h", 10, state=state)
    await fact("bob", "wm_h", 12, state=state)
    one = await add(deps, "alice", "wm_h", 10, state)
    two = await add(deps, "bob", "wm_h", 12, state)
    assert one and two and one.attempt.outcome is Outcome.COUNTED
    assert two.attempt.outcome is Outcome.ALREADY_HELPED
    assert await helps(p.id) == 1


async def test_two_staff_members_reordered_and_racing_still_count_once(deps: Deps) -> None:
    activity = await make_activity()
    p = await make_participant(activity, "wm_p")
    state = state_of(p.code)
    await fact("alice", "wm_h", 10, state=state)
    await fact("bob", "wm_h", 12, state=state)
    results = await asyncio.gather(
        add(deps, "bob", "wm_h", 12, state), add(deps, "alice", "wm_h", 10, state)
    )
    outcomes = sorted(str(r.attempt.outcome) for r in results if r)
    assert outcomes == ["already_helped", "counted"]
    assert await helps(p.id) == 1


async def test_old_customer_self_and_window_refused_with_reason(deps: Deps) -> None:
    activity = await make_activity()
    p = await make_participant(activity, "wm_p")
    state = state_of(p.code)
    await fact("carol", "wm_old", -60 * 24 * 30)  # added by someone a month earlier
    old = await add(deps, "alice", "wm_old", 10, state)
    own = await add(deps, "alice", "wm_p", 11, state)
    early = await add(deps, "alice", "wm_early", -5, state)
    late = await add(deps, "alice", "wm_late", 60 * 24 * 8, state)
    assert old and own and early and late
    assert old.attempt.outcome is Outcome.OLD_CUSTOMER
    assert own.attempt.outcome is Outcome.SELF
    assert early.attempt.outcome is Outcome.OUTSIDE_WINDOW
    assert late.attempt.outcome is Outcome.OUTSIDE_WINDOW
    assert await helps(p.id) == 0


async def test_old_customers_welcome_when_the_activity_allows(deps: Deps) -> None:
    activity = await make_activity(new_only=False)
    p = await make_participant(activity, "wm_p")
    await fact("carol", "wm_old", -600)
    found = await add(deps, "alice", "wm_old", 10, state_of(p.code))
    assert found and found.attempt.outcome is Outcome.COUNTED


async def test_a_draft_never_credits(deps: Deps) -> None:
    activity = await make_activity(published=False)
    p = await make_participant(activity, "wm_p")
    found = await add(deps, "alice", "wm_h", 10, state_of(p.code))
    assert found and found.attempt.outcome is Outcome.OUTSIDE_WINDOW


async def test_quick_deletion_revokes_but_keeps_the_prize(deps: Deps) -> None:
    activity = await make_activity(tiers=((1, 5),), revoke_hours=2)
    p = await make_participant(activity, "wm_p")
    state = state_of(p.code)
    at = T0 + timedelta(minutes=10)
    await record_add(deps, userid="alice", external_userid="wm_h", at=at, state=state, key="a1")
    await record_add(deps, userid="bob", external_userid="wm_h2", at=at, state=state, key="a2")
    await deliver(deps)
    assert await helps(p.id) == 2
    assert await FissionAward.filter(participant_id=p.id, state=AwardState.WON).count() == 1
    # wm_h deletes alice an hour later: void; wm_h2 deletes bob after three hours: stays
    await record_end(
        deps,
        userid="alice",
        external_userid="wm_h",
        at=at + timedelta(hours=1),
        reason="deleted_by_customer",
    )
    await record_end(
        deps,
        userid="bob",
        external_userid="wm_h2",
        at=at + timedelta(hours=3),
        reason="deleted_by_customer",
    )
    await deliver(deps)
    assert await helps(p.id) == 1
    attempt = await FissionAttempt.get(helper="wm_h")
    assert attempt.outcome is Outcome.REVOKED
    assert await FissionAward.filter(participant_id=p.id, state=AwardState.WON).count() == 1


async def test_staff_deleting_the_helper_does_not_revoke(deps: Deps) -> None:
    activity = await make_activity(revoke_hours=2)
    p = await make_participant(activity, "wm_p")
    at = T0 + timedelta(minutes=10)
    await record_add(
        deps, userid="alice", external_userid="wm_h", at=at, state=state_of(p.code), key="a1"
    )
    await record_end(
        deps,
        userid="alice",
        external_userid="wm_h",
        at=at + timedelta(minutes=5),
        reason="deleted_by_staff",
    )
    await deliver(deps)
    assert await helps(p.id) == 1


async def test_deletion_processed_before_its_add_is_revoked_at_credit(deps: Deps) -> None:
    activity = await make_activity(revoke_hours=2)
    p = await make_participant(activity, "wm_p")
    state = state_of(p.code)
    await fact("alice", "wm_h", 30, kind="end", reason="deleted_by_customer")
    await fact("alice", "wm_h", 10, state=state)
    found = await add(deps, "alice", "wm_h", 10, state)
    assert found and found.attempt.outcome is Outcome.REVOKED
    assert await helps(p.id) == 0


async def test_half_add_then_full_add_is_one_help(deps: Deps) -> None:
    activity = await make_activity()
    p = await make_participant(activity, "wm_p")
    state = state_of(p.code)
    await fact("alice", "wm_h", 10, state=state)
    await fact("alice", "wm_h", 10.5, state=state)
    half = await add(deps, "alice", "wm_h", 10, state)
    full = await add(deps, "alice", "wm_h", 10.5, state)
    assert half and full and half.attempt.outcome is Outcome.COUNTED
    assert full.attempt.id == half.attempt.id
    assert await helps(p.id) == 1


async def test_tiers_awarded_once_when_helps_race(deps: Deps) -> None:
    """Two helps landing together for one participant: the tier they reach is awarded once."""
    activity = await make_activity(tiers=((2, 5),))
    p = await make_participant(activity, "wm_p")
    state = state_of(p.code)
    await asyncio.gather(*(add(deps, "alice", f"wm_h{i}", 10 + i, state) for i in range(4)))
    assert await helps(p.id) == 4
    awards = await FissionAward.filter(participant_id=p.id)
    assert [a.state for a in awards] == [AwardState.WON]
    assert (await FissionTier.get(activity_id=activity.id)).stock_left == 4


async def test_last_prize_raced_by_two_completions(deps: Deps) -> None:
    activity = await make_activity(tiers=((1, 1),))
    one = await make_participant(activity, "wm_p1")
    two = await make_participant(activity, "wm_p2")
    await asyncio.gather(
        add(deps, "alice", "wm_a", 10, state_of(one.code)),
        add(deps, "bob", "wm_b", 10, state_of(two.code)),
    )
    states = sorted(str(a.state) for a in await FissionAward.filter(activity_id=activity.id))
    assert states == ["out_of_stock", "won"]
    assert (await FissionTier.get(activity_id=activity.id)).stock_left == 0


async def test_helper_limit_across_activities(deps: Deps) -> None:
    first = await make_activity(new_only=False)
    second = await make_activity(new_only=False, helper_limit=1)
    p1 = await make_participant(first, "wm_p1")
    p2 = await make_participant(second, "wm_p2")
    assert (
        await add(deps, "alice", "wm_h", 10, state_of(p1.code))
    ).attempt.outcome is Outcome.COUNTED  # type: ignore[union-attr]
    refused = await add(deps, "bob", "wm_h", 20, state_of(p2.code))
    assert refused and refused.attempt.outcome is Outcome.HELPER_LIMIT


async def test_other_states_are_not_fission(deps: Deps) -> None:
    assert await add(deps, "alice", "wm_h", 10, "radar") is None
    assert await add(deps, "alice", "wm_h", 10, "f:nosuchcode") is None


async def test_old_customer_added_in_the_same_second_is_refused(deps: Deps) -> None:
    activity = await make_activity()
    p = await make_participant(activity, "wm_p")
    state = state_of(p.code)
    await fact("carol", "wm_old", 10)
    await fact("alice", "wm_old", 10, state=state)
    found = await add(deps, "alice", "wm_old", 10, state)
    assert found and found.attempt.outcome is Outcome.OLD_CUSTOMER


async def test_an_earlier_add_learned_late_voids_the_help(deps: Deps) -> None:
    """The help was credited (by the welcome lane) before the helper's earlier add through
    another way was stored: when that add arrives, the help is an old customer's."""
    from bot.domain_events import FollowAdded
    from handlers.fission.credit import on_follow_added

    activity = await make_activity()
    p = await make_participant(activity, "wm_p")
    state = state_of(p.code)
    found = await add(deps, "alice", "wm_h", 10, state)
    assert found and found.attempt.outcome is Outcome.COUNTED
    same_poster = FollowAdded(
        userid="bob", external_userid="wm_h", at=T0 + timedelta(minutes=5), state=state
    )
    await on_follow_added(deps, [same_poster])  # the same poster, another staff member: stays
    assert await helps(p.id) == 1
    earlier = FollowAdded(
        userid="bob", external_userid="wm_h", at=T0 + timedelta(minutes=5), state=""
    )
    await on_follow_added(deps, [earlier])
    await on_follow_added(deps, [earlier])  # redelivered
    assert await helps(p.id) == 0
    attempt = await FissionAttempt.get(helper="wm_h", userid="alice")
    assert attempt.outcome is Outcome.OLD_CUSTOMER


def test_a_callback_without_state_takes_the_relations_state_only_for_its_own_add() -> None:
    from bot.events import ExternalContactEvent
    from handlers.facts.contacts import _episode_state

    def event(ts: int) -> ExternalContactEvent:
        return ExternalContactEvent(
            to_user="corp", from_user="sys", create_time=ts, msg_type="event",
            event="change_external_contact", agent_id="", raw={},
        )  # fmt: skip

    follow = {"userid": "alice", "createtime": 1000, "state": "f:abcd1234"}
    assert _episode_state(follow, event(1000)) == "f:abcd1234"
    assert _episode_state(follow, event(1001)) == ""
    assert _episode_state(follow, event(900)) == ""  # an earlier add: the state is a later one's


async def test_adds_delivered_together_credit_as_one_by_one(deps: Deps) -> None:
    """A delivery job's adds at once (one helper through two staff members, a replay, the
    participant's own add, an earlier add learned late that voids a help credited in the same
    job, an add through no QR code) end as they end delivered one by one."""
    from bot.domain_events import FollowAdded
    from handlers.fission.credit import on_follow_added

    activity = await make_activity(tiers=((2, 100),), new_only=True)

    async def adds(p: str) -> list[FollowAdded]:
        state = state_of((await make_participant(activity, f"{p}p")).code)

        def one(userid: str, helper: str, minutes: int, state: str = state) -> FollowAdded:
            at = T0 + timedelta(minutes=minutes)
            return FollowAdded(userid=userid, external_userid=helper, at=at, state=state)

        return [
            one("alice", f"{p}h1", 10),
            one("bob", f"{p}h1", 11),
            one("alice", f"{p}h1", 10),
            one("alice", f"{p}h2", 12),
            one("alice", f"{p}p", 13),
            one("bob", f"{p}h2", 3, state=""),
            one("alice", f"{p}h3", 20, state=""),
        ]

    async def outcome(p: str) -> tuple[list[tuple[str, str, str]], list[tuple[str, bool]]]:
        attempts = await FissionAttempt.filter(helper__startswith=p).values_list(
            "helper", "userid", "outcome"
        )
        counted = await FissionHelp.filter(helper__startswith=p).values_list("helper", "revoked_at")
        return (
            sorted((h.removeprefix(p), u, str(o)) for h, u, o in attempts),
            sorted((h.removeprefix(p), r is not None) for h, r in counted),
        )

    await on_follow_added(deps, await adds("t_"))
    for one_add in await adds("o_"):
        await on_follow_added(deps, [one_add])
    together = await outcome("t_")
    assert together == await outcome("o_")
    assert together == (
        sorted(
            [
                ("h1", "alice", str(Outcome.COUNTED)),
                ("h1", "bob", str(Outcome.ALREADY_HELPED)),
                ("h2", "alice", str(Outcome.OLD_CUSTOMER)),
                ("p", "alice", str(Outcome.SELF)),
            ]
        ),
        [("h1", False), ("h2", True)],
    )
