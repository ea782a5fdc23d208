"""Typed WeCom API errors, each explained in words: English for logs, Chinese for admins."""

from __future__ import annotations

# Codes that mean "this access_token is no good": drop it, fetch a new one, retry once.
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# Transient codes: retried with jittered backoff (REFERENCE.md §4). Nothing else is retried.
RETRY_ERRCODES = frozenset({-1, 45009, 45033})

# errcode -> (English sentence for logs, Chinese hint for admins saying what to configure)
_EXPLAIN: dict[int, tuple[str, str]] = {
    -1: (
        "WeCom is busy or could not be reached; the call was retried and may be retried later",
        "企业微信系统繁忙或网络不通，请稍后重试；若持续出现，请检查服务器到 qyapi.weixin.qq.com 的网络。",
    ),
    40001: (
        "the secret was rejected; check wecom.secret / wecom.contact_secret",
        "Secret 不正确：请在企业微信管理后台「应用管理 → 自建应用」或「客户联系 → API」重新查看 Secret，"
        "并填入配置 wecom.secret / wecom.contact_secret。",
    ),
    40013: (
        "the corp id is invalid; check wecom.corp_id",
        "企业ID不正确：请在管理后台「我的企业 → 企业信息」复制企业ID，填入 wecom.corp_id。",
    ),
    40014: (
        "the access_token is invalid (usually a secret changed or another process reset it)",
        "access_token 无效：若最近重置过 Secret，请更新配置中的 Secret 并重启服务。",
    ),
    42001: (
        "the access_token expired; a new one is fetched automatically",
        "access_token 已过期，系统会自动重新获取；若反复出现，请检查服务器时间与 Redis 是否正常。",
    ),
    41001: (
        "the request carried no access_token (a client bug or a proxy dropping the query string)",
        "请求缺少 access_token：请检查反向代理是否丢弃了查询参数，或联系开发者。",
    ),
    40029: (
        "the OAuth code is invalid or already used (codes are single-use and short-lived)",
        "OAuth code 无效或已使用：请重新打开页面登录；若反复出现，请检查可信域名与回调地址配置。",
    ),
    40096: (
        "the external_userid is invalid (wrong corp, or taken from another app)",
        "外部联系人ID不合法：请确认该客户属于本企业，且 ID 由本应用或客户联系 Secret 获取。",
    ),
    41051: (
        "the welcome code was already used or expired (usable once, within 20 s of the event)",
        "欢迎语 code 已被使用或已过期（仅能在事件后 20 秒内使用一次）：请确认没有其他应用或第三方工具"
        "同时为该成员发送欢迎语。",
    ),
    42012: (
        "the jsapi ticket is invalid (agentConfig needs the agent ticket of this very app)",
        "jsapi_ticket 不合法：agentConfig 需使用本应用的应用 ticket，不能与其他应用共用；"
        "请确认 wecom.agent_id 与 wecom.secret 属于同一个应用。",
    ),
    45009: (
        "the API frequency limit was reached; calls are backed off and retried",
        "接口调用超过频率限制：请减少并发任务或调低配置 wecom.rate_per_minute，限制解除前会自动重试。",
    ),
    45033: (
        "too many concurrent calls to this API; lower the concurrency",
        "接口并发调用超过限制：请减少同时运行的 worker 数量或降低并发。",
    ),
    48002: (
        "this API is not permitted for the secret used (customer-contact permission missing)",
        "API 接口无权限调用：请在管理后台「客户与上下游 → 客户联系 → API」中开启 客户联系 API 权限，"
        "并把本应用加入「可调用接口的应用」；或在应用详情中开启对应接口权限。",
    ),
    60011: (
        "no privilege to read the directory; since 2022 the customer-contact secret cannot read "
        "members or departments, and an app reads only its visible range",
        "无通讯录权限：请在应用详情中把「可见范围」设为需要的部门/成员（通讯录权限），"
        "自 2022 年起客户联系 Secret 不能读取通讯录，请使用应用 Secret。",
    ),
    60020: (
        "the server's IP address is not in the app's trusted IP list",
        "访问 IP 不在白名单：请在管理后台「应用管理 → 本应用 → 企业可信IP」中加入本服务器的出口 IP。",
    ),
    60111: (
        "the userid does not exist in this corp",
        "成员 UserID 不存在：请确认成员未被删除，并刷新通讯录数据。",
    ),
    81013: (
        "every userid, department and tag in the request was invalid or out of the app's range",
        "接收人全部无效或不在应用可见范围内：请检查应用「可见范围」。",
    ),
    84061: (
        "there is no external-contact relation between this member and this customer",
        "该成员与该客户之间没有好友关系（可能已被删除）。",
    ),
    301002: (
        "the token's app may not act on this agentid (agent_id and secret belong to different apps)",
        "无权限操作指定的应用：请确认 wecom.agent_id 与 wecom.secret 来自同一个自建应用。",
    ),
}


class WeComError(Exception):
    """WeCom answered errcode != 0 (or could not be reached: errcode -1, see `network`)."""

    def __init__(self, errcode: int, errmsg: str, endpoint: str, *, network: bool = False) -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        self.endpoint = endpoint
        self.network = network
        super().__init__(f"{endpoint}: errcode {errcode}: {errmsg}")

    @property
    def retryable(self) -> bool:
        return self.network or self.errcode in RETRY_ERRCODES

    @property
    def task_id_used(self) -> bool:
        """A template card refused because its `task_id` (unique per app) was sent before.
        40058 is WeCom's generic invalid-parameter code; its errmsg names the field."""
        return self.errcode == 40058 and "task_id" in self.errmsg

    def explain(self) -> str:
        """One English sentence for logs: what happened and what to do."""
        text = _EXPLAIN.get(self.errcode, ("see the WeCom error-code reference", ""))[0]
        return f"WeCom {self.endpoint} failed with errcode {self.errcode}: {text} ({self.errmsg})"

    @property
    def hint_zh(self) -> str:
        """What an admin should configure, in Chinese."""
        hint = _EXPLAIN.get(self.errcode, ("", ""))[1]
        return (
            hint
            or f"企业微信接口返回错误 {self.errcode}（{self.errmsg}），请查阅企业微信全局错误码说明。"
        )


class MemberRateLimited(Exception):
    """Some members already got 30 app messages this minute; re-enqueue for them later.

    `sent` holds the merged result for the members that were sent to (or None)."""

    def __init__(
        self, userids: list[str], retry_after: float, sent: dict[str, object] | None = None
    ) -> None:
        self.userids = userids
        self.retry_after = retry_after
        self.sent = sent
        super().__init__(
            f"{len(userids)} member(s) over the per-minute limit; retry in {retry_after:.1f}s"
        )


def explained_codes() -> frozenset[int]:
    return frozenset(_EXPLAIN)
