"""Idle live streams on 127.0.0.1: what 100 opened-then-abandoned SSE streams cost a real
`ckpt serve` (a fake backend holds the analysis running, so every stream stays open).

Measures the server's CPU seconds over 5 s and its thread count while 100 clients hold a
stream without reading, then after they go; and how many streams one client may hold.

    .venv/bin/python bench/bench_streams.py [--streams 100] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import start_server

REPO = Path(__file__).resolve().parent.parent
TICKS_S = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_S  # utime + stime


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def open_stream(port: int, share_id: str) -> tuple[socket.socket, int]:
    """A client that opens the stream, reads its headers and then never reads again."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"GET /api/analyses/{share_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    head = sock.recv(4096).decode("latin-1")
    return sock, int(head.split()[1])


def cpu_over(pid: int, seconds: float) -> float:
    start = cpu_s(pid)
    time.sleep(seconds)
    return cpu_s(pid) - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        doc = Path(tmp) / "doc.json"
        doc.write_text(json.dumps({"schema_version": 1}))
        proc, base = start_server(Path(tmp) / "data", "tests.server.api.fakes:backend_from_env",
                                  CKPT_FAKE_DOC=str(doc), CKPT_FAKE_DELAY_S="600",
                                  CKPT_MAX_STREAMS_PER_CLIENT=str(args.streams + 10))
        port = int(base.rsplit(":", 1)[1])
        try:
            sub = httpx.post(f"{base}/api/analyses",
                             json={"source": (REPO / "examples" / "mlp_checkpoint.py")
                                   .read_text()}).json()
            time.sleep(1.0)
            idle_cpu = cpu_over(proc.pid, args.seconds)
            idle_threads = threads(proc.pid)
            clients = [open_stream(port, sub["id"]) for _ in range(args.streams)]
            statuses = {status for _, status in clients}
            time.sleep(1.0)
            open_cpu = cpu_over(proc.pid, args.seconds)
            open_threads = threads(proc.pid)
            for sock, _ in clients:
                sock.close()
            time.sleep(2.0)
            gone_cpu = cpu_over(proc.pid, args.seconds)
            gone_threads = threads(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"{args.streams} streams answered {sorted(statuses)}")
    print(f"server CPU over {args.seconds:g} s: idle {idle_cpu:.2f} s, "
          f"{args.streams} streams held open {open_cpu:.2f} s, after they went {gone_cpu:.2f} s")
    print(f"server threads: idle {idle_threads}, streams open {open_threads}, "
          f"after {gone_threads} (extra while open: {open_threads - idle_threads})")
    print(f"CPU per open stream per second: {open_cpu / args.streams / args.seconds * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
