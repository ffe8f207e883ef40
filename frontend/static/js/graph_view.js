// The explorer's view: pan and zoom on the SVG's viewBox, following another pane's view, and the
// legend under the graph. `PanZoom` is mixed into GraphExplorer (its `svg`, `view`, `base`, `vb`
// and `opts.onView`).
import { h } from "./util.js";

export const PanZoom = {
  /** An element's box in the SVG's user space (dot's graph group carries a transform). */
  boxOf(el) {
    const r = el.getBoundingClientRect();
    const a = this.toSvgPoint(r.left, r.top), b = this.toSvgPoint(r.right, r.bottom);
    return { x: a.x, y: a.y, width: b.x - a.x, height: b.y - a.y };
  },

  readViewBox(svg) {
    const vb = svg.getAttribute("viewBox");
    if (vb) { const [x, y, w, hgt] = vb.split(/[\s,]+/).map(Number); return { x, y, w, h: hgt }; }
    const bb = svg.getBBox();
    return { x: bb.x, y: bb.y, w: bb.width || 100, h: bb.height || 100 };
  },

  setViewBox(v, { notify = true } = {}) {
    this.vb = v;
    this.svg?.setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
    if (notify && this.base) this.opts.onView?.(this.relativeView());
  },

  /** The view as fractions of the level's extent (another layout of the same level can follow). */
  relativeView() {
    const b = this.base, v = this.vb;
    return { x: (v.x - b.x) / b.w, y: (v.y - b.y) / b.h, w: v.w / b.w, h: v.h / b.h };
  },

  /** Shows the same part of this level as `rel` (from `relativeView` of another pane). */
  followView(rel) {
    if (!this.base) return;
    const b = this.base;
    this.setViewBox({ x: b.x + rel.x * b.w, y: b.y + rel.y * b.h, w: rel.w * b.w, h: rel.h * b.h }, { notify: false });
  },

  fit() {
    if (!this.base) return;
    const pad = Math.max(this.base.w, this.base.h) * 0.02;
    // A small level is shown at most 1.3× its natural size, not blown up to the whole view.
    const minW = (this.view.clientWidth || 800) / 1.3, minH = (this.view.clientHeight || 500) / 1.3;
    const w = Math.max(this.base.w + 2 * pad, minW), hh = Math.max(this.base.h + 2 * pad, minH);
    const cx = this.base.x + this.base.w / 2, cy = this.base.y + this.base.h / 2;
    this.setViewBox({ x: cx - w / 2, y: cy - hh / 2, w, h: hh });
  },

  zoom(factor, cx, cy) {
    if (!this.vb) return;
    const v = this.vb;
    const px = cx ?? v.x + v.w / 2, py = cy ?? v.y + v.h / 2;
    const w = Math.max(20, Math.min(this.base.w * 20, v.w * factor));
    const k = w / v.w;
    this.setViewBox({ x: px - (px - v.x) * k, y: py - (py - v.y) * k, w, h: v.h * k });
  },

  pan(dx, dy) {
    if (!this.vb) return;
    this.setViewBox({ ...this.vb, x: this.vb.x + dx, y: this.vb.y + dy });
  },

  toSvgPoint(clientX, clientY) {
    const pt = this.svg.createSVGPoint();
    pt.x = clientX; pt.y = clientY;
    return pt.matrixTransform(this.svg.getScreenCTM().inverse());
  },

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
  },
};

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
