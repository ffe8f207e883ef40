// The hazards panel: what a user must know before acting on the plan, each entry linking to its nodes.

import { h } from "./util.js";

const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 };
const TITLES = {
  torch_compile_fails: "torch.compile fails",
  rng_recomputed: "Random ops recomputed",
  checkpoint_overridden_by_budget: "Checkpoint overridden by the memory budget",
  graph_break_in_checkpoint: "Graph break inside a checkpoint",
  saved_view_keeps_large_base: "Saved view keeps a large base alive",
  recompute_working_set: "Recompute working set spans checkpoints",
  unsupported_torch_version: "Unsupported torch version",
};

/**
 * Render `hazards` (the analysis' `hazards` list) into `root`; `onNode(ref)` opens a node
 * ({region, graph, name}). The panel is hidden when there is nothing to say.
 */
export function renderHazards(root, hazards, onNode, { maxLinks = 8 } = {}) {
  const list = [...(hazards || [])].sort((a, b) => (SEVERITY_ORDER[a.severity] ?? 3) - (SEVERITY_ORDER[b.severity] ?? 3));
  root.classList.toggle("hidden", list.length === 0);
  if (!list.length) { root.replaceChildren(); return; }
  const items = list.map((hz) => {
    const refs = hz.nodes || [];
    const links = refs.slice(0, maxLinks).map((ref) => h("button.small", {
      type: "button", "data-hazard-node": ref.name, title: `region ${ref.region}, ${ref.graph} graph`,
      onclick: () => onNode(ref),
    }, ref.name));
    const more = refs.length > maxLinks ? h("span.muted", {}, ` +${refs.length - maxLinks} more`) : null;
    return h("li", { class: `hazard ${hz.severity}`, "data-hazard": hz.kind },
      h("strong", {}, TITLES[hz.kind] || hz.kind),
      h(`span.badge.sev-${hz.severity}`, {}, hz.severity),
      h("p", {}, hz.message),
      refs.length ? h("div.hazard-nodes", {}, ...links, more) : null,
      hz.details ? h("details", {}, h("summary", {}, "torch's words"), h("pre", {}, hz.details)) : null);
  });
  root.replaceChildren(
    h("header", {}, h("h2", {}, `Hazards (${list.length})`), h("span.muted", { style: "font-size:.85em" }, "before acting on this plan; click a node to show it")),
    h("ul.hazard-list", {}, ...items));
}
