"""获客链接 (`externalcontact/customer_acquisition/*`) of the sandbox corp, as WeCom has them
(peers.md W5, REFERENCE.md §5):

- Only a self-built app listed under 客户联系 → 可调用应用 may call them. The 客户联系 secret is
  refused with 48002 (the server's permission check), and so is the app's own secret while
  `acquisition_api_allowed` is False (the app is not listed there).
- One link's range covers at most 100 members (`user_list` plus the members of
  `department_list`); more answers 40058. An unknown or deleted `link_id` answers 40058 too:
  REFERENCE.md documents no code of its own for either, and 40058 is the sandbox's
  invalid-parameter code everywhere.
- `customer_channel` is at most 64 bytes; a longer one is cut to 64 bytes (on a character
  boundary) and comes back as `State` of the add event.
- Use is metered: every customer newly added through a link takes one unit of the corp's quota
  (`customer_acquisition_quota`: total and balance). WeCom says a link stops working once the
  quota is used up, so with a balance of 0 opening the link adds nobody and sends no event
  (the sandbox's play action answers the refusal). A customer who already has the member as a
  friend adds nothing and takes no quota: WeCom sends no add event for an existing friend.
- A deleted link no longer adds anyone.
"""

from __future__ import annotations

import random

from bot.sandbox.base import CorpBase
from bot.sandbox.errors import SandboxError
from bot.sandbox.models import AcquisitionCustomer, AcquisitionLink, FollowRelation

BAD_PARAMETER = 40058
API_FORBIDDEN = 48002
RANGE_MAX = 100
CHANNEL_MAX_BYTES = 64
QUOTA = 1000
ADD_WAY = 16  # follow_user.add_way of an add through a 获客链接


def cut_channel(channel: str) -> str:
    """`customer_channel` as WeCom keeps it: at most 64 bytes of UTF-8."""
    return channel.encode()[:CHANNEL_MAX_BYTES].decode(errors="ignore")


class AcquisitionMixin(CorpBase):
    follows: dict[tuple[str, str], FollowRelation]

    def _init_acquisition(self) -> None:
        self.acquisition_links: dict[str, AcquisitionLink] = {}
        self.acquisition_total = QUOTA
        self.acquisition_balance = QUOTA
        # False: the app is not in 客户联系 → 可调用应用, so every call answers 48002 (W5).
        self.acquisition_api_allowed = True

    def check_acquisition_api(self) -> None:
        if not self.acquisition_api_allowed:
            raise SandboxError(API_FORBIDDEN, "api forbidden: add the app to 客户联系 可调用应用")

    def _range_members(self, users: list[str], departments: list[int]) -> list[str]:
        for userid in users:
            self.get_staff(userid)
        members = list(users)
        for dept in departments:
            if dept not in self.departments:
                raise SandboxError(BAD_PARAMETER, f"department {dept} not found")
            tree = set(self.department_tree(dept))
            members += [s.userid for s in self.staff.values() if set(s.department) & tree]
        members = list(dict.fromkeys(members))
        if not members:
            raise SandboxError(BAD_PARAMETER, "range: user_list or department_list is required")
        if len(members) > RANGE_MAX:
            raise SandboxError(BAD_PARAMETER, f"range covers {len(members)} members (max 100)")
        return members

    def create_link(
        self,
        link_name: str,
        users: list[str],
        departments: list[int],
        base_url: str = "",
        *,
        skip_verify: bool = True,
    ) -> AcquisitionLink:
        if not link_name or len(link_name) > 30:
            raise SandboxError(BAD_PARAMETER, "link_name: 1 to 30 characters")
        self._range_members(users, departments)
        link_id = self.new_id("cawcde", 16)
        link = AcquisitionLink(
            link_id, link_name, acquisition_url(base_url, link_id), self.now(), users, departments
        )
        link.skip_verify = skip_verify
        self.acquisition_links[link_id] = link
        return link

    def get_link(self, link_id: str) -> AcquisitionLink:
        link = self.acquisition_links.get(link_id)
        if link is None:
            raise SandboxError(BAD_PARAMETER, f"link_id {link_id!r} not found")
        return link

    def update_link(
        self,
        link_id: str,
        *,
        link_name: str | None = None,
        users: list[str] | None = None,
        departments: list[int] | None = None,
        skip_verify: bool | None = None,
    ) -> AcquisitionLink:
        link = self.get_link(link_id)
        if link_name is not None:
            if not link_name or len(link_name) > 30:
                raise SandboxError(BAD_PARAMETER, "link_name: 1 to 30 characters")
            link.link_name = link_name
        if users is not None or departments is not None:
            new_users = link.users if users is None else users
            new_departments = link.departments if departments is None else departments
            self._range_members(new_users, new_departments)
            link.users, link.departments = new_users, new_departments
        if skip_verify is not None:
            link.skip_verify = skip_verify
        return link

    def delete_link(self, link_id: str) -> None:
        del self.acquisition_links[self.get_link(link_id).link_id]

    def take_link_add(self, link_id: str, external_userid: str = "") -> str:
        """A customer opens the link: the member they add (one of the range), the quota taken.
        Refused for a deleted link, a used-up quota, or a customer who is already a friend of
        every member of the range."""
        link = self.get_link(link_id)
        link.clicks.append(self.now())
        members = self._range_members(link.users, link.departments)
        if external_userid:
            members = [m for m in members if (m, external_userid) not in self.follows]
            if not members:
                raise SandboxError(BAD_PARAMETER, "already a friend: WeCom adds nothing")
        if self.acquisition_balance <= 0:
            raise SandboxError(BAD_PARAMETER, "获客助手额度已用完：链接无法添加客户")
        self.acquisition_balance -= 1
        return random.choice(members)

    def record_link_add(self, link_id: str, external_userid: str, userid: str, state: str) -> None:
        link = self.acquisition_links.get(link_id)
        if link is not None:
            link.customers.append(AcquisitionCustomer(external_userid, userid, state))


def acquisition_url(base_url: str, link_id: str) -> str:
    """A link's `url`, like WeCom's https://work.weixin.qq.com/ca/cawcde…"""
    return f"{base_url}/sandbox/ca/{link_id}"
