// The graph explorer: server-laid-out hierarchy levels, pan/zoom, search, selection.
// A level (drill-down: `level`) shows its child groups collapsed; groups open in place (`open`,
// nested, several at once, or all to a depth) as clusters. Every laid-out SVG is kept by URL, so
// going back to a state already seen costs no request. Colours, policy outlines and saved fw→bw
// highlights are classes added from the analysis document, so the view says the same thing
// whatever styling the server's SVG carries. Node and path helpers live in graph_model.js, pan
// and zoom (mixed in below) and the legend in graph_view.js, the SVG cache in svg_cache.js.
import { api } from "./api.js";
import { ancestors, groupPaths, idOf, matches, nodeName, policyClass } from "./graph_model.js";
import { PanZoom } from "./graph_view.js";
import { cachedSvg, svgKnown, svgReady } from "./svg_cache.js";
import { h } from "./util.js";

export { groupPaths } from "./graph_model.js";
export { legend } from "./graph_view.js";

const SVGNS = "http://www.w3.org/2000/svg";

function setTitle(el, text) {
  let t = el.querySelector(":scope > title");
  if (!t) { t = document.createElementNS(SVGNS, "title"); el.prepend(t); }
  t.textContent = text;
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
    const cached = svgReady(url);
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
    if (!svgKnown(url)) cachedSvg(url).catch(() => {});
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

Object.assign(GraphExplorer.prototype, PanZoom);
