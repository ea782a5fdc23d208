"""Validation messages name fields in Chinese as the forms label them, nested ones included,
and every API model of every feature gives each field its label."""

from __future__ import annotations

import importlib
import pkgutil

import pydantic
import pytest
from pydantic import BaseModel, Field

import handlers
from bot.validation import explain_validation_error, untitled_fields


class Member(BaseModel):
    userid: str = Field(min_length=1, title="成员")


class Team(BaseModel):
    name: str = Field(min_length=1, max_length=8, title="团队名称")
    members: list[Member] = Field(default_factory=list, title="团队成员")


class Form(BaseModel):
    top_n: int = Field(ge=1, title="上榜名次")
    teams: list[Team] = Field(default_factory=list, title="团队")
    owner: str = Field("", alias="ownerId", title="负责人", max_length=3)


def _explain(data: dict[str, object]) -> tuple[str, str | None]:
    with pytest.raises(pydantic.ValidationError) as caught:
        Form.model_validate(data)
    return explain_validation_error(caught.value, Form)


def test_labels_not_code_names() -> None:
    assert _explain({"top_n": 0}) == ("上榜名次不能小于 1", "top_n")
    assert _explain({"top_n": 1, "teams": [{"name": "甲"}, {"name": ""}]}) == (
        "团队第2项的团队名称不能为空",
        "teams.1.name",
    )
    message, field = _explain({"top_n": 1, "teams": [{"name": "甲", "members": [{}]}]})
    assert message == "缺少必填项：团队第1项的团队成员第1项的成员"
    assert field == "teams.0.members.0.userid"
    assert _explain({"top_n": 1, "ownerId": "toolong"}) == ("负责人太长（最多 3 个字）", "ownerId")


def _api_models() -> list[type[BaseModel]]:
    for info in pkgutil.walk_packages(handlers.__path__, "handlers."):
        importlib.import_module(info.name)
    found, todo = [], list(BaseModel.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        # settings sections are read from the config file, not from forms
        if cls.__module__.startswith("handlers.") and not cls.__name__.endswith("Settings"):
            found.append(cls)
    return found


def test_every_api_model_labels_its_fields() -> None:
    models = _api_models()
    assert {"GroupIn", "ActivityPatch", "TagChange", "RoleGrant"} <= {m.__name__ for m in models}
    missing = [f for m in models for f in untitled_fields(m)]
    assert missing == [], "give these fields Field(title=<the form's label>)"
