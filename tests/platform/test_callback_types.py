"""mypy sees a CallbackData subclass's typed constructor (typing.dataclass_transform)."""

from __future__ import annotations

from pathlib import Path

from mypy import api

SNIPPET = """
from bot.callback_data import CallbackData


class Rank(CallbackData, prefix="t.rank"):
    activity_id: int
    action: str


ok = Rank(activity_id=3, action="open")
bad = Rank(activity_id="3", action="open")
"""


def test_mypy_checks_the_constructor(tmp_path: Path) -> None:
    source = tmp_path / "snippet.py"
    source.write_text(SNIPPET)
    out, _, status = api.run(
        [str(source), "--no-incremental", "--ignore-missing-imports", "--follow-imports=silent"]
    )
    assert status == 1
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 1, out  # the good call type-checks
    assert 'Argument "activity_id" to "Rank" has incompatible type "str"' in errors[0]
