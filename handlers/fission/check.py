"""`scrmbot check` line for 裂变活动's 获客链接 mode: may the app call customer_acquisition
(a self-built app in 可调用应用; the 客户联系 secret is refused, W5), and how much 获客 quota is
left. A refusal or an empty quota fails the check only while an activity uses the mode."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.router_types import CheckLine
from bot.settings import Settings
from bot.wecom_errors import WeComError
from handlers.fission.participants import QR_LINK
from handlers.fission.router import router
from storage.fission import FissionActivity

NAME = "裂变活动: 获客链接 (customer_acquisition_quota with the app secret)"
FIX = "fix: 管理后台 客户与上下游 → 客户联系 → API：把本应用加入「可调用应用」"


async def _link_activities() -> list[str]:
    live = FissionActivity.filter(published=True, end_at__gte=datetime.now(UTC))
    return [a.name for a in await live if (a.options or {}).get("qr_kind") == QR_LINK]


@router.check
async def acquisition_link(wecom: Any, settings: Settings) -> list[CheckLine]:
    using = await _link_activities()
    who = f"used by {'、'.join(using[:5])}" if using else "no activity uses it"
    try:
        body = await wecom.acquisition_quota()
    except WeComError as exc:
        return [CheckLine(not using, NAME, f"{who}; {exc.explain()}; {FIX}")]
    balance, total = int(body.get("balance") or 0), int(body.get("total") or 0)
    detail = f"{who}; 获客 quota left {balance} of {total}"
    return [CheckLine(balance > 0 or not using, NAME, detail)]
