"""Roles and the signed-in principal (kept apart from bot.auth so the router needs no web code)."""

from __future__ import annotations

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
class Principal:
    userid: str
    name: str
    role: Role
    departments: frozenset[int] = field(default_factory=frozenset)  # dept_admin's scope

    @property
    def sees_all(self) -> bool:
        return self.role >= Role.ADMIN
