// 定时任务: every scheduled run (leaderboard broadcasts, reports ...) with its state; a run
// executed well after its time (workers were down) is marked 延迟, one past its horizon 已跳过.
const STATES = { "": "全部", pending: "待执行", running: "执行中", done: "已完成", skipped: "已跳过", cancelled: "已取消", failed: "失败" };

export function schedule(el, ui) {
  const { h } = ui;
  const box = h("div", { class: "card" });
  el.append(h("h1", {}, "定时任务"),
    h("p", { class: "muted" }, "各功能的定时任务（每日播报、结束报告等）。服务停机期间错过的任务会在恢复后补发并标记为延迟，超过时限的任务会被跳过，每个任务只执行一次。"), box);
  ui.table(box, {
    filters: [
      { key: "state", label: "状态", type: "select", value: "",
        options: Object.entries(STATES).map(([value, label]) => ({ value, label })) },
      { key: "late", label: "只看延迟", type: "select", value: "",
        options: [{ value: "", label: "否" }, { value: "1", label: "是" }] },
    ],
    columns: [
      { key: "title", title: "任务" },
      { key: "key", title: "编号", render: (r) => h("code", {}, r.key) },
      { key: "due_at", title: "计划时间", render: (r) => ui.formatTime(r.due_at) },
      { key: "state_label", title: "状态", render: (r) => h("span", {}, r.state_label,
        r.late ? h("span", { class: "late-tag", title: "在计划时间之后较晚才执行" }, "延迟") : null) },
      { key: "done_at", title: "完成时间", render: (r) => (r.done_at ? ui.formatTime(r.done_at) : "") },
      { key: "attempts", title: "执行次数" },
      { key: "last_error", title: "最近错误", render: (r) => h("code", {}, r.last_error) },
    ],
    fetch: (page, f) => ui.api("GET", `/api/system/scheduled-runs?page=${page}`
      + `&state=${encodeURIComponent(f.state || "")}&late=${encodeURIComponent(f.late || "")}`),
  });
}
