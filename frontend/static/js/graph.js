// The graph explorer: server-laid-out hierarchy levels, pan/zoom, search, selection.
// A level (drill-down: `level`) shows its child groups collapsed; groups open in place (`open`,
// nested, several at once, or all to a depth) as clusters. Every laid-out SVG is kept by URL, so
// going back to a state already seen costs no request. Colours, policy outlines and saved fw→bw
// highlights are classes added from the analysis document, so the view says the same thing
// whatever styling the server's SVG carries.
import { api, fetchSvg } from "./api.js";
import { h } from "./util.js";

const SVGNS = "http://www.w3.org/2000/svg";

export function policyClass(node) {
  const p = node.policy || node.requested_policy;
  const cls = [];
  if (p) cls.push(p.startsWith("MUST") ? "pol-must" : "pol-prefer");
  if (node.requested_policy && node.policy && node.requested_policy !== node.policy) cls.push("pol-changed");
  return cls;
}

/** Splits "blocks.3.attn" (or "blocks.3/ac1") into its ancestor paths. */
function ancestors(path) {
  const out = [];
  const re = /[./]/g;
  let m;
  while ((m = re.exec(path))) out.push(path.slice(0, m.index));
  out.push(path);
  return out.filter(Boolean);
}

function idOf(el) { return el.getAttribute("id") || ""; }

/** Search words for ops whose aten names users do not type (`sdpa` → scaled_dot_product_*). */
export const OP_ALIASES = {
  sdpa: ["scaled_dot_product"], attention: ["scaled_dot_product", "bmm", "_softmax"], attn: ["scaled_dot_product"],
  flash: ["flash_attention"], matmul: ["mm.", "bmm", "addmm", "matmul"], linear: ["addmm", "mm."],
  layernorm: ["native_layer_norm"], ln: ["native_layer_norm"], norm: ["layer_norm", "batch_norm", "rms_norm"],
  softmax: ["_softmax"], dropout: ["native_dropout", "philox", "rand", "bernoulli"], rng: ["philox", "rng_state", "rand"],
  gelu: ["gelu"], relu: ["relu", "threshold_backward"], conv: ["convolution"], embedding: ["embedding"],
  add: ["add."], mul: ["mul."], cat: ["cat."], view: ["view", "reshape", "_unsafe_view"], transpose: ["transpose", "permute", "t."],
};

/** Does `node` match the lower-case query (name, op, module, or an op alias)? */
export function matches(node, q) {
  const target = (node.target || "").toLowerCase();
  if (node.name.toLowerCase().includes(q) || target.includes(q) || (node.module || "").toLowerCase().includes(q)) return true;
  return (OP_ALIASES[q] || []).some((a) => target.includes(a));
}

/** A small LRU of laid-out SVG texts by URL: states already seen render without a request. */
const SVG_CACHE = new Map();
const SVG_CACHE_MAX = 96;
async function cachedSvg(url) {
  if (SVG_CACHE.has(url)) {
    const hit = SVG_CACHE.get(url);
    SVG_CACHE.delete(url);
    SVG_CACHE.set(url, hit);
    return hit;
  }
  const pending = fetchSvg(url);
  SVG_CACHE.set(url, pending);
  try {
    const text = await pending;
    SVG_CACHE.set(url, text);
    while (SVG_CACHE.size > SVG_CACHE_MAX) SVG_CACHE.delete(SVG_CACHE.keys().next().value);
    return text;
  } catch (e) {
    SVG_CACHE.delete(url);
    throw e;
  }
}

/** "n:addmm_3", "n:primals_1~2" (a placeholder drawn again beside another consumer), "x:mm" (a stub). */
function nodeName(id) { return id.slice(2).replace(/~\d+$/, ""); }

function setTitle(el, text) {
  let t = el.querySelector(":scope > title");
  if (!t) { t = document.createElementNS(SVGNS, "title"); el.prepend(t); }
  t.textContent = text;
}

/** Each node's group path, as the server groups them (server/layout/hierarchy.py `group_paths`):
 *  its module; else its parameter's owner; else the module of the node with the same seq_nr;
 *  else its first input's. Used to open the level that shows a node. */
export function groupPaths(nodes, reference = []) {
  const bySeq = new Map();
  for (const n of [...reference, ...nodes]) if (n.module && n.seq_nr != null && !bySeq.has(n.seq_nr)) bySeq.set(n.seq_nr, n.module);
  const paths = new Map();
  for (const n of nodes) {
    let p = n.module;
    if (!p && n.param) p = n.param.slice(0, Math.max(0, n.param.lastIndexOf(".")));
    if (!p && n.seq_nr != null) p = bySeq.get(n.seq_nr);
    if (!p && n.op !== "placeholder" && n.op !== "output") p = (n.inputs || []).map((i) => paths.get(i)).find(Boolean);
    paths.set(n.name, p || "");
  }
  return paths;
}

export class GraphExplorer {
  /**
   * opts: analysisId, doc, region, kind, onSelect(name|null), onLevel(level), decorate(el, node) → extra classes,
   *       label (for screen readers)
   */
  constructor(root, opts) {
    this.root = root;
    this.opts = opts;
    this.analysisId = opts.analysisId;
    this.doc = opts.doc;
    this.region = opts.region ?? 0;
    this.kind = opts.kind ?? "forward";
    this.level = "";
    this.open = new Set(); // groups opened in place inside the level
    this.depth = 0; // "expand all to depth N" (0: collapsed)
    this.selected = null;
    this.query = "";
    this.loadToken = 0;
    this.build();
  }

  build() {
    this.crumbs = h("nav.crumbs", { "aria-label": "Hierarchy level" });
    this.searchInput = h("input", { type: "search", placeholder: "Search name, op or module…", "aria-label": "Search nodes by name, op or module", "aria-controls": "" });
    this.results = h("ul.search-results.panel.hidden", { role: "listbox", style: "position:absolute;z-index:30;max-height:300px;overflow:auto;margin:0;padding:.2rem 0;list-style:none;width:420px" });
    const searchWrap = h("div", { style: "position:relative" }, this.searchInput, this.results);
    this.countLabel = h("span.muted", { style: "font-size:.85em;margin-left:auto" });
    this.view = h("div.graph-view", { tabindex: "0", role: "application", "aria-label": this.opts.label || "Graph. Arrow keys pan, + and − zoom, 0 fits, U goes up a level. On a group: Enter opens or closes it in place, Shift+Enter drills into it." });
    this.depthSelect = h("select.small", { "aria-label": "Expand all groups to depth", title: "Open every group in place down to this depth",
      onchange: () => this.setDepth(Number(this.depthSelect.value)) },
    ...[0, 1, 2, 3].map((d) => h("option", { value: String(d) }, d ? `expand to depth ${d}` : "groups collapsed")));
    this.toolbar = h("div.graph-toolbar", {}, this.crumbs, searchWrap, this.depthSelect,
      h("button.small", { type: "button", title: "Zoom in (+)", "aria-label": "Zoom in", onclick: () => this.zoom(1 / 1.25) }, "+"),
      h("button.small", { type: "button", title: "Zoom out (−)", "aria-label": "Zoom out", onclick: () => this.zoom(1.25) }, "−"),
      h("button.small", { type: "button", title: "Fit (0)", onclick: () => this.fit() }, "Fit"),
      this.countLabel);
    this.root.replaceChildren(this.toolbar, this.view);
    this.bindPanZoom();
    this.searchInput.addEventListener("input", () => this.search(this.searchInput.value));
    this.searchInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); const first = this.results.querySelector("li[role=option]"); if (first) first.click(); }
      if (e.key === "ArrowDown") { e.preventDefault(); this.results.querySelector("li")?.focus(); }
      if (e.key === "Escape") { this.searchInput.value = ""; this.search(""); }
    });
  }

  get nodes() {
    const g = this.doc.regions[this.region]?.graphs?.[this.kind];
    if (!g) return new Map();
    if (!g._byName) g._byName = new Map(g.nodes.map((n) => [n.name, n]));
    return g._byName;
  }

  async show({ region = this.region, kind = this.kind, level = "", open = [], depth = 0, select = null } = {}) {
    this.region = region;
    this.kind = kind;
    this.open = new Set(open);
    this.depth = depth;
    await this.load(level, { keepOpen: true });
    if (select) await this.select(select, { reveal: true });
  }

  svgUrl(level = this.level, open = this.open, depth = this.depth) {
    return api.graphSvgUrl(this.analysisId, this.region, this.kind, level, [...open].sort(), depth);
  }

  /** Drill down to `level` (its child groups collapsed, unless keepOpen keeps the open set). */
  async load(level, { keepOpen = false, focus = null } = {}) {
    const token = ++this.loadToken;
    const next = level || "";
    if (!keepOpen && next !== this.level) { this.open = new Set(); this.depth = 0; }
    this.level = next;
    this.depthSelect.value = String(this.depth);
    this.renderCrumbs();
    const url = this.svgUrl();
    const cached = typeof SVG_CACHE.get(url) === "string";
    if (!cached) {
      this.view.querySelector(".loading")?.remove();
      this.view.append(h("div.loading", { role: "status" }, "Laying out…"));
    }
    let text;
    const started = performance.now();
    try {
      text = await cachedSvg(url);
    } catch (e) {
      if (token !== this.loadToken) return;
      if (this.level && e.status === 404) return this.load("");
      this.view.replaceChildren(h("div.loading.error-box", { role: "alert" }, `Could not lay out this graph: ${e.message}`));
      return;
    }
    if (token !== this.loadToken) return;
    const parsed = new DOMParser().parseFromString(text, "image/svg+xml");
    const svg = document.importNode(parsed.documentElement, true);
    if (svg.nodeName.toLowerCase() !== "svg") {
      this.view.replaceChildren(h("div.loading.error-box", {}, "The server returned no SVG."));
      return;
    }
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `${this.kind} graph${this.level ? `, ${this.level}` : ""}${this.open.size ? `, ${this.open.size} group(s) open` : ""}`);
    const keepView = focus && this.vb ? { ...this.vb } : null;
    this.svg = svg;
    this.view.replaceChildren(svg);
    this.base = this.readViewBox(svg);
    this.decorate();
    if (keepView && focus) this.keepInView(focus, keepView); else this.fit();
    if (this.query) this.search(this.query, { list: false });
    if (this.selected) this.markSelected();
    // where the last render came from and how long it took (the expansion budget is 300 ms)
    this.view.dataset.renderMs = String(Math.round(performance.now() - started));
    this.view.dataset.fromCache = String(cached);
    if (focus) {
      const el = this.svg.querySelector(`[id="c:${CSS.escape(focus)}"], [id="g:${CSS.escape(focus)}"]`);
      (el || this.view).focus({ preventScroll: true });
    }
    this.opts.onLevel?.(this.level, { open: [...this.open].sort(), depth: this.depth });
  }

  /** Opens or closes a group in place; closing also closes the groups inside it. */
  toggle(path) {
    if (this.open.has(path) || this.depthOpens(path)) {
      for (const p of [...this.open]) if (p === path || p.startsWith(`${path}.`)) this.open.delete(p);
      if (this.depthOpens(path)) { this.depth = Math.max(0, this.relDepth(path) - 1); }
    } else {
      this.open.add(path);
    }
    const el = this.svg?.querySelector(`[id="c:${CSS.escape(path)}"], [id="g:${CSS.escape(path)}"]`);
    this.prevAnchor = el && this.vb ? this.boxOf(el) : null;
    return this.load(this.level, { keepOpen: true, focus: path });
  }

  relDepth(path) {
    const rel = this.level ? path.slice(this.level.length + 1) : path;
    return rel.split(/[.]/).length;
  }

  depthOpens(path) { return this.depth > 0 && this.relDepth(path) <= this.depth; }

  setDepth(depth) {
    this.depth = depth;
    if (!depth) this.open = new Set();
    return this.load(this.level, { keepOpen: true });
  }

  /** An element's box in the SVG's user space (dot's graph group carries a transform). */
  boxOf(el) {
    const r = el.getBoundingClientRect();
    const a = this.toSvgPoint(r.left, r.top), b = this.toSvgPoint(r.right, r.bottom);
    return { x: a.x, y: a.y, width: b.x - a.x, height: b.y - a.y };
  }

  /** After a toggle: an opened group is framed (its contents fill the view, never blown up
   *  beyond 1.3×); a closed one stays where it was on screen, at the same zoom. */
  keepInView(path, before) {
    const el = this.svg.querySelector(`[id="c:${CSS.escape(path)}"], [id="g:${CSS.escape(path)}"]`);
    if (!el) { this.fit(); return; }
    const bb = this.boxOf(el);
    if (idOf(el).startsWith("c:")) {
      const pad = Math.max(bb.width, bb.height) * 0.04 + 10;
      const minW = (this.view.clientWidth || 800) / 1.3, minH = (this.view.clientHeight || 500) / 1.3;
      const aspect = (this.view.clientWidth || 800) / (this.view.clientHeight || 500);
      let w = Math.max(bb.width + 2 * pad, minW), hh = Math.max(bb.height + 2 * pad, minH);
      if (w / hh < aspect) w = hh * aspect; else hh = w / aspect;
      this.setViewBox({ x: bb.x + bb.width / 2 - w / 2, y: bb.y + bb.height / 2 - hh / 2, w, h: hh });
      return;
    }
    if (!this.prevAnchor) { this.fit(); return; }
    const { x, y } = this.prevAnchor;
    this.setViewBox({ x: bb.x - (x - before.x), y: bb.y - (y - before.y), w: before.w, h: before.h });
  }

  /** Lays out, in the background, what opening the group under the pointer would show. */
  prefetch(path) {
    if (!path || this.open.has(path)) return;
    const url = this.svgUrl(this.level, new Set([...this.open, path]));
    if (!SVG_CACHE.has(url)) cachedSvg(url).catch(() => {});
  }

  readViewBox(svg) {
    const vb = svg.getAttribute("viewBox");
    if (vb) { const [x, y, w, hgt] = vb.split(/[\s,]+/).map(Number); return { x, y, w, h: hgt }; }
    const bb = svg.getBBox();
    return { x: bb.x, y: bb.y, w: bb.width || 100, h: bb.height || 100 };
  }

  decorate() {
    const nodes = this.nodes;
    const region = this.doc.regions[this.region];
    const savedFw = new Set((region?.saved || []).map((s) => s.forward_node));
    const joint = this.doc.regions[this.region]?.graphs?.joint?.nodes;
    const jointByName = joint ? (this.doc.regions[this.region].graphs.joint._byName ||= new Map(joint.map((n) => [n.name, n]))) : new Map();
    let n = 0, g = 0;
    for (const el of this.svg.querySelectorAll("[id]")) {
      const id = idOf(el);
      if (id.startsWith("n:") || id.startsWith("x:")) {
        const name = nodeName(id);
        if (id.startsWith("n:") && !/~\d+$/.test(id)) n += 1;
        const node = nodes.get(name);
        el.setAttribute("tabindex", "0");
        el.setAttribute("role", "button");
        if (node && id.startsWith("x:")) {
          el.setAttribute("aria-label", `${name}: from another level`);
        } else if (node) {
          el.classList.add(`st-${node.status}`, ...policyClass(node));
          if (this.kind !== "backward" && savedFw.has(name) && node.status === "saved") el.classList.add("to-bw");
          el.setAttribute("aria-label", `${name}, ${node.target}, ${node.status.replace("_", " ")}`);
          const extra = this.opts.decorate?.(name, node, el);
          if (extra) el.classList.add(...extra);
        } else {
          el.setAttribute("aria-label", name);
        }
        setTitle(el, node ? `${name} · ${node.target} · ${node.status}${node.module ? ` · ${node.module}` : ""}${id.startsWith("x:") ? " (from another level: click to go there)" : ""}` : name);
      } else if (id.startsWith("c:")) {
        const summary = el.querySelector("a")?.getAttribute("xlink:title") || id.slice(2);
        el.querySelector("a")?.removeAttribute("xlink:title");
        el.setAttribute("tabindex", "0");
        el.setAttribute("role", "button");
        el.setAttribute("aria-expanded", "true");
        el.setAttribute("aria-label", `Group ${summary.replace(" (click to collapse)", "")}: open; Enter closes it`);
        setTitle(el, summary);
      } else if (id.startsWith("g:")) {
        g += 1;
        const summary = el.querySelector("a")?.getAttribute("xlink:title") || id.slice(2);
        el.querySelector("a")?.removeAttribute("xlink:title");
        el.setAttribute("tabindex", "0");
        el.setAttribute("role", "button");
        el.setAttribute("aria-expanded", "false");
        el.setAttribute("aria-label", `Group ${summary}. Enter opens it in place, Shift+Enter drills into it`);
        setTitle(el, `${summary}\nclick: open in place · double-click: drill down`);
        // Tint the group by its dominant status (the server's class), in this page's palette.
        const st = [...el.classList].find((c) => ["saved", "recomputed", "recompute", "gradient", "forward_only", "mixed"].includes(c));
        if (st) el.classList.add(`tint-${st}`);
        this.opts.decorateGroup?.(id.slice(2), el);
      } else if (id.startsWith("e:")) {
        this.markEdge(el, id.slice(2), savedFw, jointByName);
      }
    }
    // Graphviz-style edges carry "src->dst" in their <title>.
    for (const el of this.svg.querySelectorAll("g.edge")) {
      if (el.id?.startsWith("e:")) continue;
      const title = el.querySelector("title");
      const t = title?.textContent;
      if (t) {
        const [src, dst] = t.split("->");
        el.dataset.src = src.replace(/^[nxg]_/, "").replace(/~\d+$/, "");
        el.dataset.dst = (dst || "").replace(/^[nxg]_/, "");
        this.markEdge(el, t, savedFw, jointByName);
      }
      // "n_a->n_b" is noise for tooltips and screen readers: the edge stays a picture
      title?.remove();
      el.setAttribute("aria-hidden", "true");
    }
    // nodes' own hover text is the title set above, not dot's cut-down copy of the label
    for (const a of this.svg.querySelectorAll('[id^="n:"] a, [id^="x:"] a')) a.removeAttribute("xlink:title");
    this.countLabel.textContent = `${n} node${n === 1 ? "" : "s"}${g ? ` · ${g} group${g === 1 ? "" : "s"}` : ""}`;
  }

  markEdge(el, spec, savedFw, jointByName) {
    const clean = (x) => x?.trim().replace(/^[nx][:_]/, "").replace(/~\d+$/, "");
    const src = el.dataset?.src || clean(spec.split("->")[0]);
    const dst = el.dataset?.dst || clean(spec.split("->")[1]);
    if (!src || !dst) return;
    // A saved value's edge into the backward: the fw→bw hand-over torch keeps in memory.
    const dstNode = jointByName.get(dst);
    if (savedFw.has(src) && (this.kind === "joint" ? dstNode?.partitioner_tag === "is_backward" : this.kind === "forward" && dst === "output")) {
      el.classList.add("saved-edge");
    }
  }

  renderCrumbs() {
    const parts = [h("button.small", { type: "button", onclick: () => this.load(""), "aria-current": this.level ? null : "true" }, "top")];
    for (const p of ancestors(this.level)) {
      parts.push(h("span.muted", {}, "›"), h("button.small", { type: "button", onclick: () => this.load(p), "aria-current": p === this.level ? "true" : null, title: p }, p.split(/[./]/).pop()));
    }
    this.crumbs.replaceChildren(...parts);
  }

  // ---- selection -------------------------------------------------------------------------------
  async select(name, { reveal = true, notify = true } = {}) {
    this.selected = name;
    if (reveal && name && !this.svg?.querySelector(`[id="n:${CSS.escape(name)}"]`)) await this.reveal(name);
    this.markSelected();
    if (notify) this.opts.onSelect?.(name);
  }

  markSelected() {
    if (!this.svg) return;
    for (const el of this.svg.querySelectorAll(".selected")) el.classList.remove("selected");
    if (!this.selected) return;
    const el = this.svg.querySelector(`[id="n:${CSS.escape(this.selected)}"]`);
    if (el) { el.classList.add("selected"); this.centerOn(el); }
  }

  /** Walks down the hierarchy until the node is on screen: by module path, else by the groups JSON. */
  async reveal(name) {
    const g = this.doc.regions[this.region]?.graphs?.[this.kind];
    if (g && !g._paths) g._paths = groupPaths(g.nodes, this.doc.regions[this.region].graphs.joint?.nodes || []);
    const path = g?._paths?.get(name);
    if (path != null && path !== this.level) {
      await this.load(path);
      if (this.svg?.querySelector(`[id="n:${CSS.escape(name)}"]`)) return true;
    }
    const node = this.nodes.get(name);
    for (let depth = 0; depth < 12; depth += 1) {
      if (this.svg?.querySelector(`[id="n:${CSS.escape(name)}"]`)) return true;
      const groups = [...(this.svg?.querySelectorAll('[id^="g:"]') || [])].map((el) => idOf(el).slice(2));
      let target = null;
      const mod = node?.module || "";
      const region = node?.ac_region;
      for (const p of groups) {
        const hitModule = mod && (mod === p || mod.startsWith(`${p}.`) || mod.startsWith(`${p}/`));
        const hitRegion = region != null && new RegExp(`(^|[./:])(ac|region|checkpoint)[_: -]?${region}($|[./])`, "i").test(p);
        if ((hitModule || hitRegion) && (!target || p.length > target.length)) target = p;
      }
      if (!target) target = await this.groupContaining(name);
      if (!target) {
        if (this.level) { await this.load(""); continue; }
        return false;
      }
      await this.load(target);
    }
    return false;
  }

  async groupContaining(name) {
    let level;
    try { level = await api.groups(this.analysisId, this.region, this.kind, this.level); } catch { return null; }
    const list = Array.isArray(level) ? level : level?.groups || level?.children || [];
    for (const g of list) {
      if (!g || typeof g !== "object") continue;
      const path = g.path ?? g.id ?? g.name;
      const hay = JSON.stringify(g);
      if (path && hay.includes(`"${name}"`)) return String(path).replace(/^g:/, "");
    }
    return null;
  }

  // ---- search ---------------------------------------------------------------------------------
  /** Highlights matches on screen; `list` also opens the results list (typing, not re-renders). */
  search(query, { list = true } = {}) {
    this.query = query.trim().toLowerCase();
    const q = this.query;
    this.view.classList.toggle("searching", Boolean(q));
    if (!this.svg) return;
    for (const el of this.svg.querySelectorAll(".match")) el.classList.remove("match");
    if (!q) { this.results.classList.add("hidden"); return; }
    const nodes = this.nodes;
    const hits = [];
    for (const node of nodes.values()) if (matches(node, q)) hits.push(node);
    const hitNames = new Set(hits.map((n) => n.name));
    const hitModules = hits.map((n) => n.module || "");
    for (const el of this.svg.querySelectorAll('[id^="n:"], [id^="g:"]')) {
      const id = idOf(el);
      const key = id.startsWith("n:") ? nodeName(id) : id.slice(2);
      const ok = id.startsWith("n:") ? hitNames.has(key) : key.toLowerCase().includes(q) || hitModules.some((m) => m === key || m.startsWith(`${key}.`));
      if (ok) el.classList.add("match");
    }
    this.results.replaceChildren(...hits.slice(0, 60).map((n) => h("li", {
      role: "option", tabindex: "-1", style: "padding:.2rem .6rem;cursor:pointer;white-space:nowrap;overflow:hidden;text-overflow:ellipsis",
      onclick: () => { this.results.classList.add("hidden"); this.select(n.name).then(() => this.view.focus({ preventScroll: true })); },
      onkeydown: (e) => {
        if (e.key === "Enter") e.currentTarget.click();
        if (e.key === "ArrowDown") { e.preventDefault(); e.currentTarget.nextElementSibling?.focus(); }
        if (e.key === "ArrowUp") { e.preventDefault(); (e.currentTarget.previousElementSibling || this.searchInput).focus(); }
        if (e.key === "Escape") { this.results.classList.add("hidden"); this.searchInput.focus(); }
      },
    }, h("span", { class: `status-pill ${n.status}` }, n.status.replace("_", " ")), " ", h("strong", {}, n.name), " ", h("span.muted", {}, `${n.target}${n.module ? ` · ${n.module}` : ""}`))));
    if (hits.length > 60) this.results.append(h("li.muted", { style: "padding:.2rem .6rem" }, `… ${hits.length - 60} more`));
    if (!hits.length) this.results.append(h("li.muted", { style: "padding:.2rem .6rem" }, "No match"));
    if (list) this.results.classList.remove("hidden");
  }

  // ---- pan & zoom -----------------------------------------------------------------------------
  setViewBox(v, { notify = true } = {}) {
    this.vb = v;
    this.svg?.setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
    if (notify && this.base) this.opts.onView?.(this.relativeView());
  }

  /** The view as fractions of the level's extent (another layout of the same level can follow). */
  relativeView() {
    const b = this.base, v = this.vb;
    return { x: (v.x - b.x) / b.w, y: (v.y - b.y) / b.h, w: v.w / b.w, h: v.h / b.h };
  }

  /** Shows the same part of this level as `rel` (from `relativeView` of another pane). */
  followView(rel) {
    if (!this.base) return;
    const b = this.base;
    this.setViewBox({ x: b.x + rel.x * b.w, y: b.y + rel.y * b.h, w: rel.w * b.w, h: rel.h * b.h }, { notify: false });
  }

  fit() {
    if (!this.base) return;
    const pad = Math.max(this.base.w, this.base.h) * 0.02;
    // A small level is shown at most 1.3× its natural size, not blown up to the whole view.
    const minW = (this.view.clientWidth || 800) / 1.3, minH = (this.view.clientHeight || 500) / 1.3;
    const w = Math.max(this.base.w + 2 * pad, minW), hh = Math.max(this.base.h + 2 * pad, minH);
    const cx = this.base.x + this.base.w / 2, cy = this.base.y + this.base.h / 2;
    this.setViewBox({ x: cx - w / 2, y: cy - hh / 2, w, h: hh });
  }

  zoom(factor, cx, cy) {
    if (!this.vb) return;
    const v = this.vb;
    const px = cx ?? v.x + v.w / 2, py = cy ?? v.y + v.h / 2;
    const w = Math.max(20, Math.min(this.base.w * 20, v.w * factor));
    const k = w / v.w;
    this.setViewBox({ x: px - (px - v.x) * k, y: py - (py - v.y) * k, w, h: v.h * k });
  }

  pan(dx, dy) {
    if (!this.vb) return;
    this.setViewBox({ ...this.vb, x: this.vb.x + dx, y: this.vb.y + dy });
  }

  toSvgPoint(clientX, clientY) {
    const pt = this.svg.createSVGPoint();
    pt.x = clientX; pt.y = clientY;
    return pt.matrixTransform(this.svg.getScreenCTM().inverse());
  }

  centerOn(el) {
    if (!this.vb || !this.svg) return;
    const r = el.getBoundingClientRect();
    const vr = this.view.getBoundingClientRect();
    if (r.left >= vr.left && r.right <= vr.right && r.top >= vr.top && r.bottom <= vr.bottom && r.width > 8) return;
    const c = this.toSvgPoint(r.left + r.width / 2, r.top + r.height / 2);
    // Zoom in far enough to read the node when the level is large.
    const scale = r.width < 30 && r.width > 0 ? Math.max(0.15, r.width / 90) : 1;
    const w = this.vb.w * scale, hh = this.vb.h * scale;
    this.setViewBox({ x: c.x - w / 2, y: c.y - hh / 2, w, h: hh });
  }

  bindPanZoom() {
    let drag = null;
    this.view.addEventListener("wheel", (e) => {
      if (!this.svg) return;
      e.preventDefault();
      const p = this.toSvgPoint(e.clientX, e.clientY);
      this.zoom(Math.exp(e.deltaY * 0.0015), p.x, p.y);
    }, { passive: false });
    this.view.addEventListener("pointerdown", (e) => {
      if (!this.svg || e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, moved: false };
    });
    window.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < 4) return;
      drag.moved = true;
      this.view.classList.add("dragging");
      const ctm = this.svg.getScreenCTM();
      this.pan(-dx / ctm.a, -dy / ctm.d);
      drag.x = e.clientX; drag.y = e.clientY;
    });
    window.addEventListener("pointerup", () => {
      if (drag?.moved) { this.suppressClick = true; setTimeout(() => { this.suppressClick = false; }, 0); }
      drag = null;
      this.view.classList.remove("dragging");
    });
    // One click opens (or closes) a group in place; a double click drills into it.
    // The first click has already redrawn the level (the group opened), so the second click of a
    // double click lands on something else: it drills into the group the first click toggled.
    this.view.addEventListener("click", (e) => {
      if (this.suppressClick) return;
      if (e.detail === 2 && this.lastToggle && performance.now() - this.lastToggle.at < 600) {
        this.load(this.lastToggle.path);
        this.lastToggle = null;
        return;
      }
      if (e.detail > 1) return;
      const group = e.target.closest?.('[id^="g:"], [id^="c:"]');
      this.lastToggle = group ? { path: idOf(group).slice(2), at: performance.now() } : null;
      this.activate(e.target);
    });
    const warm = (e) => { const g = e.target.closest?.('[id^="g:"]'); if (g) this.prefetch(idOf(g).slice(2)); };
    this.view.addEventListener("pointerover", warm);
    this.view.addEventListener("focusin", warm);
    this.view.addEventListener("keydown", (e) => {
      const step = this.vb ? this.vb.w * 0.1 : 0;
      const keys = {
        ArrowLeft: () => this.pan(-step, 0), ArrowRight: () => this.pan(step, 0),
        ArrowUp: () => this.pan(0, -step), ArrowDown: () => this.pan(0, step),
        "+": () => this.zoom(1 / 1.25), "=": () => this.zoom(1 / 1.25), "-": () => this.zoom(1.25),
        0: () => this.fit(), u: () => this.up(), Backspace: () => this.up(),
      };
      if ((e.key === "Enter" || e.key === " ") && e.target !== this.view) { e.preventDefault(); this.activate(e.target, { drill: e.shiftKey }); return; }
      if (keys[e.key] && (e.target === this.view || e.key.startsWith("Arrow") === false)) { e.preventDefault(); keys[e.key](); }
    });
  }

  up() {
    const a = ancestors(this.level);
    this.load(a.length > 1 ? a[a.length - 2] : "");
  }

  activate(target, { drill = false } = {}) {
    const el = target.closest?.('[id^="n:"], [id^="g:"], [id^="x:"], [id^="c:"]');
    if (!el || !this.view.contains(el)) return;
    const id = idOf(el);
    if (id.startsWith("g:") || id.startsWith("c:")) {
      if (drill) this.load(id.slice(2)); else this.toggle(id.slice(2));
    }
    else if (id.startsWith("x:") || /~\d+$/.test(id)) this.select(nodeName(id), { reveal: true });
    else this.select(id.slice(2), { reveal: false });
  }
}

export function legend(kind) {
  const sw = (cls, label, color) => h("span", {}, h("span.sw", { style: `background:${color}` }), label);
  const items = kind === "backward"
    ? [sw("", "saved (input from forward)", "var(--saved)"), sw("", "recompute", "var(--recomputed)"), sw("", "gradient", "var(--gradient)"), sw("", "tangent", "var(--tangent)")]
    : [sw("", "saved for backward", "var(--saved)"), sw("", "recomputed in backward", "var(--recomputed)"), sw("", "forward only", "var(--forward-only)"),
      ...(kind === "joint" ? [sw("", "gradient", "var(--gradient)"), sw("", "tangent", "var(--tangent)")] : []),
      sw("", "parameter", "var(--parameter)"), sw("", "input", "var(--input)")];
  return h("div.legend", { "aria-label": "Legend" }, ...items,
    h("span", {}, h("span.ol", { style: "border:2px solid var(--must)" }), "MUST_* policy"),
    h("span", {}, h("span.ol", { style: "border:2px dashed var(--must)" }), "PREFER_* policy"),
    h("span", {}, h("span.ol", { style: "border:3px solid var(--danger)" }), "requested ≠ effective policy"),
    kind !== "backward" ? h("span", {}, h("span.ol", { style: "border:1px solid #999;box-shadow:3px 0 0 var(--saved)" }), "handed to backward (saved fw→bw edge)") : null,
    h("span", {}, h("span.ol", { style: "border:1px dashed #7d8ba0;background:#eef2f8" }), "group: click to expand"));
}
