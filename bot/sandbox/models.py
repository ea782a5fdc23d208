"""The in-memory corp's records, shaped like WeCom's API objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Department:
    id: int
    name: str
    parentid: int = 0
    order: int = 0


@dataclass
class Staff:
    userid: str
    name: str
    department: list[int] = field(default_factory=lambda: [1])
    status: int = 1  # 1 active, 2 disabled, 4 not yet activated, 5 left
    avatar: str = ""
    position: str = ""


@dataclass
class Customer:
    external_userid: str
    name: str
    avatar: str = ""
    type: int = 1  # 1 WeChat user, 2 WeCom user
    gender: int = 0
    unionid: str = ""
    corp_name: str = ""


@dataclass
class FollowRelation:
    userid: str
    external_userid: str
    createtime: int
    add_way: int = 1
    state: str = ""
    remark: str = ""
    description: str = ""
    tag_ids: list[str] = field(default_factory=list)
    oper_userid: str = ""


@dataclass
class GroupMember:
    userid: str  # a staff userid or an external_userid
    type: int  # 1 staff, 2 external
    join_time: int
    join_scene: int = 1  # 1 invited directly, 2 invite link, 3 group QR
    invitor: str = ""
    group_nickname: str = ""


@dataclass
class GroupChat:
    chat_id: str
    name: str
    owner: str
    create_time: int
    notice: str = ""
    members: list[GroupMember] = field(default_factory=list)
    admin_list: list[str] = field(default_factory=list)
    member_version: str = ""
    status: int = 0  # 0 normal; 1-3 takeover states; dismissed groups are removed

    def member(self, member_id: str) -> GroupMember | None:
        return next((m for m in self.members if m.userid == member_id), None)


@dataclass
class CorpTag:
    id: str
    name: str
    order: int = 0
    create_time: int = 0


@dataclass
class TagGroup:
    group_id: str
    group_name: str
    order: int = 0
    create_time: int = 0
    tags: list[CorpTag] = field(default_factory=list)


@dataclass
class ContactWay:
    config_id: str
    type: int
    scene: int
    qr_code: str
    state: str = ""
    users: list[str] = field(default_factory=list)
    parties: list[int] = field(default_factory=list)
    remark: str = ""
    skip_verify: bool = True
    style: int = 1


@dataclass
class JoinWay:
    config_id: str
    scene: int
    chat_ids: list[str]
    state: str = ""
    remark: str = ""
    qr_code: str = ""


@dataclass
class AppMessage:
    """One recipient's copy of an app message, as it sits in that member's WeCom inbox."""

    id: str
    msgid: str  # shared by every recipient of one message/send
    userid: str
    msgtype: str
    payload: dict[str, Any]
    created_at: float
    task_id: str = ""
    response_code: str = ""
    card: dict[str, Any] | None = None  # the current template card, updates applied
    replace_name: str = ""  # set by a button update: the buttons become this one grey text
    updated_at: float = 0.0
    clicks: list[str] = field(default_factory=list)  # EventKeys this member clicked


@dataclass
class TypedText:
    """Text a member typed to the app in its chat."""

    userid: str
    content: str
    at: float


@dataclass
class ResponseCode:
    code: str
    msgid: str
    expires_at: float
    userid: str = ""  # set for codes from a click callback
    used: bool = False


@dataclass
class IssuedToken:
    token: str
    secret_kind: str  # "app" or "contact"
    expires_at: float


@dataclass
class OAuthCode:
    code: str
    expires_at: float
    userid: str = ""
    external_userid: str = ""
    openid: str = ""
    used: bool = False


@dataclass
class WelcomeCode:
    code: str
    userid: str
    external_userid: str
    expires_at: float
    used: bool = False


@dataclass
class WelcomeMessage:
    userid: str
    external_userid: str
    payload: dict[str, Any]
    sent_at: float


@dataclass
class MemberChange:
    """What a membership change did, for the change_external_chat callback."""

    chat: GroupChat
    member_ids: list[str]
    last_version: str
    cur_version: str


@dataclass
class AcquisitionCustomer:
    """A customer who added a member through a 获客链接 (customer_acquisition/customer)."""

    external_userid: str
    userid: str
    state: str  # the customer_channel the link was opened with
    chat_status: int = 0  # 0 no chat yet, 1 the customer spoke, 2 the member replied


@dataclass
class AcquisitionLink:
    link_id: str
    link_name: str
    url: str
    create_time: int
    users: list[str] = field(default_factory=list)
    departments: list[int] = field(default_factory=list)
    skip_verify: bool = True
    priority_option: dict[str, Any] = field(default_factory=dict)
    mark_source: bool = False
    customers: list[AcquisitionCustomer] = field(default_factory=list)
    clicks: list[int] = field(default_factory=list)  # when the link was opened
