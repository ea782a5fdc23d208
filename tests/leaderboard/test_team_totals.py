"""Team totals are kept beside the live ranking by every recount (the sidebar reads them
without a pass over the participants) and agree with a full recomputation."""

from __future__ import annotations

from bot.deps import Deps
from handlers.leaderboard import counting, listeners
from handlers.leaderboard.activities import TeamIn, set_members, set_teams, sync_participants
from storage.directory import Staff
from storage.leaderboard import Team
from tests.leaderboard.conftest import add, make_activity


async def _expected(activity_id: int, activity: object) -> dict[str, int]:
    counts = {r.userid: r.count for r in await counting.recompute(activity)}  # type: ignore[arg-type]
    out: dict[str, int] = {}
    for team in await Team.filter(activity_id=activity_id):
        members = await counting.Participant.filter(activity_id=activity_id, team_id=team.id)
        out[team.name] = sum(counts.get(p.userid, 0) for p in members)
    return out


async def _kept(deps: Deps, activity: object) -> dict[str, int]:
    names = dict(await Team.all().values_list("id", "name"))
    found = await counting.team_totals(deps.redis, activity)  # type: ignore[arg-type]
    return {names[t]: total for t, total, _ in found}


async def test_team_totals_follow_every_recount(deps: Deps, corp: None) -> None:
    activity = await make_activity()
    await set_members(activity.id, ["alice", "carol"], [2])
    await set_teams(
        activity.id,
        [TeamIn(name="销售", department_id=2), TeamIn(name="支持", userids=["carol"])],
    )
    await sync_participants(deps.redis, activity)
    await counting.rebuild(deps.redis, activity)
    for who, ext, minute in (("alice", "c1", 1), ("bob", "c2", 2), ("carol", "c3", 3)):
        await listeners.on_follow_added(deps, [await add(who, ext, minute)])
    await listeners.on_follow_added(deps, [await add("carol", "c3", 3)])  # a replay: nothing
    assert (
        await _kept(deps, activity)
        == await _expected(activity.id, activity)
        == {
            "销售": 2,
            "支持": 1,
        }
    )
    # A newcomer in the sales department brings their count into the team at the sync.
    await Staff.create(userid="erin", name="Erin", departments=[2])
    await add("erin", "c4", 4)
    await add("erin", "c5", 5)
    await sync_participants(deps.redis, activity)
    assert await _kept(deps, activity) == {"销售": 4, "支持": 1}
    # Redis lost them: rebuilt from the facts.
    await deps.redis.delete(counting.teams_key(activity.id), counting.team_sizes_key(activity.id))
    assert await _kept(deps, activity) == await _expected(activity.id, activity)
