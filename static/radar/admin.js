// Console → 智能雷达: groups (order, visible departments), radars (create/edit/order/delete);
// a radar's analytics are in stats.js.
import { api, confirm, formDialog, h, modal, toast } from "/static/common/ui.js";
import { TYPES, editRadar } from "/static/radar/editor.js";
import { injectStyles, showStats } from "/static/radar/stats.js";

let root;
let limits = {};

export async function mount(el) {
  root = el;
  injectStyles();
  await showList();
}

async function showList() {
  const { groups } = await api("GET", "/api/radar/groups");
  const listed = await api("GET", "/api/radar/radars");
  const radars = listed.radars;
  limits = listed.limits || {};
  const addGroup = h("button", { class: "btn", onclick: () => editGroup() }, "新增分组");
  const addRadar = h("button", { class: "btn btn-primary", onclick: () => editRadar(null, groups, limits, showList) }, "新增雷达");
  root.replaceChildren(h("div", { class: "card" }, h("h2", {}, "智能雷达"), addGroup, " ", addRadar),
    ...groups.map((g) => groupCard(g, radars.filter((r) => r.group_id === g.id), groups)),
    ungroupedCard(radars.filter((r) => r.group_id === null), groups) || "");
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
      group.departments.length ? `（可见部门：${group.department_names.join("、")}）` : "（全员可见）")),
    h("div", {}, h("button", { class: "btn btn-small", onclick: () => editGroup(group) }, "编辑"),
      ...moveButtons(`/api/radar/groups/${group.id}/move`), del),
    radarTable(radars, groups));
}

function radarTable(radars, groups) {
  return h("table", { class: "ui-table" }, h("thead", {}, h("tr", {},
    ["封面", "雷达", "类型", "发送次数", "访问次数", "操作"].map((t) => h("th", {}, t)))),
  h("tbody", {}, radars.map((r) => h("tr", { "data-radar": r.id },
    h("td", {}, h("img", { class: "radar-thumb", alt: "封面",
      src: r.cover ? `/api/radar/files/${r.cover}` : "/static/radar/cover.png" })),
    h("td", {}, h("strong", {}, r.title), h("div", { class: "muted" }, r.name),
      r.friends_only ? h("span", { class: "radar-mark" }, "仅好友") : "",
      r.tag_ids.length ? h("span", { class: "radar-mark" }, `访问打 ${r.tag_ids.length} 个标签`) : ""),
    h("td", {}, TYPES[r.type]), h("td", {}, String(r.sends)), h("td", {}, String(r.visits)),
    h("td", {}, h("span", { class: "radar-actions" },
      h("button", { class: "btn btn-small", onclick: () => showStats(root, r, showList) }, "数据分析"),
      h("a", { class: "btn btn-small", href: preview(r), target: "_blank", rel: "noopener" }, "预览"),
      h("button", { class: "btn btn-small", onclick: () => copyLink(r) }, "复制链接"),
      h("button", { class: "btn btn-small", onclick: () => editRadar(r, groups, limits, showList) }, "编辑"),
      ...moveButtons(`/api/radar/radars/${r.id}/move`).slice(0, 2),
      h("button", { class: "btn btn-small", onclick: () => removeRadar(r) }, "删除")))))));
}

// 预览 opens the content itself (no visit is recorded).
function preview(r) {
  return r.type === "link" ? r.url : `/api/radar/files/${r.files[0] ? r.files[0].name : ""}`;
}

async function copyLink(r) {
  const { url } = await api("POST", `/api/radar/radars/${r.id}/link`);
  try {
    await navigator.clipboard.writeText(url);
    toast("链接已复制：客户打开后计为你发送的 1 级访问");
  } catch {
    modal({ title: "复制链接", body: h("input", { value: url, readonly: true, style: "width:100%", onfocus: (e) => e.target.select() }) });
  }
}

async function removeRadar(r) {
  if (!(await confirm("删除雷达", `删除后客户打开旧链接将看到「内容已下架」。确定删除「${r.name}」？`))) return;
  await api("DELETE", `/api/radar/radars/${r.id}`);
  await showList();
}

function editGroup(group) {
  formDialog({ title: group ? "编辑分组" : "新增分组", fields: [
    { name: "name", label: "分组名称", value: group ? group.name : "", maxLength: 64, required: true },
    { name: "departments", label: "可见部门", type: "picker", kind: "departments", value: group ? group.departments : [],
      help: "只有这些部门（含下级部门）的员工能在聊天工具栏看到本分组的雷达；不选则全员可见" },
  ], submit: async (body) => {
    await api(group ? "PATCH" : "POST", group ? `/api/radar/groups/${group.id}` : "/api/radar/groups", body);
    toast("已保存");
    await showList();
  } });
}
