"""Passive card replies keep people's text exactly: CDATA is literal, so no entity escaping."""

from __future__ import annotations

from bot.replies import CardReply, passive_reply_xml
from bot.sandbox.cardxml import parse_reply

TRICKY = "A & B <c> ]]> d"


def test_card_text_survives_the_round_trip() -> None:
    xml = passive_reply_xml(CardReply(card={"main_title": {"title": TRICKY}}), "zhangsan", "ww1")
    assert parse_reply(xml)["template_card"] == {"main_title": {"title": TRICKY}}


def test_button_text_survives_the_round_trip() -> None:
    xml = passive_reply_xml(CardReply(replace_name=TRICKY), "zhangsan", "ww1")
    assert parse_reply(xml) == {"msg_type": "update_button", "replace_name": TRICKY}
