"""Run a snippet's module code and pull out its `model`, `example_inputs` and `loss`."""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import inspect
import itertools
import linecache
import os
import sys
import traceback
import types
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from ..errors import SnippetContractError, SnippetRuntimeError
from ..source import check_source
from .fake import FakeExecution, is_fake

#: each loaded snippet runs as its own module, `ckpt_snippet_<n>`: dynamo caches imported modules
#: by name for the whole process (and aliases them in torch's own globals), so a name shared by
#: two snippets would hand the second one the first one's module
_MODULE_NAMES = (f"ckpt_snippet_{n}" for n in itertools.count())


@dataclasses.dataclass
class LoadedSnippet:
    """A snippet's `model`, `example_inputs` and `loss`; `module` is the module it ran as."""

    model: Callable[..., Any]
    example_inputs: tuple[Any, ...]
    loss: Callable[[Any], Any] | None
    path: str
    source: str
    #: set when the snippet was built on fake tensors (`Settings.execution == "fake"`)
    fake: FakeExecution | None = None
    #: the module the snippet ran as; dynamo imports it by name when it inlines a snippet
    #: function called from torch's own code (e.g. a forward patched onto an nn.Sequential)
    module: types.ModuleType | None = None

    @contextlib.contextmanager
    def importable(self) -> Iterator[None]:
        """Keep the snippet's module in `sys.modules` while torch compiles it."""
        if self.module is None:
            yield
            return
        previous = sys.modules.get(self.module.__name__)
        sys.modules[self.module.__name__] = self.module
        try:
            yield
        finally:
            if previous is None:
                sys.modules.pop(self.module.__name__, None)
            else:
                sys.modules[self.module.__name__] = previous


def user_frames(exc: BaseException, path: str) -> list[traceback.FrameSummary]:
    """The frames of `exc`'s traceback that lie in the snippet file."""
    return [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]


def describe_user_exception(exc: BaseException, path: str, what: str) -> SnippetRuntimeError:
    """A SnippetRuntimeError keeping the exception text and the snippet's own traceback lines."""
    frames = user_frames(exc, path)
    text = str(exc).replace(path, os.path.basename(path))
    lines = [f"{what} raised {type(exc).__name__}: {text}"]
    if frames:
        lines.append("snippet traceback (most recent call last):")
        lines += [f"  line {f.lineno}, in {f.name}: {(f.line or '').strip()}" for f in frames]
    lines += root_causes(exc, path)
    return SnippetRuntimeError("\n".join(lines), line=frames[-1].lineno if frames else None)


def root_causes(exc: BaseException, path: str) -> list[str]:
    """Where an exception raised outside the snippet (a library's import failing, say) really
    came from: each exception it was raised from or while handling, innermost last, with the
    file and line that raised it."""
    out: list[str] = []
    seen = {id(exc)}
    current: BaseException = exc
    while True:
        cause = current.__cause__ or (None if current.__suppress_context__ else
                                      current.__context__)
        if cause is None or id(cause) in seen:
            break
        seen.add(id(cause))
        current = cause
        out.append(f"caused by {type(cause).__name__}: {cause}")
    where = traceback.extract_tb(current.__traceback__)
    if where and where[-1].filename != path:
        out.append(f"  raised at {where[-1].filename}:{where[-1].lineno}")
    return out


@contextlib.contextmanager
def default_device(device: str) -> Iterator[None]:
    """Tensors the snippet creates land on the analysis' device."""
    if device == "cpu":
        yield
        return
    previous = torch.get_default_device()
    torch.set_default_device(device)
    try:
        yield
    finally:
        torch.set_default_device(previous)


def load_snippet(source: str, path: str, device: str, execution: str = "real") -> LoadedSnippet:
    """Execute the snippet as a fresh module whose `__file__` is `path`.

    With `execution="fake"` the module code runs under a fake-tensor mode: parameters, buffers and
    `example_inputs` are fake tensors on `device`, and nothing is allocated."""
    fake = FakeExecution(device) if execution == "fake" else None
    tree = check_source(source, path)
    code = compile(tree, path, "exec")
    # Tracebacks and dynamo's stack traces read source lines through linecache.
    linecache.cache[path] = (len(source), None, source.splitlines(True), path)
    module = types.ModuleType(next(_MODULE_NAMES))
    module.__file__ = path
    sys.modules[module.__name__] = module
    try:
        with default_device(device), fake.building() if fake else contextlib.nullcontext():
            try:
                exec(code, module.__dict__)
            except Exception as e:
                raise describe_user_exception(e, path, "the snippet") from e
            model = _get_model(module)
            inputs = _get_inputs(module, path)
            _check_arity(model, inputs, source)
    finally:
        sys.modules.pop(module.__name__, None)
    loss = getattr(module, "loss", None)
    if loss is not None and not callable(loss):
        raise SnippetContractError(
            f"`loss` must be a function loss(output) -> scalar tensor, got {type(loss).__name__}"
        )
    if fake is not None:
        inputs = tuple(fake.mode.from_tensor(v) if isinstance(v, torch.Tensor) and not is_fake(v)
                       else v for v in inputs)
        _check_fake_model(model, inputs, device)
    elif isinstance(model, nn.Module):
        model = model.to(device)
    return LoadedSnippet(model=model, example_inputs=inputs, loss=loss, path=path, source=source,
                         fake=fake, module=module)


def _check_fake_model(model: Callable[..., Any], inputs: tuple[Any, ...], device: str) -> None:
    """Under fake execution a real parameter would be real memory, mixed with fake values; and
    a fake tensor on another device type (a `.cuda()` in a CPU analysis) would only fail deep
    inside torch, or abort a CPU-only build, so both are named here."""
    named = [*model.named_parameters(), *model.named_buffers()] \
        if isinstance(model, nn.Module) else []
    real = [n for n, t in named if not is_fake(t)]
    if real:
        raise SnippetContractError(
            "execution 'fake': `model` holds real tensors made outside torch's factory functions "
            f"({', '.join(real[:3])}{', ...' if len(real) > 3 else ''}); build parameters with "
            "nn layers or torch.empty/zeros/randn in the snippet's module code, or use "
            "execution 'real'"
        )
    wanted = torch.device(device).type
    named += [(f"example_inputs[{i}]", v) for i, v in enumerate(inputs)
              if isinstance(v, torch.Tensor)]
    elsewhere = [f"{n} ({t.device})" for n, t in named if t.device.type != wanted]
    if elsewhere:
        raise SnippetContractError(
            f"execution 'fake' on device {device!r}: tensors on another device: "
            f"{', '.join(elsewhere[:3])}{', ...' if len(elsewhere) > 3 else ''}; leave device "
            "placement to the analysis' device setting (no .cuda()/.to(device) in the snippet)"
        )


def _check_arity(model: Callable[..., Any], inputs: tuple[Any, ...], source: str) -> None:
    """`model(*example_inputs)` must bind: a wrong count is the snippet's, at `example_inputs`."""
    target = model.forward if isinstance(model, nn.Module) else model
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # builtins and C functions say nothing: let them run
        return
    try:
        signature.bind(*inputs)
    except TypeError as e:
        name = type(model).__name__ + ".forward" if isinstance(model, nn.Module) else getattr(
            model, "__name__", "model")
        raise SnippetContractError(
            f"`example_inputs` holds {len(inputs)} value(s) but `model` is called as "
            f"{name}{signature}: {e}; make `example_inputs` match its arguments",
            line=_definition_line(source, "example_inputs"),
        ) from e


def _definition_line(source: str, name: str) -> int | None:
    """The line where the snippet defines `name` at module level (assignment or def)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return node.lineno
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return node.lineno
    return None


def _get_model(module: types.ModuleType) -> Callable[..., Any]:
    if not hasattr(module, "model"):
        raise SnippetContractError("the snippet does not define `model` at module level")
    model = module.model
    if isinstance(model, type):
        raise SnippetContractError(
            f"`model` is the class {model.__name__}, not an instance; write "
            f"`model = {model.__name__}(...)`"
        )
    if isinstance(model, nn.Module) or callable(model):
        return model  # type: ignore[no-any-return]
    raise SnippetContractError(
        f"`model` must be an nn.Module or a function of tensors, got {type(model).__name__}"
    )


def _get_inputs(module: types.ModuleType, path: str) -> tuple[Any, ...]:
    if not hasattr(module, "example_inputs"):
        raise SnippetContractError("the snippet does not define `example_inputs` at module level")
    value = module.example_inputs
    if callable(value) and not isinstance(value, torch.Tensor):
        try:
            value = value()
        except TypeError as e:
            if "argument" in str(e):
                raise SnippetContractError(
                    f"`example_inputs` must take no arguments: {e}"
                ) from e
            raise describe_user_exception(e, path, "example_inputs()") from e
        except Exception as e:
            raise describe_user_exception(e, path, "example_inputs()") from e
    if isinstance(value, torch.Tensor):
        raise SnippetContractError(
            "`example_inputs` must be a tuple of tensors, got a single tensor; "
            "write `example_inputs = (x,)`"
        )
    if not isinstance(value, tuple | list):
        raise SnippetContractError(
            "`example_inputs` must be a tuple of tensors (or a function returning one), "
            f"got {type(value).__name__}"
        )
    if not any(isinstance(v, torch.Tensor) for v in value):
        raise SnippetContractError("`example_inputs` contains no tensor")
    return tuple(value)
