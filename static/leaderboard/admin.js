// Console → 拉新排行榜: the activity list, create / edit / copy / delete, and the data pages.
import { BASE, injectStyles, metricText, stateBadge, STATE_LABELS } from "/static/leaderboard/common.js";
import { activityForm } from "/static/leaderboard/form.js";

export async function mount(el, ui) {
  injectStyles();
  const nav = {
    list: () => showList(el, ui, nav),
    edit: (a) => activityForm(el, ui, a, nav),
    data: (id) => showData(el, ui, id, nav),
  };
  const params = (ui.context && ui.context.params) || Object.fromEntries(new URLSearchParams(location.search));
  if (params.activity && /^\d+$/.test(params.activity)) nav.data(params.activity);
  else nav.list();
}

// --- list --------------------------------------------------------------------------------

function showList(el, ui, nav) {
  const { h } = ui;
  const box = h("div");
  el.replaceChildren(h("div", { class: "card" },
    h("div", { class: "ui-filters" }, h("h2", { style: { margin: 0 } }, "拉新排行榜"), h("span", { class: "spacer" }),
      h("button", { class: "btn btn-primary", type: "button", id: "lb-new", onclick: () => nav.edit(null) }, "新建活动")),
    box));
  const t = ui.table(box, {
    filters: [
      { key: "state", label: "状态", type: "select", options: [{ value: "", label: "全部" },
        ...Object.entries(STATE_LABELS).map(([value, label]) => ({ value, label }))] },
      { key: "q", label: "名称", placeholder: "活动名称" },
    ],
    fetch: (page, f) => ui.api("GET", `${BASE}?${new URLSearchParams({ tab: "all", page, size: 20, ...f })}`),
    columns: [
      { title: "活动名称", render: (a) => h("a", { href: "#", onclick: (e) => { e.preventDefault(); nav.data(a.id); } }, a.name) },
      { title: "状态", render: (a) => a.draft
        ? h("span", { class: "lb-state not_started", title: "复制的活动：设置活动时间并保存后才会开始" }, "草稿")
        : stateBadge(h, a.state) },
      { title: "活动时间", render: (a) => `${ui.formatTime(a.start_at)} 至 ${ui.formatTime(a.end_at)}` },
      { title: "排行指标", render: (a) => metricText(a) },
      { title: "上榜名次", render: (a) => `前 ${a.top_n} 名` },
      { title: "操作", render: (a) => h("span", { class: "lb-actions" },
        a.state === "ended" ? null : h("button", { class: "btn btn-small", type: "button", onclick: () => nav.edit(a) }, "编辑"),
        " ", h("button", { class: "btn btn-small", type: "button", onclick: () => nav.data(a.id) }, "数据"),
        " ", h("button", { class: "btn btn-small", type: "button", onclick: () => copy(ui, a, () => t.reload()) }, "复制"),
        " ", h("button", { class: "btn btn-small btn-danger", type: "button", onclick: () => remove(ui, a, () => t.reload()) }, "删除")) },
    ],
  });
}

async function copy(ui, a, done) {
  try {
    const made = await ui.api("POST", `${BASE}/${a.id}/copy`, {});
    ui.toast(`已复制为草稿「${made.name}」，请设置活动时间后保存`);
    done();
  } catch (err) { /* the kit shows the message */ }
}

async function remove(ui, a, done) {
  const warn = a.state === "running" ? "活动正在进行中，删除后提醒和排名都会停止。" : "";
  if (!(await ui.confirm("删除活动", `确定删除「${a.name}」吗？${warn}删除后不可恢复。`))) return;
  try {
    await ui.api("POST", `${BASE}/${a.id}/delete`, {});
    ui.toast("已删除");
    done();
  } catch (err) { /* the kit shows the message */ }
}

// --- data --------------------------------------------------------------------------------

const TABLES = [
  { key: "members", label: "按成员" },
  { key: "dates", label: "按日期" },
  { key: "customers", label: "按客户" },
];

// The worker computes the 按成员 / 按日期 / TOP10 tables: until the one for the data version the
// server named is there, the page says so in `box` and asks again for that version.
const POLL_MS = 2000;

async function whenReady(ui, url, box) {
  const { h } = ui;
  const ticket = {};
  box.waiting = ticket;
  let data = await ui.api("GET", url);
  while (data.computing) {
    if (box.waiting !== ticket || !box.isConnected) return null;
    if (!box.querySelector(".lb-computing")) {
      box.replaceChildren(h("p", { class: "muted lb-computing" }, "数据计算中…（完成后自动显示）"));
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (box.waiting !== ticket || !box.isConnected) return null;
    data = await ui.api("GET", `${url}${url.includes("?") ? "&" : "?"}version=${data.version}`);
  }
  return box.waiting === ticket ? data : null;
}

async function showData(el, ui, id, nav) {
  const { h } = ui;
  let a;
  try {
    a = await ui.api("GET", `${BASE}/${id}`);
  } catch (err) {
    el.replaceChildren(h("div", { class: "card" }, h("p", {}, err.message),
      h("button", { class: "btn", type: "button", onclick: nav.list }, "返回活动列表")));
    return;
  }
  const head = h("div", { class: "card" },
    h("div", { class: "ui-filters" },
      h("button", { class: "btn btn-small", type: "button", onclick: nav.list }, "‹ 返回"),
      h("h2", { style: { margin: 0 } }, a.name), stateBadge(h, a.state), h("span", { class: "spacer" }),
      a.state === "running" && ["admin", "super_admin"].includes(ui.user.role)
        ? h("button", { class: "btn", type: "button", onclick: () => playDay(ui, a, () => showData(el, ui, id, nav)) }, "模拟一天拉新（沙箱）")
        : null),
    h("p", { class: "muted" }, `${metricText(a)} · ${ui.formatTime(a.start_at)} 至 ${ui.formatTime(a.end_at)} · 前 ${a.top_n} 名上榜`));
  if (a.state === "not_started") {
    el.replaceChildren(head, h("div", { class: "card" }, h("p", { class: "muted" }, "活动尚未开始，开始后可查看数据。")));
    return;
  }
  const top = h("div", { class: "ui-chart", id: "lb-top10" });
  const tabBox = h("div");
  const tabs = h("div", { class: "lb-tabs" }, TABLES.map((t) => h("button", { type: "button", "data-tab": t.key,
    onclick: () => select(t.key) }, t.label)));
  el.replaceChildren(head, h("div", { class: "card" }, h("h3", {}, "TOP10"), top), h("div", { class: "card" }, tabs, tabBox));
  const select = (key) => {
    for (const b of tabs.children) b.classList.toggle("on", b.dataset.tab === key);
    dataTable(tabBox, ui, a, key);
  };
  select("members");
  const data = await whenReady(ui, `${BASE}/${a.id}/data/top10`, top);
  if (!data) return;
  top.replaceChildren();
  const items = data.items.slice().reverse();
  await ui.chart(top, {
    grid: { left: 90, right: 40, top: 10, bottom: 30 },
    tooltip: { trigger: "axis" },
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: items.map((i) => `${i.rank}. ${i.name}`) },
    series: [{ type: "bar", data: items.map((i) => i.count), itemStyle: { color: "#1677ff" },
      barMaxWidth: 28, label: { show: true, position: "right" } }],
  });
}

async function playDay(ui, a, done) {
  try {
    const res = await ui.api("POST", `${BASE}/${a.id}/demo/play-day`, { customers: 12 });
    ui.toast(`沙箱中已有 ${res.added} 位客户添加成员，稍后刷新查看`);
    setTimeout(done, 3000);
  } catch (err) { /* the kit shows the message */ }
}

function cell(ui, value) {
  if (value === true) return "是";
  if (value === false) return "否";
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value)) return ui.formatTime(value);
  return value ?? "";
}

async function dataTable(box, ui, a, key) {
  const { h } = ui;
  const url = `${BASE}/${a.id}/data/${key}`;
  const paged = key === "customers";  // served page by page; the other two are small
  let first;
  try {
    first = paged ? await ui.api("GET", `${url}?size=1`) : await whenReady(ui, url, box);
  } catch (err) {
    box.replaceChildren(h("p", { class: "muted" }, err.message));
    return;
  }
  if (!first) return;  // another tab was chosen meanwhile
  box.waiting = null;
  // The table, its filter and its export show the version the page waited for.
  const version = paged ? {} : { version: first.version };
  const chartEl = key === "dates" ? h("div", { class: "ui-chart", id: "lb-dates-chart" }) : null;
  const defs = first.definitions ? h("dl", { class: "lb-defs", id: `lb-defs-${key}` },
    Object.entries(first.definitions).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])) : null;
  const tableEl = h("div");
  box.replaceChildren(...[chartEl, tableEl, defs].filter(Boolean));
  ui.table(tableEl, {
    filters: [{ key: "q", label: "筛选", placeholder: paged ? "客户或成员名称" : "关键词" }],
    exportUrl: `${url}?${new URLSearchParams({ ...version, format: "xlsx" })}`,
    pageSize: 20,
    fetch: async (page, f) => {
      if (paged) {
        const data = await ui.api("GET", `${url}?${new URLSearchParams({ ...f, page, size: 20 })}`);
        return { items: data.rows, total: data.total, size: 20 };
      }
      const data = await ui.api("GET", `${url}?${new URLSearchParams({ ...f, ...version })}`);
      if (chartEl) drawDates(ui, chartEl, data.headers, data.rows);
      const items = data.rows.slice((page - 1) * 20, page * 20);
      return { items, total: data.total, size: 20 };
    },
    columns: first.headers.map((title, i) => ({ title, render: (row) => cell(ui, row[i]) })),
  });
}

function drawDates(ui, el, headers, rows) {
  ui.chart(el, {
    grid: { left: 40, right: 20, top: 30, bottom: 30 },
    tooltip: { trigger: "axis" },
    legend: { data: headers.slice(1) },
    xAxis: { type: "category", data: rows.map((r) => r[0]) },
    yAxis: { type: "value", minInterval: 1 },
    series: headers.slice(1).map((name, i) => ({ name, type: "line", smooth: true, data: rows.map((r) => r[i + 1]) })),
  });
}
