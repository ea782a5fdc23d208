"""Group commit: callers share a commit, each gets its own result, failures reach them all."""

from __future__ import annotations

import asyncio

import pytest

from bot.group_commit import GroupCommit


async def test_batches_and_answers_each_caller() -> None:
    batches: list[list[int]] = []

    async def commit(items: list[int]) -> list[int]:
        batches.append(items)
        return [i * 10 for i in items]

    group: GroupCommit[int, int] = GroupCommit(commit)
    assert await asyncio.gather(*(group.submit(i) for i in range(5))) == [0, 10, 20, 30, 40]
    assert batches == [[0, 1, 2, 3, 4]]


async def test_a_failed_commit_fails_every_caller() -> None:
    async def commit(items: list[int]) -> list[int]:
        raise RuntimeError("disk full")

    group: GroupCommit[int, int] = GroupCommit(commit)
    results = await asyncio.gather(group.submit(1), group.submit(2), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_a_failing_after_step_still_answers(caplog: pytest.LogCaptureFixture) -> None:
    async def commit(items: list[int]) -> list[int]:
        return items

    async def after(items: list[int], results: list[int]) -> None:
        raise ConnectionError("redis went away")

    group: GroupCommit[int, int] = GroupCommit(commit, after)
    assert await asyncio.wait_for(group.submit(7), 2) == 7
    assert "failed" in caplog.text


async def test_a_lone_item_is_committed_at_once() -> None:
    """Nothing else waiting: no gathering delay (the window here would be an hour)."""

    async def commit(items: list[int]) -> list[int]:
        return items

    group: GroupCommit[int, int] = GroupCommit(commit, max_delay=3600)
    assert await asyncio.wait_for(group.submit(7), 30) == 7


async def test_arrivals_during_a_commit_share_the_next_one() -> None:
    batches: list[list[int]] = []
    release, committing = asyncio.Event(), asyncio.Event()

    async def commit(items: list[int]) -> list[int]:
        batches.append(items)
        committing.set()
        if len(batches) == 1:
            await release.wait()
        return items

    group: GroupCommit[int, int] = GroupCommit(commit)
    first = asyncio.create_task(group.submit(0))
    await committing.wait()
    later = [asyncio.create_task(group.submit(i)) for i in (1, 2, 3)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(first, *later) == [0, 1, 2, 3]
    assert batches == [[0], [1, 2, 3]]


async def test_answer_first_answers_before_the_after_step_and_settled_waits_for_it() -> None:
    after_started, release = asyncio.Event(), asyncio.Event()
    finished: list[list[int]] = []

    async def commit(items: list[int]) -> list[int]:
        return items

    async def after(items: list[int], results: list[int]) -> None:
        after_started.set()
        await release.wait()
        finished.append(items)

    group: GroupCommit[int, int] = GroupCommit(commit, after, answer_first=True)
    assert await asyncio.wait_for(group.submit(3), 30) == 3  # though the after step waits
    await after_started.wait()
    settled = asyncio.create_task(group.settled())
    await asyncio.sleep(0)
    assert not settled.done() and finished == []
    release.set()
    await asyncio.wait_for(settled, 30)
    assert finished == [[3]]
