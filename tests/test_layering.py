"""The architecture's arrows, checked by walking imports with `ast`.

- ckpt_core never imports server; only ckpt_core/capture/ (and the worker) import torch;
- server never imports torch (outside the sandboxed worker entry point);
- frontend is static files only.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import REPO


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def top(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names}


def test_ckpt_core_never_imports_server() -> None:
    for path in (REPO / "ckpt_core").rglob("*.py"):
        assert "server" not in top(imports(path)), path


def test_only_capture_imports_torch_in_ckpt_core() -> None:
    for path in (REPO / "ckpt_core").rglob("*.py"):
        rel = path.relative_to(REPO / "ckpt_core")
        if rel.parts[0] == "capture":
            continue
        # lazily imported torch inside a function is allowed (e.g. the public analyze_* wrappers
        # importing ckpt_core.capture), but not at module level
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = {a.name for a in node.names} if isinstance(node, ast.Import) else {
                    node.module or ""}
                assert "torch" not in top(names), f"{rel} imports torch at module level"
                if isinstance(node, ast.ImportFrom) and node.level > 0:
                    assert not (node.module or "").startswith("capture"), (
                        f"{rel} imports capture at module level")


def test_server_does_not_import_torch_at_module_level() -> None:
    for path in (REPO / "server").rglob("*.py"):
        rel = path.relative_to(REPO / "server")
        if rel.parts[0] == "worker" and rel.name in ("entry.py", "sandbox_entry.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Import):
                assert "torch" not in top({a.name for a in node.names}), rel
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                assert "torch" not in top({node.module or ""}), rel
                assert not (node.module or "").startswith("ckpt_core.capture"), rel


def test_importing_ckpt_core_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, ckpt_core; print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                       check=True)
    assert r.stdout.strip() == "False"


def test_route_modules_do_not_import_each_other() -> None:
    """Routers share `server/app/payloads.py` and `core.py`; one router importing another
    would make a resource's module depend on an unrelated one."""
    routes = REPO / "server" / "app" / "routes"
    names = {p.stem for p in routes.glob("*.py")} - {"__init__"}
    assert names
    for path in routes.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                imported = {node.module} if node.module else {a.name for a in node.names}
                assert not imported & names, f"routes/{path.name} imports routes.{imported}"
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "server.app.routes."):
                raise AssertionError(f"routes/{path.name} imports {node.module}")
