"""Helpers shared by the bench scripts (run as `python bench/<script>.py`): timing, and a real
`ckpt serve` on 127.0.0.1 to measure against."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    """Wall-clock seconds of `repeat` calls of `fn`."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def start_server(data_dir: Path, backend: str = "auto",
                 **env_extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """`ckpt serve` on a free port of 127.0.0.1 (`CKPT_BACKEND=backend`, no rate limit), once
    it answers; returns the process and its base URL."""
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "CKPT_BACKEND": backend, "CKPT_RATE_LIMIT": "0", **env_extra}
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--port", str(port),
                             "--data-dir", str(data_dir), "--log-level", "warning"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("ckpt serve did not start")
