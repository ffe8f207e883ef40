// Small shared helpers: formatting, DOM building, URL-hash state and the recent-analyses list.

export function fmtBytes(n) {
  if (n == null || Number.isNaN(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = Number(n), i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

export function fmtFlops(n) {
  if (n == null) return "–";
  const units = ["FLOP", "kFLOP", "MFLOP", "GFLOP", "TFLOP", "PFLOP"];
  let v = Number(n), i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i += 1; }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 2)} ${units[i]}`;
}

/** Seconds in the unit that fits: ns, µs, ms or s. */
export function fmtTime(s) {
  if (s == null || Number.isNaN(s)) return "–";
  const v = Math.abs(Number(s));
  if (v === 0) return "0 s";
  const [div, unit] = v < 1e-6 ? [1e-9, "ns"] : v < 1e-3 ? [1e-6, "µs"] : v < 1 ? [1e-3, "ms"] : [1, "s"];
  const x = Number(s) / div;
  return `${x.toFixed(Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2)} ${unit}`;
}

export function fmtPct(f) {
  if (f == null || Number.isNaN(f)) return "–";
  const p = Number(f) * 100;
  return `${p.toFixed(p !== 0 && Math.abs(p) < 1 ? 2 : 1)} %`;
}

/** One unit for a whole column: a formatter that writes every value in the unit of the largest. */
export function columnFormatter(kind, values) {
  const max = Math.max(0, ...values.filter((v) => typeof v === "number").map((v) => Math.abs(v)));
  if (kind === "bytes") {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (max >= 1024 ** (i + 1) && i < units.length - 1) i += 1;
    const unit = units[i];
    return { unit, fmt: (v) => (v == null ? "" : i === 0 ? String(v) : (v / 1024 ** i).toFixed(1)) };
  }
  if (kind === "time") {
    const [div, unit] = max < 1e-6 ? [1e-9, "ns"] : max < 1e-3 ? [1e-6, "µs"] : max < 1 ? [1e-3, "ms"] : [1, "s"];
    return { unit, fmt: (v) => (v == null ? "" : (v / div).toFixed(2)) };
  }
  if (kind === "flops") {
    const units = ["FLOP", "kFLOP", "MFLOP", "GFLOP", "TFLOP", "PFLOP"];
    let i = 0;
    while (max >= 1000 ** (i + 1) && i < units.length - 1) i += 1;
    return { unit: units[i], fmt: (v) => (v == null ? "" : i === 0 ? String(v) : (v / 1000 ** i).toFixed(2)) };
  }
  if (kind === "percent") return { unit: "%", fmt: (v) => (v == null ? "" : (v * 100).toFixed(1)) };
  return { unit: null, fmt: (v) => (v == null ? "" : String(v)) };
}

export function fmtSigned(n, fmt) {
  if (n == null) return "–";
  return (n > 0 ? "+" : n < 0 ? "−" : "±") + fmt(Math.abs(n));
}

/** h("div.cls#id", {attr: v, onclick: fn}, ...children) */
export function h(tag, attrs = {}, ...children) {
  const [, name, rest] = /^([a-z0-9]+)(.*)$/i.exec(tag);
  const el = document.createElement(name);
  for (const m of rest.matchAll(/([.#])([\w-]+)/g)) {
    if (m[1] === ".") el.classList.add(m[2]); else el.id = m[2];
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function $(sel, root = document) { return root.querySelector(sel); }

/** The URL hash as a Map-like object: #tab=graph&region=0&node=addmm_3 */
export function readHash() {
  return Object.fromEntries(new URLSearchParams(location.hash.slice(1)));
}

export function writeHash(state, { push = false } = {}) {
  const clean = Object.fromEntries(Object.entries(state).filter(([, v]) => v != null && v !== ""));
  const hash = "#" + new URLSearchParams(clean).toString();
  if (hash === location.hash) return;
  if (push) history.pushState(null, "", hash); else history.replaceState(null, "", hash);
}

export function toast(text, ms = 1800) {
  const t = h("div.toast", { role: "status" }, text);
  document.body.append(t);
  setTimeout(() => t.remove(), ms);
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Clipboard API needs a secure context and permission; fall back to a hidden field.
    const ta = h("textarea", { "aria-hidden": "true", style: "position:fixed;left:-9999px" });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch { ok = false; }
    ta.remove();
    return ok;
  }
}

const RECENT_KEY = "ckptscope.recent";
const RECENT_MAX = 30;

export function recentAnalyses() {
  try {
    const list = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
    return Array.isArray(list) ? list : [];
  } catch { return []; }
}

/** Puts (or updates) an analysis at the top of the recent list; fields not given are kept. */
export function rememberAnalysis(entry) {
  const all = recentAnalyses();
  const old = all.find((e) => e.id === entry.id) || {};
  const list = all.filter((e) => e.id !== entry.id);
  const merged = { ...old, ...Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined)), seen_at: new Date().toISOString() };
  if (!merged.failed) { delete merged.failed; delete merged.error; }
  list.unshift(merged);
  try { localStorage.setItem(RECENT_KEY, JSON.stringify(list.slice(0, RECENT_MAX))); } catch { /* storage full or disabled */ }
}

export function forgetAnalysis(id) {
  try { localStorage.setItem(RECENT_KEY, JSON.stringify(recentAnalyses().filter((e) => e.id !== id))); } catch { /* ignore */ }
}

/** Accepts an id, "/a/<id>" or a full link to an analysis, returns the id. */
export function analysisIdFrom(text) {
  const s = String(text || "").trim();
  const m = /\/a\/([^/?#\s]+)/.exec(s);
  return m ? decodeURIComponent(m[1]) : s.replace(/[?#].*$/, "");
}

export function settingsSummary(settings) {
  if (!settings) return "";
  const defaults = {
    decompositions: "inductor", partitioner: "min_cut", memory_budget: 1, budget_solver: "dp",
    fullgraph: false, device: "auto", disable_functionalization: false, cost_profile: "auto",
    execution: "real",
  };
  const parts = [];
  for (const [k, v] of Object.entries(settings)) {
    if (k.startsWith("ban_recompute_")) { if (v === false) parts.push(`${k.replace("ban_recompute_", "no-ban ")}`); continue; }
    if (k === "dynamo_config") {
      for (const [opt, val] of Object.entries(v || {})) parts.push(`dynamo.${opt}=${Array.isArray(val) ? val.join("|") : val}`);
      continue;
    }
    if (k in defaults && defaults[k] === v) continue;
    parts.push(`${k}=${v}`);
  }
  return parts.length ? parts.join(", ") : "defaults";
}

/** Sortable table from rows and column specs {key, label, num, fmt}. onRow(row) on click/Enter. */
export function sortableTable(columns, rows, { onRow, initialSort, label } = {}) {
  let sortKey = initialSort?.key ?? null;
  let dir = initialSort?.dir ?? -1;
  const table = h("table.data", { "aria-label": label || null });
  const thead = h("thead");
  const tbody = h("tbody");
  table.append(thead, tbody);
  const headRow = h("tr");
  thead.append(headRow);
  for (const col of columns) {
    const th = h("th", { scope: "col", class: col.num ? "num" : null },
      h("button", { type: "button", onclick: () => { dir = sortKey === col.key ? -dir : (col.num ? -1 : 1); sortKey = col.key; render(); } }, col.label));
    th.dataset.key = col.key;
    headRow.append(th);
  }
  function render() {
    const sorted = [...rows];
    if (sortKey) {
      sorted.sort((a, b) => {
        const x = a[sortKey], y = b[sortKey];
        if (x == null && y == null) return 0;
        if (x == null) return 1;
        if (y == null) return -1;
        return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true })) * dir;
      });
    }
    for (const th of headRow.children) {
      th.setAttribute("aria-sort", th.dataset.key === sortKey ? (dir > 0 ? "ascending" : "descending") : "none");
    }
    tbody.replaceChildren(...sorted.slice(0, 2000).map((row) => {
      const tr = h("tr", onRow ? { tabindex: "0" } : {});
      for (const col of columns) {
        const v = row[col.key];
        tr.append(h("td", { class: col.num ? "num" : null, title: v == null ? null : String(v) }, col.fmt ? col.fmt(v, row) : (v ?? "")));
      }
      if (onRow) {
        tr.addEventListener("click", () => onRow(row));
        tr.addEventListener("keydown", (e) => { if (e.key === "Enter") onRow(row); });
      }
      return tr;
    }));
  }
  render();
  return table;
}
