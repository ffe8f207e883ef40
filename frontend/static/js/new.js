// The new-analysis page: editor, upload and drag-and-drop, examples, settings, submit and live progress.
import { api, ApiError, followJob } from "./api.js";
import { ProgressPanel } from "./progress.js";
import { h, $, rememberAnalysis, recentAnalyses, settingsSummary } from "./util.js";


// Tooltip texts are ckpt_core.settings.HELP, so the UI says exactly what the CLI's --help says.
const HELP = {
  decompositions: "'inductor': inductor's decompositions and partition pipeline, capture only (what torch.compile really runs); 'none': aot_autograd without extra decompositions (higher-level, readable ops).",
  partitioner: "'min_cut': the min-cut rematerialization partitioner torch.compile uses; 'default': save every forward value the backward needs, recompute nothing.",
  memory_budget: "torch._functorch.config.activation_memory_budget in [0, 1]: 1.0 keeps the min-cut choice, 0.0 recomputes everything it may; values between trade memory for compute.",
  budget_solver: "Knapsack solver used under a memory budget below 1: dp, greedy or ilp.",
  ban_recompute_used_far_apart: "Do not recompute a value whose uses are far apart.",
  ban_recompute_long_fusible_chains: "Do not recompute long chains of fusible ops.",
  ban_recompute_materialized_backward: "Do not recompute values the backward materializes.",
  ban_recompute_not_in_allowlist: "Only recompute ops on the partitioner's allowlist.",
  ban_recompute_reductions: "Do not recompute reductions.",
  fullgraph: "Make a graph break an error instead of capturing each compiled region.",
  device: "'auto' (CUDA when available), 'cpu' or 'cuda'.",
  execution: "'real': build the model and run forward and backward on real tensors; 'fake': build parameters and inputs as fake tensors (shapes and dtypes only, no memory, nothing executed), so full-size models analyse on a small CPU worker; device 'cuda' follows CUDA's op choices and needs a CUDA device (torch's autograd engine touches it even for fake tensors).",
  dynamo_config: "torch._dynamo.config options for this analysis, e.g. {\"skip_fwd_side_effects_in_bwd_under_checkpoint\": true, \"ignore_logging_functions\": [\"logging.Logger.info\"]}; allowed: skip_fwd_side_effects_in_bwd_under_checkpoint (bool), capture_profiler_record_function (bool), ignore_logging_functions (callables), reorderable_logging_functions (callables), capture_scalar_outputs (bool), capture_dynamic_output_shape_ops (bool), graph_break_on_nn_param_ctor (bool), allow_rnn (bool), nested_graph_breaks (bool), trace_numpy (bool), enable_trace_contextlib (bool), dont_skip_tracing (bool), recompile_limit (int).",
  disable_functionalization: "aot_autograd's disable_functionalization flag: trace without functionalization (mutations stay in the graph); implies decompositions='none', the aot_autograd path.",
  cost_profile: "Device profile for the estimated recompute time (roofline): 'auto' (the analysis device), 'h100', 'h200', 'a100', 'l4' or 'cpu' (this machine, measured once).",
};
const CHOICES = {
  decompositions: ["inductor", "none"],
  partitioner: ["min_cut", "default"],
  budget_solver: ["dp", "greedy", "ilp"],
  device: ["auto", "cpu", "cuda"],
  execution: ["real", "fake"],
  cost_profile: ["auto", "h100", "h200", "a100", "l4", "cpu"],
};
const BANS = Object.keys(HELP).filter((k) => k.startsWith("ban_recompute_"));
const DEFAULTS = {
  decompositions: "inductor", partitioner: "min_cut", memory_budget: 1.0, budget_solver: "dp",
  ...Object.fromEntries(BANS.map((k) => [k, true])), fullgraph: false, device: "auto",
  dynamo_config: {}, disable_functionalization: false, cost_profile: "auto", execution: "real",
};

const STARTER = `import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(64, 256)
        self.block = nn.Sequential(nn.Linear(256, 256), nn.GELU(), nn.Linear(256, 256))

    def forward(self, x):
        return checkpoint(self.block, torch.relu(self.inp(x)), use_reentrant=False)


model = MLP()
example_inputs = (torch.randn(32, 64),)
`;

let editor;
let errorLine = null;
let uploadedFile = null;

const TORCH_HELP = "Which installed torch runs the analysis: the server's own, or one served by a worker started with `ckpt worker --python PATH/TO/VENV/bin/python` on another torch. Analyse the same snippet on two versions, then compare them.";

function helpButton(key) {
  return h("span.help", { tabindex: "0", role: "note", "aria-label": HELP[key] }, "?", h("span.tip", { "aria-hidden": "true" }, HELP[key]));
}

function buildSettings(form) {
  const field = (key, control) => h("div.field", {},
    h("label", { for: `set-${key}` }, key.replace(/_/g, " "), helpButton(key)), control);
  for (const key of ["decompositions", "partitioner"]) {
    form.append(field(key, h("select", { id: `set-${key}`, name: key }, CHOICES[key].map((c) => h("option", { value: c }, c)))));
  }
  const range = h("input", { type: "range", id: "set-memory_budget", name: "memory_budget", min: "0", max: "1", step: "0.05", value: "1", "aria-valuetext": "1.00" });
  const out = h("output", { for: "set-memory_budget", id: "budget-out", class: "mono" }, "1.00");
  range.addEventListener("input", () => {
    out.textContent = Number(range.value).toFixed(2);
    range.setAttribute("aria-valuetext", out.textContent);
    $("#set-budget_solver").disabled = Number(range.value) >= 1;
  });
  form.append(h("div.field", {}, h("label", { for: "set-memory_budget" }, "memory budget", helpButton("memory_budget")), out,
    h("div.budget", {}, h("span.muted", {}, "0"), range, h("span.muted", {}, "1"))));
  form.append(field("budget_solver", h("select", { id: "set-budget_solver", name: "budget_solver", disabled: true }, CHOICES.budget_solver.map((c) => h("option", { value: c }, c)))));
  form.append(field("fullgraph", h("input", { type: "checkbox", id: "set-fullgraph", name: "fullgraph" })));
  form.append(field("device", h("select", { id: "set-device", name: "device" }, CHOICES.device.map((c) => h("option", { value: c }, c)))));
  form.append(field("execution", h("select", { id: "set-execution", name: "execution" }, CHOICES.execution.map((c) => h("option", { value: c }, c === "fake" ? "fake tensors" : "real tensors")))));
  form.append(h("div.field", {}, h("label", { for: "set-torch_version" }, "torch",
    h("span.help", { tabindex: "0", role: "note", "aria-label": TORCH_HELP }, "?", h("span.tip", { "aria-hidden": "true" }, TORCH_HELP))),
  h("select", { id: "set-torch_version", name: "torch_version" }, h("option", { value: "" }, "server's own"))));
  loadTorchVersions();
  form.append(field("cost_profile", h("select", { id: "set-cost_profile", name: "cost_profile" }, CHOICES.cost_profile.map((c) => h("option", { value: c }, c)))));
  const compiler = h("details", {}, h("summary", {}, "Dynamo and aot_autograd"));
  compiler.append(field("disable_functionalization", h("input", { type: "checkbox", id: "set-disable_functionalization", name: "disable_functionalization" })));
  compiler.append(field("dynamo_config", h("textarea", { id: "set-dynamo_config", name: "dynamo_config", rows: "3", class: "mono", spellcheck: "false",
    placeholder: '{"skip_fwd_side_effects_in_bwd_under_checkpoint": true}' })));
  form.append(compiler);
  const bans = h("details", {}, h("summary", {}, "Recompute heuristics (ban_recompute_*)"));
  for (const key of BANS) {
    bans.append(field(key, h("input", { type: "checkbox", id: `set-${key}`, name: key, checked: true })));
  }
  form.append(bans);
}

/** The torch versions this server's workers run: its own first (the default). */
async function loadTorchVersions() {
  const select = $("#set-torch_version");
  let versions;
  try { versions = await api.torchVersions(); } catch (e) { return; }
  select.replaceChildren(...versions.available.map((v) => h("option", { value: v === versions.default ? "" : v }, v === versions.default ? `${v} (server's own)` : v)));
  const wanted = new URLSearchParams(location.search).get("torch");
  if (wanted && versions.available.includes(wanted)) select.value = wanted === versions.default ? "" : wanted;
}

function readSettings() {
  const s = {};
  for (const key of Object.keys(DEFAULTS)) {
    const el = $(`#set-${key}`);
    if (!el) continue;
    if (key === "dynamo_config") {
      const text = el.value.trim();
      if (!text) continue;
      try { s[key] = JSON.parse(text); } catch (e) { s[key] = text; } // the server names the bad field
      continue;
    }
    s[key] = el.type === "checkbox" ? el.checked : el.type === "range" ? Number(el.value) : el.value;
  }
  return s;
}

function applySettings(settings) {
  for (const [key, value] of Object.entries({ ...DEFAULTS, ...(settings || {}) })) {
    const el = $(`#set-${key}`);
    if (!el) continue;
    if (el.type === "checkbox") el.checked = Boolean(value);
    else if (key === "dynamo_config") el.value = Object.keys(value || {}).length ? JSON.stringify(value) : "";
    else el.value = String(value);
    el.dispatchEvent(new Event("input"));
  }
}

function clearError() {
  if (errorLine != null) {
    editor.removeLineClass(errorLine, "background", "cm-error-line");
    editor.setGutterMarker(errorLine, "error-gutter", null);
    errorLine = null;
  }
  $("#submit-error").classList.add("hidden");
}

function showError(err) {
  const box = $("#submit-error");
  const line = err.line ?? err.body?.line ?? null;
  const code = err.code ? `${err.code}: ` : "";
  box.replaceChildren(h("strong", {}, line ? `Line ${line}: ` : ""), `${code}${err.message}`);
  box.classList.remove("hidden");
  $("#editor-panel").scrollIntoView({ block: "start", behavior: "smooth" });
  if (line && line >= 1 && line <= editor.lineCount()) {
    errorLine = line - 1;
    editor.addLineClass(errorLine, "background", "cm-error-line");
    editor.setGutterMarker(errorLine, "error-gutter", h("span.cm-error-gutter", { title: err.message }, "●"));
    editor.scrollIntoView({ line: errorLine, ch: 0 }, 80);
    editor.setCursor({ line: errorLine, ch: 0 });
  }
}

let progress;

function setProgress(ev) {
  progress.update(ev);
}

async function submit() {
  const btn = $("#submit-btn");
  if (btn.disabled) return;
  clearError();
  btn.disabled = true;
  progress.reset();
  const name = $("#snippet-name").value.trim() || "snippet.py";
  const settings = readSettings();
  setProgress({ stage: "queued", progress: 0, message: "submitting" });
  try {
    const source = editor.getValue();
    // The upload goes as multipart only when the editor still holds the file as uploaded.
    const file = uploadedFile && uploadedFile.text === source ? new File([source], name, { type: "text/x-python" }) : null;
    const torch_version = $("#set-torch_version")?.value || null;
    const job = await api.submit({ source, settings, name, file, torch_version });
    rememberAnalysis({ id: job.id, name, settings, created_at: job.created_at || new Date().toISOString() });
    const last = job.cached ? { stage: "done", progress: 1, message: "already analysed" } : await followJob(job.id, setProgress);
    if (last.stage === "done") {
      setProgress({ ...last, progress: 1 });  // stays on screen until the analysis page paints
      location.href = job.share_url || `/a/${encodeURIComponent(job.id)}`;
      return;
    }
    const st = await api.status(job.id).catch(() => null);
    const e = st?.error || { message: last.message || `analysis ${last.stage}` };
    rememberAnalysis({ id: job.id, name, settings, failed: true, error: e.message });
    renderRecent();
    showError({ message: e.message, code: e.code, line: e.line });
  } catch (e) {
    showError(e instanceof ApiError ? e : { message: String(e) });
    progress.reset();
    $("#progress").classList.add("hidden");
  }
  btn.disabled = false;
}

function loadFile(file) {
  if (!file) return;
  file.text().then((text) => {
    editor.setValue(text);
    $("#snippet-name").value = file.name;
    uploadedFile = { name: file.name, text };
    clearError();
    editor.focus();
  });
}

/** Example texts mark code with backticks, as the examples' docstrings do. */
function withCode(text) {
  return String(text).split("`").map((part, i) => (i % 2 ? h("code", {}, part) : part));
}

async function loadExamples() {
  const box = $("#examples");
  let examples;
  try { examples = await api.examples(); } catch (e) {
    box.replaceChildren(h("span.muted", {}, `Examples are unavailable (${e.message}).`));
    return;
  }
  box.replaceChildren(...examples.map((ex) => h("button.example.panel", {
    type: "button", role: "listitem", "aria-pressed": "false", "data-name": ex.name,
    onclick: (e) => {
      editor.setValue(ex.source);
      $("#snippet-name").value = ex.name.endsWith(".py") ? ex.name : `${ex.name}.py`;
      applySettings(ex.settings);
      uploadedFile = null;
      clearError();
      for (const b of box.children) b.setAttribute("aria-pressed", String(b === e.currentTarget));
    },
  }, h("strong", {}, ex.group === "gallery" ? h("em.example-tag", { title: "a real model from examples/gallery/; may need extra packages in the worker's environment" }, "real model") : null,
    withCode(ex.title || ex.name)), h("span", {}, withCode(ex.description || "")))));
}

/** "just now", "5 min ago", "3 h ago", then the date. */
function timeAgo(iso) {
  const t = Date.parse(iso || "");
  if (!t) return "";
  const s = (Date.now() - t) / 1000;
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleDateString();
}

function renderRecent() {
  const list = recentAnalyses();
  const btn = $("#compare-btn");
  const picked = () => [...document.querySelectorAll("#recent input:checked")].map((c) => c.value);
  const update = () => { btn.disabled = picked().length !== 2; };
  $("#recent").replaceChildren(...(list.length ? list.slice(0, 12).map((e) => h("li", { class: e.failed ? "failed" : null, "data-id": e.id },
    h("label", { style: "display:flex;gap:.4rem;align-items:center;min-width:0" },
      h("input", { type: "checkbox", value: e.id, "aria-label": `Compare ${e.name || e.id}`, onchange: update, disabled: e.failed ? true : null }),
      h("span.recent-what", {},
        h("a", { href: `/a/${encodeURIComponent(e.id)}` }, e.name || e.id),
        e.failed ? h("span.chip.fail", { title: e.error || "the analysis failed" }, "failed") : null,
        h("span.muted.recent-settings", {}, settingsSummary(e.settings)))),
    h("time.muted", { datetime: e.seen_at || "", title: e.seen_at ? new Date(e.seen_at).toLocaleString() : null }, timeAgo(e.seen_at)))) : [h("li.muted", {}, "None yet.")]));
  btn.onclick = () => {
    // The older analysis is A: a diff reads "what changed since".
    const when = new Map(list.map((e) => [e.id, Date.parse(e.created_at || e.seen_at || "") || 0]));
    const [a, b] = picked().sort((x, y) => when.get(x) - when.get(y));
    if (a && b) location.href = `/diff/${encodeURIComponent(a)}..${encodeURIComponent(b)}`;
  };
  update();
}

function init() {
  progress = new ProgressPanel($("#progress"));
  $("#progress").classList.add("hidden");
  editor = CodeMirror($("#editor"), {
    value: STARTER, mode: "python", lineNumbers: true, indentUnit: 4, tabSize: 4,
    gutters: ["CodeMirror-linenumbers", "error-gutter"],
    extraKeys: { "Ctrl-Enter": submit, "Cmd-Enter": submit, Tab: (cm) => cm.execCommand("indentMore"), "Shift-Tab": (cm) => cm.execCommand("indentLess"), Esc: (cm) => cm.getInputField().blur() },
  });
  editor.getInputField().setAttribute("aria-label", "Snippet source (Python). Escape leaves the editor.");
  editor.on("change", () => { if (errorLine != null) clearError(); });
  window.ckptEditor = editor; // lets tests and power users script the editor
  buildSettings($("#settings-form"));
  $("#submit-btn").addEventListener("click", submit);
  document.addEventListener("keydown", (e) => { if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); submit(); } });
  $("#upload-btn").addEventListener("click", () => $("#file-input").click());
  $("#file-input").addEventListener("change", (e) => loadFile(e.target.files[0]));
  const panel = $("#editor-panel");
  panel.addEventListener("dragover", (e) => { e.preventDefault(); panel.classList.add("drag-over"); });
  panel.addEventListener("dragleave", (e) => { if (!panel.contains(e.relatedTarget)) panel.classList.remove("drag-over"); });
  panel.addEventListener("drop", (e) => {
    e.preventDefault();
    panel.classList.remove("drag-over");
    loadFile(e.dataTransfer.files[0]);
  });
  // CodeMirror handles drops itself; route file drops through the same path.
  editor.on("drop", (cm, e) => { if (e.dataTransfer?.files?.length) { e.preventDefault(); panel.classList.remove("drag-over"); loadFile(e.dataTransfer.files[0]); } });
  loadExamples();
  renderRecent();
}

init();
