"""pydantic validation errors in words a person can act on (zh-CN), naming the field.

Every API model gives each field the Chinese label its form shows, `Field(title="活动名称")`;
nested models and list items are named too ("团队第2项的团队名称"). `untitled_fields(model)`
lists the fields still without one (the tests check every API model).
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


def _field(model: type[pydantic.BaseModel], name: str) -> Any:
    """The field a location part names: by field name or by its alias (what the JSON uses)."""
    info = model.model_fields.get(name)
    if info is None:
        info = next((f for f in model.model_fields.values() if f.alias == name), None)
    return info


def _inner_model(annotation: Any) -> type[pydantic.BaseModel] | None:
    """The model inside `Model`, `list[Model]`, `Model | None` ..., to label nested fields."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        if found := _inner_model(arg):
            return found
    return None


def _label(model: type[pydantic.BaseModel], loc: tuple[Any, ...]) -> str:
    """The field as the form labels it: its `title` (or alias), nested ones joined, list
    items numbered from 1 as people count: 团队第2项的团队名称."""
    if not any(isinstance(p, str) for p in loc):
        return "请求内容"
    parts: list[str] = []
    current: type[pydantic.BaseModel] | None = model
    for part in loc:
        if isinstance(part, int):
            parts.append(f"第{part + 1}项")
            continue
        info = _field(current, str(part)) if current is not None else None
        if info is None:
            parts.append(("的" if parts else "") + str(part))
            current = None
            continue
        parts.append(("的" if parts else "") + (info.title or info.alias or str(part)))
        current = _inner_model(info.annotation)
    return "".join(parts)


def untitled_fields(model: type[pydantic.BaseModel]) -> list[str]:
    """Fields (nested ones too) a person would see by their code name in an error."""
    out = []
    for name, info in model.model_fields.items():
        if not info.title:
            out.append(f"{model.__name__}.{name}")
        if (inner := _inner_model(info.annotation)) is not None and inner is not model:
            out += untitled_fields(inner)
    return out


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
