// The participant's live progress on /f/<activity>: polled while the page is visible.
const config = JSON.parse(document.getElementById("fission-config").textContent);

function text(el, value) {
  if (el) el.textContent = value;
}

function renderHelpers(list) {
  const ul = document.getElementById("helpers");
  if (!ul) return;
  ul.replaceChildren();
  if (!list.length) {
    const li = document.createElement("li");
    li.className = "hint";
    li.textContent = "还没有好友助力，快分享海报吧";
    ul.append(li);
    return;
  }
  for (const h of list) {
    const li = document.createElement("li");
    if (h.revoked) li.className = "revoked";
    const name = document.createElement("span");
    name.textContent = h.name;
    const at = document.createElement("span");
    at.textContent = h.at;
    li.append(name, at);
    ul.append(li);
  }
}

async function refresh() {
  const query = config.t ? `?t=${encodeURIComponent(config.t)}` : "";
  const response = await fetch(`/f/${config.activity}/progress${query}`, { credentials: "same-origin" });
  if (!response.ok) return;
  const body = await response.json();
  const count = document.getElementById("help-count");
  const changed = count && count.textContent !== String(body.helps);
  text(count, String(body.helps));
  const next = document.getElementById("next");
  if (body.next) text(next, `再邀请 ${body.next.left} 位好友，即可获得「${body.next.prize}」`);
  else if (body.won) text(next, "你已完成全部助力目标");
  renderHelpers(body.helpers);
  if (changed && body.tiers.some((t) => t.state)) window.location.reload();
}

if (config.participant) {
  setInterval(() => {
    if (document.visibilityState === "visible") refresh().catch(() => {});
  }, 5000);
}
