// The dashboard's stylesheet and browser script, served by the app itself
// (no CDN: it works offline). The script is plain ES2020 in a raw string:
// no template literals inside, and every user-provided string reaches the
// page through `textContent` or `setAttribute`, never as HTML.

/** The dashboard's stylesheet. */
export const CLIENT_CSS: string = String.raw`
:root { --fg: #1f2933; --muted: #616e7c; --line: #d9e2ec; --bg: #f5f7fa; --card: #fff;
  --accent: #2563eb; --ok: #15803d; --bad: #b91c1c; --run: #b45309; font-size: 14px; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 12px; }
.top { display: flex; gap: 16px; align-items: center; padding: 8px 20px; background: #102a43; color: #fff; }
.top a { color: #fff; }
.brand { font-weight: 700; letter-spacing: .04em; }
.live { margin-left: auto; font-size: 12px; color: #bcccdc; }
.live.ok::before { content: "\25CF  "; color: #3ebd93; }
.live.down::before { content: "\25CF  "; color: #ef4e4e; }
main { padding: 16px 20px 40px; max-width: 1500px; margin: 0 auto; }
.foot { padding: 12px 20px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); }
h1 { font-size: 22px; margin: 4px 0; overflow-wrap: anywhere; }
h2 { font-size: 16px; margin: 24px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 14px; margin: 12px 0 6px; overflow-wrap: anywhere; }
.subtitle { color: var(--muted); margin: 0 0 8px; overflow-wrap: anywhere; }
.error { color: var(--bad); }
.muted { color: var(--muted); }
.toolbar { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; margin: 8px 0; }
.toolbar label { display: inline-flex; gap: 6px; align-items: center; }
button, select, input[type=search] { font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
button { cursor: pointer; }
button:disabled { cursor: default; opacity: .5; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px; }
table.grid { border-collapse: collapse; background: var(--card); width: 100%; }
table.grid th, table.grid td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
table.grid th { background: #f0f4f8; font-weight: 600; white-space: nowrap; }
table.grid td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.sortable th[data-sort-key] { cursor: pointer; user-select: none; }
table.sortable th[aria-sort=ascending]::after { content: " \25B2"; font-size: 10px; }
table.sortable th[aria-sort=descending]::after { content: " \25BC"; font-size: 10px; }
.wrap { overflow-x: auto; }
td.name { max-width: 360px; overflow-wrap: anywhere; }
td.params { max-width: 320px; color: var(--muted); font-size: 12px; overflow-wrap: anywhere; }
.chip { display: inline-block; padding: 1px 7px; margin: 1px 3px 1px 0; border-radius: 10px; background: #e4e7eb; font-size: 12px; overflow-wrap: anywhere; }
.chip.alias { background: #dbeafe; color: #1e3a8a; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; color: #fff; background: var(--muted); }
.badge.status-finished { background: var(--ok); }
.badge.status-failed, .badge.status-killed { background: var(--bad); }
.badge.status-running { background: var(--run); }
.meta { display: flex; flex-wrap: wrap; gap: 14px; align-items: center; color: var(--muted); margin: 4px 0 8px; }
details > summary { cursor: pointer; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 12px; }
figure { margin: 0; }
figure.chart { position: relative; background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 8px; }
figure.chart figcaption { display: flex; gap: 6px; align-items: center; font-weight: 600; margin-bottom: 4px; overflow-wrap: anywhere; }
figure.chart figcaption .key { flex: 1; }
figure.chart figcaption button { padding: 0 6px; font-size: 12px; }
figure.chart svg { width: 100%; height: auto; display: block; touch-action: none; }
svg text { font-size: 12px; fill: var(--muted); }
svg.histogram { width: 100%; max-width: 760px; display: block; }
svg.histogram text { font-size: 11px; }
svg .gridline { stroke: #e4e7eb; stroke-width: 1; }
svg .axis { stroke: #9aa5b1; stroke-width: 1; }
svg polyline { fill: none; stroke-width: 1.5; stroke-linejoin: round; }
svg .cross { stroke: #9aa5b1; stroke-dasharray: 3 3; }
svg .select { fill: rgba(37, 99, 235, .12); stroke: var(--accent); }
.tooltip { position: absolute; pointer-events: none; background: rgba(16, 42, 67, .92); color: #fff; padding: 5px 8px; border-radius: 4px; font-size: 12px; white-space: pre; z-index: 5; }
.legend { display: flex; flex-wrap: wrap; gap: 12px; margin: 6px 0; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
.gallery { display: flex; flex-wrap: wrap; gap: 12px; }
.gallery figure { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 6px; max-width: 280px; }
.gallery img { display: block; image-rendering: pixelated; min-width: 112px; max-width: 260px; background: #000; }
.gallery figcaption, .media-caption { font-size: 12px; color: var(--muted); margin-top: 4px; overflow-wrap: anywhere; }
.media-block { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px; margin-bottom: 10px; }
.media-block pre { white-space: pre-wrap; overflow-wrap: anywhere; max-height: 420px; overflow: auto; background: #f8fafc; padding: 8px; margin: 6px 0 0; }
.step-slider { display: flex; gap: 10px; align-items: center; margin: 6px 0 10px; }
.step-slider input { width: 320px; max-width: 60vw; }
table.heatmap { border-collapse: collapse; font-size: 12px; }
table.heatmap td, table.heatmap th { border: 1px solid #fff; padding: 3px 6px; text-align: center; min-width: 30px; }
table.heatmap th { background: #f0f4f8; }
table.heatmap td.hot { color: #fff; }
.axis-label { font-size: 12px; color: var(--muted); margin: 4px 0; }
.artifact { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px; margin-bottom: 10px; }
.artifact ul { margin: 4px 0; padding-left: 18px; }
iframe.html-media { width: 100%; height: 320px; border: 1px solid var(--line); background: #fff; }
`;

/** The dashboard's browser script. */
export const CLIENT_JS: string = String.raw`(function () {
"use strict";
var SVGNS = "http://www.w3.org/2000/svg";
var body = document.body;
var POLL_MS = Number(body.getAttribute("data-poll-ms")) || 2000;
var COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f", "#854d0e", "#475569"];
var STATUSES = ["running", "finished", "failed", "killed"];
var uid = 0;

// ---- DOM helpers: text goes through textContent, never innerHTML ----
function append(node, children) {
  if (children === undefined || children === null || children === false) return node;
  if (!Array.isArray(children)) children = [children];
  for (var i = 0; i < children.length; i++) {
    var child = children[i];
    if (child === undefined || child === null || child === false) continue;
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  return node;
}
function setProps(node, props) {
  if (!props) return;
  Object.keys(props).forEach(function (key) {
    var value = props[key];
    if (value === undefined || value === null || value === false) return;
    if (key === "text") node.textContent = String(value);
    else if (key === "class") node.setAttribute("class", value);
    else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
    else if (key === "value") node.value = value;
    else if (key === "checked") node.checked = true;
    else node.setAttribute(key, value === true ? "" : String(value));
  });
}
function h(tag, props, children) {
  var node = document.createElement(tag);
  setProps(node, props);
  return append(node, children);
}
function s(tag, attrs, children) {
  var node = document.createElementNS(SVGNS, tag);
  setProps(node, attrs);
  return append(node, children);
}
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
function enc(text) { return encodeURIComponent(text); }
function runUrl(project, runId) { return "/runs/" + enc(project) + "/" + enc(runId); }
function apiRun(project, runId) { return "/api/runs/" + enc(project) + "/" + enc(runId); }
function section(parent, id, title) {
  var node = document.getElementById(id);
  if (!node) {
    node = h("section", { id: id, hidden: true }, [h("h2", { text: title }), h("div", { class: "content" })]);
    parent.appendChild(node);
  }
  return node;
}
function showSection(node, visible) { node.hidden = !visible; return node.querySelector(".content"); }

// ---- formatting ----
function num(value) { return typeof value === "number" ? value : Number(value); }
function fmtNum(value) {
  if (value === undefined || value === null || value === "") return "";
  var v = num(value);
  if (!isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  var a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return Number(v.toPrecision(5)).toExponential();
  return String(Number(v.toPrecision(5)));
}
function fmtTime(ms) { return ms ? new Date(ms).toLocaleString() : ""; }
function fmtDuration(ms) {
  if (!(ms >= 0)) return "";
  var sec = Math.round(ms / 1000);
  if (sec < 60) return sec + " s";
  var min = Math.floor(sec / 60);
  if (min < 60) return min + " min " + (sec % 60) + " s";
  return Math.floor(min / 60) + " h " + (min % 60) + " min";
}
function fmtBytes(n) {
  if (!(n >= 0)) return "";
  var units = ["B", "KiB", "MiB", "GiB", "TiB"];
  var i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(n) : n.toFixed(1)) + " " + units[i];
}
function statusBadge(status) {
  var known = STATUSES.indexOf(status) >= 0 ? status : "other";
  return h("span", { class: "badge status-" + known, "data-status": status, text: status });
}
function chips(items, cls) {
  return (items || []).map(function (item) { return h("span", { class: "chip" + (cls ? " " + cls : ""), text: item }); });
}
function runName(run) { return run.name || run.runId; }

// ---- fetching, with ETags: an unchanged answer is a 304 ----
var etags = new Map();
var bodies = new Map();
async function getJSON(url) {
  var headers = {};
  if (etags.has(url)) headers["if-none-match"] = etags.get(url);
  var res = await fetch(url, { headers: headers, cache: "no-store" });
  if (res.status === 304 && bodies.has(url)) return { data: bodies.get(url), changed: false };
  if (!res.ok) {
    var message = res.status + " " + res.statusText;
    try { message = (await res.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  var data = await res.json();
  var tag = res.headers.get("etag");
  if (tag) { etags.set(url, tag); bodies.set(url, data); }
  return { data: data, changed: true };
}
var textCache = new Map();
function getText(url) {
  if (!textCache.has(url)) {
    textCache.set(url, fetch(url).then(function (res) {
      if (!res.ok) throw new Error(res.status + " " + res.statusText);
      return res.text();
    }));
  }
  return textCache.get(url);
}
var live = document.getElementById("live");
function setLive(ok, error) {
  if (!live) return;
  live.className = "live " + (ok ? "ok" : "down");
  live.textContent = ok ? "live · updated " + new Date().toLocaleTimeString() : "cannot reach the dashboard: " + (error && error.message);
}
// Polls while the page is visible (once at least).
function every(fn) {
  var running = false, started = false;
  async function tick() {
    if (!running && !(document.hidden && started)) {
      running = true;
      started = true;
      try { await fn(); setLive(true); } catch (error) { setLive(false, error); console.error(error); }
      running = false;
    }
    setTimeout(tick, POLL_MS);
  }
  tick();
}

// ---- charts: SVG line charts with zoom, hover, log scale, smoothing ----
var W = 560, H = 270, M = { l: 58, r: 14, t: 10, b: 30 };
var PW = W - M.l - M.r, PH = H - M.t - M.b;
var MAX_DRAWN = 8000;

function niceTicks(a, b, count) {
  var span = b - a;
  if (!(span > 0) || !isFinite(span)) return [a];
  var raw = span / count;
  var mag = Math.pow(10, Math.floor(Math.log10(raw)));
  var err = raw / mag;
  var step = (err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1) * mag;
  var out = [];
  for (var v = Math.ceil(a / step) * step; v <= b + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}
function smooth(values, weight) {
  if (!(weight > 0)) return values;
  var out = new Array(values.length);
  var last = 0, n = 0;
  for (var i = 0; i < values.length; i++) {
    var v = values[i];
    if (!isFinite(v)) { out[i] = v; continue; }
    last = last * weight + (1 - weight) * v;
    n++;
    out[i] = last / (1 - Math.pow(weight, n));
  }
  return out;
}
// Points sorted by step (a series may be logged out of order).
function prepare(series) {
  var n = series.steps.length;
  var order = new Array(n);
  for (var i = 0; i < n; i++) order[i] = i;
  var sorted = true;
  for (var j = 1; j < n; j++) if (series.steps[j] < series.steps[j - 1]) { sorted = false; break; }
  if (!sorted) order.sort(function (a, b) { return series.steps[a] - series.steps[b] || a - b; });
  return {
    name: series.name, color: series.color,
    x: order.map(function (k) { return series.steps[k]; }),
    y: order.map(function (k) { return num(series.values[k]); }),
  };
}
// The first index whose x is >= x (> x with "after"), in sorted xs.
function lowerBound(xs, x, after) {
  var lo = 0, hi = xs.length;
  while (lo < hi) { var mid = (lo + hi) >> 1; if (after ? xs[mid] <= x : xs[mid] < x) lo = mid + 1; else hi = mid; }
  return lo;
}
function nearest(xs, x) {
  var lo = 0, hi = xs.length - 1;
  if (hi < 0) return -1;
  while (hi - lo > 1) { var mid = (lo + hi) >> 1; if (xs[mid] < x) lo = mid; else hi = mid; }
  return Math.abs(xs[lo] - x) <= Math.abs(xs[hi] - x) ? lo : hi;
}
// Keeps the first, lowest, highest and last finite point of each bucket
// when there are too many points to draw; a bucket without any keeps one
// non-finite point, so the line still breaks there.
function decimate(xs, ys, keep) {
  if (xs.length <= keep) return null;
  var buckets = Math.floor(keep / 4), size = xs.length / buckets, idx = [];
  for (var b = 0; b < buckets; b++) {
    var from = Math.floor(b * size), to = Math.min(xs.length, Math.floor((b + 1) * size));
    var first = -1, last = -1, lo = -1, hi = -1;
    for (var i = from; i < to; i++) {
      if (!isFinite(ys[i])) continue;
      if (first < 0) first = i;
      last = i;
      if (lo < 0 || ys[i] < ys[lo]) lo = i;
      if (hi < 0 || ys[i] > ys[hi]) hi = i;
    }
    var picked = first < 0 ? [from] : [first, lo, hi, last].sort(function (p, q) { return p - q; });
    picked.forEach(function (k) { if (idx[idx.length - 1] !== k) idx.push(k); });
  }
  return idx;
}

function ChartBoard(container, options) {
  var board = { log: false, smoothing: 0, charts: new Map(), filter: "" };
  var smoothing = h("input", { type: "range", id: "smoothing", min: "0", max: "0.99", step: "0.01", value: "0" });
  var smoothingOut = h("output", { id: "smoothing-value", text: "0" });
  var logBox = h("input", { type: "checkbox", id: "log-scale" });
  var filter = h("input", { type: "search", id: "metric-filter", placeholder: "Filter metrics" });
  var grid = h("div", { class: "charts", id: "charts" });
  var empty = h("p", { class: "muted", text: (options && options.empty) || "No metrics logged yet." });
  smoothing.addEventListener("input", function () {
    board.smoothing = Number(smoothing.value);
    smoothingOut.textContent = smoothing.value;
    board.charts.forEach(function (chart) { chart.render(); });
  });
  logBox.addEventListener("change", function () {
    board.log = logBox.checked;
    board.charts.forEach(function (chart) { chart.view.y = null; chart.render(); });
  });
  filter.addEventListener("input", function () {
    board.filter = filter.value.toLowerCase();
    board.charts.forEach(function (chart, key) { chart.root.hidden = board.filter !== "" && key.toLowerCase().indexOf(board.filter) < 0; });
  });
  append(container, [
    h("div", { class: "toolbar" }, [
      h("label", { title: "Exponential moving average, debiased" }, ["Smoothing", smoothing, smoothingOut]),
      h("label", null, [logBox, "Log scale (y)"]),
      h("button", { type: "button", id: "reset-zoom", text: "Reset zoom", onclick: function () { board.charts.forEach(function (chart) { chart.reset(); }); } }),
      filter,
      h("span", { class: "muted", text: "Drag on a chart to zoom (double-click resets)." }),
    ]),
    empty, grid,
  ]);
  // seriesByKey: Map key -> [{ name, color, steps, values }]
  board.update = function (seriesByKey) {
    var keys = Array.from(seriesByKey.keys()).sort();
    empty.hidden = keys.length > 0;
    keys.forEach(function (key) {
      var chart = board.charts.get(key);
      if (!chart) {
        chart = Chart(key, board);
        board.charts.set(key, chart);
        chart.root.hidden = board.filter !== "" && key.toLowerCase().indexOf(board.filter) < 0;
      }
      chart.setData(seriesByKey.get(key));
    });
    keys.forEach(function (key) { grid.appendChild(board.charts.get(key).root); });
  };
  return board;
}

function Chart(key, board) {
  var chart = { view: { x: null, y: null }, series: [] };
  var clipId = "clip" + (++uid);
  var svg = s("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": key });
  var tooltip = h("div", { class: "tooltip", hidden: true });
  var root = h("figure", { class: "chart", "data-key": key }, [
    h("figcaption", null, [
      h("span", { class: "key", text: key }),
      h("button", { type: "button", class: "zoom-in", title: "Zoom in", text: "+", onclick: function () { zoom(0.5); } }),
      h("button", { type: "button", class: "zoom-out", title: "Zoom out", text: "\u2212", onclick: function () { zoom(2); } }),
      h("button", { type: "button", class: "zoom-reset", title: "Reset zoom", text: "\u21BA", onclick: function () { chart.reset(); } }),
    ]),
    svg, tooltip,
  ]);
  chart.root = root;
  var prepared = [], domain = null, scale = null;

  chart.setData = function (series) { chart.series = series; prepared = series.map(prepare); chart.render(); };
  chart.reset = function () { chart.view = { x: null, y: null }; chart.render(); };
  function zoom(factor) {
    if (!scale) return;
    var c = (scale.x0 + scale.x1) / 2, half = (scale.x1 - scale.x0) / 2 * factor;
    var x0 = c - half, x1 = c + half;
    if (domain && x0 <= domain.x0 && x1 >= domain.x1) chart.view.x = null;
    else chart.view.x = [x0, x1];
    chart.view.y = null;
    chart.render();
  }
  function ty(v) { return board.log ? (v > 0 ? Math.log10(v) : NaN) : v; }

  chart.render = function () {
    clear(svg);
    var total = 0, drawn = 0;
    var lines = prepared.map(function (p) {
      total += p.x.length;
      var sm = smooth(p.y, board.smoothing);
      return { p: p, raw: p.y.map(ty), smooth: board.smoothing > 0 ? sm.map(ty) : null };
    });
    root.setAttribute("data-points", String(total));
    root.setAttribute("data-series", String(prepared.length));
    root.setAttribute("data-log", String(board.log));
    // Domain: every point; the view: zoomed, else the domain.
    var x0 = Infinity, x1 = -Infinity;
    lines.forEach(function (l) { if (l.p.x.length) { x0 = Math.min(x0, l.p.x[0]); x1 = Math.max(x1, l.p.x[l.p.x.length - 1]); } });
    if (!isFinite(x0)) { x0 = 0; x1 = 1; }
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    domain = { x0: x0, x1: x1 };
    if (chart.view.x) { x0 = chart.view.x[0]; x1 = chart.view.x[1]; }
    var y0 = Infinity, y1 = -Infinity;
    if (chart.view.y) { y0 = chart.view.y[0]; y1 = chart.view.y[1]; }
    else {
      lines.forEach(function (l) {
        [l.raw, l.smooth].forEach(function (ys) {
          if (!ys) return;
          for (var i = 0; i < ys.length; i++) {
            var x = l.p.x[i];
            if (x < x0 || x > x1 || !isFinite(ys[i])) continue;
            if (ys[i] < y0) y0 = ys[i];
            if (ys[i] > y1) y1 = ys[i];
          }
        });
      });
      if (!isFinite(y0)) { y0 = 0; y1 = 1; }
      if (y0 === y1) { y0 -= Math.abs(y0) * 0.1 || 1; y1 += Math.abs(y1) * 0.1 || 1; }
      var pad = (y1 - y0) * 0.05;
      y0 -= pad; y1 += pad;
    }
    scale = { x0: x0, x1: x1, y0: y0, y1: y1 };
    svg.setAttribute("data-x-min", String(x0));
    svg.setAttribute("data-x-max", String(x1));
    function sx(x) { return M.l + (x - x0) / (x1 - x0) * PW; }
    function sy(y) { return M.t + PH - (y - y0) / (y1 - y0) * PH; }
    // Grid and axes.
    var axes = s("g", { class: "axes" });
    niceTicks(x0, x1, 6).forEach(function (t) {
      var x = sx(t);
      axes.appendChild(s("line", { class: "gridline", x1: x, x2: x, y1: M.t, y2: M.t + PH }));
      axes.appendChild(s("text", { x: x, y: H - 10, "text-anchor": "middle", text: fmtNum(t) }));
    });
    var yTicks;
    if (board.log) {
      yTicks = [];
      var e0 = Math.ceil(y0), e1 = Math.floor(y1), stride = Math.max(1, Math.ceil((e1 - e0 + 1) / 7));
      for (var e = e0; e <= e1; e += stride) yTicks.push(e);
      if (yTicks.length < 2) yTicks = niceTicks(y0, y1, 5);
    } else yTicks = niceTicks(y0, y1, 5);
    yTicks.forEach(function (t) {
      var y = sy(t);
      axes.appendChild(s("line", { class: "gridline", x1: M.l, x2: M.l + PW, y1: y, y2: y }));
      axes.appendChild(s("text", { class: "ytick", x: M.l - 6, y: y + 4, "text-anchor": "end", text: board.log ? fmtNum(Number(Math.pow(10, t).toPrecision(Number.isInteger(t) ? 1 : 3))) : fmtNum(t) }));
    });
    axes.appendChild(s("line", { class: "axis", x1: M.l, x2: M.l + PW, y1: M.t + PH, y2: M.t + PH }));
    axes.appendChild(s("line", { class: "axis", x1: M.l, x2: M.l, y1: M.t, y2: M.t + PH }));
    svg.appendChild(axes);
    var defs = s("defs", null, [s("clipPath", { id: clipId }, [s("rect", { x: M.l, y: M.t, width: PW, height: PH })])]);
    svg.appendChild(defs);
    var plot = s("g", { "clip-path": "url(#" + clipId + ")" });
    lines.forEach(function (l) {
      var g = s("g", { class: "series", "data-series": l.p.name, "data-points": String(l.p.x.length) });
      // Only the points in view (and one beyond each side) are drawn, thinned
      // out when there are more than MAX_DRAWN: zooming in shows them all.
      var from = Math.max(0, lowerBound(l.p.x, x0) - 1), to = Math.min(l.p.x.length, lowerBound(l.p.x, x1, true) + 1);
      function draw(ys, cls, opacity) {
        var slice = decimate(l.p.x.slice(from, to), ys.slice(from, to), MAX_DRAWN);
        var keep = slice ? slice.map(function (k) { return k + from; }) : null;
        var count = 0, pts = [];
        var flush = function () {
          if (pts.length) {
            g.appendChild(s("polyline", { class: cls, points: pts.join(" "), stroke: l.p.color, "stroke-opacity": opacity }));
            count += pts.length;
          }
          pts = [];
        };
        var n = keep ? keep.length : to - from;
        for (var j = 0; j < n; j++) {
          var i = keep ? keep[j] : from + j;
          if (!isFinite(ys[i])) { flush(); continue; }
          pts.push(sx(l.p.x[i]).toFixed(2) + "," + sy(ys[i]).toFixed(2));
        }
        flush();
        return count;
      }
      var rawCount = draw(l.raw, "raw", l.smooth ? 0.25 : 1);
      drawn += rawCount;
      g.setAttribute("data-drawn", String(rawCount));
      if (l.smooth) draw(l.smooth, "smooth", 1);
      // Dots where lines would hide lone points.
      if (to - from <= 60) {
        var ys = l.smooth || l.raw;
        for (var i = from; i < to; i++) {
          if (isFinite(ys[i])) g.appendChild(s("circle", { class: "dot", cx: sx(l.p.x[i]).toFixed(2), cy: sy(ys[i]).toFixed(2), r: 2.5, fill: l.p.color }));
        }
      }
      plot.appendChild(g);
    });
    svg.appendChild(plot);
    root.setAttribute("data-drawn", String(drawn));
    var cross = s("line", { class: "cross", y1: M.t, y2: M.t + PH, visibility: "hidden" });
    var marks = s("g", { class: "marks" });
    var selection = s("rect", { class: "select", visibility: "hidden" });
    var hit = s("rect", { class: "hit", x: M.l, y: M.t, width: PW, height: PH, fill: "transparent" });
    append(svg, [cross, marks, selection, hit]);
    wire(hit, cross, marks, selection, sx, sy);
  };

  function wire(hit, cross, marks, selection, sx, sy) {
    var drag = null;
    function point(event) {
      var rect = svg.getBoundingClientRect();
      return { x: (event.clientX - rect.left) * W / rect.width, y: (event.clientY - rect.top) * H / rect.height };
    }
    function toX(px) { return scale.x0 + (px - M.l) / PW * (scale.x1 - scale.x0); }
    function toY(py) { return scale.y0 + (M.t + PH - py) / PH * (scale.y1 - scale.y0); }
    hit.addEventListener("pointerdown", function (event) {
      drag = point(event);
      hit.setPointerCapture && hit.setPointerCapture(event.pointerId);
    });
    hit.addEventListener("pointermove", function (event) {
      var p = point(event);
      if (drag) {
        var x = Math.min(drag.x, p.x), y = Math.min(drag.y, p.y);
        setProps(selection, { x: x, y: y, width: Math.abs(p.x - drag.x), height: Math.abs(p.y - drag.y), visibility: "visible" });
        tooltip.hidden = true;
        return;
      }
      hover(p, event);
    });
    hit.addEventListener("pointerup", function (event) {
      if (!drag) return;
      var p = point(event), start = drag;
      drag = null;
      selection.setAttribute("visibility", "hidden");
      if (Math.abs(p.x - start.x) < 5) return;
      var xa = toX(Math.max(M.l, Math.min(start.x, p.x))), xb = toX(Math.min(M.l + PW, Math.max(start.x, p.x)));
      chart.view.x = [xa, xb];
      chart.view.y = Math.abs(p.y - start.y) >= 5 ? [toY(Math.max(start.y, p.y)), toY(Math.min(start.y, p.y))] : null;
      chart.render();
    });
    hit.addEventListener("pointerleave", function () {
      if (drag) return;
      cross.setAttribute("visibility", "hidden");
      clear(marks);
      tooltip.hidden = true;
    });
    hit.addEventListener("dblclick", function () { chart.reset(); });
    function hover(p, event) {
      var x = toX(p.x);
      var lines = [], best = null;
      clear(marks);
      prepared.forEach(function (series) {
        var i = nearest(series.x, x);
        if (i < 0) return;
        if (best === null || Math.abs(series.x[i] - x) < Math.abs(best - x)) best = series.x[i];
      });
      if (best === null) return;
      prepared.forEach(function (series) {
        var i = nearest(series.x, best);
        if (i < 0 || series.x[i] !== best) return;
        var v = series.y[i];
        var text = (prepared.length > 1 ? series.name + ": " : "") + fmtNum(v);
        if (board.smoothing > 0) text += " (smoothed " + fmtNum(smooth(series.y, board.smoothing)[i]) + ")";
        lines.push(text);
        var yv = board.log ? (v > 0 ? Math.log10(v) : NaN) : v;
        if (isFinite(yv)) marks.appendChild(s("circle", { cx: sx(best), cy: sy(yv), r: 4, fill: series.color, stroke: "#fff" }));
      });
      setProps(cross, { x1: sx(best), x2: sx(best), visibility: "visible" });
      tooltip.textContent = "step " + best + "\n" + lines.join("\n");
      tooltip.hidden = false;
      var fig = root.getBoundingClientRect();
      var left = event.clientX - fig.left + 14;
      if (left > fig.width - 180) left = event.clientX - fig.left - 190;
      tooltip.style.left = Math.max(0, left) + "px";
      tooltip.style.top = (event.clientY - fig.top + 10) + "px";
    }
  }
  return chart;
}

// ---- runs table ----
function runsPage() {
  var main = document.getElementById("main");
  var params = new URLSearchParams(location.search);
  var state = { project: params.get("project") || "", sort: { key: "started", dir: -1 }, filter: "", selected: new Set(), runs: [] };
  var picker = h("select", { id: "project" }, [h("option", { value: "", text: "All projects" })]);
  var filter = h("input", { type: "search", id: "run-filter", placeholder: "Filter by name, tag, id" });
  var compare = h("button", { type: "button", id: "compare", disabled: true, text: "Compare selected" });
  var artifactsLink = h("a", { id: "artifacts-link", hidden: true, text: "Artifacts" });
  var count = h("span", { class: "muted", id: "run-count" });
  var table = h("table", { class: "grid sortable", id: "runs" });
  append(main, [
    h("div", { class: "toolbar" }, [h("label", null, ["Project", picker]), filter, compare, artifactsLink, count]),
    h("div", { class: "wrap" }, [table]),
  ]);
  picker.addEventListener("change", function () {
    state.project = picker.value;
    history.replaceState(null, "", state.project ? "/?project=" + enc(state.project) : "/");
    refresh().catch(function (error) { setLive(false, error); });
  });
  filter.addEventListener("input", function () { state.filter = filter.value.toLowerCase(); render(); });
  compare.addEventListener("click", function () {
    location.href = "/compare?runs=" + Array.from(state.selected).map(enc).join(",");
  });
  function columns(runs) {
    var seen = new Map();
    runs.forEach(function (run) { Object.keys(run.lastMetrics || {}).forEach(function (k) { seen.set(k, (seen.get(k) || 0) + 1); }); });
    var metricKeys = Array.from(seen.keys()).sort(function (a, b) { return seen.get(b) - seen.get(a) || (a < b ? -1 : 1); }).slice(0, 12).sort();
    var cols = [
      { key: "name", label: "Name", get: runName },
      { key: "project", label: "Project", get: function (r) { return r.project; } },
      { key: "status", label: "Status", get: function (r) { return r.status; } },
      { key: "tags", label: "Tags", get: function (r) { return (r.tags || []).join(" "); } },
      { key: "params", label: "Params", get: paramsText },
      { key: "started", label: "Started", get: function (r) { return r.startedMs; }, numeric: true },
      { key: "duration", label: "Duration", get: function (r) { return (r.endedMs || Date.now()) - r.startedMs; }, numeric: true },
    ];
    metricKeys.forEach(function (k) {
      cols.push({ key: "m:" + k, label: k, metric: k, numeric: true, get: function (r) { var m = (r.lastMetrics || {})[k]; return m === undefined ? undefined : num(m.value); } });
    });
    return cols;
  }
  function paramsText(run) {
    return Object.keys(run.params || {}).map(function (k) { return k + "=" + String(run.params[k]); }).join(", ");
  }
  function missing(v, numeric) { return v === undefined || v === null || (numeric && isNaN(v)); }
  function compareValues(a, b, numeric) {
    var ua = missing(a, numeric), ub = missing(b, numeric);
    if (ua || ub) return ua && ub ? 0 : ua ? 1 : -1;
    if (numeric) return a - b;
    return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: "base" });
  }
  function render() {
    var runs = state.runs.filter(function (run) {
      if (!state.filter) return true;
      return [runName(run), run.runId, run.project].concat(run.tags || []).join(" ").toLowerCase().indexOf(state.filter) >= 0;
    });
    var cols = columns(state.runs);
    var col = cols.filter(function (c) { return c.key === state.sort.key; })[0] || cols[5];
    runs.sort(function (a, b) {
      var d = compareValues(col.get(a), col.get(b), col.numeric);
      // Missing values stay last whichever the direction.
      var ma = missing(col.get(a), col.numeric), mb = missing(col.get(b), col.numeric);
      if (ma !== mb) return ma ? 1 : -1;
      return d * state.sort.dir || compareValues(a.startedMs, b.startedMs, true) * -1;
    });
    clear(table);
    var head = h("tr", null, [h("th", { class: "select" }, [h("input", { type: "checkbox", id: "select-all", title: "Select all shown", onchange: function (event) {
      runs.forEach(function (r) { var id = r.project + "/" + r.runId; if (event.target.checked) state.selected.add(id); else state.selected.delete(id); });
      render();
    } })])]);
    cols.forEach(function (c) {
      var sorted = c.key === state.sort.key;
      head.appendChild(h("th", {
        "data-sort-key": c.key, title: "Sort by " + c.label, "aria-sort": sorted ? (state.sort.dir > 0 ? "ascending" : "descending") : "none",
        text: c.label, tabindex: "0",
        onclick: function () { sortBy(c.key); },
        onkeydown: function (event) { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(c.key); } },
      }));
    });
    table.appendChild(h("thead", null, [head]));
    var tbody = h("tbody");
    runs.forEach(function (run) {
      var id = run.project + "/" + run.runId;
      var box = h("input", { type: "checkbox", class: "pick", checked: state.selected.has(id), "aria-label": "Select " + runName(run) });
      box.addEventListener("change", function () { if (box.checked) state.selected.add(id); else state.selected.delete(id); updateCompare(); });
      var row = h("tr", { "data-run": id }, [
        h("td", null, [box]),
        h("td", { class: "name" }, [h("a", { href: runUrl(run.project, run.runId), title: run.runId, text: runName(run) })]),
        h("td", { text: run.project }),
        h("td", null, [statusBadge(run.status)]),
        h("td", { class: "tags" }, chips(run.tags)),
        h("td", { class: "params", title: paramsText(run), text: paramsText(run).slice(0, 160) + (paramsText(run).length > 160 ? "…" : "") }),
        h("td", { title: fmtTime(run.startedMs), text: fmtTime(run.startedMs) }),
        h("td", { class: "num", text: fmtDuration((run.endedMs || Date.now()) - run.startedMs) }),
      ]);
      cols.slice(7).forEach(function (c) {
        var m = (run.lastMetrics || {})[c.metric];
        row.appendChild(h("td", { class: "num", "data-metric": c.metric, title: m ? "step " + m.step : "", text: m ? fmtNum(m.value) : "" }));
      });
      tbody.appendChild(row);
    });
    table.appendChild(tbody);
    count.textContent = runs.length + (runs.length === 1 ? " run" : " runs");
    updateCompare();
  }
  function sortBy(key) {
    if (state.sort.key === key) state.sort.dir = -state.sort.dir;
    else state.sort = { key: key, dir: 1 };
    render();
    var th = table.querySelector('th[data-sort-key="' + CSS.escape(key) + '"]');
    if (th) th.focus();
  }
  function updateCompare() {
    compare.disabled = state.selected.size === 0;
    compare.textContent = "Compare selected (" + state.selected.size + ")";
  }
  async function refresh() {
    var projects = await getJSON("/api/projects");
    if (projects.changed) {
      clear(picker).appendChild(h("option", { value: "", text: "All projects" }));
      projects.data.projects.forEach(function (p) { picker.appendChild(h("option", { value: p, text: p })); });
      picker.value = state.project;
    }
    artifactsLink.hidden = !state.project;
    if (state.project) artifactsLink.setAttribute("href", "/artifacts/" + enc(state.project));
    var res = await getJSON("/api/runs" + (state.project ? "?project=" + enc(state.project) : ""));
    if (res.changed || state.runs !== res.data.runs) { state.runs = res.data.runs; render(); }
  }
  every(refresh);
}

// ---- run page ----
function runPage() {
  var project = body.getAttribute("data-project"), runId = body.getAttribute("data-run");
  var base = apiRun(project, runId);
  var main = document.getElementById("main");
  var title = document.getElementById("title");
  var meta = h("div", { class: "meta", id: "run-meta" });
  var tags = h("div", { class: "tags", id: "run-tags" });
  var paramsBox = h("details", { id: "params" });
  var compareWith = h("select", { id: "compare-with" }, [h("option", { value: "", text: "Compare with…" })]);
  compareWith.addEventListener("change", function () {
    if (compareWith.value) location.href = "/compare?runs=" + enc(project + "/" + runId) + "," + enc(compareWith.value);
  });
  append(document.getElementById("head"), [meta, tags, h("div", { class: "toolbar" }, [compareWith, h("a", { href: "/artifacts/" + enc(project), text: "All artifacts of " + project })]), paramsBox]);
  var metricsSection = section(main, "metrics", "Metrics");
  metricsSection.hidden = false;
  var board = ChartBoard(metricsSection.querySelector(".content"));
  var media = MediaView(main, project, runId);
  var artifactsSection = section(main, "artifacts", "Artifacts");
  var lastParams = "";

  async function refresh() {
    var info = await getJSON(base);
    if (info.changed) {
      var run = info.data.run;
      title.textContent = runName(run);
      document.title = runName(run) + " · uetai";
      clear(meta);
      append(meta, [statusBadge(run.status),
        h("span", { text: "started " + fmtTime(run.startedMs) }),
        h("span", { text: (run.endedMs ? "took " : "running for ") + fmtDuration((run.endedMs || Date.now()) - run.startedMs) })]);
      clear(tags);
      append(tags, chips(run.tags));
      var text = JSON.stringify(run.params || {});
      if (text !== lastParams) {
        lastParams = text;
        clear(paramsBox);
        var keys = Object.keys(run.params || {}).sort();
        if (keys.length <= 8) paramsBox.open = true;
        append(paramsBox, [h("summary", { text: "Parameters (" + keys.length + ")" }),
          h("table", { class: "grid", id: "params-table" }, [h("tbody", null, keys.map(function (k) {
            return h("tr", null, [h("th", { text: k }), h("td", { text: String(run.params[k]) })]);
          }))])]);
      }
    }
    var metrics = await getJSON(base + "/metrics");
    if (metrics.changed) {
      var byKey = new Map();
      Object.keys(metrics.data.metrics).forEach(function (key) {
        var m = metrics.data.metrics[key];
        byKey.set(key, [{ name: runName(info.data.run), color: COLORS[0], steps: m.steps, values: m.values }]);
      });
      board.update(byKey);
    }
    var list = await getJSON(base + "/media");
    if (list.changed) media.update(list.data.media);
    var artifacts = await getJSON(base + "/artifacts");
    if (artifacts.changed) {
      var content = showSection(artifactsSection, artifacts.data.artifacts.length > 0);
      renderArtifacts(clear(content), artifacts.data.artifacts, project + "/" + runId);
    }
  }
  getJSON("/api/runs?project=" + enc(project)).then(function (res) {
    res.data.runs.forEach(function (r) {
      if (r.runId !== runId) compareWith.appendChild(h("option", { value: r.project + "/" + r.runId, text: runName(r) }));
    });
  }).catch(function () { /* the picker stays empty */ });
  every(refresh);
}

// ---- media ----
function groupByKey(entries) {
  var groups = new Map();
  entries.forEach(function (e) { if (!groups.has(e.key)) groups.set(e.key, []); groups.get(e.key).push(e); });
  groups.forEach(function (list) { list.sort(function (a, b) { return a.step - b.step || a.seq - b.seq; }); });
  return groups;
}
function caption(entry) {
  var parts = [entry.key, "step " + entry.step];
  if (entry.metadata && typeof entry.metadata.caption === "string") parts.push(entry.metadata.caption);
  return parts.join(" · ");
}
// A step picker over a key's entries (newest by default), rendering one.
function StepPicked(container, key, kind, show) {
  var block = h("div", { class: "media-block", "data-key": key, "data-kind": kind });
  var pick = h("select", { class: "step-pick", "aria-label": key + " step" });
  var view = h("div", { class: "view" });
  append(block, [h("h3", { text: key }), h("label", { class: "muted" }, ["step ", pick]), view]);
  container.appendChild(block);
  var entries = [], follow = true, shown = null;
  pick.addEventListener("change", function () { follow = pick.selectedIndex === entries.length - 1; draw(); });
  function draw() {
    var entry = entries[pick.selectedIndex] || entries[entries.length - 1];
    if (!entry || entry === shown) return;
    shown = entry;
    block.setAttribute("data-step", String(entry.step));
    Promise.resolve(show(clear(view), entry)).catch(function (error) { append(clear(view), h("p", { class: "error", text: String(error.message || error) })); });
  }
  return {
    block: block,
    update: function (list) {
      var index = pick.selectedIndex;
      entries = list;
      clear(pick);
      list.forEach(function (e) { pick.appendChild(h("option", { text: String(e.step) })); });
      pick.selectedIndex = follow || index < 0 ? list.length - 1 : Math.min(index, list.length - 1);
      draw();
    },
  };
}
function MediaView(main, project, runId) {
  var sections = {
    image: section(main, "images", "Images"),
    audio: section(main, "audio", "Audio"),
    text: section(main, "text", "Text"),
    table: section(main, "tables", "Tables"),
    confusion_matrix: section(main, "confusion", "Confusion matrices"),
    histogram: section(main, "histograms", "Histograms"),
    other: section(main, "other-media", "Other media"),
  };
  var gallery = Gallery(sections.image.querySelector(".content"));
  var blocks = new Map();
  var histogramCounts = new Map();
  var last = "";
  function block(kind, key, factory) {
    var id = kind + "\u0000" + key;
    if (!blocks.has(id)) blocks.set(id, factory());
    return blocks.get(id);
  }
  return {
    update: function (entries) {
      var text = JSON.stringify(entries.map(function (e) { return e.file; }));
      if (text === last) return;
      last = text;
      var byType = new Map();
      entries.forEach(function (e) {
        var type = sections[e.mediaType] ? e.mediaType : "other";
        if (!byType.has(type)) byType.set(type, []);
        byType.get(type).push(e);
      });
      Object.keys(sections).forEach(function (type) { showSection(sections[type], byType.has(type)); });
      gallery.update(byType.get("image") || []);
      groupByKey(byType.get("audio") || []).forEach(function (list, key) {
        block("audio", key, function () { return AudioList(sections.audio.querySelector(".content"), key); }).update(list);
      });
      groupByKey(byType.get("text") || []).forEach(function (list, key) {
        block("text", key, function () { return StepPicked(sections.text.querySelector(".content"), key, "text", showText); }).update(list);
      });
      groupByKey(byType.get("table") || []).forEach(function (list, key) {
        block("table", key, function () { return StepPicked(sections.table.querySelector(".content"), key, "table", showTable); }).update(list);
      });
      groupByKey(byType.get("confusion_matrix") || []).forEach(function (list, key) {
        block("confusion", key, function () { return StepPicked(sections.confusion_matrix.querySelector(".content"), key, "confusion", showConfusion); }).update(list);
      });
      groupByKey(byType.get("histogram") || []).forEach(function (list, key) {
        var b = block("histogram", key, function () {
          var node = h("div", { class: "media-block", "data-key": key, "data-kind": "histogram" }, [h("h3", { text: key }), h("div", { class: "view" })]);
          sections.histogram.querySelector(".content").appendChild(node);
          return node;
        });
        if (histogramCounts.get(key) === list.length) return;
        histogramCounts.set(key, list.length);
        getJSON(apiRun(project, runId) + "/histograms?key=" + enc(key)).then(function (res) {
          showHistograms(clear(b.querySelector(".view")), res.data);
        }).catch(function (error) { append(clear(b.querySelector(".view")), h("p", { class: "error", text: error.message })); });
      });
      groupByKey(byType.get("other") || []).forEach(function (list, key) {
        block("other", key, function () { return StepPicked(sections.other.querySelector(".content"), key, list[0].mediaType, showOther); }).update(list);
      });
    },
  };
}

function Gallery(container) {
  var slider = h("input", { type: "range", id: "image-step", min: "0", max: "0", value: "0", step: "1", "aria-label": "Image step" });
  var label = h("output", { id: "image-step-label" });
  var grid = h("div", { class: "gallery", id: "gallery" });
  append(container, [h("div", { class: "step-slider" }, [h("span", { text: "Step" }), slider, label]), grid]);
  var steps = [], groups = new Map(), figures = new Map(), follow = true;
  slider.addEventListener("input", function () { follow = Number(slider.value) === steps.length - 1; draw(); });
  function draw() {
    var step = steps[Number(slider.value)];
    label.textContent = step === undefined ? "" : String(step);
    slider.setAttribute("data-step", String(step));
    groups.forEach(function (list, key) {
      // The image logged at this step, else the last one before it.
      var entry = null;
      for (var i = 0; i < list.length; i++) if (list[i].step <= step) entry = list[i];
      var fig = figures.get(key);
      if (!fig) {
        fig = { img: h("img", { "data-key": key, alt: key }), cap: h("figcaption") };
        fig.node = h("figure", { "data-key": key }, [fig.img, fig.cap]);
        figures.set(key, fig);
        grid.appendChild(fig.node);
      }
      fig.node.hidden = entry === null;
      if (!entry) return;
      if (fig.img.getAttribute("src") !== entry.url) {
        fig.img.setAttribute("src", entry.url);
        fig.img.setAttribute("data-step", String(entry.step));
        fig.img.setAttribute("alt", key + " at step " + entry.step);
        var w = entry.metadata && entry.metadata.width;
        if (w) fig.img.style.width = (w < 112 ? Math.min(260, w * Math.ceil(112 / w)) : Math.min(260, w)) + "px";
      }
      fig.cap.textContent = caption(entry) + (entry.step !== step ? " (latest before " + step + ")" : "");
    });
  }
  return {
    update: function (entries) {
      groups = groupByKey(entries);
      var all = new Set();
      entries.forEach(function (e) { all.add(e.step); });
      var index = Number(slider.value);
      var current = steps[index];
      steps = Array.from(all).sort(function (a, b) { return a - b; });
      slider.max = String(Math.max(0, steps.length - 1));
      slider.value = String(follow || current === undefined ? steps.length - 1 : Math.max(0, steps.indexOf(current)));
      draw();
    },
  };
}

function AudioList(container, key) {
  var node = h("div", { class: "media-block", "data-key": key, "data-kind": "audio" }, [h("h3", { text: key })]);
  var list = h("div");
  node.appendChild(list);
  container.appendChild(node);
  var shown = 0;
  return {
    update: function (entries) {
      if (entries.length === shown) return;
      shown = entries.length;
      clear(list);
      entries.slice(-10).reverse().forEach(function (e) {
        var m = e.metadata || {};
        var extra = m.durationSeconds ? " · " + fmtNum(m.durationSeconds) + " s" : "";
        if (m.sampleRate) extra += " · " + m.sampleRate + " Hz";
        list.appendChild(h("figure", { "data-step": String(e.step) }, [
          h("audio", { controls: true, preload: "metadata", src: e.url, "data-key": key, "data-step": String(e.step) }),
          h("figcaption", { class: "media-caption", text: caption(e) + extra }),
        ]));
      });
    },
  };
}
async function showText(view, entry) {
  var text = await getText(entry.url);
  append(view, [h("pre", { class: "text-sample", text: text }), h("div", { class: "media-caption", text: caption(entry) })]);
}
async function showTable(view, entry) {
  var json = JSON.parse(await getText(entry.url));
  var rows = json.rows || [];
  var table = h("table", { class: "grid media-table", "data-rows": String(rows.length) }, [
    h("thead", null, [h("tr", null, (json.columns || []).map(function (c) { return h("th", { text: String(c) }); }))]),
    h("tbody", null, rows.slice(0, 1000).map(function (r) {
      return h("tr", null, r.map(function (cell) { return h("td", { class: typeof cell === "number" ? "num" : null, text: cell === null ? "" : typeof cell === "number" ? fmtNum(cell) : String(cell) }); }));
    })),
  ]);
  append(view, [h("div", { class: "wrap" }, [table]), rows.length > 1000 ? h("p", { class: "muted", text: "First 1000 of " + rows.length + " rows." }) : null]);
}
async function showConfusion(view, entry) {
  var json = JSON.parse(await getText(entry.url));
  var labels = json.labels || [], matrix = json.matrix || [];
  var max = 0;
  matrix.forEach(function (row) { row.forEach(function (v) { if (v > max) max = v; }); });
  var head = h("tr", null, [h("th", { text: "" })].concat(labels.map(function (l) { return h("th", { text: String(l) }); })));
  var rows = matrix.map(function (row, i) {
    return h("tr", null, [h("th", { text: String(labels[i]) })].concat(row.map(function (v, j) {
      var share = max > 0 ? v / max : 0;
      var td = h("td", { class: "cell" + (share > 0.55 ? " hot" : ""), "data-row": String(i), "data-col": String(j), "data-count": String(v), title: json.rowLabel + " " + labels[i] + ", " + json.columnLabel + " " + labels[j] + ": " + v, text: String(v) });
      td.style.backgroundColor = "rgba(37, 99, 235, " + (0.06 + share * 0.94).toFixed(3) + ")";
      return td;
    })));
  });
  append(view, [
    h("div", { class: "axis-label", text: (json.title || "") + " · rows: " + (json.rowLabel || "actual") + ", columns: " + (json.columnLabel || "predicted") }),
    h("table", { class: "heatmap", "data-size": String(labels.length) }, [h("thead", null, [head]), h("tbody", null, rows)]),
  ]);
}
function showHistograms(view, data) {
  var entries = data.entries || [];
  if (!entries.length) return;
  var lo = Infinity, hi = -Infinity;
  entries.forEach(function (e) { if (e.edges.length) { lo = Math.min(lo, e.edges[0]); hi = Math.max(hi, e.edges[e.edges.length - 1]); } });
  if (!(hi > lo)) { lo -= 1; hi += 1; }
  var rowH = Math.max(4, Math.min(22, Math.floor(240 / entries.length)));
  var left = 64, width = 520, height = rowH * entries.length;
  var svg = s("svg", { viewBox: "0 0 " + (left + width + 10) + " " + (height + 26), class: "histogram", "data-steps": String(entries.length), role: "img", "aria-label": data.key + " over steps" });
  function sx(v) { return left + (v - lo) / (hi - lo) * width; }
  entries.forEach(function (e, row) {
    var max = Math.max.apply(null, e.counts.concat([1]));
    var g = s("g", { class: "hist-row", "data-step": String(e.step) });
    g.appendChild(s("text", { x: left - 6, y: row * rowH + rowH / 2 + 4, "text-anchor": "end", text: rowH >= 10 || row % Math.ceil(10 / rowH) === 0 ? String(e.step) : "" }));
    e.counts.forEach(function (c, i) {
      if (!c) return;
      var x = sx(e.edges[i]), x2 = sx(e.edges[i + 1]);
      g.appendChild(s("rect", { x: x.toFixed(2), y: row * rowH, width: Math.max(0.5, x2 - x).toFixed(2), height: rowH - 1, fill: "#2563eb", "fill-opacity": (0.08 + 0.92 * c / max).toFixed(3) },
        [s("title", { text: "step " + e.step + " · [" + fmtNum(e.edges[i]) + ", " + fmtNum(e.edges[i + 1]) + ") · " + c })]));
    });
    svg.appendChild(g);
  });
  niceTicks(lo, hi, 6).forEach(function (t) {
    svg.appendChild(s("text", { x: sx(t), y: height + 16, "text-anchor": "middle", text: fmtNum(t) }));
  });
  append(view, [
    svg,
    h("div", { class: "media-caption", text: "One row per logged step (" + data.total + (data.total > entries.length ? ", " + entries.length + " shown" : "") + "), darker: more values in the bin." }),
  ]);
}
async function showOther(view, entry) {
  var link = h("a", { href: entry.url, target: "_blank", rel: "noopener", text: "open " + entry.file.split("/").pop() + " (" + entry.contentType + ", " + fmtBytes(entry.sizeBytes) + ")" });
  if (entry.mediaType === "html") {
    append(view, [h("iframe", { class: "html-media", sandbox: "", src: entry.url, title: entry.key }), link]);
  } else if (entry.mediaType === "graph") {
    var graph = JSON.parse(await getText(entry.url));
    append(view, [h("pre", { text: graph.text || "" }), link]);
  } else if (entry.mediaType === "curve") {
    var curve = JSON.parse(await getText(entry.url));
    var holder = h("div");
    append(view, [holder, link]);
    var board = { log: false, smoothing: 0, filter: "" };
    var chart = Chart(curve.name || entry.key, board);
    holder.appendChild(chart.root);
    chart.setData([{ name: curve.name || entry.key, color: COLORS[0], steps: curve.x, values: curve.y }]);
  } else if (entry.contentType.indexOf("image/") === 0) {
    append(view, [h("img", { src: entry.url, alt: entry.key }), link]);
  } else if (entry.contentType.indexOf("audio/") === 0) {
    append(view, [h("audio", { controls: true, preload: "metadata", src: entry.url }), link]);
  } else if (entry.contentType.indexOf("text/") === 0 || entry.contentType === "application/json") {
    append(view, [h("pre", { text: (await getText(entry.url)).slice(0, 20000) }), link]);
  } else append(view, [link]);
}

// ---- artifacts ----
function refLink(ref, current) {
  var id = ref.project + "/" + ref.runId;
  return h("span", { class: "run-ref" }, [
    h("a", { href: runUrl(ref.project, ref.runId), title: id, text: ref.name || ref.runId }),
    current === id ? h("span", { class: "muted", text: " (this run)" }) : null,
  ]);
}
function renderArtifacts(container, artifacts, current) {
  if (!artifacts.length) { container.appendChild(h("p", { class: "muted", text: "No artifacts." })); return; }
  artifacts.forEach(function (artifact) {
    var project = (artifact.versions[0] && artifact.versions[0].createdBy && artifact.versions[0].createdBy.project) || body.getAttribute("data-project");
    var rows = artifact.versions.slice().reverse().map(function (v) {
      var uses = v.usedBy.length ? v.usedBy.map(function (u) { return refLink(u, current); }) : [h("span", { class: "muted", text: "—" })];
      var files = h("details", null, [h("summary", { text: v.files.length + (v.files.length === 1 ? " file" : " files") }),
        h("ul", null, v.files.map(function (f) {
          return h("li", null, [h("a", { href: "/files/" + enc(project) + "/" + enc(artifact.name) + "/" + enc(v.version) + "?path=" + enc(f.path), text: f.path }),
            h("span", { class: "muted", text: " " + fmtBytes(f.size) + " · sha256 " + f.sha256.slice(0, 12) + "…" })]);
        }))]);
      return h("tr", { "data-version": v.version }, [
        h("td", { class: "version", text: v.version }),
        h("td", { class: "aliases" }, chips(v.aliases, "alias")),
        h("td", { class: "num", text: fmtBytes(v.size) }),
        h("td", null, [files]),
        h("td", { text: fmtTime(v.createdMs) }),
        h("td", { class: "produced-by" }, [v.createdBy ? refLink(v.createdBy, current) : h("span", { class: "muted", text: "—" })]),
        h("td", { class: "used-by" }, uses),
        h("td", { class: "digest", title: v.digest }, [h("code", { text: v.digest.slice(0, 12) })]),
      ]);
    });
    container.appendChild(h("div", { class: "artifact", "data-name": artifact.name }, [
      h("h3", null, [artifact.name + " ", h("span", { class: "chip", text: artifact.type })]),
      h("table", { class: "grid versions" }, [
        h("thead", null, [h("tr", null, ["Version", "Aliases", "Size", "Files", "Created", "Produced by", "Used by", "Digest"].map(function (t) { return h("th", { text: t }); }))]),
        h("tbody", null, rows),
      ]),
    ]));
  });
}
function artifactsPage() {
  var project = body.getAttribute("data-project");
  var content = h("div", { id: "artifact-list" });
  document.getElementById("main").appendChild(content);
  every(async function () {
    var res = await getJSON("/api/artifacts/" + enc(project));
    if (res.changed) renderArtifacts(clear(content), res.data.artifacts, "");
  });
}

// ---- compare ----
function comparePage() {
  var ids = (body.getAttribute("data-runs") || "").split(",").map(function (t) { return t.trim(); }).filter(Boolean);
  var runs = ids.map(function (id, i) {
    var cut = id.indexOf("/");
    return { id: id, project: id.slice(0, cut), runId: id.slice(cut + 1), color: COLORS[i % COLORS.length], info: null, metrics: null };
  }).filter(function (r) { return r.project && r.runId; });
  var main = document.getElementById("main");
  var legend = h("div", { class: "legend", id: "legend" });
  var add = h("select", { id: "add-run" }, [h("option", { value: "", text: "Add a run…" })]);
  add.addEventListener("change", function () {
    if (add.value) location.href = "/compare?runs=" + ids.concat([add.value]).map(enc).join(",");
  });
  append(main, [h("div", { class: "toolbar" }, [legend, add])]);
  var board = ChartBoard(main, { empty: runs.length ? "No metrics logged yet." : "Pick runs on the runs page, or add one here." });
  getJSON("/api/runs").then(function (res) {
    res.data.runs.forEach(function (r) {
      var id = r.project + "/" + r.runId;
      if (ids.indexOf(id) < 0) add.appendChild(h("option", { value: id, text: r.project + " / " + runName(r) }));
    });
  }).catch(function () { /* the picker stays empty */ });
  every(async function () {
    var changed = false;
    for (var i = 0; i < runs.length; i++) {
      var run = runs[i];
      var info = await getJSON(apiRun(run.project, run.runId));
      var metrics = await getJSON(apiRun(run.project, run.runId) + "/metrics");
      if (info.changed || metrics.changed) { changed = true; run.info = info.data.run; run.metrics = metrics.data.metrics; }
    }
    if (!changed) return;
    clear(legend);
    runs.forEach(function (run) {
      var sw = h("span", { class: "swatch" });
      sw.style.backgroundColor = run.color;
      legend.appendChild(h("span", { class: "legend-item", "data-run": run.id }, [sw, h("a", { href: runUrl(run.project, run.runId), text: runName(run.info) }), " ", statusBadge(run.info.status)]));
    });
    var byKey = new Map();
    runs.forEach(function (run) {
      Object.keys(run.metrics).forEach(function (key) {
        if (!byKey.has(key)) byKey.set(key, []);
        var m = run.metrics[key];
        byKey.get(key).push({ name: runName(run.info), color: run.color, steps: m.steps, values: m.values });
      });
    });
    board.update(byKey);
  });
}

var pages = { runs: runsPage, run: runPage, compare: comparePage, artifacts: artifactsPage };
var start = pages[body.getAttribute("data-page")];
if (start) start();
else if (live) live.textContent = "";
})();
`;
