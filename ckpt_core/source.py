"""Static checks of a snippet's source, before any of it runs (no torch needed).

The snippet contract: module-level `model` (an `nn.Module` or a function of tensors),
`example_inputs` (a tuple of tensors, or a zero-argument function returning one) and optionally
`loss(output)`. Compilation and torch configuration are analysis settings, so a snippet that
calls `torch.compile` or sets a torch compiler config is refused here, with its line.
"""

from __future__ import annotations

import ast
import hashlib

from .errors import SnippetContractError, SnippetSyntaxError

MAX_SNIPPET_BYTES = 256 * 1024

_CONFIG_MODULES = (
    "torch._dynamo.config",
    "torch._inductor.config",
    "torch._functorch.config",
)
_FORBIDDEN_CALLS = {
    "torch.compile": "calls torch.compile",
    "torch._dynamo.optimize": "calls torch._dynamo.optimize",
    "torch._dynamo.reset": "calls torch._dynamo.reset",
    "torch.set_default_device": "sets the default device",
}


def snippet_sha256(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def check_source(source: str, filename: str = "snippet.py") -> ast.Module:
    """Parse and check the snippet; raise `SnippetError` subclasses naming the line."""
    _check_encodable(source)
    if len(source.encode("utf-8")) > MAX_SNIPPET_BYTES:
        raise SnippetContractError(
            f"snippet is {len(source.encode('utf-8'))} bytes; the limit is {MAX_SNIPPET_BYTES}"
        )
    try:
        tree = _parse(source, filename)
        _Forbidden().visit(tree)
    except (RecursionError, MemoryError) as e:
        # CPython's parser and any recursive walk give up on ~1,000-deep expressions (long
        # attribute chains, thousands of unary minuses): a limit of the checker, not a crash
        raise SnippetSyntaxError(
            "the snippet is nested too deeply to check (an expression, call or attribute chain "
            "hundreds of levels deep); split it into statements") from e
    _check_definitions(tree)
    return tree


def _check_encodable(source: str) -> None:
    """A JSON string may carry a lone UTF-16 surrogate, which no Python file can hold."""
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as e:
        line = source.count("\n", 0, e.start) + 1
        raise SnippetSyntaxError(
            f"line {line}: the snippet contains a lone UTF-16 surrogate "
            f"(U+{ord(source[e.start]):04X}), which is not valid text", line=line) from e


def _parse(source: str, filename: str) -> ast.Module:
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as e:
        line, col = e.lineno, e.offset
        where = f"line {line}, column {col}" if line else "unknown position"
        raise SnippetSyntaxError(
            f"syntax error at {where}: {e.msg}", line=line, column=col
        ) from e
    except ValueError as e:  # e.g. null bytes
        raise SnippetSyntaxError(f"snippet cannot be parsed: {e}") from e


def _dotted(node: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _Forbidden(ast.NodeVisitor):
    """Finds torch.compile calls and torch compiler config changes, through import aliases."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}

    def _resolve(self, dotted: str | None) -> str | None:
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        full = self.aliases.get(head, head)
        return f"{full}.{rest}" if rest else full

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            if a.asname:
                self.aliases[a.asname] = a.name
            else:
                top = a.name.split(".")[0]
                self.aliases[top] = top

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module:
            for a in node.names:
                self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"

    def _refuse(self, node: ast.AST, what: str) -> None:
        line = getattr(node, "lineno", None)
        raise SnippetContractError(
            f"line {line}: the snippet {what}; compilation and torch configs are analysis "
            "settings (decompositions, partitioner, memory_budget, …), not part of the snippet",
            line=line,
        )

    def _check_target(self, node: ast.AST, target: str | None) -> None:
        if target is None:
            return
        if target in _FORBIDDEN_CALLS:
            self._refuse(node, _FORBIDDEN_CALLS[target])
        for mod in _CONFIG_MODULES:
            if target == mod or target.startswith(mod + "."):
                self._refuse(node, f"changes {mod}")

    def visit_Call(self, node: ast.Call) -> None:
        self._check_target(node, self._resolve(_dotted(node.func)))
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        for dec in node.decorator_list:
            self._check_target(dec, self._resolve(_dotted(dec)))
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def _check_store(self, node: ast.AST, targets: list[ast.expr]) -> None:
        for t in targets:
            if isinstance(t, ast.Attribute):
                resolved = self._resolve(_dotted(t))
                if resolved and any(resolved.startswith(m + ".") for m in _CONFIG_MODULES):
                    self._refuse(node, f"sets {resolved}")

    def visit_Assign(self, node: ast.Assign) -> None:
        self._check_store(node, node.targets)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_store(node, [node.target])
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._check_store(node, [node.target])
        self.generic_visit(node)


def _check_definitions(tree: ast.Module) -> None:
    """`model` and `example_inputs` must be bound at module level (checked again after running)."""
    bound: set[str] = set()
    for stmt in tree.body:
        for node in ast.walk(stmt) if isinstance(stmt, ast.If | ast.Try | ast.With) else [stmt]:
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    bound.update(_names(t))
            elif isinstance(node, ast.AnnAssign | ast.AugAssign):
                bound.update(_names(node.target))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                bound.add(node.name)
            elif isinstance(node, ast.ImportFrom | ast.Import):
                bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    missing = [n for n in ("model", "example_inputs") if n not in bound]
    if missing and not _has_star_import(tree):
        raise SnippetContractError(
            f"the snippet does not define {' or '.join(f'`{m}`' for m in missing)} at module "
            "level; it must define `model` (an nn.Module or a function of tensors) and "
            "`example_inputs` (a tuple of tensors, or a function returning one)"
        )


def _names(target: ast.AST) -> set[str]:
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, ast.Tuple | ast.List):
        out: set[str] = set()
        for elt in target.elts:
            out |= _names(elt)
        return out
    return set()


def _has_star_import(tree: ast.Module) -> bool:
    return any(
        isinstance(s, ast.ImportFrom) and any(a.name == "*" for a in s.names) for s in tree.body
    )
