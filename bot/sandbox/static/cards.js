// Renders app messages the way the WeCom client shows them. Text goes in via textContent only.
"use strict";

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false && c !== 0) el.append(c);
  return el;
}

function safeUrl(url) {
  try {
    const u = new URL(url, location.href);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch (e) { return null; }
}

function link(text, url, cls) {
  const href = safeUrl(url);
  return href ? h("a", {href, target: "_blank", rel: "noopener", class: cls, text})
              : h("span", {class: cls, text});
}

function renderMessage(m, onClick) {
  const body = m.payload[m.msgtype] || {};
  const time = new Date(m.created_at * 1000).toLocaleString("zh-CN", {hour12: false});
  let inner;
  switch (m.msgtype) {
    case "text": inner = h("div", {class: "bubble", text: body.content}); break;
    case "markdown": inner = h("div", {class: "bubble md", text: body.content}); break;
    case "textcard": inner = textcard(body); break;
    case "news": inner = news(body); break;
    case "template_card": inner = templateCard(m, onClick); break;
    default: inner = h("div", {class: "bubble muted", text: `[${m.msgtype} 消息]`});
  }
  return h("div", {class: "msg", "data-id": m.id}, h("div", {class: "time", text: time}), inner);
}

function textcard(b) {
  return h("div", {class: "card"},
    h("div", {class: "title", text: b.title}),
    h("div", {class: "desc pre", text: b.description}),
    h("div", {class: "card-foot"}, link(b.btntxt || "详情", b.url, "more")));
}

function news(b) {
  const items = (b.articles || []).map((a, i) => h("div", {class: i ? "news-row" : "news-top"},
    a.picurl ? h("img", {src: safeUrl(a.picurl) || "", alt: ""}) : null,
    link(a.title, a.url, "title"), i ? null : h("div", {class: "desc", text: a.description})));
  return h("div", {class: "card news"}, items);
}

function templateCard(m, onClick) {
  const c = m.card || {};
  const action = c.card_action && safeUrl(c.card_action.url);
  const parts = [
    c.source && h("div", {class: "source"},
      c.source.icon_url ? h("img", {src: safeUrl(c.source.icon_url) || "", alt: ""}) : null,
      h("span", {class: `desc-color-${c.source.desc_color || 0}`, text: c.source.desc})),
    c.main_title && h("div", {class: "title", text: c.main_title.title}),
    c.main_title && c.main_title.desc && h("div", {class: "desc", text: c.main_title.desc}),
    c.emphasis_content && h("div", {class: "emphasis"},
      h("div", {class: "num", text: c.emphasis_content.title}),
      h("div", {class: "desc", text: c.emphasis_content.desc})),
    c.quote_area && h("div", {class: "quote"},
      h("div", {class: "quote-title", text: c.quote_area.title}),
      h("div", {text: c.quote_area.quote_text})),
    c.card_image && h("img", {class: "card-image", src: safeUrl(c.card_image.url) || "", alt: ""}),
    c.image_text_area && h("div", {class: "image-text"},
      c.image_text_area.image_url ? h("img", {src: safeUrl(c.image_text_area.image_url) || ""}) : null,
      h("div", {}, h("div", {class: "title small", text: c.image_text_area.title}),
        h("div", {class: "desc", text: c.image_text_area.desc}))),
    c.sub_title_text && h("div", {class: "sub pre", text: c.sub_title_text}),
    (c.vertical_content_list || []).length && h("div", {class: "vertical"},
      c.vertical_content_list.map(v => h("div", {}, h("b", {text: v.title}), h("div", {class: "desc", text: v.desc})))),
    (c.horizontal_content_list || []).length && h("dl", {class: "kv"},
      c.horizontal_content_list.map(kv => [h("dt", {text: kv.keyname}),
        h("dd", {}, kv.type === 1 ? link(kv.value, kv.url) : h("span", {text: kv.value}))])),
    (c.jump_list || []).length && h("div", {class: "jumps"},
      c.jump_list.map(j => link(j.title, j.url || "", "jump"))),
    interaction(m, c, onClick),
  ];
  const card = h("div", {class: `card tpl ${c.card_type || ""}`}, parts.filter(Boolean));
  if (action) {
    card.classList.add("clickable");
    card.addEventListener("click", e => {
      if (!e.target.closest("button,a,select,input,label")) window.open(action, "_blank");
    });
  }
  return card;
}

function interaction(m, c, onClick) {
  if (m.replace_name) return h("div", {class: "buttons"}, h("button", {class: "btn done", disabled: true, text: m.replace_name}));
  const form = h("div", {class: "interaction"});
  const selected = () => collectSelected(form);
  if (c.card_type === "button_interaction") {
    if (c.button_selection) form.append(selectBox(c.button_selection));
    form.append(h("div", {class: "buttons"}, (c.button_list || []).map(b => h("button", {
      class: `btn style-${b.style || 1}`, text: b.text,
      onclick: () => b.type === 1 ? window.open(safeUrl(b.url) || "about:blank", "_blank") : onClick(m, b.key, selected()),
    }))));
  } else if (c.card_type === "vote_interaction" && c.checkbox) {
    const cb = c.checkbox, kind = cb.mode === 1 ? "checkbox" : "radio";
    form.append(h("div", {class: "vote", "data-q": cb.question_key}, (cb.option_list || []).map(o =>
      h("label", {class: "opt"}, h("input", {type: kind, name: `${m.id}-${cb.question_key}`, value: o.id, checked: !!o.is_checked}), h("span", {text: o.text})))));
  } else if (c.card_type === "multiple_interaction") {
    (c.select_list || []).forEach(s => form.append(selectBox(s)));
  }
  if (c.submit_button) form.append(h("div", {class: "buttons"}, h("button", {class: "btn style-1", text: c.submit_button.text, onclick: () => onClick(m, c.submit_button.key, selected())})));
  return form.childElementCount ? form : null;
}

function selectBox(s) {
  return h("label", {class: "select", "data-q": s.question_key}, h("span", {text: s.title || ""}),
    h("select", {}, (s.option_list || []).map(o => h("option", {value: o.id, text: o.text, selected: o.id === s.selected_id}))));
}

function collectSelected(form) {
  const out = {};
  form.querySelectorAll("[data-q]").forEach(el => {
    const ids = [...el.querySelectorAll("input:checked")].map(i => i.value);
    const sel = el.querySelector("select");
    out[el.dataset.q] = sel ? [sel.value] : ids;
  });
  return out;
}
