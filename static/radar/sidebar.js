// Sidebar → 雷达数据: the radars I sent and how often they were opened.
import { api, h } from "/static/common/ui.js";

export async function mount(el) {
  const data = await api("GET", "/api/radar/mine");
  if (!data.radars.length) {
    el.replaceChildren(h("p", { class: "muted" }, "您还没有发送过雷达。在聊天工具栏「智能雷达」中一键发送给客户。"));
    return;
  }
  el.replaceChildren(h("table", { class: "ui-table" },
    h("thead", {}, h("tr", {}, ["雷达", "发送次数", "访问次数", "访问客户数"].map((t) => h("th", {}, t)))),
    h("tbody", {}, data.radars.map((r) => h("tr", {},
      h("td", {}, r.title + (r.deleted ? "（已删除）" : "")),
      h("td", {}, String(r.sends)), h("td", {}, String(r.visits)), h("td", {}, String(r.visitors)))))));
}
