// The activity form: every setting, pickers by name for members / departments / groups, the five
// reminders and teams. A server refusal (400/409 with a field) is shown next to that field.
import { BASE } from "/static/leaderboard/common.js";

const RUNNING_EDITABLE = new Set(["end_at", "top_n", "description", "remind_start_end", "remind_daily",
  "daily_time", "remind_about_to_rank", "about_to_rank_distance", "remind_on_off_list", "damping_minutes"]);

export async function activityForm(el, ui, activity, nav) {
  const { h } = ui;
  const a = activity || {
    name: "", description: "", metric: "new_customers", dedup: false, chat_ids: [], top_n: 10,
    userids: [], department_ids: [], teams: [], remind_start_end: true, remind_daily: true, daily_time: "18:00",
    remind_about_to_rank: true, about_to_rank_distance: 3, remind_on_off_list: true, damping_minutes: 60,
  };
  el.replaceChildren(h("p", { class: "muted" }, "加载中…"));
  const inputs = {
    name: h("input", { value: a.name, maxlength: 64, placeholder: "仅管理员可见" }),
    description: h("textarea", { rows: 4, placeholder: "成员能看到的活动规则" }, a.description),
    start_at: h("input", { type: "datetime-local", value: ui.toZoneInput(a.start_at) }),
    end_at: h("input", { type: "datetime-local", value: ui.toZoneInput(a.end_at) }),
    metric: h("select", {}, [["new_customers", "邀请客户成为企微客户"], ["group_joins", "邀请客户加入群聊"]]
      .map(([v, l]) => h("option", { value: v, selected: v === a.metric }, l))),
    dedup: h("input", { type: "checkbox", checked: a.dedup }),
    top_n: h("input", { type: "number", min: 1, max: 1000, value: a.top_n }),
    remind_start_end: h("input", { type: "checkbox", checked: a.remind_start_end }),
    remind_daily: h("input", { type: "checkbox", checked: a.remind_daily }),
    daily_time: h("input", { type: "time", value: a.daily_time }),
    remind_about_to_rank: h("input", { type: "checkbox", checked: a.remind_about_to_rank }),
    about_to_rank_distance: h("input", { type: "number", min: 1, max: 100, value: a.about_to_rank_distance }),
    remind_on_off_list: h("input", { type: "checkbox", checked: a.remind_on_off_list }),
    damping_minutes: h("input", { type: "number", min: 1, max: 1440, value: a.damping_minutes }),
  };
  const chats = ui.picker({ kind: "groups", value: a.chat_ids });
  const people = ui.picker({ kind: "staff", value: a.userids });
  const depts = ui.picker({ kind: "departments", value: a.department_ids });
  const teams = teamEditor(ui, a.teams);
  const errors = {};
  const field = (name, label, control, help) => {
    errors[name] = h("div", { class: "lb-field-error" });
    return h("div", { class: "field", "data-field": name }, h("label", { class: "title" }, label), control,
      help ? h("div", { class: "help" }, help) : null, errors[name]);
  };
  const check = (name, label) => h("label", {}, inputs[name], " ", label);
  const dedupRow = field("dedup", "去重", check("dedup", "之前已被其他成员添加过的客户不计入"));
  const chatRow = field("chat_ids", "活动群聊", chats.el, "统计客户加入这些群聊的次数，计入邀请人");
  const syncMetric = () => {
    dedupRow.hidden = inputs.metric.value !== "new_customers";
    chatRow.hidden = inputs.metric.value !== "group_joins";
  };
  inputs.metric.addEventListener("change", syncMetric);
  syncMetric();
  const values = () => ({
    name: inputs.name.value.trim(), description: inputs.description.value,
    start_at: ui.fromZoneInput(inputs.start_at.value), end_at: ui.fromZoneInput(inputs.end_at.value),
    metric: inputs.metric.value, dedup: inputs.dedup.checked, chat_ids: chats.value(),
    top_n: Number(inputs.top_n.value), userids: people.value(), department_ids: depts.value().map(Number),
    teams: teams.value(), remind_start_end: inputs.remind_start_end.checked,
    remind_daily: inputs.remind_daily.checked, daily_time: inputs.daily_time.value,
    remind_about_to_rank: inputs.remind_about_to_rank.checked,
    about_to_rank_distance: Number(inputs.about_to_rank_distance.value),
    remind_on_off_list: inputs.remind_on_off_list.checked, damping_minutes: Number(inputs.damping_minutes.value),
  });
  const formError = h("div", { class: "form-error" });
  const save = h("button", { class: "btn btn-primary", type: "submit" }, activity ? "保存修改" : "创建活动");
  const form = h("form", { class: "ui-form", novalidate: true },
    activity && activity.state === "running"
      ? h("p", { class: "muted" }, "活动进行中：只能修改结束时间、上榜名次、活动说明和提醒设置。") : null,
    h("div", { class: "lb-grid2" },
      field("name", "活动名称", inputs.name), field("top_n", "上榜名次", inputs.top_n, "排名在前 N 名即为上榜"),
      field("start_at", "开始时间", inputs.start_at), field("end_at", "结束时间", inputs.end_at)),
    field("description", "活动说明", inputs.description),
    field("metric", "排行指标", inputs.metric), dedupRow, chatRow,
    h("div", { class: "lb-grid2" }, field("userids", "参与成员", people.el), field("department_ids", "参与部门", depts.el, "部门成员在活动中自动同步")),
    field("teams", "团队 PK（可选）", teams.el),
    h("h3", {}, "提醒设置"), reminders(h, inputs, field),
    formError, h("div", { class: "ui-filters" }, save,
      h("button", { class: "btn", type: "button", onclick: nav.list }, "取消")));
  await Promise.all([chats.ready, people.ready, depts.ready]);
  const initial = JSON.stringify(values());
  const before = JSON.parse(initial);
  if (activity && activity.state === "running") {
    for (const [name, input] of Object.entries(inputs)) if (!RUNNING_EDITABLE.has(name)) input.disabled = true;
    for (const node of form.querySelectorAll(".ui-picker input, .ui-picker button, [data-field=teams] input, [data-field=teams] select, [data-field=teams] button")) node.disabled = true;
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError.textContent = "";
    for (const [name, node] of Object.entries(errors)) { node.textContent = ""; node.parentElement.classList.remove("lb-invalid"); }
    const now = values();
    // An edit sends only what changed, so a running activity is not refused for untouched fields.
    const body = activity ? Object.fromEntries(Object.entries(now).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(before[k]))) : now;
    if (!activity && !body.start_at) delete body.start_at;
    if (!activity && !body.end_at) delete body.end_at;
    save.disabled = true;
    try {
      await ui.api("POST", activity ? `${BASE}/${activity.id}` : BASE, body);
      ui.toast(activity ? "已保存" : "活动已创建");
      nav.list();
    } catch (err) {
      const key = err.field && Object.keys(errors).find((k) => err.field === k || err.field.startsWith(k + "."));
      if (key) {
        errors[key].textContent = err.message;
        errors[key].parentElement.classList.add("lb-invalid");
        errors[key].parentElement.scrollIntoView({ block: "center" });
      } else {
        formError.textContent = err.message || "保存失败";
      }
    } finally {
      save.disabled = false;
    }
  });
  el.replaceChildren(h("div", { class: "card" }, h("h2", {}, activity ? `编辑活动：${activity.name}` : "新建活动"), form));
}

function reminders(h, inputs, field) {
  const box = (name, label, ...extra) => field(name, label,
    h("div", { class: "lb-remind" }, h("div", { class: "row" }, h("label", {}, inputs[name], " 开启"), ...extra)));
  const errorsFor = (name, label) => field(name, label, inputs[name]);
  return h("div", {},
    box("remind_start_end", "活动开始 / 结束提醒"),
    box("remind_daily", "每日播报", h("span", {}, "播报时间"), errorsFor("daily_time", "")),
    box("remind_about_to_rank", "即将上榜提醒", h("span", {}, "距上榜名次"), errorsFor("about_to_rank_distance", ""), h("span", {}, "名以内")),
    box("remind_on_off_list", "上榜 / 落榜提醒", h("span", {}, "同类提醒间隔"), errorsFor("damping_minutes", ""), h("span", {}, "分钟")));
}

function teamEditor(ui, teams) {
  const { h } = ui;
  const rows = h("div");
  const add = (t = { name: "", department_id: null, userids: [] }) => {
    const name = h("input", { value: t.name, placeholder: "团队名称", style: { width: "140px" } });
    const mode = h("select", {}, h("option", { value: "dept", selected: t.department_id !== null }, "按部门"),
      h("option", { value: "hand", selected: t.department_id === null }, "手动选择成员"));
    const dept = ui.picker({ kind: "departments", multiple: false,
      value: t.department_id === null ? [] : [t.department_id] });
    const members = ui.picker({ kind: "staff", value: t.userids });
    const sync = () => { dept.el.hidden = mode.value !== "dept"; members.el.hidden = mode.value === "dept"; };
    mode.addEventListener("change", sync);
    sync();
    const row = h("div", { class: "lb-team" }, name, mode, dept.el, members.el,
      h("button", { class: "btn btn-small btn-danger", type: "button", onclick: () => row.remove() }, "移除"));
    row.value = () => ({
      name: name.value.trim(),
      department_id: mode.value === "dept" && dept.value() !== "" ? Number(dept.value()) : null,
      userids: mode.value === "dept" ? [] : members.value(),
    });
    rows.append(row);
  };
  for (const t of teams || []) add(t);
  const el = h("div", {}, rows, h("button", { class: "btn btn-small", type: "button", onclick: () => add() }, "+ 添加团队"));
  return { el, value: () => [...rows.children].map((r) => r.value()) };
}
