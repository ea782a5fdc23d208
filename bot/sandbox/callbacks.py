"""The decrypted callback XML WeCom sends, built field by field as REFERENCE.md §2 lists them."""

from __future__ import annotations

from typing import Any


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _element(tag: str, value: Any) -> str:
    if isinstance(value, list):  # MemChangeList, OptionIds: one <Item>/<OptionId> each
        item_tag = "OptionId" if tag == "OptionIds" else "Item"
        return f"<{tag}>" + "".join(_element(item_tag, v) for v in value) + f"</{tag}>"
    if isinstance(value, dict):
        return f"<{tag}>" + "".join(_element(k, v) for k, v in value.items()) + f"</{tag}>"
    if isinstance(value, int):
        return f"<{tag}>{value}</{tag}>"
    return f"<{tag}>{_cdata(str(value))}</{tag}>"


def event_xml(corp_id: str, from_user: str, create_time: int, event: str, **fields: Any) -> str:
    head = {
        "ToUserName": corp_id,
        "FromUserName": from_user,
        "CreateTime": create_time,
        "MsgType": "event",
        "Event": event,
    }
    body = {**head, **{k: v for k, v in fields.items() if v is not None}}
    return "<xml>" + "".join(_element(k, v) for k, v in body.items()) + "</xml>"


def text_xml(
    corp_id: str, userid: str, create_time: int, content: str, msg_id: str, agent_id: int
) -> str:
    fields = {
        "ToUserName": corp_id,
        "FromUserName": userid,
        "CreateTime": create_time,
        "MsgType": "text",
        "Content": content,
        "MsgId": msg_id,
        "AgentID": agent_id,
    }
    return "<xml>" + "".join(_element(k, v) for k, v in fields.items()) + "</xml>"


def selected_items_xml(selected: dict[str, list[str]]) -> str:
    items = "".join(
        "<SelectedItem>"
        + _element("QuestionKey", key)
        + _element("OptionIds", ids)
        + "</SelectedItem>"
        for key, ids in selected.items()
    )
    return f"<SelectedItems>{items}</SelectedItems>"
