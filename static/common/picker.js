// Pick people, departments, tags or customer groups by name — never by typing an id.
// picker({kind, multiple, value, placeholder, onChange}) → {el, input, value(), set(ids), clear()}.
// Options come from /api/facts/pick/<kind> (scoped to the person); chosen ids are shown as
// named chips (resolved with ?ids= when a form opens for editing). Departments are drawn as a
// tree, tags under their tag group.
import { api, h } from "/static/common/ui.js";

const KINDS = {
  staff: { noun: "成员", placeholder: "搜索成员姓名" },
  departments: { noun: "部门", placeholder: "搜索部门名称" },
  tags: { noun: "标签", placeholder: "搜索标签或标签组" },
  groups: { noun: "客户群", placeholder: "搜索群名称" },
};

const fetchItems = (kind, params) =>
  api("GET", `/api/facts/pick/${kind}?${new URLSearchParams(params)}`, undefined, { quiet: true })
    .then((d) => d.items || []);

export function picker({ kind, multiple = true, value = [], placeholder, onChange } = {}) {
  const meta = KINDS[kind];
  if (!meta) throw new Error(`unknown picker kind: ${kind}`);
  const chosen = new Map();  // id (as given by the server) → item
  const chips = h("div", { class: "ui-picker-chips" });
  const input = h("input", { type: "search", class: "ui-picker-search", autocomplete: "off",
    placeholder: placeholder || meta.placeholder, "aria-label": placeholder || meta.placeholder });
  const list = h("div", { class: "ui-picker-options hidden", role: "listbox" });
  const el = h("div", { class: `ui-picker ${multiple ? "multiple" : "single"}`, "data-kind": kind },
    chips, input, list);
  let seq = 0;
  let timer = null;

  const changed = () => { drawChips(); if (onChange) onChange(read()); };
  const read = () => (multiple ? [...chosen.keys()] : (chosen.keys().next().value ?? ""));

  function drawChips() {
    chips.replaceChildren(...[...chosen.values()].map((item) => h("span", {
      class: `ui-chip${item.left ? " left" : ""}`, "data-id": item.id, title: item.sub || "" },
    item.group ? `${item.group}：${item.name}` : item.name, item.left ? "（已离职）" : "",
    h("button", { type: "button", class: "ui-chip-x", "aria-label": `移除${item.name}`,
      onclick: () => { chosen.delete(item.id); changed(); } }, "×"))));
    chips.classList.toggle("hidden", !chosen.size);
  }

  function option(item) {
    const on = chosen.has(item.id);
    return h("button", { type: "button", class: `ui-picker-option${on ? " on" : ""}${item.match === false ? " context" : ""}`,
      role: "option", "aria-selected": String(on), "data-id": item.id,
      style: item.depth ? { paddingLeft: `${8 + item.depth * 16}px` } : null,
      onmousedown: (e) => e.preventDefault(),  // keep the search box focused
      onclick: () => toggle(item) },
    multiple ? h("span", { class: "tick" }, on ? "☑" : "☐") : null, item.name,
    item.sub ? h("span", { class: "muted sub" }, item.sub) : null);
  }

  function toggle(item) {
    if (chosen.has(item.id)) chosen.delete(item.id);
    else {
      if (!multiple) chosen.clear();
      chosen.set(item.id, item);
    }
    changed();
    if (multiple) search(); else close();
  }

  async function search() {
    const mine = ++seq;
    list.classList.remove("hidden");
    if (!list.children.length) list.replaceChildren(h("div", { class: "muted empty" }, "加载中…"));
    let items;
    try {
      items = await fetchItems(kind, input.value.trim() ? { q: input.value.trim() } : {});
    } catch (err) {
      items = null;
    }
    if (mine !== seq) return;  // a newer search answered first
    if (items === null) { list.replaceChildren(h("div", { class: "muted empty" }, "加载失败，请重试")); return; }
    const rows = [];
    let group = null;
    for (const item of items) {
      if (item.group && item.group !== group) rows.push(h("div", { class: "ui-picker-group muted" }, (group = item.group)));
      rows.push(option(item));
    }
    list.replaceChildren(...(rows.length ? rows : [h("div", { class: "muted empty" }, `没有找到匹配的${meta.noun}`)]));
  }

  function close() {
    clearTimeout(timer);  // a search typed just before closing must not reopen the list
    list.classList.add("hidden");
    seq++;
  }

  // opened by a click or typing, not by focus alone (a window regaining focus must not pop it)
  input.addEventListener("click", search);
  // a press outside the picker closes its list (it may cover a dialog's buttons)
  document.addEventListener("mousedown", (e) => { if (!el.contains(e.target)) close(); });
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(search, 200); });
  input.addEventListener("blur", () => setTimeout(close, 150));
  input.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.preventDefault();  // a search box clears itself on Escape (and would search again)
      close();
    }
    if (e.key === "ArrowDown") search();
    if (e.key === "Enter") e.preventDefault();
  });

  async function set(ids) {
    chosen.clear();
    const wanted = (Array.isArray(ids) ? ids : [ids]).filter((v) => v !== "" && v !== null && v !== undefined);
    if (!wanted.length) { drawChips(); return; }
    for (const id of wanted) chosen.set(id, { id, name: String(id) });  // until the names arrive
    drawChips();
    const items = await fetchItems(kind, { ids: wanted.join(",") }).catch(() => []);
    for (const item of items) {
      const key = wanted.find((w) => String(w) === String(item.id));
      if (key !== undefined && chosen.has(key)) chosen.set(key, { ...item, id: key });
    }
    drawChips();
  }

  const ready = set(value);
  return { el, input, ready, value: read, set: (ids) => set(ids).then(changed),
    clear: () => { chosen.clear(); input.value = ""; changed(); } };
}
