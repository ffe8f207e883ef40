"""The program that runs INSIDE a sandbox: import torch, wait for one job, answer once, exit.

Standalone on purpose (it imports only ckpt_core, never the server): the job arrives as one JSON
document on stdin, progress events and exactly one result leave as JSON lines on the control fd
(`CKPT_CONTROL_FD`). Whatever the snippet prints goes to stdout/stderr, which the worker ignores.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
from typing import Any

_MAIN_PID = os.getpid()
_CTL = int(os.environ.get("CKPT_CONTROL_FD", "3"))


def send(kind: str, **payload: Any) -> None:
    """Write one message; silently nothing from a process the snippet forked."""
    if os.getpid() != _MAIN_PID:
        return
    data = memoryview((json.dumps({"kind": kind, **payload}) + "\n").encode())
    while data:
        n = os.write(_CTL, data)
        data = data[n:]


def _die_with_parent() -> None:
    # the sandbox already dies with bubblewrap; this covers --trusted-local, where we are a
    # plain child of the worker
    PR_SET_PDEATHSIG = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """The job through ckpt_core's one runner, in the sandbox's working directory."""
    from ckpt_core.runner import run_job as run

    return run(job, os.getcwd(), lambda stage, message: send("event", stage=stage,
                                                             message=message))


#: compiled once while the sandbox waits, so that dynamo's and inductor's lazy imports and
#: first-compile set-up are paid before the job arrives, not by it
_WARMUP = """
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(32, 16)
        self.ln = nn.LayerNorm(16)
        self.qkv = nn.Linear(16, 48)
        self.mlp = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Dropout(0.1), nn.Linear(32, 16),
                                 nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.SiLU())

    def attend(self, x):
        q, k, v = self.qkv(self.ln(x)).view(2, 4, 3, 2, 8).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return x + y.transpose(1, 2).reshape(2, 4, 16)

    def forward(self, idx):
        x = self.embed(idx)
        x = checkpoint(self.attend, x, use_reentrant=False)
        h = checkpoint(self.mlp, x, use_reentrant=False)
        return (torch.sigmoid(x + h).sin() * x.cos()).softmax(-1).log_softmax(-1)

model = Block()
example_inputs = (torch.randint(0, 32, (2, 4)),)
"""


def preload() -> None:
    import torch

    import ckpt_core
    import ckpt_core.capture  # the slow imports, done before the job arrives

    try:
        ckpt_core.analyze_source(_WARMUP, ckpt_core.Settings(device="cpu"), name="warmup.py")
    except ckpt_core.CkptError as e:
        sys.stderr.write(f"ckpt: warm-up analysis failed: {e}\n")
    torch._dynamo.reset()


def _find_ckpt_core() -> None:
    """Another torch's virtualenv (`ckpt worker --python`) does not have ckpt_core installed:
    import it from where the worker's own lives (bound read-only into the sandbox)."""
    import importlib.util

    parent = os.environ.get("CKPT_CORE_PARENT")
    if parent and importlib.util.find_spec("ckpt_core") is None:
        sys.path.append(parent)


def main() -> None:
    _die_with_parent()
    _find_ckpt_core()
    if os.environ.get("CKPT_PRELOAD", "1") == "1":
        preload()
    send("ready")
    job = json.loads(sys.stdin.buffer.read() or b"{}")
    from ckpt_core.errors import AnalysisError, CkptError, SnippetRuntimeError

    try:
        send("result", result=run_job(job))
    except CkptError as e:
        send("result", error=e.to_dict())
    except (SystemExit, KeyboardInterrupt) as e:
        send("result", error=SnippetRuntimeError(
            f"the snippet stopped the interpreter ({type(e).__name__}: {e})").to_dict())
    except Exception as e:  # noqa: BLE001 - anything else is reported, never a silent crash
        send("result", error=AnalysisError(f"unexpected {type(e).__name__}: {e}").to_dict())
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    # skip atexit hooks and the snippet's non-daemon threads: the answer is sent
    os._exit(0)


if __name__ == "__main__":
    main()
