// Console → 智能雷达: groups (order, visible departments), radars (create/edit/order/delete)
// and a radar's analytics with live updates (server-sent events).
import { api, chart, confirm, formatTime, h, modal, table, toast } from "/static/common/ui.js";

const TYPES = { link: "链接", pdf: "PDF", images: "图片", video: "视频" };
let root;

export async function mount(el) {
  root = el;
  await showList();
}

async function showList() {
  const { groups } = await api("GET", "/api/radar/groups");
  const { radars } = await api("GET", "/api/radar/radars");
  const addGroup = h("button", { class: "btn", onclick: () => editGroup() }, "新增分组");
  const addRadar = h("button", { class: "btn btn-primary", onclick: () => editRadar(null, groups) }, "新增雷达");
  root.replaceChildren(h("div", { class: "card" }, h("h2", {}, "智能雷达"), addGroup, " ", addRadar),
    ...groups.map((g) => groupCard(g, radars.filter((r) => r.group_id === g.id), groups)),
    ungroupedCard(radars.filter((r) => r.group_id === null), groups));
}

// Radars saved without a group: everyone may send them; shown so they can be found and moved.
function ungroupedCard(radars, groups) {
  if (!radars.length) return null;
  return h("div", { class: "card radar-ungrouped" },
    h("h3", {}, "未分组", h("span", { class: "muted" }, "（全员可见，编辑雷达可选择分组）")),
    radarTable(radars, groups));
}

function moveButtons(url) {
  return ["up", "down", "top", "bottom"].map((to, i) => h("button", {
    class: "btn btn-small", onclick: async () => { await api("POST", url, { to }); await showList(); },
  }, ["上移", "下移", "置顶", "置底"][i]));
}

function groupCard(group, radars, groups) {
  const del = h("button", { class: "btn btn-small", onclick: async () => {
    if (!(await confirm("删除分组", `确定删除分组「${group.name}」？`))) return;
    await api("DELETE", `/api/radar/groups/${group.id}`);
    await showList();
  } }, "删除");
  return h("div", { class: "card" },
    h("h3", {}, group.name, h("span", { class: "muted" },
      group.departments.length ? `（可见部门：${group.departments.join("、")}）` : "（全员可见）")),
    h("div", {}, h("button", { class: "btn btn-small", onclick: () => editGroup(group) }, "编辑"),
      ...moveButtons(`/api/radar/groups/${group.id}/move`), del),
    radarTable(radars, groups));
}

function radarTable(radars, groups) {
  return h("table", { class: "ui-table" }, h("thead", {}, h("tr", {},
    ["雷达名称", "类型", "标题", "发送次数", "操作"].map((t) => h("th", {}, t)))),
  h("tbody", {}, radars.map((r) => h("tr", {}, h("td", {}, r.name), h("td", {}, TYPES[r.type]),
    h("td", {}, r.title), h("td", {}, String(r.sends)),
    h("td", {}, h("button", { class: "btn btn-small", onclick: () => showStats(r) }, "数据分析"),
      h("button", { class: "btn btn-small", onclick: () => editRadar(r, groups) }, "编辑"),
      ...moveButtons(`/api/radar/radars/${r.id}/move`).slice(0, 2),
      h("button", { class: "btn btn-small", onclick: () => removeRadar(r) }, "删除"))))));
}

async function removeRadar(r) {
  if (!(await confirm("删除雷达", `删除后客户打开旧链接将看到「内容已下架」。确定删除「${r.name}」？`))) return;
  await api("DELETE", `/api/radar/radars/${r.id}`);
  await showList();
}

function editGroup(group) {
  const name = h("input", { value: group ? group.name : "", maxlength: 64 });
  const depts = h("input", { value: group ? group.departments.join(",") : "", placeholder: "部门 ID，逗号分隔；留空为全员可见" });
  modal({ title: group ? "编辑分组" : "新增分组", body: h("div", {}, h("label", {}, "分组名称", name),
    h("label", {}, "可见部门", depts)), actions: [{ label: "取消" }, { label: "保存", primary: true, onClick: async () => {
    const body = { name: name.value, departments: depts.value.split(/[,，\s]+/).filter(Boolean).map(Number) };
    await api(group ? "PATCH" : "POST", group ? `/api/radar/groups/${group.id}` : "/api/radar/groups", body);
    await showList();
  } }] });
}

function editRadar(radar, groups) {
  const f = h("form", { class: "ui-form" });
  const field = (label, input) => h("div", { class: "field" }, h("label", { class: "title" }, label), input);
  const type = h("select", { name: "type", disabled: !!radar },
    Object.entries(TYPES).map(([v, l]) => h("option", { value: v, selected: radar && radar.type === v }, l)));
  const group = h("select", { name: "group_id" }, h("option", { value: "" }, "未分组"), groups.map((g) =>
    h("option", { value: g.id, selected: radar && radar.group_id === g.id }, g.name)));
  const check = (name, on) => h("input", { type: "checkbox", name, checked: on });
  const picker = tagPicker(radar ? radar.tag_ids : []);
  f.append(field("雷达名称", h("input", { name: "name", value: radar ? radar.name : "", maxlength: 64 })),
    field("选择分组", group), field("文件类型", type),
    field("链接地址（链接类型）", h("input", { name: "url", value: radar ? radar.url : "" })),
    field("上传文件（PDF/图片/视频）", h("input", { type: "file", name: "files", multiple: true })),
    field("雷达标题", h("input", { name: "title", value: radar ? radar.title : "", maxlength: 64 })),
    field("雷达描述", h("textarea", { name: "description" }, radar ? radar.description : "")),
    field("封面图", h("input", { type: "file", name: "cover", accept: "image/*" })),
    field("仅好友查看", check("friends_only", radar ? radar.friends_only : false)),
    field("访问后打标签", picker.el),
    field("访问时提醒员工", check("alert", radar ? radar.alert : true)),
    field("记录到客户动态", check("timeline", radar ? radar.timeline : true)));
  modal({ title: radar ? "编辑雷达" : "新增雷达", body: f, actions: [{ label: "取消" }, { label: "保存", primary: true,
    onClick: async () => {
      const data = new FormData(f);
      for (const name of ["friends_only", "alert", "timeline"]) data.set(name, f.elements[name].checked ? "true" : "false");
      if (!radar) data.set("type", type.value);
      data.set("tag_ids", picker.value().join(","));
      for (const [k, v] of [...data.entries()]) if (v instanceof File && !v.size) data.delete(k);
      const token = (document.cookie.match(/scrmbot_csrf=([^;]+)/) || [])[1] || "";
      const resp = await fetch(radar ? `/api/radar/radars/${radar.id}` : "/api/radar/radars", {
        method: radar ? "PATCH" : "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRF-Token": decodeURIComponent(token) } });
      const body = await resp.json().catch(() => ({}));
      if (!resp.ok) { toast(body.error || "保存失败", "error"); return false; }
      toast("已保存", "success");
      await showList();
    } }] });
}

// --- analytics --------------------------------------------------------------------------------

async function showStats(radar) {
  const data = await api("GET", `/api/radar/radars/${radar.id}/stats`);
  const measured = data.radar.measured;
  const liveNote = h("span", { class: "muted live-note" }, "实时更新中");
  const numbers = h("div", { class: "stats" });
  drawNumbers(numbers, data.overview, measured);
  let source = null;
  const back = h("button", { class: "btn", onclick: () => { source.close(); showList(); } }, "返回");
  const charts = { levels: h("div", { class: "ui-chart" }), funnel: h("div", { class: "ui-chart" }),
    pages: h("div", { class: "ui-chart" }), tree: h("div", { class: "ui-chart", style: "height:420px" }) };
  const customers = h("div");
  root.replaceChildren(h("div", { class: "card" }, back, h("h2", {}, `${data.radar.name} · 数据分析`), liveNote, numbers,
    measured ? null : h("p", { class: "muted" }, "链接类型的雷达会跳转到外部页面，暂不支持统计查看时长和查看进度。")),
    h("div", { class: "card" }, h("h3", {}, "客户层级"), charts.levels),
    h("div", { class: "card" }, h("h3", {}, "转化漏斗"), charts.funnel),
    h("div", { class: "card" }, h("h3", {}, "查看排行榜"), rankTable(data)),
    data.pages.length ? h("div", { class: "card" }, h("h3", {}, "PDF 阅读流失（每页读到的人数）"), charts.pages) : null,
    h("div", { class: "card" }, h("h3", {}, "客户分析"), customers, charts.tree),
    h("div", { class: "card" }, h("h3", {}, "员工分析"), staffTable(data.staff)));
  const levelsChart = chart(charts.levels, levelsOption(data.levels));
  chart(charts.funnel, { tooltip: {}, series: [{ type: "funnel", sort: "none",
    data: data.funnel.map((s) => ({ name: `${s.label} ${s.count}`, value: s.count })) }] });
  if (data.pages.length) chart(charts.pages, { tooltip: {}, xAxis: { data: data.pages.map((p) => `第${p.page}页`) },
    yAxis: {}, series: [{ type: "line", areaStyle: {}, data: data.pages.map((p) => p.readers) }] });
  customerTable(radar, customers, charts.tree);
  source = new EventSource(`/api/radar/radars/${radar.id}/live`);
  const refresh = throttled(LIVE_EVERY_MS, async () => {
    if (!numbers.isConnected) { source.close(); return; }  // the page was left
    const fresh = await api("GET", `/api/radar/radars/${radar.id}/stats?live=1`, undefined, { quiet: true });
    drawNumbers(numbers, fresh.overview, measured);
    (await levelsChart).setOption(levelsOption(fresh.levels), true);
    liveNote.textContent = `实时更新中 · 最近访问 ${new Date().toLocaleTimeString()}`;
  });
  source.addEventListener("visit", refresh);
}

const LIVE_EVERY_MS = 2000;

// Run `fn` at once, then at most once per `ms`; events in between fold into one trailing run.
function throttled(ms, fn) {
  let last = 0, timer = null, running = false;
  const run = async () => {
    timer = null; running = true; last = Date.now();
    try { await fn(); } catch (e) { /* the next event retries */ } finally { running = false; }
  };
  return () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now(), running ? ms : 0);
    timer = setTimeout(run, wait);
  };
}

function drawNumbers(el, o, measured) {
  const num = (label, value) => h("div", { class: "stat" }, h("div", { class: "muted" }, label), h("strong", {}, String(value)));
  el.replaceChildren(num("总访问客户数", o.visitors), num("今日访问客户数", o.visitors_today),
    num("总访问次数", o.visits), num("今日访问次数", o.visits_today), num("分享客户数", o.shared_visitors),
    num("今日分享客户数", o.shared_visitors_today), num("发送次数", o.sends),
    num("平均查看时长(秒)", measured ? o.avg_duration : "—"),
    num("平均查看进度(%)", measured ? o.avg_progress : "—"), num("分享率(%)", o.share_rate));
  el.dataset.visits = String(o.visits);
}

function levelsOption(levels) {
  return { tooltip: {}, xAxis: { data: levels.map((l) => `${l.level}级`) }, yAxis: {},
    series: [{ type: "bar", name: "人数", data: levels.map((l) => l.visitors) },
      { type: "line", name: "分享率%", data: levels.map((l) => l.share_rate) }] };
}

function rankTable(data) {
  const rows = data.rank_visits.map((r, i) => [r.name, r.visits, data.rank_duration[i]]);
  return h("table", { class: "ui-table" }, h("thead", {}, h("tr", {}, ["客户", "查看次数", "客户", "查看时长(秒)"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map(([n, v, d]) => h("tr", {}, h("td", {}, n), h("td", {}, String(v)),
      h("td", {}, d ? d.name : ""), h("td", {}, d ? String(d.duration) : "")))));
}

function staffTable(staff) {
  return h("table", { class: "ui-table" }, h("thead", {}, h("tr", {},
    ["员工", "发送雷达次数", "分享客户数", "雷达被访问次数", "雷达被访问客户数"].map((t) => h("th", {}, t)))),
  h("tbody", {}, staff.map((s) => h("tr", {}, [s.name, s.sends, s.direct, s.visits, s.visitors].map((v) => h("td", {}, String(v)))))));
}

function customerTable(radar, el, treeEl) {
  const selected = new Set();
  const base = `/api/radar/radars/${radar.id}`;
  const tagBtn = h("button", { class: "btn", onclick: () => batchTag(selected) }, "批量打标签");
  const holder = h("div");
  el.replaceChildren(tagBtn, holder);
  table(holder, {
    filters: [{ key: "q", label: "客户" }, { key: "userid", label: "所属成员" },
      { key: "since", label: "最近访问从", type: "date" }, { key: "until", label: "到", type: "date" }],
    exportUrl: `${base}/customers.xlsx`,
    fetch: (page, f) => api("GET", `${base}/customers?${new URLSearchParams({ page, ...f })}`),
    columns: [
      { title: "", render: (r) => r.external_userid ? h("input", { type: "checkbox",
        onchange: (e) => e.target.checked ? selected.add(r.external_userid) : selected.delete(r.external_userid) }) : "" },
      { key: "name", title: "客户" }, { key: "staff_name", title: "所属成员" },
      { title: "客户层级", render: (r) => `${r.level}级` }, { title: "最近访问时间", render: (r) => formatTime(r.last_at) },
      { title: "最近查看时长", render: (r) => radar.type === "link" ? "—" : `${r.last_duration}秒` },
      { title: "最久查看进度", render: (r) => radar.type === "link" ? "—" : `${r.best_progress}%` },
      { key: "last_channel", title: "最近点击渠道" }, { key: "visits", title: "访问总次数" },
      { key: "brought", title: "分享客户数" },
      { title: "操作", render: (r) => h("button", { class: "btn btn-small", onclick: () => showPerson(base, r, treeEl) }, "来源路径/社交关系网") },
    ],
  });
}

async function showPerson(base, row, treeEl) {
  const data = await api("GET", `${base}/people/${encodeURIComponent(row.key)}`);
  toast("来源路径：" + data.path.map((p) => p.name).join(" → "), "info", 8000);
  chart(treeEl, { tooltip: {}, series: [{ type: "tree", data: [data.network], top: "5%", bottom: "5%",
    symbolSize: 10, initialTreeDepth: -1, label: { position: "left" }, leaves: { label: { position: "right" } } }] });
}

async function batchTag(selected) {
  if (!selected.size) { toast("请先勾选已识别的客户", "error"); return; }
  const picker = tagPicker([]);
  modal({ title: `批量打标签（已选 ${selected.size} 位客户）`, body: picker.el, actions: [{ label: "取消" },
    { label: "确定", primary: true, onClick: async () => {
      const tag_ids = picker.value();
      if (!tag_ids.length) { toast("请选择要打的标签", "error"); return false; }
      const res = await api("POST", "/api/radar/tags", { external_userids: [...selected], tag_ids });
      const skipped = res.skipped.length ? `，${res.skipped.length} 位不是企业客户已跳过` : "";
      toast(`已为 ${res.tagged} 位客户打标签${skipped}`, "success");
    } }] });
}

// The corp's tags by group, as toggle chips; value() = the chosen tag ids. Ids no longer in
// the corp (deleted in WeCom) stay chosen under 已删除 until unticked.
function tagPicker(chosen) {
  const picked = new Set(chosen);
  const el = h("div", { class: "radar-tag-picker" }, h("span", { class: "muted" }, "正在加载标签…"));
  const chip = (id, name) => {
    const b = h("button", { type: "button", class: "btn btn-small radar-tag", "data-tag": id, style: "margin:2px 6px 2px 0",
      "aria-pressed": String(picked.has(id)), onclick: () => {
        picked.has(id) ? picked.delete(id) : picked.add(id);
        b.setAttribute("aria-pressed", String(picked.has(id)));
        b.classList.toggle("btn-primary", picked.has(id));
      } }, name);
    b.classList.toggle("btn-primary", picked.has(id));
    return b;
  };
  api("GET", "/api/facts/tags").then(({ groups }) => {
    const known = new Set(groups.flatMap((g) => g.tags.map((t) => t.tag_id)));
    const gone = [...picked].filter((id) => !known.has(id));
    const rows = groups.filter((g) => g.tags.length).map((g) => h("div", { class: "radar-tag-group", style: "margin-bottom:8px" },
      h("div", { class: "muted" }, g.name), ...g.tags.map((t) => chip(t.tag_id, t.name))));
    if (gone.length) rows.push(h("div", { class: "radar-tag-group" }, h("div", { class: "muted" }, "已删除"),
      ...gone.map((id) => chip(id, id))));
    el.replaceChildren(...(rows.length ? rows : [h("span", { class: "muted" }, "企业还没有客户标签，请先在企业微信后台创建")]));
  }).catch(() => el.replaceChildren(h("span", { class: "muted" }, "标签加载失败，请稍后重试")));
  return { el, value: () => [...picked] };
}
