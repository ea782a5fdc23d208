// 客户管理: the customer list (one row per follow relation) with filters, paging and export.
const ALL = { value: "", label: "全部" };

export async function mount(el, ui) {
  const { h } = ui;
  const box = h("div", { id: "facts-customers" });
  el.replaceChildren(h("h2", {}, "客户管理"), box);
  const choices = await ui.api("GET", "/api/facts/customer-filters");
  const query = (page, filters) => new URLSearchParams({ ...filters, page: String(page) });
  ui.table(box, {
    columns: [
      { title: "客户", key: "name" },
      { title: "客户类型", key: "type" },
      { title: "跟进员工", key: "staff" },
      { title: "添加时间", render: (r) => ui.formatTime(r.added_at) },
      { title: "添加方式", key: "add_way_text" },
      { title: "渠道(state)", key: "state" },
      { title: "备注", key: "remark" },
      { title: "标签", render: (r) => r.tags.join("、") },
      { title: "状态", key: "status" },
    ],
    filters: [
      { key: "q", label: "搜索", placeholder: "客户名称或备注" },
      { key: "staff", label: "跟进员工", type: "picker", kind: "staff" },
      { key: "tag", label: "客户标签", type: "picker", kind: "tags" },
      { key: "added_from", label: "添加起始", type: "date" },
      { key: "added_to", label: "添加截止", type: "date" },
      { key: "add_way", label: "添加方式", type: "select",
        options: [ALL, ...choices.add_ways.map((w) => ({ value: String(w.value), label: w.label }))] },
      { key: "state", label: "渠道 state" },
      { key: "status", label: "状态", type: "select", options: [
        { value: "", label: "全部" }, { value: "active", label: "跟进中" }, { value: "lost", label: "已流失" }] },
    ],
    fetch: (page, filters) => ui.api("GET", `/api/facts/customers?${query(page, filters)}`),
    exportUrl: "/api/facts/customers.xlsx",
  });
}
