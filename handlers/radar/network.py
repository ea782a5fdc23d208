"""One person's place in a radar's spread: the source path (the staff member, then each
forwarder down to them) and the social network below them (everyone who came through them,
with how often and when), read with a few indexed queries — never the whole radar."""

from __future__ import annotations

from typing import Any

from handlers.radar.queries import PK
from storage.sql import fetch_dicts, placeholders, to_dt

MAX_DEPTH = 30
MAX_NODES = 300


async def _first_visit(radar_id: int, key: str, userids: set[str] | None) -> dict[str, Any] | None:
    """The person's visit at their lowest level (how they first came); the key is matched
    column by column so the customer and visitor indexes serve it."""
    scope, params = "", []
    if userids is not None:
        scope = f" AND root_userid IN ({placeholders(len(userids))})"
        params = sorted(userids)
    rows = await fetch_dicts(
        f"""SELECT parent_visitor_id, level, root_userid, started_at FROM radar_visit
        WHERE radar_id = ? AND (external_userid = ? OR (external_userid = '' AND visitor_id = ?))
        {scope} ORDER BY level, started_at LIMIT 1""",
        [radar_id, key, key, *params],
    )
    return rows[0] if rows else None


async def _person_of(radar_id: int, visitor_id: str) -> str:
    rows = await fetch_dicts(
        "SELECT MAX(external_userid) AS ext FROM radar_visit WHERE radar_id = ? AND visitor_id = ?",
        [radar_id, visitor_id],
    )
    return (rows[0]["ext"] if rows and rows[0]["ext"] else "") or visitor_id


async def source_path(
    radar_id: int, key: str, userids: set[str] | None
) -> tuple[str, list[dict[str, Any]]] | None:
    """(the staff member at the root, the people from level 1 down to `key`), or None when
    the person never visited (within the scope)."""
    chain: list[dict[str, Any]] = []
    current, staff = key, ""
    while current and len(chain) < MAX_DEPTH:
        first = await _first_visit(radar_id, current, userids)
        if first is None:
            break
        chain.append({"key": current, "level": first["level"], "at": to_dt(first["started_at"])})
        staff = first["root_userid"]
        parent = first["parent_visitor_id"]
        current = await _person_of(radar_id, parent) if parent else ""
        if any(c["key"] == current for c in chain):
            break  # a loop in bad data ends the walk
    if not chain:
        return None
    return staff, list(reversed(chain))


async def _children(radar_id: int, keys: list[str]) -> list[dict[str, Any]]:
    """The people who came through any browser of `keys`: who, through whom, how often, when."""
    marks = placeholders(len(keys))
    visitors = await fetch_dicts(
        f"""SELECT DISTINCT visitor_id, {PK} AS key FROM radar_visit
        WHERE radar_id = ? AND (external_userid IN ({marks}) OR visitor_id IN ({marks}))""",
        [radar_id, *keys, *keys],
    )
    # a browser opened before and after its customer was known belongs to both people
    owner: dict[str, list[str]] = {}
    for v in visitors:
        if v["key"] in keys:
            owner.setdefault(v["visitor_id"], []).append(v["key"])
    if not owner:
        return []
    marks = placeholders(len(owner))
    rows = await fetch_dicts(
        f"""SELECT {PK} AS key, parent_visitor_id AS via, MIN(level) AS level,
               COUNT(*) AS visits, MIN(started_at) AS first_at, MAX(started_at) AS last_at
        FROM radar_visit WHERE radar_id = ? AND parent_visitor_id IN ({marks})
        GROUP BY {PK}, parent_visitor_id""",
        [radar_id, *owner],
    )
    out = []
    for r in rows:
        r["first_at"], r["last_at"] = to_dt(r["first_at"]), to_dt(r["last_at"])
        out += [r | {"parent": parent} for parent in sorted(owner[r["via"]])]
    return out


async def brought(radar_id: int, keys: list[str]) -> dict[str, int]:
    """How many other people each of `keys` brought (opened a link one of theirs forwarded)."""
    if not keys:
        return {}
    children: dict[str, set[str]] = {}
    for r in await _children(radar_id, keys):
        if r["key"] != r["parent"]:
            children.setdefault(r["parent"], set()).add(r["key"])
    return {k: len(children.get(k, ())) for k in keys}


async def network(radar_id: int, key: str) -> tuple[dict[str, Any], list[str]]:
    """The tree below `key` (each node with visit count and times) and every key in it."""
    root: dict[str, Any] = {"key": key, "children": []}
    nodes, frontier = {key: root}, [key]
    depth = 0
    while frontier and depth < MAX_DEPTH and len(nodes) < MAX_NODES:
        found = await _children(radar_id, frontier)
        frontier = []
        for r in sorted(found, key=lambda r: (r["first_at"], r["key"])):
            if r["key"] in nodes or len(nodes) >= MAX_NODES:
                continue
            node = {
                "key": r["key"],
                "level": r["level"],
                "visits": r["visits"],
                "first_at": r["first_at"],
                "last_at": r["last_at"],
                "children": [],
            }
            nodes[r["parent"]]["children"].append(node)
            nodes[r["key"]] = node
            frontier.append(r["key"])
        depth += 1
    root["count"] = len(nodes) - 1
    return root, list(nodes)
