// 智能雷达 → 数据分析: overview numbers (live over server-sent events), 客户层级 as a table and
// a chart, the funnel (people at every step), rankings, PDF drop-off, 客户分析 with 来源路径 /
// 社交关系网 / 客户详情, and 员工分析.
import { api, chart, formatTime, h, modal, picker, table, toast } from "/static/common/ui.js";

const LIVE_EVERY_MS = 2000;
const CSS = `
.radar-who { display: inline-flex; align-items: center; gap: 6px; }
.radar-avatar { width: 24px; height: 24px; border-radius: 50%; object-fit: cover; flex: none; }
.radar-avatar.blank { background: #e6f4ff; color: var(--brand); display: inline-flex; align-items: center;
  justify-content: center; font-size: 12px; }
.radar-actions { display: inline-flex; gap: 4px; flex-wrap: wrap; }
.radar-path li { margin: 4px 0; }
.radar-levels { margin-bottom: 12px; }
.radar-thumb { width: 48px; height: 48px; object-fit: cover; border-radius: 4px; background: #f0f0f0; }
.radar-mark { display: inline-block; font-size: 12px; padding: 0 6px; border-radius: 8px; margin: 2px 4px 0 0;
  background: #fff7e6; color: #d46b08; }
`;

export function injectStyles() {
  if (document.getElementById("radar-styles")) return;
  document.head.append(h("style", { id: "radar-styles" }, CSS));
}
const cell = (v) => h("td", {}, v === null || v === undefined ? "" : v);
const grid = (heads, rows) => h("table", { class: "ui-table" },
  h("thead", {}, h("tr", {}, heads.map((t) => h("th", {}, t)))),
  h("tbody", {}, rows.length ? rows.map((r) => h("tr", {}, r.map(cell)))
    : h("tr", {}, h("td", { class: "empty", colspan: heads.length }, "暂无数据"))));

export async function showStats(root, radar, back) {
  injectStyles();
  const data = await api("GET", `/api/radar/radars/${radar.id}/stats`);
  const measured = data.radar.measured;
  const liveNote = h("span", { class: "muted live-note" }, "实时更新中");
  const numbers = h("div", { class: "stats" });
  drawNumbers(numbers, data.overview, measured);
  let source = null;
  const backBtn = h("button", { class: "btn", onclick: () => { if (source) source.close(); back(); } }, "返回");
  const levelBox = h("div", { class: "radar-levels" });
  const levelChart = h("div", { class: "ui-chart" });
  const funnelChart = h("div", { class: "ui-chart" });
  const pagesChart = h("div", { class: "ui-chart" });
  const customers = h("div");
  const cards = [
    h("div", { class: "card" }, backBtn, h("h2", {}, `${data.radar.name} · 数据分析`), liveNote, numbers,
      measured ? "" : h("p", { class: "muted" }, "链接类型的雷达会跳转到外部页面，暂不支持统计查看时长和查看进度。")),
    h("div", { class: "card" }, h("h3", {}, "客户层级"), levelBox, levelChart),
    h("div", { class: "card" }, h("h3", {}, "转化漏斗"),
      h("p", { class: "muted" }, "每一步都是人数：收到雷达的客户（单聊发送）→ 直接打开的客户 → 查看超过 10 秒 → 转发后带来新访客"), funnelChart),
    h("div", { class: "card" }, h("h3", {}, "查看排行榜"), rankTable(data)),
  ];
  if (data.pages.length) cards.push(h("div", { class: "card" }, h("h3", {}, "PDF 阅读流失（每页读到的人数）"), pagesChart));
  cards.push(h("div", { class: "card" }, h("h3", {}, "客户分析"), customers),
    h("div", { class: "card" }, h("h3", {}, "员工分析"), staffTable(data.staff)));
  root.replaceChildren(...cards);
  drawLevels(levelBox, data.levels);
  const levelsChart = chart(levelChart, levelsOption(data.levels));
  chart(funnelChart, { tooltip: { formatter: (p) => `${p.name}：${p.value} 人` }, series: [{ type: "funnel", sort: "none",
    minSize: "8%", label: { formatter: (p) => `${p.name} ${p.value}人` },
    data: data.funnel.map((s) => ({ name: s.label, value: s.count })) }] });
  if (data.pages.length) chart(pagesChart, { tooltip: {}, xAxis: { data: data.pages.map((p) => `第${p.page}页`) },
    yAxis: { name: "人数", minInterval: 1 }, series: [{ type: "line", areaStyle: {}, data: data.pages.map((p) => p.readers) }] });
  customerTable(radar, customers);
  source = new EventSource(`/api/radar/radars/${radar.id}/live`);
  const refresh = throttled(LIVE_EVERY_MS, async () => {
    if (!numbers.isConnected) { source.close(); return; }  // the page was left
    const fresh = await api("GET", `/api/radar/radars/${radar.id}/stats?live=1`, undefined, { quiet: true });
    drawNumbers(numbers, fresh.overview, measured);
    drawLevels(levelBox, fresh.levels);
    (await levelsChart).setOption(levelsOption(fresh.levels), true);
    liveNote.textContent = `实时更新中 · 最近访问 ${formatTime(new Date(), { date: false, seconds: true })}`;
  });
  source.addEventListener("visit", refresh);
}

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

function drawLevels(el, levels) {
  el.replaceChildren(grid(["层级", "总人数", "有效分享人数", "分享率"],
    levels.map((l) => [`${l.level}级客户`, String(l.visitors), String(l.sharers), `${l.share_rate}%`])));
}

// People as bars on the left axis, share rates as a line on the right axis (0–100 %).
function levelsOption(levels) {
  return { tooltip: { trigger: "axis" }, legend: { data: ["总人数", "分享率"] },
    xAxis: { data: levels.map((l) => `${l.level}级`) },
    yAxis: [{ type: "value", name: "人数", minInterval: 1 },
      { type: "value", name: "分享率(%)", min: 0, max: 100, axisLabel: { formatter: "{value}%" } }],
    series: [{ type: "bar", name: "总人数", data: levels.map((l) => l.visitors), barMaxWidth: 48 },
      { type: "line", name: "分享率", yAxisIndex: 1, data: levels.map((l) => l.share_rate) }] };
}

function rankTable(data) {
  const rows = data.rank_visits.map((r, i) => [r.name, String(r.visits),
    data.rank_duration[i] ? data.rank_duration[i].name : "", data.rank_duration[i] ? String(data.rank_duration[i].duration) : ""]);
  return grid(["客户", "查看次数", "客户", "查看时长(秒)"], rows);
}

function staffTable(staff) {
  return grid(["员工", "发送雷达次数", "分享客户数", "雷达被访问次数", "雷达被访问客户数"],
    staff.map((s) => [s.name, s.sends, s.direct, s.visits, s.visitors].map(String)));
}

function who(r) {
  const face = r.avatar ? h("img", { src: r.avatar, alt: "", class: "radar-avatar" })
    : h("span", { class: "radar-avatar blank" }, (r.name || "?").slice(0, 1));
  return h("span", { class: "radar-who" }, face, r.name);
}

function customerTable(radar, el) {
  const selected = new Set();
  const base = `/api/radar/radars/${radar.id}`;
  const tagBtn = h("button", { class: "btn", onclick: () => batchTag(selected) }, "批量打标签");
  const holder = h("div");
  const measured = radar.type !== "link";
  el.replaceChildren(tagBtn, holder);
  table(holder, {
    filters: [{ key: "q", label: "客户", placeholder: "客户昵称" },
      { key: "userid", label: "所属成员", type: "picker", kind: "staff" },
      { key: "since", label: "最近访问从", type: "date" }, { key: "until", label: "到", type: "date" }],
    exportUrl: `${base}/customers.xlsx`,
    fetch: (page, f) => api("GET", `${base}/customers?${new URLSearchParams({ page, ...f })}`),
    columns: [
      { title: "", render: (r) => r.external_userid ? h("input", { type: "checkbox", "aria-label": `选择${r.name}`,
        onchange: (e) => e.target.checked ? selected.add(r.external_userid) : selected.delete(r.external_userid) }) : "" },
      { title: "客户", render: who }, { key: "staff_name", title: "所属成员" },
      { title: "客户层级", render: (r) => `${r.level}级` }, { title: "最近访问时间", render: (r) => formatTime(r.last_at) },
      { title: "最近查看时长", render: (r) => measured ? `${r.last_duration}秒` : "—" },
      { title: "最久查看进度", render: (r) => measured ? `${r.best_progress}%` : "—" },
      { key: "last_channel", title: "最近点击渠道" }, { key: "visits", title: "访问总次数" },
      { key: "brought", title: "分享客户数" },
      { title: "操作", render: (r) => h("span", { class: "radar-actions" },
        h("button", { class: "btn btn-small", onclick: () => showPerson(base, r, "path") }, "来源路径"),
        h("button", { class: "btn btn-small", onclick: () => showPerson(base, r, "network") }, "社交关系网"),
        r.external_userid ? h("a", { class: "btn btn-small", target: "_blank", rel: "noopener",
          href: `/sidebar?open=profile&external_userid=${encodeURIComponent(r.external_userid)}` }, "客户详情") : "") },
    ],
  });
}

// 来源路径 and 社交关系网 in a panel: the chain with times, and the tree with visit counts and times.
async function showPerson(base, row, tab) {
  const data = await api("GET", `${base}/people/${encodeURIComponent(row.key)}`);
  const steps = h("ol", { class: "radar-path" }, data.path.map((p) => h("li", {},
    h("strong", {}, p.name), p.kind === "staff" ? h("span", { class: "muted" }, "（发送员工）")
      : h("span", { class: "muted" }, `（${p.level}级 · 首次访问 ${formatTime(p.at)}）`))));
  const tree = h("div", { class: "ui-chart", style: "height:360px" });
  const count = data.network.count || 0;
  const body = h("div", { class: "radar-person" },
    h("h3", {}, "来源路径"), steps,
    h("h3", {}, `社交关系网（通过 ${row.name} 访问的有 ${count} 人）`),
    count ? tree : h("p", { class: "muted" }, "还没有人通过该客户的分享访问"));
  const dialog = modal({ title: row.name, body });
  dialog.el.classList.add("wide");
  if (tab === "network" && count) tree.scrollIntoView();
  if (count) {
    chart(tree, { tooltip: { formatter: (p) => nodeTip(p.data) }, series: [{ type: "tree", data: [data.network],
      top: "5%", bottom: "5%", left: "12%", right: "20%", symbolSize: 10, initialTreeDepth: -1,
      label: { position: "left", formatter: (p) => p.data.visits ? `${p.name}（${p.data.visits}次）` : p.name },
      leaves: { label: { position: "right" } } }] });
  }
}

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// ECharts tooltips are HTML: names come from customers, so they are escaped.
function nodeTip(node) {
  if (!node.visits) return escape(node.name);
  return `${escape(node.name)}<br>${node.level}级 · 访问 ${node.visits} 次<br>首次 ${formatTime(node.first_at)}<br>最近 ${formatTime(node.last_at)}`;
}

async function batchTag(selected) {
  if (!selected.size) { toast("请先勾选已识别的客户", "error"); return; }
  const tags = picker({ kind: "tags" });
  modal({ title: `批量打标签（已选 ${selected.size} 位客户）`, body: tags.el, actions: [{ label: "取消" },
    { label: "确定", primary: true, onClick: async () => {
      const tag_ids = tags.value();
      if (!tag_ids.length) { toast("请选择要打的标签", "error"); return false; }
      const res = await api("POST", "/api/radar/tags", { external_userids: [...selected], tag_ids });
      const skipped = res.skipped.length ? `，${res.skipped.length} 位不是企业客户已跳过` : "";
      toast(`已为 ${res.tagged} 位客户打标签${skipped}`, "success");
    } }] });
}
