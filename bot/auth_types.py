"""Roles and the signed-in principal (kept apart from bot.auth so the router needs no web code)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum


class Role(IntEnum):
    """Ordered: a route that needs ADMIN admits ADMIN and SUPER_ADMIN."""

    STAFF = 1
    DEPT_ADMIN = 2
    ADMIN = 3
    SUPER_ADMIN = 4

    @property
    def label(self) -> str:
        return {1: "普通员工", 2: "部门管理员", 3: "管理员", 4: "超级管理员"}[self.value]


@dataclass(frozen=True)
class Member:
    """A corp member as the directory knows them (a feature provides the directory through
    `router.lookup("member")`; the core keeps none)."""

    userid: str
    name: str
    active: bool  # False once they left or were disabled in WeCom


DepartmentMembers = Callable[[frozenset[int]], Awaitable[set[str]]]


@dataclass(frozen=True)
class Principal:
    userid: str
    name: str
    role: Role
    departments: frozenset[int] = field(default_factory=frozenset)  # dept_admin's scope
    # The userids in those departments and their sub-departments: the directory's
    # `router.lookup("department_members")`, attached at sign-in.
    members_of: DepartmentMembers | None = field(default=None, compare=False, repr=False)

    @property
    def sees_all(self) -> bool:
        return self.role >= Role.ADMIN
