"""Contact ways (联系我) and group join ways (加入群聊) of the sandbox corp, with WeCom's
limits: `state` ≤ 30 characters, ≤ 5 chats per join way, and one shared quota of API-made
ways (500,000 in WeCom; settable so tests can reach it)."""

from __future__ import annotations

from bot.sandbox.base import CorpBase
from bot.sandbox.errors import SandboxError
from bot.sandbox.models import ContactWay, GroupChat, JoinWay

QUOTA = 500_000
# REFERENCE.md documents no code for these refusals. A bad parameter answers 40058 (the
# sandbox's generic invalid-parameter code, used for every bad argument), and a full quota
# answers 45009, the documented generic "limit exceeded" code.
BAD_PARAMETER = 40058
LIMIT_EXCEEDED = 45009


class WaysMixin(CorpBase):
    contact_ways: dict[str, ContactWay]
    join_ways: dict[str, JoinWay]
    groups: dict[str, GroupChat]
    way_quota: int

    def _init_ways(self) -> None:
        self.contact_ways = {}
        self.join_ways = {}
        self.way_quota = QUOTA

    def _check_new_way(self, state: str) -> None:
        if len(state) > 30:
            raise SandboxError(BAD_PARAMETER, "state longer than 30 characters")
        if len(self.contact_ways) + len(self.join_ways) >= self.way_quota:
            raise SandboxError(LIMIT_EXCEEDED, "contact way and join way quota used up")

    def add_contact_way(
        self,
        *,
        type: int,
        scene: int,
        state: str,
        users: list[str],
        base_url: str = "",
        **extra: object,
    ) -> ContactWay:
        self._check_new_way(state)
        for userid in users:
            self.get_staff(userid)
        config_id = self.new_id("", 32)
        way = ContactWay(config_id, type, scene, qr_image_url(base_url, config_id), state, users)
        for key, value in extra.items():
            setattr(way, key, value)
        self.contact_ways[config_id] = way
        return way

    def get_contact_way(self, config_id: str) -> ContactWay:
        way = self.contact_ways.get(config_id)
        if way is None:
            raise SandboxError(BAD_PARAMETER, f"config_id {config_id!r} not found")
        return way

    def add_join_way(
        self, *, scene: int, chat_ids: list[str], state: str, base_url: str = "", remark: str = ""
    ) -> JoinWay:
        if scene not in (1, 2) or not 1 <= len(chat_ids) <= 5:
            raise SandboxError(BAD_PARAMETER, "scene (1|2) and 1 to 5 chat_id_list are required")
        self._check_new_way(state)
        for chat_id in chat_ids:
            if chat_id not in self.groups:
                raise SandboxError(BAD_PARAMETER, f"chat_id {chat_id!r} not found")
        config_id = self.new_id("", 32)
        qr = qr_image_url(base_url, config_id) if scene == 2 else ""
        way = JoinWay(config_id, scene, list(chat_ids), state, remark, qr)
        self.join_ways[config_id] = way
        return way

    def get_join_way(self, config_id: str) -> JoinWay:
        way = self.join_ways.get(config_id)
        if way is None:
            raise SandboxError(BAD_PARAMETER, f"config_id {config_id!r} not found")
        return way

    def way_by_config_id(self, config_id: str) -> ContactWay | JoinWay:
        return self.contact_ways.get(config_id) or self.get_join_way(config_id)


def qr_image_url(base_url: str, config_id: str) -> str:
    """Like WeCom's `qr_code`: the URL of a PNG image (of a QR code), not a page."""
    return f"{base_url}/sandbox/qr/{config_id}.png"


def add_url(base_url: str, config_id: str) -> str:
    """What the QR image encodes: a WeCom-like add link (work.weixin.qq.com/ca/…)."""
    return f"{base_url}/sandbox/ca/{config_id}"
