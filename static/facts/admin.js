// 客户管理: the customer list with filters, paging and the Excel export.
import { getJSON, h, when, notify } from './common.js';

const FILTERS = [
  ['staff', '员工 userid'], ['tag', '标签 ID'], ['added_from', '添加起始日期'],
  ['added_to', '添加截止日期'], ['add_way', '添加方式'], ['state', '渠道 state'],
];

export async function mount(el, ui) {
  const form = h('form', { class: 'facts-filters' });
  for (const [name, label] of FILTERS) {
    const type = name.startsWith('added_') ? 'date' : 'text';
    form.append(h('label', {}, label, h('input', { name, type })));
  }
  form.append(h('label', {}, '状态', h('select', { name: 'status' },
    h('option', { value: '' }, '全部'), h('option', { value: 'active' }, '跟进中'),
    h('option', { value: 'lost' }, '已流失'))));
  form.append(h('button', { type: 'submit' }, '查询'),
    h('button', { type: 'button', onclick: () => { location.href = `/api/facts/customers.xlsx?${params()}`; } }, '导出 Excel'));
  const table = h('table', { class: 'table' });
  const pager = h('div', { class: 'pager' });
  el.replaceChildren(h('h2', {}, '客户管理'), form, table, pager);
  let page = 1;
  function params() {
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) p.set(k, v);
    return p;
  }
  async function load() {
    const p = params(); p.set('page', page);
    try {
      const data = await getJSON(ui, `/api/facts/customers?${p}`);
      table.replaceChildren(h('tr', {}, data.columns.map((c) => h('th', {}, c))),
        ...data.items.map((r) => h('tr', {},
          [r.name, r.type, r.staff, when(r.added_at), r.add_way, r.state, r.remark,
            r.tags.join('、'), r.status].map((v) => h('td', {}, v)))));
      const pages = Math.max(1, Math.ceil(data.total / data.size));
      pager.replaceChildren(`共 ${data.total} 条 · 第 ${page}/${pages} 页 `,
        h('button', { onclick: () => { if (page > 1) { page -= 1; load(); } } }, '上一页'),
        h('button', { onclick: () => { if (page < pages) { page += 1; load(); } } }, '下一页'));
    } catch (e) { notify(ui, e.message); }
  }
  form.addEventListener('submit', (ev) => { ev.preventDefault(); page = 1; load(); });
  await load();
}
