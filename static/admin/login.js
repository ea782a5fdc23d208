// Keep the page the person wanted to reach (?next=) through the scan login.
const next = new URLSearchParams(location.search).get("next");
if (next && next.startsWith("/") && !next.startsWith("//")) {
  document.getElementById("login").href = "/auth/login?next=" + encodeURIComponent(next);
}
