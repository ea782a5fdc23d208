"""The corp directory as the core asks for it: who a member is (auth's sessions and names)
and who is in a set of departments (a department admin's scope), and the check features make
when a department admin picks staff and departments."""

from __future__ import annotations

from bot.auth import scope_userids
from bot.auth_types import Member, Principal
from bot.http import ApiError
from handlers.facts.router import router
from storage.directory import Department, Staff

INACTIVE_STATUSES = (2, 5)  # WeCom member status: disabled, left


@router.lookup("member")
async def member(userid: str) -> Member | None:
    staff = await Staff.get_or_none(userid=userid)
    if staff is None:
        return None
    return Member(staff.userid, staff.name, staff.status not in INACTIVE_STATUSES)


@router.lookup("department_members")
async def department_members(departments: frozenset[int]) -> set[str]:
    """Everyone in the departments or below (a member who left stays: old data stays
    readable)."""
    depts = await department_tree(departments)
    rows = await Staff.all().values_list("userid", "departments")
    return {str(uid) for uid, ds in rows if depts.intersection(int(d) for d in ds or [])}


async def department_tree(roots: frozenset[int]) -> set[int]:
    """The departments and all their descendants (a dept admin manages sub-departments too)."""
    rows = await Department.filter(deleted=False).values_list("id", "parent_id")
    children: dict[int, list[int]] = {}
    for dept_id, parent in rows:
        children.setdefault(int(parent), []).append(int(dept_id))
    found, todo = set(roots), list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


async def check_picks_in_scope(user: Principal, userids: list[str], departments: list[int]) -> None:
    """A department admin may only pick staff and departments they manage (a 403 naming the
    first one outside)."""
    if user.sees_all:
        return
    scope = await scope_userids(user) or set()
    outside = [u for u in userids if u not in scope]
    if outside:
        raise ApiError(403, f"成员 {outside[0]} 不在你管理的部门内", "userids")
    tree = await department_tree(user.departments)
    bad = [d for d in departments if d not in tree]
    if bad:
        raise ApiError(403, f"部门 {bad[0]} 不在你管理的范围内", "department_ids")
