"""The demo corp: sizes, determinism for a seed, and the corp's state changes."""

from bot.sandbox.corp import Corp
from bot.sandbox.demo import seed_demo_corp
from bot.sandbox.errors import SandboxError


def _snapshot(corp: Corp) -> tuple[object, ...]:
    return (
        [(s.userid, s.name, s.department) for s in corp.staff.values()],
        [(c.external_userid, c.name, c.type, c.unionid) for c in corp.customers.values()],
        sorted(
            (r.userid, r.external_userid, r.createtime, r.state, r.add_way, tuple(r.tag_ids))
            for r in corp.follows.values()
        ),
        [(g.chat_id, g.name, g.owner, [m.userid for m in g.members]) for g in corp.groups.values()],
    )


def test_demo_sizes() -> None:
    corp = seed_demo_corp(Corp(clock=lambda: 1_700_000_000.0))
    assert len(corp.departments) == 6
    assert len(corp.staff) == 20
    assert corp.staff["admin"].position == "超级管理员"
    assert len(corp.customers) == 200
    assert len(corp.groups) == 6
    assert len(corp.tag_groups) == 3 and len(corp.tag_ids()) == 10
    owners = {r.userid for r in corp.follows.values()}
    assert len(owners) >= 15
    ages = [1_700_000_000 - r.createtime for r in corp.follows.values()]
    assert min(ages) >= 0 and max(ages) <= 60 * 86400 and max(ages) > 30 * 86400
    assert {r.add_way for r in corp.follows.values()} >= {1, 2, 3}
    assert any(r.state for r in corp.follows.values())
    assert all(len(g.members) >= 10 for g in corp.groups.values())


def test_demo_is_deterministic_per_seed() -> None:
    def make(seed: int) -> Corp:
        return seed_demo_corp(Corp(clock=lambda: 1_700_000_000.0), seed=seed)

    assert _snapshot(make(1)) == _snapshot(make(1))
    assert _snapshot(make(1)) != _snapshot(make(2))


def test_member_version_changes_on_every_membership_change(corp: Corp) -> None:
    customer = corp.add_customer("小鱼")
    chat = corp.create_group("zhangwei", "测试群")
    first = chat.member_version
    joined = corp.join_group(chat.chat_id, customer.external_userid, 3)
    assert joined.last_version == first and joined.cur_version != first
    quit = corp.quit_group(chat.chat_id, customer.external_userid)
    assert quit.last_version == joined.cur_version
    assert chat.member(customer.external_userid) is None


def test_mark_tag_needs_a_follow_relation(corp: Corp) -> None:
    customer = corp.add_customer("小鱼")
    tag = corp.add_tags("等级", ["A"]).tags[0]
    try:
        corp.mark_tag("zhangwei", customer.external_userid, [tag.id], [])
    except SandboxError as exc:
        assert exc.errcode == 84061
    else:
        raise AssertionError("expected 84061")
    corp.add_follow("zhangwei", customer.external_userid)
    assert corp.mark_tag("zhangwei", customer.external_userid, [tag.id], []).tag_ids == [tag.id]
    corp.delete_tags([tag.id], [])
    assert corp.follows[("zhangwei", customer.external_userid)].tag_ids == []
    assert not corp.tag_groups
