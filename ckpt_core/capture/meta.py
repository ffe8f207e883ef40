"""The one place that reads `torch.fx.Node.meta`: small named accessors, as the partitioner has.

If torch renames or reshapes a metadata key, this file is the only one to change.
"""

from __future__ import annotations

import operator
import re
from typing import Any

import torch
import torch.fx as fx
from torch.utils._pytree import tree_flatten, tree_map
from torch.utils.flop_counter import flop_registry

from .torch_compat import HigherOrderOperator, OpOverload, OpOverloadPacket

_RNG_WRAPPERS = frozenset(
    {"run_and_save_rng_state", "run_with_rng_state", "graphsafe_run_with_rng_state"}
)
_FRAME_RE = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


def policy_name(node: fx.Node) -> str | None:
    """The node's `CheckpointPolicy` tag (`MUST_SAVE`, …) as a string, if it has one."""
    tag = node.meta.get("recompute")
    if tag is None:
        return None
    return str(getattr(tag, "name", tag))


def policy_op(node: fx.Node) -> str | None:
    """The op a checkpoint `policy_fn` was called with for this node, when a decomposition made
    the node out of another op (torch's `original_aten`); None when it is the node's own target."""
    original = node.meta.get("original_aten")
    if not isinstance(original, OpOverload) or original is node.target:
        return None
    return str(original)


def set_policy(node: fx.Node, policy: str | None, ac_region: int | None) -> None:
    """Tag a joint-graph node as a checkpoint policy would have (None, None: untagged)."""
    from torch.utils.checkpoint import CheckpointPolicy

    if policy is None or ac_region is None:
        node.meta.pop("recompute", None)
        node.meta.pop("ac_graph_id", None)
        return
    node.meta["recompute"] = CheckpointPolicy[policy]
    node.meta["ac_graph_id"] = ac_region


def ac_graph_id(node: fx.Node) -> int | None:
    value = node.meta.get("ac_graph_id")
    return int(value) if isinstance(value, int) else None


def partitioner_tag(node: fx.Node) -> str | None:
    tag = node.meta.get("partitioner_tag")
    return str(tag) if tag is not None else None


def seq_nr(node: fx.Node) -> int | None:
    value = node.meta.get("seq_nr")
    return int(value) if isinstance(value, int) else None


def value(node: fx.Node) -> Any:
    """The traced value (a FakeTensor, SymInt, tuple of them …) or None."""
    if "val" in node.meta:
        return node.meta["val"]
    return node.meta.get("tensor_meta")


def target_name(node: fx.Node) -> str:
    """`aten.mm.default` for op overloads, `higher_order.<name>` for higher-order ops."""
    target = node.target
    if node.op in ("placeholder", "output", "get_attr"):
        return str(target)
    if isinstance(target, HigherOrderOperator):
        return f"higher_order.{target.name()}"
    if isinstance(target, OpOverload | OpOverloadPacket):
        return str(target)
    if target is operator.getitem:
        return "operator.getitem"
    module = getattr(target, "__module__", None) or ""
    qualname = getattr(target, "__qualname__", None) or getattr(target, "__name__", str(target))
    module = module.lstrip("_")
    return f"{module}.{qualname}" if module else str(qualname)


def wrapped_op(node: fx.Node) -> str | None:
    """For the RNG wrappers, the op they run (their first argument)."""
    target = node.target
    if isinstance(target, HigherOrderOperator) and target.name() in _RNG_WRAPPERS:
        for arg in node.args:
            if isinstance(arg, OpOverload | OpOverloadPacket):
                return str(arg)
    return None


def input_names(node: fx.Node) -> tuple[str, ...]:
    """Names of the nodes read, in order; for the output node every position, repeats kept."""
    if node.op == "output":
        flat = tree_flatten(node.args)[0]
        return tuple(a.name for a in flat if isinstance(a, fx.Node))
    seen: dict[str, None] = {}
    for inp in node.all_input_nodes:
        seen.setdefault(inp.name, None)
    return tuple(seen)


def view_base(node: fx.Node) -> fx.Node | None:
    """The node whose storage this one aliases, per the op's schema (views cost no memory)."""
    target = node.target
    if target is operator.getitem:
        parent = node.args[0]
        if isinstance(parent, fx.Node):
            return parent if view_base(parent) is not None else None
        return None
    if isinstance(target, OpOverload) and target.is_view:
        for arg in node.args:
            if isinstance(arg, fx.Node):
                return arg
    return None


def node_tensor_info(node: fx.Node) -> tuple[tuple[int, ...] | None, str | None, int]:
    """`tensor_info` of the node's value; for a tuple-returning op that torch left without a
    traced value (e.g. `run_and_save_rng_state`), the sum over the `getitem`s that read it."""
    val = value(node)
    if val is None and node.op == "call_function":
        parts = [value(u) for u in node.users if u.target is operator.getitem]
        if parts and all(p is not None for p in parts):
            return tensor_info(tuple(parts))
    return tensor_info(val)


def tensor_info(val: Any) -> tuple[tuple[int, ...] | None, str | None, int]:
    """(shape, dtype, bytes) of a traced value; several tensors: (None, dtype of first, sum)."""
    if isinstance(val, torch.Tensor):
        shape = tuple(int(s) for s in val.shape)
        return shape, _dtype_name(val.dtype), _tensor_bytes(val)
    if isinstance(val, torch.SymInt | int) and not isinstance(val, bool):
        return None, "symint", 0
    if isinstance(val, torch.SymFloat | float):
        return None, "symfloat", 0
    if isinstance(val, tuple | list):
        tensors = [v for v in tree_flatten(val)[0] if isinstance(v, torch.Tensor)]
        if tensors:
            return None, _dtype_name(tensors[0].dtype), sum(_tensor_bytes(t) for t in tensors)
    return None, None, 0


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _tensor_bytes(t: torch.Tensor) -> int:
    try:
        return int(t.numel()) * int(t.element_size())
    except (RuntimeError, TypeError):  # symbolic sizes we cannot realise
        return 0


def module_path(node: fx.Node) -> tuple[str | None, str | None]:
    """The innermost `nn.Module` the node ran in, as a clean path and class name."""
    stack = node.meta.get("nn_module_stack")
    if not stack:
        return None, None
    raw, cls = list(stack.values())[-1]
    name = getattr(cls, "__name__", None) if isinstance(cls, type) else str(cls).rsplit(".", 1)[-1]
    return clean_module_path(str(raw)), name


_ROOT_RE = re.compile(r"^[LG]\['([^']*)'\]")
_TOKEN_RE = re.compile(r"\.(\w+)|\['([^']*)'\]|\[(\d+)\]")
_GETATTR_RE = re.compile(r"getattr\((?P<obj>[^,()]+),\s*'(?P<attr>[^']*)'\)")


def clean_module_path(raw: str) -> str:
    """`L['self'].blocks[3].attn` or `L['self']._modules['blocks']['3']` → `blocks.3.attn`."""
    text = raw
    while True:
        rewritten = _GETATTR_RE.sub(lambda m: f"{m.group('obj')}.{m.group('attr')}", text)
        if rewritten == text:
            break
        text = rewritten
    parts: list[str] = []
    root = _ROOT_RE.match(text)
    rest = text
    if root:
        # `self` (a module's forward) and `fn` (torch.compile of a module) are the model itself
        if root.group(1) not in ("self", "fn"):
            parts.append(root.group(1))
        rest = text[root.end() :]
    for attr, key, index in _TOKEN_RE.findall(rest):
        parts.append(attr or key or index)
    parts = [p for p in parts if p not in ("_modules", "_parameters", "_buffers")]
    return ".".join(parts) if parts else raw


def snippet_line(node: fx.Node, snippet_file: str) -> int | None:
    """The innermost line of `snippet_file` in the node's recorded stack trace."""
    trace = node.meta.get("stack_trace")
    if not trace:
        return None
    line = None
    for match in _FRAME_RE.finditer(trace):
        if match.group("file") == snippet_file:
            line = int(match.group("line"))
    return line


def grapharg_source_name(node: fx.Node) -> str | None:
    """For a dynamo placeholder, where the value came from (`L['self']._parameters['w']`)."""
    grapharg = node.meta.get("grapharg")
    source = getattr(grapharg, "source", None)
    if source is None:
        return None
    name = getattr(source, "name", None)
    if callable(name):
        name = name()
    return str(name) if name is not None else None


def flops(node: fx.Node) -> int | None:
    """torch's flop-counter formula applied to the traced (fake) values; None where undefined."""
    if node.op != "call_function":
        return None
    target: Any = node.target
    args: Any = node.args
    kwargs: Any = node.kwargs
    if isinstance(target, HigherOrderOperator) and target.name() in _RNG_WRAPPERS:
        ops = [a for a in args if isinstance(a, OpOverload)]
        if not ops:
            return None
        target = ops[0]
        args = args[args.index(target) + 1 :]
    packet = getattr(target, "overloadpacket", target)
    formula = flop_registry.get(packet)
    if formula is None:
        return None

    def realise(a: Any) -> Any:
        return value(a) if isinstance(a, fx.Node) else a

    try:
        f_args, f_kwargs = tree_map(realise, (tuple(args), dict(kwargs)))
        return int(formula(*f_args, out_val=value(node), **f_kwargs))
    except Exception:  # noqa: BLE001 -- a formula that cannot read these shapes means "undefined"
        return None
