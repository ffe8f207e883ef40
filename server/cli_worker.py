"""`ckpt worker --queue URL [--gpus 0,1] [--python PATH]`: consume analysis jobs in sandboxes on
this host, with this torch or another virtualenv's."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "worker",
        help="run queued analyses in sandboxes on this host (one consumer per GPU)",
        description=(
            "Take analysis jobs from the queue and run each in a fresh, pre-warmed bubblewrap "
            "sandbox. With --gpus, one consumer per listed GPU takes CUDA jobs; CPU jobs are "
            "taken by --cpu-workers consumers (default 1 without --gpus, else 0). Refuses to "
            "start where the sandbox cannot be built, saying what to grant."
        ),
    )
    p.add_argument("--queue", metavar="URL", required=True,
                   help="redis://HOST:PORT/DB, or sqlite:///PATH for a queue on this host")
    p.add_argument("--gpus", default="", metavar="0,1", help="GPU indices to serve")
    p.add_argument("--cpu-workers", type=int, default=None, metavar="N")
    p.add_argument("--pool-size", type=int, default=1, metavar="N",
                   help="warm sandboxes kept ready per consumer (default 1)")
    p.add_argument("--timeout", type=float, default=300.0, metavar="S",
                   help="longest a job may run, in seconds (default 300)")
    p.add_argument("--data-dir", default=".", metavar="DIR",
                   help="where a sqlite:// queue without a path would live")
    p.add_argument("--python", default=None, metavar="PATH",
                   help="run snippets with this interpreter (another virtualenv's bin/python, "
                        "e.g. from scripts/torch_versions) and serve the queues of its torch "
                        "version: the server then offers that version beside its own")
    p.add_argument("--trusted-local", action="store_true",
                   help="run snippets WITHOUT a sandbox (your own code, your own machine only)")
    p.set_defaults(func=run)


def consumers(args: argparse.Namespace) -> tuple[int, list[int]]:
    """(CPU consumers, GPU indices) the arguments ask for: CPU jobs get `--cpu-workers`
    consumers (default 1 without --gpus, else 0), CUDA jobs one per listed GPU."""
    gpus = [int(g) for g in args.gpus.split(",") if g.strip()]
    cpu_workers = args.cpu_workers if args.cpu_workers is not None else (0 if gpus else 1)
    return cpu_workers, gpus


def run(args: argparse.Namespace) -> int:
    from .worker import SandboxLimits, SandboxUnavailableError, make_backend

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        cpu_workers, gpus = consumers(args)
    except ValueError:
        print(f"ckpt worker: --gpus must list integers, got {args.gpus!r}", file=sys.stderr)
        return 2
    torch_version = None
    if args.python:
        from ckpt_core.torches import probe_torch_version

        try:
            torch_version = probe_torch_version(args.python)
        except ValueError as e:
            print(f"ckpt worker: {e}", file=sys.stderr)
            return 2
    try:
        backend = make_backend(args.queue, Path(args.data_dir),
                               trusted_local=args.trusted_local, pool_size=args.pool_size,
                               limits=SandboxLimits(timeout_s=args.timeout))
    except ValueError as e:
        print(f"ckpt worker: {e}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        backend.start_embedded_consumer(cpu_workers=cpu_workers, gpus=gpus,
                                        python=args.python, torch_version=torch_version)
    except SandboxUnavailableError as e:
        print(f"ckpt worker: refusing to start: {e.message}", file=sys.stderr)
        backend.close()
        return 3
    on = f", torch {torch_version} from {args.python}" if torch_version else ""
    print(f"ckpt worker: serving {backend.queues.url} (cpu workers: {cpu_workers}, "
          f"gpus: {gpus or 'none'}{on})", flush=True)
    try:
        stop.wait()
    finally:
        backend.close()
    return 0
