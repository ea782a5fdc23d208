// One shell for both entries WeCom opens: /sidebar (客户侧边栏) and /toolbar (聊天工具栏).
import { startShell } from "/static/common/tiles.js";
const area = location.pathname.split("/")[1] === "toolbar" ? "toolbar" : "sidebar";
const title = { sidebar: "客户侧边栏", toolbar: "聊天工具栏" }[area];
document.title = title;
document.getElementById("title").textContent = title;
startShell(area, title);
