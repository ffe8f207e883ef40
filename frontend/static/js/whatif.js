// Policy what-if on the analysis page: "save this / recompute this / this op everywhere / this
// module" from the inspector, a pending-changes bar, apply → the new plan (its own share link)
// with the changes against the original, and the exported policy code to copy.
//
// Hooks into analysis.js: `whatifActions(node, graph)` (appended to the inspector) and
// `initWhatIf(ctx)` (once the document is loaded). Everything computed here comes from the API:
// the overrides are checked and resolved by the server, the plan and its code by the worker.
import { api, followJob, ApiError } from "./api.js";
import { ProgressPanel } from "./progress.js";
import { h, $, fmtBytes, fmtFlops, fmtTime, copyText, toast } from "./util.js";

const ACTIONS = {
  MUST_SAVE: "save",
  PREFER_SAVE: "prefer save",
  MUST_RECOMPUTE: "recompute",
  PREFER_RECOMPUTE: "prefer recompute",
  NO_CHECKPOINT: "no checkpoint",
};
let ctx = null;
let pending = [];

const storeKey = () => `ckpt-whatif:${ctx.id}`;
function load() {
  try { pending = JSON.parse(sessionStorage.getItem(storeKey()) || "[]"); } catch { pending = []; }
}
function save() {
  sessionStorage.setItem(storeKey(), JSON.stringify(pending));
  renderBar();
}

/** Queue an override; a later one on the same selector replaces the earlier. */
export function addOverride(selector, action) {
  pending = pending.filter((o) => o.selector !== selector);
  pending.push({ selector, action });
  save();
  toast(`Pending: ${selector} → ${ACTIONS[action]}`);
}

function modulePrefixes(module) {
  const parts = (module || "").split(".").filter(Boolean);
  return parts.map((_, i) => parts.slice(0, parts.length - i).join("."));
}

/** The what-if actions for a node of the forward or joint graph (null for others). */
export function whatifActions(node, graph) {
  if (!ctx || graph === "backward" || node.op !== "call_function" || node.partitioner_tag === "is_backward") return null;
  const op = node.policy_op || node.target;
  const button = (label, selector, action, title) => h("button.small", {
    type: "button", "data-whatif": `${selector}|${action}`, title: title || `${selector} → ${action}`,
    onclick: () => addOverride(selector, action),
  }, label);
  const modules = modulePrefixes(node.module);
  const moduleSelect = modules.length ? h("select", { "aria-label": "Module for the what-if", id: "whatif-module" },
    modules.map((m) => h("option", { value: m }, m))) : null;
  const onModule = (action) => () => addOverride(`module:${moduleSelect.value}`, action);
  const rows = [
    h("div.toolbar", {}, h("span.muted", {}, "this node:"),
      button("save this", `node:${node.name}`, "MUST_SAVE"),
      button("recompute this", `node:${node.name}`, "MUST_RECOMPUTE")),
    h("div.toolbar", {}, h("span.muted", {}, h("code", {}, op), " everywhere:"),
      button("save", `op:${op}`, "MUST_SAVE", `every call of ${op} inside a checkpoint: MUST_SAVE`),
      button("recompute", `op:${op}`, "PREFER_RECOMPUTE", `every call of ${op} inside a checkpoint: PREFER_RECOMPUTE`)),
  ];
  if (moduleSelect) {
    rows.push(h("div.toolbar", {}, h("span.muted", {}, "module:"), moduleSelect,
      h("button.small", { type: "button", "data-whatif": "module|MUST_SAVE", onclick: onModule("MUST_SAVE") }, "save"),
      h("button.small", { type: "button", "data-whatif": "module|PREFER_RECOMPUTE", onclick: onModule("PREFER_RECOMPUTE") }, "recompute"),
      h("button.small", { type: "button", "data-whatif": "module|NO_CHECKPOINT", onclick: onModule("NO_CHECKPOINT") }, "no checkpoint")));
  }
  if (node.ac_region != null) {
    rows.push(h("div.toolbar", {}, h("span.muted", {}, `checkpoint region ${node.ac_region}:`),
      button("no checkpoint", `region:${node.ac_region}`, "NO_CHECKPOINT"),
      button("save all", `region:${node.ac_region}`, "MUST_SAVE")));
  }
  return h("section.whatif-actions", { "aria-label": "What if" }, h("h4", {}, "What if…"), ...rows);
}

// ---- the pending-changes bar -------------------------------------------------------------------
function renderBar() {
  let bar = $("#whatif-bar");
  if (!pending.length) { bar?.remove(); return; }
  if (!bar) {
    bar = h("aside.whatif-bar.panel#whatif-bar", { "aria-label": "Pending what-if changes" });
    document.body.append(bar);
  }
  const budget = h("input", { type: "number", id: "whatif-budget", min: "0", max: "1", step: "0.05",
    value: String(ctx.doc.settings?.memory_budget ?? 1), "aria-label": "Memory budget", style: "width:5em" });
  const progress = h("div.progress.hidden#whatif-progress");
  bar.replaceChildren(
    h("strong", {}, `What-if: ${pending.length} change${pending.length > 1 ? "s" : ""}`),
    h("ol.whatif-pending", {}, pending.map((o, i) => h("li", {},
      h("code", {}, o.selector), ` → ${ACTIONS[o.action]} `,
      h("button.small", { type: "button", "aria-label": `remove ${o.selector}`, onclick: () => { pending.splice(i, 1); save(); } }, "×")))),
    h("label", { for: "whatif-budget", class: "muted" }, "memory budget"), budget,
    h("button.primary#whatif-apply", { type: "button", onclick: () => apply(Number(budget.value), progress) }, "Apply"),
    h("button#whatif-clear", { type: "button", onclick: () => { pending = []; save(); } }, "Clear"),
    progress);
}

async function apply(budget, progressBox) {
  const body = { overrides: pending, settings: {} };
  if (Number.isFinite(budget) && budget !== (ctx.doc.settings?.memory_budget ?? 1)) body.settings.memory_budget = budget;
  let sub;
  try {
    sub = await fetch(`/api/analyses/${encodeURIComponent(ctx.id)}/whatif`, {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(body),
    }).then(async (r) => { const b = await r.json(); if (!r.ok) throw new ApiError(r.status, b); return b; });
  } catch (e) {
    toast(e.message);
    progressBox.replaceChildren(h("div.error-box", { role: "alert" }, e.message));
    progressBox.classList.remove("hidden");
    return;
  }
  const panel = new ProgressPanel(progressBox);
  progressBox.classList.remove("hidden");
  const last = sub.cached ? { stage: "done" } : await followJob(sub.id, (ev) => panel.update(ev));
  if (last.stage !== "done") { toast(`The what-if failed: ${last.message || last.stage}`); return; }
  pending = [];
  sessionStorage.removeItem(storeKey());
  location.href = `/a/${encodeURIComponent(sub.id)}?base=${encodeURIComponent(ctx.id)}`;
}

// ---- a what-if plan: its changes, notes, deltas and code -----------------------------------------
function signed(v, fmt) { return `${v > 0 ? "+" : v < 0 ? "−" : "±"}${fmt(Math.abs(v))}`; }

function renderPlan(root) {
  const w = ctx.doc.whatif;
  const d = w.deltas || {};
  const base = new URLSearchParams(location.search).get("base");
  const code = h("pre.whatif-code#whatif-code", {}, w.policy_code || "");
  const snippet = w.snippet || "";
  const exportBox = h("div.hidden#whatif-export", {},
    h("div.toolbar", {},
      h("button#whatif-copy-policy", { type: "button", onclick: async () => toast(await copyText(w.policy_code) ? "Policy code copied" : "Copy failed: select the code") }, "Copy policy code"),
      snippet ? h("button#whatif-copy-snippet", { type: "button", onclick: async () => toast(await copyText(snippet) ? "Snippet with the policy copied" : "Copy failed") }, "Copy snippet with the policy") : null,
      w.save_list ? h("span.muted", {}, `torchtitan save list: ${w.save_list.join(", ")}`) : null),
    code);
  const changes = h("div#whatif-changes", {}, base ? h("p.muted", {}, "Comparing with the original…") : h("p.muted", {}, "Open this plan from its original to see what moved, or compare it with any analysis (Compare…)."));
  root.replaceChildren(...[
    h("header", {}, h("h2", {}, "What-if plan"), h("span.muted", {}, `${w.changed_ops} op tag(s) changed`),
      base ? h("a", { href: `/a/${encodeURIComponent(base)}`, id: "whatif-original" }, "original") : null,
      base ? h("a", { href: `/diff/${encodeURIComponent(base)}..${encodeURIComponent(ctx.id)}`, id: "whatif-diff-link" }, "full diff") : null,
      h("button#whatif-export-toggle", { type: "button", onclick: () => exportBox.classList.toggle("hidden") }, "Export code")),
    h("ul.whatif-overrides", {}, (ctx.doc.overrides || []).map((o) => h("li", {}, h("code", {}, o.selector), ` → ${ACTIONS[o.action] || o.action}`))),
    h("p#whatif-deltas", {},
      `saved activations ${signed(d.saved_activation_bytes || 0, fmtBytes)} · peak ${signed(d.peak_bytes || 0, fmtBytes)} · `,
      `recompute ${signed(d.recompute_flops || 0, fmtFlops)}`,
      d.recompute_time_s != null ? ` (${signed(d.recompute_time_s, fmtTime)} est.)` : "",
      ` · ${d.recomputed_count > 0 ? "+" : ""}${d.recomputed_count ?? 0} recomputed op(s)`),
    (w.notes || []).length ? h("ul.whatif-notes", {}, w.notes.map((n) => h("li", {}, n))) : null,
    (w.new_hazards || []).length ? h("p.warn", {}, `New hazards: ${w.new_hazards.map((x) => x.message).join(" · ")}`) : null,
    changes, exportBox].filter(Boolean));
  if (base) showChanges(base, changes);
}

async function showChanges(base, box) {
  let diff;
  try { diff = await api.diff([base, ctx.id]); } catch (e) { box.replaceChildren(h("p.muted", {}, `No diff: ${e.message}`)); return; }
  const comp = diff.comparisons?.[0];
  const changed = new Set(comp?.changed || []);
  const rows = (diff.rows || []).filter((r) => changed.has(r.key));
  const moved = rows.filter((r) => r.states?.[0]?.status !== r.states?.[1]?.status);
  const names = new Set();
  const items = moved.slice(0, 60).map((r) => {
    const [a, b] = r.states;
    const name = b?.name || a?.name;
    names.add(name);
    return h("li", {}, h("button.small", { type: "button", "data-whatif-node": name, onclick: () => ctx.openRef({ region: r.region ?? 0, graph: "forward", name }) }, name),
      ` ${a?.status ?? "absent"} → `, h("strong", {}, b?.status ?? "absent"));
  });
  box.replaceChildren(...[
    h("div.toolbar", {}, h("strong", {}, `${moved.length} node(s) changed fate against the original`),
      h("button.small#whatif-highlight", { type: "button", onclick: () => ctx.highlight(names) }, "Highlight in the graph")),
    h("ul.whatif-moved", {}, items),
    moved.length > items.length ? h("p.muted", {}, `+${moved.length - items.length} more in the full diff`) : null,
  ].filter(Boolean));
  ctx.highlight(names);
}

// ---- a module group's menu (right-click, or the context-menu key on a focused group) ------------
function groupMenu(view) {
  view.addEventListener("contextmenu", (e) => {
    const el = e.target.closest?.('[id^="g:"], [id^="c:"]');
    if (!el) return;
    e.preventDefault();
    $("#whatif-menu")?.remove();
    const path = el.getAttribute("id").slice(2);
    const pick = (action) => () => { menu.remove(); addOverride(`module:${path}`, action); };
    const box = el.getBoundingClientRect();
    const x = e.clientX || box.left + box.width / 2, y = e.clientY || box.top + box.height / 2;
    const menu = h("div.whatif-menu.panel#whatif-menu", { role: "menu", "aria-label": `What if: ${path}`,
      style: `left:${x}px;top:${y}px` },
    h("div.muted", {}, "What if module ", h("code", {}, path), "…"),
    h("button.small", { type: "button", role: "menuitem", "data-whatif": `module:${path}|MUST_SAVE`, onclick: pick("MUST_SAVE") }, "save"),
    h("button.small", { type: "button", role: "menuitem", "data-whatif": `module:${path}|PREFER_RECOMPUTE`, onclick: pick("PREFER_RECOMPUTE") }, "recompute"),
    h("button.small", { type: "button", role: "menuitem", "data-whatif": `module:${path}|NO_CHECKPOINT`, onclick: pick("NO_CHECKPOINT") }, "no checkpoint"));
    document.body.append(menu);
    menu.querySelector("button").focus();
    const close = (ev) => { if (!menu.contains(ev.target) || ev.key === "Escape") { menu.remove(); document.removeEventListener("pointerdown", close); document.removeEventListener("keydown", close); } };
    setTimeout(() => { document.addEventListener("pointerdown", close); document.addEventListener("keydown", close); });
  });
}

/**
 * Once the analysis is loaded: `{id, doc, view, openRef(ref), highlight(names)}`. Restores
 * pending changes of this analysis, offers a menu on module groups of `view`, and, for a what-if
 * plan, shows its panel.
 */
export function initWhatIf(context) {
  ctx = context;
  load();
  renderBar();
  if (ctx.view) groupMenu(ctx.view);
  const root = $("#whatif");
  if (root && ctx.doc.whatif) {
    root.classList.remove("hidden");
    renderPlan(root);
  }
}
