// 客户画像: who the customer is, the staff following them, tags, groups and the timeline.
import { call, currentCustomer, when } from "./common.js";

const TYPE = { 1: "微信用户", 2: "企业微信用户" };
const TAG_STYLE = { display: "inline-block", margin: "4px 4px 0 0", padding: "0 6px", borderRadius: "4px",
  background: "#eef4ff", color: "#2f6bd8", fontSize: "12px" };
const GROUP_STYLE = { display: "flex", flexWrap: "wrap", gap: "6px", alignItems: "center", margin: "6px 0" };
const END = { deleted_by_customer: "客户已删除", deleted_by_staff: "已删除客户", transferred: "已转接" };

export async function mount(el, ui, ctx = {}) {
  const { h } = ui;
  const ext = await currentCustomer(ui, ctx);
  if (!ext) {
    el.replaceChildren(h("p", { class: "muted" }, "请在与客户的单聊中打开此页面"));
    return;
  }
  const base = `/api/facts/customers/${encodeURIComponent(ext)}`;
  let data;
  try {
    data = await ui.api("GET", base, undefined, { quiet: true });
  } catch (err) {
    el.replaceChildren(h("p", { class: "muted", id: "facts-error" }, err.message));
    return;
  }
  const tags = await call(ui, "GET", "/api/facts/tags").catch(() => ({ groups: [] }));
  const mine = data.follows.find((f) => f.mine && f.active);
  el.replaceChildren(
    who(ui, data.customer),
    follows(ui, data.follows),
    mine ? tagEditor(ui, base, mine, tags.groups, () => mount(el, ui, ctx)) : "",
    groups(ui, data.groups),
    featureBlocks(ui, ext),
    timeline(ui, base),
  );
}

// Other features add their blocks (stage, points, radar visits) through router.page("profile").
function featureBlocks(ui, ext) {
  const { h } = ui;
  const box = h("div", { id: "facts-blocks" });
  ui.api("GET", "/api/nav?area=profile", undefined, { quiet: true }).then(async (nav) => {
    for (const entry of nav.entries) {
      const body = h("div", {});
      box.append(h("section", { class: "card", "data-block": entry.path }, h("h3", {}, entry.title), body));
      try {
        const mod = await import(entry.path);
        await mod.mount(body, ui, { external_userid: ext });
      } catch (err) {
        body.replaceChildren(h("p", { class: "muted" }, `加载失败：${err.message || err}`));
      }
    }
  }).catch(() => {});
  return box;
}

function who(ui, c) {
  const { h } = ui;
  const kind = c.type === 2 ? `${TYPE[2]} · ${c.corp_name || ""}` : TYPE[1];
  return h("section", { class: "card facts-who" },
    c.avatar ? h("img", { src: c.avatar, alt: "", width: 48, height: 48, onerror: (e) => e.target.remove() })
      : null,
    h("h2", { id: "facts-name" }, c.name || c.external_userid),
    h("p", { class: "muted" }, kind),
    c.first_added_at ? h("p", { class: "muted" }, `首次添加：${when(ui, c.first_added_at)}`) : null);
}

function follows(ui, list) {
  const { h } = ui;
  return h("section", { class: "card", id: "facts-follows" }, h("h3", {}, "跟进员工"),
    h("ul", {}, list.map((f) => h("li", { "data-userid": f.userid },
      h("b", {}, f.name), f.remark ? `（备注：${f.remark}）` : "",
      ` · ${when(ui, f.added_at)} 添加 · `,
      f.active ? "跟进中" : (END[f.end_reason] || "已不是好友"),
      f.tags.length ? h("div", {}, f.tags.map((t) => h("span", { class: "facts-tag", style: TAG_STYLE }, t.name)))
        : null))));
}

// After a change the whole page is drawn again: the follow list and the timeline show it too.
function tagEditor(ui, base, mine, tagGroups, redraw) {
  const { h } = ui;
  const have = new Set(mine.tags.map((t) => t.tag_id));
  const box = h("section", { class: "card", id: "facts-tags" }, h("h3", {}, "我打的标签"));
  for (const g of tagGroups) {
    box.append(h("div", { class: "facts-tag-group", style: GROUP_STYLE }, h("span", { class: "muted" }, g.name),
      g.tags.map((t) => h("button", {
        type: "button",
        class: have.has(t.tag_id) ? "btn btn-small btn-primary" : "btn btn-small",
        "data-tag": t.tag_id,
        "aria-pressed": have.has(t.tag_id) ? "true" : "false",
        onclick: async (ev) => {
          const button = ev.currentTarget;
          const on = have.has(t.tag_id);
          button.disabled = true;
          try {
            await call(ui, "POST", `${base}/tags`, on ? { remove: [t.tag_id] } : { add: [t.tag_id] });
            ui.toast(on ? `已移除标签 ${t.name}` : `已添加标签 ${t.name}`);
            await redraw();
          } catch (err) {
            button.disabled = false; // ui.api already showed the error
          }
        },
      }, t.name))));
  }
  return box;
}

function groups(ui, list) {
  const { h } = ui;
  return h("section", { class: "card", id: "facts-groups" }, h("h3", {}, "所在群聊"),
    h("ul", {}, list.length
      ? list.map((g) => h("li", {}, `${g.name || g.chat_id} · ${when(ui, g.join_time)} 入群`))
      : h("li", { class: "muted" }, "暂无")));
}

function timeline(ui, base) {
  const { h } = ui;
  const list = h("ul", { class: "facts-timeline", id: "facts-timeline" });
  let page = 0;
  const more = h("button", { class: "btn btn-small hidden", type: "button", onclick: () => load() }, "加载更多");
  async function load() {
    page += 1;
    const data = await call(ui, "GET", `${base}/timeline?page=${page}`);
    for (const t of data.items) {
      list.append(h("li", {}, h("time", { class: "muted" }, when(ui, t.at)), " ", t.text));
    }
    if (!data.total) list.append(h("li", { class: "muted" }, "暂无动态"));
    more.classList.toggle("hidden", page * data.size >= data.total);
  }
  load().catch(() => {});
  return h("section", { class: "card" }, h("h3", {}, "客户动态"), list, more);
}
