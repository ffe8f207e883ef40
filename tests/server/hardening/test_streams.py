"""Idle live streams cost (almost) nothing: no thread per client, no polling; a stream ends
when its client goes; one client may hold only so many."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.api.conftest import SNIPPET
from tests.server.live import LiveServer

TICKS_S = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_S


def threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("Threads:")[1].split()[0])


def open_stream(server: LiveServer, share_id: str) -> tuple[socket.socket, int]:
    """Opens the stream, reads its head, then never reads again."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(f"GET /api/analyses/{share_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    return sock, int(sock.recv(4096).split()[1])


def live_streams(server: LiveServer) -> int:
    return int(httpx.get(f"{server.base}/readyz").json()["checks"]["live streams"])


@pytest.fixture
def held_job(tmp_path: Path, mlp_doc: dict[str, Any]) -> Iterator[tuple[LiveServer, str]]:
    """A real server whose one analysis stays running for minutes."""
    server = LiveServer(tmp_path / "data", mlp_doc, delay_s=600,
                        CKPT_MAX_STREAMS_PER_CLIENT="40").start()
    try:
        sub = httpx.post(f"{server.base}/api/analyses", json={"source": SNIPPET}).json()
        yield server, sub["id"]
    finally:
        server.stop()


def test_idle_streams_need_no_thread_and_no_cpu(held_job: tuple[LiveServer, str]) -> None:
    server, share_id = held_job
    assert server.proc is not None
    pid = server.proc.pid
    time.sleep(0.5)
    before = threads(pid)
    clients = [open_stream(server, share_id) for _ in range(30)]
    try:
        assert {status for _, status in clients} == {200}
        time.sleep(1.0)
        start = cpu_s(pid)
        time.sleep(2.0)
        used_s = cpu_s(pid) - start
        assert threads(pid) - before <= 4, (before, threads(pid))
        assert used_s < 0.25, f"30 idle streams used {used_s:.2f} CPU-s in 2 s"
        assert live_streams(server) == 30
    finally:
        for sock, _ in clients:
            sock.close()
    deadline = time.monotonic() + 5
    while live_streams(server) != 0:  # the server noticed every client go
        assert time.monotonic() < deadline, live_streams(server)
        time.sleep(0.1)


def test_streams_per_client_are_capped(held_job: tuple[LiveServer, str]) -> None:
    server, share_id = held_job
    clients = [open_stream(server, share_id) for _ in range(40)]
    try:
        assert {status for _, status in clients} == {200}
        refused = httpx.get(f"{server.base}/api/analyses/{share_id}/events")
        assert refused.status_code == 429 and refused.json()["code"] == "too_many_streams"
        assert "limit is 40" in refused.json()["message"]
        polled = httpx.get(f"{server.base}/api/analyses/{share_id}/events?format=json")
        assert polled.status_code == 200  # polling is not a stream
    finally:
        for sock, _ in clients:
            sock.close()
