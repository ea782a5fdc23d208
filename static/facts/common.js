// Small helpers shared by the facts pages; they use the shell's ui kit when it is there.
export async function getJSON(ui, url, opts = {}) {
  if (ui && ui.api) return ui.api(url, opts);
  const headers = { 'Content-Type': 'application/json' };
  const csrf = document.cookie.match(/(?:^|; )csrf=([^;]+)/);
  if (csrf) headers['X-CSRF-Token'] = decodeURIComponent(csrf[1]);
  const resp = await fetch(url, { credentials: 'same-origin', headers, ...opts });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(data.error || `请求失败（${resp.status}）`);
  return data;
}

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) el.append(c instanceof Node ? c : String(c ?? ''));
  return el;
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString('zh-CN', { hour12: false }) : '';
}

export function notify(ui, text) {
  if (ui && ui.toast) ui.toast(text); else window.alert(text);
}
