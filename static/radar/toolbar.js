// Chat toolbar → 智能雷达: my radars by group, searchable; one tap creates a share on the
// server and sends it as a news card into the current single or group chat.
import { api, h, toast } from "/static/common/ui.js";
import { setupWeCom } from "/static/common/wecom.js";

async function target(wecom) {
  const ctx = await wecom.getContext();
  if (ctx.entry === "group_chat_tools") return { chat_id: (await wecom.getCurExternalChat()).chatId };
  if (ctx.entry === "single_chat_tools") {
    return { external_userid: (await wecom.getCurExternalContact()).userId };
  }
  throw new Error("请在与客户的单聊或客户群的聊天工具栏中打开");
}

async function send(radar, wecom, button) {
  button.disabled = true;
  try {
    const to = await target(wecom);
    const share = await api("POST", "/api/radar/shares", { radar_id: radar.id, ...to });
    await wecom.sendChatMessage({ msgtype: "news", enterChat: true, news: share.news });
    toast(`已发送《${radar.title}》`, "success");
  } catch (err) {
    toast(err.message || "发送失败", "error");
  } finally {
    button.disabled = false;
  }
}

// The shared stylesheet has no list rows; these few rules keep a row readable on a phone.
const STYLE = `
.radar-search{width:100%;box-sizing:border-box;margin-bottom:8px}
.radar-list h3{font-size:13px;color:#8a8f99;font-weight:500;margin:14px 0 4px}
.radar-item{display:flex;align-items:center;gap:10px;padding:10px 0;border-bottom:1px solid #f0f0f0}
.radar-item:last-child{border-bottom:0}
.radar-item .text{flex:1;min-width:0}
.radar-item strong{word-break:break-all}
.radar-item .muted{font-size:12px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.radar-type{display:inline-block;margin-left:6px;padding:0 6px;border-radius:4px;font-size:11px;
  line-height:18px;background:#e6f4ff;color:#1677ff;vertical-align:1px}
.radar-item .btn{flex:none;padding:4px 14px;font-size:13px}`;

function addStyle() {
  if (document.getElementById("radar-toolbar-style")) return;
  document.head.append(h("style", { id: "radar-toolbar-style" }, STYLE));
}

export async function mount(el, ui) {
  addStyle();
  const wecom = (ui && ui.wecom) || (await setupWeCom());
  const search = h("input", { type: "search", placeholder: "搜索雷达标题", class: "radar-search" });
  const list = h("div", { class: "radar-list" });
  el.replaceChildren(h("div", { class: "card" }, search, list));

  async function load() {
    const q = encodeURIComponent(search.value.trim());
    const data = await api("GET", `/api/radar/toolbar?q=${q}`);
    const groups = data.groups.filter((g) => g.radars.length);
    if (!groups.length) {
      list.replaceChildren(h("p", { class: "muted" }, search.value ? "没有找到匹配的雷达" : "暂无可发送的雷达"));
      return;
    }
    list.replaceChildren(...groups.map((g) => h("section", {},
      h("h3", {}, g.name),
      ...g.radars.map((r) => {
        const button = h("button", { class: "btn btn-primary btn-small", "data-radar": r.id }, "发送");
        button.addEventListener("click", () => send(r, wecom, button));
        return h("div", { class: "radar-item" },
          h("div", { class: "text" }, h("strong", {}, r.title),
            h("span", { class: "radar-type" }, r.type_label),
            r.description ? h("div", { class: "muted" }, r.description) : null),
          button);
      }))));
  }

  let timer = 0;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(load, 250); });
  await load();
}
