// Small helpers shared by the facts pages, on top of the shell's ui kit (`ui.api`, `ui.h`).
export function call(ui, method, url, body) {
  return ui.api(method, url, body);
}

export function when(ui, iso) {
  return ui.formatTime(iso);
}

// The customer of the chat the page was opened from: the shell's context, the JS-SDK, or an
// explicit ?external_userid= (links from the console).
export async function currentCustomer(ui, ctx = {}) {
  if (ctx.external_userid) return ctx.external_userid;
  const fromUrl = new URLSearchParams(location.search).get("external_userid");
  if (fromUrl) return fromUrl;
  if (ui.context && ui.context.externalUserId) return ui.context.externalUserId;
  if (!ui.wecom) return "";
  try {
    return (await ui.wecom.getCurExternalContact()).userId || "";
  } catch (err) {
    return "";
  }
}
