// 客户画像 → 客户阶段: this customer's stage in every journey (top journey first), a change
// with a reason, and the history with why each move happened.
import { api, formatTime, h, toast } from "/static/common/ui.js";

export async function mount(el, ui, ctx) {
  const ext = (ctx && ctx.external_userid) || new URLSearchParams(location.search).get("external_userid") || "";
  if (!ext) { el.replaceChildren(h("p", { class: "muted" }, "未选择客户")); return; }
  const draw = async () => {
    const data = await api("GET", `/api/stages/profile?external_userid=${encodeURIComponent(ext)}`);
    if (!data.journeys.length) {
      el.replaceChildren(h("p", { class: "muted", id: "stages-none" }, "还没有适用于该客户的客户旅程"));
      return;
    }
    el.replaceChildren(...data.journeys.map((j) => journey(j, ext, draw)));
  };
  await draw();
}

function journey(j, ext, redraw) {
  const rows = j.relations.map((r) => relation(j, r, ext, redraw));
  return h("div", { class: "stages-journey", "data-journey": j.id, style: { marginBottom: "12px" } },
    h("div", { style: { fontWeight: "600" } }, j.name,
      j.rollup ? h("span", { class: "muted", style: { fontWeight: "400", marginLeft: "6px" } },
        `最远：${j.rollup.stage_name}（${j.rollup.holder}）`) : null),
    ...rows,
    history(j));
}

function relation(j, r, ext, redraw) {
  const line = h("div", { class: "stages-relation", "data-userid": r.userid, style: { margin: "4px 0" } },
    h("span", { class: "stages-current" }, r.stage_name),
    h("span", { class: "muted" }, ` · ${r.name}${r.entered_at ? ` · ${formatTime(r.entered_at)} 进入` : ""}`));
  if (!r.may_change) return line;
  const select = h("select", { class: "stages-select", "aria-label": "客户阶段" },
    h("option", { value: "" }, "未设置阶段"),
    j.stages.map((s) => h("option", { value: String(s.id), selected: s.id === r.stage_id }, s.name)));
  const reason = h("input", { class: "stages-reason", placeholder: "变更原因（必填）", maxlength: 200 });
  const error = h("div", { class: "error", style: { color: "#d4380d", fontSize: "12px" } });
  const save = h("button", { class: "btn btn-small btn-primary stages-save", onclick: async () => {
    error.textContent = "";
    try {
      await api("POST", "/api/stages/move", {
        journey_id: j.id, external_userid: ext, userid: r.userid,
        stage_id: select.value ? Number(select.value) : null, reason: reason.value,
      }, { quiet: true });
    } catch (err) {
      error.textContent = err.message;
      return;
    }
    toast("客户阶段已更新");
    await redraw();
  } }, "变更");
  return h("div", {}, line,
    h("div", { style: { display: "flex", gap: "4px", flexWrap: "wrap", alignItems: "center" } }, select, reason, save),
    error);
}

function history(j) {
  if (!j.history.length) return h("p", { class: "muted" }, "暂无阶段变更记录");
  return h("details", { class: "stages-history" }, h("summary", {}, `变更记录（${j.history.length}）`),
    h("ul", {}, j.history.map((m) => h("li", {},
      `${formatTime(m.at)} ${m.staff}：${m.from} → ${m.to}`,
      h("span", { class: "muted" }, `（${m.by_text}${m.who ? `·${m.who}` : ""}）`),
      m.why ? h("div", { class: "muted stages-why" }, `满足条件：${m.why}`) : null,
      m.reason ? h("div", { class: "muted" }, `原因：${m.reason}`) : null))));
}
