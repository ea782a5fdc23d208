// The phone-sized shell for pages inside WeCom (sidebar, chat toolbar): the JS-SDK bridge,
// the chat context, and the area's feature entries as tool tiles. A tile whose path is an ES
// module is mounted in place with `mount(el, ui)`; any other path is opened as a page.
import * as kit from "/static/common/ui.js";
import { setupWeCom } from "/static/common/wecom.js";

const { h } = kit;

async function chatContext(wecom) {
  const context = { entry: "normal", externalUserId: null, chatId: null };
  try {
    context.entry = (await wecom.getContext()).entry || "normal";
    if (context.entry === "group_chat_tools") context.chatId = (await wecom.getCurExternalChat()).chatId;
    else if (["single_chat_tools", "contact_profile", "single_kf_tools"].includes(context.entry)) {
      context.externalUserId = (await wecom.getCurExternalContact()).userId;
    }
  } catch (err) {
    console.warn("chat context unavailable", err);
  }
  return context;
}

function describe(context) {
  if (context.chatId) return "当前客户群会话";
  if (context.externalUserId) return "当前客户会话";
  return "未在客户会话中打开";
}

function showTiles(root, entries, open) {
  const tiles = entries.map((e) =>
    h("button", { class: "tile", type: "button", "data-path": e.path, onclick: () => open(e) },
      h("div", { class: "icon" }, e.title.slice(0, 1)), e.title));
  root.replaceChildren(tiles.length ? h("div", { class: "tiles" }, tiles)
    : h("p", { class: "muted" }, "暂无可用工具"));
}

export async function startShell(area, title) {
  const root = document.getElementById("app");
  const heading = document.getElementById("title");
  const back = document.getElementById("back");
  const bar = document.getElementById("context");
  try {
    const user = await kit.api("GET", "/api/me");
    kit.setCsrf(user.csrf);
    kit.setTimeZone(user.tz);
    const wecom = await setupWeCom();
    const context = await chatContext(wecom);
    bar.textContent = `${user.name} · ${describe(context)}${wecom.inWeCom ? "" : "（演示环境）"}`;
    const nav = await kit.api("GET", `/api/nav?area=${area}`);
    // `?open=<feature>&k=v` (links in app cards) opens that feature at once; the rest of the
    // query reaches the module as `ui.context.params`.
    const query = Object.fromEntries(new URLSearchParams(location.search));
    const { open: wanted, ...params } = query;
    context.params = params;
    const ui = { ...kit, user, area, wecom, context, entries: nav.entries };
    const home = () => {
      heading.textContent = title;
      back.classList.add("hidden");
      showTiles(root, nav.entries, open);
    };
    const open = (entry) => {
      if (!entry.path.endsWith(".js")) {
        location.href = entry.path;
        return;
      }
      heading.textContent = entry.title;
      back.classList.remove("hidden");
      kit.mountFeature(root, entry, ui);
    };
    back.addEventListener("click", home);
    home();
    const target = wanted && nav.entries.find((e) =>
      e.path.includes(`/${wanted}/`) || e.path.endsWith(`/${wanted}.js`));
    if (target) open(target);
    else if (nav.entries.length === 1) open(nav.entries[0]);
  } catch (err) {
    if (err.status !== 401) root.replaceChildren(h("p", { class: "muted" }, `加载失败：${err.message}`));
  }
}
