// 社群积分 customer page: sign in, balance, streak, calendar, history, expiring points, the
// profile form, rewards and redemption. Talks to /p/<token>/api/*.
const root = document.getElementById("points-app");
const base = root.dataset.base;
const PERIOD = { week: "本周", month: "本月", year: "今年" };
const STATE = { pending: "待发放", fulfilled: "已发放", released: "已退回" };

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

function toast(text) {
  for (const old of document.querySelectorAll(".toast")) old.remove();
  const t = h("div", { class: "toast", role: "status" }, text);
  document.body.append(t);
  setTimeout(() => t.remove(), 2200);
}

async function call(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", "X-Points-Page": "1" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(`${base}/api/${path}`, init);
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const err = new Error(data.error || `请求失败（${resp.status}）`);
    err.field = data.field;
    throw err;
  }
  return data;
}

function when(iso) {
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getMonth() + 1}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

function nonce() {
  const a = new Uint8Array(12);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
}

function calendar(me) {
  const [y, m, d] = me.today.split("-").map(Number);
  const first = new Date(y, m - 1, 1).getDay();
  const days = new Date(y, m, 0).getDate();
  const on = new Set(me.calendar);
  const cells = ["日", "一", "二", "三", "四", "五", "六"].map((w) => h("div", { class: "head" }, w));
  for (let i = 0; i < first; i++) cells.push(h("div"));
  for (let day = 1; day <= days; day++) {
    const iso = `${y}-${String(m).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
    const cls = ["day", on.has(iso) ? "on" : "", day === d ? "today" : ""].join(" ").trim();
    cells.push(h("div", { class: cls, "data-day": iso }, String(day)));
  }
  return h("section", { class: "card", id: "calendar" }, h("h2", {}, `${m} 月签到日历`), h("div", { class: "cal" }, cells));
}

function tiersText(rules) {
  const parts = [];
  if (rules.streak_tiers.length) parts.push("连续签到 " + rules.streak_tiers.map((t) => `${t.days} 天 +${t.points}`).join("，"));
  if (rules.cumulative_tiers.length) parts.push(`${PERIOD[rules.cumulative_period]}累计 ` + rules.cumulative_tiers.map((t) => `${t.days} 天 +${t.points}`).join("，"));
  return parts.join("；");
}

function profileForm(data) {
  const me = data.me;
  const fields = [["name", "姓名"], ["phone", "手机号"], ["wechat", "微信号"], ["address", "地址"]];
  const earning = new Set(data.rules.profile_fields.map((f) => f.name));
  const inputs = {};
  const errors = {};
  const rows = fields.map(([name, label]) => {
    inputs[name] = h("input", { name, id: `pf-${name}`, value: me.profile[name] || "", maxlength: name === "address" ? 200 : 40 });
    errors[name] = h("div", { class: "err" });
    const bonus = earning.has(name) && !me.profile_earned.includes(name) ? `（首次填写 +${data.rules.profile_points}）` : "";
    return [h("label", { for: `pf-${name}` }, label + bonus), inputs[name], errors[name]];
  });
  const button = h("button", { class: "btn small", type: "submit" }, "保存资料");
  const form = h("form", { class: "form", id: "profile-form" }, rows, button);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    Object.values(errors).forEach((x) => { x.textContent = ""; });
    button.disabled = true;
    try {
      const body = Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, i.value.trim()]));
      const res = await call("POST", "profile", body);
      const got = res.awarded.reduce((s, a) => s + a.points, 0);
      toast(got ? `资料已保存，获得 ${got} 积分` : "资料已保存");
      await load();
    } catch (err) {
      if (err.field && errors[err.field]) errors[err.field].textContent = err.message;
      else toast(err.message);
    } finally {
      button.disabled = false;
    }
  });
  return h("section", { class: "card", id: "profile" }, h("h2", {}, "完善信息"), form);
}

function rewards(data) {
  const canEarn = data.identity.can_earn;
  const balance = data.me ? data.me.balance : 0;
  const items = data.rewards.map((r) => {
    const pic = r.image ? h("img", { src: r.image, alt: r.name }) : h("div", { class: "ph" }, "🎁");
    const enough = canEarn && balance >= r.cost && r.stock > 0;
    const label = r.stock <= 0 ? "已兑完" : !canEarn ? "无法兑换" : balance < r.cost ? "积分不足" : "兑换";
    const button = h("button", { class: "btn small", disabled: !enough, "data-reward": r.id }, label);
    const key = nonce(); // one request id per button: a double tap redeems once
    button.addEventListener("click", async () => {
      if (!window.confirm(`确定用 ${r.cost} 积分兑换「${r.name}」吗？`)) return;
      button.disabled = true;
      try {
        await call("POST", "redeem", { reward_id: r.id, nonce: key });
        toast("兑换成功，顾问会尽快为您发放");
        await load();
      } catch (err) {
        toast(err.message);
        button.disabled = false;
      }
    });
    return h("div", { class: "reward" }, pic, h("div", { class: "body" },
      h("div", { class: "name" }, r.name), h("div", { class: "cost" }, `${r.cost} 积分 · 库存 ${r.stock}`),
      r.description ? h("div", { class: "muted" }, r.description) : null, button));
  });
  return h("section", { class: "card", id: "rewards" }, h("h2", {}, "积分兑换"),
    items.length ? h("div", { class: "rewards" }, items) : h("p", { class: "muted" }, "暂无可兑换的奖品"));
}

function view(data) {
  const parts = [];
  if (!data.enabled) parts.push(h("div", { class: "notice" }, "积分活动尚未开启"));
  const me = data.me;
  if (!data.identity.can_earn) parts.push(h("div", { class: "notice", id: "why" }, data.identity.why));
  if (me) {
    parts.push(h("section", { class: "hero" },
      h("div", { class: "label" }, "我的积分"),
      h("div", { class: "balance", id: "balance" }, String(me.balance)),
      me.held ? h("div", { class: "held" }, `另有 ${me.held} 分兑换中`) : null,
      h("div", { class: "stats" },
        h("span", { id: "streak" }, `连续签到 ${me.streak} 天`),
        h("span", {}, `${PERIOD[data.rules.cumulative_period]}累计 ${me.period_days} 天`),
        h("span", {}, `共签到 ${me.signin_days} 天`))));
    const signButton = h("button", { class: "btn", id: "signin", disabled: me.signed_today || !data.enabled }, me.signed_today ? "今日已签到" : "签到");
    signButton.addEventListener("click", async () => {
      signButton.disabled = true;
      try {
        const res = await call("POST", "signin");
        const got = res.awarded.reduce((s, a) => s + a.points, 0);
        toast(res.already ? "今天已经签过到了" : `签到成功 +${got} 积分`);
        await load();
      } catch (err) {
        toast(err.message);
        signButton.disabled = false;
      }
    });
    parts.push(h("section", { class: "card" }, h("div", { class: "signin" },
      h("div", {}, h("div", {}, data.rules.signin_points ? `每日签到 +${data.rules.signin_points} 积分` : "每日签到"),
        h("div", { class: "tiers" }, tiersText(data.rules))), signButton)));
    parts.push(calendar(me));
    if (data.rules.mp_points && !me.mp) {
      const claim = h("button", { class: "btn small", id: "follow-mp" }, "领取");
      claim.addEventListener("click", async () => {
        claim.disabled = true;
        try {
          const res = await call("POST", "follow-mp");
          toast(`已获得 ${res.points} 积分`);
          await load();
        } catch (err) {
          toast(err.message);
          claim.disabled = false;
        }
      });
      parts.push(h("section", { class: "card", id: "mp" }, h("div", { class: "signin" },
        h("div", {}, `关注公众号 +${data.rules.mp_points} 积分`), claim)));
    }
    if (data.rules.channels_points && me.channels !== "awarded") {
      const pending = me.channels === "pending";
      const follow = h("button", { class: "btn small", id: "follow-channels", disabled: pending }, pending ? "等待顾问确认" : "我已关注");
      follow.addEventListener("click", async () => {
        follow.disabled = true;
        try {
          const res = await call("POST", "follow-channels");
          toast(res.state === "awarded" ? `已获得 ${res.points} 积分` : "已提交，顾问确认后发放积分");
          await load();
        } catch (err) {
          toast(err.message);
          follow.disabled = false;
        }
      });
      parts.push(h("section", { class: "card", id: "channels" }, h("div", { class: "signin" },
        h("div", {}, `关注公司视频号 +${data.rules.channels_points} 积分`), follow)));
    }
    if (me.expiring.length) {
      parts.push(h("section", { class: "card", id: "expiring" }, h("h2", {}, "即将过期"),
        h("ul", { class: "list" }, me.expiring.map((x) => h("li", {}, h("span", {}, `${x.points} 积分`), h("span", { class: "muted" }, `${x.day} 后过期`))))));
    }
  }
  parts.push(rewards(data));
  if (me) {
    if (me.redemptions.length) {
      parts.push(h("section", { class: "card", id: "redemptions" }, h("h2", {}, "我的兑换"),
        h("ul", { class: "list" }, me.redemptions.map((r) => h("li", {}, h("span", {}, `${r.reward}（${r.cost} 分）`), h("span", { class: "muted" }, STATE[r.state] || r.state))))));
    }
    parts.push(profileForm(data));
    parts.push(h("section", { class: "card", id: "history" }, h("h2", {}, "积分明细"),
      me.history.length ? h("ul", { class: "list" }, me.history.map((e) => h("li", {},
        h("span", {}, h("div", {}, e.reason || e.kind), h("div", { class: "muted" }, `${e.kind} · ${when(e.at)}`)),
        h("span", { class: e.amount >= 0 ? "plus" : "minus" }, e.amount > 0 ? `+${e.amount}` : String(e.amount))))) :
        h("p", { class: "muted" }, "还没有积分记录")));
  }
  root.replaceChildren(...parts);
  root.dataset.ready = "1";
}

async function load() {
  try {
    view(await call("GET", "state"));
  } catch (err) {
    root.replaceChildren(h("section", { class: "msg" }, h("h1", {}, "加载失败"), h("p", {}, err.message)));
    root.dataset.ready = "1";
  }
}

load();
