"""A demo corp: departments, ~20 staff, ~200 customers, groups and tags, the same for a seed."""

from __future__ import annotations

import random

from bot.sandbox.corp import Corp

DEPARTMENTS = [(2, "销售一部"), (3, "销售二部"), (4, "客户成功部"), (5, "市场部"), (6, "运营部")]
STAFF = [
    ("admin", "陈静", 1),
    ("zhangwei", "张伟", 2),
    ("wangfang", "王芳", 2),
    ("lina", "李娜", 2),
    ("liuyang", "刘洋", 2),
    ("zhaomin", "赵敏", 3),
    ("sunhao", "孙浩", 3),
    ("zhouxin", "周欣", 3),
    ("wuqiang", "吴强", 3),
    ("zhengli", "郑丽", 4),
    ("wangjun", "王军", 4),
    ("fenglei", "冯磊", 4),
    ("chenchen", "陈晨", 4),
    ("yangxue", "杨雪", 5),
    ("huangtao", "黄涛", 5),
    ("xujing", "徐静", 5),
    ("hejia", "何佳", 6),
    ("guopeng", "郭鹏", 6),
    ("linxiao", "林晓", 6),
    ("maliang", "马亮", 6),
]
ADJECTIVES = ["快乐的", "安静的", "追风的", "爱笑的", "努力的", "温柔的", "勇敢的", "慢慢的", ""]
NOUNS = [
    "小鱼",
    "向日葵",
    "猫咪",
    "橙子",
    "星星",
    "月亮",
    "兔子",
    "咖啡",
    "麦田",
    "蒲公英",
    "晴天",
    "柠檬",
    "海风",
    "小熊",
    "云朵",
    "木子",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林"
TAG_GROUPS = [
    ("客户等级", ["A类客户", "B类客户", "C类客户"]),
    ("客户来源", ["门店", "线上活动", "老客推荐", "展会"]),
    ("意向产品", ["基础版", "专业版", "企业版"]),
]
GROUPS = [
    "VIP客户交流群",
    "新品体验官1群",
    "新品体验官2群",
    "门店福利群",
    "老客户答谢群",
    "售后服务群",
]
# add_way: 1 QR, 2 phone search, 3 name card, 4 group chat, 16 customer acquisition link
ADD_WAYS = [1, 1, 1, 2, 3, 4, 16]
STATES = ["", "", "", "qr_store", "poster_spring", "link_web"]
DAY = 86400


def _nickname(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return rng.choice(SURNAMES) + rng.choice(["女士", "先生", "总", "老师"])
    return rng.choice(ADJECTIVES) + rng.choice(NOUNS)


def seed_demo_corp(corp: Corp, seed: int = 1, customers: int = 200) -> Corp:
    rng = random.Random(seed)
    now = corp.now()
    for dept_id, name in DEPARTMENTS:
        corp.add_department(dept_id, name, 1, dept_id)
    for userid, name, dept in STAFF:
        corp.add_staff(userid, name, [dept]).position = (
            "超级管理员" if userid == "admin" else "顾问"
        )
    tags = [t.id for gname, names in TAG_GROUPS for t in corp.add_tags(gname, names).tags]
    sellers = [s[0] for s in STAFF if s[0] != "admin"]
    for _ in range(customers):
        _seed_customer(corp, rng, now, sellers, tags)
    _seed_groups(corp, rng, sellers)
    return corp


def _seed_customer(
    corp: Corp, rng: random.Random, now: int, sellers: list[str], tags: list[str]
) -> None:
    kind = 2 if rng.random() < 0.1 else 1
    customer = corp.add_customer(_nickname(rng), type=kind, gender=rng.choice([0, 1, 2]))
    if kind == 2:
        customer.corp_name = rng.choice(["星河科技", "青禾贸易", "远航物流", "知行教育"])
    else:
        customer.unionid = "oU" + corp.new_id("", 26)
    owners = rng.sample(sellers, 2 if rng.random() < 0.15 else 1)
    for userid in owners:
        created = now - rng.randint(0, 60 * DAY)
        rel = corp.add_follow(
            userid, customer.external_userid, rng.choice(STATES), rng.choice(ADD_WAYS), created
        )
        rel.tag_ids = rng.sample(tags, rng.randint(0, 2))


def _seed_groups(corp: Corp, rng: random.Random, sellers: list[str]) -> None:
    for name in GROUPS:
        owner = rng.choice(sellers)
        mine = [r.external_userid for r in corp.follows_of_staff(owner)]
        others = rng.sample(list(corp.customers), 10)
        colleagues = rng.sample([s for s in sellers if s != owner], 2)
        members = list(dict.fromkeys(mine[: rng.randint(5, 15)] + others + colleagues))
        chat = corp.create_group(owner, name, members)
        chat.notice = f"欢迎加入{name}，请文明交流。"
        chat.admin_list = colleagues[:1]
