"""State every part of the sandbox corp shares: the clock, id minting, the directory."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from bot.sandbox.errors import SandboxError
from bot.sandbox.models import Customer, Department, Staff


class CorpBase:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.departments: dict[int, Department] = {1: Department(1, "总部", 0, 1)}
        self.staff: dict[str, Staff] = {}
        self.customers: dict[str, Customer] = {}
        self._counter = 0

    def now(self) -> int:
        return int(self.clock())

    def new_id(self, prefix: str, size: int = 16) -> str:
        """Unique, and deterministic for a given sequence of calls (the demo seed relies on it)."""
        self._counter += 1
        digest = hashlib.sha256(f"{prefix}:{self._counter}".encode()).hexdigest()
        return prefix + digest[:size]

    def get_staff(self, userid: str) -> Staff:
        staff = self.staff.get(userid)
        if staff is None:
            raise SandboxError(60111, f"userid {userid!r} not found")
        return staff

    def department_tree(self, root: int) -> list[int]:
        ids, frontier = [root], [root]
        while frontier:
            children = [d.id for d in self.departments.values() if d.parentid in frontier]
            frontier = [c for c in children if c not in ids]
            ids.extend(frontier)
        return ids
