// The sam serve page: open an image (uploaded once, encoded on the server),
// click foreground / background points or drag a box; each change asks
// POST /v1/images/{id}/predict with all prompts and the previous mask's
// low-res logits (mask_input), and draws the returned COCO RLE masks.
"use strict";

const $ = (id) => document.getElementById(id);
const ui = {
  file: $("file"), undo: $("undo"), redo: $("redo"), clear: $("clear"), keep: $("keep"),
  everything: $("everything"), multimask: $("multimask"), downloadMask: $("download-mask"),
  downloadCoco: $("download-coco"), choices: $("choices"), status: $("status"), stage: $("stage"),
  image: $("image"), overlay: $("overlay"),
};

// One state of the prompts and what the server answered for it. Undo / redo
// move between states; the answers are kept, so moving costs no request.
function emptyState() { return { points: [], box: null, result: null, selected: 0 }; }

const app = {
  imageId: null, fileName: "", width: 0, height: 0,
  history: [emptyState()], cursor: 0,  // history[cursor] is shown
  kept: [],                            // annotations kept with "Keep mask"
  everything: null,                    // masks of the last "everything" run
  predictCalls: 0, lastDecodeMs: null,
  drag: null,
};
window.samApp = app;  // for tests and the console

function state() { return app.history[app.cursor]; }

function setStatus(text, isError) {
  ui.status.textContent = text;
  ui.status.classList.toggle("error", !!isError);
}

async function api(method, path, body, contentType) {
  const headers = {};
  if (body !== undefined && contentType) headers["Content-Type"] = contentType;
  const res = await fetch(path, { method, body, headers });
  const type = res.headers.get("Content-Type") || "";
  const data = type.includes("application/json") ? await res.json() : await res.blob();
  if (!res.ok) throw new Error((data && data.error) || `${method} ${path}: HTTP ${res.status}`);
  return data;
}

// --- COCO RLE ---------------------------------------------------------------
// pycocotools' compressed counts (rleFrString): 5 bits per character with a
// continuation bit, offset 48; counts after the second are deltas to the count
// two before. Runs alternate 0 / 1 in column-major order, starting with 0.
function decodeCounts(s) {
  const counts = [];
  let p = 0;
  while (p < s.length) {
    let x = 0, k = 0, more = true;
    while (more) {
      const c = s.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p++; k++;
      if (!more && (c & 0x10)) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}

// Row-major Uint8Array [h * w] of 0 / 1.
function rleToMask(seg) {
  const [h, w] = seg.size;
  const mask = new Uint8Array(h * w);
  let pos = 0, value = 0;
  for (const n of decodeCounts(seg.counts)) {
    if (value) for (let i = pos; i < pos + n; i++) mask[(i % h) * w + Math.floor(i / h)] = 1;
    pos += n;
    value ^= 1;
  }
  return mask;
}

// --- drawing ------------------------------------------------------------------
const COLORS = [[30, 144, 255], [255, 99, 71], [50, 205, 50], [255, 215, 0], [186, 85, 211], [0, 206, 209],
                [255, 140, 0], [199, 21, 133], [127, 255, 0], [70, 130, 180]];

function paintMask(pixels, mask, color, alpha) {
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const o = 4 * i;
    pixels[o] = color[0]; pixels[o + 1] = color[1]; pixels[o + 2] = color[2]; pixels[o + 3] = alpha;
  }
}

function currentMask() {
  const s = state();
  if (!s.result || !s.result.masks.length) return null;
  const m = s.result.masks[Math.min(s.selected, s.result.masks.length - 1)];
  if (!m.bits) m.bits = rleToMask(m.segmentation);
  return m;
}

function render() {
  const ctx = ui.overlay.getContext("2d");
  ctx.clearRect(0, 0, app.width, app.height);
  if (!app.imageId) return;
  const img = ctx.createImageData(app.width, app.height);
  if (app.everything)
    app.everything.forEach((m, k) => paintMask(img.data, m.bits || (m.bits = rleToMask(m.segmentation)),
                                               COLORS[k % COLORS.length], 110));
  app.kept.forEach((m, k) => paintMask(img.data, m.bits, COLORS[(k + 1) % COLORS.length], 120));
  const m = currentMask();
  if (m) paintMask(img.data, m.bits, COLORS[0], 130);
  ctx.putImageData(img, 0, 0);
  const s = state();
  const r = Math.max(4, Math.round(Math.max(app.width, app.height) / 150));
  for (const [x, y, label] of s.points) {
    ctx.beginPath();
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.fillStyle = label ? "#22c55e" : "#ef4444";
    ctx.fill();
    ctx.lineWidth = Math.max(1, r / 3);
    ctx.strokeStyle = "#fff";
    ctx.stroke();
  }
  const box = app.drag && app.drag.moved ? app.drag.box : s.box;
  if (box) {
    ctx.lineWidth = Math.max(2, r / 2);
    ctx.strokeStyle = "#facc15";
    ctx.strokeRect(box[0], box[1], box[2] - box[0], box[3] - box[1]);
  }
  updateControls();
}

function updateControls() {
  const s = state();
  ui.undo.disabled = app.cursor === 0;
  ui.redo.disabled = app.cursor >= app.history.length - 1;
  ui.clear.disabled = !app.imageId || (!s.points.length && !s.box);
  ui.keep.disabled = !currentMask();
  ui.everything.disabled = !app.imageId;
  ui.downloadMask.disabled = !currentMask();
  ui.downloadCoco.disabled = !app.imageId || !(currentMask() || app.kept.length || app.everything);
  ui.choices.replaceChildren();
  if (!s.result || s.result.masks.length < 2) return;
  s.result.masks.forEach((m, k) => {
    const b = document.createElement("button");
    b.textContent = `mask ${k + 1} (${m.score.toFixed(3)})`;
    b.className = k === s.selected ? "selected" : "";
    b.onclick = () => { s.selected = k; render(); };
    ui.choices.appendChild(b);
  });
}

// --- prompts ----------------------------------------------------------------
function imagePoint(event) {
  const rect = ui.overlay.getBoundingClientRect();
  const x = (event.clientX - rect.left) * (app.width / rect.width);
  const y = (event.clientY - rect.top) * (app.height / rect.height);
  return [Math.min(Math.max(x, 0), app.width), Math.min(Math.max(y, 0), app.height)];
}

// A new state after the shown one (dropping the redo branch), then its answer.
function pushState(points, box) {
  const prev = state();
  const next = { points, box, result: null, selected: 0 };
  app.history = app.history.slice(0, app.cursor + 1);
  app.history.push(next);
  app.cursor++;
  render();
  if (!points.length && !box) return;
  const prevMask = prev.result && prev.result.masks.length ? currentMaskOf(prev) : null;
  predict(next, prevMask ? prevMask.logits_id : null);
}

function currentMaskOf(s) { return s.result.masks[Math.min(s.selected, s.result.masks.length - 1)]; }

async function predict(target, maskInput) {
  const body = { points: target.points, multimask: ui.multimask.checked || (target.points.length === 1 && !target.box) };
  if (target.box) body.box = target.box;
  if (maskInput) body.mask_input = maskInput;
  const t0 = performance.now();
  try {
    let result;
    try {
      result = await api("POST", `/v1/images/${app.imageId}/predict`, JSON.stringify(body), "application/json");
    } catch (e) {
      if (!maskInput || !/logits id/.test(e.message)) throw e;
      delete body.mask_input;  // the logits were evicted: ask again without them
      result = await api("POST", `/v1/images/${app.imageId}/predict`, JSON.stringify(body), "application/json");
    }
    const roundTrip = performance.now() - t0;
    target.result = result;
    app.predictCalls++;
    app.lastDecodeMs = result.decode_ms;
    const best = result.masks[0];
    setStatus(`decode ${result.decode_ms.toFixed(1)} ms (round trip ${roundTrip.toFixed(0)} ms) · ` +
              `${result.masks.length} mask(s), best score ${best ? best.score.toFixed(3) : "-"} · ` +
              `${target.points.length} point(s)${target.box ? " + box" : ""}`);
  } catch (e) {
    setStatus(e.message, true);
  }
  if (target === state()) render();
}

ui.overlay.addEventListener("contextmenu", (e) => e.preventDefault());
ui.overlay.addEventListener("mousedown", (e) => {
  if (!app.imageId) return;
  e.preventDefault();
  const p = imagePoint(e);
  if (e.button === 2) return pushState([...state().points, [p[0], p[1], 0]], state().box);
  if (e.button === 0) app.drag = { start: p, box: null, moved: false };
});
ui.overlay.addEventListener("mousemove", (e) => {
  if (!app.drag) return;
  const p = imagePoint(e), s = app.drag.start;
  const rect = ui.overlay.getBoundingClientRect();
  const screenDist = Math.hypot(p[0] - s[0], p[1] - s[1]) * (rect.width / app.width);
  if (screenDist > 5) app.drag.moved = true;
  app.drag.box = [Math.min(s[0], p[0]), Math.min(s[1], p[1]), Math.max(s[0], p[0]), Math.max(s[1], p[1])];
  if (app.drag.moved) render();
});
window.addEventListener("mouseup", (e) => {
  const d = app.drag;
  if (!d || e.button !== 0) return;
  app.drag = null;
  if (d.moved && d.box[2] > d.box[0] && d.box[3] > d.box[1]) return pushState(state().points, d.box);
  pushState([...state().points, [d.start[0], d.start[1], 1]], state().box);
});

function undo() { if (app.cursor > 0) { app.cursor--; render(); } }
function redo() { if (app.cursor < app.history.length - 1) { app.cursor++; render(); } }
ui.undo.onclick = undo;
ui.redo.onclick = redo;
ui.clear.onclick = () => pushState([], null);
ui.keep.onclick = keepMask;
window.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === "z") { e.preventDefault(); e.shiftKey ? redo() : undo(); }
  else if ((e.ctrlKey || e.metaKey) && e.key === "y") { e.preventDefault(); redo(); }
  else if (e.key === "Escape" && app.imageId) pushState([], null);
  else if (e.key === "Enter") keepMask();
});

function keepMask() {
  const m = currentMask();
  if (!m) return;
  app.kept.push(m);
  app.history = [emptyState()];
  app.cursor = 0;
  setStatus(`kept ${app.kept.length} mask(s); click to start the next object`);
  render();
}

// --- image ------------------------------------------------------------------
async function openImage(file) {
  if (!file) return;
  setStatus(`uploading ${file.name} ...`);
  try {
    const info = await api("POST", "/v1/images", file, file.type || "application/octet-stream");
    const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    Object.assign(app, { imageId: info.image_id, fileName: file.name, width: info.width, height: info.height,
                         history: [emptyState()], cursor: 0, kept: [], everything: null });
    for (const c of [ui.image, ui.overlay]) { c.width = info.width; c.height = info.height; }
    ui.image.getContext("2d").drawImage(bitmap, 0, 0, info.width, info.height);
    ui.stage.hidden = false;
    setStatus(`${file.name}: ${info.width}x${info.height}, ` +
              (info.cached ? "embedding already cached" : `encoded in ${info.encode_ms.toFixed(0)} ms`) +
              ". Left click: foreground, right click: background, drag: box.");
    render();
  } catch (e) {
    setStatus(e.message, true);
  }
}
ui.file.addEventListener("change", () => openImage(ui.file.files[0]));
document.addEventListener("dragover", (e) => e.preventDefault());
document.addEventListener("drop", (e) => { e.preventDefault(); openImage(e.dataTransfer.files[0]); });

ui.everything.onclick = async () => {
  setStatus("segmenting everything ...");
  ui.everything.disabled = true;
  try {
    const r = await api("POST", `/v1/images/${app.imageId}/everything`, "{}", "application/json");
    app.everything = r.masks;
    setStatus(`everything: ${r.masks.length} masks in ${r.timing.total_ms.toFixed(0)} ms`);
  } catch (e) {
    setStatus(e.message, true);
  }
  render();
};

// --- downloads ----------------------------------------------------------------
function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function stem() { return app.fileName.replace(/\.[^.]*$/, "") || "image"; }

ui.downloadMask.onclick = () => {
  const m = currentMask();
  const c = document.createElement("canvas");
  c.width = app.width; c.height = app.height;
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(app.width, app.height);
  for (let i = 0; i < m.bits.length; i++) {
    const v = m.bits[i] ? 255 : 0;
    img.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
  c.toBlob((blob) => download(blob, `${stem()}_mask.png`), "image/png");
};

ui.downloadCoco.onclick = () => {
  const masks = [...app.kept];
  const m = currentMask();
  if (m && !masks.includes(m)) masks.push(m);
  const all = masks.map((x) => ({ seg: x.segmentation, area: x.area, bbox: x.bbox, score: x.score }))
    .concat((app.everything || []).map((x) => ({ seg: x.segmentation, area: x.area, bbox: x.bbox,
                                                  score: x.predicted_iou })));
  const coco = {
    images: [{ id: 1, file_name: app.fileName, width: app.width, height: app.height }],
    categories: [{ id: 1, name: "object" }],
    annotations: all.map((a, k) => ({ id: k + 1, image_id: 1, category_id: 1, segmentation: a.seg, area: a.area,
                                      bbox: a.bbox, iscrowd: 0, score: a.score })),
  };
  download(new Blob([JSON.stringify(coco)], { type: "application/json" }), `${stem()}_coco.json`);
};
