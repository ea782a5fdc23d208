// The WeCom JS-SDK for the sidebar and chat toolbar, behind one small bridge:
//   getContext() -> {entry}, getCurExternalContact() -> {userId},
//   getCurExternalChat() -> {chatId}, sendChatMessage(msg) -> {err_msg},
//   shareToExternalMoments({text, attachments}) -> {err_msg} (a personal post to 客户朋友圈)
// Inside WeCom it registers the app with signatures from /api/jssdk (wx.config and
// wx.agentConfig, via the vendored @wecom/jssdk). In a normal browser (the sandbox, the demo)
// a shim answers the same calls from ?sandbox_contact= / ?sandbox_chat= and records what
// would have been sent in window.__sentMessages (and POSTs it to /sandbox-shim/sent).

const JS_API_LIST = ["getContext", "getCurExternalContact", "getCurExternalChat", "sendChatMessage",
  "openUserProfile", "shareToExternalMoments"];

function pageUrl() {
  return location.href.split("#")[0];
}

async function signatures(url) {
  const resp = await fetch(`/api/jssdk?url=${encodeURIComponent(url)}`, { credentials: "same-origin" });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(data.error || "获取 JS-SDK 签名失败");
  return data;
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error("JS-SDK 加载失败"));
    document.head.append(script);
  });
}

async function realBridge() {
  if (!window.ww) await loadScript("/static/vendor/wecom-jssdk.global.prod.js");
  const first = await signatures(pageUrl());
  const cache = new Map([[pageUrl(), first]]);
  const signed = async (url) => {
    const key = url.split("#")[0];
    if (!cache.has(key)) cache.set(key, await signatures(key));
    return cache.get(key);
  };
  const pick = ({ timestamp, nonceStr, signature }) => ({ timestamp, nonceStr, signature });
  window.ww.register({
    corpId: first.config.appId,
    agentId: first.agentConfig.agentid,
    jsApiList: JS_API_LIST,
    getConfigSignature: async (url) => pick((await signed(url)).config),
    getAgentConfigSignature: async (url) => pick((await signed(url)).agentConfig),
  });
  const ww = window.ww;
  return {
    inWeCom: true,
    getContext: () => ww.getContext(),
    getCurExternalContact: () => ww.getCurExternalContact(),
    getCurExternalChat: () => ww.getCurExternalChat(),
    sendChatMessage: (msg) => ww.sendChatMessage(msg),
    shareToExternalMoments: (moment) => ww.shareToExternalMoments(moment),
    // A customer's WeCom profile (type 2 = external contact), where staff can add them.
    openUserProfile: (externalUserid) => ww.openUserProfile({ type: 2, userid: externalUserid }),
  };
}

function csrfHeader() {
  const found = document.cookie.split("; ").find((c) => c.startsWith("scrmbot_csrf="));
  return found ? { "X-CSRF-Token": decodeURIComponent(found.slice(13)) } : {};
}

export function shimBridge(params = new URLSearchParams(location.search)) {
  const contact = params.get("sandbox_contact");
  const chat = params.get("sandbox_chat");
  window.__sentMessages = window.__sentMessages || [];
  const entry = chat ? "group_chat_tools" : contact ? "single_chat_tools" : "normal";
  return {
    inWeCom: false,
    getContext: async () => ({ entry, err_msg: "getContext:ok" }),
    getCurExternalContact: async () => {
      if (!contact) throw new Error("getCurExternalContact:fail without context of external contact");
      return { userId: contact, err_msg: "getCurExternalContact:ok" };
    },
    getCurExternalChat: async () => {
      if (!chat) throw new Error("getCurExternalChat:fail without context of external chat");
      return { chatId: chat, err_msg: "getCurExternalChat:ok" };
    },
    openUserProfile: async (externalUserid) => {
      window.__openedProfiles = [...(window.__openedProfiles || []), externalUserid];
      return { err_msg: "openUserProfile:ok" };
    },
    // What WeCom's client would post to 客户朋友圈: recorded in window.__sharedMoments.
    shareToExternalMoments: async (moment) => {
      window.__sharedMoments = [...(window.__sharedMoments || []), moment];
      return { err_msg: "shareToExternalMoments:ok" };
    },
    sendChatMessage: async (msg) => {
      if (entry === "normal") throw new Error("sendChatMessage:fail not in chat");
      const record = { msg, contact, chat, at: new Date().toISOString() };
      window.__sentMessages.push(record);
      fetch("/sandbox-shim/sent", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", ...csrfHeader() },
        body: JSON.stringify(record),
      }).catch(() => {}); // the sandbox endpoint is optional
      return { err_msg: "sendChatMessage:ok" };
    },
  };
}

function insideWeCom() {
  const params = new URLSearchParams(location.search);
  if (params.has("sandbox_contact") || params.has("sandbox_chat")) return false;
  return /wxwork/i.test(navigator.userAgent);
}

// The bridge, set up once per page.
let ready = null;
export function setupWeCom() {
  ready ||= insideWeCom() ? realBridge() : Promise.resolve(shimBridge());
  return ready;
}
