"""Contact ways and join ways in the sandbox: the QR image behind `qr_code`, the 30-character
state, the shared quota, deletion."""

import io
from typing import Any

import qrcode
from aiohttp.test_utils import TestClient

from bot.sandbox.corp import Corp
from tests.sandbox.conftest import call, token_for

Client = TestClient[Any, Any]
EC = "/cgi-bin/externalcontact"


async def _add_contact(api: Client, token: str, state: str = "s") -> dict[str, Any]:
    body = {"type": 1, "scene": 2, "state": state, "user": ["zhangwei"]}
    return await call(api, token, "POST", f"{EC}/add_contact_way", json=body)


async def _add_join(api: Client, token: str, chat_ids: list[str], state: str = "j") -> Any:
    body = {"scene": 2, "chat_id_list": chat_ids, "state": state}
    return await call(api, token, "POST", f"{EC}/groupchat/add_join_way", json=body)


async def test_qr_code_is_a_png_of_a_wecom_like_add_link(api: Client) -> None:
    token = await token_for(api, "contact")
    way = await _add_contact(api, token)
    path = way["qr_code"].removeprefix(f"http://{api.host}:{api.port}")
    assert path == f"/sandbox/qr/{way['config_id']}.png"
    image = await api.get(path)
    assert image.status == 200 and image.content_type == "image/png"
    png = await image.read()
    add_link = f"http://{api.host}:{api.port}/sandbox/ca/{way['config_id']}"
    expected = io.BytesIO()
    qrcode.make(add_link, box_size=8, border=2).save(expected)
    assert png == expected.getvalue()  # the QR code encodes the add link, not the image URL
    page = await api.get(f"/sandbox/ca/{way['config_id']}")
    assert page.status == 200 and "zhangwei" in await page.text()
    await call(api, token, "POST", f"{EC}/del_contact_way", json={"config_id": way["config_id"]})
    assert (await api.get(path)).status == 404


async def test_join_way_state_chats_and_qr(api: Client, corp: Corp) -> None:
    token = await token_for(api, "contact")
    chats = [corp.create_group("zhangwei", f"群{n}").chat_id for n in range(6)]
    assert (await _add_join(api, token, chats[:1], "x" * 31))["errcode"] == 40058
    assert (await _add_join(api, token, chats))["errcode"] == 40058  # more than 5 chats
    assert (await _add_join(api, token, ["wrnope"]))["errcode"] == 40058
    made = await _add_join(api, token, chats[:5], "活动:12")
    assert made["errcode"] == 0 and "qr_code" not in made
    got = await call(
        api, token, "POST", f"{EC}/groupchat/get_join_way", json={"config_id": made["config_id"]}
    )
    assert got["join_way"]["state"] == "活动:12" and got["join_way"]["chat_id_list"] == chats[:5]
    assert (await api.get(got["join_way"]["qr_code"].split(str(api.port))[1])).status == 200
    await call(
        api, token, "POST", f"{EC}/groupchat/del_join_way", json={"config_id": made["config_id"]}
    )
    assert corp.join_ways == {}


async def test_contact_and_join_ways_share_one_quota(api: Client, corp: Corp) -> None:
    token = await token_for(api, "contact")
    corp.way_quota = 2
    chat = corp.create_group("zhangwei", "群").chat_id
    first = await _add_contact(api, token)
    assert (await _add_join(api, token, [chat]))["errcode"] == 0
    assert (await _add_contact(api, token))["errcode"] == 45009
    assert (await _add_join(api, token, [chat]))["errcode"] == 45009
    await call(api, token, "POST", f"{EC}/del_contact_way", json={"config_id": first["config_id"]})
    assert (await _add_contact(api, token))["errcode"] == 0
