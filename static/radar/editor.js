// The radar editor: only the fields of the chosen type, the current file and cover shown when
// editing, the limits stated, upload progress, and every refusal shown next to its field.
import { h, modal, picker, toast } from "/static/common/ui.js";

export const TYPES = { link: "链接", pdf: "PDF", images: "图片", video: "视频" };
const CONTENT = {
  pdf: { accept: "application/pdf", multiple: false, help: "PDF 文件，客户在页面内逐页阅读" },
  images: { accept: "image/png,image/jpeg,image/gif,image/webp", multiple: true,
    help: "PNG / JPEG / GIF / WebP 图片，最多 30 张，按选择顺序展示" },
  video: { accept: "video/mp4", multiple: false,
    help: "MP4 视频（H.264 视频 + AAC 音频，可在微信内直接播放）；MOV、HEIC、AVIF 等格式微信内无法播放，请先转成 MP4" },
};

function csrf() {
  return decodeURIComponent((document.cookie.match(/scrmbot_csrf=([^;]+)/) || [])[1] || "");
}

// A multipart upload with progress (fetch cannot report upload progress).
function send(method, url, data, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.setRequestHeader("X-CSRF-Token", csrf());
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(Math.round((e.loaded * 100) / e.total));
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      resolve({ ok: xhr.status < 300, status: xhr.status, body });
    };
    xhr.onerror = () => resolve({ ok: false, status: 0, body: { error: "网络连接失败，请稍后再试" } });
    xhr.send(data);
  });
}

export function editRadar(radar, groups, limits, saved) {
  const maxMb = (limits && limits.max_upload_mb) || 0;
  const sizeNote = maxMb ? `，单个文件不超过 ${maxMb} MB` : "";
  const f = h("form", { class: "ui-form radar-editor", novalidate: true });
  const rows = {};
  const field = (name, label, input, help) => (rows[name] = h("div", { class: "field", "data-field": name },
    h("label", { class: "title" }, label), input, help ? h("div", { class: "help" }, help) : null, h("div", { class: "error" })));
  const type = h("select", { name: "type", disabled: !!radar },
    Object.entries(TYPES).map(([v, l]) => h("option", { value: v, selected: radar && radar.type === v }, l)));
  const group = h("select", { name: "group_id" }, h("option", { value: "" }, "未分组"), groups.map((g) =>
    h("option", { value: g.id, selected: radar && radar.group_id === g.id }, g.name)));
  const check = (name, on) => h("input", { type: "checkbox", name, checked: on });
  const tags = picker({ kind: "tags", value: radar ? radar.tag_ids : [] });
  const files = h("input", { type: "file", name: "files" });
  const current = radar && radar.files.length ? h("div", { class: "help radar-current" }, "当前文件：",
    radar.files.map((file, i) => h("a", { href: `/api/radar/files/${file.name}`, target: "_blank", rel: "noopener" },
      radar.type === "pdf" ? `PDF（${file.pages || "?"} 页）` : `${TYPES[radar.type]} ${i + 1}`, " ")),
    "；重新上传会替换") : null;
  const cover = radar && radar.cover ? h("div", { class: "help" }, "当前封面：",
    h("img", { class: "radar-thumb", src: `/api/radar/files/${radar.cover}`, alt: "当前封面" }), "；重新上传会替换") : null;
  const progress = h("progress", { max: 100, value: 0, class: "hidden", style: "width:100%" });
  f.append(field("name", "雷达名称", h("input", { name: "name", value: radar ? radar.name : "", maxlength: 64 }), "仅后台可见，最多 64 个字"),
    field("group_id", "选择分组", group), field("type", "文件类型", type, radar ? "创建后不能修改文件类型" : null),
    field("url", "链接地址", h("input", { name: "url", value: radar ? radar.url : "", placeholder: "https://" }), "客户打开后跳转到这个网址"),
    field("files", "上传内容", h("div", {}, files, current)),
    field("title", "雷达标题", h("input", { name: "title", value: radar ? radar.title : "", maxlength: 64 }), "显示在客户收到的卡片上，最多 64 个字"),
    field("description", "雷达描述", h("textarea", { name: "description", maxlength: 256 }, radar ? radar.description : ""), "显示在卡片标题下方，最多 256 个字"),
    field("cover", "封面图", h("div", {}, h("input", { type: "file", name: "cover", accept: "image/png,image/jpeg,image/gif,image/webp" }), cover),
      `PNG / JPEG / GIF / WebP 图片${sizeNote}；不上传则使用默认封面`),
    field("friends_only", "仅好友查看", check("friends_only", radar ? radar.friends_only : false), "开启后，不是企业客户的访客需先添加员工才能查看"),
    field("tag_ids", "访问后打标签", tags.el),
    field("alert", "访问时提醒员工", check("alert", radar ? radar.alert : true)),
    field("timeline", "记录到客户动态", check("timeline", radar ? radar.timeline : true)),
    progress);
  const fit = () => {  // only the fields of the chosen type
    const kind = type.value;
    rows.url.classList.toggle("hidden", kind !== "link");
    rows.files.classList.toggle("hidden", kind === "link");
    if (CONTENT[kind]) {
      files.accept = CONTENT[kind].accept;
      files.multiple = CONTENT[kind].multiple;
      rows.files.querySelector(".help:not(.radar-current)")?.remove();
      rows.files.querySelector(".error").before(h("div", { class: "help" }, CONTENT[kind].help + sizeNote));
    }
  };
  type.addEventListener("change", fit);
  fit();
  const clear = () => { for (const row of Object.values(rows)) { row.classList.remove("invalid"); row.querySelector(".error").textContent = ""; } };
  const dialog = modal({ title: radar ? "编辑雷达" : "新增雷达", body: f, actions: [{ label: "取消" }, { label: "保存", primary: true,
    onClick: async () => {
      clear();
      const data = new FormData(f);
      for (const name of ["friends_only", "alert", "timeline"]) data.set(name, f.elements[name].checked ? "true" : "false");
      if (!radar) data.set("type", type.value);
      data.set("tag_ids", tags.value().join(","));
      for (const [k, v] of [...data.entries()]) if (v instanceof File && !v.size) data.delete(k);
      progress.classList.remove("hidden");
      const resp = await send(radar ? "PATCH" : "POST", radar ? `/api/radar/radars/${radar.id}` : "/api/radar/radars", data,
        (pct) => { progress.value = pct; });
      progress.classList.add("hidden");
      if (!resp.ok) {
        const row = rows[resp.body.field];
        if (row) { row.classList.add("invalid"); row.querySelector(".error").textContent = resp.body.error; row.scrollIntoView({ block: "center" }); }
        else toast(resp.body.error || "保存失败", "error");
        return false;
      }
      toast("已保存", "success");
      await saved();
    } }] });
  return dialog;
}
