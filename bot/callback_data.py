"""Typed, signed card-button keys (aiogram's CallbackData, with an HMAC so forged keys do nothing).

class RankButton(CallbackData, prefix="lb.rank"):
    activity_id: int
    action: str

key = RankButton(activity_id=3, action="open").pack(signer)   # "lb.rank:3:open:Xy12..."
RankButton.unpack(key, signer)                               # RankButton(3, "open")
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, ClassVar, Self, dataclass_transform

from bot.signing import Signer

MAX_KEY_BYTES = 1024  # WeCom's button key limit (REFERENCE.md §3)
SEP = ":"
MAC_LENGTH = 12  # button keys are short; 72 bits still cannot be guessed online


class CallbackDataError(ValueError):
    pass


@dataclass_transform(frozen_default=True)  # mypy sees each subclass's typed constructor
class CallbackData:
    """Subclass with `prefix=`; fields are annotated class attributes (int, str or bool)."""

    prefix: ClassVar[str]
    _fields: ClassVar[tuple[tuple[str, type], ...]]

    def __init_subclass__(cls, prefix: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not prefix or SEP in prefix:
            raise ValueError(f"callback prefix {prefix!r} must be non-empty and without ':'")
        cls.prefix = prefix
        dataclasses.dataclass(frozen=True)(cls)
        hints = typing.get_type_hints(cls)
        cls._fields = tuple(
            (f.name, hints[f.name])
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        )

    def pack(self, signer: Signer) -> str:
        parts = [self.prefix]
        for name, _ in self._fields:
            value = getattr(self, name)
            text = str(int(value)) if isinstance(value, bool) else str(value)
            if SEP in text:
                raise CallbackDataError(f"field {name} may not contain ':'")
            parts.append(text)
        body = SEP.join(parts)
        key = body + SEP + signer.mac("card", body, length=MAC_LENGTH)
        if len(key.encode()) > MAX_KEY_BYTES:
            raise CallbackDataError(f"packed key is longer than {MAX_KEY_BYTES} bytes")
        return key

    @classmethod
    def matches(cls, key: str) -> bool:
        return key.startswith(cls.prefix + SEP)

    @classmethod
    def unpack(cls, key: str, signer: Signer) -> Self:
        body, _, mac = key.rpartition(SEP)
        if not signer.verify_mac("card", body, mac, length=MAC_LENGTH):
            raise CallbackDataError("button key signature is invalid")
        parts = body.split(SEP)
        if parts[0] != cls.prefix or len(parts) != len(cls._fields) + 1:
            raise CallbackDataError("button key does not match its type")
        values: dict[str, Any] = {}
        for (name, typ), text in zip(cls._fields, parts[1:], strict=True):
            try:
                values[name] = bool(int(text)) if typ is bool else typ(text)
            except ValueError:
                raise CallbackDataError(f"field {name} is not a valid {typ.__name__}") from None
        return cls(**values)
