import pytest

from bot.crypto import CallbackError
from bot.events import (
    ContactEvent,
    ExternalChatEvent,
    ExternalContactEvent,
    TemplateCardEvent,
    UnknownEvent,
    parse_event,
)


def xml(body: str) -> str:
    return (
        "<xml><ToUserName>ww1</ToUserName><FromUserName>sys</FromUserName>"
        f"<CreateTime>1700000000</CreateTime><MsgType>event</MsgType>{body}</xml>"
    )


def test_add_external_contact() -> None:
    ev = parse_event(
        xml(
            "<Event>change_external_contact</Event><ChangeType>add_external_contact</ChangeType>"
            "<UserID>zhangsan</UserID><ExternalUserID>wmA</ExternalUserID><State>lb1</State>"
            "<WelcomeCode>WC</WelcomeCode>"
        )
    )
    assert isinstance(ev, ExternalContactEvent)
    assert ev.route == ("change_external_contact", "add_external_contact")
    assert (ev.user_id, ev.external_user_id, ev.state, ev.welcome_code) == (
        "zhangsan",
        "wmA",
        "lb1",
        "WC",
    )


def test_chat_update_member_list_one_and_many() -> None:
    one = parse_event(
        xml(
            "<Event>change_external_chat</Event><ChatId>c1</ChatId><ChangeType>update</ChangeType>"
            "<UpdateDetail>add_member</UpdateDetail><JoinScene>3</JoinScene><MemChangeCnt>1</MemChangeCnt>"
            "<MemChangeList><Item>wmA</Item></MemChangeList><LastMemVer>a</LastMemVer><CurMemVer>b</CurMemVer>"
        )
    )
    many = parse_event(
        xml(
            "<Event>change_external_chat</Event><ChatId>c1</ChatId><ChangeType>update</ChangeType>"
            "<UpdateDetail>del_member</UpdateDetail><QuitScene>1</QuitScene>"
            "<MemChangeList><Item>wmA</Item><Item>wmB</Item></MemChangeList>"
        )
    )
    assert isinstance(one, ExternalChatEvent) and isinstance(many, ExternalChatEvent)
    assert one.mem_change_list == ("wmA",) and one.join_scene == 3 and one.cur_mem_ver == "b"
    assert many.mem_change_list == ("wmA", "wmB") and many.quit_scene == 1


def test_template_card_event_both_spellings() -> None:
    for spelling in ("OptionIds", "OpitonIds"):
        inner = "OptionId" if spelling == "OptionIds" else "OpitonId"
        ev = parse_event(
            xml(
                "<Event>template_card_event</Event><EventKey>k</EventKey><TaskId>t</TaskId>"
                "<CardType>vote_interaction</CardType><ResponseCode>rc</ResponseCode>"
                f"<SelectedItems><SelectedItem><QuestionKey>q</QuestionKey><{spelling}>"
                f"<{inner}>a</{inner}><{inner}>b</{inner}></{spelling}></SelectedItem></SelectedItems>"
            )
        )
        assert isinstance(ev, TemplateCardEvent)
        assert ev.selected == {"q": ("a", "b")} and ev.response_code == "rc"


def test_unknown_event_kept() -> None:
    ev = parse_event(xml("<Event>something_new</Event>"))
    assert isinstance(ev, UnknownEvent) and ev.raw["Event"] == "something_new"


def test_odd_digits_in_a_contact_event_are_not_a_server_error() -> None:
    """ "²" is a digit to str.isdigit() but not to int(): it must not escape as a ValueError
    (the callback endpoint would answer 500)."""
    body = (
        "<Event>change_contact</Event><ChangeType>update_user</ChangeType>"
        "<UserID>zhangsan</UserID><Department>1,²,３,99999999999999999999999</Department>"
    )
    ev = parse_event(xml(body))
    assert isinstance(ev, ContactEvent) and ev.department == (1,)


def test_a_bad_number_is_a_bad_request() -> None:
    body = "<Event>change_contact</Event><ChangeType>update_user</ChangeType><Status>²</Status>"
    with pytest.raises(CallbackError):
        parse_event(xml(body))
