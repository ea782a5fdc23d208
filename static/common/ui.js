// The shared UI kit every feature page uses: api, table, chart, form, toast, modal, picker,
// and times in the corp's zone (formatTime).
// A feature module exports `mount(el, ui)` and receives this module (plus `user`, `area`
// and, inside WeCom, `wecom`) as `ui`.

import { picker } from "/static/common/picker.js";

export { picker };

const CSRF_COOKIE = "scrmbot_csrf";
let csrfToken = "";

export class ApiFailure extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field || null;
  }
}

// --- small DOM helpers ------------------------------------------------------------------

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// --- times in the corp's zone (from /api/me), never the browser's ---------------------------

let zone = "Asia/Shanghai";
const formatters = new Map();

export function setTimeZone(tz) {
  if (tz) zone = tz;
}

function parts(date) {
  if (!formatters.has(zone)) {
    formatters.set(zone, new Intl.DateTimeFormat("en-CA", { timeZone: zone, hourCycle: "h23",
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }));
  }
  return Object.fromEntries(formatters.get(zone).formatToParts(date).map((p) => [p.type, p.value]));
}

// "2024-06-01 09:05" in the corp's zone; {seconds: true} adds ":07", {date: false} drops the day.
export function formatTime(value, { seconds = false, date = true } = {}) {
  if (!value) return "";
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  const p = parts(d);
  const clock = `${p.hour}:${p.minute}${seconds ? `:${p.second}` : ""}`;
  return date ? `${p.year}-${p.month}-${p.day} ${clock}` : clock;
}

export function formatDate(value) {
  return value ? formatTime(value).slice(0, 10) : "";
}

function offsetMinutes(date) {
  const p = parts(date);
  const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return Math.round((asUtc - Math.floor(date.getTime() / 1000) * 1000) / 60000);
}

// For <input type="datetime-local">: an ISO time as the corp's wall clock, and back to ISO.
export function toZoneInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const p = parts(d);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

export function fromZoneInput(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  let offset = offsetMinutes(new Date(wall));
  offset = offsetMinutes(new Date(wall - offset * 60000));  // the offset at that instant
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  const pad = (n) => String(n).padStart(2, "0");
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:00${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function readCookie(name) {
  const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
}

export function setCsrf(token) {
  csrfToken = token || "";
}

// --- api --------------------------------------------------------------------------------

export async function api(method, url, body, { quiet = false } = {}) {
  const headers = { Accept: "application/json" };
  const token = readCookie(CSRF_COOKIE) || csrfToken;
  if (token) headers["X-CSRF-Token"] = token;
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (err) {
    if (!quiet) toast("网络连接失败，请稍后再试", "error");
    throw new ApiFailure(0, "网络连接失败，请稍后再试");
  }
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 401 && data.login) {
    location.href = data.login;
    throw new ApiFailure(401, data.error || "请先登录");
  }
  if (!resp.ok) {
    const message = data.error || `请求失败（${resp.status}）`;
    if (!quiet && !data.field) toast(message, "error");
    throw new ApiFailure(resp.status, message, data.field);
  }
  return data;
}

// --- toast and modal ----------------------------------------------------------------------

export function toast(message, kind = "info", ms = 3000) {
  let box = document.getElementById("ui-toasts");
  if (!box) {
    box = h("div", { id: "ui-toasts", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  const item = h("div", { class: `ui-toast ${kind}` }, message);
  box.append(item);
  setTimeout(() => item.remove(), ms);
}

export function modal({ title, body, actions = [{ label: "关闭" }] }) {
  const close = () => mask.remove();
  const buttons = actions.map((a) =>
    h("button", {
      class: a.primary ? "btn btn-primary" : a.danger ? "btn btn-danger" : "btn",
      onclick: async () => {
        if (a.onClick && (await a.onClick()) === false) return;
        close();
      },
    }, a.label),
  );
  const content = typeof body === "string" ? h("p", {}, body) : body;
  const dialog = h("div", { class: "ui-modal", role: "dialog", "aria-modal": "true" },
    title ? h("h2", {}, title) : null, content, h("div", { class: "actions" }, buttons));
  const mask = h("div", { class: "ui-modal-mask", onclick: (e) => e.target === mask && close() }, dialog);
  document.body.append(mask);
  return { close, el: dialog };
}

export function confirm(title, text) {
  return new Promise((resolve) => {
    modal({ title, body: text, actions: [
      { label: "取消", onClick: () => resolve(false) },
      { label: "确定", primary: true, onClick: () => resolve(true) },
    ] });
  });
}

// --- table --------------------------------------------------------------------------------

// A filter control: {el, read(), reset()}; a picker filter chooses one item by name.
function filterControl(f, onChange) {
  if (f.type === "picker") {
    const p = picker({ kind: f.kind, multiple: false, placeholder: f.placeholder, onChange });
    return { el: p.el, read: () => p.value(), reset: () => p.clear() };
  }
  const input = filterInput(f);
  const initial = input.value;
  input.addEventListener("change", onChange);
  return { el: input, read: () => input.value, reset: () => { input.value = initial; } };
}

function filterInput(f) {
  if (f.type === "select") {
    return h("select", { name: f.key },
      (f.options || []).map((o) => h("option", { value: o.value, selected: o.value === f.value }, o.label)));
  }
  return h("input", { name: f.key, type: f.type || "text", placeholder: f.placeholder || "", value: f.value || "" });
}

// columns: [{key, title, render(row) -> Node|string}]; fetch(page, filters) -> {items, total};
// exportUrl: string or (filters) => string, downloaded with the current filters.
export function table(el, { columns, fetch: load, filters = [], exportUrl, pageSize = 20 }) {
  let page = 1;
  let resetting = false;
  const inputs = filters.map((f) => [f, filterControl(f, () => resetting || go(1))]);
  const values = () => Object.fromEntries(inputs.map(([f, c]) => [f.key, c.read()]).filter(([, v]) => v !== ""));
  const reset = () => {
    resetting = true;
    for (const [, c] of inputs) c.reset();
    resetting = false;
    go(1);
  };
  const tbody = h("tbody");
  const info = h("span", { class: "muted" });
  const prev = h("button", { class: "btn btn-small", onclick: () => go(page - 1) }, "上一页");
  const next = h("button", { class: "btn btn-small", onclick: () => go(page + 1) }, "下一页");
  const bar = h("div", { class: "ui-filters" },
    inputs.map(([f, c]) => h("label", { class: `ui-filter ${f.type || "text"}` }, f.label, c.el)),
    filters.length ? h("button", { class: "btn btn-primary", onclick: () => go(1) }, "查询") : null,
    filters.length ? h("button", { class: "btn", onclick: reset }, "重置") : null,
    h("span", { class: "spacer" }),
    exportUrl ? h("button", { class: "btn", onclick: download }, "导出 Excel") : null);
  el.replaceChildren(bar,
    h("div", { class: "ui-table-wrap" }, h("table", { class: "ui-table" },
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c.title)))), tbody)),
    h("div", { class: "ui-pager" }, info, prev, next));

  function download() {
    const base = typeof exportUrl === "function" ? exportUrl(values()) : exportUrl;
    const url = new URL(base, location.href);
    for (const [k, v] of Object.entries(values())) url.searchParams.set(k, v);
    location.href = url.pathname + url.search;
  }

  async function go(target) {
    const wanted = Math.max(1, target);
    tbody.replaceChildren(h("tr", {}, h("td", { class: "empty", colspan: columns.length }, "加载中…")));
    let data;
    try {
      data = await load(wanted, values());
    } catch (err) {
      tbody.replaceChildren(h("tr", {}, h("td", { class: "empty", colspan: columns.length }, err.message || "加载失败")));
      return;
    }
    page = wanted;
    const items = data.items || [];
    const total = data.total ?? items.length;
    const size = data.size || pageSize;
    const pages = Math.max(1, Math.ceil(total / size));
    tbody.replaceChildren(...(items.length ? items.map((row) => h("tr", {}, columns.map((c) =>
      h("td", {}, c.render ? c.render(row) : row[c.key] ?? "")))) :
      [h("tr", {}, h("td", { class: "empty", colspan: columns.length }, "暂无数据"))]));
    info.textContent = `共 ${total} 条，第 ${page} / ${pages} 页`;
    prev.disabled = page <= 1;
    next.disabled = page >= pages;
  }

  go(1);
  return { reload: () => go(page), values };
}

// --- chart (ECharts, vendored) -------------------------------------------------------------

let echartsLoading = null;

function loadEcharts() {
  if (window.echarts) return Promise.resolve(window.echarts);
  echartsLoading ||= new Promise((resolve, reject) => {
    const script = h("script", { src: "/static/vendor/echarts.min.js" });
    script.onload = () => resolve(window.echarts);
    script.onerror = () => reject(new Error("图表组件加载失败"));
    document.head.append(script);
  });
  return echartsLoading;
}

export async function chart(el, option) {
  const echarts = await loadEcharts();
  if (!el.classList.contains("ui-chart") && !el.style.height) el.classList.add("ui-chart");
  const instance = echarts.getInstanceByDom(el) || echarts.init(el);
  instance.setOption(option, true);
  new ResizeObserver(() => instance.resize()).observe(el);
  return instance;
}

// --- form -----------------------------------------------------------------------------------

function fieldInput(f) {
  const common = { name: f.name, id: `f-${f.name}`, required: f.required };
  if (f.type === "picker") {
    const p = picker({ kind: f.kind, multiple: f.multiple !== false, value: f.value ?? [], placeholder: f.placeholder });
    p.input.id = common.id;
    p.el.picker = p;
    return p.el;
  }
  if (f.type === "select") {
    return h("select", common, (f.options || []).map((o) =>
      h("option", { value: o.value, selected: String(o.value) === String(f.value ?? "") }, o.label)));
  }
  if (f.type === "textarea") return h("textarea", { ...common, rows: f.rows || 4 }, f.value ?? "");
  if (f.type === "checkbox") return h("input", { ...common, type: "checkbox", checked: !!f.value });
  return h("input", { ...common, type: f.type || "text", value: f.value ?? "", placeholder: f.placeholder || "",
    maxlength: f.maxLength });
}

function readField(f, input) {
  if (f.type === "picker") return input.picker.value();
  if (f.type === "checkbox") return input.checked;
  if (f.type === "number") return input.value === "" ? null : Number(input.value);
  if (f.parse) return f.parse(input.value);
  return input.value;
}

// fields: [{name, label, type, options, required, value, help, parse}]; submit(values) -> Promise.
// A server error with a `field` is shown under that field; others above the button.
export function form(el, { fields, submit, submitLabel = "保存", onCancel }) {
  const rows = fields.map((f) => {
    const input = fieldInput(f);
    const error = h("div", { class: "error" });
    const row = h("div", { class: "field", "data-field": f.name }, h("label", { class: "title", for: `f-${f.name}` }, f.label), input,
      f.help ? h("div", { class: "help" }, f.help) : null, error);
    return { f, input, error, row };
  });
  const formError = h("div", { class: "form-error" });
  const button = h("button", { class: "btn btn-primary", type: "submit" }, submitLabel);
  const cancel = onCancel ? h("button", { class: "btn", type: "button", onclick: onCancel }, "取消") : null;
  const node = h("form", { class: "ui-form", novalidate: true }, rows.map((r) => r.row), formError,
    h("div", { class: "actions" }, cancel, button));
  const clear = () => {
    formError.textContent = "";
    for (const r of rows) { r.error.textContent = ""; r.row.classList.remove("invalid"); }
  };
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear();
    const values = Object.fromEntries(rows.map((r) => [r.f.name, readField(r.f, r.input)]));
    button.disabled = true;
    try {
      await submit(values);
    } catch (err) {
      const target = rows.find((r) => err.field && (err.field === r.f.name || err.field.startsWith(r.f.name + ".")));
      if (target) {
        target.error.textContent = err.message;
        target.row.classList.add("invalid");
        (target.input.picker ? target.input.picker.input : target.input).focus();
      } else {
        formError.textContent = err.message || "保存失败";
      }
    } finally {
      button.disabled = false;
    }
  });
  el.replaceChildren(node);
  return { el: node, clear, values: () => Object.fromEntries(rows.map((r) => [r.f.name, readField(r.f, r.input)])) };
}

// A form in a dialog: errors stay in the dialog next to their field; it closes on success.
export function formDialog({ title, fields, submit, submitLabel = "保存" }) {
  const box = h("div");
  const dialog = modal({ title, body: box, actions: [] });
  form(box, { fields, submitLabel, onCancel: () => dialog.close(), submit: async (values) => {
    await submit(values);
    dialog.close();
  } });
  const first = box.querySelector("input, select, textarea");
  if (first) first.focus();
  return dialog;
}

// --- loading a feature module -----------------------------------------------------------------

export async function mountFeature(el, entry, ui) {
  el.replaceChildren(h("p", { class: "muted" }, "加载中…"));
  try {
    const mod = await import(entry.path);
    el.replaceChildren();
    await mod.mount(el, ui);
  } catch (err) {
    console.error(err);
    el.replaceChildren(h("div", { class: "card" }, h("h2", {}, entry.title),
      h("p", { class: "muted" }, `页面加载失败：${err.message || err}`)));
  }
}
