// 客户画像: who the customer is, the staff following them, tags, groups and the timeline.
import { getJSON, h, when, notify } from './common.js';

async function currentCustomer(ui) {
  const fromUrl = new URLSearchParams(location.search).get('external_userid');
  if (fromUrl) return fromUrl;
  const wx = window.wx || (ui && ui.wx);
  if (!wx || !wx.invoke) return '';
  return new Promise((resolve) => {
    wx.invoke('getCurExternalContact', {}, (res) => resolve(res && res.userId ? res.userId : ''));
  });
}

export async function mount(el, ui, ctx = {}) {
  const ext = ctx.external_userid || (await currentCustomer(ui));
  if (!ext) { el.replaceChildren(h('p', {}, '请在与客户的聊天中打开此页面')); return; }
  const base = `/api/facts/customers/${encodeURIComponent(ext)}`;
  let data;
  try { data = await getJSON(ui, base); } catch (e) { el.replaceChildren(h('p', {}, e.message)); return; }
  const tags = await getJSON(ui, '/api/facts/tags').catch(() => ({ groups: [] }));
  const c = data.customer;
  el.replaceChildren(
    h('section', { class: 'facts-who' },
      c.avatar ? h('img', { src: c.avatar, alt: '', width: '48', height: '48' }) : '',
      h('h2', {}, c.name || c.external_userid),
      h('p', {}, c.type === 2 ? `企业微信用户 · ${c.corp_name}` : '微信用户'),
      h('p', {}, `首次添加：${when(c.first_added_at)}`)),
    h('section', {}, h('h3', {}, '跟进员工'),
      h('ul', {}, data.follows.map((f) => h('li', {},
        `${f.name}${f.remark ? `（备注：${f.remark}）` : ''} · ${when(f.added_at)} · `
        + (f.active ? '跟进中' : '已删除'),
        ' ', f.tags.map((t) => h('span', { class: 'tag' }, t.name)))))),
    tagEditor(ui, base, data.follows.find((f) => f.mine && f.active), tags.groups),
    h('section', {}, h('h3', {}, '所在群聊'),
      h('ul', {}, data.groups.length ? data.groups.map((g) => h('li', {},
        `${g.name || g.chat_id} · ${when(g.join_time)} 入群`)) : h('li', {}, '暂无'))),
    timeline(ui, base),
    h('div', { class: 'facts-blocks' }));
  await mountBlocks(el.querySelector('.facts-blocks'), ui, ext);
}

function tagEditor(ui, base, mine, groups) {
  if (!mine) return h('section', {});
  const have = new Set(mine.tags.map((t) => t.tag_id));
  const box = h('section', {}, h('h3', {}, '我打的标签'));
  for (const g of groups) {
    box.append(h('p', {}, g.name, ' ', g.tags.map((t) => h('button', {
      class: have.has(t.tag_id) ? 'tag on' : 'tag',
      onclick: async (ev) => {
        const on = have.has(t.tag_id);
        const body = on ? { remove: [t.tag_id] } : { add: [t.tag_id] };
        try {
          await getJSON(ui, `${base}/tags`, { method: 'POST', body: JSON.stringify(body) });
          if (on) have.delete(t.tag_id); else have.add(t.tag_id);
          ev.target.className = have.has(t.tag_id) ? 'tag on' : 'tag';
        } catch (e) { notify(ui, e.message); }
      },
    }, t.name))));
  }
  return box;
}

function timeline(ui, base) {
  const list = h('ul', { class: 'facts-timeline' });
  let page = 0;
  const more = h('button', { onclick: load }, '加载更多');
  async function load() {
    page += 1;
    const data = await getJSON(ui, `${base}/timeline?page=${page}`);
    for (const t of data.items) list.append(h('li', {}, h('time', {}, when(t.at)), ' ', t.text));
    more.hidden = page * data.size >= data.total;
  }
  load().catch((e) => notify(ui, e.message));
  return h('section', {}, h('h3', {}, '客户动态'), list, more);
}

async function mountBlocks(el, ui, ext) {
  const nav = await getJSON(ui, '/api/nav?area=profile').catch(() => ({ items: [] }));
  for (const item of nav.items || nav || []) {
    const slot = h('section', { class: 'facts-block' }, h('h3', {}, item.title));
    el.append(slot);
    try {
      const mod = await import(item.path);
      await mod.mount(slot, ui, { external_userid: ext });
    } catch (e) { slot.append(h('p', {}, `加载失败：${e.message}`)); }
  }
}
