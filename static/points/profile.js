// Customer profile → 社群积分: balance, streak, cumulative days, recent entries, award / deduct.
export async function mount(el, ui, ctx) {
  const { h } = ui;
  const ext = (ctx && ctx.external_userid) || (ui.context && ui.context.external_userid) ||
    new URLSearchParams(location.search).get("external_userid") || "";
  if (!ext) { el.replaceChildren(h("p", { class: "muted" }, "未选择客户")); return; }
  const d = await ui.api("GET", `/api/points/profile?external_userid=${encodeURIComponent(ext)}`);
  const rid = () => "s" + Array.from(crypto.getRandomValues(new Uint8Array(10)), (b) => b.toString(16).padStart(2, "0")).join("");
  const adjust = (sign) => {
    const key = rid();
    ui.formDialog({ title: sign > 0 ? "奖励积分" : "扣除积分", submitLabel: "确定", fields: [
      { name: "points", label: "积分", type: "number", required: true, help: d.limit ? `单次不超过 ${d.limit} 分` : "" },
      { name: "reason", label: "原因", required: true, maxLength: 100 },
    ], submit: async (v) => {
      await ui.api("POST", "/api/points/profile/adjust", { external_userid: ext, points: sign * Math.abs(v.points || 0),
        reason: v.reason, request_id: key });
      ui.toast("积分已调整", "success");
      mount(el, ui, ctx);
    } });
  };
  el.replaceChildren(h("div", { id: "points-profile" },
    h("div", { class: "ui-filters" },
      h("b", { id: "points-balance" }, `积分 ${d.balance}`), d.held ? h("span", { class: "muted" }, `兑换中 ${d.held}`) : null,
      h("span", {}, `连续签到 ${d.streak} 天`), h("span", {}, `累计签到 ${d.signin_days} 天`),
      d.blocked ? h("span", { class: "muted" }, "黑名单") : null),
    h("div", { class: "ui-filters" },
      h("button", { class: "btn btn-small btn-primary", type: "button", id: "points-award", onclick: () => adjust(1) }, "奖励"),
      h("button", { class: "btn btn-small", type: "button", id: "points-deduct", onclick: () => adjust(-1) }, "扣除"),
      h("button", { class: "btn btn-small", type: "button", onclick: () => navigator.clipboard.writeText(d.link)
        .then(() => ui.toast("专属积分链接已复制，可发给客户")) }, "复制积分链接")),
    d.entries.length ? h("ul", { class: "points-entries" }, d.entries.map((e) => h("li", {},
      `${ui.formatTime(e.at)} ${e.reason || e.kind} `, h("b", {}, e.amount > 0 ? `+${e.amount}` : String(e.amount))))) :
      h("p", { class: "muted" }, "暂无积分记录")));
}
