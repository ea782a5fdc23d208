// Console → 朋友圈SOP: plans (list, editor with phone preview and calendar), pause / resume /
// copy / delete, and the data (per run, per staff member, per moment, ranking, Excel).
import { BASE, FREQ_LABELS, MODE_LABELS, WEEKDAYS, badge, injectStyles, periodText, phoneMoment } from "/static/sop/common.js";

export async function mount(el, ui) {
  injectStyles();
  const nav = {
    list: () => showList(el, ui, nav),
    edit: (plan) => showEditor(el, ui, plan, nav),
    data: (id) => showData(el, ui, id, nav),
  };
  const params = (ui.context && ui.context.params) || Object.fromEntries(new URLSearchParams(location.search));
  if (params.plan && /^\d+$/.test(params.plan)) nav.data(params.plan);
  else nav.list();
}

// --- list --------------------------------------------------------------------------------

function showList(el, ui, nav) {
  const { h } = ui;
  const box = h("div");
  const ranking = h("div");
  el.replaceChildren(
    h("div", { class: "card" },
      h("div", { class: "ui-filters" }, h("h2", { style: { margin: 0 } }, "朋友圈SOP"), h("span", { class: "spacer" }),
        h("button", { class: "btn btn-primary", type: "button", id: "sop-new", onclick: () => nav.edit(null) }, "新建计划")),
      box),
    h("div", { class: "card" }, h("h3", {}, "内容排行（每百位可见客户的点击、点赞、评论）"), ranking));
  const t = ui.table(box, {
    fetch: () => ui.api("GET", BASE),
    columns: [
      { title: "计划名称", render: (p) => h("a", { href: "#", onclick: (e) => { e.preventDefault(); nav.data(p.id); } }, p.name) },
      { title: "状态", render: (p) => p.paused ? badge(h, "paused", "已暂停") : badge(h, "on", "进行中") },
      { title: "方式", render: (p) => (p.mode === "task" ? "企业朋友圈任务" : "员工个人发表") },
      { title: "周期", render: (p) => periodText(p) },
      { title: "下次发送", render: (p) => (p.next_run ? ui.formatTime(p.next_run) : "—") },
      { title: "完成", render: (p) => `${p.stats.posted} / ${p.stats.tasks}` },
      { title: "操作", render: (p) => h("span", {},
        h("button", { class: "btn btn-small", type: "button", onclick: () => nav.edit(p) }, "编辑"), " ",
        h("button", { class: "btn btn-small", type: "button", onclick: () => nav.data(p.id) }, "数据"), " ",
        h("button", { class: "btn btn-small", type: "button", onclick: () => act(ui, p, p.paused ? "resume" : "pause", t) },
          p.paused ? "恢复" : "暂停"), " ",
        h("button", { class: "btn btn-small", type: "button", onclick: () => act(ui, p, "copy", t) }, "复制"), " ",
        h("button", { class: "btn btn-small btn-danger", type: "button", onclick: () => remove(ui, p, t) }, "删除")) },
    ],
  });
  showRanking(ranking, ui);
}

async function act(ui, p, what, t) {
  try {
    const made = await ui.api("POST", `${BASE}/${p.id}/${what}`, {});
    ui.toast({ pause: "已暂停，之后的发送已取消", resume: "已恢复，从现在起按计划发送",
      copy: `已复制为暂停的草稿「${made.name}」` }[what]);
    t.reload();
  } catch (err) { /* the kit shows the message */ }
}

async function remove(ui, p, t) {
  if (!(await ui.confirm("删除计划", `确定删除「${p.name}」吗？之后的发送会取消，未确认的企业朋友圈任务也会撤销。`))) return;
  try {
    await ui.api("DELETE", `${BASE}/${p.id}`);
    ui.toast("已删除");
    t.reload();
  } catch (err) { /* the kit shows the message */ }
}

async function showRanking(box, ui) {
  const { h } = ui;
  ui.table(box, {
    fetch: () => ui.api("GET", "/api/sop/ranking"),
    columns: [
      { title: "排名", render: (g) => (g.suggest ? h("b", {}, `${g.rank} · 建议下周再发`) : g.rank) },
      { title: "计划", key: "plan" },
      { title: "内容", render: (g) => g.text || "（无文案）" },
      { title: "发送次数", key: "runs" },
      { title: "发布人次", key: "posts" },
      { title: "可见客户", key: "visible" },
      { title: "点击 / 点赞 / 评论", render: (g) => `${g.clicks} / ${g.likes} / ${g.comments}` },
      { title: "每百人互动", render: (g) => (g.score ?? "—") },
    ],
  });
}

// --- editor ------------------------------------------------------------------------------

const EMPTY = {
  name: "", mode: "personal", userids: [], department_ids: [], tag_ids: [], freq: "daily", weekdays: [],
  month_days: [], at_time: "12:00", start_date: "", end_date: null, quiet_start: "", quiet_end: "",
  remind_again_minutes: 120, poll_hours: 48, items: [{ text: "", kind: "text" }],
};

function showEditor(el, ui, plan, nav) {
  const { h } = ui;
  const today = new Date().toISOString().slice(0, 10);
  const v = JSON.parse(JSON.stringify(plan || { ...EMPTY, start_date: today }));
  const rows = {};
  const row = (name, label, input, help) => {
    const error = h("div", { class: "error" });
    rows[name] = { error, node: null };
    const node = h("div", { class: "sop-row", "data-field": name }, h("label", { class: "title" }, label), input,
      help ? h("div", { class: "help" }, help) : null, error);
    rows[name].node = node;
    return node;
  };
  const text = (name, attrs = {}) => h("input", { id: `sop-${name}`, value: v[name] ?? "", ...attrs,
    oninput: (e) => { v[name] = e.target.value; refresh(); } });
  const staff = ui.picker({ kind: "staff", value: v.userids, onChange: (x) => { v.userids = x; } });
  const depts = ui.picker({ kind: "departments", value: v.department_ids, onChange: (x) => { v.department_ids = x; } });
  const tags = ui.picker({ kind: "tags", value: v.tag_ids, onChange: (x) => { v.tag_ids = x; } });
  const mode = h("select", { id: "sop-mode", onchange: (e) => { v.mode = e.target.value; drawTags(); } },
    Object.entries(MODE_LABELS).map(([value, label]) => h("option", { value, selected: v.mode === value }, label)));
  const tagRow = row("tag_ids", "可见客户标签", tags.el,
    "企业微信只能按企业标签限定可见范围，多个标签之间是“或”的关系（有任一标签的客户可见）；不选则员工的全部客户可见。");
  const drawTags = () => { tagRow.style.display = v.mode === "task" ? "" : "none"; };
  const period = h("div");
  const freq = h("select", { id: "sop-freq", onchange: (e) => { v.freq = e.target.value; drawPeriod(); refresh(); } },
    Object.entries(FREQ_LABELS).map(([value, label]) => h("option", { value, selected: v.freq === value }, label)));
  const checks = (key, values, labels) => h("div", { class: "sop-inline" }, values.map((d, i) => h("label", {},
    h("input", { type: "checkbox", checked: v[key].includes(d), "data-day": d,
      onchange: (e) => { v[key] = e.target.checked ? [...v[key], d] : v[key].filter((x) => x !== d); refresh(); } }),
    labels[i])));
  function drawPeriod() {
    if (v.freq === "weekly") period.replaceChildren(row("weekdays", "每周发送日", checks("weekdays", [0, 1, 2, 3, 4, 5, 6], WEEKDAYS)));
    else if (v.freq === "monthly") {
      const days = Array.from({ length: 31 }, (_, i) => i + 1);
      period.replaceChildren(row("month_days", "每月发送日", checks("month_days", days, days.map((d) => `${d}`)),
        "29、30、31 日在较短的月份按当月最后一天发送（同一天只发一次），按企业所在时区计算。"));
    } else period.replaceChildren();
  }
  const itemsBox = h("div");
  const preview = h("div", { class: "sop-phone", id: "sop-preview" });
  const calendar = h("ul", { class: "sop-cal", id: "sop-calendar" });
  const formError = h("div", { class: "form-error" });

  function drawItems() {
    itemsBox.replaceChildren(...v.items.map((item, i) => itemEditor(ui, item, i, v, drawItems, refresh)),
      h("button", { class: "btn", type: "button", onclick: () => { v.items.push({ text: "", kind: "text" }); drawItems(); } },
        "添加一条内容"));
    rows.items = rows.items || { error: h("div", { class: "error" }) };
    itemsBox.append(rows.items.error);
    refresh();
  }

  let calTimer = null;
  function refresh() {
    const first = v.items[0] || {};
    preview.replaceChildren(h("div", { class: "bar" }, "预览：客户看到的朋友圈（第 1 条内容）"),
      phoneMoment(h, first, { who: ui.user ? ui.user.name || "员工" : "员工" }));
    clearTimeout(calTimer);
    calTimer = setTimeout(loadCalendar, 300);
  }
  async function loadCalendar() {
    try {
      const data = await ui.api("POST", "/api/sop/preview-calendar", body(), { quiet: true });
      calendar.replaceChildren(...(data.upcoming.length ? data.upcoming.map((r) => h("li", {},
        h("span", {}, ui.formatTime(r.due_at)), h("span", { class: "muted" }, `第 ${r.item + 1} 条内容`)))
        : [h("li", { class: "muted" }, "没有将要发送的时间")]));
    } catch (err) {
      calendar.replaceChildren(h("li", { class: "muted" }, `日历：${err.message}`));
    }
  }
  const body = () => ({ ...v, userids: staff.value(), department_ids: depts.value().map(Number),
    tag_ids: v.mode === "task" ? tags.value() : [], end_date: v.end_date || null,
    remind_again_minutes: Number(v.remind_again_minutes), poll_hours: Number(v.poll_hours) });

  async function save(event) {
    event.preventDefault();
    formError.textContent = "";
    for (const r of Object.values(rows)) { r.error.textContent = ""; if (r.node) r.node.classList.remove("invalid"); }
    try {
      if (plan) await ui.api("PUT", `${BASE}/${plan.id}`, body());
      else await ui.api("POST", BASE, body());
      ui.toast(plan ? "已保存，之后的发送按新设置进行" : "计划已创建");
      nav.list();
    } catch (err) {
      const top = (err.field || "").split(".")[0];
      if (err.field && err.field.startsWith("items.")) {
        const index = Number(err.field.split(".")[1]);
        const node = itemsBox.querySelectorAll(".sop-item")[index];
        const target = node ? node.querySelector(".error") : rows.items.error;
        target.textContent = err.message;
      } else if (rows[top]) {
        rows[top].error.textContent = err.message;
        if (rows[top].node) rows[top].node.classList.add("invalid");
      } else formError.textContent = err.message || "保存失败";
    }
  }

  const formNode = h("form", { class: "card", novalidate: true, id: "sop-form", onsubmit: save },
    h("div", { class: "ui-filters" }, h("button", { class: "btn btn-small", type: "button", onclick: nav.list }, "‹ 返回"),
      h("h2", { style: { margin: 0 } }, plan ? `编辑计划：${plan.name}` : "新建计划")),
    plan ? h("p", { class: "muted" }, "修改只影响之后的发送，已发送的记录保持不变。") : null,
    row("name", "计划名称", text("name", { maxlength: 64 })),
    row("mode", "发送方式", mode, "个人发表：到点给员工发提醒卡片，员工点「去发布」一键发表，系统通过链接自动识别是否已发；企业任务：每次创建一个企业朋友圈任务，员工在“客户朋友圈 → 企业通知”中确认。"),
    row("userids", "执行员工", staff.el),
    row("department_ids", "执行部门", depts.el, "部门内的成员（含下级部门）都会收到任务。"),
    tagRow,
    row("freq", "重复", freq), period,
    row("at_time", "发送时间", text("at_time", { type: "time" }), "按企业所在时区。"),
    h("div", { class: "sop-inline" }, row("start_date", "开始日期", text("start_date", { type: "date" })),
      row("end_date", "结束日期（可不填）", text("end_date", { type: "date" }))),
    h("div", { class: "sop-inline" }, row("quiet_start", "免打扰开始", text("quiet_start", { type: "time" })),
      row("quiet_end", "免打扰结束", text("quiet_end", { type: "time" }))),
    h("div", { class: "sop-inline" },
      row("remind_again_minutes", "再次提醒（分钟后，0 不提醒）", text("remind_again_minutes", { type: "number", min: 0, max: 1440 })),
      row("poll_hours", "发布跟踪时长（小时）", text("poll_hours", { type: "number", min: 1, max: 168 }))),
    h("h3", {}, "内容（每次发送依次使用下一条）"), itemsBox, formError,
    h("div", { class: "actions" }, h("button", { class: "btn", type: "button", onclick: nav.list }, "取消"),
      h("button", { class: "btn btn-primary", type: "submit", id: "sop-save" }, "保存")));
  el.replaceChildren(h("div", { class: "sop-editor" }, formNode,
    h("div", {}, h("div", { class: "card" }, preview), h("div", { class: "card" }, h("h3", {}, "将要发送"), calendar))));
  drawTags();
  drawPeriod();
  drawItems();
}

function itemEditor(ui, item, i, v, redraw, refresh) {
  const { h } = ui;
  const count = h("span", { class: "muted" }, `${(item.text || "").length} / 2000`);
  const upload = async (kind, files) => {
    const out = [];
    for (const file of files) {
      const form = new FormData();
      form.append("kind", kind);
      form.append("file", file);
      const token = (document.cookie.split("; ").find((c) => c.startsWith("scrmbot_csrf=")) || "").slice(13);
      const resp = await fetch("/api/sop/media", { method: "POST", body: form, credentials: "same-origin",
        headers: token ? { "X-CSRF-Token": decodeURIComponent(token) } : {} });
      const data = await resp.json().catch(() => ({}));
      if (!resp.ok) { ui.toast(data.error || "上传失败", "error"); continue; }
      out.push(data.name);
    }
    return out;
  };
  const kind = h("select", { onchange: (e) => { item.kind = e.target.value; redraw(); } },
    [["text", "仅文字"], ["images", "图片（最多 9 张）"], ["link", "链接"], ["video", "视频（≤30 秒，≤10MB）"]].map(([value, label]) =>
      h("option", { value, selected: item.kind === value }, label)));
  let extra = null;
  if (item.kind === "images") {
    item.images = item.images || [];
    extra = h("div", {}, h("input", { type: "file", accept: "image/*", multiple: true, onchange: async (e) => {
      item.images = [...item.images, ...(await upload("image", e.target.files))];
      redraw();
    } }), h("div", { class: "sop-thumbs" }, item.images.map((n, k) => h("img", { src: `/api/sop/media/${n}`, alt: "图片",
      title: "点击移除", onclick: () => { item.images.splice(k, 1); redraw(); } }))),
    h("div", { class: "help" }, `${item.images.length} / 9 张，点击图片可移除`));
  } else if (item.kind === "link") {
    item.link = item.link || { title: "", url: "", cover: "" };
    extra = h("div", {},
      h("input", { placeholder: "链接标题（最多 64 字节）", value: item.link.title, oninput: (e) => { item.link.title = e.target.value; refresh(); } }),
      h("input", { placeholder: "https://", value: item.link.url, oninput: (e) => { item.link.url = e.target.value; } }),
      h("label", {}, "封面：", h("input", { type: "file", accept: "image/*", onchange: async (e) => {
        const [name] = await upload("image", e.target.files);
        if (name) { item.link.cover = name; redraw(); }
      } })),
      item.link.cover ? h("img", { src: `/api/sop/media/${item.link.cover}`, alt: "封面", style: { width: "48px" } }) : null,
      h("div", { class: "help" }, "链接会换成按员工区分的跟踪链接，客户点击会实时提醒对应员工。"));
  } else if (item.kind === "video") {
    extra = h("div", {}, h("input", { type: "file", accept: "video/mp4", onchange: async (e) => {
      const [name] = await upload("video", e.target.files);
      if (name) { item.video = name; redraw(); }
    } }), item.video ? h("span", { class: "muted" }, " 已上传") : null);
  }
  return h("div", { class: "sop-item" },
    h("div", { class: "sop-inline" }, h("b", {}, `第 ${i + 1} 条`), kind, h("span", { class: "spacer" }),
      v.items.length > 1 ? h("button", { class: "btn btn-small", type: "button", onclick: () => { v.items.splice(i, 1); redraw(); } }, "删除") : null),
    h("textarea", { rows: 4, placeholder: "文案（最多 2000 字）", "data-item": i, oninput: (e) => {
      item.text = e.target.value; count.textContent = `${item.text.length} / 2000`; refresh();
    } }, item.text || ""), count, extra, h("div", { class: "error" }));
}

// --- data --------------------------------------------------------------------------------

async function showData(el, ui, id, nav) {
  const { h } = ui;
  let plan;
  try {
    plan = await ui.api("GET", `${BASE}/${id}`);
  } catch (err) {
    el.replaceChildren(h("div", { class: "card" }, h("p", {}, err.message),
      h("button", { class: "btn", type: "button", onclick: nav.list }, "返回")));
    return;
  }
  const chartBox = h("div", { class: "ui-chart", id: "sop-chart" });
  const tabBox = h("div");
  const calendar = h("ul", { class: "sop-cal" });
  const tabs = h("div", { class: "sop-tabs" }, [["runs", "按发送"], ["staff", "按员工"]].map(([key, label]) =>
    h("button", { type: "button", "data-tab": key, onclick: () => select(key) }, label)));
  el.replaceChildren(
    h("div", { class: "card" }, h("div", { class: "ui-filters" },
      h("button", { class: "btn btn-small", type: "button", onclick: nav.list }, "‹ 返回"),
      h("h2", { style: { margin: 0 } }, plan.name), plan.paused ? badge(h, "paused", "已暂停") : null,
      h("span", { class: "spacer" }),
      ["admin", "super_admin"].includes(ui.user.role)
        ? h("button", { class: "btn", type: "button", onclick: () => play(ui, plan, () => showData(el, ui, id, nav)) }, "模拟发布与点击（沙箱）")
        : null,
      h("a", { class: "btn", href: `${BASE}/${plan.id}/export.xlsx` }, "导出 Excel")),
    h("p", { class: "muted" }, `${periodText(plan)} · ${plan.mode === "task" ? "企业朋友圈任务" : "员工个人发表"}`)),
    h("div", { class: "card" }, h("h3", {}, "完成率趋势"), chartBox),
    h("div", { class: "card" }, tabs, tabBox),
    h("div", { class: "card" }, h("h3", {}, "日历"), calendar));
  const select = (key) => {
    for (const b of tabs.children) b.classList.toggle("on", b.dataset.tab === key);
    if (key === "runs") runsTable(tabBox, ui, plan);
    else staffTab(tabBox, ui, plan);
  };
  select("runs");
  const runs = (await ui.api("GET", `${BASE}/${plan.id}/runs`)).items.slice().reverse();
  await ui.chart(chartBox, {
    tooltip: { trigger: "axis" }, legend: { data: ["完成率 %", "点击"] },
    xAxis: { type: "category", data: runs.map((r) => ui.formatTime(r.due_at)) },
    yAxis: [{ type: "value", max: 100 }, { type: "value", minInterval: 1 }],
    series: [{ name: "完成率 %", type: "line", data: runs.map((r) => r.rate ?? 0) },
      { name: "点击", type: "bar", yAxisIndex: 1, data: runs.map((r) => r.clicks) }],
  });
  const cal = await ui.api("GET", `${BASE}/${plan.id}/calendar`);
  calendar.replaceChildren(
    ...cal.past.slice().reverse().map((r) => h("li", {}, h("span", {}, ui.formatTime(r.due_at)),
      h("span", {}, r.state === "skipped" ? badge(h, "missed", "已跳过（停机过久）") : badge(h, r.late ? "late" : "posted", r.late ? "已发送·延迟" : "已发送")))),
    ...cal.upcoming.map((r) => h("li", {}, h("span", {}, ui.formatTime(r.due_at)), badge(h, "pending", "待发送"))));
}

async function staffTab(box, ui, plan) {
  const { h } = ui;
  const trend = h("div", { class: "ui-chart", id: "sop-staff-trend" });
  const table = h("div");
  box.replaceChildren(trend, table);
  ui.table(table, {
    fetch: () => ui.api("GET", `${BASE}/${plan.id}/staff`),
    columns: [
      { title: "员工", key: "name" }, { title: "任务", key: "tasks" }, { title: "已发布", key: "posted" },
      { title: "跳过", key: "skipped" }, { title: "未发布", key: "missed" }, { title: "待发布", key: "pending" },
      { title: "完成率", render: (r) => (r.rate == null ? "—" : `${r.rate}%`) },
    ],
  });
  const data = await ui.api("GET", `${BASE}/${plan.id}/staff-trend`);
  await ui.chart(trend, {
    tooltip: { trigger: "axis" }, legend: { type: "scroll", data: data.series.map((s) => s.name) },
    xAxis: { type: "category", data: data.weeks.map((w) => `${w} 周`) },
    yAxis: { type: "value", max: 100, name: "完成率 %" },
    series: data.series.map((s) => ({ name: s.name, type: "line", connectNulls: true, data: s.rates })),
  });
}

async function play(ui, plan, done) {
  try {
    const res = await ui.api("POST", `${BASE}/${plan.id}/demo/play`, {});
    ui.toast(`沙箱中 ${res.posted} 人已发表，${res.likes} 个赞，${res.clicks} 次点击；稍后刷新查看`);
    setTimeout(done, 4000);
  } catch (err) { /* the kit shows the message */ }
}

function runsTable(box, ui, plan) {
  const { h } = ui;
  ui.table(box, {
    fetch: () => ui.api("GET", `${BASE}/${plan.id}/runs`),
    columns: [
      { title: "发送时间", render: (r) => h("span", {}, ui.formatTime(r.due_at), r.late ? [" ", badge(h, "late", "延迟")] : null) },
      { title: "状态", render: (r) => h("span", { title: r.error || "" }, r.status_zh) },
      { title: "提醒", key: "reminded" },
      { title: "已发布 / 跳过 / 未发布", render: (r) => `${r.posted} / ${r.skipped} / ${r.missed}` },
      { title: "不在可发表范围", render: (r) => (r.invalid ? `${r.invalid} 人` : "") },
      { title: "完成率", render: (r) => (r.rate == null ? "—" : `${r.rate}%`) },
      { title: "点赞 / 评论 / 点击", render: (r) => `${r.likes} / ${r.comments} / ${r.clicks}` },
      { title: "每百位可见客户点击", render: (r) => (r.clicks_per_100 ?? "—") },
      { title: "", render: (r) => h("button", { class: "btn btn-small", type: "button", onclick: () => runDetail(ui, r) }, "明细") },
    ],
  });
}

async function runDetail(ui, r) {
  const { h } = ui;
  const data = await ui.api("GET", `/api/sop/runs/${r.id}`);
  const rows = data.items.map((t) => h("tr", {}, h("td", {}, t.name), h("td", {}, badge(h, t.state, t.state_zh)),
    h("td", {}, t.posted_via_zh), h("td", {}, t.reminded_at ? ui.formatTime(t.reminded_at) : ""),
    h("td", {}, t.visible ?? ""), h("td", {}, `${t.likes} / ${t.comments} / ${t.clicks}`),
    h("td", {}, t.clicks_per_100 ?? "")));
  ui.modal({ title: `发送明细 · ${ui.formatTime(data.run.due_at)}`, body: h("div", { class: "sop-detail" }, h("table", { class: "ui-table" },
    h("thead", {}, h("tr", {}, ["员工", "状态", "如何得知", "提醒时间", "可见客户", "赞 / 评 / 点击", "每百人点击"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows))) });
}
