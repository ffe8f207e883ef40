// The analysis page: header, summary cards, graph explorer + inspector + source, memory tab.
// Every view is reachable from the URL hash:
// #tab=graph&region=0&graph=forward&level=blocks&open=blocks.3,blocks.3.attn&depth=1&node=addmm_3
import { api, followJob } from "./api.js";
import { GraphExplorer, legend } from "./graph.js";
import { renderMemory, regionMemory } from "./memory.js";
import { ProgressPanel } from "./progress.js";
import { renderHazards } from "./hazards.js";
import { initWhatIf, whatifActions } from "./whatif.js";
import { h, $, fmtBytes, fmtFlops, fmtTime, fmtPct, readHash, writeHash, copyText, toast, rememberAnalysis, recentAnalyses, analysisIdFrom, settingsSummary } from "./util.js";

const id = decodeURIComponent(location.pathname.replace(/^\/a\//, "").replace(/\/$/, ""));
const state = { tab: "graph", region: 0, graph: "forward", level: "", node: null, ...parseHash() };
let doc = null;
let status = null;
let explorer = null;
let memoryRendered = null;

function parseHash() {
  const hs = readHash();
  const s = {};
  if (hs.tab) s.tab = hs.tab;
  if (hs.region) s.region = Number(hs.region) || 0;
  if (hs.graph) s.graph = hs.graph;
  if (hs.level) s.level = hs.level;
  if (hs.open) s.open = hs.open.split(",").filter(Boolean);
  if (hs.depth) s.depth = Math.max(0, Math.min(8, Number(hs.depth) || 0));
  if (hs.node) s.node = hs.node;
  if (hs.sweep) s.sweep = hs.sweep;
  return s;
}

function saveHash(push = false) {
  writeHash({ tab: state.tab, region: String(state.region), graph: state.graph, level: state.level || null, open: state.open?.length ? state.open.join(",") : null, depth: state.depth ? String(state.depth) : null, node: state.node || null, sweep: state.sweep || null }, { push });
}

// ---- header and cards ----------------------------------------------------------------------------
function renderHeader() {
  const name = status.snippet_name || doc?.snippet_name || id;
  document.title = `${name} · ckptscope`;
  $("#a-title").textContent = name;
  const settings = status.settings || doc?.settings;
  const versionHazard = (doc?.hazards || []).find((hz) => hz.kind === "unsupported_torch_version");
  const chips = [
    versionHazard
      ? h("span.chip.warn", { id: "torch-version-warning", title: `${versionHazard.message}\n\n${versionHazard.details || ""}` }, `torch ${doc.torch_version}: unsupported, some explanations may be missing`)
      : h("span.chip", { title: "torch version" }, `torch ${status.torch_version || doc?.torch_version || "?"}`),
    h("span.chip", { title: "device" }, status.device || doc?.device || "?"),
    ...(settings?.execution === "fake" ? [h("span.chip.fake", {
      title: "A fake-tensor analysis: parameters and activations carried shapes, dtypes and the " +
        "device's op choices but no memory, and nothing was executed; every figure comes from shapes.",
    }, `fake tensors · ${status.device || doc?.device || "?"}`)] : []),
    h("span.chip", { title: JSON.stringify(settings || {}, null, 1) }, settingsSummary(settings)),
  ];
  const regions = doc?.regions || [];
  const header = $("#a-header");
  header.replaceChildren($("#a-title"), ...chips);
  if (doc?.graph_breaks?.length) {
    header.append(h("span.chip.warn", { title: doc.graph_breaks.map((b) => [`line ${b.line ?? "?"}: ${b.code ?? ""}`, b.location ? `in ${b.location.file}:${b.location.line ?? "?"}` : null, b.explanation || b.reason, b.hint ? `hint: ${b.hint}` : null].filter(Boolean).join("\n")).join("\n\n") }, `${doc.graph_breaks.length} graph break${doc.graph_breaks.length > 1 ? "s" : ""}`));
  }
  if (regions.length > 1) {
    const sel = h("select", { id: "region-select", "aria-label": "Compiled region" }, regions.map((r, i) => h("option", { value: String(i) }, `region ${r.index ?? i}${i > 0 && doc.graph_breaks?.[i - 1] ? ` (after break at line ${doc.graph_breaks[i - 1].line ?? "?"})` : ""}`)));
    sel.value = String(state.region);
    sel.addEventListener("change", () => { state.region = Number(sel.value); state.level = ""; state.open = []; state.depth = 0; state.node = null; saveHash(true); renderCards(); showGraph(); renderSource(); renderInspector(); memoryRendered = null; if (state.tab === "memory") showMemory(); });
    header.append(h("label", { for: "region-select", class: "muted" }, "Region"), sel);
  }
  const me = `/api/analyses/${encodeURIComponent(id)}/export/model-explorer`;
  header.append(h("span.spacer"),
    otherTorchButtons(),
    compareForm(),
    h("details.export-menu", {},
      h("summary", { class: "button", id: "export-btn", title: "Download for Google's Model Explorer" }, "Model Explorer ⤓"),
      h("div.panel.export-list", { role: "menu" },
        h("a", { href: me, download: `${id}.json`, role: "menuitem", id: "export-graph" }, "Graphs (forward, backward, joint)"),
        h("a", { href: `${me}?overlay=status`, download: `${id}.status.nodedata.json`, role: "menuitem" }, "Overlay: colour by status"),
        h("a", { href: `${me}?overlay=bytes`, download: `${id}.bytes.nodedata.json`, role: "menuitem" }, "Overlay: colour by bytes"),
        h("p.muted", {}, "Open the graphs in Model Explorer, then add an overlay from its node-data panel."))),
    h("button", { type: "button", id: "copy-link", onclick: async () => {
      saveHash();
      const ok = await copyText(location.href);
      toast(ok ? "Link copied: it opens exactly this view" : `Copy this link: ${location.href}`);
    } }, "Copy link"));
}

/** "On torch X": the same snippet and settings on each other installed torch, then the
 * cross-version diff of the two analyses. */
function otherTorchButtons() {
  const box = h("span.toolbar", { id: "other-torch" });
  if (!doc?.snippet_source) return box;
  api.torchVersions().then((versions) => {
    const others = versions.available.filter((v) => v !== doc.torch_version);
    box.replaceChildren(...others.map((v) => h("button", {
      type: "button", "data-torch": v, title: `Analyse this snippet with the same settings on torch ${v}, then compare the two`,
      onclick: async (e) => {
        const btn = e.currentTarget;
        btn.disabled = true;
        btn.textContent = `torch ${v}: queued…`;
        try {
          const job = await api.submit({ source: doc.snippet_source, settings: doc.settings, name: doc.snippet_name,
            torch_version: v === versions.default ? null : v });
          rememberAnalysis({ id: job.id, name: `${doc.snippet_name} (torch ${v})`, settings: doc.settings, created_at: new Date().toISOString() });
          const last = job.cached ? { stage: "done" } : await followJob(job.id, (ev) => { btn.textContent = `torch ${v}: ${ev.stage}…`; });
          if (last.stage !== "done") throw new Error(last.message || `the analysis on torch ${v} ${last.stage}`);
          location.href = `/diff/${encodeURIComponent(id)}..${encodeURIComponent(job.id)}`;
        } catch (err) {
          toast(`torch ${v}: ${err.message}`, 6000);
          btn.disabled = false;
          btn.textContent = `On torch ${v}`;
        }
      },
    }, `On torch ${v}`)));
  }).catch(() => {});
  return box;
}

/** "Compare…": choose the other analysis from the recent list or paste its link. */
function compareForm() {
  const others = recentAnalyses().filter((e) => e.id !== id);
  const input = h("input", { type: "text", id: "compare-with", list: "compare-list", placeholder: "other analysis: recent or pasted link", "aria-label": "Analysis to compare with", style: "width:18em" });
  const form = h("form.toolbar.hidden", { id: "compare-form", onsubmit: (e) => {
    e.preventDefault();
    const other = analysisIdFrom(input.value);
    if (other) location.href = `/diff/${encodeURIComponent(id)}..${encodeURIComponent(other)}`;
  } }, input, h("datalist", { id: "compare-list" }, others.map((e) => h("option", { value: `/a/${e.id}` }, `${e.name || e.id} — ${settingsSummary(e.settings)}`))),
  h("button.primary", { type: "submit" }, "Compare"));
  const toggle = h("button", { type: "button", id: "compare-toggle", "aria-expanded": "false", "aria-controls": "compare-form", onclick: () => {
    const open = form.classList.toggle("hidden") === false;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) input.focus();
  } }, "Compare…");
  return h("span.toolbar", {}, form, toggle);
}

function memoryFigures() {
  // `memory` (when the analysis carries it) reports per-region peaks; measured figures need a GPU.
  const mem = doc?.memory;
  const out = { estimated: null, measured: null };
  if (!mem) return out;
  const reg = regionMemory(mem, state.region);
  if (reg?.peak?.bytes != null) {
    out.estimated = reg.peak.bytes;
    out.measured = reg.measured?.peak_bytes ?? null;
    return out;
  }
  const scope = mem.regions?.[state.region] ?? mem;
  const scan = (o) => {
    for (const [k, v] of Object.entries(o || {})) {
      if (typeof v === "number" && /peak/.test(k)) {
        if (/measured/.test(k)) out.measured ??= v; else out.estimated ??= v;
      } else if (v && typeof v === "object" && !Array.isArray(v) && /peak/.test(k)) {
        scan(Object.fromEntries(Object.entries(v).map(([kk, vv]) => [`peak_${kk}`, vv])));
      }
    }
  };
  scan(scope);
  if (scope !== mem) scan(mem);
  return out;
}

function knapsackNote() {
  const k = (doc.cost?.torch_knapsack || []).filter((x) => x.expected_runtime != null);
  return k.length ? ` · torch's knapsack: ${k.map((x) => `${x.expected_runtime.toLocaleString()} ${x.unit || x.estimator}`).join(", ")}` : "";
}

// The recompute nodes timed on real tensors (a measured analysis) beside the estimate.
function measuredNote(total) {
  return total.measured_recompute_time_s != null
    ? ` · estimated ${fmtTime(total.recompute_time_s)} · measured ${fmtTime(total.measured_recompute_time_s)} on ${total.measured_recompute_device}`
    : "";
}

function renderCards() {
  const rs = doc.regions[state.region]?.summary || doc.summary || status.summary || {};
  const total = doc.summary || {};
  const multi = doc.regions.length > 1;
  const peak = memoryFigures();
  const card = (label, value, sub, key) => h("div.card.panel", { "data-card": key }, h("div.label", {}, label), h("div.value", {}, value), sub ? h("div.sub", {}, sub) : null);
  $("#cards").replaceChildren(...[
    // The headline is the program's: every region, a value kept across a graph break once.
    card("Saved activations", fmtBytes(multi ? total.saved_activation_bytes : rs.saved_activation_bytes),
      multi ? `${total.saved_activation_count ?? "–"} storages, all regions${total.handover_saved_bytes ? ` · ${fmtBytes(total.handover_saved_bytes)} kept across graph breaks` : ""} · region ${state.region}: ${fmtBytes(rs.saved_activation_bytes)}`
        : `${rs.saved_activation_count ?? "–"} storages`, "saved_bytes"),
    card("Saved values", String(rs.saved_count ?? "–"), `forward-only ${rs.forward_only_count ?? "–"}`, "saved_count"),
    card("Recomputed ops", String(rs.recomputed_count ?? "–"), multi ? `all regions ${total.recomputed_count}` : "in backward", "recomputed_count"),
    card("Recompute FLOPs", fmtFlops(rs.recompute_flops), `forward ${fmtFlops(rs.forward_flops)}`, "recompute_flops"),
    total.recompute_time_s != null ? card("Recompute time (est.)", fmtTime(total.recompute_time_s),
      `${fmtPct(total.recompute_time_fraction)} of forward · ${doc.cost?.profile?.label || total.cost_profile}${measuredNote(total)}${knapsackNote()}`, "recompute_time") : null,
    card("Peak memory", peak.estimated != null ? fmtBytes(peak.estimated) : "–",
      peak.measured != null ? `measured ${fmtBytes(peak.measured)}` : (peak.estimated != null ? "estimated · measured needs a GPU worker" : "estimate not available"), "peak"),
  ].filter(Boolean));
}

// ---- graph explorer ----------------------------------------------------------------------------
function showGraph() {
  const region = doc.regions[state.region];
  if (!region.graphs[state.graph]) state.graph = "forward";
  for (const b of document.querySelectorAll("#graph-tabs [role=tab]")) {
    const on = b.dataset.graph === state.graph;
    b.setAttribute("aria-selected", String(on));
    b.tabIndex = on ? 0 : -1;
    b.disabled = !region.graphs[b.dataset.graph];
  }
  $("#legend").replaceChildren(legend(state.graph));
  explorer.show({ region: state.region, kind: state.graph, level: state.level, open: state.open || [], depth: state.depth || 0, select: state.node });
}

function graphNodes(kind) {
  const g = doc.regions[state.region]?.graphs?.[kind];
  if (!g) return new Map();
  return (g._byName ||= new Map(g.nodes.map((n) => [n.name, n])));
}

async function selectNode(name, kind = state.graph) {
  if (kind !== state.graph) {
    state.graph = kind;
    state.level = ""; state.open = []; state.depth = 0;
    state.node = name;
    saveHash(true);
    showGraph();
    renderInspector();
    return;
  }
  state.node = name;
  await explorer.select(name);
}

/** Open a node anywhere in the document ({region, graph, name}), switching region when needed. */
function openRef(ref) {
  if (ref.region !== state.region && $("#region-select")) {
    const sel = $("#region-select");
    sel.value = String(ref.region);
    sel.dispatchEvent(new Event("change"));
  }
  setTab("graph");
  selectNode(ref.name, ref.graph);
}

function link(label, name, kind) {
  return h("button.small", { type: "button", onclick: () => selectNode(name, kind), "data-link-kind": kind, "data-link-node": name }, label);
}

function renderInspector() {
  const box = $("#inspector");
  const node = state.node && graphNodes(state.graph).get(state.node);
  if (!node) {
    box.replaceChildren(h("p.muted", {}, state.node ? `${state.node} is not in the ${state.graph} graph.` : "Select a node in the graph, a search result, a source line or a ledger row."));
    return;
  }
  const region = doc.regions[state.region];
  const row = (k, v) => [h("dt", {}, k), h("dd", {}, v ?? "–")];
  const policy = node.requested_policy || node.policy
    ? (node.requested_policy !== node.policy ? h("span", {}, `${node.requested_policy ?? "none"} requested → `, h("strong", {}, node.policy ?? "none"), " effective") : node.policy)
    : "none";
  const links = [];
  const fw = graphNodes("forward"), bw = graphNodes("backward");
  if (state.graph !== "backward") {
    const saved = region.saved.find((s) => s.forward_node === node.name);
    if (saved) links.push(h("div", {}, `Saved for backward (${saved.kind}, ${fmtBytes(saved.bytes)}) → `, link(saved.backward_node, saved.backward_node, "backward")));
    const rec = [...bw.values()].filter((n) => n.recompute_of === node.name);
    for (const r of rec) links.push(h("div", {}, "Recomputed in backward as ", link(r.name, r.name, "backward")));
    if (state.graph === "joint" && fw.has(node.name)) links.push(h("div", {}, "In the forward graph: ", link(node.name, node.name, "forward")));
    if (state.graph === "forward" && graphNodes("joint").has(node.name)) links.push(h("div", {}, "In the joint graph: ", link(node.name, node.name, "joint")));
  } else {
    if (node.recompute_of) links.push(h("div", {}, "Recompute of forward node ", link(node.recompute_of, node.recompute_of, "forward")));
    const saved = region.saved.find((s) => s.backward_node === node.name);
    if (saved) links.push(h("div", {}, `Receives the saved ${saved.kind} `, link(saved.forward_node, saved.forward_node, "forward")));
    if (graphNodes("joint").has(node.name)) links.push(h("div", {}, "In the joint graph: ", link(node.name, node.name, "joint")));
  }
  // replaceChildren would print a null child as the text "null": keep only real nodes
  box.replaceChildren(...[
    h("h3", {}, node.name, " ", h("span", { class: `status-pill ${node.status}` }, node.status.replace("_", " "))),
    node.why ? h("p.why", { title: "why this node ended up saved, recomputed or forward-only" }, node.why) : null,
    h("dl", {},
      row("op", h("code", {}, node.target + (node.wraps ? ` (${node.wraps})` : ""))),
      row("shape", node.shape ? `[${node.shape.join(", ")}]` : null),
      row("dtype", node.dtype),
      row("bytes", node.bytes ? `${fmtBytes(node.bytes)}${node.view_of ? ` (view of ${node.view_of}: no new memory)` : ""}` : "0"),
      row("policy", policy),
      row("region", node.ac_region != null ? `checkpoint region ${node.ac_region}` : "not checkpointed"),
      row("module", node.module ? h("code", {}, `${node.module}${node.module_type ? ` (${node.module_type})` : ""}`) : node.param ? h("code", {}, node.param) : null),
      row("source", node.source ? h("button.small", { type: "button", onclick: () => selectLine(node.source.line), title: node.source.code }, `line ${node.source.line}: ${node.source.code.trim().slice(0, 60)}`) : null),
      row("FLOPs", node.flops != null ? fmtFlops(node.flops) : null),
      row("inputs", node.inputs?.length ? node.inputs.join(", ") : null),
      node.partitioner_reasons?.length
        ? row("partitioner", h("ul.reasons", { title: "the constraints torch's min-cut partitioner put on this node, in its own words" },
          ...node.partitioner_reasons.map((r) => h("li", {}, r))))
        : [],
    ),
    links.length ? h("div.links", {}, ...links) : null,
    whatifActions(node, state.graph),
  ].filter((c) => c != null));
}

// ---- source panel ------------------------------------------------------------------------------
function renderSource() {
  const src = doc.snippet_source;
  const box = $("#source");
  if (!src) { box.replaceChildren(h("p.muted.body", {}, "The snippet source is not part of this analysis.")); return; }
  const region = doc.regions[state.region];
  const fw = graphNodes("forward");
  const perLine = new Map();
  const bucket = (line) => { if (!perLine.has(line)) perLine.set(line, { saved: 0, recomputed: 0 }); return perLine.get(line); };
  for (const s of region.saved) {
    const n = fw.get(s.forward_node);
    if (n?.source && s.kind === "activation") bucket(n.source.line).saved += s.bytes;
  }
  for (const n of fw.values()) {
    if (n.status === "recomputed" && n.source && !n.view_of) bucket(n.source.line).recomputed += n.bytes;
  }
  const lines = src.replace(/\n$/, "").split("\n");
  box.replaceChildren(h("ol", { "aria-label": "Snippet source; Enter on a line selects its nodes" }, lines.map((code, i) => {
    const ln = i + 1;
    const b = perLine.get(ln);
    return h("li", { tabindex: "0", "data-line": String(ln), onclick: () => selectLine(ln), onkeydown: (e) => { if (e.key === "Enter") selectLine(ln); } },
      h("span.ln", {}, String(ln)), h("span.code", {}, code || " "),
      h("span", {}, b?.saved ? h("span.badge.saved", { title: "saved activation bytes from this line" }, fmtBytes(b.saved)) : null,
        b?.recomputed ? h("span.badge.recomputed", { title: "bytes recomputed in backward from this line" }, fmtBytes(b.recomputed)) : null));
  })));
}

function selectLine(line) {
  for (const li of document.querySelectorAll("#source li.active")) li.classList.remove("active");
  const li = document.querySelector(`#source li[data-line="${line}"]`);
  li?.classList.add("active");
  li?.scrollIntoView({ block: "nearest" });
  const nodes = [...graphNodes(state.graph).values()].filter((n) => n.source?.line === line);
  if (!nodes.length) { toast(`No ${state.graph} node comes from line ${line}`); return; }
  const rank = { saved: 0, recomputed: 1, recompute: 1, forward_only: 2 };
  nodes.sort((a, b) => (rank[a.status] ?? 3) - (rank[b.status] ?? 3));
  explorer.searchInput.value = "";
  explorer.search("");
  selectNode(nodes[0].name).then(() => {
    // Light up every node of the line that is on screen.
    const names = new Set(nodes.map((n) => n.name));
    explorer.view.classList.add("searching");
    for (const el of explorer.view.querySelectorAll('[id^="n:"]')) el.classList.toggle("match", names.has(el.id.slice(2)));
  });
}

// ---- tabs ----------------------------------------------------------------------------------------
function setTab(tab, push = true) {
  state.tab = tab;
  for (const b of document.querySelectorAll("#tabs [role=tab]")) {
    const on = b.dataset.tab === tab;
    b.setAttribute("aria-selected", String(on));
    b.tabIndex = on ? 0 : -1;
  }
  $("#panel-graph").hidden = tab !== "graph";
  $("#panel-memory").hidden = tab !== "memory";
  saveHash(push);
  if (tab === "memory") showMemory();
}

function showMemory() {
  const key = `${state.region}`;
  if (memoryRendered === key) return;
  memoryRendered = key;
  renderMemory($("#memory"), {
    id, doc, status, region: state.region, sweepId: state.sweep || status.sweep_id || doc.sweep_id || null,
    onSweep: (sweepId) => { state.sweep = sweepId; saveHash(); },
    onSelect: (name, graph, region) => {
      if (region != null && region !== state.region) { openRef({ region, graph: graph || "forward", name }); return; }
      const kind = graph && graphNodes(graph).has(name) ? graph : graphNodes("forward").has(name) ? "forward" : graphNodes("backward").has(name) ? "backward" : "joint";
      setTab("graph");
      selectNode(name, kind);
    },
  });
}

function tabKeys(list) {
  list.addEventListener("keydown", (e) => {
    if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) return;
    const tabs = [...list.querySelectorAll("[role=tab]:not([disabled])")];
    let i = tabs.indexOf(document.activeElement);
    i = e.key === "Home" ? 0 : e.key === "End" ? tabs.length - 1 : (i + (e.key === "ArrowRight" ? 1 : -1) + tabs.length) % tabs.length;
    tabs[i].focus();
    tabs[i].click();
    e.preventDefault();
  });
}

// ---- loading -------------------------------------------------------------------------------------
function showFailure(err) {
  $("#a-status").textContent = "";
  const box = $("#a-error");
  box.replaceChildren(h("strong", {}, err.type || err.code || "Error"), err.line ? ` (line ${err.line})` : "", `: ${err.message}`, " ", h("a", { href: "/" }, "Start a new analysis"));
  box.classList.remove("hidden");
}

async function main() {
  document.querySelectorAll("#tabs [role=tab]").forEach((b) => b.addEventListener("click", () => setTab(b.dataset.tab)));
  document.querySelectorAll("#graph-tabs [role=tab]").forEach((b) => b.addEventListener("click", () => {
    if (b.dataset.graph === state.graph) return;
    state.graph = b.dataset.graph;
    state.level = ""; state.open = []; state.depth = 0;
    saveHash(true);
    showGraph();
    renderInspector();
  }));
  tabKeys($("#tabs"));
  tabKeys($("#graph-tabs"));
  try { status = await api.status(id); } catch (e) {
    showFailure({ message: e.status === 404 ? `No analysis ${id}.` : e.message });
    return;
  }
  if (status.status !== "done") {
    if (status.status === "failed" || status.status === "cancelled") {
      rememberAnalysis({ id, name: status.snippet_name, settings: status.settings, failed: true, error: status.error?.message || status.status });
      showFailure(status.error || { message: status.status });
      return;
    }
    // Someone opened the link while the job runs: the same live stages as the submitter sees
    // (the event stream replays the stages already passed, with their times).
    $("#a-status").textContent = `This analysis is running (${status.stage || status.status}); it opens when done.`;
    const panel = new ProgressPanel($("#a-progress"));
    panel.update({ stage: status.stage || status.status, progress: status.progress, message: status.message });
    $("#a-progress").classList.remove("hidden");
    const last = await followJob(id, (ev) => panel.update(ev));
    status = await api.status(id);
    if (last.stage !== "done") {
      rememberAnalysis({ id, name: status.snippet_name, settings: status.settings, failed: true, error: status.error?.message || last.message });
      showFailure(status.error || { message: last.message || last.stage });
      return;
    }
    $("#a-progress").classList.add("hidden");
  }
  $("#a-status").textContent = "Loading the analysis…";
  try { doc = await api.document(id); } catch (e) { showFailure({ message: e.message }); return; }
  $("#a-status").textContent = "";
  rememberAnalysis({ id, name: status.snippet_name || doc.snippet_name, settings: status.settings || doc.settings, created_at: status.created_at, failed: false });
  if (state.region >= doc.regions.length) state.region = 0;
  renderHeader();
  renderCards();
  renderHazards($("#hazards"), doc.hazards, openRef);
  explorer = new GraphExplorer($("#explorer"), {
    analysisId: id, doc, region: state.region, kind: state.graph,
    onSelect: (name) => { state.node = name; saveHash(); renderInspector(); },
    onLevel: (level, { open, depth } = {}) => { state.level = level; state.open = open || []; state.depth = depth || 0; saveHash(); },
  });
  let marked = null;
  const mark = () => {
    // the changed nodes, and the module groups holding them at this level
    if (!marked || state.graph !== "forward") return;
    const modules = [...marked].map((n) => graphNodes("forward").get(n)?.module || "");
    explorer.view.classList.add("searching");
    for (const el of explorer.view.querySelectorAll('[id^="n:"], [id^="g:"]')) {
      const key = el.id.slice(2).replace(/~\d+$/, "");
      const on = el.id.startsWith("n:") ? marked.has(key)
        : modules.some((m) => m === key || m.startsWith(`${key}.`));
      if (on !== el.classList.contains("match")) el.classList.toggle("match", on);
    }
  };
  // the explorer redraws on every level: mark what changed again each time
  new MutationObserver(mark).observe(explorer.view, { childList: true, subtree: true });
  initWhatIf({ id, doc, view: explorer.view, openRef, highlight: (names) => { marked = names; mark(); } });
  renderSource();
  renderInspector();
  setTab(state.tab, false);
  showGraph();
  window.addEventListener("popstate", () => {
    Object.assign(state, { tab: "graph", region: 0, graph: "forward", level: "", open: [], depth: 0, node: null }, parseHash());
    setTab(state.tab, false);
    showGraph();
    renderInspector();
  });
  document.body.dataset.ready = "true";
}

main();
