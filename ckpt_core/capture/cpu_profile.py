"""Measure this CPU's peak rates once (a small matmul and a large copy), cached on disk."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import torch

from ..cost import DeviceProfile

_MEASURED: DeviceProfile | None = None


def _cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ckptscope" / "cpu_profile.json"


def _key() -> str:
    return f"{platform.processor() or platform.machine()}|threads={torch.get_num_threads()}|" \
           f"torch={torch.__version__}"


def _best_s(fn: object, repeats: int) -> float:
    assert callable(fn)
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return max(best, 1e-9)


def measure_cpu() -> DeviceProfile:
    """Peak FP32 matmul FLOP/s (512×512 `mm`) and copy bandwidth (a 32 MiB `copy_`), best of
    a few runs: about 50 ms."""
    n = 512
    a, b = torch.randn(n, n), torch.randn(n, n)
    mm_s = _best_s(lambda: torch.mm(a, b), 5)
    src = torch.empty(8 * 1024 * 1024, dtype=torch.float32)
    dst = torch.empty_like(src)
    copy_s = _best_s(lambda: dst.copy_(src), 5)
    flops = 2 * n ** 3 / mm_s
    return DeviceProfile(name="cpu", label=f"this CPU ({torch.get_num_threads()} threads)",
                         matmul_flops_per_s=flops, fp32_flops_per_s=flops,
                         bandwidth_bytes_per_s=2 * src.numel() * 4 / copy_s, source="measured")


def cpu_profile() -> DeviceProfile:
    """This CPU's profile: measured once per machine, torch version and thread count, then
    cached (one file holds every such key; written atomically, so concurrent analyses sharing
    a home directory never read half a file)."""
    global _MEASURED
    if _MEASURED is not None:
        return _MEASURED
    path = _cache_path()
    stored: dict[str, object] = {}
    try:
        loaded = json.loads(path.read_text())
        stored = loaded if isinstance(loaded, dict) else {}
        _MEASURED = DeviceProfile.from_dict(stored[_key()])  # type: ignore[arg-type]
        return _MEASURED
    except (OSError, ValueError, KeyError, TypeError):
        pass
    _MEASURED = measure_cpu()
    try:  # a read-only home (the sandbox) keeps the figure for this process only
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**stored, _key(): _MEASURED.to_dict()}))
        os.replace(tmp, path)
    except OSError:
        pass
    return _MEASURED
