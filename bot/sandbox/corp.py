"""The in-memory corp behind the sandbox WeCom: directory, customers, groups, tags.

Methods change the state and return what happened, so the server can answer like WeCom and
the driver can send the callback WeCom would send. Messages and credentials live in the
mixins of `bot.sandbox.messages` and `bot.sandbox.credentials`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.sandbox.acquisition import AcquisitionMixin
from bot.sandbox.base import CorpBase
from bot.sandbox.credentials import CredentialsMixin
from bot.sandbox.errors import SandboxError
from bot.sandbox.messages import MessagesMixin
from bot.sandbox.models import (
    CorpTag,
    Customer,
    Department,
    FollowRelation,
    GroupChat,
    GroupMember,
    MemberChange,
    Staff,
    TagGroup,
)
from bot.sandbox.moments import MomentsMixin
from bot.sandbox.ways import WaysMixin


class Corp(AcquisitionMixin, MomentsMixin, WaysMixin, MessagesMixin, CredentialsMixin, CorpBase):
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        CorpBase.__init__(self, clock)
        self.follows: dict[tuple[str, str], FollowRelation] = {}
        self.groups: dict[str, GroupChat] = {}
        self.tag_groups: dict[str, TagGroup] = {}
        self._init_ways()
        self._init_messages()
        self._init_credentials()
        self._init_moments()
        self._init_acquisition()

    # directory -------------------------------------------------------------------------

    def add_department(self, id: int, name: str, parentid: int = 1, order: int = 0) -> Department:
        dept = Department(id, name, parentid, order)
        self.departments[id] = dept
        return dept

    def add_staff(self, userid: str, name: str, department: list[int] | None = None) -> Staff:
        staff = Staff(userid, name, department or [1])
        staff.avatar = f"/sandbox/avatar/{userid}.svg"
        self.staff[userid] = staff
        return staff

    def update_staff(self, userid: str, **changes: object) -> Staff:
        staff = self.get_staff(userid)
        for key, value in changes.items():
            setattr(staff, key, value)
        return staff

    def delete_staff(self, userid: str) -> Staff:
        staff = self.get_staff(userid)
        del self.staff[userid]
        return staff

    # customers and follow relations ----------------------------------------------------

    def add_customer(
        self, name: str, external_userid: str | None = None, **fields: object
    ) -> Customer:
        ext = external_userid or self.new_id("wm", 30)
        customer = Customer(ext, name, avatar=f"/sandbox/avatar/{ext}.svg")
        for key, value in fields.items():
            setattr(customer, key, value)
        self.customers[ext] = customer
        return customer

    def get_customer(self, external_userid: str) -> Customer:
        customer = self.customers.get(external_userid)
        if customer is None:
            raise SandboxError(40096, f"external_userid {external_userid!r} not found")
        return customer

    def add_follow(
        self,
        userid: str,
        external_userid: str,
        state: str = "",
        add_way: int = 1,
        createtime: int | None = None,
    ) -> FollowRelation:
        self.get_staff(userid)
        self.get_customer(external_userid)
        rel = FollowRelation(userid, external_userid, createtime or self.now(), add_way, state)
        rel.oper_userid = external_userid if add_way else userid
        self.follows[(userid, external_userid)] = rel
        return rel

    def remove_follow(self, userid: str, external_userid: str) -> FollowRelation:
        rel = self.follows.pop((userid, external_userid), None)
        if rel is None:
            raise SandboxError(84061, f"{external_userid} is not a customer of {userid}")
        return rel

    def get_follow(self, userid: str, external_userid: str) -> FollowRelation:
        rel = self.follows.get((userid, external_userid))
        if rel is None:
            raise SandboxError(84061, f"{external_userid} is not a customer of {userid}")
        return rel

    def follows_of_staff(self, userid: str) -> list[FollowRelation]:
        return [r for (u, _), r in self.follows.items() if u == userid]

    def follows_of_customer(self, external_userid: str) -> list[FollowRelation]:
        return [r for (_, e), r in self.follows.items() if e == external_userid]

    # customer groups -------------------------------------------------------------------

    def create_group(self, owner: str, name: str, members: list[str] | None = None) -> GroupChat:
        self.get_staff(owner)
        now = self.now()
        chat = GroupChat(self.new_id("wr", 30), name, owner, now)
        chat.members.append(GroupMember(owner, 1, now, 1, ""))
        for member_id in members or []:
            chat.members.append(GroupMember(member_id, self._member_type(member_id), now, 1, owner))
        chat.member_version = self.new_id("", 32)
        self.groups[chat.chat_id] = chat
        return chat

    def get_group(self, chat_id: str) -> GroupChat:
        chat = self.groups.get(chat_id)
        if chat is None:
            raise SandboxError(40050, f"chat_id {chat_id!r} not found")
        return chat

    def dismiss_group(self, chat_id: str) -> GroupChat:
        chat = self.get_group(chat_id)
        del self.groups[chat_id]
        return chat

    def join_group(
        self, chat_id: str, member_id: str, scene: int = 1, invitor: str = ""
    ) -> MemberChange:
        chat = self.get_group(chat_id)
        if invitor and (invitor not in self.staff or chat.member(invitor) is None):
            # Only someone inside the group can invite into it (WeCom names them as invitor).
            raise SandboxError(40058, f"invitor {invitor!r} is not a staff member of the group")
        if chat.member(member_id) is None:
            member_type = self._member_type(member_id)
            chat.members.append(GroupMember(member_id, member_type, self.now(), scene, invitor))
        return self._bump(chat, [member_id])

    def quit_group(self, chat_id: str, member_id: str) -> MemberChange:
        chat = self.get_group(chat_id)
        chat.members = [m for m in chat.members if m.userid != member_id]
        return self._bump(chat, [member_id])

    def _bump(self, chat: GroupChat, member_ids: list[str]) -> MemberChange:
        last = chat.member_version
        chat.member_version = self.new_id("", 32)
        return MemberChange(chat, member_ids, last, chat.member_version)

    def _member_type(self, member_id: str) -> int:
        if member_id in self.staff:
            return 1
        self.get_customer(member_id)
        return 2

    # corp tags -------------------------------------------------------------------------

    def add_tags(
        self, group_name: str, names: list[str], group_id: str = "", order: int = 0
    ) -> TagGroup:
        group = self.tag_groups.get(group_id) if group_id else self._tag_group_named(group_name)
        if group_id and group is None:
            raise SandboxError(40068, f"tag group {group_id!r} not found")
        if group is None:
            group = TagGroup(self.new_id("et", 22), group_name, order, self.now())
            self.tag_groups[group.group_id] = group
        existing = {t.name for t in group.tags}
        for i, name in enumerate(names):
            if name not in existing:
                group.tags.append(CorpTag(self.new_id("et", 22), name, i, self.now()))
        return group

    def _tag_group_named(self, name: str) -> TagGroup | None:
        return next((g for g in self.tag_groups.values() if g.group_name == name), None)

    def tag_ids(self) -> set[str]:
        return {t.id for g in self.tag_groups.values() for t in g.tags}

    def find_tag(self, tag_id: str) -> tuple[TagGroup, CorpTag]:
        for group in self.tag_groups.values():
            for tag in group.tags:
                if tag.id == tag_id:
                    return group, tag
        raise SandboxError(40068, f"tag {tag_id!r} not found")

    def delete_tags(self, tag_ids: list[str], group_ids: list[str]) -> None:
        for tag_id in tag_ids:
            self.find_tag(tag_id)
        for group_id in group_ids:
            if group_id not in self.tag_groups:
                raise SandboxError(40068, f"tag group {group_id!r} not found")
        drop = set(tag_ids) | {t.id for g in group_ids for t in self.tag_groups[g].tags}
        for group in list(self.tag_groups.values()):
            group.tags = [t for t in group.tags if t.id not in drop]
            if not group.tags:  # WeCom removes a group with its last tag
                del self.tag_groups[group.group_id]
        for rel in self.follows.values():
            rel.tag_ids = [t for t in rel.tag_ids if t not in drop]

    def mark_tag(
        self, userid: str, external_userid: str, add: list[str], remove: list[str]
    ) -> FollowRelation:
        rel = self.get_follow(userid, external_userid)
        known = self.tag_ids()
        for tag_id in add + remove:
            if tag_id not in known:
                raise SandboxError(40068, f"tag {tag_id!r} not found")
        rel.tag_ids = [t for t in rel.tag_ids if t not in remove]
        rel.tag_ids += [t for t in add if t not in rel.tag_ids]
        return rel
