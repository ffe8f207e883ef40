// What the graph explorer knows about nodes and hierarchy paths, without the DOM: policy
// outlines, ancestors of a group path, search matching (with op aliases), the server's group of
// each node, and the names inside the SVG's element ids.

export function policyClass(node) {
  const p = node.policy || node.requested_policy;
  const cls = [];
  if (p) cls.push(p.startsWith("MUST") ? "pol-must" : "pol-prefer");
  if (node.requested_policy && node.policy && node.requested_policy !== node.policy) cls.push("pol-changed");
  return cls;
}

/** Splits "blocks.3.attn" (or "blocks.3/ac1") into its ancestor paths. */
export function ancestors(path) {
  const out = [];
  const re = /[./]/g;
  let m;
  while ((m = re.exec(path))) out.push(path.slice(0, m.index));
  out.push(path);
  return out.filter(Boolean);
}

export function idOf(el) { return el.getAttribute("id") || ""; }

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

/** "n:addmm_3", "n:primals_1~2" (a placeholder drawn again beside another consumer), "x:mm" (a stub). */
export function nodeName(id) { return id.slice(2).replace(/~\d+$/, ""); }

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
