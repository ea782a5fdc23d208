"""Ids made in time order: the text sorts as the time it was made, stays URL-safe, and two
ids made in the same millisecond still differ."""

from __future__ import annotations

import os
import re

import pytest

from bot import ids


def test_ids_sort_by_the_millisecond_they_were_made(monkeypatch: pytest.MonkeyPatch) -> None:
    times = [0, 1, 63, 64, 4095, 4096, 1_764_000_000_000, 1_764_000_000_001, 2**48 - 1]
    made = []
    for ms in times:
        monkeypatch.setattr(ids.time, "time_ns", lambda ms=ms: ms * 1_000_000 + 999_999)
        made.append(ids.ordered_id())
    assert made == sorted(made)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{19}", one) for one in made)


def test_ids_of_one_millisecond_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids.time, "time_ns", lambda: 1_764_000_000_000_000_000)
    made = {ids.ordered_id() for _ in range(1000)}
    assert len(made) == 1000
    assert len({one[:8] for one in made}) == 1  # same time, same prefix; the rest random


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    """The random part is read from os.urandom a page at a time: a child forked with part of a
    page left must not make the ids its parent goes on to make."""
    ids.ordered_id()  # the parent holds a page it has only begun
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids' random parts, then gone
        os.close(read)
        os.write(write, "\n".join(one[8:] for one in _ids(100)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split("\n"))
    os.waitpid(pid, 0)
    parent = {one[8:] for one in _ids(100)}
    assert len(child) == 100 and not child & parent


def _ids(n: int) -> list[str]:
    return [ids.ordered_id() for _ in range(n)]
