"""The programme's settings (one per corp), edited in the console and stored as JSON on
`PointsProgram` row 1; read through `program()`."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from storage.points import PointsProgram

PROFILE_FIELDS = {"name": "姓名", "phone": "手机号", "wechat": "微信号", "address": "地址"}


class Tier(BaseModel):
    days: int = Field(ge=1, le=366, title="天数")
    points: int = Field(ge=1, le=1_000_000, title="奖励积分")


class ProgramConfig(BaseModel):
    enabled: bool = Field(False, title="启用积分")
    chat_ids: list[str] = Field(default_factory=list, max_length=500, title="参与的客户群")
    newcomer_points: int = Field(0, ge=0, le=1_000_000, title="新人积分")
    newcomer_on: Literal["join", "add", "both"] = Field("join", title="新人积分发放时机")
    newcomer_min_stay_hours: int = Field(0, ge=0, le=720, title="最短在群时长（小时）")
    signin_points: int = Field(0, ge=0, le=1_000_000, title="每日签到积分")
    streak_tiers: list[Tier] = Field(default_factory=list, max_length=3, title="连续签到奖励")
    cumulative_tiers: list[Tier] = Field(default_factory=list, max_length=3, title="累计签到奖励")
    cumulative_period: Literal["week", "month", "year"] = Field("month", title="累计签到周期")
    profile_points: int = Field(0, ge=0, le=1_000_000, title="完善信息积分（每项）")
    profile_fields: list[Literal["name", "phone", "wechat", "address"]] = Field(
        default_factory=list, title="完善信息项"
    )
    mp_points: int = Field(0, ge=0, le=1_000_000, title="关注公众号积分")
    channels_points: int = Field(0, ge=0, le=1_000_000, title="关注视频号积分")
    channels_daily_cap: int = Field(100, ge=1, le=100_000, title="关注视频号每日发放上限（人）")
    channels_confirm: bool = Field(False, title="关注视频号需员工确认")
    expiry_mode: Literal["none", "days", "date"] = Field("none", title="积分有效期")
    expiry_days: int = Field(365, ge=1, le=3650, title="有效天数")
    expiry_date: date | None = Field(None, title="统一过期日期")
    expiry_remind_days: int = Field(0, ge=0, le=60, title="过期前提醒员工（天）")
    zero_on_leave: bool = Field(True, title="退出全部参与群后清零")
    reversal_negative: bool = Field(False, title="撤销已使用的积分时允许余额为负")
    hold_hours: int = Field(72, ge=1, le=720, title="兑换待发放时限（小时）")
    staff_limit: int = Field(500, ge=1, le=1_000_000, title="员工单次调整上限")

    @model_validator(mode="after")
    def _tiers_increase(self) -> ProgramConfig:
        for label, tiers in (
            ("连续签到奖励", self.streak_tiers),
            ("累计签到奖励", self.cumulative_tiers),
        ):
            days = [t.days for t in tiers]
            if days != sorted(set(days)):
                raise ValueError(f"{label}的天数必须逐级递增且不能重复")
        if self.expiry_mode == "date" and self.expiry_date is None:
            raise ValueError("积分有效期选择统一日期时，请填写统一过期日期")
        return self


async def program() -> tuple[ProgramConfig, int]:
    """The settings and their version (defaults when never saved)."""
    row = await PointsProgram.get_or_none(id=1)
    if row is None:
        return ProgramConfig(), 0
    return ProgramConfig.model_validate(row.config or {}), row.version
