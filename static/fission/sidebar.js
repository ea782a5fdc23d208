// Sidebar → 裂变活动: my activity customers, their progress and prizes, mark a prize as given,
// and each customer's personal activity link to send them.
const STATES = { won: "待发放", given: "已发放", out_of_stock: "奖品已发完" };

export async function mount(el, ui) {
  const { h } = ui;
  const list = h("div");
  el.replaceChildren(h("div", { class: "card" }, h("h2", {}, "我的裂变活动客户"), list));
  const reload = async () => {
    list.replaceChildren(h("p", { class: "muted" }, "加载中…"));
    let data;
    try {
      data = await ui.api("GET", "/api/fission/mine");
    } catch (err) {
      list.replaceChildren(h("p", { class: "muted" }, err.message));
      return;
    }
    if (!data.items.length) {
      list.replaceChildren(h("p", { class: "muted" }, "暂无参加活动的客户"));
      return;
    }
    list.replaceChildren(...data.items.map((c) => h("div", { class: "fx-customer", style: { borderBottom: "1px solid #eee", padding: "8px 0" } },
      h("div", {}, h("b", {}, c.name || "客户"), h("span", { class: "muted" }, ` · ${c.activity}`)),
      h("div", {}, `已有 ${c.helps} 位好友助力`, c.next ? `，再邀请 ${c.next.left} 人可得「${c.next.prize}」` : ""),
      ...c.awards.map((a) => h("div", { class: "fx-award" }, `奖品「${a.prize}」：${STATES[a.state] || a.state} `,
        a.state === "won" ? h("button", { class: "btn btn-small btn-primary", type: "button", onclick: () => given(a) }, "标记已发放") : null)),
      h("div", {}, h("button", { class: "btn btn-small", type: "button", onclick: () => copyLink(c.script ? `${c.script}\n${c.link}` : c.link) },
        c.script ? "复制邀请话术和专属链接" : "复制客户专属链接")))));
  };
  const given = async (a) => {
    try {
      await ui.api("POST", `/api/fission/awards/${a.id}/given`, {});
      ui.toast("已标记为已发放");
      reload();
    } catch (err) { /* the kit shows the message */ }
  };
  const copyLink = async (link) => {
    try {
      await navigator.clipboard.writeText(link);
      ui.toast("已复制，可发送给客户");
    } catch (err) {
      ui.modal({ title: "客户专属链接", body: h("p", { style: { wordBreak: "break-all" } }, link) });
    }
  };
  await reload();
}
