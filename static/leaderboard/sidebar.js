// Sidebar → 拉新排行榜: my activities (or all, for admins), and one activity's ranking.
import { BASE, countdown, injectStyles, metricText, stateBadge, STATE_LABELS } from "/static/leaderboard/common.js";
import { setupWeCom } from "/static/common/wecom.js";

const MANAGERS = new Set(["dept_admin", "admin", "super_admin"]);

export async function mount(el, ui) {
  injectStyles();
  const params = (ui.context && ui.context.params) || {};
  const state = { tab: "mine", filter: "running", q: "" };
  const showList = () => renderList(el, ui, state, (id) => renderDetail(el, ui, id, showList));
  if (params.activity && /^\d+$/.test(params.activity)) {
    await renderDetail(el, ui, params.activity, showList);
  } else {
    await showList();
  }
}

// --- list --------------------------------------------------------------------------------

async function renderList(el, ui, state, openDetail) {
  const { h } = ui;
  const tabs = [["mine", "我参与的"]];
  if (MANAGERS.has(ui.user.role)) tabs.push(["all", "全部活动"]);
  const list = h("div", { class: "lb-items" });
  const select = h("select", { name: "state", "aria-label": "活动状态" },
    [["", "全部状态"], ...Object.entries(STATE_LABELS)].map(([v, label]) =>
      h("option", { value: v, selected: v === state.filter }, label)));
  const search = h("input", { name: "q", type: "search", placeholder: "搜索活动名称", value: state.q });
  const reload = async () => {
    state.filter = select.value;
    state.q = search.value.trim();
    list.replaceChildren(h("p", { class: "muted" }, "加载中…"));
    const query = new URLSearchParams({ tab: state.tab, state: state.filter, q: state.q, size: "50" });
    try {
      const data = await ui.api("GET", `${BASE}?${query}`);
      list.replaceChildren(...(data.items.length ? data.items.map((a) => item(h, ui, a, openDetail))
        : [h("p", { class: "muted" }, state.tab === "mine" ? "暂无你参与的活动" : "暂无活动")]));
    } catch (err) {
      list.replaceChildren(h("p", { class: "muted" }, err.message));
    }
  };
  const tabBar = h("div", { class: "lb-tabs", role: "tablist" }, tabs.map(([key, label]) =>
    h("button", { type: "button", role: "tab", class: key === state.tab ? "on" : "", "data-tab": key,
      onclick: () => { state.tab = key; renderList(el, ui, state, openDetail); } }, label)));
  select.addEventListener("change", reload);
  search.addEventListener("change", reload);
  el.replaceChildren(tabBar, h("div", { class: "lb-filters" }, select, search), list);
  await reload();
}

function item(h, ui, a, openDetail) {
  return h("div", { class: "lb-item", "data-activity": a.id, onclick: () => openDetail(a.id) },
    h("div", { class: "name" }, h("span", {}, a.name), stateBadge(h, a.state)),
    h("div", { class: "meta" }, `${ui.formatTime(a.start_at)} 至 ${ui.formatTime(a.end_at)}`),
    h("div", { class: "meta" }, metricText(a)));
}

// --- detail ------------------------------------------------------------------------------

async function renderDetail(el, ui, id, back) {
  const { h } = ui;
  el.replaceChildren(h("p", { class: "muted" }, "加载中…"));
  let a;
  try {
    a = await ui.api("GET", `${BASE}/${id}`);
  } catch (err) {
    el.replaceChildren(h("p", { class: "muted" }, err.message), backLink(h, back));
    return;
  }
  const reopen = () => renderDetail(el, ui, id, back);
  const info = h("div", { class: "lb-box" },
    h("h3", {}, a.name, " ", stateBadge(h, a.state)),
    h("dl", { class: "lb-kv" },
      h("dt", {}, "排行指标"), h("dd", {}, metricText(a)),
      h("dt", {}, "活动时间"), h("dd", {}, `${ui.formatTime(a.start_at)} 至 ${ui.formatTime(a.end_at)}`),
      h("dt", {}, "上榜名次"), h("dd", {}, `前 ${a.top_n} 名`)),
    a.metric === "group_joins"
      ? h("p", {}, h("button", { class: "btn btn-small", type: "button", onclick: () => showGroups(ui, a) }, "查看群聊"))
      : null);
  const parts = [backLink(h, back), info];
  if (a.state !== "ended") {
    const label = a.state === "not_started" ? "距活动开始" : "距活动结束";
    const target = a.state === "not_started" ? a.start_at : a.end_at;
    parts.push(h("div", { class: "lb-box" }, h("div", { class: "muted" }, label), countdown(h, target, reopen)));
  }
  if (a.description) parts.push(h("div", { class: "lb-box" }, h("h3", {}, "活动说明"), h("p", { class: "lb-desc" }, a.description)));
  el.replaceChildren(...parts);
  if (a.state !== "not_started") el.append(await ranking(ui, a));
}

function backLink(h, back) {
  return h("p", {}, h("button", { class: "btn btn-small", type: "button", onclick: back }, "‹ 活动列表"));
}

async function ranking(ui, a) {
  const { h } = ui;
  const box = h("div", { class: "lb-ranking" });
  let data;
  try {
    data = await ui.api("GET", `${BASE}/${a.id}/ranking?size=100`);
  } catch (err) {
    return h("p", { class: "muted" }, err.message);
  }
  const me = data.me;
  if (me) {
    const gap = me.on_list ? "已上榜" : `前 ${a.top_n} 名上榜`;
    box.append(h("div", { class: "lb-box lb-mine" },
      h("div", {}, h("b", { id: "lb-my-rank" }, me.rank), "我的排名"),
      h("div", {}, h("b", {}, me.count), "我的数量"),
      h("div", {}, h("b", {}, data.total), "参与人数"),
      h("div", { class: "muted", style: { alignSelf: "center" } }, gap)));
  }
  const title = a.state === "ended" ? "最终排名" : "实时排名";
  const canSeeOthers = MANAGERS.has(ui.user.role);
  const rows = data.rows.map((r) => h("tr", { class: [r.me ? "lb-me" : "", r.rank === a.top_n ? "lb-cut" : ""].join(" ").trim(),
    "data-userid": r.userid },
    h("td", {}, h("span", { class: `lb-medal r${r.rank}` }, r.rank)),
    h("td", {}, r.name, r.me ? "（我）" : ""),
    h("td", { class: "num" }, (r.me || canSeeOthers) && r.count > 0
      ? h("button", { class: "lb-count", type: "button", onclick: () => showCustomers(ui, a, r) }, r.count)
      : r.count)));
  box.append(h("div", { class: "lb-box" }, h("h3", {}, title),
    rows.length ? h("table", { class: "lb-rank" },
      h("thead", {}, h("tr", {}, h("th", {}, "排名"), h("th", {}, "成员"), h("th", { class: "num" }, "数量"))),
      h("tbody", {}, rows))
      : h("p", { class: "muted" }, "暂无数据")));
  if (data.teams && data.teams.length) box.append(teamBox(h, data.teams));
  return box;
}

function teamBox(h, teams) {
  return h("div", { class: "lb-box lb-teams" }, h("h3", {}, "团队排名"),
    h("table", { class: "lb-rank" },
      h("thead", {}, h("tr", {}, h("th", {}, "排名"), h("th", {}, "团队"), h("th", {}, "人数"), h("th", { class: "num" }, "数量"))),
      h("tbody", {}, teams.map((t) => h("tr", {},
        h("td", {}, h("span", { class: `lb-medal r${t.rank}` }, t.rank)), h("td", {}, t.name),
        h("td", {}, t.members), h("td", { class: "num" }, t.count))))));
}

async function showCustomers(ui, a, row) {
  const { h } = ui;
  let data;
  try {
    data = await ui.api("GET", `${BASE}/${a.id}/customers?userid=${encodeURIComponent(row.userid)}`);
  } catch (err) {
    return;
  }
  const what = a.metric === "group_joins" ? "邀请入群的客户" : "邀请的客户";
  const list = h("ul", { class: "lb-list lb-customers" }, data.items.map((c) => h("li", {},
    h("div", { class: "grow" }, h("div", {}, c.name || c.external_userid),
      h("div", { class: "sub" }, ui.formatTime(c.at))),
    row.me ? null : h("button", { class: "btn btn-small", type: "button", "data-add": c.external_userid,
      onclick: () => addContact(ui, c) }, "添加为联系人"),
    h("button", { class: "btn btn-small", type: "button",
      onclick: () => { location.href = c.profile_url; } }, "客户画像"))));
  ui.modal({ title: `${row.name} ${what}（${data.total}）`,
    body: data.items.length ? list : h("p", { class: "muted" }, "暂无客户") });
}

// 添加为联系人: WeCom's profile page of the customer, which has the add button.
async function addContact(ui, c) {
  try {
    const bridge = await setupWeCom();
    await bridge.openUserProfile(c.external_userid);
  } catch (err) {
    ui.toast(`无法打开客户资料：${err.message || err}`);
  }
}

async function showGroups(ui, a) {
  const { h } = ui;
  const data = await ui.api("GET", `${BASE}/${a.id}/groups`).catch(() => null);
  if (!data) return;
  ui.modal({ title: "活动群聊", body: data.items.length
    ? h("ul", { class: "lb-list lb-groups" }, data.items.map((g) => h("li", { "data-chat": g.chat_id },
      h("div", { class: "grow" }, h("div", {}, g.name || g.chat_id),
        h("div", { class: "sub" }, `群主 ${g.owner_name} · 客户 ${g.customers} 人 · 活动入群 ${g.joins} 次`,
          g.status === "active" ? "" : " · 已解散")),
      h("button", { class: "btn btn-small", type: "button", onclick: () => showGroup(ui, a, g) }, "详情"))))
    : h("p", { class: "muted" }, "暂无群聊") });
}

async function showGroup(ui, a, g) {
  const { h } = ui;
  const data = await ui.api("GET", `${BASE}/${a.id}/groups/${encodeURIComponent(g.chat_id)}`).catch(() => null);
  if (!data) return;
  const SCENES = { 1: "被成员邀请", 2: "通过邀请链接", 3: "扫描群二维码" };
  const members = data.members.map((m) => h("li", {}, h("div", { class: "grow" }, h("div", {}, m.name),
    h("div", { class: "sub" }, `${ui.formatTime(m.join_time)} ${SCENES[m.join_scene] || ""}`,
      m.invitor_name ? ` · 邀请人 ${m.invitor_name}` : ""))));
  const joins = data.joins.map((j) => h("li", {}, h("div", { class: "grow" }, h("div", {}, j.name),
    h("div", { class: "sub" }, `${ui.formatTime(j.at)} · 计入 ${j.credited_name}`))));
  ui.modal({ title: data.name, body: h("div", { class: "lb-group" },
    h("h4", {}, `群成员（客户 ${members.length} 人）`),
    members.length ? h("ul", { class: "lb-list lb-group-members" }, members) : h("p", { class: "muted" }, "暂无客户"),
    h("h4", {}, `活动期间入群（${joins.length} 次）`),
    joins.length ? h("ul", { class: "lb-list lb-group-joins" }, joins) : h("p", { class: "muted" }, "暂无入群")) });
}
