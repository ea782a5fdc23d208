// Shared bits of the leaderboard pages: labels, the countdown, and the page styles.

export const STATE_LABELS = { not_started: "未开始", running: "进行中", ended: "已结束" };
export const METRIC_LABELS = { new_customers: "邀请客户成为企微客户", group_joins: "邀请客户加入群聊" };
export const BASE = "/api/leaderboard/activities";

const CSS = `
.lb-tabs { display: flex; gap: 4px; margin-bottom: 10px; border-bottom: 1px solid var(--line); }
.lb-tabs button { flex: 1; border: 0; background: none; padding: 8px 4px; cursor: pointer; font-size: 14px;
  border-bottom: 2px solid transparent; color: var(--muted); }
.lb-tabs button.on { color: var(--brand); border-bottom-color: var(--brand); font-weight: 600; }
.lb-filters { display: flex; gap: 6px; margin-bottom: 10px; }
.lb-filters input { flex: 1; min-width: 0; }
.lb-item { background: #fff; border-radius: 8px; padding: 12px; margin-bottom: 8px; cursor: pointer;
  border: 1px solid transparent; }
.lb-item:hover { border-color: var(--brand); }
.lb-item .name { font-weight: 600; display: flex; gap: 6px; align-items: center; }
.lb-item .meta { color: var(--muted); font-size: 12px; margin-top: 4px; }
.lb-state { font-size: 12px; padding: 1px 6px; border-radius: 10px; font-weight: 400; white-space: nowrap; }
.lb-state.not_started { background: #fff7e6; color: #d46b08; }
.lb-state.running { background: #e6f4ff; color: var(--brand); }
.lb-state.ended { background: #f0f0f0; color: #8c8c8c; }
.lb-box { background: #fff; border-radius: 8px; padding: 12px; margin-bottom: 10px; }
.lb-box h3 { margin: 0 0 8px; font-size: 15px; }
.lb-kv { display: grid; grid-template-columns: 72px 1fr; gap: 4px 8px; font-size: 13px; }
.lb-kv dt { color: var(--muted); }
.lb-kv dd { margin: 0; }
.lb-countdown { font-size: 20px; font-weight: 600; color: var(--brand); font-variant-numeric: tabular-nums; }
.lb-mine { display: flex; justify-content: space-around; text-align: center; }
.lb-mine b { display: block; font-size: 22px; color: var(--brand); }
.lb-rank { width: 100%; border-collapse: collapse; font-size: 14px; }
.lb-rank td, .lb-rank th { padding: 8px 6px; border-bottom: 1px solid var(--line); text-align: left; }
.lb-rank th { color: var(--muted); font-weight: 400; font-size: 12px; }
.lb-rank tr.lb-me td { background: #e6f4ff; font-weight: 600; }
.lb-rank tr.lb-cut td { border-bottom: 2px dashed #faad14; }
.lb-rank .num { text-align: right; }
.lb-medal { display: inline-block; width: 22px; height: 22px; line-height: 22px; border-radius: 50%;
  text-align: center; font-size: 12px; background: #f0f0f0; }
.lb-medal.r1 { background: #ffd666; } .lb-medal.r2 { background: #d9d9d9; } .lb-medal.r3 { background: #ffc069; }
.lb-count { border: 0; background: none; color: var(--brand); cursor: pointer; font-size: 14px;
  text-decoration: underline; padding: 0; font-weight: inherit; }
.lb-list { list-style: none; margin: 0; padding: 0; max-height: 60vh; overflow: auto; }
.lb-list li { display: flex; align-items: center; gap: 8px; padding: 8px 0; border-bottom: 1px solid var(--line); }
.lb-list li .grow { flex: 1; min-width: 0; }
.lb-list li .sub { color: var(--muted); font-size: 12px; }
.lb-desc { white-space: pre-wrap; font-size: 13px; margin: 0; }
.lb-section { margin: 16px 0; }
.lb-grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 0 16px; }
.lb-picked { display: flex; flex-wrap: wrap; gap: 4px; margin: 6px 0; }
.lb-chip { background: #e6f4ff; color: var(--brand); border-radius: 10px; padding: 1px 8px; font-size: 12px; }
.lb-checks { max-height: 260px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; padding: 6px; }
.lb-checks label { display: flex; gap: 6px; align-items: center; padding: 3px 0; font-weight: 400; }
.lb-remind { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin-bottom: 8px; }
.lb-remind .row { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.lb-remind input[type=number], .lb-remind input[type=time] { width: 110px; }
.lb-team { display: flex; gap: 6px; align-items: center; margin-bottom: 6px; flex-wrap: wrap; }
.ui-form .field input[type=checkbox] { width: auto; flex: none; margin: 0; }
.ui-form .lb-remind .field { margin: 0; }
.lb-defs { display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; font-size: 12px; color: var(--muted); margin: 10px 0 0; }
.lb-defs dt { font-weight: 600; }
.lb-defs dd { margin: 0; }
.lb-field-error { color: var(--danger); font-size: 12px; margin-top: 4px; }
.lb-invalid input, .lb-invalid select, .lb-invalid textarea, .lb-invalid .lb-checks { border-color: var(--danger); }
`;

export function injectStyles() {
  if (document.getElementById("lb-styles")) return;
  const style = document.createElement("style");
  style.id = "lb-styles";
  style.textContent = CSS;
  document.head.append(style);
}

export function stateBadge(h, state) {
  return h("span", { class: `lb-state ${state}` }, STATE_LABELS[state] || state);
}

export function metricText(a) {
  const label = METRIC_LABELS[a.metric] || a.metric;
  return a.metric === "new_customers" && a.dedup ? `${label}（去重）` : label;
}

export function span(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(total / 86400);
  const pad = (n) => String(n).padStart(2, "0");
  const clock = `${pad(Math.floor((total % 86400) / 3600))}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
  return days ? `${days} 天 ${clock}` : clock;
}

// A live countdown to `target`; stops itself when the node leaves the page.
export function countdown(h, target, onDone) {
  const node = h("div", { class: "lb-countdown" });
  const end = new Date(target).getTime();
  const tick = () => {
    const left = end - Date.now();
    node.textContent = span(left);
    if (left <= 0) {
      clearInterval(timer);
      if (onDone && node.isConnected) onDone();
      return;
    }
    if (!node.isConnected && started) clearInterval(timer);
  };
  let started = false;
  const timer = setInterval(() => { started = true; tick(); }, 1000);
  tick();
  return node;
}
