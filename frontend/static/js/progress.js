// Live progress of a job (analysis, sweep, what-if): every stage the server reports, each with its
// elapsed time, the server's percentage, and where it failed. One component for every page.
import { h } from "./util.js";

/** The stages a job passes through, in order (server/jobs.py STAGES). */
export const STAGES = ["queued", "starting", "tracing", "partitioning", "analysing", "storing", "done"];
export const FINAL = new Set(["done", "failed", "cancelled"]);

function fmtElapsed(s) {
  if (!(s >= 0)) return "";
  return s < 10 ? `${s.toFixed(1)} s` : s < 120 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export class ProgressPanel {
  /** root: an element the panel fills; label: the progress bar's accessible name. */
  constructor(root, { label = "Analysis progress" } = {}) {
    this.root = root;
    this.bar = h("div.bar", { role: "progressbar", "aria-label": label, "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" }, h("div"));
    this.pct = h("span.pct.mono", {}, "0%");
    this.list = h("ol.stage-list", { "aria-label": "Stages" });
    this.msg = h("div.muted.progress-msg", { "aria-live": "polite" });
    root.classList.add("progress");
    root.replaceChildren(h("div.bar-row", {}, this.bar, this.pct), this.list, this.msg);
    this.timer = null;
    this.reset();
  }

  /** Back to an empty panel (a new job, or after a failure once the user tries again). */
  reset() {
    this.seen = new Map(); // stage → {at (s, server clock), message}
    this.current = null;
    this.failed = null;
    this.root.classList.remove("failed");
    this.setPct(0);
    this.msg.textContent = "";
    this.render();
    this.stopTimer();
  }

  setPct(p) {
    const pct = Math.round(Math.max(0, Math.min(1, p ?? 0)) * 100);
    this.bar.setAttribute("aria-valuenow", String(pct));
    this.bar.firstElementChild.style.width = `${pct}%`;
    this.pct.textContent = `${pct}%`;
  }

  /** One event {stage, progress, message, at}: from SSE, from polling, or a job's status. */
  update(ev) {
    if (!ev?.stage) return;
    this.root.classList.remove("hidden");
    const at = typeof ev.at === "number" ? ev.at : Date.now() / 1000;
    if (!this.seen.has(ev.stage)) this.seen.set(ev.stage, { at, message: ev.message || "" });
    else if (ev.message) this.seen.get(ev.stage).message = ev.message;
    if (ev.stage === "failed" || ev.stage === "cancelled") {
      this.failed = { stage: this.current, at, kind: ev.stage };
      this.root.classList.add("failed");
      this.stopTimer();
    } else {
      this.current = ev.stage;
      if (ev.stage === "done") this.stopTimer(); else this.startTimer();
    }
    if (ev.progress != null) this.setPct(ev.stage === "done" ? 1 : ev.progress);
    this.msg.textContent = `${ev.stage}${ev.message ? ` — ${ev.message}` : ""}`;
    this.render();
  }

  /** The elapsed seconds of stage i: to the next stage seen, or to now while it runs. */
  elapsed(stage) {
    const mine = this.seen.get(stage);
    if (!mine) return null;
    const later = [...this.seen.entries()].filter(([s, v]) => s !== stage && v.at >= mine.at && STAGES.indexOf(s) > STAGES.indexOf(stage))
      .map(([, v]) => v.at);
    if (this.failed && stage === this.failed.stage) later.push(this.failed.at);
    const end = later.length ? Math.min(...later) : (stage === "done" ? mine.at : Date.now() / 1000);
    return Math.max(0, end - mine.at);
  }

  render() {
    const idx = STAGES.indexOf(this.current);
    this.list.replaceChildren(...STAGES.filter((s) => s !== "done" || this.current === "done").map((s, i) => {
      const state = this.failed && s === this.failed.stage ? "failed"
        : s === this.current && s !== "done" ? "current"
          : this.seen.has(s) || i < idx ? "done" : "pending";
      const el = this.elapsed(s);
      return h("li", { "data-stage": s, class: state, title: this.seen.get(s)?.message || null },
        h("span.name", {}, s), el != null && s !== "done" ? h("span.t.mono", {}, fmtElapsed(el)) : null);
    }));
  }

  startTimer() {
    if (this.timer) return;
    this.timer = setInterval(() => this.render(), 250);
  }

  stopTimer() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
