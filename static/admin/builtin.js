// The console's own pages: the home (首页) with the features' tiles, the callback and
// domain-event dead letters, and console roles.

const STATUS = { dead: "已放弃", failed: "等待重试", pending: "待处理" };

// Tiles come from the features (router.tile) and, for admins, the system's health.
function tileLink(link, entries) {
  if (!link.startsWith("#")) return link;
  const title = link.slice(1);
  const entry = entries.find((e) => e.title === title);
  if (entry) return `#${encodeURIComponent("f/" + entry.path)}`;
  return { "回调收件箱": "#inbox", "事件投递": "#events" }[title] || "#home";
}

function tileEl(tile, ui) {
  const { h } = ui;
  return h("a", { class: tile.alert ? "stat tile-alert" : "stat", href: tileLink(tile.link || "", ui.entries),
    "data-tile": tile.title },
    h("div", { class: "muted" }, tile.title),
    h("div", { class: "value" }, String(tile.value)),
    tile.note ? h("div", { class: "muted small" }, tile.note) : null);
}

export async function home(el, ui) {
  const { h } = ui;
  const groups = h("div");
  el.append(
    h("div", { class: "card" },
      h("h1", {}, `你好，${ui.user.name}`),
      h("p", { class: "muted" }, `当前角色：${ui.user.role_label}。以下是今天的数据（${ui.user.corp_name || "企业"}所在时区）。`)),
    groups,
  );
  try {
    const data = await ui.api("GET", "/api/home", undefined, { quiet: true });
    const byGroup = new Map();
    for (const tile of data.tiles) {
      if (!byGroup.has(tile.group)) byGroup.set(tile.group, []);
      byGroup.get(tile.group).push(tile);
    }
    for (const [group, tiles] of byGroup) {
      groups.append(h("h2", { class: "home-group" }, group === "系统" ? "系统状态" : "今日业务"),
        h("div", { class: "stats", "data-group": group }, tiles.map((t) => tileEl(t, ui))));
    }
    if (!data.tiles.length) groups.append(h("p", { class: "muted" }, "暂无数据"));
  } catch (err) {
    groups.append(h("p", { class: "muted" }, `数据加载失败：${err.message}`));
  }
  const features = ui.entries.map((e) => h("li", {}, h("a", { href: `#${encodeURIComponent("f/" + e.path)}` }, e.title)));
  el.append(h("div", { class: "card" }, h("h2", {}, "功能"),
    features.length ? h("ul", {}, features) : h("p", { class: "muted" }, "暂无可用功能")));
}

const EVENT_STATUS = { dead: "已放弃", failed: "等待重试" };

export function events(el, ui) {
  const { h } = ui;
  const box = h("div", { class: "card" });
  el.append(h("h1", {}, "事件投递"),
    h("p", { class: "muted" }, "功能之间传递的业务事件（新增客户、入群、打标签等）中处理失败的部分。修复原因后可以重新投递；已成功的功能不会重复处理。"), box);
  const view = ui.table(box, {
    filters: [{ key: "status", label: "状态", type: "select", value: "dead",
      options: Object.entries(EVENT_STATUS).map(([value, label]) => ({ value, label })) }],
    columns: [
      { key: "id", title: "编号" },
      { key: "kind", title: "事件类型" },
      { key: "published_at", title: "发布时间", render: (r) => ui.formatTime(r.published_at) },
      { key: "attempts", title: "已尝试次数" },
      { key: "last_error", title: "最近错误", render: (r) => h("code", {}, r.last_error || "") },
      { key: "action", title: "操作", render: (r) => h("button", {
        class: "btn btn-small",
        onclick: async (e) => {
          e.target.disabled = true;
          try {
            const d = await ui.api("POST", `/api/system/events/${r.id}/retry`);
            ui.toast(d.queued ? "已重新加入投递队列" : "已标记为待投递，稍后自动处理");
            view.reload();
          } catch { e.target.disabled = false; }
        } }, "重新投递") },
    ],
    fetch: (page, f) => ui.api("GET", `/api/system/events?status=${encodeURIComponent(f.status || "dead")}&page=${page}`),
  });
}

export function inbox(el, ui) {
  const { h } = ui;
  const box = h("div", { class: "card" });
  el.append(h("h1", {}, "回调收件箱"),
    h("p", { class: "muted" }, "处理失败的企业微信回调事件。修复原因后可以重新处理；事件内容只保存在服务器上。"), box);
  const view = ui.table(box, {
    filters: [{ key: "status", label: "状态", type: "select", value: "dead",
      options: Object.entries(STATUS).map(([value, label]) => ({ value, label })) }],
    columns: [
      { key: "id", title: "编号" },
      { key: "kind", title: "事件类型" },
      { key: "received_at", title: "收到时间", render: (r) => ui.formatTime(r.received_at) },
      { key: "attempts", title: "已尝试次数" },
      { key: "last_error", title: "最近错误", render: (r) => h("code", {}, r.last_error || "") },
      { key: "action", title: "操作", render: (r) => h("button", {
        class: "btn btn-small", "data-retry": r.id,
        onclick: async (e) => {
          e.target.disabled = true;
          try {
            const d = await ui.api("POST", `/api/system/inbox/${r.id}/retry`);
            ui.toast(d.queued ? "已重新加入处理队列" : "已标记为待处理，稍后自动处理");
            view.reload();
          } catch { e.target.disabled = false; }
        } }, "重新处理") },
    ],
    fetch: (page, f) => ui.api("GET", `/api/system/inbox?status=${encodeURIComponent(f.status || "dead")}&page=${page}`),
  });
}

export function roles(el, ui) {
  const { h } = ui;
  const supers = h("p", { class: "muted" });
  const list = h("div");
  const formBox = h("div");
  el.append(h("h1", {}, "权限设置"),
    h("div", { class: "card" }, h("h2", {}, "后台角色"), supers, list),
    h("div", { class: "card" }, h("h2", {}, "授予角色"), formBox));
  const view = ui.table(list, {
    columns: [
      { key: "name", title: "成员", render: (r) => `${r.name}（${r.userid}）` },
      { key: "role_label", title: "角色" },
      { key: "departments", title: "管理部门", render: (r) => (r.departments.length ? (r.department_names || r.departments).join("、") : "全部") },
      { key: "granted_by", title: "授权人" },
      { key: "granted_at", title: "授权时间", render: (r) => ui.formatTime(r.granted_at) },
      { key: "action", title: "操作", render: (r) => h("button", { class: "btn btn-small btn-danger", onclick: async () => {
        if (!(await ui.confirm("撤销角色", `确定撤销 ${r.name} 的后台角色吗？`))) return;
        await ui.api("DELETE", `/api/system/roles?userid=${encodeURIComponent(r.userid)}`);
        ui.toast("已撤销");
        view.reload();
      } }, "撤销") },
    ],
    fetch: async () => {
      const data = await ui.api("GET", "/api/system/roles");
      supers.textContent = `超级管理员（在配置文件中设置）：${data.super_admins.map((s) => s.name).join("、") || "无"}`;
      return { items: data.items, total: data.items.length, size: Math.max(1, data.items.length) };
    },
  });
  ui.form(formBox, {
    fields: [
      { name: "userid", label: "成员账号", type: "picker", kind: "staff", multiple: false, required: true },
      { name: "role", label: "角色", type: "select", value: "admin",
        options: [{ value: "admin", label: "管理员" }, { value: "dept_admin", label: "部门管理员" }] },
      { name: "departments", label: "管理部门", type: "picker", kind: "departments",
        help: "仅部门管理员需要选择：可管理所选部门及其下级部门的成员和数据" },
    ],
    submitLabel: "授予",
    submit: async (values) => {
      await ui.api("POST", "/api/system/roles", values);
      ui.toast("已授予");
      view.reload();
    },
  });
}
