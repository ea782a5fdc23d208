"""`scrmbot check` lines for 朋友圈SOP: may the app use the moments APIs (the 客户联系 secret
or an app in 可调用应用), and did WeCom refuse any plan's staff as senders lately (outside the
app's visible range or 客户朋友圈 使用范围)? Each failure says what to switch on (W12)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.router_types import CheckLine
from bot.settings import Settings
from bot.wecom_errors import WeComError
from handlers.sop.router import router
from storage.sop import SopRun

FIX_API = "fix: 管理后台 客户与上下游 → 客户联系 → API：使用「客户联系」secret，或把本应用加入「可调用应用」"
FIX_RANGE = (
    "fix: 把这些成员加入本应用的可见范围，并在 客户与上下游 → 客户联系 → 权限配置 → 客户朋友圈 "
    "的「使用范围」中勾选他们"
)


@router.check
async def moments_permissions(wecom: Any, settings: Settings) -> list[CheckLine]:
    lines = []
    now = int(time.time())
    try:
        await wecom.get_moment_list(now - 86400, now, filter_type=2)
        lines.append(CheckLine(True, "朋友圈SOP: get_moment_list with the customer-contact secret"))
    except WeComError as exc:
        detail = f"{exc.explain()}; {FIX_API}"
        lines.append(
            CheckLine(False, "朋友圈SOP: get_moment_list with the customer-contact secret", detail)
        )
    since = datetime.now(UTC) - timedelta(days=30)
    refused: set[str] = set()
    for userids in await SopRun.filter(due_at__gte=since).values_list("invalid_userids", flat=True):
        refused |= {str(u) for u in userids or []}
    if refused:
        names = "、".join(sorted(refused)[:20])
        lines.append(
            CheckLine(
                False,
                "朋友圈SOP: senders WeCom accepted (last 30 days)",
                f"refused: {names}; {FIX_RANGE}",
            )
        )
    else:
        lines.append(
            CheckLine(True, "朋友圈SOP: senders WeCom accepted (last 30 days)", "none refused")
        )
    return lines
