// The console shell: who is signed in, the navigation (built-in pages plus one entry per
// feature from /api/nav?area=admin), and hash routing: #home, #inbox, #schedule, #events,
// #roles, #f/<path>.
import * as kit from "/static/common/ui.js";
import { events, home, inbox, roles } from "/static/admin/builtin.js";
import { schedule } from "/static/admin/schedule.js";

const RANK = { staff: 1, dept_admin: 2, admin: 3, super_admin: 4 };
const navEl = document.getElementById("nav");
const mainEl = document.getElementById("main");
const { h } = kit;

function builtins(user) {
  const rank = RANK[user.role] || 0;
  return [
    { id: "home", title: "首页", show: true, view: home },
    { id: "inbox", title: "回调收件箱", show: rank >= RANK.admin, view: inbox },
    { id: "schedule", title: "定时任务", show: rank >= RANK.admin, view: schedule },
    { id: "events", title: "事件投递", show: rank >= RANK.admin, view: events },
    { id: "roles", title: "权限设置", show: rank >= RANK.super_admin, view: roles },
  ].filter((b) => b.show);
}

function render(state) {
  const hash = decodeURIComponent(location.hash.slice(1)) || "home";
  for (const link of navEl.querySelectorAll("a")) {
    link.classList.toggle("active", link.dataset.key === hash);
  }
  const builtin = state.builtins.find((b) => b.id === hash);
  if (builtin) {
    mainEl.replaceChildren();
    builtin.view(mainEl, state.ui);
    document.title = `${builtin.title} - scrmbot 管理后台`;
    return;
  }
  const entry = state.entries.find((e) => `f/${e.path}` === hash);
  if (!entry) {
    location.hash = "home";
    return;
  }
  document.title = `${entry.title} - scrmbot 管理后台`;
  kit.mountFeature(mainEl, entry, state.ui);
}

function buildNav(state) {
  const link = (key, title) => h("a", { href: `#${encodeURIComponent(key)}`, "data-key": key }, title);
  navEl.replaceChildren(h("div", {},
    link("home", "首页"),
    state.entries.length ? h("div", { class: "group" }, "功能") : null,
    state.entries.map((e) => link(`f/${e.path}`, e.title)),
    state.builtins.length > 1 ? h("div", { class: "group" }, "系统") : null,
    state.builtins.filter((b) => b.id !== "home").map((b) => link(b.id, b.title)),
  ));
}

// Links from cards (e.g. /admin?open=leaderboard&activity=3) open that feature's page; the
// feature reads its own parameters from location.search.
function openFromQuery(state) {
  const feature = new URLSearchParams(location.search).get("open");
  if (!feature || location.hash) return;
  const entry = state.entries.find((e) => e.path.includes(`/${feature}/`));
  if (entry) history.replaceState(null, "", `${location.pathname}${location.search}#f/${encodeURIComponent(entry.path)}`);
}

async function logout() {
  try {
    const data = await kit.api("POST", "/auth/logout");
    location.href = data.login || "/admin/login";
  } catch {
    /* the kit already showed the message */
  }
}

async function start() {
  const user = await kit.api("GET", "/api/me");
  kit.setCsrf(user.csrf);
  kit.setTimeZone(user.tz);
  document.getElementById("corp-name").textContent = user.corp_name || "scrmbot";
  document.getElementById("user-name").textContent = user.name;
  document.getElementById("user-role").textContent = user.role_label;
  document.getElementById("logout").addEventListener("click", logout);
  const nav = await kit.api("GET", "/api/nav?area=admin");
  const state = { entries: nav.entries, builtins: builtins(user) };
  state.ui = { ...kit, user, area: "admin", entries: nav.entries };
  buildNav(state);
  openFromQuery(state);
  window.addEventListener("hashchange", () => render(state));
  render(state);
}

start().catch((err) => {
  if (err.status !== 401) mainEl.replaceChildren(h("p", { class: "muted" }, `加载失败：${err.message}`));
});
