// Console → 社群积分: programme settings, rewards, customers (batch award / deduct, export),
// the ledger (filters, reversal), redemptions and the blacklist.
const API = "/api/points";
const KIND = { earn: "获得", spend: "兑换", hold: "兑换冻结", release: "退回", expire: "过期", zero: "清零",
  import: "导入", manual: "调整", reverse: "撤销" };
const STATE = { pending: "待发放", fulfilled: "已发放", released: "已退回" };

function requestId() {
  const a = new Uint8Array(12);
  crypto.getRandomValues(a);
  return "r" + Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function mount(el, ui) {
  const { h } = ui;
  const body = h("div");
  const tabs = [["settings", "积分设置"], ["rewards", "奖品"], ["customers", "客户积分"], ["ledger", "积分明细"],
    ["redemptions", "兑换记录"], ["import", "导入积分"], ["stats", "社群数据"], ["signals", "风险提示"]];
  const buttons = tabs.map(([key, label]) => h("button", { class: "btn", type: "button", "data-tab": key,
    onclick: () => show(key) }, label));
  el.replaceChildren(h("div", { class: "card" }, h("div", { class: "ui-filters", id: "points-tabs" }, buttons)), body);
  const views = { settings: showSettings, rewards: showRewards, customers: showCustomers, ledger: showLedger,
    redemptions: showRedemptions, import: showImport, stats: showStats, signals: showSignals };
  function show(key) {
    for (const b of buttons) b.classList.toggle("btn-primary", b.dataset.tab === key);
    views[key](body, ui);
  }
  show("settings");
}

// --- settings ----------------------------------------------------------------------------

function tierFields(prefix, label, tiers) {
  const out = [];
  for (let i = 0; i < 3; i++) {
    const t = tiers[i] || {};
    out.push({ name: `${prefix}${i}_days`, label: `${label}第${i + 1}档：天数`, type: "number", value: t.days ?? "" });
    out.push({ name: `${prefix}${i}_points`, label: `${label}第${i + 1}档：奖励积分`, type: "number", value: t.points ?? "" });
  }
  return out;
}

function readTiers(values, prefix) {
  const tiers = [];
  for (let i = 0; i < 3; i++) {
    const days = values[`${prefix}${i}_days`];
    const points = values[`${prefix}${i}_points`];
    if (days || points) tiers.push({ days, points });
  }
  return tiers;
}

async function showSettings(el, ui) {
  const { h } = ui;
  const data = await ui.api("GET", `${API}/program`);
  const c = data.config;
  const box = h("div");
  const entries = h("ul", { id: "points-entry-points" }, data.entry_points.map((p) =>
    h("li", {}, h("b", {}, `${p.works ? "✅" : "⚠️"} ${p.name}：`), p.detail, p.url ? h("code", {}, ` ${p.url}`) : null)));
  el.replaceChildren(h("div", { class: "card" }, h("h2", {}, "积分入口"), entries,
    h("p", { class: "muted" }, "每位客户的专属链接可在「客户积分」中复制，或在客户侧边栏的社群积分中查看。")),
  h("div", { class: "card" }, h("h2", {}, "积分规则"), box));
  ui.form(box, {
    fields: [
      { name: "enabled", label: "启用积分", type: "checkbox", value: c.enabled },
      { name: "chat_ids", label: "参与的客户群", type: "picker", kind: "groups", value: c.chat_ids,
        help: "不选表示所有客户群；客户需在参与的群中才能签到" },
      { name: "newcomer_points", label: "新人积分", type: "number", value: c.newcomer_points },
      { name: "newcomer_on", label: "新人积分发放时机", type: "select", value: c.newcomer_on, options: [
        { value: "join", label: "首次入群" }, { value: "add", label: "首次添加员工" }, { value: "both", label: "首次入群或添加（只发一次）" }] },
      { name: "newcomer_min_stay_hours", label: "最短在群时长（小时）", type: "number", value: c.newcomer_min_stay_hours,
        help: "0 表示入群即发；大于 0 时在群满该时长后发放，提前退群不发" },
      { name: "signin_points", label: "每日签到积分", type: "number", value: c.signin_points },
      ...tierFields("streak", "连续签到", c.streak_tiers),
      ...tierFields("cumul", "累计签到", c.cumulative_tiers),
      { name: "cumulative_period", label: "累计签到周期", type: "select", value: c.cumulative_period, options: [
        { value: "week", label: "每周" }, { value: "month", label: "每月" }, { value: "year", label: "每年" }] },
      { name: "profile_points", label: "完善信息积分（每项）", type: "number", value: c.profile_points },
      { name: "profile_name", label: "完善信息项：姓名", type: "checkbox", value: c.profile_fields.includes("name") },
      { name: "profile_phone", label: "完善信息项：手机号", type: "checkbox", value: c.profile_fields.includes("phone") },
      { name: "profile_wechat", label: "完善信息项：微信号", type: "checkbox", value: c.profile_fields.includes("wechat") },
      { name: "profile_address", label: "完善信息项：地址", type: "checkbox", value: c.profile_fields.includes("address") },
      { name: "mp_points", label: "关注公众号积分", type: "number", value: c.mp_points,
        help: "需配置服务号（[wechat_mp]）：通过服务号确认客户已关注后发放，每位客户一次" },
      { name: "channels_points", label: "关注视频号积分", type: "number", value: c.channels_points,
        help: "客户自行声明已关注，每位客户只发一次" },
      { name: "channels_daily_cap", label: "关注视频号每日发放上限（人）", type: "number", value: c.channels_daily_cap },
      { name: "channels_confirm", label: "关注视频号需员工确认", type: "checkbox", value: c.channels_confirm,
        help: "开启后由客户的顾问在企业微信卡片上点击「确认」后发放" },
      { name: "expiry_mode", label: "积分有效期", type: "select", value: c.expiry_mode, options: [
        { value: "none", label: "永久有效" }, { value: "days", label: "获得后若干天" }, { value: "date", label: "统一日期过期" }] },
      { name: "expiry_days", label: "有效天数", type: "number", value: c.expiry_days },
      { name: "expiry_date", label: "统一过期日期", type: "date", value: c.expiry_date || "" },
      { name: "expiry_remind_days", label: "过期前提醒员工（天）", type: "number", value: c.expiry_remind_days,
        help: "0 表示不提醒；大于 0 时在积分过期前若干天给客户的顾问发送提醒卡片" },
      { name: "zero_on_leave", label: "退出全部参与群后清零", type: "checkbox", value: c.zero_on_leave },
      { name: "reversal_negative", label: "撤销已使用的积分时允许余额为负", type: "checkbox", value: c.reversal_negative },
      { name: "hold_hours", label: "兑换待发放时限（小时）", type: "number", value: c.hold_hours,
        help: "超时未发放，积分和库存自动退回" },
      { name: "staff_limit", label: "员工单次调整上限", type: "number", value: c.staff_limit },
    ],
    submit: async (v) => {
      const fields = ["name", "phone", "wechat", "address"].filter((f) => v[`profile_${f}`]);
      const body = {
        enabled: v.enabled, chat_ids: v.chat_ids, newcomer_points: v.newcomer_points ?? 0, newcomer_on: v.newcomer_on,
        newcomer_min_stay_hours: v.newcomer_min_stay_hours ?? 0, signin_points: v.signin_points ?? 0,
        streak_tiers: readTiers(v, "streak"), cumulative_tiers: readTiers(v, "cumul"),
        cumulative_period: v.cumulative_period, profile_points: v.profile_points ?? 0, profile_fields: fields,
        expiry_mode: v.expiry_mode, expiry_days: v.expiry_days ?? 365, expiry_date: v.expiry_date || null,
        zero_on_leave: v.zero_on_leave, reversal_negative: v.reversal_negative, hold_hours: v.hold_hours ?? 72,
        staff_limit: v.staff_limit ?? 500, channels_points: v.channels_points ?? 0,
        channels_daily_cap: v.channels_daily_cap ?? 100, channels_confirm: v.channels_confirm,
        expiry_remind_days: v.expiry_remind_days ?? 0, mp_points: v.mp_points ?? 0,
      };
      await ui.api("POST", `${API}/program`, body);
      ui.toast("积分规则已保存", "success");
    },
  });
}

// --- rewards -----------------------------------------------------------------------------

function rewardFields(r) {
  return [
    { name: "name", label: "奖品名称", required: true, value: r.name ?? "", maxLength: 32 },
    { name: "cost", label: "所需积分", type: "number", required: true, value: r.cost ?? "" },
    { name: "stock", label: "库存", type: "number", required: true, value: r.stock ?? 0 },
    { name: "description", label: "说明", value: r.description ?? "" },
    { name: "order", label: "排序", type: "number", value: r.order ?? 0 },
    { name: "active", label: "上架", type: "checkbox", value: r.active ?? true },
  ];
}

async function uploadImage(ui, r, done) {
  const input = ui.h("input", { type: "file", accept: "image/*" });
  input.addEventListener("change", async () => {
    if (!input.files.length) return;
    const form = new FormData();
    form.append("image", input.files[0]);
    const token = (document.cookie.match(/(?:^|; )scrmbot_csrf=([^;]*)/) || [])[1] || "";
    const resp = await fetch(`${API}/rewards/${r.id}/image`, { method: "POST", body: form, credentials: "same-origin",
      headers: { "X-CSRF-Token": decodeURIComponent(token) } });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) ui.toast(data.error || "上传失败", "error");
    else { ui.toast("图片已上传", "success"); done(); }
  });
  input.click();
}

async function showRewards(el, ui) {
  const { h } = ui;
  const box = h("div");
  const add = h("button", { class: "btn btn-primary", type: "button", id: "points-new-reward" }, "新增奖品");
  el.replaceChildren(h("div", { class: "card" }, h("div", { class: "ui-filters" }, h("h2", { style: { margin: 0 } }, "奖品"),
    h("span", { class: "spacer" }), add), box));
  const t = ui.table(box, {
    fetch: () => ui.api("GET", `${API}/rewards`),
    columns: [
      { title: "图片", render: (r) => r.image ? h("img", { src: r.image, alt: r.name, style: { width: "48px", height: "36px", objectFit: "cover" } }) : "—" },
      { title: "奖品名称", key: "name" },
      { title: "所需积分", key: "cost" },
      { title: "库存", key: "stock" },
      { title: "待发放", key: "pending" },
      { title: "状态", render: (r) => r.active ? "上架" : "下架" },
      { title: "操作", render: (r) => h("span", {},
        h("button", { class: "btn btn-small", type: "button", onclick: () => ui.formDialog({ title: "编辑奖品", fields: rewardFields(r),
          submit: async (v) => { await ui.api("POST", `${API}/rewards/${r.id}`, v); t.reload(); } }) }, "编辑"), " ",
        h("button", { class: "btn btn-small", type: "button", onclick: () => uploadImage(ui, r, () => t.reload()) }, "上传图片"), " ",
        h("button", { class: "btn btn-small btn-danger", type: "button", onclick: async () => {
          if (!(await ui.confirm("删除奖品", `确定删除「${r.name}」吗？已兑换的记录会保留。`))) return;
          await ui.api("POST", `${API}/rewards/${r.id}/delete`, {});
          t.reload();
        } }, "删除")) },
    ],
  });
  add.addEventListener("click", () => ui.formDialog({ title: "新增奖品", fields: rewardFields({}),
    submit: async (v) => { await ui.api("POST", `${API}/rewards`, v); ui.toast("奖品已添加", "success"); t.reload(); } }));
}

// --- customers ---------------------------------------------------------------------------

function adjustDialog(ui, { title, exts, chats, done }) {
  const rid = requestId(); // one id per dialog: a retried submit changes nobody twice
  const fields = [];
  if (chats) fields.push({ name: "chat_ids", label: "客户群", type: "picker", kind: "groups", value: [] });
  fields.push({ name: "points", label: "积分", type: "number", required: true, help: "正数为奖励，负数为扣除" });
  fields.push({ name: "reason", label: "原因", required: true, maxLength: 100 });
  ui.formDialog({ title, fields, submit: async (v) => {
    const res = await ui.api("POST", `${API}/adjust`, { external_userids: exts || [], chat_ids: v.chat_ids || [],
      points: v.points, reason: v.reason, request_id: rid });
    const refused = res.refused.length ? `，${res.refused.length} 位未调整（${res.refused[0].error}）` : "";
    ui.toast(`已调整 ${res.done} 位客户${refused}`, res.refused.length ? "error" : "success", 5000);
    done();
  } });
}

async function showCustomers(el, ui) {
  const { h } = ui;
  const box = h("div");
  const chosen = new Set();
  const batch = h("button", { class: "btn", type: "button", id: "points-batch" }, "批量奖励 / 扣除");
  const group = h("button", { class: "btn", type: "button", id: "points-group-award" }, "给客户群成员发积分");
  el.replaceChildren(h("div", { class: "card" }, h("div", { class: "ui-filters" }, h("h2", { style: { margin: 0 } }, "客户积分"),
    h("span", { class: "spacer" }), batch, group), box));
  const t = ui.table(box, {
    filters: [
      { key: "q", label: "客户", placeholder: "客户昵称" },
      { key: "min_balance", label: "余额不少于", type: "number" },
      { key: "min_streak", label: "连续签到不少于", type: "number" },
      { key: "blocked", label: "黑名单", type: "select", options: [{ value: "", label: "全部" }, { value: "1", label: "仅黑名单" }] },
    ],
    exportUrl: `${API}/customers/export`,
    fetch: (page, f) => ui.api("GET", `${API}/customers?${new URLSearchParams({ page, size: 20, ...f })}`),
    columns: [
      { title: "选择", render: (c) => h("input", { type: "checkbox", "data-ext": c.external_userid, checked: chosen.has(c.external_userid),
        onchange: (e) => e.target.checked ? chosen.add(c.external_userid) : chosen.delete(c.external_userid) }) },
      { title: "客户", render: (c) => c.name || c.external_userid },
      { title: "积分余额", key: "balance" },
      { title: "兑换中", key: "held" },
      { title: "连续签到", key: "streak" },
      { title: "累计签到", key: "signin_days" },
      { title: "最近签到", render: (c) => c.last_signin || "—" },
      { title: "操作", render: (c) => h("span", {},
        h("button", { class: "btn btn-small", type: "button", onclick: () => adjustDialog(ui, { title: `调整 ${c.name || "客户"} 的积分`,
          exts: [c.external_userid], done: () => t.reload() }) }, "调整"), " ",
        h("button", { class: "btn btn-small", type: "button", onclick: async () => {
          await navigator.clipboard.writeText(c.link).then(() => ui.toast("专属链接已复制"), () => ui.modal({ title: "专属链接", body: c.link }));
        } }, "专属链接"), " ",
        h("button", { class: "btn btn-small", type: "button", onclick: async () => {
          await ui.api("POST", `${API}/blacklist`, { external_userid: c.external_userid, blocked: !c.blocked, reason: "控制台" });
          t.reload();
        } }, c.blocked ? "移出黑名单" : "加入黑名单")) },
    ],
  });
  batch.addEventListener("click", () => {
    if (!chosen.size) { ui.toast("请先勾选客户", "error"); return; }
    adjustDialog(ui, { title: `批量调整 ${chosen.size} 位客户的积分`, exts: [...chosen], done: () => t.reload() });
  });
  group.addEventListener("click", () => adjustDialog(ui, { title: "给客户群的全部成员发积分", chats: true, done: () => t.reload() }));
}

// --- ledger ------------------------------------------------------------------------------

async function showLedger(el, ui) {
  const { h } = ui;
  const box = h("div");
  el.replaceChildren(h("div", { class: "card" }, h("h2", {}, "积分明细"), box));
  const t = ui.table(box, {
    filters: [
      { key: "external_userid", label: "客户 ID", placeholder: "external_userid" },
      { key: "kind", label: "类型", type: "select", options: [{ value: "", label: "全部" },
        ...Object.entries(KIND).map(([value, label]) => ({ value, label }))] },
      { key: "since", label: "开始日期", type: "date" },
      { key: "until", label: "结束日期", type: "date" },
    ],
    fetch: (page, f) => ui.api("GET", `${API}/ledger?${new URLSearchParams({ page, size: 20, ...f })}`),
    columns: [
      { title: "时间", render: (e) => ui.formatTime(e.at) },
      { title: "客户", render: (e) => e.name || e.external_userid },
      { title: "类型", key: "kind_text" },
      { title: "积分", render: (e) => (e.amount > 0 ? `+${e.amount}` : String(e.amount)) },
      { title: "原因", key: "reason" },
      { title: "操作人", render: (e) => e.created_by || "系统" },
      { title: "操作", render: (e) => e.reversible ? h("button", { class: "btn btn-small", type: "button", onclick: async () => {
        if (!(await ui.confirm("撤销积分", `确定撤销这条记录（${e.amount} 分）吗？`))) return;
        try {
          await ui.api("POST", `${API}/ledger/${e.id}/reverse`, {});
          ui.toast("已撤销", "success");
        } catch (err) { /* the kit shows the reason */ }
        t.reload();
      } }, "撤销") : "" },
    ],
  });
}

// --- redemptions -------------------------------------------------------------------------

async function showRedemptions(el, ui) {
  const { h } = ui;
  const box = h("div");
  el.replaceChildren(h("div", { class: "card" }, h("h2", {}, "兑换记录"), box));
  const t = ui.table(box, {
    filters: [{ key: "state", label: "状态", type: "select", options: [{ value: "", label: "全部" },
      ...Object.entries(STATE).map(([value, label]) => ({ value, label }))] }],
    fetch: (page, f) => ui.api("GET", `${API}/redemptions?${new URLSearchParams({ page, size: 20, ...f })}`),
    columns: [
      { title: "时间", render: (r) => ui.formatTime(r.created_at) },
      { title: "客户", render: (r) => r.name || r.external_userid },
      { title: "奖品", key: "reward" },
      { title: "积分", key: "cost" },
      { title: "负责员工", key: "owner" },
      { title: "状态", render: (r) => STATE[r.state] + (r.fulfilled_by ? `（${r.fulfilled_by}）` : "") },
      { title: "操作", render: (r) => r.state === "pending" ? h("button", { class: "btn btn-small", type: "button", onclick: async () => {
        await ui.api("POST", `${API}/redemptions/${r.id}/fulfil`, {});
        ui.toast("已标记为已发放", "success");
        t.reload();
      } }, "已发放") : "" },
    ],
  });
}

// --- import ------------------------------------------------------------------------------

function csrfHeader() {
  const token = (document.cookie.match(/(?:^|; )scrmbot_csrf=([^;]*)/) || [])[1] || "";
  return { "X-CSRF-Token": decodeURIComponent(token) };
}

async function showImport(el, ui) {
  const { h } = ui;
  const input = h("input", { type: "file", accept: ".csv,.xlsx", id: "points-import-file" });
  const error = h("div", { class: "error" });
  const result = h("div", { id: "points-import-preview" });
  const upload = h("button", { class: "btn btn-primary", type: "button", id: "points-import-upload" }, "上传并预览");
  el.replaceChildren(h("div", { class: "card" }, h("h2", {}, "导入积分"),
    h("p", { class: "muted" }, "CSV 或 Excel 文件，第一行为表头：客户、积分、原因。客户可填 external_userid，或唯一匹配的手机号 / 昵称 / 备注；积分为负数表示扣除。全部行无误才会导入，任何一行失败都不会导入。"),
    h("div", { class: "ui-filters" }, input, upload), error, result));
  upload.addEventListener("click", async () => {
    error.textContent = "";
    if (!input.files.length) { error.textContent = "请选择要导入的文件"; return; }
    const form = new FormData();
    form.append("file", input.files[0]);
    const resp = await fetch(`${API}/import`, { method: "POST", body: form, credentials: "same-origin", headers: csrfHeader() });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) { error.textContent = data.error || "上传失败"; return; }
    preview(data);
  });
  function preview(data) {
    const apply = h("button", { class: "btn btn-primary", type: "button", id: "points-import-apply",
      disabled: data.refused > 0 || data.state === "applied" }, data.state === "applied" ? "已导入" : "确认导入");
    apply.addEventListener("click", async () => {
      try {
        preview(await ui.api("POST", `${API}/import/${data.id}/apply`, {}));
        ui.toast("导入完成", "success");
      } catch (err) { /* the kit shows the reason */ }
    });
    result.replaceChildren(h("p", {}, `共 ${data.rows.length} 行：可导入 ${data.ok} 行，有误 ${data.refused} 行。`), apply,
      h("div", { class: "ui-table-wrap" }, h("table", { class: "ui-table" },
        h("thead", {}, h("tr", {}, ["行", "客户", "匹配", "积分", "原因", "结果"].map((t) => h("th", {}, t)))),
        h("tbody", {}, data.rows.map((r) => h("tr", { "data-row": r.row }, h("td", {}, String(r.row)), h("td", {}, r.who),
          h("td", {}, r.external_userid || "—"), h("td", {}, String(r.points)), h("td", {}, r.reason),
          h("td", {}, r.error ? `✗ ${r.error}` : "✓")))))));
  }
}

// --- per-group data ------------------------------------------------------------------------

async function showStats(el, ui) {
  const { h } = ui;
  const select = h("select", { id: "points-stats-days" }, [7, 14, 30, 90].map((d) =>
    h("option", { value: d, selected: d === 14 }, `最近 ${d} 天`)));
  const charts = h("div", { id: "points-stats" });
  el.replaceChildren(h("div", { class: "card" }, h("div", { class: "ui-filters" }, h("h2", { style: { margin: 0 } }, "社群数据"),
    h("span", { class: "spacer" }), select), charts));
  async function load() {
    const data = await ui.api("GET", `${API}/stats?days=${select.value}`);
    const total = (key) => data.days.map((_, i) => data.groups.reduce((s, g) => s + g[key][i], 0));
    const signins = h("div", { class: "ui-chart" });
    const moves = h("div", { class: "ui-chart" });
    const table = h("div", { class: "ui-table-wrap" }, h("table", { class: "ui-table" },
      h("thead", {}, h("tr", {}, ["客户群", "签到人次", "入群", "退群"].map((t) => h("th", {}, t)))),
      h("tbody", {}, data.groups.map((g) => h("tr", { "data-chat": g.chat_id }, h("td", {}, g.name),
        h("td", {}, String(g.signins.reduce((a, b) => a + b, 0))), h("td", {}, String(g.joins.reduce((a, b) => a + b, 0))),
        h("td", {}, String(g.quits.reduce((a, b) => a + b, 0))))))));
    charts.replaceChildren(h("h3", {}, "每日签到（按群）"), signins, h("h3", {}, "每日入群 / 退群"), moves, table);
    await ui.chart(signins, { tooltip: { trigger: "axis" }, legend: { type: "scroll" }, xAxis: { type: "category", data: data.days },
      yAxis: { type: "value", minInterval: 1 },
      series: data.groups.map((g) => ({ name: g.name, type: "bar", stack: "signins", data: g.signins })) });
    await ui.chart(moves, { tooltip: { trigger: "axis" }, legend: {}, xAxis: { type: "category", data: data.days },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: "入群", type: "line", data: total("joins") }, { name: "退群", type: "line", data: total("quits") }] });
  }
  select.addEventListener("change", load);
  await load();
}

// --- abuse signals -------------------------------------------------------------------------

async function showSignals(el, ui) {
  const { h } = ui;
  const data = await ui.api("GET", `${API}/signals`);
  const name = (ext) => data.names[ext] || ext;
  const block = (ext) => data.blocked.includes(ext) ? h("span", { class: "muted" }, "已拉黑") :
    h("button", { class: "btn btn-small btn-danger", type: "button", "data-block": ext, onclick: async (e) => {
      await ui.api("POST", `${API}/blacklist`, { external_userid: ext, blocked: true, reason: "风险提示" });
      e.target.replaceWith(h("span", { class: "muted" }, "已拉黑"));
    } }, "加入黑名单");
  const people = (exts) => h("span", {}, exts.map((ext) => h("span", { style: { marginRight: "8px" } }, name(ext), " ", block(ext))));
  const burst = data.burst;
  el.replaceChildren(h("div", { class: "card", id: "points-signals" }, h("h2", {}, "风险提示（最近 30 天）"),
    h("p", { class: "muted" }, "以下情况仅供人工复核；加入黑名单的客户不再获得积分。"),
    h("h3", {}, "多个客户使用同一设备或网络签到"),
    data.shared.length ? h("ul", {}, data.shared.map((s) => h("li", {}, `${s.kind}（${s.customers.length} 人）：`, people(s.customers)))) :
      h("p", { class: "muted" }, "暂无"),
    h("h3", {}, "反复进群退群并领取了新人积分"),
    data.churn.length ? h("ul", {}, data.churn.map((c) => h("li", {}, `退群 ${c.quits} 次：`, people([c.external_userid])))) :
      h("p", { class: "muted" }, "暂无"),
    h("h3", {}, "规则修改后积分发放激增"),
    burst ? h("p", {}, `${ui.formatTime(burst.changed_at)} 修改规则后 24 小时内发放 ${burst.after} 笔，此前日均 ${burst.daily_before} 笔` +
      (burst.flagged ? "，明显偏高，请检查规则是否设置有误。" : "，未见异常。")) : h("p", { class: "muted" }, "规则尚未修改过")));
}
