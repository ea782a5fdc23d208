// Sidebar → 朋友圈任务 (also where a reminder card's 去发布 leads, ?task=<id>): my tasks today
// and the ones still open, the content ready to copy, the one-tap post to 客户朋友圈 through
// the JS-SDK shareToExternalMoments, 已发布 / 跳过; then the week's upcoming posts.
import { STATE_LABELS, badge, injectStyles } from "/static/sop/common.js";

export async function mount(el, ui) {
  injectStyles();
  const { h } = ui;
  const params = (ui.context && ui.context.params) || {};
  const list = h("div", { id: "sop-tasks" });
  const upcoming = h("div", { id: "sop-upcoming" });
  el.replaceChildren(h("h3", {}, "今天的朋友圈任务"), list, h("h3", {}, "接下来 7 天"), upcoming);
  const draw = async () => {
    const data = await ui.api("GET", "/api/sop/my");
    const tasks = data.tasks.slice().sort((a, b) => (String(a.id) === params.task ? -1 : String(b.id) === params.task ? 1 : 0));
    list.replaceChildren(...(tasks.length ? tasks.map((t) => taskCard(ui, t, draw))
      : [h("p", { class: "muted" }, "今天没有朋友圈任务。")]));
    upcoming.replaceChildren(...(data.upcoming.length ? data.upcoming.map((u) => h("div", { class: "sop-task" },
      h("div", { class: "head" }, h("b", {}, u.plan_name), h("span", { class: "muted" }, u.at_text)),
      h("div", { class: "text" }, u.text || "（图片 / 链接 / 视频）")))
      : [h("p", { class: "muted" }, "暂无安排。")]));
  };
  await draw();
}

function taskCard(ui, t, redraw) {
  const { h } = ui;
  const c = t.content;
  const attach = [];
  if (c.kind === "images") attach.push(h("div", { class: "sop-thumbs" }, c.images.map((u) => h("img", { src: u, alt: "图片" }))));
  if (c.kind === "link") attach.push(h("div", { class: "muted" }, `链接：${c.link.title}`));
  if (c.kind === "video") attach.push(h("video", { src: c.video, controls: true, style: { width: "100%" } }));
  const open = t.state === "pending";
  const post = async () => {
    try {
      const payload = await ui.api("POST", `/api/sop/tasks/${t.id}/share`, {});
      const res = await ui.wecom.shareToExternalMoments(payload);
      if (res && /:ok$/.test(res.err_msg || "")) ui.toast("已打开发表页，发表后会自动识别为已发布");
    } catch (err) {
      ui.toast(err.message || "无法发表，请复制文案后手动发表", "error");
    }
  };
  const mark = async (what) => {
    await ui.api("POST", `/api/sop/tasks/${t.id}/${what}`, {});
    ui.toast(what === "posted" ? "已标记为已发布" : "已跳过");
    await redraw();
  };
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(c.text || "");
      ui.toast("文案已复制");
    } catch (err) {
      ui.toast("复制失败，请长按文案手动复制", "error");
    }
  };
  return h("div", { class: "sop-task", "data-task": t.id },
    h("div", { class: "head" }, h("b", {}, t.plan_name),
      h("span", {}, h("span", { class: "muted" }, t.at_text), " ", t.late ? badge(h, "late", "延迟") : null, " ",
        badge(h, t.state, STATE_LABELS[t.state]))),
    h("div", { class: "text" }, c.text || ""), ...attach,
    t.mode === "task" && open ? h("p", { class: "muted" }, "企业朋友圈任务：请在 客户朋友圈 → 企业通知 中确认发表。") : null,
    h("div", { class: "actions" },
      h("button", { class: "btn", type: "button", onclick: copy }, "复制文案"),
      open && t.mode === "personal" ? h("button", { class: "btn btn-primary", type: "button", "data-action": "post", onclick: post }, "去发布") : null,
      open ? h("button", { class: "btn", type: "button", "data-action": "posted", onclick: () => mark("posted") }, "已发布") : null,
      open ? h("button", { class: "btn", type: "button", "data-action": "skip", onclick: () => mark("skip") }, "跳过") : null));
}
