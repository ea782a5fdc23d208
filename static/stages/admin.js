// Console → 客户阶段: journeys in order with their stage diagram; the journey editor (stages,
// member staff, switches); per stage the automation rules (with a dry run) and reminders;
// batch set by filters; the funnel with charts and Excel.
import { api, chart, confirm, formatDate, formatTime, h, modal, picker, toast } from "/static/common/ui.js";

const CSS = `
.stages-diagram { display: flex; flex-wrap: wrap; gap: 4px; margin: 10px 0; }
.stages-step { position: relative; background: #e6f4ff; color: #1f2329; padding: 6px 18px 6px 14px;
  clip-path: polygon(0 0, calc(100% - 10px) 0, 100% 50%, calc(100% - 10px) 100%, 0 100%, 8px 50%);
  min-width: 90px; text-align: center; font-size: 13px; }
.stages-step:first-child { clip-path: polygon(0 0, calc(100% - 10px) 0, 100% 50%, calc(100% - 10px) 100%, 0 100%); }
.stages-step .n { display: block; font-weight: 600; color: #1677ff; }
.stages-step.pool { background: #f5f5f5; }
.stages-row { display: flex; gap: 6px; align-items: center; margin: 6px 0; flex-wrap: wrap; }
.stages-row input[type=text], .stages-row input:not([type]) { min-width: 120px; }
.stages-box { border: 1px solid #e5e6eb; border-radius: 6px; padding: 10px; margin: 8px 0; }
.stages-error { color: #d4380d; font-size: 12px; }
.stages-rule-cond { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; margin: 4px 0; }
.stages-actions { display: flex; gap: 6px; flex-wrap: wrap; }
`;
const CONDITIONS = { tags: "客户标签", state: "添加渠道", group: "在客户群", radar: "查看雷达", points: "积分不少于", days_added: "添加天数满" };
const KIND = { stay: "停留超过 N 天", silent: "未联系超过 N 天" };

let root;
let limits = { stages: 12, rules: 6, conditions: 3, reminders: 6 };
let silentReason = "";
let mayOrder = false;

export async function mount(el) {
  root = el;
  if (!document.getElementById("stages-styles")) document.head.append(h("style", { id: "stages-styles" }, CSS));
  await showList();
}

async function load() {
  const data = await api("GET", "/api/stages/journeys");
  limits = data.limits;
  silentReason = data.silent_disabled;
  mayOrder = data.may_order;
  return data.journeys;
}

function diagram(j) {
  return h("div", { class: "stages-diagram", "data-diagram": j.id },
    j.unset === undefined ? null : h("div", { class: "stages-step pool", title: "还没有进入任何阶段的跟进关系", "data-pool": j.id },
      "未设置阶段", h("span", { class: "n" }, `${j.unset} 人`)),
    j.stages.map((s) => h("div", { class: "stages-step", title: s.description || s.name },
      s.name, h("span", { class: "n" }, `${s.count ?? 0} 人`))));
}

async function showList() {
  const journeys = await load();
  const add = h("button", { class: "btn btn-primary", id: "stages-new", onclick: () => editJourney(null) }, "新建客户旅程");
  root.replaceChildren(
    h("div", { class: "card" }, h("h2", {}, "客户阶段"),
      h("p", { class: "muted" }, `每个旅程最多 ${limits.stages} 个阶段；每个阶段最多 ${limits.rules} 条规则（每条最多 ${limits.conditions} 个条件）、${limits.reminders} 条提醒。第一个旅程显示在客户画像最上面。`),
      add),
    ...(journeys.length ? journeys.map((j, i) => journeyCard(j, i, journeys)) :
      [h("div", { class: "card muted" }, "还没有客户旅程，点击「新建客户旅程」开始")]));
}

function journeyCard(j, index, all) {
  const order = async (delta) => {
    const ids = all.map((x) => x.id);
    const [moved] = ids.splice(index, 1);
    ids.splice(index + delta, 0, moved);
    await api("POST", "/api/stages/order", { ids });
    await showList();
  };
  const manage = j.manage;
  return h("div", { class: "card", "data-journey": j.id },
    h("h3", {}, j.name, h("span", { class: "muted", style: { fontWeight: 400, marginLeft: "8px" } },
      `${j.members.length ? `${j.members.length} 位使用成员` : "全部员工"} · 自动化${j.automation ? "开" : "关"} · 提醒${j.reminders ? "开" : "关"}`)),
    j.description ? h("p", { class: "muted" }, j.description) : null,
    diagram(j),
    h("div", { class: "stages-actions" },
      manage ? h("button", { class: "btn btn-small", onclick: () => editJourney(j) }, "编辑旅程") : null,
      manage ? h("button", { class: "btn btn-small", onclick: () => showRules(j.id) }, "规则与提醒") : null,
      manage ? h("button", { class: "btn btn-small", onclick: () => showBatch(j) }, "批量设置阶段") : null,
      h("button", { class: "btn btn-small", onclick: () => showFunnel(j) }, "阶段数据"),
      mayOrder && index > 0 ? h("button", { class: "btn btn-small", onclick: () => order(-1) }, "上移") : null,
      mayOrder && index < all.length - 1 ? h("button", { class: "btn btn-small", onclick: () => order(1) }, "下移") : null,
      manage ? h("button", { class: "btn btn-small btn-danger", onclick: async () => {
        if (!(await confirm("删除客户旅程", `确定删除「${j.name}」？阶段记录会保留。`))) return;
        await api("POST", `/api/stages/journeys/${j.id}/delete`, {});
        await showList();
      } }, "删除") : null));
}

// --- the journey editor ---------------------------------------------------------------------

function editJourney(j) {
  const stages = j ? j.stages.map((s) => ({ id: s.id, name: s.name, description: s.description })) :
    [{ name: "新客户", description: "" }, { name: "有意向", description: "" }, { name: "已成交", description: "" }];
  const name = h("input", { id: "stages-name", value: j ? j.name : "", maxlength: 64, placeholder: "如：销售旅程" });
  const desc = h("input", { id: "stages-description", value: j ? j.description : "", maxlength: 512 });
  const members = picker({ kind: "staff", multiple: true, value: j ? j.members : [], placeholder: "不选 = 全部员工" });
  const automation = h("input", { type: "checkbox", checked: j ? j.automation : true });
  const reminders = h("input", { type: "checkbox", checked: j ? j.reminders : true });
  const list = h("div", { id: "stages-stage-list" });
  const preview = h("div");
  const error = h("div", { class: "stages-error", id: "stages-form-error" });
  const drawStages = () => {
    list.replaceChildren(...stages.map((s, i) => h("div", { class: "stages-row", "data-stage-row": i },
      h("span", { class: "muted" }, `${i + 1}.`),
      h("input", { value: s.name, maxlength: 32, placeholder: "阶段名称", "aria-label": `第${i + 1}个阶段名称`,
        oninput: (e) => { s.name = e.target.value; drawPreview(); } }),
      h("input", { value: s.description || "", maxlength: 256, placeholder: "阶段描述", "aria-label": `第${i + 1}个阶段描述`,
        oninput: (e) => { s.description = e.target.value; } }),
      i > 0 ? h("button", { type: "button", class: "btn btn-small", onclick: () => { stages.splice(i - 1, 0, stages.splice(i, 1)[0]); drawStages(); } }, "上移") : null,
      h("button", { type: "button", class: "btn btn-small btn-danger", onclick: () => { stages.splice(i, 1); drawStages(); } }, "删除"))),
    h("button", { type: "button", class: "btn btn-small", id: "stages-add-stage", onclick: () => {
      if (stages.length >= limits.stages) { error.textContent = `一个客户旅程最多 ${limits.stages} 个阶段`; return; }
      stages.push({ name: "", description: "" });
      drawStages();
    } }, "添加阶段"));
    drawPreview();
  };
  const drawPreview = () => preview.replaceChildren(h("div", { class: "muted" }, "旅程示意图"),
    diagram({ id: "preview", stages: stages.map((s) => ({ name: s.name || "（未命名）", count: 0 })) }));
  drawStages();
  const body = h("div", { class: "ui-form" },
    field("旅程名称", name), field("旅程描述", desc), field("使用成员", members.el),
    h("label", {}, automation, " 开启阶段自动化"), " ", h("label", {}, reminders, " 开启阶段提醒"),
    h("div", { class: "field" }, h("label", { class: "title" }, "客户阶段"), list), preview, error);
  const dialog = modal({ title: j ? "编辑客户旅程" : "新建客户旅程", body, actions: [
    { label: "取消" },
    { label: "保存", primary: true, onClick: async () => {
      error.textContent = "";
      const payload = { name: name.value, description: desc.value, members: members.value(),
        automation: automation.checked, reminders: reminders.checked,
        stages: stages.map((s) => (s.id ? { id: s.id, name: s.name, description: s.description || "" } :
          { name: s.name, description: s.description || "" })) };
      try {
        await api("POST", j ? `/api/stages/journeys/${j.id}` : "/api/stages/journeys", payload, { quiet: true });
      } catch (err) {
        error.textContent = err.message;
        return false;
      }
      toast("已保存");
      await showList();
      return true;
    } },
  ] });
  dialog.el.style.width = "720px";
}

function field(label, input) {
  return h("div", { class: "field" }, h("label", { class: "title" }, label), input);
}

// --- rules and reminders --------------------------------------------------------------------

async function showRules(journeyId) {
  const journeys = await load();
  const j = journeys.find((x) => x.id === journeyId);
  if (!j) return showList();
  const back = h("button", { class: "btn", onclick: showList }, "返回");
  root.replaceChildren(h("div", { class: "card" }, h("h2", {}, `${j.name} · 规则与提醒`), back, diagram(j),
    h("p", { class: "muted" }, "满足规则的客户自动进入对应阶段；同时满足多个阶段时进入最靠后的阶段；只会向后自动跳转，回到之前的阶段需手动操作。在企业微信客户端打的标签不会触发跳转。")),
  ...j.stages.map((s) => h("div", { class: "card", "data-stage": s.id },
    h("h3", {}, s.name, h("span", { class: "muted", style: { fontWeight: 400 } }, ` · 当前 ${s.count} 人`)),
    rulesEditor(j, s), remindersEditor(j, s))));
}

async function radarOptions() {
  try {
    const data = await api("GET", "/api/radar/radars", undefined, { quiet: true });
    return data.radars.map((r) => ({ id: r.id, title: r.title }));
  } catch {
    return [];
  }
}

function conditionRow(c, radars, onRemove) {
  const type = h("select", { "aria-label": "条件类型", onchange: () => { c.type = type.value; draw(); } },
    Object.entries(CONDITIONS).map(([v, l]) => h("option", { value: v, selected: c.type === v }, l)));
  const params = h("span", { class: "stages-rule-cond" });
  const draw = () => {
    if (c.type === "tags") {
      const p = picker({ kind: "tags", multiple: true, value: c.tag_ids || [], onChange: (v) => { c.tag_ids = v; } });
      const match = h("select", { "aria-label": "标签匹配方式", onchange: () => { c.match = match.value; } },
        h("option", { value: "any", selected: c.match !== "all" }, "含任意一个"),
        h("option", { value: "all", selected: c.match === "all" }, "含全部"));
      params.replaceChildren(match, p.el);
    } else if (c.type === "state") {
      params.replaceChildren(h("input", { value: (c.states || []).join(","), placeholder: "渠道 state，多个用逗号分隔",
        oninput: (e) => { c.states = e.target.value.split(/[,，]/).map((x) => x.trim()).filter(Boolean); } }));
    } else if (c.type === "group") {
      const p = picker({ kind: "groups", multiple: true, value: c.chat_ids || [], placeholder: "不选 = 任意客户群",
        onChange: (v) => { c.chat_ids = v; } });
      params.replaceChildren(p.el);
    } else if (c.type === "radar") {
      const sel = h("select", { multiple: true, "aria-label": "雷达", onchange: () => {
        c.radar_ids = [...sel.selectedOptions].map((o) => Number(o.value));
      } }, radars.map((r) => h("option", { value: String(r.id), selected: (c.radar_ids || []).includes(r.id) }, r.title)));
      params.replaceChildren(radars.length ? sel : "", h("span", { class: "muted" }, radars.length ? "不选 = 任意雷达" : "任意雷达"));
    } else if (c.type === "points") {
      params.replaceChildren(h("input", { type: "number", min: 0, value: c.min ?? 100, "aria-label": "积分",
        oninput: (e) => { c.min = Number(e.target.value); } }), " 分");
      c.min = c.min ?? 100;
    } else {
      params.replaceChildren(h("input", { type: "number", min: 0, max: 3650, value: c.days ?? 1, "aria-label": "天数",
        oninput: (e) => { c.days = Number(e.target.value); } }), " 天");
      c.days = c.days ?? 1;
    }
  };
  draw();
  return h("div", { class: "stages-rule-cond" }, type, params,
    h("button", { type: "button", class: "btn btn-small", onclick: onRemove }, "移除条件"));
}

function rulesEditor(j, s) {
  const rules = s.rules.map((r) => ({ ...r, conditions: r.conditions.map((c) => ({ ...c })) }));
  const box = h("div", { class: "stages-box" });
  const error = h("div", { class: "stages-error" });
  let radars = [];
  const draw = () => {
    box.replaceChildren(h("strong", {}, `自动化规则（${rules.length}/${limits.rules}）`),
      ...rules.map((r, i) => h("div", { class: "stages-box", "data-rule": i },
        h("div", { class: "stages-row" },
          h("input", { value: r.name || "", placeholder: "规则名称", maxlength: 64, oninput: (e) => { r.name = e.target.value; } }),
          h("label", {}, h("input", { type: "checkbox", checked: r.enabled, onchange: (e) => { r.enabled = e.target.checked; } }), " 启用"),
          r.version ? h("span", { class: "muted" }, `版本 ${r.version}`) : null,
          h("button", { type: "button", class: "btn btn-small", onclick: () => dryRun(j, s, r) }, "试运行"),
          h("button", { type: "button", class: "btn btn-small btn-danger", onclick: () => { rules.splice(i, 1); draw(); } }, "删除规则")),
        h("div", { class: "muted" }, "同时满足以下条件："),
        ...r.conditions.map((c, k) => conditionRow(c, radars, () => { r.conditions.splice(k, 1); draw(); })),
        h("button", { type: "button", class: "btn btn-small", onclick: () => {
          if (r.conditions.length >= limits.conditions) { error.textContent = `一条规则最多 ${limits.conditions} 个条件`; return; }
          r.conditions.push({ type: "days_added", days: 1 });
          draw();
        } }, "添加条件"))),
      h("div", { class: "stages-actions" },
        h("button", { type: "button", class: "btn btn-small", onclick: () => {
          if (rules.length >= limits.rules) { error.textContent = `每个阶段最多 ${limits.rules} 条规则`; return; }
          rules.push({ name: "", enabled: false, conditions: [{ type: "tags", match: "any", tag_ids: [] }] });
          draw();
        } }, "添加规则"),
        h("button", { type: "button", class: "btn btn-small btn-primary", onclick: save }, "保存规则")),
      error);
  };
  const save = async () => {
    error.textContent = "";
    try {
      await api("POST", `/api/stages/stages/${s.id}/rules`, { rules: rules.map((r) => ({
        ...(r.id ? { id: r.id } : {}), name: r.name || "", enabled: !!r.enabled, conditions: r.conditions })) }, { quiet: true });
    } catch (err) {
      error.textContent = err.message;
      return;
    }
    toast("规则已保存");
    await showRules(j.id);
  };
  draw();
  radarOptions().then((found) => { radars = found; if (found.length) draw(); });
  return box;
}

async function dryRun(j, s, r) {
  let data;
  try {
    data = await api("POST", `/api/stages/journeys/${j.id}/dry-run`,
      { stage_id: s.id, ...(r.id ? { rule_id: r.id } : {}), conditions: r.conditions }, { quiet: true });
  } catch (err) {
    toast(err.message, "error");
    return;
  }
  modal({ title: "试运行结果", body: h("div", { id: "stages-dry-run" },
    h("p", {}, `按当前数据，这条规则会把 `, h("strong", { id: "stages-dry-count" }, String(data.count)), ` 段跟进关系移入「${data.stage}」`),
    data.items.length ? h("table", { class: "ui-table" }, h("thead", {}, h("tr", {}, ["客户", "跟进员工", "当前阶段"].map((t) => h("th", {}, t)))),
      h("tbody", {}, data.items.map((i) => h("tr", {}, h("td", {}, i.name), h("td", {}, i.userid), h("td", {}, i.from))))) : null,
    data.count > data.items.length ? h("p", { class: "muted" }, `仅列出前 ${data.items.length} 位`) : null) });
}

function remindersEditor(j, s) {
  const items = s.reminders.map((m) => ({ ...m }));
  const box = h("div", { class: "stages-box" });
  const error = h("div", { class: "stages-error" });
  const draw = () => {
    box.replaceChildren(h("strong", {}, `阶段提醒（${items.length}/${limits.reminders}）`),
      ...(j.reminders ? [] : [h("div", { class: "muted" }, "此旅程已关闭阶段提醒（在「编辑旅程」中开启）")]),
      ...items.map((m, i) => h("div", { class: "stages-row", "data-reminder": i },
        h("select", { "aria-label": "提醒类型", onchange: (e) => { m.kind = e.target.value; if (m.kind === "silent") m.enabled = false; draw(); } },
          Object.entries(KIND).map(([v, l]) => h("option", { value: v, selected: m.kind === v }, l))),
        h("input", { type: "number", min: 1, max: 365, value: m.days, "aria-label": "天数", oninput: (e) => { m.days = Number(e.target.value); } }), "天",
        h("label", {}, h("input", { type: "checkbox", checked: m.to_owner, onchange: (e) => { m.to_owner = e.target.checked; } }), " 提醒跟进员工"),
        h("label", {}, h("input", { type: "checkbox", checked: m.to_admins, onchange: (e) => { m.to_admins = e.target.checked; } }), " 提醒管理员"),
        h("label", {}, h("input", { type: "checkbox", checked: m.enabled, disabled: m.kind === "silent",
          onchange: (e) => { m.enabled = e.target.checked; } }), " 启用"),
        m.kind === "silent" ? h("span", { class: "muted" }, silentReason) : null,
        h("button", { type: "button", class: "btn btn-small btn-danger", onclick: () => { items.splice(i, 1); draw(); } }, "删除"))),
      h("div", { class: "stages-actions" },
        h("button", { type: "button", class: "btn btn-small", onclick: () => {
          if (items.length >= limits.reminders) { error.textContent = `每个阶段最多 ${limits.reminders} 条提醒`; return; }
          items.push({ kind: "stay", days: 7, to_owner: true, to_admins: false, enabled: true });
          draw();
        } }, "添加提醒"),
        h("button", { type: "button", class: "btn btn-small btn-primary", onclick: async () => {
          error.textContent = "";
          try {
            await api("POST", `/api/stages/stages/${s.id}/reminders`, { reminders: items.map((m) => ({
              ...(m.id ? { id: m.id } : {}), kind: m.kind, days: m.days, to_owner: !!m.to_owner,
              to_admins: !!m.to_admins, enabled: !!m.enabled })) }, { quiet: true });
          } catch (err) { error.textContent = err.message; return; }
          toast("提醒已保存");
        } }, "保存提醒")),
      error);
  };
  draw();
  return box;
}

// --- batch set -----------------------------------------------------------------------------

function showBatch(j) {
  const staff = picker({ kind: "staff", multiple: true });
  const tags = picker({ kind: "tags", multiple: true });
  const name = h("input", { placeholder: "客户昵称", maxlength: 64, id: "stages-filter-name" });
  const from = h("input", { type: "date", "aria-label": "添加时间起" });
  const to = h("input", { type: "date", "aria-label": "添加时间止" });
  const state = h("input", { placeholder: "添加渠道 state", maxlength: 64 });
  const stage = h("select", { "aria-label": "当前阶段" }, h("option", { value: "" }, "全部阶段"),
    h("option", { value: "unset" }, "未设置阶段"), j.stages.map((s) => h("option", { value: String(s.id) }, s.name)));
  const result = h("div", { id: "stages-batch-result" });
  const filters = (page = 1) => ({ userids: staff.value(), tag_ids: tags.value(), name: name.value,
    added_from: from.value || null, added_to: to.value || null, state: state.value, stage: stage.value, page });
  const search = async () => {
    let data;
    try { data = await api("POST", `/api/stages/journeys/${j.id}/relations`, filters(), { quiet: true }); } catch (err) {
      result.replaceChildren(h("p", { class: "stages-error" }, err.message));
      return;
    }
    result.replaceChildren(h("p", {}, `共 ${data.total} 段跟进关系（其中未设置阶段 ${data.unset}）`),
      h("table", { class: "ui-table" }, h("thead", {}, h("tr", {}, ["客户", "跟进员工", "当前阶段"].map((t) => h("th", {}, t)))),
        h("tbody", {}, data.items.map((i) => h("tr", {}, h("td", {}, i.name), h("td", {}, i.staff), h("td", {}, i.stage_name))))),
      h("div", {}, data.total > data.items.length ? h("p", { class: "muted" }, `仅列出前 ${data.items.length} 条`) : null,
        data.total ? setter(data.total) : null));
  };
  const setter = (total) => {
    const target = h("select", { "aria-label": "设置为阶段", id: "stages-batch-target" }, h("option", { value: "" }, "未设置阶段"),
      j.stages.map((s) => h("option", { value: String(s.id) }, s.name)));
    const reason = h("input", { placeholder: "变更原因（必填）", maxlength: 200, id: "stages-batch-reason" });
    const error = h("span", { class: "stages-error" });
    return h("div", { class: "stages-row" }, "将以上全部设置为", target, reason,
      h("button", { class: "btn btn-primary", id: "stages-batch-go", onclick: async () => {
        error.textContent = "";
        if (!reason.value.trim()) { error.textContent = "请填写变更原因"; reason.focus(); return; }
        if (!(await confirm("批量设置阶段", `确定设置 ${total} 段跟进关系的阶段？`))) return;
        try {
          const done = await api("POST", `/api/stages/journeys/${j.id}/batch`, { filters: filters(), reason: reason.value,
            stage_id: target.value ? Number(target.value) : null }, { quiet: true });
          toast(`已设置 ${done.moved} 段跟进关系`);
          await search();
        } catch (err) { error.textContent = err.message; }
      } }, "批量设置"), error);
  };
  root.replaceChildren(h("div", { class: "card" }, h("h2", {}, `${j.name} · 批量设置阶段`),
    h("button", { class: "btn", onclick: showList }, "返回"),
    h("div", { class: "ui-filters", style: { marginTop: "12px" } },
      h("label", { class: "ui-filter" }, "员工", staff.el), h("label", { class: "ui-filter" }, "客户标签", tags.el),
      h("label", { class: "ui-filter" }, "客户昵称", name), h("label", { class: "ui-filter" }, "添加时间", from, "至", to),
      h("label", { class: "ui-filter" }, "添加渠道", state), h("label", { class: "ui-filter" }, "当前阶段", stage),
      h("button", { class: "btn btn-primary", id: "stages-batch-search", onclick: search }, "查询")),
    result));
  search();
}

// --- the funnel ----------------------------------------------------------------------------

async function showStuck(j, s, days, userid) {
  const who = userid ? `&userid=${encodeURIComponent(userid)}` : "";
  const data = await api("GET", `/api/stages/journeys/${j.id}/stuck?stage_id=${s.stage_id}&stuck_days=${days}${who}`);
  modal({ title: `停滞在「${data.stage}」超过 ${days} 天`, body: h("div", { id: "stages-stuck-list" },
    h("p", {}, `共 ${data.total} 段跟进关系`),
    h("table", { class: "ui-table" }, h("thead", {}, h("tr", {}, ["客户", "跟进员工", "进入时间", "已停留"].map((t) => h("th", {}, t)))),
      h("tbody", {}, data.items.map((i) => h("tr", {}, h("td", {}, i.name), h("td", {}, i.staff),
        h("td", {}, formatTime(i.entered_at)), h("td", {}, `${i.days} 天`))))),
    data.total > data.items.length ? h("p", { class: "muted" }, `仅列出停留最久的 ${data.items.length} 条`) : null) });
}

function showFunnel(j) {
  const since = h("input", { type: "date", "aria-label": "开始日期", id: "stages-since" });
  const until = h("input", { type: "date", "aria-label": "结束日期", id: "stages-until" });
  const staff = picker({ kind: "staff", multiple: false, placeholder: "全部员工" });
  const out = h("div", { id: "stages-funnel" });
  const params = () => {
    const p = new URLSearchParams();
    if (since.value) p.set("since", since.value);
    if (until.value) p.set("until", until.value);
    if (staff.value()) p.set("userid", staff.value());
    return p.toString();
  };
  const draw = async () => {
    let data;
    try { data = await api("GET", `/api/stages/journeys/${j.id}/funnel?${params()}`, undefined, { quiet: true }); } catch (err) {
      out.replaceChildren(h("p", { class: "stages-error" }, err.message));
      return;
    }
    const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`);
    const num = (v) => (v === null || v === undefined ? "—" : String(v));
    const chartEl = h("div", { class: "ui-chart" });
    out.replaceChildren(
      h("p", { class: "muted" }, `统计区间：${formatDate(data.since)} 至 ${formatTime(data.until)}（不含）；停滞 = 在当前阶段超过 ${data.stuck_days} 天`),
      chartEl,
      h("table", { class: "ui-table", id: "stages-funnel-table" }, h("thead", {}, h("tr", {},
        ["阶段", "历史客户总数", "当前客户数", "转入次数", "转入客户数", "转出次数", "转出客户数", "转化率", "停留中位数(天)", "停留P90(天)", "停滞"].map((t) => h("th", {}, t)))),
      h("tbody", {}, data.stages.map((s) => h("tr", { "data-stage": s.stage_id },
        [s.name, s.total, s.current, s.in_times, s.in_relations, s.out_times, s.out_relations, pct(s.conversion),
          num(s.dwell_median_days), num(s.dwell_p90_days)].map((v) => h("td", {}, String(v))),
        h("td", {}, s.stuck ? h("button", { class: "btn btn-small stages-stuck", onclick: () => showStuck(j, s, data.stuck_days, staff.value()) },
          String(s.stuck)) : "0"))))),
      h("h3", {}, "按员工"),
      h("table", { class: "ui-table" }, h("thead", {}, h("tr", {}, h("th", {}, "员工"),
        data.stages.map((s) => h("th", {}, `${s.name}（当前/转入/转化）`)))),
      h("tbody", {}, data.staff.map((p) => h("tr", {}, h("td", {}, p.name),
        p.stages.map((s) => h("td", {}, `${s.current} / ${s.in_relations} / ${pct(s.conversion)}`)))))));
    chart(chartEl, {
      tooltip: { trigger: "item" },
      legend: { data: ["当前客户数", "转入客户数"] },
      xAxis: { type: "category", data: data.stages.map((s) => s.name) },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: "当前客户数", type: "bar", data: data.stages.map((s) => s.current) },
        { name: "转入客户数", type: "bar", data: data.stages.map((s) => s.in_relations) },
      ],
    }).catch(() => {});
  };
  root.replaceChildren(h("div", { class: "card" }, h("h2", {}, `${j.name} · 阶段数据`),
    h("button", { class: "btn", onclick: showList }, "返回"),
    h("div", { class: "ui-filters", style: { marginTop: "12px" } },
      h("label", { class: "ui-filter" }, "开始", since), h("label", { class: "ui-filter" }, "结束", until),
      h("label", { class: "ui-filter" }, "员工", staff.el),
      h("button", { class: "btn btn-primary", onclick: draw }, "查询"),
      h("button", { class: "btn", onclick: () => { location.href = `/api/stages/journeys/${j.id}/funnel.xlsx?${params()}`; } }, "导出 Excel")),
    out));
  draw();
}
