// The graph explorer: one server-laid-out hierarchy level at a time, pan/zoom, search, selection.
// Colours, policy outlines and saved fw→bw highlights are classes added from the analysis document,
// so the view says the same thing whatever styling the server's SVG carries.
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
    this.view = h("div.graph-view", { tabindex: "0", role: "application", "aria-label": this.opts.label || "Graph. Arrow keys pan, + and − zoom, 0 fits, U goes up a level." });
    this.toolbar = h("div.graph-toolbar", {}, this.crumbs, searchWrap,
      h("button.small", { type: "button", title: "Zoom in (+)", "aria-label": "Zoom in", onclick: () => this.zoom(1 / 1.25) }, "+"),
      h("button.small", { type: "button", title: "Zoom out (−)", "aria-label": "Zoom out", onclick: () => this.zoom(1.25) }, "−"),
      h("button.small", { type: "button", title: "Fit (0)", onclick: () => this.fit() }, "Fit"),
      this.countLabel);
    this.root.replaceChildren(this.toolbar, this.view);
    this.bindPanZoom();
    this.searchInput.addEventListener("input", () => this.search(this.searchInput.value));
    this.searchInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { const first = this.results.querySelector("li"); if (first) first.click(); }
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

  async show({ region = this.region, kind = this.kind, level = "", select = null } = {}) {
    this.region = region;
    this.kind = kind;
    await this.load(level);
    if (select) await this.select(select, { reveal: true });
  }

  async load(level) {
    const token = ++this.loadToken;
    this.level = level || "";
    this.renderCrumbs();
    this.view.querySelector(".loading")?.remove();
    this.view.append(h("div.loading", { role: "status" }, "Laying out…"));
    let text;
    try {
      text = await fetchSvg(api.graphSvgUrl(this.analysisId, this.region, this.kind, this.level));
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
    svg.setAttribute("aria-label", `${this.kind} graph${this.level ? `, ${this.level}` : ""}`);
    this.svg = svg;
    this.view.replaceChildren(svg);
    this.base = this.readViewBox(svg);
    this.decorate();
    this.fit();
    if (this.query) this.search(this.query);
    if (this.selected) this.markSelected();
    this.opts.onLevel?.(this.level);
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
      } else if (id.startsWith("g:")) {
        g += 1;
        el.setAttribute("tabindex", "0");
        el.setAttribute("role", "button");
        el.setAttribute("aria-label", `Group ${id.slice(2)}: expand`);
        setTitle(el, `${id.slice(2)} — click to expand`);
        // Tint the group by its dominant status (the server's class), in this page's palette.
        const st = [...el.classList].find((c) => ["saved", "recomputed", "recompute", "gradient", "forward_only", "mixed"].includes(c));
        if (st) el.classList.add(`st-${st}`);
      } else if (id.startsWith("e:")) {
        this.markEdge(el, id.slice(2), savedFw, jointByName);
      }
    }
    // Graphviz-style edges carry "src->dst" in their <title>.
    for (const el of this.svg.querySelectorAll("g.edge")) {
      if (el.id?.startsWith("e:")) continue;
      const t = el.querySelector("title")?.textContent;
      if (t) this.markEdge(el, t, savedFw, jointByName);
    }
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
  search(query) {
    this.query = query.trim().toLowerCase();
    const q = this.query;
    this.view.classList.toggle("searching", Boolean(q));
    if (!this.svg) return;
    for (const el of this.svg.querySelectorAll(".match")) el.classList.remove("match");
    if (!q) { this.results.classList.add("hidden"); return; }
    const nodes = this.nodes;
    const hits = [];
    for (const node of nodes.values()) {
      if (node.name.toLowerCase().includes(q) || (node.target || "").toLowerCase().includes(q) || (node.module || "").toLowerCase().includes(q)) hits.push(node);
    }
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
      onclick: () => { this.results.classList.add("hidden"); this.select(n.name); },
      onkeydown: (e) => {
        if (e.key === "Enter") e.currentTarget.click();
        if (e.key === "ArrowDown") { e.preventDefault(); e.currentTarget.nextElementSibling?.focus(); }
        if (e.key === "ArrowUp") { e.preventDefault(); (e.currentTarget.previousElementSibling || this.searchInput).focus(); }
        if (e.key === "Escape") { this.results.classList.add("hidden"); this.searchInput.focus(); }
      },
    }, h("span", { class: `status-pill ${n.status}` }, n.status.replace("_", " ")), " ", h("strong", {}, n.name), " ", h("span.muted", {}, `${n.target}${n.module ? ` · ${n.module}` : ""}`))));
    if (hits.length > 60) this.results.append(h("li.muted", { style: "padding:.2rem .6rem" }, `… ${hits.length - 60} more`));
    if (!hits.length) this.results.append(h("li.muted", { style: "padding:.2rem .6rem" }, "No match"));
    this.results.classList.remove("hidden");
  }

  // ---- pan & zoom -----------------------------------------------------------------------------
  setViewBox(v) {
    this.vb = v;
    this.svg?.setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
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
    this.view.addEventListener("click", (e) => {
      if (this.suppressClick) return;
      this.activate(e.target);
    });
    this.view.addEventListener("keydown", (e) => {
      const step = this.vb ? this.vb.w * 0.1 : 0;
      const keys = {
        ArrowLeft: () => this.pan(-step, 0), ArrowRight: () => this.pan(step, 0),
        ArrowUp: () => this.pan(0, -step), ArrowDown: () => this.pan(0, step),
        "+": () => this.zoom(1 / 1.25), "=": () => this.zoom(1 / 1.25), "-": () => this.zoom(1.25),
        0: () => this.fit(), u: () => this.up(), Backspace: () => this.up(),
      };
      if ((e.key === "Enter" || e.key === " ") && e.target !== this.view) { e.preventDefault(); this.activate(e.target); return; }
      if (keys[e.key] && (e.target === this.view || e.key.startsWith("Arrow") === false)) { e.preventDefault(); keys[e.key](); }
    });
  }

  up() {
    const a = ancestors(this.level);
    this.load(a.length > 1 ? a[a.length - 2] : "");
  }

  activate(target) {
    const el = target.closest?.('[id^="n:"], [id^="g:"], [id^="x:"]');
    if (!el || !this.view.contains(el)) return;
    const id = idOf(el);
    if (id.startsWith("g:")) this.load(id.slice(2));
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
