"""Compile a loaded snippet under the analysis settings, run forward+backward once, and capture.

Settings are applied with patch contexts and dynamo is reset before and after, so nothing leaks
from one analysis into the next in the same process.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_leaves

from ..errors import (
    CkptError,
    CompileError,
    GraphBreakError,
    SettingsError,
    SnippetContractError,
    TorchInternalError,
)
from ..ir import GraphBreak, Handover, Hazard, RawRegion, Region
from ..runtime_checks import runtime_hazards
from ..settings import BAN_RECOMPUTE_FLAGS, DYNAMO_OPTIONS, Settings
from .convert import SourceLines
from .fake import check_fake_device
from .handover import link_regions
from .recorder import Recorder, reset_torch_state
from .snippet import LoadedSnippet, default_device, describe_user_exception, user_frames
from .torch_compat import (
    GRAPH_BREAK_LOGGER,
    dynamo_config,
    dynamo_config_patch,
    dynamo_exceptions,
    functorch_config,
    graph_break_artifact,
)

_AT_RE = re.compile(r"Graph break in user code at (?P<file>.+):(?P<line>\d+)")
_REASON_RE = re.compile(r"Graph Break Reason:\s*(?P<reason>.*?)(?:\nUser code traceback:|\Z)", re.S)
_FILE_LINE_RE = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


def resolve_device(requested: str, execution: str = "real") -> str:
    """The device an analysis runs on. Fake execution needs no device: 'cuda' is allowed on a
    worker without a GPU and follows CUDA's op choices on fake tensors."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if execution == "fake":
        check_fake_device(requested)
        return requested
    if requested == "cuda" and not torch.cuda.is_available():
        raise SettingsError(
            "settings.device: 'cuda' was requested but this worker has no CUDA device "
            "(torch.cuda.is_available() is False); use 'auto' or 'cpu', or execution 'fake' "
            "to analyse CUDA's choices on fake tensors"
        )
    return requested


@contextlib.contextmanager
def torch_settings(settings: Settings) -> Iterator[None]:
    """Every torch knob the settings control, as patch contexts."""
    patches: dict[str, Any] = {
        "activation_memory_budget": settings.memory_budget,
        "activation_memory_budget_solver": settings.budget_solver,
    }
    for flag in BAN_RECOMPUTE_FLAGS:
        patches[flag] = getattr(settings, flag)
    dynamo_patches = dynamo_config_patches(settings)
    with functorch_config.patch(patches), dynamo_config_patch(
        # a graph break raised by user code must not be retried silently with other settings
        suppress_errors=False, **dynamo_patches,
    ):
        yield


def dynamo_config_patches(settings: Settings) -> dict[str, Any]:
    """`settings.dynamo_config` as values for `torch._dynamo.config.patch`: dotted names of
    functions resolved to the functions (an option missing from this torch is an error)."""
    out: dict[str, Any] = {}
    for key, value in settings.dynamo_config.items():
        if not hasattr(dynamo_config, key):
            raise SettingsError(
                f"settings.dynamo_config.{key}: torch {torch.__version__} has no such "
                "torch._dynamo.config option")
        if DYNAMO_OPTIONS[key][0] == "callables":
            out[key] = {resolve_dotted(name, f"settings.dynamo_config.{key}") for name in value}
        else:
            out[key] = value
    return out


def resolve_dotted(name: str, where: str) -> Any:
    """Import the longest module prefix of `name` and read the rest as attributes."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            break
        if not callable(obj):
            raise SettingsError(f"{where}: {name!r} is not a function")
        return obj
    raise SettingsError(f"{where}: cannot import {name!r} in the worker")


@dataclass
class _GraphBreakLog(logging.Handler):
    """Collects dynamo's graph-break explanations (the `graph_breaks` logging artifact)."""

    path: str
    lines: list[str]
    records: list[GraphBreak] = field(default_factory=list)

    def __post_init__(self) -> None:
        logging.Handler.__init__(self, level=logging.DEBUG)

    def __hash__(self) -> int:  # logging keeps handlers in sets/lists
        return id(self)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        reason_match = _REASON_RE.search(message)
        reason = (reason_match.group("reason") if reason_match else message).strip()
        line = None
        for m in _FILE_LINE_RE.finditer(message):
            if m.group("file") == self.path:
                line = int(m.group("line"))
        at = _AT_RE.search(message)
        if line is None and at and at.group("file") == self.path:
            line = int(at.group("line"))
        code = self.lines[line - 1].strip() if line and 0 < line <= len(self.lines) else None
        loc_file, loc_line = (at.group("file"), int(at.group("line"))) if at else (None, None)
        if loc_file is None:
            frames = list(_FILE_LINE_RE.finditer(message))
            if frames:
                loc_file, loc_line = frames[-1].group("file"), int(frames[-1].group("line"))
        brk = GraphBreak(reason=reason, line=line, code=code,
                         location_file=display_path(loc_file, self.path) if loc_file else None,
                         location_line=loc_line,
                         explanation=_labelled(reason, "Explanation"),
                         hint=_labelled(reason, "Hint"))
        if brk not in self.records:
            self.records.append(brk)


def display_path(path: str, snippet_path: str) -> str:
    """The snippet's own file by its name; library code relative to site-packages (or to the
    Python installation), so a shared result names the same file everywhere."""
    if path == snippet_path:
        return os.path.basename(path)
    for marker in ("site-packages/", "dist-packages/"):
        if marker in path:
            return path.split(marker, 1)[1]
    stdlib = os.path.dirname(os.__file__) + os.sep
    return path[len(stdlib):] if path.startswith(stdlib) else path


def _labelled(reason: str, label: str) -> str | None:
    """Dynamo's `Explanation:` / `Hint:` lines (several hints joined)."""
    found = [m.group(1).strip() for m in re.finditer(rf"^\s*{label}:\s*(.+)$", reason, re.M)]
    return " ".join(found) or None


@contextlib.contextmanager
def capture_graph_breaks(path: str, source: str) -> Iterator[_GraphBreakLog]:
    handler = _GraphBreakLog(path=path, lines=source.splitlines())
    logger = logging.getLogger(GRAPH_BREAK_LOGGER)
    previous = (logger.level, logger.propagate, logger.disabled)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # keep torch's own stderr printing out of our output
    logger.disabled = False
    try:
        with graph_break_artifact():
            yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous[0])
        logger.propagate, logger.disabled = previous[1], previous[2]


@dataclass
class CaptureResult:
    device: str
    regions: list[RawRegion]
    graph_breaks: list[GraphBreak]
    timings_s: dict[str, float]
    knapsack: list[dict[str, Any]] = field(default_factory=list)
    handovers: list[Handover] = field(default_factory=list)
    #: torch's exception when it failed after partitioning (see `plan_hazards`)
    torch_failure: BaseException | None = None


def default_loss(output: Any) -> torch.Tensor | None:
    """The sum of every floating output that requires grad (None when there is none)."""
    parts = [
        t.float().sum()
        for t in tree_leaves(output)
        if isinstance(t, torch.Tensor) and t.is_floating_point() and t.requires_grad
    ]
    if not parts:
        return None
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total


def _nothing_requires_grad(snippet: LoadedSnippet) -> SnippetContractError:
    """The error for a model whose output does not require grad: say what to change."""
    params = snippet.model.parameters() if isinstance(snippet.model, nn.Module) else iter(())
    has_params = any(p.requires_grad for p in params)
    has_inputs = any(isinstance(t, torch.Tensor) and t.requires_grad
                     for t in tree_leaves(snippet.example_inputs))
    if not has_params and not has_inputs:
        return SnippetContractError(
            "nothing requires grad: no parameter of `model` and no tensor in `example_inputs` "
            "has requires_grad=True, so torch.compile builds no backward graph to analyse"
        )
    return SnippetContractError(
        "the model's output has no floating tensor that requires grad, so there is no backward "
        "to analyse; return a differentiable output or define `loss(output)`"
    )


def _compile_error(e: BaseException, snippet: LoadedSnippet) -> CkptError:
    """Map an exception from the compiled call, keeping torch's message text."""
    if isinstance(e, CkptError):
        return e
    text = str(e)
    line = None
    for m in _FILE_LINE_RE.finditer(text):
        if m.group("file") == snippet.path:
            line = int(m.group("line"))
    text = text.replace(snippet.path, os.path.basename(snippet.path))
    frames = user_frames(e, snippet.path)
    if line is None and frames:
        line = frames[-1].lineno
    exc_mod = dynamo_exceptions
    if isinstance(e, exc_mod.Unsupported):
        return GraphBreakError(
            f"graph break with fullgraph=True: {text}", line=line
        )
    if isinstance(e, exc_mod.BackendCompilerFailed):
        inner = e.inner_exception
        if isinstance(inner, CkptError):
            return inner
        inner_frames = traceback.extract_tb(inner.__traceback__)[-1:]
        if inner_frames and _is_torch_compiler_file(inner_frames[0].filename):
            return torch_internal_error(inner, snippet, line)
        return CompileError(f"torch.compile failed: {type(inner).__name__}: {inner}", line=line)
    if isinstance(e, exc_mod.TorchDynamoException):
        return CompileError(f"torch.compile failed: {type(e).__name__}: {text}", line=line)
    innermost = traceback.extract_tb(e.__traceback__)[-1:]
    if innermost and _is_torch_compiler_file(innermost[0].filename):
        # raised by torch's compiler (partitioner, runtime wrappers, inductor), not by a line of
        # the snippet, even when the snippet's frames are further up the stack. torch's public
        # API refusing the snippet's arguments (nn, utils.checkpoint) stays the snippet's call.
        return torch_internal_error(e, snippet, line)
    if frames:
        return describe_user_exception(e, snippet.path, "the model")
    return CompileError(f"torch.compile failed: {type(e).__name__}: {text}", line=line)


def torch_internal_error(e: BaseException, snippet: LoadedSnippet,
                         line: int | None) -> TorchInternalError:
    """`e`, raised in torch's frames, as torch's failure: the frame, torch's first line (cut to
    `TorchInternalError.MESSAGE_CHARS`), the snippet line torch was running, and torch's whole
    message in `details`."""
    full = str(e).replace(snippet.path, os.path.basename(snippet.path))
    first = full.strip().splitlines()[0] if full.strip() else ""
    frame = torch_frame(e) or "torch"
    during = f" while running line {line} of the snippet" if line is not None else ""
    head = f"torch failed inside {frame}{during} (torch's error, not the snippet's): "
    body = f"{type(e).__name__}: {first}"
    room = TorchInternalError.MESSAGE_CHARS - len(head)
    cut = len(body) > room
    if cut:
        body = body[: max(room - 16, 0)] + " … (see details)"
    whole = f"{type(e).__name__}: {full}"
    return TorchInternalError(head + body, line=line,
                              details=whole if cut or full.strip() != first else None)


def capture(snippet: LoadedSnippet, settings: Settings, device: str, *,
            recorder_cls: type[Recorder] = Recorder,
            ) -> tuple[CaptureResult, Recorder]:
    """Compile, run forward and backward once, and return what the recorder captured.

    `recorder_cls` lets a caller keep more of each partition (the sweep keeps the joint graph)."""
    recorder = recorder_cls(settings, SourceLines(snippet.path, snippet.source))
    timings: dict[str, float] = {}
    reset_torch_state()
    fake = snippet.fake.tracing() if snippet.fake is not None else contextlib.nullcontext()
    try:
        with fake, torch_settings(settings), default_device(device), snippet.importable(), \
                capture_graph_breaks(snippet.path, snippet.source) as breaks:
            compiled: Callable[..., Any] = torch.compile(
                snippet.model, backend=recorder.backend, fullgraph=settings.fullgraph,
                dynamic=False,
            )
            start = time.perf_counter()
            failure: BaseException | None = None
            try:
                output = compiled(*snippet.example_inputs)
            except Exception as e:
                if not _partitioned_before_failing(e, recorder):
                    raise _compile_error(e, snippet) from e
                # keep the partition torch chose; `plan_hazards` says why torch failed
                failure = e
            timings["trace_forward_s"] = time.perf_counter() - start
            start = time.perf_counter()
            if failure is not None:
                pass
            elif snippet.loss is not None:
                try:
                    loss = snippet.loss(output)
                except Exception as e:
                    raise describe_user_exception(e, snippet.path, "loss(output)") from e
                if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                    raise SnippetContractError(
                        f"`loss(output)` must return a scalar tensor, got {_describe(loss)}"
                    )
                if not loss.requires_grad:
                    raise _nothing_requires_grad(snippet)
            else:
                loss = default_loss(output)
                if loss is None:
                    raise _nothing_requires_grad(snippet)
            if snippet.fake is None and failure is None:
                # the partitioner produced the backward graph while the forward compiled;
                # running it checks it on real values. Fake execution runs nothing for real,
                # and a fake backward would only repeat the shape propagation.
                try:
                    loss.backward()
                except Exception as e:
                    raise _compile_error(e, snippet) from e
            timings["backward_s"] = time.perf_counter() - start
    finally:
        reset_torch_state()
    regions: list[RawRegion] = []
    knapsack: list[dict[str, Any]] = []
    raw_index: dict[int, int] = {}
    for r in recorder.regions:
        graphs = {k: g for k, g in (("joint", r.joint), ("forward", r.forward),
                                     ("backward", r.backward)) if g is not None}
        if "forward" not in graphs:
            continue
        knapsack += [{"region": len(regions), **k} for k in r.knapsack]
        raw_index[r.index] = len(regions)
        regions.append(RawRegion(index=len(regions), graphs=graphs,
                                 num_user_outputs=r.num_user_outputs,
                                 parameter_inputs=r.static_input_names,
                                 memory_budget=settings.memory_budget))
    if not regions:
        raise SnippetContractError(
            "torch.compile captured no graph: the model ran no tensor operation dynamo could trace"
        )
    handovers = link_regions(recorder.call_log, regions, raw_index)
    recorder.call_log.release()
    return CaptureResult(device=device, regions=regions, graph_breaks=list(breaks.records),
                         timings_s=timings, knapsack=knapsack, handovers=handovers,
                         torch_failure=failure), recorder


def _partitioned_before_failing(e: BaseException, recorder: Recorder) -> bool:
    """Whether torch raised `e` from its own frames after partitioning every region it started:
    then the partition is complete and worth showing (`plan_hazards` decides if it explains `e`)."""
    if isinstance(e, CkptError) or not recorder.regions:
        return False
    if any(r.joint is None or r.forward is None or r.backward is None for r in recorder.regions):
        return False
    frames = traceback.extract_tb(e.__traceback__)
    return bool(frames) and _is_torch_compiler_file(frames[-1].filename)


def _is_torch_file(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_TORCH_DIR)


def _is_torch_compiler_file(filename: str) -> bool:
    """A file of torch.compile's own stack (dynamo, aot_autograd, the partitioner, inductor)."""
    path = os.path.abspath(filename)
    return path.startswith(_TORCH_DIR) and path[len(_TORCH_DIR):].startswith(_COMPILER_PARTS)


_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep
_COMPILER_PARTS = tuple(f"{p}{os.sep}" for p in (
    "_functorch", "_inductor", "_dynamo", "fx", "_subclasses", "_higher_order_ops", "_decomp",
    "_prims", "_export"))


def torch_frame(e: BaseException) -> str | None:
    """The innermost torch frame of `e`'s traceback: `torch/…/file.py:N in fn`."""
    frames = traceback.extract_tb(e.__traceback__)
    where = next((f for f in reversed(frames) if _is_torch_file(f.filename)), None)
    if where is None:
        return None
    rel = os.path.relpath(where.filename, os.path.dirname(_TORCH_DIR.rstrip(os.sep)))
    return f"{rel}:{where.lineno} in {where.name}"


def torch_failure_text(e: BaseException) -> str:
    """Where torch raised and its own words: `torch/…/file.py:N in fn: Type: message`."""
    frame = torch_frame(e)
    return f"{frame + ': ' if frame else ''}{type(e).__name__}: {e}"


def plan_hazards(result: CaptureResult, regions: Sequence[Region],
                 snippet: LoadedSnippet) -> tuple[Hazard, ...]:
    """The hazards of the partition as torch's runtime will see it. A torch failure kept by
    `capture` that these do not explain is raised after all, as the compile error it is."""
    failure = result.torch_failure
    hazards = runtime_hazards(regions, torch_failure_text(failure) if failure else None)
    if failure is not None and not hazards:
        raise _compile_error(failure, snippet) from failure
    return hazards


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return type(value).__name__
