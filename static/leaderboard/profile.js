// Customer profile → 拉新排行榜: a bar for a staff member taking part in a running activity,
// leading to 我参与的 (the block hides itself when there is none).
import { BASE } from "/static/leaderboard/common.js";

export async function mount(el, ui) {
  const { h } = ui;
  const section = el.closest("section");
  const data = await ui.api("GET", `${BASE}?${new URLSearchParams({ tab: "mine", state: "running", size: "5" })}`,
    undefined, { quiet: true }).catch(() => ({ items: [] }));
  if (!data.items.length) {
    if (section) section.hidden = true;
    return;
  }
  const a = data.items[0];
  const ranking = await ui.api("GET", `${BASE}/${a.id}/ranking?size=1`, undefined, { quiet: true }).catch(() => null);
  const me = ranking && ranking.me;
  const more = data.items.length > 1 ? `等 ${data.items.length} 个活动` : "";
  const standing = me ? `，当前第 ${me.rank} 名（${me.count}）` : "";
  el.replaceChildren(h("a", { class: "lb-profile-bar", id: "lb-profile-bar",
    href: "/sidebar?open=leaderboard", style: { display: "block", padding: "8px 10px", borderRadius: "6px",
      background: "#e6f4ff", color: "var(--brand)", textDecoration: "none" } },
  `你正在参与「${a.name}」${more}${standing}，查看我参与的 ›`));
}
