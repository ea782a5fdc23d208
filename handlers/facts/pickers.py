"""Search by name for the console's pickers: staff, departments (as a tree), tags (by tag
group) and customer groups. One answer shape for all: `items` of {id, name, sub, depth, group}
so one picker component draws them. `?q=` searches names, `?ids=` resolves chosen ids to
names (a form opened for editing). Every list is scoped to what the person may see: a
department admin sees their departments and the people and groups in them."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from tortoise.expressions import Q

from bot.auth import scope_userids
from bot.auth_types import Principal, Role
from bot.http import ApiError, RequestContext, json_ok, parse_id
from handlers.facts.members import department_tree
from handlers.facts.router import router
from storage.directory import Department, Staff
from storage.facts import CorpTag, CorpTagGroup, CustomerGroup

LIMIT = 50
_ACTIVE = 1


def _user(ctx: RequestContext) -> Principal:
    if ctx.user is None:
        raise ApiError(401, "请先登录")
    return ctx.user


def _query(ctx: RequestContext) -> tuple[str, list[str]]:
    q = ctx.request.query.get("q", "").strip()[:64]
    raw = ctx.request.query.get("ids", "")
    # An id longer than the id columns (64) matches nothing and would fail their validation.
    ids = [i.strip() for i in raw.split(",") if 0 < len(i.strip()) <= 64][:500]
    return q, ids


def _answer(items: list[dict[str, Any]]) -> web.Response:
    return json_ok({"items": items})


async def _department_scope(user: Principal) -> set[int] | None:
    """The departments a person may pick: None = all (admins)."""
    if user.sees_all:
        return None
    if user.role is Role.DEPT_ADMIN:
        return await department_tree(user.departments)
    staff = await Staff.get_or_none(userid=user.userid)
    return await department_tree(frozenset(int(d) for d in (staff.departments if staff else [])))


@router.get("/api/facts/pick/staff", role=Role.STAFF)
async def pick_staff(ctx: RequestContext) -> web.StreamResponse:
    q, ids = _query(ctx)
    query = Staff.all()
    scope = await scope_userids(_user(ctx))
    if scope is not None:
        query = query.filter(userid__in=sorted(scope))
    if ids:
        query = query.filter(userid__in=ids)
    else:
        query = query.filter(status=_ACTIVE)
        if q:
            query = query.filter(Q(name__icontains=q) | Q(userid__icontains=q))
    rows = await query.order_by("name", "userid").limit(500 if ids else LIMIT)
    names = dict(await Department.all().values_list("id", "name"))
    return _answer(
        [
            {
                "id": s.userid,
                "name": s.name,
                "sub": "、".join(str(names.get(int(d), d)) for d in s.departments[:3]),
                "avatar": s.avatar,
                "left": s.status != _ACTIVE,
            }
            for s in rows
        ]
    )


def _tree_order(rows: list[dict[str, Any]], shown: set[int]) -> list[dict[str, Any]]:
    """Departments depth-first (parents before children), each with its depth; a department
    whose parent is not shown is a root."""
    children: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        if r["id"] in shown:
            parent = r["parent_id"] if r["parent_id"] in shown else 0
            children.setdefault(parent, []).append(r)
    out: list[dict[str, Any]] = []
    todo = [(r, 0) for r in reversed(children.get(0, []))]
    while todo:
        row, depth = todo.pop()
        out.append({"id": row["id"], "name": row["name"], "depth": depth, "sub": ""})
        todo += [(c, depth + 1) for c in reversed(children.get(row["id"], []))]
    return out


@router.get("/api/facts/pick/departments", role=Role.STAFF)
async def pick_departments(ctx: RequestContext) -> web.StreamResponse:
    q, ids = _query(ctx)
    rows = (
        await Department.filter(deleted=False)
        .order_by("order", "id")
        .values("id", "name", "parent_id")
    )
    scope = await _department_scope(_user(ctx))
    allowed = {r["id"] for r in rows if scope is None or r["id"] in scope}
    if ids:
        wanted = {found for i in ids if (found := parse_id(i)) is not None}
        return _answer([d for d in _tree_order(rows, allowed) if d["id"] in wanted])
    shown = allowed
    if q:  # the matches and the departments above them, so each match is seen in its place
        parent = {r["id"]: r["parent_id"] for r in rows}
        shown = set()
        for r in rows:
            if r["id"] in allowed and q.lower() in r["name"].lower():
                node = r["id"]
                while node in allowed and node not in shown:
                    shown.add(node)
                    node = parent.get(node, 0)
    items = _tree_order(rows, shown)
    for item in items:
        item["match"] = not q or q.lower() in item["name"].lower()
    return _answer(items[:500])


@router.get("/api/facts/pick/tags", role=Role.STAFF)
async def pick_tags(ctx: RequestContext) -> web.StreamResponse:
    q, ids = _query(ctx)
    groups = {
        g.group_id: g for g in await CorpTagGroup.filter(deleted=False).order_by("-order", "name")
    }
    query = CorpTag.filter(deleted=False, group_id__in=list(groups))
    if ids:
        query = CorpTag.filter(tag_id__in=ids)  # deleted tags still show their names
    elif q:
        names = [gid for gid, g in groups.items() if q.lower() in g.name.lower()]
        query = query.filter(Q(name__icontains=q) | Q(group_id__in=names))
    rank = {gid: i for i, gid in enumerate(groups)}
    tags = sorted(await query, key=lambda t: (rank.get(t.group_id, len(rank)), -t.order, t.name))
    return _answer(
        [
            {
                "id": t.tag_id,
                "name": t.name,
                "group": groups[t.group_id].name if t.group_id in groups else "已删除",
                "sub": "",
            }
            for t in tags[: 500 if ids else 300]
        ]
    )


@router.get("/api/facts/pick/groups", role=Role.STAFF)
async def pick_groups(ctx: RequestContext) -> web.StreamResponse:
    q, ids = _query(ctx)
    query = CustomerGroup.all()
    scope = await scope_userids(_user(ctx))
    if scope is not None:
        query = query.filter(owner__in=sorted(scope))
    if ids:
        query = query.filter(chat_id__in=ids)
    else:
        query = query.filter(status="active")
        if q:
            query = query.filter(name__icontains=q)
    rows = await query.order_by("name", "chat_id").limit(500 if ids else LIMIT)
    owners = dict(
        await Staff.filter(userid__in={g.owner for g in rows}).values_list("userid", "name")
    )
    return _answer(
        [
            {
                "id": g.chat_id,
                "name": g.name or "未命名群聊",
                "sub": f"群主：{owners.get(g.owner, g.owner)}",
            }
            for g in rows
        ]
    )
