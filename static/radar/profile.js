// Customer profile → 雷达访问: this customer's radar visits (time, view time, progress).
import { api, formatTime, h } from "/static/common/ui.js";

export async function mount(el, ui, ctx) {
  const ext = (ctx && ctx.external_userid) || (ui && ui.context && ui.context.external_userid) ||
    new URLSearchParams(location.search).get("external_userid") || "";
  if (!ext) { el.replaceChildren(h("p", { class: "muted" }, "未选择客户")); return; }
  const data = await api("GET", `/api/radar/profile?external_userid=${encodeURIComponent(ext)}`);
  if (!data.items.length) { el.replaceChildren(h("p", { class: "muted" }, "该客户还没有访问过雷达")); return; }
  el.replaceChildren(h("ul", { class: "radar-visits" }, data.items.map((v) => h("li", {},
    `${formatTime(v.at)} 查看《${v.title}》`,
    v.duration ? `，停留 ${v.duration} 秒，进度 ${v.progress}%` : ""))));
}
