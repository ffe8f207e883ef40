// The memory tab: Plotly timeline (loaded on first use), saved and recompute ledgers, module rollup,
// and the budget sweep's pareto front when the analysis belongs to a sweep.
import { api } from "./api.js";
import { ProgressPanel } from "./progress.js";
import { h, fmtBytes, fmtFlops, fmtTime, columnFormatter, sortableTable } from "./util.js";

let plotlyPromise = null;
export function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  plotlyPromise ||= new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = "/static/vendor/plotly.min.js";
    s.onload = () => resolve(window.Plotly);
    s.onerror = () => reject(new Error("could not load plotly.js"));
    document.head.append(s);
  });
  return plotlyPromise;
}

/** [graph, node] that ckpt_core.charts puts in the customdata of every timeline point. */
function pointRef(pt) {
  const cd = pt?.customdata;
  // [graph, node] on a region's timeline; [graph, node, region] on the whole program's
  return Array.isArray(cd) && (cd.length === 2 || cd.length === 3) ? { graph: cd[0], node: cd[1], region: cd[2] ?? null } : { graph: null, node: null, region: null };
}

/** The node a timeline point belongs to (null when the figure does not say). */
export function pointNode(pt) { return pointRef(pt).node; }

/** The memory summary's entry for one region (`regions` keyed by "region", else by position). */
export function regionMemory(memory, region) {
  const list = Array.isArray(memory?.regions) ? memory.regions : null;
  if (!list) return null;
  return list.find((r) => r && r.region === region) ?? list[region] ?? null;
}

/** The graph ("forward" / "backward") a timeline point belongs to, when the figure says. */
export function pointGraph(pt) { return pointRef(pt).graph; }

/** The region a point of the program's timeline belongs to (null on a region's own timeline). */
export function pointRegion(pt) { return pointRef(pt).region; }

function titleCase(key) { return key.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase()); }

const BYTE_KEY = /bytes(_moved)?$/, FLOP_KEY = /flops$/, TIME_KEY = /_s$/, SHARE_KEY = /(^share$|fraction$)/;
// Steps index the timeline: they are not quantities, so they keep plain numbers.
function kindOf(key) {
  return BYTE_KEY.test(key) ? "bytes" : FLOP_KEY.test(key) ? "flops" : TIME_KEY.test(key) ? "time" : SHARE_KEY.test(key) ? "percent" : null;
}
/** Columns of a ledger: one unit per column (in its header), no column whose value never changes. */
export function columnsFor(rows) {
  const keys = [];
  for (const r of rows.slice(0, 50)) for (const k of Object.keys(r)) if (!keys.includes(k)) keys.push(k);
  // Rows are one region's (the page's region selector says which), so `region` never informs.
  const varies = (k) => k !== "region" && (rows.length < 2 || new Set(rows.map((r) => JSON.stringify(r[k] ?? null))).size > 1);
  return keys.filter((k) => rows.some((r) => r[k] == null || typeof r[k] !== "object")).filter(varies).map((k) => {
    const num = rows.every((r) => r[k] == null || typeof r[k] === "number" || typeof r[k] === "boolean");
    const kind = kindOf(k);
    if (kind) {
      const { unit, fmt } = columnFormatter(kind, rows.map((r) => r[k]));
      return { key: k, label: `${titleCase(k === "bytes" ? k : k.replace(/_(bytes|s)$/, ""))} (${unit})`, num: true, fmt };
    }
    return { key: k, label: titleCase(k), num, fmt: num ? (v) => (v == null ? "" : String(v)) : (k === "shape" ? (v) => (Array.isArray(v) ? v.join("×") : v ?? "") : null) };
  });
}

function rowNode(row) {
  return row.node || row.name || row.forward_node || row.recompute_of || row.backward_node || null;
}

function ledgerPanel(title, rows, onSelect, { wide = false, sortKey } = {}) {
  const cols = columnsFor(rows);
  const first = sortKey || cols.find((c) => /cost_bytes$/.test(c.key))?.key || cols.find((c) => TIME_KEY.test(c.key))?.key || cols.find((c) => BYTE_KEY.test(c.key))?.key || cols.find((c) => FLOP_KEY.test(c.key))?.key;
  const slug = title.toLowerCase().replace(/[^a-z]+/g, "-");
  return h("section.panel", { class: wide ? "wide" : null, "aria-label": title, "data-ledger": slug },
    h("header", {}, h("h2", {}, title), h("span.muted", { style: "font-size:.85em" }, `${rows.length} rows · click a header to sort${onSelect ? ", a row to select its node" : ""}`)),
    h("div.table-scroll", {}, rows.length ? sortableTable(cols, rows, { onRow: onSelect ? (r) => { const n = rowNode(r); if (n) onSelect(n); } : null, initialSort: first ? { key: first, dir: -1 } : null, label: title }) : h("p.muted.body", {}, "Nothing here.")));
}

/** Ledgers the core's memory analysis reports, or the ones the analysis document itself carries. */
function ledgersFrom(memory, doc, regionIndex) {
  const found = [];
  const SKIP = /timeline|points|events|steps|categories/;
  // Tables are the arrays of records the memory analysis reports, wherever they sit.
  const walk = (obj, path, depth) => {
    if (!obj || typeof obj !== "object" || depth > 3) return;
    for (const [k, v] of Object.entries(obj)) {
      if (SKIP.test(k)) continue;
      const here = [...path, k];
      if (Array.isArray(v) && v.length) {
        if (v.every((r) => r && typeof r === "object" && !Array.isArray(r))) {
          found.push([here.filter((p) => !/^(entries|rows|items)$/.test(p)).join(" · "), v.filter((r) => r.region == null || r.region === regionIndex)]);
        } else if (v.every((r) => Array.isArray(r) && r.length === 2 && typeof r[0] === "string" && r[1] && typeof r[1] === "object")) {
          found.push([here.join(" · "), v.map(([key, rec]) => ({ [k.replace(/^by_|_totals$|s$/g, "") || "key"]: key, ...rec }))]);
        }
      } else if (v && typeof v === "object" && !Array.isArray(v)) {
        walk(v, here, depth + 1);
      }
    }
  };
  const scope = Array.isArray(memory?.regions) && memory.regions[regionIndex] && typeof memory.regions[regionIndex] === "object" ? memory.regions[regionIndex] : memory;
  walk(scope, [], 0);
  if (scope !== memory && memory) walk(Object.fromEntries(Object.entries(memory).filter(([k]) => k !== "regions")), [], 0);
  if (found.length) return found.map(([k, rows]) => [titleCase(k.replace(/_/g, " ")), rows]);
  // Without the memory analysis: the saved values and the backward recomputes, as the document lists them.
  const region = doc.regions[regionIndex];
  const fw = new Map(region.graphs.forward.nodes.map((n) => [n.name, n]));
  const saved = region.saved.map((s) => {
    const n = fw.get(s.forward_node) || {};
    return { node: s.forward_node, kind: s.kind, bytes: s.bytes, shape: s.shape ? s.shape.join("×") : "", dtype: s.dtype, op: n.target, module: n.module, line: n.source?.line ?? null };
  });
  const recompute = (region.graphs.backward?.nodes || []).filter((n) => n.status === "recompute").map((n) => ({
    node: n.name, op: n.target, bytes: n.bytes, flops: n.flops ?? null, module: n.module, line: n.source?.line ?? null,
  }));
  return [["Saved tensors", saved], ["Recomputes", recompute]];
}

export async function renderMemory(root, { id, doc, status, region, sweepId, onSelect, onSweep }) {
  root.replaceChildren(h("p.muted", {}, "Loading memory…"));
  const [memory, figure] = await Promise.all([
    api.memory(id).catch(() => doc.memory || null),
    // With graph breaks the timeline is the whole program's (regions in autograd's order).
    api.timelineFigure(id, doc.regions.length > 1 ? -1 : region).catch(() => null),
  ]);
  const parts = [];
  const timelinePanel = h("section.panel.wide", { "aria-label": "Memory timeline" },
    h("header", {}, h("h2", {}, "Memory timeline"), h("span.muted", { style: "font-size:.85em" }, "stacked by category; click a point to select its node"), h("span", { style: "flex:1" }), h("span", { id: "peak-link" })),
    h("div", { id: "timeline", role: "img", "aria-label": "Memory over the forward and backward, stacked by category" }));
  parts.push(timelinePanel);
  for (const [title, rows] of ledgersFrom(memory, doc, region)) parts.push(ledgerPanel(title, rows, onSelect));
  const sweepPanel = h("section.panel.wide", { "aria-label": "Budget sweep" },
    h("header", {}, h("h2", {}, "Memory budget sweep"), h("span.muted", { style: "font-size:.85em" }, "saved activations vs estimated recompute time per budget; click a point to open that plan")),
    h("div", { id: "pareto-box", class: "body" }));
  if (sweepPanel) parts.push(sweepPanel);
  root.replaceChildren(...parts);

  if (!figure) {
    timelinePanel.querySelector("#timeline").replaceWith(h("p.muted.body", {}, "The memory timeline is not available for this analysis."));
  } else {
    const Plotly = await loadPlotly();
    const el = timelinePanel.querySelector("#timeline");
    const layout = { ...(figure.layout || {}), autosize: true, margin: { l: 70, r: 20, t: 30, b: 50, ...(figure.layout?.margin || {}) } };
    await Plotly.newPlot(el, figure.data || [], layout, { responsive: true, displaylogo: false });
    el.on("plotly_click", (ev) => { const pt = ev.points?.[0]; const n = pt && pointNode(pt); if (n) onSelect(n, pointGraph(pt), pointRegion(pt)); });
    // The peak: the figure marks it (a "peak" trace or annotation); offer it as a link too.
    const peakTrace = (figure.data || []).find((t) => /peak/i.test(t.name || ""));
    let peak = { node: null, graph: null };
    if (peakTrace) {
      const pt = { customdata: peakTrace.customdata?.[0] };
      peak = { node: pointNode(pt), graph: pointGraph(pt), region: pointRegion(pt) };
    }
    if (!peak.node) {
      const reg = regionMemory(memory || doc.memory, region);
      if (reg?.peak?.node) peak = { node: reg.peak.node, graph: reg.peak.graph || null };
    }
    if (peak.node) {
      timelinePanel.querySelector("#peak-link").replaceChildren(h("button.small", { type: "button", id: "peak-button", onclick: () => onSelect(peak.node, peak.graph, peak.region) }, `Peak at ${peak.node} →`));
    }
  }

  renderSweep(sweepPanel.querySelector("#pareto-box"), { id, doc, status, sweepId, onSweep });
}

const SWEEP_BUDGETS = [1, 0.8, 0.6, 0.4, 0.2, 0];

/** The pareto front of a budget sweep of this snippet, or a button that starts one. */
async function renderSweep(box, { id, doc, status, sweepId, onSweep }) {
  const settings = status.settings || doc.settings || {};
  if (!sweepId) {
    box.replaceChildren(h("button", { type: "button", id: "sweep-button", onclick: async (e) => {
      e.currentTarget.disabled = true;
      try {
        const job = await api.submitSweep({ source: doc.snippet_source, settings, name: status.snippet_name || doc.snippet_name || "snippet.py", budgets: SWEEP_BUDGETS });
        onSweep?.(job.id);
        renderSweep(box, { id, doc, status, sweepId: job.id, onSweep });
      } catch (err) {
        box.append(h("p.error-box", { role: "alert" }, `Could not start the sweep: ${err.message}`));
      }
    } }, `Sweep budgets ${SWEEP_BUDGETS.join(", ")}`), " ",
    h("span.muted", {}, "compiles the snippet once and re-partitions it under each budget."));
    return;
  }
  let sweep;
  const live = h("div.progress", { style: "max-width:560px" });
  box.replaceChildren(h("p.muted", { role: "status" }, "Sweeping: one trace, then one partition per budget…"), live);
  const panel = new ProgressPanel(live, { label: "Sweep progress" });
  for (;;) {
    try { sweep = await api.sweep(sweepId); } catch (e) {
      box.replaceChildren(h("p.muted", {}, `The sweep is not available (${e.message}).`));
      return;
    }
    if (sweep.status === "done" || sweep.result) { panel.stopTimer(); break; }
    if (sweep.status === "failed" || sweep.status === "cancelled") {
      panel.stopTimer();
      box.replaceChildren(h("p.error-box", { role: "alert" }, `The sweep ${sweep.status}: ${sweep.error?.message || ""}`));
      return;
    }
    panel.update({ stage: sweep.stage || sweep.status, progress: sweep.progress, message: sweep.message });
    await new Promise((r) => setTimeout(r, 500));
  }
  const points = (sweep.result || sweep).points || [];
  const current = settings.memory_budget ?? 1;
  const Plotly = await loadPlotly();
  // Estimated recompute time when the points carry it (the cost model), else FLOPs.
  const timed = points.length && points.every((p) => typeof p.recompute_time_s === "number");
  const el = h("div", { id: "pareto", role: "img", "aria-label": `Budget sweep: saved bytes against recompute ${timed ? "time" : "FLOPs"}` });
  box.replaceChildren(el);
  const xs = columnFormatter("bytes", points.map((p) => p.saved_activation_bytes));
  const ys = timed ? columnFormatter("time", points.map((p) => p.recompute_time_s)) : null;
  await Plotly.newPlot(el, [{
    type: "scatter", mode: "lines+markers+text",
    x: points.map((p) => Number(xs.fmt(p.saved_activation_bytes))), y: points.map((p) => (timed ? Number(ys.fmt(p.recompute_time_s)) : p.recompute_flops)),
    text: points.map((p) => `${p.budget}`), textposition: "top center", customdata: points.map((p) => [p.budget, fmtBytes(p.saved_activation_bytes), fmtFlops(p.recompute_flops), timed ? fmtTime(p.recompute_time_s) : "–"]),
    marker: { size: points.map((p) => (p.budget === current ? 16 : 10)), color: points.map((p) => (p.non_monotonic ? "#c62828" : p.budget === current ? "#e0831a" : "#2f5fd0")) },
    hovertemplate: "budget %{customdata[0]}<br>saved %{customdata[1]}<br>recompute %{customdata[2]}, est. %{customdata[3]}<extra></extra>",
  }], { xaxis: { title: { text: `saved activations (${xs.unit})` } }, yaxis: { title: { text: timed ? `estimated recompute time (${ys.unit})` : "recompute FLOPs" } }, margin: { l: 70, r: 20, t: 20, b: 50 } }, { responsive: true, displaylogo: false });
  el.on("plotly_click", async (ev) => {
    const p = points[ev.points?.[0]?.pointIndex];
    if (!p) return;
    if (p.analysis_id) { location.href = `/a/${encodeURIComponent(p.analysis_id)}`; return; }
    // Points carry their plan but no share link: open it as an analysis under that budget.
    const job = await api.submit({ source: doc.snippet_source, settings: { ...settings, memory_budget: p.budget }, name: status.snippet_name || doc.snippet_name || "snippet.py" });
    location.href = job.share_url || `/a/${encodeURIComponent(job.id)}`;
  });
}
