// Shared bits of the SOP pages: labels, the phone preview of a moment, and the page styles.

export const BASE = "/api/sop/plans";
export const MODE_LABELS = { personal: "员工个人发表（提醒 + 一键发表）", task: "企业朋友圈任务（员工在企业通知中确认）" };
export const FREQ_LABELS = { daily: "每天", weekly: "每周", monthly: "每月", once: "仅一次" };
export const WEEKDAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
export const STATE_LABELS = { pending: "待发布", posted: "已发布", skipped: "已跳过", missed: "未发布", invalid: "不在可发表范围" };

const CSS = `
.sop-editor { display: grid; grid-template-columns: minmax(0, 1fr) 320px; gap: 16px; align-items: start; }
@media (max-width: 900px) { .sop-editor { grid-template-columns: 1fr; } }
.sop-row { margin-bottom: 12px; }
.sop-row > label.title { display: block; font-weight: 600; margin-bottom: 4px; }
.sop-row .help { color: var(--muted); font-size: 12px; margin-top: 2px; }
.sop-row .error { color: #cf1322; font-size: 12px; margin-top: 2px; }
.sop-row.invalid input, .sop-row.invalid textarea, .sop-row.invalid select { border-color: #cf1322; }
.sop-inline { display: flex; flex-wrap: wrap; gap: 6px 12px; align-items: center; }
.sop-item { border: 1px solid var(--line); border-radius: 8px; padding: 10px; margin-bottom: 10px; background: #fafafa; }
.sop-item textarea { width: 100%; box-sizing: border-box; }
.sop-thumbs { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }
.sop-thumbs img { width: 64px; height: 64px; object-fit: cover; border-radius: 4px; }
.sop-phone { border: 10px solid #222; border-radius: 28px; background: #ededed; padding: 12px; min-height: 420px; }
.sop-phone .bar { text-align: center; font-size: 12px; color: #666; margin-bottom: 10px; }
.sop-moment { background: #fff; border-radius: 6px; padding: 10px; display: grid; grid-template-columns: 40px 1fr; gap: 8px; }
.sop-moment .avatar { width: 40px; height: 40px; border-radius: 4px; background: #4e83fd; color: #fff;
  display: flex; align-items: center; justify-content: center; font-size: 13px; }
.sop-moment .who { color: #576b95; font-weight: 600; font-size: 14px; }
.sop-moment .text { white-space: pre-wrap; font-size: 14px; margin: 4px 0; word-break: break-all; }
.sop-moment .grid { display: grid; grid-template-columns: repeat(3, 64px); gap: 4px; }
.sop-moment .grid img { width: 64px; height: 64px; object-fit: cover; }
.sop-moment .link { display: flex; gap: 6px; background: #f3f3f3; padding: 6px; font-size: 13px; align-items: center; }
.sop-moment .link img { width: 40px; height: 40px; object-fit: cover; }
.sop-moment .meta { color: #999; font-size: 12px; margin-top: 6px; }
.sop-cal { list-style: none; padding: 0; margin: 0; font-size: 13px; max-height: 260px; overflow: auto; }
.sop-cal li { padding: 4px 0; border-bottom: 1px dashed var(--line); display: flex; justify-content: space-between; }
.sop-badge { font-size: 12px; padding: 1px 6px; border-radius: 10px; background: #f0f0f0; white-space: nowrap; }
.sop-badge.posted, .sop-badge.on { background: #f6ffed; color: #389e0d; }
.sop-badge.pending { background: #e6f4ff; color: var(--brand); }
.sop-badge.skipped, .sop-badge.paused { background: #fff7e6; color: #d46b08; }
.sop-badge.missed, .sop-badge.invalid, .sop-badge.late { background: #fff1f0; color: #cf1322; }
.sop-tabs { display: flex; gap: 4px; margin-bottom: 10px; border-bottom: 1px solid var(--line); }
.sop-tabs button { border: 0; background: none; padding: 8px 12px; cursor: pointer; border-bottom: 2px solid transparent; }
.sop-tabs button.on { color: var(--brand); border-bottom-color: var(--brand); font-weight: 600; }
.ui-modal:has(.sop-detail) { max-width: min(960px, 94vw); width: auto; }
.sop-detail { overflow-x: auto; }
.sop-task { background: #fff; border-radius: 8px; padding: 12px; margin-bottom: 10px; }
.sop-task .head { display: flex; justify-content: space-between; gap: 8px; align-items: center; }
.sop-task .text { white-space: pre-wrap; margin: 8px 0; font-size: 14px; }
.sop-task .actions { display: flex; gap: 6px; flex-wrap: wrap; }
`;

export function injectStyles() {
  if (document.getElementById("sop-styles")) return;
  const style = document.createElement("style");
  style.id = "sop-styles";
  style.textContent = CSS;
  document.head.append(style);
}

export function badge(h, state, text) {
  return h("span", { class: `sop-badge ${state}` }, text || STATE_LABELS[state] || state);
}

// A moment as it looks in a customer's WeChat 朋友圈 (item: {text, kind, images[], link, video}).
export function phoneMoment(h, item, { who = "员工", mediaUrl = (n) => `/api/sop/media/${n}` } = {}) {
  const body = [h("div", { class: "who" }, who), h("div", { class: "text" }, item.text || "")];
  if (item.kind === "images" && item.images && item.images.length) {
    body.push(h("div", { class: "grid" }, item.images.map((n) => h("img", { src: mediaUrl(n), alt: "图片" }))));
  } else if (item.kind === "link" && item.link) {
    body.push(h("div", { class: "link" }, item.link.cover ? h("img", { src: mediaUrl(item.link.cover), alt: "封面" }) : null,
      h("span", {}, item.link.title || "链接标题")));
  } else if (item.kind === "video" && item.video) {
    body.push(h("video", { src: mediaUrl(item.video), controls: true, style: { width: "200px" } }));
  }
  body.push(h("div", { class: "meta" }, "刚刚"));
  return h("div", { class: "sop-moment" }, h("div", { class: "avatar" }, who.slice(-2)), h("div", {}, body));
}

export function periodText(p) {
  if (p.freq === "weekly") return `每周${(p.weekdays || []).map((d) => WEEKDAYS[d].slice(1)).join("、")} ${p.at_time}`;
  if (p.freq === "monthly") return `每月${(p.month_days || []).join("、")}日 ${p.at_time}`;
  if (p.freq === "once") return `${p.start_date} ${p.at_time}（一次）`;
  return `每天 ${p.at_time}`;
}
