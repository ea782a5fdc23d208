"""Facts follow WeCom's events in order whatever their spacing, and never lose what is known."""

from __future__ import annotations

from bot.deps import Deps
from storage.facts import Customer
from tests.facts.fakes import T0, FakeWeCom, contact_event, deliver

EXT = "wmOrder1"


async def test_an_add_seen_after_the_customer_left_everyone_keeps_the_name(
    deps: Deps, wecom: FakeWeCom
) -> None:
    wecom.contacts[EXT] = {"external_userid": EXT, "name": "张三", "type": 1, "gender": 1}
    wecom.follows[EXT] = [{"userid": "alice", "createtime": T0}]
    await deliver(deps, contact_event("add_external_contact", "alice", EXT, T0))
    # The customer then deleted everyone: WeCom no longer answers for them (84061) when the
    # worker gets to a later add.
    del wecom.contacts[EXT]
    wecom.follows.pop(EXT)
    await deliver(deps, contact_event("add_external_contact", "bob", EXT, T0 + 60))
    customer = await Customer.get(external_userid=EXT)
    assert (customer.name, customer.gender, customer.type) == ("张三", 1, 1)
