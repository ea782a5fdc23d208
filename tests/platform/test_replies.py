"""Passive card replies keep people's text exactly: CDATA is literal, so no entity escaping."""

from __future__ import annotations

from bot.replies import CardReply, passive_reply_xml, to_xml
from bot.sandbox.cardxml import parse_reply

TRICKY = "A & B <c> ]]> d"


def test_card_text_survives_the_round_trip() -> None:
    xml = passive_reply_xml(CardReply(card={"main_title": {"title": TRICKY}}), "zhangsan", "ww1")
    assert parse_reply(xml)["template_card"] == {"main_title": {"title": TRICKY}}


def test_button_text_survives_the_round_trip() -> None:
    xml = passive_reply_xml(CardReply(replace_name=TRICKY), "zhangsan", "ww1")
    assert parse_reply(xml) == {"msg_type": "update_button", "replace_name": TRICKY}


# WeCom's passive update_template_card layout as independent SDKs write it: each list item is
# an element named after the list, `KeyName`, `CheckBox`, booleans as true/false.
BUTTON_CARD = {
    "card_type": "button_interaction",
    "source": {"icon_url": "https://x/i.png", "desc": "智能雷达", "desc_color": 1},
    "main_title": {"title": "标题", "desc": "说明"},
    "horizontal_content_list": [
        {"keyname": "客户", "value": "王芳"},
        {"type": 1, "keyname": "资料", "value": "打开", "url": "https://x/p"},
    ],
    "card_action": {"type": 1, "url": "https://x/a"},
    "task_id": "task-1",
    "button_list": [
        {"text": "已跟进", "style": 1, "key": "k1"},
        {"text": "稍后", "style": 2, "key": "k2"},
    ],
}
BUTTON_SAMPLE = (
    "<TemplateCard><CardType><![CDATA[button_interaction]]></CardType>"
    "<Source><IconUrl><![CDATA[https://x/i.png]]></IconUrl><Desc><![CDATA[智能雷达]]></Desc>"
    "<DescColor>1</DescColor></Source>"
    "<MainTitle><Title><![CDATA[标题]]></Title><Desc><![CDATA[说明]]></Desc></MainTitle>"
    "<HorizontalContentList><KeyName><![CDATA[客户]]></KeyName><Value><![CDATA[王芳]]></Value>"
    "</HorizontalContentList>"
    "<HorizontalContentList><Type>1</Type><KeyName><![CDATA[资料]]></KeyName>"
    "<Value><![CDATA[打开]]></Value><Url><![CDATA[https://x/p]]></Url></HorizontalContentList>"
    "<CardAction><Type>1</Type><Url><![CDATA[https://x/a]]></Url></CardAction>"
    "<TaskId><![CDATA[task-1]]></TaskId>"
    "<ButtonList><Text><![CDATA[已跟进]]></Text><Style>1</Style><Key><![CDATA[k1]]></Key>"
    "</ButtonList>"
    "<ButtonList><Text><![CDATA[稍后]]></Text><Style>2</Style><Key><![CDATA[k2]]></Key>"
    "</ButtonList></TemplateCard>"
)
VOTE_CARD = {
    "card_type": "vote_interaction",
    "main_title": {"title": "投票"},
    "checkbox": {
        "question_key": "q1",
        "option_list": [
            {"id": "a", "text": "甲", "is_checked": True},
            {"id": "b", "text": "乙", "is_checked": False},
        ],
        "mode": 1,
    },
    "submit_button": {"text": "提交", "key": "s"},
}
VOTE_SAMPLE = (
    "<TemplateCard><CardType><![CDATA[vote_interaction]]></CardType>"
    "<MainTitle><Title><![CDATA[投票]]></Title></MainTitle>"
    "<CheckBox><QuestionKey><![CDATA[q1]]></QuestionKey>"
    "<OptionList><Id><![CDATA[a]]></Id><Text><![CDATA[甲]]></Text><IsChecked>true</IsChecked>"
    "</OptionList>"
    "<OptionList><Id><![CDATA[b]]></Id><Text><![CDATA[乙]]></Text><IsChecked>false</IsChecked>"
    "</OptionList><Mode>1</Mode></CheckBox>"
    "<SubmitButton><Text><![CDATA[提交]]></Text><Key><![CDATA[s]]></Key></SubmitButton>"
    "</TemplateCard>"
)


def test_whole_card_reply_uses_wecoms_layout() -> None:
    assert to_xml(BUTTON_CARD, "TemplateCard") == BUTTON_SAMPLE
    assert to_xml(VOTE_CARD, "TemplateCard") == VOTE_SAMPLE


def test_sample_layout_reads_back_into_the_card() -> None:
    for card, sample in ((BUTTON_CARD, BUTTON_SAMPLE), (VOTE_CARD, VOTE_SAMPLE)):
        xml = f"<xml><MsgType><![CDATA[update_template_card]]></MsgType>{sample}</xml>"
        assert parse_reply(xml)["template_card"] == card


def test_a_one_item_list_stays_a_list() -> None:
    card = {"card_type": "text_notice", "jump_list": [{"type": 1, "title": "t", "url": "u"}]}
    xml = passive_reply_xml(CardReply(card=card), "zhangsan", "ww1")
    assert "<JumpList><Type>1</Type>" in xml
    assert parse_reply(xml)["template_card"] == card
