// The customer's landing page: shows the content, rewrites the URL so a forward carries this
// visitor, and sends small heartbeats (view time and progress) with navigator.sendBeacon.
const cfg = JSON.parse(document.getElementById("radar-config").textContent);
const content = document.getElementById("content");
let visibleMs = 0;
let since = document.visibilityState === "visible" ? performance.now() : 0;
let progress = 0;
let maxPage = 0;

history.replaceState(null, "", cfg.self);

function seconds() {
  const extra = since ? performance.now() - since : 0;
  return Math.round((visibleMs + extra) / 1000);
}

function beat() {
  const body = JSON.stringify({ k: cfg.key, t: seconds(), p: Math.round(progress), pg: maxPage });
  if (navigator.sendBeacon) navigator.sendBeacon(cfg.beat, body);
  else fetch(cfg.beat, { method: "POST", body, keepalive: true }).catch(() => {});
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") {
    if (since) visibleMs += performance.now() - since;
    since = 0;
    beat();
  } else {
    since = performance.now();
  }
});
window.addEventListener("pagehide", beat);
setInterval(() => { if (document.visibilityState === "visible") beat(); }, 5000);

function scrollDepth() {
  const doc = document.documentElement;
  const seen = window.scrollY + window.innerHeight;
  const depth = doc.scrollHeight > 0 ? Math.min(100, (seen / doc.scrollHeight) * 100) : 100;
  progress = Math.max(progress, depth);
}

// Resolves true once the image is drawn, false when it cannot be loaded.
function imageShown(img) {
  const loaded = img.complete
    ? Promise.resolve(img.naturalWidth > 0)
    : new Promise((resolve) => {
      img.addEventListener("load", () => resolve(true), { once: true });
      img.addEventListener("error", () => resolve(false), { once: true });
    });
  return loaded.then((ok) => ok && new Promise((r) => requestAnimationFrame(() => r(true))));
}

async function showPdf() {
  const status = document.getElementById("pdf-status");
  // The first page comes as an image drawn at upload, shown before the viewer loads; the
  // viewer (half a megabyte) is requested only once it is on screen, so on a phone's network
  // the two do not share the bandwidth. Without the image the viewer draws page 1 itself.
  const cover = document.getElementById("pdf-first");
  const covered = cover ? await imageShown(cover) : false;
  if (covered) performance.mark("pdf-first-page"); // read by bench/pdf_phone.py
  else if (cover) cover.remove();
  // The worker (the viewer's biggest file) starts downloading now, beside pdf.min.mjs, rather
  // than after it: on a phone's network the two in a row cost a round trip and the
  // library's whole download time.
  const worker = new Worker(cfg.worker, { type: "module" });
  const pdfjs = await import("/static/vendor/pdfjs/pdf.min.mjs");
  pdfjs.GlobalWorkerOptions.workerPort = worker;
  // Only the byte ranges the drawn pages need: without disableStream pdf.js also downloads
  // the whole file beside its range requests, and without disableAutoFetch it fetches the
  // rest in the background; on a phone both compete with the pages for the bandwidth.
  const doc = await pdfjs.getDocument({
    url: cfg.files[0],
    isEvalSupported: false,
    disableStream: true,
    disableAutoFetch: true,
  }).promise;
  status.textContent = `共 ${doc.numPages} 页`;
  const seen = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      const page = Number(e.target.dataset.page);
      maxPage = Math.max(maxPage, page);
      progress = Math.max(progress, (maxPage / doc.numPages) * 100);
    }
  }, { threshold: 0.5 });
  const width = Math.min(content.clientWidth || window.innerWidth, 900);
  const ratio = window.devicePixelRatio || 1;
  const first = (await doc.getPage(1)).getViewport({ scale: 1 });
  // Every page gets a placeholder of the first page's shape; a page is drawn only when it
  // comes near the screen, so the first page shows without waiting for the others.
  const render = async (canvas) => {
    if (canvas.dataset.rendered) return;
    canvas.dataset.rendered = "1";
    const page = await doc.getPage(Number(canvas.dataset.page));
    const base = page.getViewport({ scale: 1 });
    const viewport = page.getViewport({ scale: (width / base.width) * ratio });
    canvas.width = viewport.width;
    canvas.height = viewport.height;
    canvas.style.height = `${viewport.height / ratio}px`;
    await page.render({ canvasContext: canvas.getContext("2d"), viewport }).promise;
  };
  const near = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) render(e.target).catch(() => {});
  }, { rootMargin: "600px 0px" });
  if (covered) seen.observe(cover);
  for (let n = covered ? 2 : 1; n <= doc.numPages; n++) {
    const canvas = document.createElement("canvas");
    canvas.dataset.page = String(n);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${(first.height * width) / first.width}px`;
    content.appendChild(canvas);
    seen.observe(canvas);
    near.observe(canvas);
  }
  if (!covered) {
    await render(content.querySelector("canvas[data-page='1']"));
    performance.mark("pdf-first-page");
  }
  performance.mark("pdf-viewer-ready"); // the other pages can be drawn from here on
}

if (cfg.kind === "pdf") {
  showPdf().catch(() => {
    document.getElementById("pdf-status").textContent = "文档加载失败，请稍后重试";
  });
} else if (cfg.kind === "images") {
  window.addEventListener("scroll", scrollDepth, { passive: true });
  window.addEventListener("load", scrollDepth);
} else if (cfg.kind === "video") {
  const video = content.querySelector("video");
  video.addEventListener("timeupdate", () => {
    if (video.duration) progress = Math.max(progress, (video.currentTime / video.duration) * 100);
  });
}
