// Console → 裂变活动: the activity list, the editor (rules, prize tiers, poster with draggable
// boxes, staff, welcome, scripts), publish, copy as a draft, and each activity's data.
const BASE = "/api/fission/activities";
const PHASES = { draft: "草稿", upcoming: "未开始", running: "进行中", ended: "已结束" };
const OUTCOMES = {
  counted: "助力成功", old_customer: "老客户", already_helped: "已助力过", outside_window: "不在活动时间",
  self: "自己助力", revoked: "已撤销", helper_limit: "超出助力次数",
};
const BOX_LABELS = { qr: "二维码", avatar: "头像", nickname: "昵称" };

function injectStyles() {
  if (document.getElementById("fission-styles")) return;
  const style = document.createElement("style");
  style.id = "fission-styles";
  style.textContent = `
.fx-grid2{display:grid;grid-template-columns:1fr 1fr;gap:0 24px}
.fx-phase{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;background:#eee}
.fx-phase.running{background:#e8f5e9;color:#1b5e20}.fx-phase.upcoming{background:#e3f2fd;color:#0d47a1}
.fx-phase.draft{background:#fff8e1;color:#8a6d00}.fx-phase.ended{background:#f5f5f5;color:#777}
.fx-tier{display:flex;gap:8px;align-items:center;margin:4px 0}.fx-tier input{width:auto}
.fx-poster{display:flex;gap:24px;align-items:flex-start}
.fx-canvas{position:relative;width:300px;border:1px solid #ddd;user-select:none;touch-action:none}
.fx-canvas img{display:block;width:100%}
.fx-box{position:absolute;border:2px dashed #ff3d3d;background:rgba(255,61,61,.15);color:#c00;font-size:12px;cursor:move;box-sizing:border-box;display:flex;align-items:center;justify-content:center}
.fx-field-error{color:#c62828;font-size:13px}
.fx-invalid input,.fx-invalid textarea{border-color:#c62828}
`;
  document.head.append(style);
}

function csrf() {
  return decodeURIComponent((document.cookie.match(/scrmbot_csrf=([^;]+)/) || [])[1] || "");
}

export async function mount(el, ui) {
  injectStyles();
  const nav = {
    list: () => showList(el, ui, nav),
    edit: (id) => showEditor(el, ui, id, nav),
    data: (id) => showData(el, ui, id, nav),
  };
  nav.list();
}

function phaseBadge(h, phase) {
  return h("span", { class: `fx-phase ${phase}` }, PHASES[phase] || phase);
}

// --- list --------------------------------------------------------------------------------

function showList(el, ui, nav) {
  const { h } = ui;
  const box = h("div");
  el.replaceChildren(h("div", { class: "card" },
    h("div", { class: "ui-filters" }, h("h2", { style: { margin: 0 } }, "裂变活动"), h("span", { class: "spacer" }),
      h("button", { class: "btn btn-primary", type: "button", id: "fx-new", onclick: () => nav.edit(null) }, "新建活动")),
    box));
  const t = ui.table(box, {
    filters: [{ key: "q", label: "名称", placeholder: "活动名称" }],
    fetch: (page, f) => ui.api("GET", `${BASE}?${new URLSearchParams({ page, size: 20, ...f })}`),
    columns: [
      { title: "活动名称", render: (a) => h("a", { href: "#", onclick: (e) => { e.preventDefault(); nav.data(a.id); } }, a.name) },
      { title: "状态", render: (a) => phaseBadge(h, a.phase) },
      { title: "活动时间", render: (a) => `${ui.formatTime(a.start_at)} 至 ${ui.formatTime(a.end_at)}` },
      { title: "参与客户", render: (a) => String(a.participants) },
      { title: "有效助力", render: (a) => String(a.helps) },
      { title: "获奖客户", render: (a) => String(a.winners) },
      { title: "操作", render: (a) => h("span", {},
        a.phase === "ended" ? null : h("button", { class: "btn btn-small", type: "button", onclick: () => nav.edit(a.id) }, "编辑"),
        " ", a.phase === "draft" ? h("button", { class: "btn btn-small btn-primary", type: "button", onclick: () => publish(ui, a, () => t.reload()) }, "发布") : null,
        " ", h("button", { class: "btn btn-small", type: "button", onclick: () => nav.data(a.id) }, "数据"),
        " ", h("button", { class: "btn btn-small", type: "button", onclick: () => copy(ui, a, () => t.reload()) }, "复制")) },
    ],
  });
}

async function publish(ui, a, done) {
  if (!(await ui.confirm("发布活动", `发布后「${a.name}」将在开始时间生效，客户即可参加。确定发布吗？`))) return;
  try {
    await ui.api("POST", `${BASE}/${a.id}/publish`, {});
    ui.toast("已发布");
    done();
  } catch (err) { /* the kit shows the message */ }
}

async function copy(ui, a, done) {
  try {
    const made = await ui.api("POST", `${BASE}/${a.id}/copy`, {});
    ui.toast(`已复制为草稿「${made.name}」`);
    done();
  } catch (err) { /* the kit shows the message */ }
}

// --- editor ------------------------------------------------------------------------------

// The poster QR's kind: 渠道活码 (a contact way per participant) or one 获客链接 with a channel
// per participant. 获客链接 is offered only when the app may call it; its quota is shown.
function qrKindField(ui, current) {
  const { h } = ui;
  const select = h("select", { id: "fx-qr-kind" },
    h("option", { value: "way" }, "渠道活码（每位参与者一个联系我二维码）"),
    h("option", { value: "link" }, "获客链接（不占联系我额度，按新增客户消耗获客额度）"));
  select.value = current;
  const note = h("div", { class: "help", id: "fx-qr-kind-note" }, "正在查询获客链接额度…");
  const ready = ui.api("GET", "/api/fission/acquisition").then((s) => {
    const link = select.querySelector('option[value="link"]');
    if (s.available) {
      note.textContent = `获客链接剩余额度：${s.balance} / ${s.total}（每通过链接新增一位客户消耗 1 个）`;
    } else {
      note.textContent = s.message;
      note.classList.add("fx-field-error");
      link.disabled = current !== "link";
    }
  }).catch(() => { note.textContent = "暂时无法查询获客链接额度"; });
  return { el: h("div", {}, select, note), value: () => select.value, ready };
}

const DEFAULTS = {
  name: "", rules: "", tiers: [{ helpers: 3, prize: "", stock: 100, redeem_text: "" }], new_only: true,
  revoke_hours: 24, helper_limit: 0, staff: [], welcome_text: "", way_keep_days: 7, qr_kind: "way", staff_script: "",
  customer_script: "", participating: [], departments: [], remind_times: ["18:00"], phase: "draft",
  layout: { qr: { x: 487, y: 1071, w: 225 }, avatar: { x: 37, y: 1071, w: 97 }, nickname: { x: 152, y: 1071, w: 30 } },
  background: { width: 750, height: 1334, custom: false },
};

async function showEditor(el, ui, id, nav) {
  const { h } = ui;
  el.replaceChildren(h("p", { class: "muted" }, "加载中…"));
  let a = DEFAULTS;
  if (id) {
    try { a = await ui.api("GET", `${BASE}/${id}`); } catch (err) { nav.list(); return; }
  }
  const running = a.phase === "running";
  const inputs = {
    name: h("input", { value: a.name, maxlength: 64, placeholder: "客户可见的活动名称" }),
    start_at: h("input", { type: "datetime-local", value: a.start_at ? ui.toZoneInput(a.start_at) : "" }),
    end_at: h("input", { type: "datetime-local", value: a.end_at ? ui.toZoneInput(a.end_at) : "" }),
    rules: h("textarea", { rows: 4, placeholder: "展示在活动页的规则说明" }, a.rules),
    new_only: h("input", { type: "checkbox", checked: a.new_only }),
    revoke_hours: h("input", { type: "number", min: 0, max: 720, value: a.revoke_hours }),
    helper_limit: h("input", { type: "number", min: 0, max: 1000, value: a.helper_limit }),
    way_keep_days: h("input", { type: "number", min: 0, max: 90, value: a.way_keep_days }),
    welcome_text: h("textarea", { rows: 3, placeholder: "好友扫码添加后收到的欢迎语（系统会附上助力结果和好友自己的活动链接）" }, a.welcome_text),
    staff_script: h("textarea", { rows: 2, placeholder: "活动开始时发给员工的推广话术" }, a.staff_script),
    customer_script: h("textarea", { rows: 2, placeholder: "员工转发给客户的邀请话术" }, a.customer_script),
    remind_times: h("input", { value: (a.remind_times || ["18:00"]).join(", "), maxlength: 40, placeholder: "18:00" }),
  };
  const qrKind = qrKindField(ui, a.qr_kind || "way");
  const staff = ui.picker({ kind: "staff", value: a.staff });
  const participating = ui.picker({ kind: "staff", value: a.participating });
  const departments = ui.picker({ kind: "departments", value: a.departments });
  const tags = ui.picker({ kind: "tags", value: a.recommend_tags || [] });
  const tiers = tierEditor(ui, a.tiers, running);
  const posterEditor = posterBoxes(ui, a, id);
  const errors = {};
  const field = (name, label, control, help) => {
    errors[name] = h("div", { class: "fx-field-error" });
    return h("div", { class: "field", "data-field": name }, h("label", { class: "title" }, label), control,
      help ? h("div", { class: "help" }, help) : null, errors[name]);
  };
  if (running) for (const name of ["start_at", "new_only", "revoke_hours", "helper_limit"]) inputs[name].disabled = true;
  const values = () => ({
    name: inputs.name.value.trim(), start_at: ui.fromZoneInput(inputs.start_at.value), end_at: ui.fromZoneInput(inputs.end_at.value),
    rules: inputs.rules.value, tiers: tiers.value(), new_only: inputs.new_only.checked,
    revoke_hours: Number(inputs.revoke_hours.value || 0), helper_limit: Number(inputs.helper_limit.value || 0),
    staff: staff.value(), welcome_text: inputs.welcome_text.value, way_keep_days: Number(inputs.way_keep_days.value || 0),
    qr_kind: qrKind.value(),
    layout: posterEditor.value(), staff_script: inputs.staff_script.value, customer_script: inputs.customer_script.value,
    participating: participating.value(), departments: departments.value().map(Number),
    recommend_tags: tags.value(),
    remind_times: inputs.remind_times.value.split(/[,，、\s]+/).filter(Boolean),
  });
  const formError = h("div", { class: "form-error" });
  const save = h("button", { class: "btn btn-primary", type: "submit", id: "fx-save" }, id ? "保存修改" : "保存为草稿");
  const form = h("form", { class: "ui-form", novalidate: true },
    running ? h("p", { class: "muted" }, "活动进行中：开始时间、助力规则和各档助力人数不能修改；结束时间只能延后，库存和文案可以调整。") : null,
    h("div", { class: "fx-grid2" },
      field("name", "活动名称", inputs.name), field("staff", "添加的员工", staff.el, "好友扫描海报二维码添加这些员工"),
      field("start_at", "开始时间", inputs.start_at), field("end_at", "结束时间", inputs.end_at)),
    field("rules", "活动规则", inputs.rules),
    field("tiers", "奖品阶梯", tiers.el, "邀请人数逐档递增；库存发完后达成的客户会看到“奖品已发完”"),
    h("h3", {}, "助力规则"),
    h("div", { class: "fx-grid2" },
      field("new_only", "仅限新客户助力", h("label", {}, inputs.new_only, " 之前已是企业客户的好友助力无效")),
      field("revoke_hours", "删除好友作废时限（小时）", inputs.revoke_hours, "好友助力后在此时间内删除员工，助力作废（已发奖品不收回）；0 为不作废"),
      field("helper_limit", "每人跨活动助力次数上限", inputs.helper_limit, "0 为不限"),
      field("way_keep_days", "活动结束后二维码保留天数", inputs.way_keep_days)),
    h("h3", {}, "海报"),
    field("qr_kind", "海报二维码", qrKind.el),
    field("layout", "海报布局", posterEditor.el, "拖动方框放置二维码、头像和昵称"),
    h("h3", {}, "欢迎语与话术"),
    field("welcome_text", "欢迎语", inputs.welcome_text),
    h("div", { class: "fx-grid2" }, field("staff_script", "员工话术", inputs.staff_script), field("customer_script", "客户话术", inputs.customer_script)),
    h("div", { class: "fx-grid2" }, field("participating", "参与员工", participating.el), field("departments", "参与部门", departments.el)),
    field("recommend_tags", "推荐客户标签", tags.el, "活动开始时，提醒员工邀请带这些标签的客户"),
    field("remind_times", "提醒时间", inputs.remind_times, "每天在这些时间（HH:MM，1～3 个，用逗号分隔）给员工发拉新红榜，统计自上次提醒以来的新客户"),
    formError, h("div", { class: "ui-filters" }, save, h("button", { class: "btn", type: "button", onclick: nav.list }, "取消")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError.textContent = "";
    for (const node of Object.values(errors)) { node.textContent = ""; node.parentElement.classList.remove("fx-invalid"); }
    const body = values();
    if (!body.start_at) { show("start_at", "请填写开始时间"); return; }
    if (!body.end_at) { show("end_at", "请填写结束时间"); return; }
    save.disabled = true;
    try {
      const saved = await ui.api("POST", id ? `${BASE}/${id}` : BASE, body);
      ui.toast(id ? "已保存" : "已保存为草稿，可上传海报背景后发布");
      if (!id) nav.edit(saved.id); else nav.list();
    } catch (err) {
      const key = err.field && Object.keys(errors).find((k) => err.field === k || err.field.startsWith(k + "."));
      if (key) show(key, err.message);
      else formError.textContent = err.message || "保存失败";
    } finally {
      save.disabled = false;
    }
  });
  function show(key, message) {
    errors[key].textContent = message;
    errors[key].parentElement.classList.add("fx-invalid");
    errors[key].parentElement.scrollIntoView({ block: "center" });
  }
  await Promise.all([staff.ready, participating.ready, departments.ready, tags.ready, qrKind.ready]);
  el.replaceChildren(h("div", { class: "card" }, h("h2", {}, id ? `编辑活动：${a.name}` : "新建活动"), form));
}

function tierEditor(ui, tiers, running) {
  const { h } = ui;
  const rows = h("div");
  const add = (t = { helpers: "", prize: "", stock: 100, redeem_text: "" }) => {
    const helpers = h("input", { type: "number", min: 1, max: 1000, value: t.helpers, style: { width: "80px" }, disabled: running, "aria-label": "助力人数" });
    const prize = h("input", { value: t.prize, maxlength: 64, placeholder: "奖品名称", style: { width: "160px" } });
    const stock = h("input", { type: "number", min: 0, value: t.stock, style: { width: "90px" }, "aria-label": "库存" });
    const redeem = h("input", { value: t.redeem_text, maxlength: 500, placeholder: "兑奖说明，如：到店出示页面领取", style: { flex: 1 } });
    const row = h("div", { class: "fx-tier" }, h("span", {}, "邀请"), helpers, h("span", {}, "人 →"), prize,
      h("span", {}, "库存"), stock, redeem,
      running ? null : h("button", { class: "btn btn-small btn-danger", type: "button", onclick: () => row.remove() }, "移除"));
    row.value = () => ({ helpers: Number(helpers.value), prize: prize.value.trim(), stock: Number(stock.value), redeem_text: redeem.value });
    rows.append(row);
  };
  for (const t of tiers || []) add(t);
  const el = h("div", {}, rows, running ? null : h("button", { class: "btn btn-small", type: "button", onclick: () => add() }, "+ 添加一档"));
  return { el, value: () => [...rows.children].map((r) => r.value()) };
}

// The poster: the background shown 300 px wide with the three boxes on it; dragging a box
// moves it, its size is a number in the background's pixels.
function posterBoxes(ui, a, id) {
  const { h } = ui;
  const bg = a.background || DEFAULTS.background;
  const layout = JSON.parse(JSON.stringify(a.layout || DEFAULTS.layout));
  const scale = () => canvas.clientWidth / bg.width;
  const img = h("img", { alt: "海报背景", src: id ? `${BASE}/${id}/background?v=${Date.now()}` : "", draggable: false });
  const canvas = h("div", { class: "fx-canvas", style: { aspectRatio: `${bg.width} / ${bg.height}`, background: "#ff6a3d" } }, img);
  const sizes = {};
  const boxes = {};
  const place = (name) => {
    const s = scale() || 300 / bg.width;
    const b = layout[name];
    const node = boxes[name];
    node.style.left = `${b.x * s}px`;
    node.style.top = `${b.y * s}px`;
    node.style.width = `${(name === "nickname" ? b.w * 8 : b.w) * s}px`;
    node.style.height = `${b.w * s}px`;
  };
  for (const name of Object.keys(BOX_LABELS)) {
    const node = h("div", { class: `fx-box ${name}`, "data-box": name }, BOX_LABELS[name]);
    boxes[name] = node;
    canvas.append(node);
    node.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      node.setPointerCapture(event.pointerId);
      const start = { x: event.clientX, y: event.clientY, bx: layout[name].x, by: layout[name].y };
      const move = (e) => {
        const s = scale();
        layout[name].x = Math.max(0, Math.min(bg.width - 8, Math.round(start.bx + (e.clientX - start.x) / s)));
        layout[name].y = Math.max(0, Math.min(bg.height - 8, Math.round(start.by + (e.clientY - start.y) / s)));
        place(name);
      };
      const up = () => { node.removeEventListener("pointermove", move); node.removeEventListener("pointerup", up); };
      node.addEventListener("pointermove", move);
      node.addEventListener("pointerup", up);
    });
    sizes[name] = h("input", { type: "number", min: 8, max: 4000, value: layout[name].w, style: { width: "80px" },
      "aria-label": `${BOX_LABELS[name]}大小`,
      oninput: (e) => { layout[name].w = Number(e.target.value) || 8; place(name); } });
  }
  const upload = h("input", { type: "file", accept: "image/png,image/jpeg", disabled: !id });
  const status = h("div", { class: "help" }, id ? "PNG 或 JPG，建议 750×1334" : "保存为草稿后可上传背景图");
  upload.addEventListener("change", async () => {
    const file = upload.files[0];
    if (!file) return;
    const resp = await fetch(`${BASE}/${id}/background`, {
      method: "POST", body: file, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), "Content-Type": file.type || "application/octet-stream" },
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) { status.textContent = data.error || "上传失败"; return; }
    bg.width = data.width;
    bg.height = data.height;
    canvas.style.aspectRatio = `${bg.width} / ${bg.height}`;
    img.src = `${BASE}/${id}/background?v=${Date.now()}`;
    status.textContent = `已上传（${data.width}×${data.height}）`;
  });
  const relayout = () => { for (const name of Object.keys(boxes)) place(name); };
  img.addEventListener("load", relayout);
  new ResizeObserver(relayout).observe(canvas);
  const controls = h("div", {}, h("div", { class: "field" }, h("label", { class: "title" }, "背景图"), upload, status),
    ...Object.keys(BOX_LABELS).map((name) => h("div", { class: "fx-tier" }, h("span", { style: { width: "64px" } }, `${BOX_LABELS[name]}大小`), sizes[name],
      h("span", { class: "muted" }, name === "nickname" ? "字号（像素）" : "边长（像素）"))));
  const el = h("div", { class: "fx-poster" }, canvas, controls);
  return { el, value: () => JSON.parse(JSON.stringify(layout)) };
}

// --- data --------------------------------------------------------------------------------

async function showData(el, ui, id, nav) {
  const { h } = ui;
  let a;
  try { a = await ui.api("GET", `${BASE}/${id}`); } catch (err) { nav.list(); return; }
  const people = h("div");
  const attempts = h("div");
  const funnelBox = h("div", { id: "fx-funnel" });
  const riskBox = h("div", { id: "fx-risks" });
  const treeBox = h("div", { id: "fx-tree" });
  el.replaceChildren(h("div", { class: "card" },
    h("div", { class: "ui-filters" }, h("h2", { style: { margin: 0 } }, a.name), phaseBadge(h, a.phase), h("span", { class: "spacer" }),
      h("a", { class: "btn", href: a.page_url, target: "_blank", rel: "noopener" }, "打开活动页"),
      h("button", { class: "btn", type: "button", onclick: nav.list }, "返回")),
    h("p", {}, `参与客户 ${a.participants} · 有效助力 ${a.helps} · 获奖客户 ${a.winners}`),
    h("p", { class: "muted" }, a.tiers.map((t) => `邀请 ${t.helpers} 人：${t.prize}（剩 ${t.stock_left}/${t.stock}）`).join("；")),
    h("h3", {}, "数据漏斗"), funnelBox, h("h3", {}, "风险审核"), riskBox,
    h("h3", {}, "邀请关系"), treeBox,
    h("div", { class: "ui-filters" }, h("h3", {}, "参与客户"), h("span", { class: "spacer" }),
      h("a", { class: "btn", href: `${BASE}/${id}/export` }, "导出参与客户")), people,
    h("div", { class: "ui-filters" }, h("h3", {}, "助力记录"), h("span", { class: "spacer" }),
      h("a", { class: "btn", href: `${BASE}/${id}/export?what=attempts` }, "导出助力记录")), attempts));
  loadFunnel(ui, id, funnelBox);
  loadRisks(ui, id, riskBox);
  loadTree(ui, id, treeBox);
  ui.table(people, {
    fetch: (page) => ui.api("GET", `${BASE}/${id}/participants?page=${page}&size=20`),
    columns: [
      { title: "客户", render: (p) => p.name || p.external_userid },
      { title: "负责员工", render: (p) => p.userid },
      { title: "参加时间", render: (p) => ui.formatTime(p.joined_at) },
      { title: "有效助力", render: (p) => String(p.helps) },
      { title: "奖品", render: (p) => p.tiers.filter((t) => t.state).map((t) => `${t.prize}（${t.state === "given" ? "已发放" : t.state === "won" ? "待发放" : "已发完"}）`).join("、") || "—" },
    ],
  });
  ui.table(attempts, {
    filters: [{ key: "outcome", label: "结果", type: "select", options: [{ value: "", label: "全部" },
      ...Object.entries(OUTCOMES).map(([value, label]) => ({ value, label }))] }],
    fetch: (page, f) => ui.api("GET", `${BASE}/${id}/attempts?${new URLSearchParams({ page, size: 20, ...f })}`),
    columns: [
      { title: "助力好友", render: (r) => r.helper },
      { title: "为谁助力", render: (r) => r.participant },
      { title: "添加员工", render: (r) => r.userid },
      { title: "时间", render: (r) => ui.formatTime(r.at) },
      { title: "结果", render: (r) => r.label },
    ],
  });
}

async function loadFunnel(ui, id, box) {
  const { h } = ui;
  const data = await ui.api("GET", `${BASE}/${id}/funnel`);
  const f = data.funnel;
  const steps = [["参与员工", f.staff], ["参与客户", f.participants], ["完成任务", f.completed], ["带来新客户", f.new_customers], ["已兑奖", f.redeemed]];
  const table = (rows, first, by) => h("div", {},
    h("table", { class: "ui-table" }, h("thead", {}, h("tr", {}, h("th", {}, first), h("th", {}, "参与客户"), h("th", {}, "完成任务"), h("th", {}, "带来新客户"), h("th", {}, "已兑奖"))),
      h("tbody", {}, rows.map((r) => h("tr", {}, h("td", {}, r.name || r.day), h("td", {}, String(r.participants)), h("td", {}, String(r.completed)), h("td", {}, String(r.new_customers)), h("td", {}, String(r.redeemed)))))),
    h("a", { class: "btn btn-small", href: `${BASE}/${id}/funnel?format=xlsx&by=${by}` }, "导出 Excel"));
  box.replaceChildren(
    h("div", { class: "fx-steps" }, steps.map(([label, n]) => h("span", { class: "fx-step", style: { display: "inline-block", marginRight: "24px" } }, h("b", { style: { fontSize: "20px" } }, String(n)), ` ${label}`))),
    h("h4", {}, "按员工"), table(data.staff, "员工", "staff"), h("h4", {}, "按日期"), table(data.days, "日期", "days"));
}

async function loadRisks(ui, id, box) {
  const { h } = ui;
  const data = await ui.api("GET", `${BASE}/${id}/risks`);
  if (!data.items.length) { box.replaceChildren(h("p", { class: "muted" }, "暂无风险信号")); return; }
  const review = async (item, decision) => {
    try {
      await ui.api("POST", `${BASE}/${id}/risks/review`, { participant_id: item.participant_id, decision });
      ui.toast(decision === "ok" ? "已确认，可正常发奖" : "已暂缓发奖");
      loadRisks(ui, id, box);
    } catch (err) { /* the kit shows the message */ }
  };
  box.replaceChildren(...data.items.map((item) => h("div", { class: "fx-risk", style: { padding: "6px 0", borderBottom: "1px solid #eee" } },
    h("b", {}, item.name), item.pending_prize ? h("span", { class: "fx-phase draft" }, "待发奖") : null,
    item.review ? h("span", { class: "muted" }, item.review === "ok" ? " 已确认正常" : " 已暂缓发奖") : null,
    h("ul", {}, item.signals.map((s) => h("li", {}, s))),
    h("button", { class: "btn btn-small", type: "button", onclick: () => review(item, "ok") }, "确认正常"), " ",
    h("button", { class: "btn btn-small btn-danger", type: "button", onclick: () => review(item, "hold") }, "暂缓发奖"))));
}

async function loadTree(ui, id, box) {
  const { h } = ui;
  const data = await ui.api("GET", `${BASE}/${id}/tree`);
  const node = (n) => h("li", {}, `${n.name}（有效助力 ${n.helps}）`,
    n.children.length ? h("ul", {}, n.children.map(node)) : null);
  box.replaceChildren(data.roots.length ? h("ul", {}, data.roots.map(node)) : h("p", { class: "muted" }, "暂无参与客户"));
}
