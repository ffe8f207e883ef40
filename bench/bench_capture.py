"""Analysis cost against a bare capture and a full inductor compile (12-layer GPT, SAC policy).

Targets: `ckpt_core.analyze` ≤ 1.15× a bare in-process capture (torch.compile with a backend
that only records the partitioned graphs, through the same inductor pipeline), and ≥ 5× faster
than a full `torch.compile(backend="inductor")` forward+backward. Prints both ratios.

    .venv/bin/python bench/bench_capture.py [--repeat 3] [--snippet examples/gpt_sac.py]
"""

from __future__ import annotations

import argparse
import os
import runpy
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import timed  # noqa: E402


def load(path: Path) -> dict[str, Any]:
    ns = runpy.run_path(str(path))
    inputs = ns["example_inputs"]
    ns["example_inputs"] = tuple(inputs() if callable(inputs) else inputs)
    return ns


def run_once(ns: dict[str, Any], backend: Any) -> None:
    import torch

    torch._dynamo.reset()
    out = torch.compile(ns["model"], backend=backend)(*ns["example_inputs"])
    loss = ns["loss"](out) if "loss" in ns else out.sum()
    loss.backward()
    torch._dynamo.reset()


def bare_backend() -> Any:
    """Record the partitioned graphs through inductor's pipeline; generate no code."""
    from torch._functorch._aot_autograd.utils import make_boxed_func
    from torch._functorch.partitioners import min_cut_rematerialization_partition
    from torch._inductor import config
    from torch._inductor.compile_fx import compile_fx
    from torch._inductor.custom_graph_pass import CustomPartitionerFn

    graphs: list[Any] = []

    class Record(CustomPartitionerFn):
        def __call__(self, gm: Any, inputs: Any, **kw: Any) -> Any:
            kw.pop("compiler", None)
            fw, bw = min_cut_rematerialization_partition(gm, inputs, compiler="inductor", **kw)
            graphs.append((gm, fw, bw))
            return fw, bw

        def uuid(self) -> Any:
            return None

    def inner(gm: Any, _inputs: Any, **_kw: Any) -> Any:
        return make_boxed_func(gm.forward)

    def backend(gm: Any, inputs: Any) -> Any:
        with config.patch(custom_partitioner_fn=Record()):
            return compile_fx(gm, inputs, inner_compile=inner)

    return backend




def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snippet", default=str(REPO / "examples" / "gpt_sac.py"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-inductor", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="ckpt-bench-"))
    sys.path.insert(0, str(REPO))
    import torch

    import ckpt_core

    path = Path(args.snippet)
    ns = load(path)
    ckpt_core.analyze_file(path)  # warm-up: imports, lazy initialisation
    run_once(ns, bare_backend())

    analyze_s = timed(lambda: ckpt_core.analyze_file(path), args.repeat)
    bare_s = timed(lambda: run_once(ns, bare_backend()), args.repeat)
    analysis, bare = statistics.median(analyze_s), statistics.median(bare_s)
    print(f"snippet: {path.name}  torch {torch.__version__}")
    print(f"ckpt_core.analyze      median {analysis:7.3f} s  {[round(t, 3) for t in analyze_s]}")
    print(f"bare capture           median {bare:7.3f} s  {[round(t, 3) for t in bare_s]}")
    print(f"analysis / bare capture = {analysis / bare:.3f}x   (target <= 1.15x)")
    if not args.skip_inductor:
        with torch._inductor.config.patch(fx_graph_cache=False, autotune_local_cache=False):
            (full,) = timed(lambda: run_once(ns, "inductor"), 1)
        print(f"full inductor compile  {full:7.3f} s")
        print(f"full inductor / analysis = {full / analysis:.2f}x faster   (target >= 5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
