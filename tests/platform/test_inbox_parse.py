"""The worker reads a stored callback's flat XML without xmltodict, with the same result."""

from __future__ import annotations

import random
import re

from bot.crypto import parse_xml
from bot.events import parse_event
from bot.inbox import flat_xml, parse_row

WECOM = (
    "<xml><ToUserName><![CDATA[ww123]]></ToUserName><FromUserName><![CDATA[sys]]>"
    "</FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType>"
    "<Event><![CDATA[change_external_contact]]></Event>"
    "<ChangeType><![CDATA[add_external_contact]]></ChangeType>"
    "<UserID><![CDATA[zhangsan]]></UserID><ExternalUserID><![CDATA[wmAbc]]></ExternalUserID>"
    "<State><![CDATA[海报]]></State><WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode></xml>"
)


def test_a_wecom_callback_reads_as_xmltodict_reads_it() -> None:
    assert flat_xml(WECOM) == parse_xml(WECOM)
    assert parse_row(WECOM) == parse_event(WECOM)
    spaced = re.sub(r"(</\w+>)", r"\1\n  ", WECOM).replace("[sys]", "[ sys ]")
    assert flat_xml(spaced) is not None
    assert flat_xml(spaced) == parse_xml(spaced)
    # Whitespace around a CDATA section: left to xmltodict (which strips it too).
    assert flat_xml("<xml><A>\n<![CDATA[x]]>\n</A></xml>") is None


def test_anything_but_the_flat_form_is_left_to_xmltodict() -> None:
    for xml in (
        "<xml><A x='1'>v</A></xml>",  # attributes
        "<xml><A><B>v</B></A></xml>",  # nesting
        "<xml><A>1</A><A>2</A></xml>",  # repeated names: a list
        "<xml><A>a &amp; b</A></xml>",  # entities
        "<xml><A/></xml>",
        "<?xml version='1.0'?><xml><A>v</A></xml>",
        "<xml><A><![CDATA[x]]>y</A></xml>",
        "<xml><A><![CDATA[x]]>y]]></A></xml>",
        "<xml></xml>",
        "<xml><A>v</B></xml>",
    ):
        assert flat_xml(xml) is None, xml


def test_random_flat_documents_read_as_xmltodict_reads_them() -> None:
    rng = random.Random(7)
    alphabet = "ab 中文]>x\n\t1_-."
    for _ in range(2000):
        parts = []
        for n in range(rng.randint(1, 6)):
            name = rng.choice(["A", "B_c", "d.e", "F-g", "H1"]) + str(n)
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
            if rng.random() < 0.5:
                value = f"<![CDATA[{text.replace(']]>', '')}]]>"
            else:
                value = text.replace(">", "")
            parts.append(rng.choice(["", " ", "\n"]) + f"<{name}>{value}</{name}>")
        xml = "<xml>" + "".join(parts) + rng.choice(["", "\n"]) + "</xml>"
        flat = flat_xml(xml)
        assert flat is not None, xml
        assert flat == parse_xml(xml), xml
