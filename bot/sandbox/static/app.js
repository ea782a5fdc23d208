"use strict";
const state = {corp: null, userid: new URLSearchParams(location.search).get("user") || "", lastInbox: ""};

async function getJSON(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(await r.text());
  return r.json();
}

async function play(action, args) {
  const out = document.getElementById("result");
  out.textContent = "发送中…";
  const r = await fetch(`/sandbox/api/play/${action}`, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(args)});
  const text = await r.text();
  let shown = text;
  try { const j = JSON.parse(text); shown = `回调 HTTP ${j.status}\n${JSON.stringify(j.info, null, 1)}${j.body ? "\n应答：" + j.body.slice(0, 300) : ""}`; } catch (e) { shown = `失败（${r.status}）：${text}`; }
  out.textContent = shown;
  await refreshCorp();
  await refreshInbox(true);
  return r.ok;
}

function fillSelect(sel, options) {
  const keep = sel.value;
  sel.replaceChildren(...options.map(([v, t]) => h("option", {value: v, text: t})));
  if (options.some(([v]) => v === keep)) sel.value = keep;
}

function renderControls() {
  const c = state.corp, names = Object.fromEntries(c.staff.map(s => [s.userid, s.name]));
  const sources = {
    staff: c.staff.map(s => [s.userid, `${s.name}（${s.userid}）`]),
    customers: c.customers.map(x => [x.external_userid, x.name]),
    "customers-any": [["", "（新客户）"], ...c.customers.map(x => [x.external_userid, x.name])],
    groups: c.groups.map(g => [g.chat_id, `${g.name}（${g.members.length}人）`]),
    links: c.acquisition_links.map(k => [k.link_id, `${k.link_name} · ${k.users.map(u => names[u] || u).join("、")}`]),
    ways: c.contact_ways.map(w => [w.config_id, `${w.users.map(u => names[u] || u).join("、")} · ${w.state || "无 state"}`]),
    follows: c.customers.flatMap(x => x.follows.map(u => [`${u}|${x.external_userid}`, `${x.name} ↔ ${names[u] || u}`])),
  };
  document.querySelectorAll("select[data-source]").forEach(sel => fillSelect(sel, sources[sel.dataset.source]));
  fillInviters();
  document.getElementById("not-playable").hidden = c.playable;
}

// WeCom names the inviter of a 被邀请 join: a staff member inside that group.
function fillInviters() {
  const form = document.getElementById("f-group"), c = state.corp;
  const chat = c.groups.find(g => g.chat_id === form.elements.chat_id.value);
  const inside = new Set(chat ? chat.members : []);
  fillSelect(form.elements.invitor, c.staff.filter(s => inside.has(s.userid)).map(s => [s.userid, `${s.name}（${s.userid}）`]));
}

function renderStaff() {
  const q = document.getElementById("staff-filter").value.trim();
  const list = document.getElementById("staff-list");
  list.replaceChildren(...state.corp.staff.filter(s => !q || s.name.includes(q) || s.userid.includes(q)).map(s =>
    h("li", {class: s.userid === state.userid ? "active" : "", onclick: () => choose(s.userid)},
      h("img", {src: s.avatar, alt: ""}), h("div", {}, h("b", {text: s.name}), h("small", {text: `${s.userid} · ${s.position || ""}`})),
      s.messages ? h("span", {class: "badge", text: String(s.messages)}) : null)));
}

async function refreshCorp() {
  state.corp = await getJSON("/sandbox/api/corp");
  document.getElementById("corp-info").textContent = `CorpID ${state.corp.corp_id} · AgentID ${state.corp.agent_id} · ${state.corp.staff.length} 名成员 · ${state.corp.customers.length} 位客户`;
  renderStaff();
  renderControls();
  renderMoments();
}

// Customer moments: confirm an enterprise moment for a member, or have one of the customers
// who can see a post like or comment on it.
function renderMoments() {
  const c = state.corp, names = Object.fromEntries(c.staff.map(s => [s.userid, s.name]));
  const customers = Object.fromEntries(c.customers.map(x => [x.external_userid, x.name]));
  const list = document.getElementById("moments");
  if (!list) return;
  const items = (c.moments || []).slice(-8).reverse().map(m => h("li", {},
    h("div", {text: `${m.create_type === 0 ? "企业任务" : "个人发表"}：${m.text || "（无文案）"} · 赞 ${m.likes} · 评论 ${m.comments}${m.cancelled ? " · 已撤销" : ""}`}),
    ...Object.entries(m.senders).map(([u, status]) => {
      const viewer = (m.visible[u] || [])[0];
      return h("div", {class: "moment-sender"}, h("span", {text: `${names[u] || u}：${status ? "已发表" : "未发表"} `}),
        !status && !m.cancelled ? h("button", {type: "button", text: "确认发表", onclick: () => play("staff_publishes_moment", {userid: u, moment_id: m.moment_id})}) : null,
        status && viewer ? h("button", {type: "button", text: `${customers[viewer] || viewer} 点赞`, onclick: () => play("customer_likes_moment", {userid: u, moment_id: m.moment_id, external_userid: viewer})}) : null,
        status && viewer ? h("button", {type: "button", text: "评论", onclick: () => play("customer_comments_moment", {userid: u, moment_id: m.moment_id, external_userid: viewer})}) : null);
    })));
  list.replaceChildren(...(items.length ? items : [h("li", {class: "muted", text: "暂无朋友圈"})]));
}

function choose(userid) {
  state.userid = userid;
  state.lastInbox = "";
  history.replaceState(null, "", `?user=${encodeURIComponent(userid)}`);
  renderStaff();
  refreshInbox(true);
}

async function clickCard(m, key, selected) {
  const args = {userid: state.userid, message_id: m.id, button_key: key};
  if (selected && Object.keys(selected).length) args.selected = selected;
  await play("click_card", args);
}

async function refreshInbox(force) {
  if (!state.userid) return;
  const data = await getJSON(`/sandbox/api/inbox/${encodeURIComponent(state.userid)}`);
  const sig = JSON.stringify([data.messages.map(m => [m.id, m.updated_at]), data.typed.length, data.menu]);
  if (!force && sig === state.lastInbox) return;
  state.lastInbox = sig;
  document.getElementById("inbox-title").textContent = `${data.user.name} 的应用消息`;
  const box = document.getElementById("inbox");
  // What the member typed and what the app sent, in time order, as WeCom's app chat shows them.
  const items = [...data.messages.map(m => [m.created_at, 1, renderMessage(m, clickCard)]),
    ...data.typed.map(t => [t.at, 0, h("div", {class: "msg mine"}, h("div", {class: "bubble mine", text: t.content}))])];
  items.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  box.replaceChildren(...(items.length ? items.map(i => i[2]) : [h("p", {class: "empty", text: "还没有收到应用消息"})]));
  box.scrollTop = box.scrollHeight;
  document.getElementById("compose").hidden = !state.corp.playable;
  renderMenu(data.menu);
}

function renderMenu(menu) {
  const nav = document.getElementById("app-menu");
  const buttons = (menu && menu.button) || [];
  document.getElementById("menu-toggle").hidden = !buttons.length;
  const act = item => item.type === "view"
    ? play("open_menu_link", {userid: state.userid, url: item.url}).then(() => { const u = safeUrl(item.url); if (u) window.open(u, "_blank"); })
    : play("click_menu", {userid: state.userid, key: item.key});
  nav.replaceChildren(...buttons.map(top => {
    const cell = h("div", {class: "top-item"});
    const subs = top.sub_button ? h("div", {class: "subs", hidden: true},
      top.sub_button.map(s => h("button", {type: "button", text: s.name, onclick: () => { subs.hidden = true; act(s); }}))) : null;
    cell.append(h("button", {type: "button", text: top.name, onclick: () => subs ? (subs.hidden = !subs.hidden) : act(top)}), subs);
    return cell;
  }));
}

function wireForms() {
  const on = (id, fn) => document.getElementById(id).addEventListener("submit", e => { e.preventDefault(); fn(new FormData(e.target), e.submitter); });
  on("f-add", f => play("customer_adds_staff", {userid: f.get("userid"), external_userid: f.get("name") ? "" : f.get("external_userid"), name: f.get("name") || null, state: f.get("state")}));
  on("f-scan", f => play("customer_scans_contact_way", {config_id: f.get("config_id"), name: f.get("name") || null}));
  on("f-link-add", f => play("customer_opens_acquisition_link", {link_id: f.get("link_id"), customer_channel: String(f.get("customer_channel") || ""), name: f.get("name") || null}));
  on("f-del", (f, btn) => { const [userid, ext] = String(f.get("relation")).split("|"); play(btn.value, {userid, external_userid: ext}); });
  on("f-group", (f, btn) => {
    const join = btn.value === "customer_joins_group", invited = f.get("scene") === "invite";
    const args = {chat_id: f.get("chat_id"), external_userid: f.get("external_userid"), scene: join && !invited ? Number(f.get("scene")) : 0};
    if (join && invited) args.invitor = f.get("invitor");
    play(btn.value, args);
  });
  on("f-link", f => { const u = safeUrl(String(f.get("url"))); if (u) window.open(u, "_blank"); });
  document.getElementById("staff-filter").addEventListener("input", renderStaff);
  document.getElementById("f-group").elements.chat_id.addEventListener("change", fillInviters);
  on("compose", f => {
    const content = String(f.get("content") || "").trim();
    if (!content || !state.userid) return;
    document.getElementById("compose-text").value = "";
    play("send_text", {userid: state.userid, content});
  });
  document.getElementById("menu-toggle").addEventListener("click", () => {
    const nav = document.getElementById("app-menu");
    nav.hidden = !nav.hidden;
  });
}

wireForms();
refreshCorp().then(() => { if (state.userid) refreshInbox(true); });
setInterval(() => refreshInbox(false).catch(() => {}), 2000);
setInterval(() => refreshCorp().catch(() => {}), 10000);
