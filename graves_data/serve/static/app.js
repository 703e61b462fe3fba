// graves-data serve: the page. Plain DOM and SVG, no build step; every call is the documented API.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const INK_SCALE = 10; // units per CSS pixel in saved ink: integer coordinates, 0.1 px apart
const $ = (id) => document.getElementById(id);
const state = { info: null, ds: null, offset: 0, limit: 25, line: null, chunkOffset: 0, runs: [] };

async function api(path, options) {
  const response = await fetch(path, options);
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new Error((body && body.error) || response.statusText);
  return body;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

function rows(table, data) {
  const body = table.tBodies[0] || table;
  body.replaceChildren(...data.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, String(c))))));
  return body;
}

// --- tabs ------------------------------------------------------------------------------------

function showTab() {
  const name = (location.hash || "#explorer").slice(1);
  for (const section of document.querySelectorAll("section.tab")) section.hidden = section.id !== name;
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.tab === name);
}

// --- explorer --------------------------------------------------------------------------------

async function openDataset(name) {
  state.ds = await api(`/api/datasets/${encodeURIComponent(name)}`);
  state.offset = 0;
  const ds = state.ds;
  $("ds-summary").textContent = `${ds.corpus} (${ds.kind}), vocabulary of ${ds.vocab_size}, content hash ${String(ds.content_hash).slice(0, 12)}`;
  const splits = Object.entries(ds.splits);
  rows($("ds-splits"), [["split", "rows"], ...splits]);
  $("split-filter").replaceChildren(el("option", { value: "" }, "all splits"), ...splits.map(([s]) => el("option", { value: s }, s)));
  $("chunk-split").replaceChildren(...splits.map(([s]) => el("option", { value: s }, s)));
  $("q-count").textContent = ds.quarantine.length;
  rows($("quarantine"), ds.quarantine.map((q) => [q.source, q.code, q.reason]));
  renderStats(ds);
  const text = ds.kind === "text";
  $("hw-view").hidden = text;
  $("text-view").hidden = !text;
  if (text) { state.chunkOffset = 0; await loadChunks(); } else await loadLines();
}

function renderStats(ds) {
  const report = ds.stats;
  const out = [];
  for (const [split, s] of Object.entries(report.splits || {})) {
    if (ds.kind === "text") out.push([split, `${s.chunks ?? s.rows ?? ""} chunks`, `${s.symbols ?? ""} symbols`]);
    else out.push([split, `${s.lines} lines`, `${s.points} points`, `${s.writers} writers`,
      `coverage ${(100 * s.coverage).toFixed(2)}%`, `interpolated ${s.cleaning.interpolated}`, `dropped ${s.cleaning.dropped}`]);
  }
  const table = el("table", { class: "small" }, el("tbody"));
  rows(table, out);
  $("stats").replaceChildren(table);
  $("plots").replaceChildren(...ds.plots.map((p) => el("img", { src: `/api/datasets/${encodeURIComponent(ds.name)}/plots/${p}.png`, alt: p, title: p })));
}

async function loadLines() {
  const ds = state.ds;
  const params = new URLSearchParams({ q: $("search").value, split: $("split-filter").value, offset: state.offset, limit: state.limit });
  const ticket = (state.linesTicket = (state.linesTicket || 0) + 1);
  const found = await api(`/api/datasets/${encodeURIComponent(ds.name)}/lines?${params}`);
  if (ticket !== state.linesTicket) return; // a later search has been sent: show only its answer
  $("lines-total").textContent = `${found.total} lines` + (found.total ? `, ${found.offset + 1}-${Math.min(found.total, found.offset + found.limit)}` : "");
  const body = $("lines").tBodies[0];
  body.replaceChildren(...found.lines.map((line) => {
    const tr = el("tr", { "data-line": line.line_id }, el("td", {}, line.line_id), el("td", {}, line.writer_id || ""), el("td", {}, line.split), el("td", {}, line.text));
    tr.addEventListener("click", () => openLine(line.line_id));
    return tr;
  }));
  $("prev").disabled = state.offset === 0;
  $("next").disabled = state.offset + found.limit >= found.total;
}

async function openLine(lineId) {
  const base = `/api/datasets/${encodeURIComponent(state.ds.name)}/lines/${encodeURIComponent(lineId)}`;
  const ticket = (state.lineTicket = (state.lineTicket || 0) + 1);
  const [svgText, line] = await Promise.all([api(`${base}.svg`), api(base)]);
  if (ticket !== state.lineTicket) return;
  state.line = line;
  $("prime-ds").value = state.ds.name; // the playground's "dataset line" prime: the line shown
  $("prime-line").value = line.line_id;
  for (const tr of $("lines").tBodies[0].rows) tr.classList.toggle("selected", tr.dataset.line === lineId);
  $("line-title").textContent = `${line.line_id}: ${line.text}`;
  const svg = new DOMParser().parseFromString(svgText, "image/svg+xml").documentElement;
  svg.removeAttribute("width"); svg.removeAttribute("height");
  $("line-svg").replaceChildren(document.importNode(svg, true));
  const counts = Object.entries(line.counts).map(([k, v]) => [k.replace(/^n_/, ""), v]);
  rows($("line-counts"), [["writer", line.writer_id || "unknown"], ["form", line.form_id], ["split", line.split], ...counts]);
  $("play").disabled = false;
  $("raw-reason").textContent = line.raw ? `${line.raw.reduce((n, s) => n + s.length, 0)} raw points` : line.raw_reason;
  $("show-raw").disabled = !line.raw;
  drawRaw();
}

function currentSvg() { return $("line-svg").querySelector("svg"); }

function drawRaw() {
  const svg = currentSvg();
  if (!svg) return;
  svg.querySelector("g.raw")?.remove();
  if (!$("show-raw").checked || !state.line?.raw) return;
  const group = document.createElementNS(SVG_NS, "g");
  group.setAttribute("class", "raw");
  const box = svg.viewBox.baseVal;
  const r = Math.max(box.width, box.height) / 400;
  for (const stroke of state.line.raw) for (const [x, y] of stroke) {
    const dot = document.createElementNS(SVG_NS, "circle");
    dot.setAttribute("cx", x); dot.setAttribute("cy", y); dot.setAttribute("r", r);
    dot.setAttribute("fill", "#e53935"); dot.setAttribute("fill-opacity", "0.6");
    group.append(dot);
  }
  svg.prepend(group);
}

// replay at the recorded speed: each point appears at its time (cumulative dt) after the start
function play() {
  const svg = currentSvg();
  const line = state.line;
  if (!svg || !line) return;
  const group = svg.querySelector("g[stroke]") || svg.querySelector("g:not(.raw)");
  const width = group ? group.getAttribute("stroke-width") : "1";
  const fresh = document.createElementNS(SVG_NS, "g");
  fresh.setAttribute("fill", "none"); fresh.setAttribute("stroke", "black"); fresh.setAttribute("stroke-width", width);
  fresh.setAttribute("stroke-linecap", "round"); fresh.setAttribute("stroke-linejoin", "round");
  const lines = line.strokes.map(() => { const p = document.createElementNS(SVG_NS, "polyline"); fresh.append(p); return p; });
  group?.replaceWith(fresh);
  const points = line.strokes.flatMap((s, k) => s.map((p) => [k, p]));
  const t0 = points.length ? points[0][1][2] : 0;
  const total = points.length;
  svg.dataset.totalPoints = total;
  svg.dataset.drawnPoints = 0;
  svg.dataset.state = "playing";
  const drawn = line.strokes.map(() => []);
  let next = 0;
  const start = performance.now();
  function frame(now) {
    const elapsed = (now - start) / 1000;
    while (next < total && points[next][1][2] - t0 <= elapsed) {
      const [k, p] = points[next++];
      drawn[k].push(`${p[0]},${p[1]}`);
      lines[k].setAttribute("points", drawn[k].join(" "));
    }
    svg.dataset.drawnPoints = next;
    if (next < total) requestAnimationFrame(frame); else svg.dataset.state = "done";
  }
  requestAnimationFrame(frame);
}

async function loadChunks() {
  const ds = state.ds;
  const params = new URLSearchParams({ split: $("chunk-split").value, offset: state.chunkOffset, limit: 20 });
  const found = await api(`/api/datasets/${encodeURIComponent(ds.name)}/chunks?${params}`);
  $("chunk-info").textContent = `chunks ${found.offset + 1}-${found.offset + found.chunks.length} of ${found.total}`;
  $("chunks").replaceChildren(...found.chunks.map((c) => el("div", { title: `offset ${c.offset}` },
    ...c.segments.map((s) => (s.unknown ? el("mark", { class: "unk" }, s.text) : document.createTextNode(s.text))))));
}

// --- ink pads: pointer events (mouse, pen, touch) --------------------------------------------

function makePad(container) {
  const svg = document.createElementNS(SVG_NS, "svg");
  container.append(svg);
  const pad = { strokes: [], svg };
  let current = null, polyline = null;
  function point(e) {
    const box = svg.getBoundingClientRect();
    const pressure = e.pressure || (e.pointerType === "mouse" ? 0.5 : 0);
    return [Math.round((e.clientX - box.left) * INK_SCALE), Math.round((e.clientY - box.top) * INK_SCALE),
      Math.round(e.timeStamp * 10) / 10000, Math.round(pressure * 1000) / 1000];
  }
  function add(e) {
    const p = point(e);
    const last = current[current.length - 1];
    if (last && last[0] === p[0] && last[1] === p[1]) return;
    if (last && p[2] < last[2]) p[2] = last[2];
    current.push(p);
    polyline.setAttribute("points", current.map((q) => `${q[0] / INK_SCALE},${q[1] / INK_SCALE}`).join(" "));
  }
  svg.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    if (svg.setPointerCapture && e.isTrusted) svg.setPointerCapture(e.pointerId);
    current = [];
    polyline = document.createElementNS(SVG_NS, "polyline");
    polyline.setAttribute("fill", "none"); polyline.setAttribute("stroke", "black");
    polyline.setAttribute("stroke-width", "2"); polyline.setAttribute("stroke-linecap", "round");
    svg.append(polyline);
    add(e);
  });
  svg.addEventListener("pointermove", (e) => {
    if (!current) return;
    const events = e.getCoalescedEvents && e.isTrusted ? e.getCoalescedEvents() : [e];
    for (const ev of events.length ? events : [e]) add(ev);
  });
  const end = () => { if (current && current.length) pad.strokes.push(current); current = null; };
  svg.addEventListener("pointerup", end);
  svg.addEventListener("pointercancel", end);
  pad.clear = () => { pad.strokes = []; svg.replaceChildren(); };
  return pad;
}

// --- ink capture -----------------------------------------------------------------------------

async function loadInk() {
  const found = await api("/api/ink");
  rows($("ink-list"), found.lines.map((l) => [l.file, l.text ?? l.error, l.strokes ?? "", l.points ?? ""]));
}

async function saveInk(pad) {
  const status = $("ink-status");
  try {
    const body = { text: $("ink-text").value, writer: $("ink-writer").value, strokes: pad.strokes };
    const saved = await api("/api/ink", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    status.textContent = `saved ${saved.file} (${saved.strokes} strokes, ${saved.points} points)`;
    status.dataset.saved = saved.file;
    pad.clear(); $("ink-text").value = "";
    await loadInk();
  } catch (err) { status.textContent = `not saved: ${err.message}`; }
}

// --- playground ------------------------------------------------------------------------------

function currentRun() { return state.runs.find((r) => r.name === $("run-select").value); }

function flagOov() {
  const run = currentRun();
  const preview = $("oov-preview");
  if (!run) return;
  const known = new Set(run.symbols);
  const text = $("synth-text").value;
  const unknown = [...new Set([...text].filter((c) => !known.has(c)))];
  preview.replaceChildren(...[...text].map((c) => el("span", known.has(c) ? {} : { class: "oov", title: "not in the run's vocabulary" }, c)));
  preview.dataset.unknown = unknown.join("");
  if (unknown.length) preview.append(el("span", { class: "problem" }, `  not in the vocabulary: ${unknown.join(" ")}`));
  $("synth-text").disabled = run.task !== "synthesis";
}

function heatmap(phi, text) {
  const canvas = $("heatmap");
  if (!phi || !phi.length) { canvas.hidden = true; return; }
  canvas.hidden = false;
  const steps = phi.length, chars = phi[0].length;
  const ctx = canvas.getContext("2d");
  const left = 16, w = (canvas.width - left) / steps, h = canvas.height / chars;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  let top = 0;
  for (const row of phi) for (const v of row) top = Math.max(top, v);
  for (let t = 0; t < steps; t++) for (let u = 0; u < chars; u++) {
    const v = phi[t][u] / (top || 1);
    ctx.fillStyle = `hsl(${260 - 200 * v}, 80%, ${15 + 55 * v}%)`;
    ctx.fillRect(left + t * w, u * h, Math.ceil(w), Math.ceil(h));
  }
  ctx.fillStyle = "#000"; ctx.font = `${Math.min(12, h)}px monospace`;
  [...text].forEach((c, u) => ctx.fillText(c === " " ? "·" : c, 2, (u + 0.8) * h));
}

function drawProgressively(container, strokes) {
  const svg = container.querySelector("svg");
  if (!svg) return;
  svg.removeAttribute("width"); svg.removeAttribute("height");
  const lines = [...svg.querySelectorAll("polyline")];
  const full = lines.map((l) => l.getAttribute("points").split(" "));
  lines.forEach((l) => l.setAttribute("points", ""));
  let k = 0, i = 0;
  svg.dataset.state = "drawing";
  function frame() {
    for (let n = 0; n < 12 && k < lines.length; n++) {
      i++;
      lines[k].setAttribute("points", full[k].slice(0, i).join(" "));
      if (i >= full[k].length) { k++; i = 0; }
    }
    if (k < lines.length) requestAnimationFrame(frame); else svg.dataset.state = "done";
  }
  requestAnimationFrame(frame);
}

async function write(primePad) {
  const run = currentRun();
  if (!run) return;
  const status = $("synth-status");
  const body = { run: run.name, bias: Number($("bias").value), seed: Number($("seed").value), attempts: Number($("attempts").value) };
  if (run.task === "synthesis") body.text = $("synth-text").value;
  const prime = document.querySelector("input[name=prime]:checked").value;
  if (prime === "line") body.prime = { dataset: $("prime-ds").value, line_id: $("prime-line").value };
  if (prime === "ink") body.prime = { strokes: primePad.strokes, text: $("prime-text").value };
  status.textContent = "writing...";
  $("write").disabled = true;
  try {
    const result = await api("/api/synthesize", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const container = $("synth-result");
    container.innerHTML = result.svg.replace(/^<\?xml[^>]*>\s*/, "");
    container.dataset.points = result.points;
    drawProgressively(container, result.strokes);
    heatmap(result.phi, result.text);
    const rate = result.clean_rate;
    status.textContent = `${result.points} points; ` + (result.clean ? "window clean" : `window: ${result.problems.join("; ")}`)
      + (rate && rate.samples ? `; clean-line rate ${(100 * rate.rate).toFixed(0)}% of ${rate.samples} samples` : "");
    $("attempts-view").replaceChildren(...result.attempts.map((a) => el("div", { class: a.problems.length ? "problem" : "ok" },
      `seed ${a.seed}: ${a.problems.length ? a.problems.join("; ") + " (redrawn)" : "clean"}`)));
    const link = $("download");
    link.href = URL.createObjectURL(new Blob([result.svg], { type: "image/svg+xml" }));
    link.hidden = false;
  } catch (err) { status.textContent = `error: ${err.message}`; }
  $("write").disabled = false;
}

// --- start -----------------------------------------------------------------------------------

async function start() {
  window.addEventListener("hashchange", showTab);
  showTab();
  const info = await api("/api/datasets");
  state.info = info;
  state.runs = info.runs;
  const names = info.datasets.map((d) => d.name);
  $("ds-select").replaceChildren(...names.map((n) => el("option", { value: n }, n)));
  $("prime-ds").replaceChildren(...info.datasets.filter((d) => d.kind !== "text").map((d) => el("option", { value: d.name }, d.name)));
  $("ds-select").addEventListener("change", (e) => openDataset(e.target.value));
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); state.offset = 0; loadLines(); });
  $("search").addEventListener("input", () => { state.offset = 0; loadLines(); });
  $("split-filter").addEventListener("change", () => { state.offset = 0; loadLines(); });
  $("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); loadLines(); });
  $("next").addEventListener("click", () => { state.offset += state.limit; loadLines(); });
  $("play").addEventListener("click", play);
  $("show-raw").addEventListener("change", drawRaw);
  $("chunk-split").addEventListener("change", () => { state.chunkOffset = 0; loadChunks(); });
  $("chunk-prev").addEventListener("click", () => { state.chunkOffset = Math.max(0, state.chunkOffset - 20); loadChunks(); });
  $("chunk-next").addEventListener("click", () => { state.chunkOffset += 20; loadChunks(); });

  $("no-runs").hidden = info.runs.length > 0;
  $("play-form").hidden = info.runs.length === 0;
  $("run-select").replaceChildren(...info.runs.map((r) => el("option", { value: r.name }, `${r.name} (${r.task})`)));
  const primePad = makePad($("prime-pad"));
  window.primePad = primePad;
  $("prime-clear").addEventListener("click", () => primePad.clear());
  $("run-select").addEventListener("change", () => { const r = currentRun(); $("run-task").textContent = r ? r.task : ""; flagOov(); });
  $("synth-text").addEventListener("input", flagOov);
  $("bias").addEventListener("input", () => { $("bias-out").textContent = Number($("bias").value).toFixed(1); });
  $("write").addEventListener("click", () => write(primePad));
  if (info.runs.length) { $("run-task").textContent = info.runs[0].task; flagOov(); }

  $("no-ink").hidden = info.ink;
  $("ink-form").hidden = !info.ink;
  const inkPad = makePad($("ink-pad"));
  window.inkPad = inkPad;
  $("ink-clear").addEventListener("click", () => inkPad.clear());
  $("ink-save").addEventListener("click", () => saveInk(inkPad));
  if (info.ink) await loadInk();
  if (names.length) await openDataset(names[0]);
  document.body.dataset.ready = "true";
}

start().catch((err) => { document.body.dataset.error = err.message; console.error(err); });
