"""Fake-tensor execution: the snippet's parameters and inputs carry shapes, dtypes and devices
but no memory, and nothing runs for real.

`FakeExecution(device)` owns one `FakeTensorMode`. `building()` is the context the snippet's
module-level code runs in: every tensor it creates is fake, and in-place random fills (the
`nn.init` calls of every layer's `reset_parameters`) are skipped, since a fake tensor has no
values to fill. `tracing()` is the context torch.compile runs in, so the tensors that torch's
runtime wrappers create around the compiled graphs are fake too.

Fake CUDA needs a CUDA device, on every supported torch. The joint graph is traced through
autograd's C++ engine, which touches the CUDA device of every tensor it differentiates even when
the tensors are fake. On a CPU-only build (2.13.0+cpu) the first fake CUDA tensor that records
history aborts the process in C++ (no CUDA device guard), and with a no-op guard in place the
engine refuses with "Cannot access accelerator device when none is available". On a CUDA build
without a GPU (measured: 2.14.1+cu130 and 2.15.0+cu132 on this CPU) the engine fails with
"hasPrimaryContext expects a valid device index, but got device_index=0". `check_fake_device`
refuses both up front with a message that says so; with a GPU present, fake CUDA traces without
allocating the model (a large model still fits, since nothing is materialised).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ..errors import SettingsError
from .torch_compat import FakeTensor, FakeTensorMode

_aten = torch.ops.aten
_swap_tensors = torch.utils.swap_tensors

#: In-place random fills: parameter initialisation. On a fake tensor they would only check
#: shapes, and on fake CUDA they reach for a CUDA generator a CPU-only build does not have.
_RANDOM_FILLS = frozenset(
    getattr(getattr(_aten, op), overload)
    for op, overload in (
        ("uniform_", "default"), ("normal_", "default"), ("bernoulli_", "float"),
        ("bernoulli_", "Tensor"), ("exponential_", "default"), ("random_", "default"),
        ("random_", "from"), ("random_", "to"), ("log_normal_", "default"),
        ("geometric_", "default"), ("cauchy_", "default"),
    )
)


class _SkipRandomFills(TorchDispatchMode):  # type: ignore[misc]
    """Return the tensor unchanged for in-place random fills; dispatch everything else."""

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        if func in _RANDOM_FILLS:
            return args[0]
        return func(*args, **(kwargs or {}))


class FakeExecution:
    """One fake-tensor mode shared by the snippet's module code and the compile that follows."""

    def __init__(self, device: str):
        check_fake_device(device)
        self.device = device
        self.mode = FakeTensorMode(allow_non_fake_inputs=False)

    @contextlib.contextmanager
    def building(self) -> Iterator[None]:
        original = torch.utils.swap_tensors
        torch.utils.swap_tensors = self._swap_tensors
        try:
            with self.mode, _SkipRandomFills():
                yield
        finally:
            torch.utils.swap_tensors = original

    def _swap_tensors(self, t1: torch.Tensor, t2: torch.Tensor) -> None:
        """`nn.Module._apply` (`model.to(torch.bfloat16)`, `.to(device)`) swaps a fake parameter
        with its converted copy, and `swap_tensors` refuses a tensor that anything holds a weak
        reference to. The fake mode's own memo of the tensors it created holds one; it only
        serves converting real tensors, so forget these two first."""
        memo = self.mode.fake_tensor_converter.tensor_memo
        for key in [k for k, v in list(memo.items()) if v is t1 or v is t2]:
            del memo[key]
        _swap_tensors(t1, t2)

    @contextlib.contextmanager
    def tracing(self) -> Iterator[None]:
        with self.mode:
            yield


def is_fake(value: Any) -> bool:
    return isinstance(value, FakeTensor)


def check_fake_device(device: str) -> None:
    """Refuse fake CUDA where torch cannot trace it (no CUDA device), before anything can abort
    the process."""
    if not device.startswith("cuda"):
        return
    if not torch.cuda._is_compiled():
        raise SettingsError(
            "settings.execution: 'fake' with device 'cuda' needs a CUDA build of torch and a "
            f"CUDA device; this worker's torch {torch.__version__} is CPU-only, where autograd "
            "cannot trace fake CUDA tensors. Use device 'cpu' (CPU op choices) or a GPU worker"
        )
    if torch.cuda.device_count() == 0:
        raise SettingsError(
            "settings.execution: 'fake' with device 'cuda' needs a CUDA device: torch "
            f"{torch.__version__}'s autograd engine, which traces the joint graph, touches the "
            "CUDA device even for fake tensors and fails without one ('hasPrimaryContext "
            "expects a valid device index'). Use device 'cpu' (CPU op choices) or a GPU worker"
        )
