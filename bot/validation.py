"""pydantic validation errors in words a person can act on (zh-CN), naming the field.

A model may give a field a Chinese label with `Field(title="活动名称")`; otherwise the field's
name is shown.
"""

from __future__ import annotations

from typing import Any

import pydantic

_NUMBER_TYPES = {"int_parsing", "int_type", "float_parsing", "float_type", "int_from_float"}
_TEMPLATES = {
    "missing": "缺少必填项：{label}",
    "string_too_long": "{label}太长（最多 {max_length} 个字）",
    "too_long": "{label}最多 {max_length} 项",
    "too_short": "{label}至少 {min_length} 项",
    "string_type": "{label}必须是文本",
    "bool_parsing": "{label}必须是 true 或 false",
    "bool_type": "{label}必须是 true 或 false",
    "list_type": "{label}必须是列表",
    "dict_type": "{label}必须是对象",
    "model_type": "{label}必须是对象",
    "greater_than_equal": "{label}不能小于 {ge}",
    "greater_than": "{label}必须大于 {gt}",
    "less_than_equal": "{label}不能大于 {le}",
    "less_than": "{label}必须小于 {lt}",
    "datetime_parsing": "{label}的日期时间格式不正确",
    "datetime_from_date_parsing": "{label}的日期时间格式不正确",
    "date_parsing": "{label}的日期格式不正确",
    "date_from_datetime_parsing": "{label}的日期格式不正确",
    "string_pattern_mismatch": "{label}的格式不正确",
    "url_parsing": "{label}必须是有效的网址",
    "url_scheme": "{label}必须以 http:// 或 https:// 开头",
    "extra_forbidden": "不认识的字段：{label}",
}


def _label(model: type[pydantic.BaseModel], loc: tuple[Any, ...]) -> str:
    names = [str(p) for p in loc if not isinstance(p, int)]
    if not names:
        return "请求内容"
    info = model.model_fields.get(names[0])
    label = info.title if info is not None and info.title else names[0]
    if len(loc) > 1:
        label += "（" + ".".join(str(p) for p in loc[1:]) + "）"
    return label


def _message(err: Any, label: str) -> str:
    kind = err["type"]
    ctx = dict(err.get("ctx") or {})
    if kind in _NUMBER_TYPES:
        return f"{label}必须是数字"
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return f"{label}不能为空"
        return f"{label}太短（至少 {ctx.get('min_length')} 个字）"
    if kind in ("literal_error", "enum"):
        return f"{label}的取值无效，可选：{ctx.get('expected', '')}"
    if kind in _TEMPLATES:
        try:
            return _TEMPLATES[kind].format(label=label, **ctx)
        except (KeyError, IndexError):
            pass
    if kind == "value_error":
        return f"{label}：{str(ctx.get('error', err['msg'])).removeprefix('Value error, ')}"
    return f"{label}的值无效"


def explain_validation_error(
    exc: pydantic.ValidationError, model: type[pydantic.BaseModel]
) -> tuple[str, str | None]:
    """The first error as (Chinese message, dotted field path)."""
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    field = ".".join(str(p) for p in loc) or None
    return _message(err, _label(model, loc)), field
