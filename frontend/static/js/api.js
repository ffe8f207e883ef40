// The API client: one function per route, errors as ApiError carrying the server's {code, message, line}.
import { STAGES } from "./progress.js";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || body?.detail?.message || (typeof body?.detail === "string" ? body.detail : null) || `HTTP ${status}`);
    const detail = body && typeof body.detail === "object" && !Array.isArray(body.detail) ? body.detail : body || {};
    this.status = status;
    this.code = detail.code || null;
    this.line = detail.line ?? null;
    this.body = body;
  }
}

async function request(method, url, { json, form, signal } = {}) {
  const init = { method, headers: { Accept: "application/json" }, signal };
  if (json !== undefined) { init.body = JSON.stringify(json); init.headers["Content-Type"] = "application/json"; }
  if (form !== undefined) init.body = form;
  const res = await fetch(url, init);
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = { message: text.slice(0, 300) }; }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

const enc = encodeURIComponent;

export const api = {
  examples: () => request("GET", "/api/examples"),
  submit: ({ source, settings, name, file, torch_version }) => {
    if (file) {
      const form = new FormData();
      form.append("file", file, name || file.name);
      form.append("settings", JSON.stringify(settings || {}));
      if (name) form.append("name", name);
      if (torch_version) form.append("torch_version", torch_version);
      return request("POST", "/api/analyses", { form });
    }
    return request("POST", "/api/analyses", { json: { source, settings, name, torch_version: torch_version || null } });
  },
  torchVersions: () => request("GET", "/api/torch-versions"),
  status: (id) => request("GET", `/api/analyses/${enc(id)}`),
  events: (id) => request("GET", `/api/analyses/${enc(id)}/events?format=json`),
  document: (id) => request("GET", `/api/analyses/${enc(id)}/document`),
  memory: (id) => request("GET", `/api/analyses/${enc(id)}/memory`),
  timelineFigure: (id, region = 0) => request("GET", `/api/analyses/${enc(id)}/figures/timeline?region=${region}`),
  groups: (id, region, kind, expand) =>
    request("GET", `/api/analyses/${enc(id)}/regions/${region}/graphs/${kind}/groups${expand ? `?expand=${enc(expand)}` : ""}`),
  graphSvgUrl: (id, region, kind, expand, open = [], depth = 0) => {
    const q = new URLSearchParams();
    if (expand) q.set("expand", expand);
    if (open.length) q.set("open", open.join(","));
    if (depth) q.set("depth", String(depth));
    const qs = q.toString();
    return `/api/analyses/${enc(id)}/regions/${region}/graphs/${kind}.svg${qs ? `?${qs}` : ""}`;
  },
  sweep: (id) => request("GET", `/api/sweeps/${enc(id)}`),
  submitSweep: ({ source, settings, name, budgets }) => request("POST", "/api/sweeps", { json: { source, settings, name, budgets } }),
  diff: (ids) => request("GET", `/api/diffs?ids=${ids.map(enc).join(",")}`),
};

export async function fetchSvg(url, signal) {
  const res = await fetch(url, { signal, headers: { Accept: "image/svg+xml" } });
  const text = await res.text();
  if (!res.ok) {
    let body = null;
    try { body = JSON.parse(text); } catch { body = { message: text.slice(0, 300) }; }
    throw new ApiError(res.status, body);
  }
  return text;
}

/**
 * Follows a job's stage events: Server-Sent Events (named after their stage) when available,
 * polling `?format=json` otherwise.
 * onEvent({stage, progress, message}) is called for each; resolves with the last event once the job
 * reaches done / failed / cancelled.
 */
export function followJob(id, onEvent) {
  const final = new Set(["done", "failed", "cancelled"]);
  return new Promise((resolve) => {
    let finished = false;
    const finish = (ev) => { if (!finished) { finished = true; resolve(ev); } };
    const poll = async () => {
      let seen = 0;
      while (!finished) {
        try {
          const body = await api.events(id);
          const list = Array.isArray(body) ? body : body?.events || [];
          for (const ev of list.slice(seen)) { onEvent(ev); if (final.has(ev.stage)) return finish(ev); }
          seen = list.length;
        } catch (e) {
          if (e instanceof ApiError && e.status === 404) return finish({ stage: "failed", progress: 1, message: e.message });
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    if (!("EventSource" in window)) { poll(); return; }
    const es = new EventSource(`/api/analyses/${enc(id)}/events`);
    let got = false;
    const handle = (msg) => {
      got = true;
      let ev;
      try { ev = JSON.parse(msg.data); } catch { return; }
      onEvent(ev);
      if (final.has(ev.stage)) { es.close(); finish(ev); }
    };
    // The server names each event after its stage (`event: tracing`), which `onmessage` never
    // sees: listen for every stage, and for unnamed events too.
    for (const stage of [...STAGES, "failed", "cancelled", "message"]) es.addEventListener(stage, handle);
    es.onerror = () => {
      es.close();
      if (finished) return;
      // The stream ended or was refused: the status tells whether the job is already over.
      api.status(id).then((st) => {
        if (final.has(st.status)) finish({ stage: st.status, progress: 1, message: st.error?.message || "" });
        else poll();
      }, () => (got ? poll() : finish({ stage: "failed", progress: 1, message: "lost the connection to the server" })));
    };
  });
}
