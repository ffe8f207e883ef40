// The diff page: pick two analyses, show the GraphDiff's summary deltas, the nodes that changed,
// the module rollup, and both forward graphs side by side or overlaid. Side by side, the panes move
// together: level, open groups, pan, zoom and selection; groups holding a change carry its count.
import { api } from "./api.js";
import { GraphExplorer, groupPaths } from "./graph.js";
import { h, $, fmtBytes, fmtFlops, fmtTime, fmtSigned, readHash, writeHash, recentAnalyses, analysisIdFrom, settingsSummary, sortableTable } from "./util.js";

const pair = decodeURIComponent(location.pathname.replace(/^\/diff\/?/, ""));
const ids = pair ? pair.split("..").filter(Boolean) : [];
const state = { mode: "side", node: null, ...readHash() };
let diff, docs, rowsByName, explorers = [];

function save() { writeHash({ mode: state.mode, node: state.node }); }

function initPicker() {
  $("#recent-list").replaceChildren(...recentAnalyses().map((e) => h("option", { value: `/a/${e.id}` }, `${e.name || e.id} — ${settingsSummary(e.settings)}`)));
  const q = new URLSearchParams(location.search);
  $("#pick-a").value = ids[0] ? `/a/${ids[0]}` : q.get("a") ? `/a/${q.get("a")}` : "";
  $("#pick-b").value = ids[1] ? `/a/${ids[1]}` : "";
  $("#pick").addEventListener("submit", (e) => {
    e.preventDefault();
    const a = analysisIdFrom($("#pick-a").value), b = analysisIdFrom($("#pick-b").value);
    if (a && b) location.href = `/diff/${encodeURIComponent(a)}..${encodeURIComponent(b)}`;
  });
}

function deltaCell(d, fmt) {
  if (!d) return "–";
  const cls = d.delta > 0 ? "up" : d.delta < 0 ? "down" : "";
  return h("span", {}, `${fmt(d.before)} → ${fmt(d.after)} `, h("span", { class: `delta ${cls}` }, `(${fmtSigned(d.delta, fmt)})`));
}

function stateName(row, i) { return row.states[i]?.name ?? null; }

/** How the row's node was found in analysis `i` (the diff's `matched_by`), in words. */
const MATCHED = { key: "same key (op, module, line)", structure: "structure: same op on matched inputs", anchor: "anchor (parameter or input)", fallback: "module + op + ordinal" };
function matchedBy(row, i) {
  const how = row.matched_by?.[i];
  if (!row.states[i]) return "unmatched";
  return how ? (MATCHED[how] || how) : "–";
}

function renderSummary(cmp) {
  const [a, b] = diff.analyses;
  const s = cmp.summary;
  $("#d-header").replaceChildren(
    h("h1", {}, "A ", h("a", { href: `/a/${ids[0]}` }, a.snippet_name), " vs B ", h("a", { href: `/a/${ids[1]}` }, b.snippet_name)),
    h("span.chip", { title: "settings of A" }, `A: ${settingsSummary(a.settings)}`),
    h("span.chip", { title: "settings of B" }, `B: ${settingsSummary(b.settings)}`),
    a.torch_version !== b.torch_version ? h("span.chip.warn", {}, `torch ${a.torch_version} vs ${b.torch_version}`) : h("span.chip", {}, `torch ${a.torch_version}`));
  const card = (label, value, sub, key) => h("div.card.panel", { "data-card": key }, h("div.label", {}, label), h("div.value", { style: "font-size:1.05rem" }, value), sub ? h("div.sub", {}, sub) : null);
  $("#d-cards").replaceChildren(...[
    card("Saved activations", deltaCell(s.saved_activation_bytes, fmtBytes), null, "saved_bytes"),
    card("Recompute FLOPs", deltaCell(s.recompute_flops, fmtFlops), null, "recompute_flops"),
    s.recompute_time_s ? card("Recompute time (est.)", deltaCell(s.recompute_time_s, fmtTime), null, "recompute_time") : null,
    card("Peak memory", s.peak_bytes ? deltaCell(s.peak_bytes, fmtBytes) : "–", s.peak_bytes ? null : "no estimate in these analyses", "peak"),
    card("Saved → recomputed", `${s.saved_to_recomputed.count} nodes`, fmtBytes(s.saved_to_recomputed.bytes), "s2r"),
    card("Recomputed → saved", `${s.recomputed_to_saved.count} nodes`, fmtBytes(s.recomputed_to_saved.bytes), "r2s"),
    card("Matched", String(s.matched_count), `+${s.added_count} added · −${s.removed_count} removed · ${s.policy_changes} policy changes`, "matched"),
  ].filter(Boolean));
}

function renderTables(cmp) {
  const changed = new Set(cmp.changed);
  const rows = diff.rows.filter((r) => changed.has(r.key)).map((r) => {
    const [sa, sb] = [r.states[cmp.base], r.states[cmp.other]];
    return {
      node: sa?.name ?? sb?.name, node_b: sb?.name ?? null, target: r.target, module: r.module, line: r.line,
      status_a: sa ? sa.status : "(absent)", status_b: sb ? sb.status : "(absent)",
      bytes: (sa ?? sb)?.bytes ?? 0, matched_by: matchedBy(r, cmp.other),
    };
  });
  $("#moved-count").textContent = `${rows.length} of ${diff.rows.length} forward nodes`;
  $("#moved").replaceChildren(rows.length ? sortableTable([
    { key: "node", label: "Node (A)" }, { key: "status_a", label: "A" }, { key: "status_b", label: "B" },
    { key: "bytes", label: "Bytes", num: true, fmt: fmtBytes }, { key: "module", label: "Module" }, { key: "line", label: "Line", num: true }, { key: "target", label: "Op" },
    { key: "matched_by", label: "Matched by" },
  ], rows, { onRow: (r) => selectFromA(r.node, r.node_b), initialSort: { key: "bytes", dir: -1 }, label: "Nodes that changed" }) : h("p.muted.body", {}, "No forward node changed fate."));
  const mods = cmp.modules.map((m) => ({
    module: m.module, saved_to_recomputed: m.saved_to_recomputed.count, recomputed_to_saved: m.recomputed_to_saved.count,
    other: m.other_status_changes, saved_bytes_delta: m.saved_activation_bytes_delta, recompute_flops_delta: m.recompute_flops_delta,
  }));
  $("#modules").replaceChildren(mods.length ? sortableTable([
    { key: "module", label: "Module" }, { key: "saved_to_recomputed", label: "saved→rec", num: true }, { key: "recomputed_to_saved", label: "rec→saved", num: true },
    { key: "other", label: "Other", num: true }, { key: "saved_bytes_delta", label: "Δ saved", num: true, fmt: (v) => fmtSigned(v, fmtBytes) },
    { key: "recompute_flops_delta", label: "Δ FLOPs", num: true, fmt: (v) => fmtSigned(v, fmtFlops) },
  ], mods, { label: "Changes by module" }) : h("p.muted.body", {}, "No module changed."));
}

/** Maps a node name in analysis i to its row, for synchronised selection. */
function buildIndex() {
  rowsByName = [new Map(), new Map()];
  for (const r of diff.rows) for (const i of [0, 1]) { const n = stateName(r, i); if (n) rowsByName[i].set(`${r.region}|${n}`, r); }
}

function fateClass(name) {
  const r = rowsByName[0].get(`0|${name}`);
  if (!r) return null;
  const [a, b] = r.states;
  if (!b) return ["chg-removed"];
  if (!a) return ["chg-added"];
  return [a.status !== b.status ? "chg-moved" : a.policy !== b.policy ? "chg-policy" : "chg-same"];
}

function inspect(name) {
  const r = name && rowsByName[0].get(`0|${name}`);
  const box = $("#d-inspector");
  if (!r) { box.replaceChildren(name ? h("p.muted", {}, `${name} has no match in B.`) : h("p.muted", {}, "Select a node in either graph or in the table.")); return; }
  const cell = (s) => (s ? h("span", {}, h("span", { class: `status-pill ${s.status}` }, s.status.replace("_", " ")), ` ${s.name} · ${fmtBytes(s.bytes)}${s.policy ? ` · ${s.policy}` : ""}`) : h("span.muted", {}, "absent"));
  box.replaceChildren(h("dl", {}, h("dt", {}, "op"), h("dd", {}, h("code", {}, r.target)), h("dt", {}, "module"), h("dd", {}, r.module || "–"), h("dt", {}, "line"), h("dd", {}, r.line ?? "–"),
    h("dt", {}, "A"), h("dd", {}, cell(r.states[0])), h("dt", {}, "B"), h("dd", {}, cell(r.states[1])),
    h("dt", {}, "matched by"), h("dd", { title: "how the diff paired this node across the two analyses" }, matchedBy(r, 1))));
}

let syncing = false;
async function selectFromA(nameA, nameB) {
  state.node = nameA;
  save();
  inspect(nameA);
  syncing = true;
  try {
    await explorers[0]?.select(nameA, { notify: false });
    const other = nameB ?? (nameA && stateName(rowsByName[0].get(`0|${nameA}`) || { states: [] }, 1));
    if (explorers[1] && state.mode === "side" && other) await explorers[1].select(other, { notify: false });
  } finally { syncing = false; }
}

async function selectFromB(nameB) {
  const r = rowsByName[1].get(`0|${nameB}`);
  const nameA = r ? stateName(r, 0) : null;
  state.node = nameA;
  save();
  inspect(nameA);
  syncing = true;
  try { if (nameA) await explorers[0].select(nameA, { notify: false }); } finally { syncing = false; }
}

function setMode(mode) {
  state.mode = mode;
  save();
  for (const b of document.querySelectorAll("[data-mode]")) b.setAttribute("aria-checked", String(b.dataset.mode === mode));
  const overlay = mode === "overlay";
  $("#graphs").classList.toggle("overlay", overlay);
  $("#b-wrap").classList.toggle("hidden", overlay);
  $("#overlay-legend").classList.toggle("hidden", !overlay);
  $("#label-a").textContent = overlay ? "A, coloured by what changed in B" : `A · ${diff.analyses[0].snippet_name}`;
  explorers[0].opts.decorate = overlay ? (name) => fateClass(name) : null;
  explorers[0].show({ region: 0, kind: "forward", level: explorers[0].level, open: [...explorers[0].open], depth: explorers[0].depth, select: state.node });
  if (!overlay) {
    const a = explorers[0];
    explorers[1].show({ region: 0, kind: "forward", level: a.level, open: [...a.open], depth: a.depth, select: state.node && stateName(rowsByName[0].get(`0|${state.node}`) || { states: [] }, 1) });
  }
}

/** Changed nodes per group path of analysis i's forward graph (a change counts in every
 *  enclosing group), so a collapsed group says how many changes it hides. */
function changeCounts(cmp, i) {
  const region = docs[i].regions[0];
  const paths = groupPaths(region.graphs.forward.nodes, region.graphs.joint?.nodes || []);
  const byKey = new Map(diff.rows.map((r) => [r.key, r]));
  const out = new Map();
  for (const key of cmp.changed) {
    const r = byKey.get(key);
    if (!r || r.region !== 0) continue;
    const name = stateName(r, i);
    const path = (name != null ? paths.get(name) : null) ?? r.module ?? "";
    const parts = path.split(".");
    for (let k = 1; k <= parts.length; k += 1) {
      const p = parts.slice(0, k).join(".");
      if (p) out.set(p, (out.get(p) || 0) + 1);
    }
  }
  return out;
}

/** A "N changed" badge on a group's box. */
function badge(el, count) {
  if (!count) return;
  el.classList.add("has-changes");
  const box = el.getBBox();
  const NS = "http://www.w3.org/2000/svg";
  const g = document.createElementNS(NS, "g");
  g.setAttribute("class", "chg-badge");
  const label = `${count} changed`;
  const w = 8 + label.length * 5.2;
  const rect = document.createElementNS(NS, "rect");
  Object.entries({ x: box.x + box.width - w + 4, y: box.y - 7, width: w, height: 13, rx: 6 }).forEach(([k, v]) => rect.setAttribute(k, String(v)));
  const text = document.createElementNS(NS, "text");
  Object.entries({ x: box.x + box.width - w / 2 + 4, y: box.y + 3, "text-anchor": "middle", "font-size": "9" }).forEach(([k, v]) => text.setAttribute(k, String(v)));
  text.textContent = label;
  g.append(rect, text);
  el.append(g);
  el.setAttribute("aria-label", `${el.getAttribute("aria-label")} ${count} node(s) inside changed fate.`);
  const title = el.querySelector(":scope > title");
  if (title) title.textContent = `${title.textContent}\n${count} node(s) inside changed fate`;
}

/** Side by side, pane `from` leads pane `to`: the same level and open groups, the same part of
 *  the level on screen (as fractions of each layout), the same selection (selectFromA/B). */
let navSync = false;
function follow(from, to) {
  return {
    onLevel: (level, { open, depth } = {}) => {
      const other = explorers[to];
      if (navSync || state.mode !== "side" || !other) return;
      if (other.level === level && other.depth === depth && [...other.open].sort().join() === (open || []).join()) return;
      navSync = true;
      other.show({ region: 0, kind: "forward", level, open, depth })
        .then(() => other.followView(explorers[from].relativeView()))
        .finally(() => { navSync = false; });
    },
    onView: (rel) => {
      if (navSync || state.mode !== "side") return;
      explorers[to]?.followView(rel);
    },
  };
}

async function main() {
  initPicker();
  if (ids.length < 2) { $("#d-status").textContent = "Choose two analyses to compare."; return; }
  $("#d-status").textContent = "Comparing…";
  try {
    [diff, ...docs] = await Promise.all([api.diff(ids), api.document(ids[0]), api.document(ids[1])]);
  } catch (e) {
    $("#d-status").textContent = "";
    $("#d-error").textContent = `Could not compare: ${e.message}`;
    $("#d-error").classList.remove("hidden");
    return;
  }
  $("#d-status").textContent = "";
  $("#diff").classList.remove("hidden");
  document.title = `${diff.analyses[0].snippet_name} vs ${diff.analyses[1].snippet_name} · ckptscope`;
  const cmp = diff.comparisons[0];
  buildIndex();
  renderSummary(cmp);
  renderTables(cmp);
  $("#label-b").textContent = `B · ${diff.analyses[1].snippet_name}`;
  const counts = [changeCounts(cmp, 0), changeCounts(cmp, 1)];
  explorers = [
    new GraphExplorer($("#graph-a"), { analysisId: ids[0], doc: docs[0], region: 0, kind: "forward", label: "Graph of A", onSelect: (n) => { if (!syncing) selectFromA(n); },
      decorateGroup: (path, el) => badge(el, counts[0].get(path)), ...follow(0, 1) }),
    new GraphExplorer($("#graph-b"), { analysisId: ids[1], doc: docs[1], region: 0, kind: "forward", label: "Graph of B", onSelect: (n) => { if (!syncing) selectFromB(n); },
      decorateGroup: (path, el) => badge(el, counts[1].get(path)), ...follow(1, 0) }),
  ];
  for (const b of document.querySelectorAll("[data-mode]")) b.addEventListener("click", () => setMode(b.dataset.mode));
  inspect(state.node);
  setMode(state.mode === "overlay" ? "overlay" : "side");
  document.body.dataset.ready = "true";
}

main();
