"""Helpers for the points tests: save a programme, check the ledger against a recomputation."""

from __future__ import annotations

from typing import Any

from bot.deps import Deps
from handlers.points import ledger
from handlers.points.config import ProgramConfig
from storage.points import PointsAccount, PointsLot, PointsProgram


async def save_program(deps: Deps, **values: Any) -> ProgramConfig:
    base: dict[str, Any] = {"enabled": True, "chat_ids": ["g1", "g2"]}
    cfg = ProgramConfig.model_validate(base | values)
    await PointsProgram.update_or_create(
        id=1,
        defaults={
            "config": cfg.model_dump(mode="json"),
            "started_at": deps.now(),
            "updated_at": deps.now(),
        },
    )
    return cfg


async def assert_consistent(ext: str) -> None:
    """The live account and lots equal a recomputation from the entries and allocations."""
    again = await ledger.recompute(ext)
    acc = await PointsAccount.get_or_none(external_userid=ext)
    live = (acc.balance, acc.held, acc.debt, acc.earned) if acc else (0, 0, 0, 0)
    assert live == (again.balance, again.held, again.debt, again.earned)
    lots = {lot.id: lot.remaining for lot in await PointsLot.filter(external_userid=ext)}
    assert lots == again.lots
    assert all(v >= 0 for v in lots.values())
