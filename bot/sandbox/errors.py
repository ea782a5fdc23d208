"""WeCom error codes the sandbox answers with (REFERENCE.md §4), as WeCom words them."""

from __future__ import annotations

ERRMSG: dict[int, str] = {
    -1: "system busy",
    40001: "invalid credential",
    40003: "invalid userid",
    40004: "invalid media type",
    40006: "invalid file size",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40023: "invalid sub button size",
    40024: "invalid sub button type",
    40025: "invalid sub button name size",
    40026: "invalid sub button key size",
    40029: "invalid code",
    40050: "chatid not found",
    40056: "invalid agentid",
    40054: "invalid sub button url domain",
    40055: "invalid button url domain",
    40058: "invalid parameter",
    40068: "invalid tagid",
    40096: "invalid external userid",
    40099: "invalid response_code",
    41001: "access_token missing",
    41051: "invalid welcome_code",
    42001: "access_token expired",
    44004: "empty content",
    46003: "menu no exist",
    45002: "content size out of limit",
    45008: "article size out of limit",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    47001: "data format error",
    48002: "api forbidden",
    60011: "no privilege to access/modify contact/party/agent",
    60111: "userid not found",
    60123: "invalid party id",
    81013: "user & party & tag all invalid",
    84061: "not external contact",
}


def errmsg(errcode: int, detail: str = "") -> str:
    base = ERRMSG.get(errcode, "sandbox error")
    if detail:
        base = f"{base}: {detail}"
    return f"{base}, hint: [sandbox], more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}"


class SandboxError(Exception):
    """A WeCom error answer: HTTP 200 with errcode/errmsg."""

    def __init__(self, errcode: int, detail: str = "") -> None:
        super().__init__(f"{errcode} {detail}")
        self.errcode = errcode
        self.errmsg = errmsg(errcode, detail)

    def body(self) -> dict[str, object]:
        return {"errcode": self.errcode, "errmsg": self.errmsg}
