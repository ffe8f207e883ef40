"""Error messages carry no server details: installation paths become relative to
site-packages (or the snippet), no host name or PID, only the snippet's part of a crash."""

from __future__ import annotations

import json
import os
import socket
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from server.app.local_backend import LocalBackend
from server.jobs import JobSpec
from server.redact import REPO_ROOT, crash_excerpt, redact
from server.worker import make_backend

SITE = sysconfig.get_paths()["purelib"]
STDLIB = sysconfig.get_paths()["stdlib"]
HOST = socket.gethostname()


def assert_no_server_details(text: str) -> None:
    for detail in (SITE, STDLIB, str(REPO_ROOT), sys.prefix, f"{HOST}:"):
        assert detail not in text, (detail, text)


def test_paths_become_relative_and_the_host_goes() -> None:
    text = (f'File "{SITE}/torch/_functorch/partitioners.py", line 9, in solve\n'
            f'File "{STDLIB}/ast.py", line 50, in parse\n'
            f'File "/tmp/ckpt-work-1a2b/job-77/mlp.py", line 7, in forward\n'
            f"RuntimeError: failed on {HOST} in {REPO_ROOT}/ckpt_core/capture/run.py")
    out = redact(text)
    assert_no_server_details(out)
    assert 'File "torch/_functorch/partitioners.py"' in out
    assert 'File "mlp.py", line 7' in out and "ckpt_core/capture/run.py" in out
    assert "ast.py" in out and "<host>" in out


def test_a_crash_shows_only_the_snippets_frames_and_the_error() -> None:
    stderr = "\n".join([
        f"sys.path = {[SITE, STDLIB, '/opt/ckpt/lib']}",
        "mount: /proc on /proc type proc (rw,nosuid)",
        "Traceback (most recent call last):",
        f'  File "{REPO_ROOT}/server/worker/entry.py", line 60, in run_job',
        "    snippet = load_snippet(source, path, device)",
        '  File "/tmp/ckpt-work-x/job-1/mlp.py", line 12, in <module>',
        "    boom()",
        f'  File "{SITE}/torch/nn/modules/module.py", line 1, in _call_impl',
        "    return forward_call(*args)",
        "ValueError: shapes (3, 4) and (5, 6) do not match",
    ])
    out = crash_excerpt(stderr)
    assert out.splitlines() == ['File "mlp.py", line 12, in <module>', "  boom()",
                                "ValueError: shapes (3, 4) and (5, 6) do not match"]


def test_a_lost_worker_is_not_named_by_host_or_pid(tmp_path: Path) -> None:
    backend = make_backend(None, tmp_path, stale_after_s=0.1)
    backend.submit(JobSpec("j1", "x = 1", {}))
    backend.queues.by_device["cpu"].dequeue()
    owner = f"{HOST}:{os.getpid()}:abc123"
    assert backend.state.claim("j1", owner)
    backend.state.storage.put_data("ckpt:j1:hb", json.dumps(time.time() - 60).encode())
    outcome = backend.outcome("j1")
    assert outcome is not None and outcome.error is not None
    message = outcome.error["message"]
    assert "stopped responding" in message
    assert HOST not in message and str(os.getpid()) not in message and "abc123" not in message


@pytest.mark.torch_compile
def test_a_dying_analysis_process_reports_its_snippet_line_only() -> None:
    """A real child process that prints server details to stderr and dies."""
    source = ("import os, sys\nmodel = None\nexample_inputs = ()\n"
              "sys.stderr.write(f'sys.path={sys.path}\\n')\n"
              "def boom():\n"
              "    raise ValueError('the snippet broke')\n"
              "try:\n"
              "    boom()\n"
              "except ValueError:\n"
              "    import traceback; traceback.print_exc()\n"
              "    sys.stderr.flush(); os._exit(3)\n")
    backend = LocalBackend()
    try:
        backend.submit(JobSpec("d1", source, {}, snippet_name="broken.py"))
        deadline = time.monotonic() + 120
        while (outcome := backend.outcome("d1")) is None:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        backend.close()
    assert outcome.error is not None
    message = outcome.error["message"]
    assert "the snippet broke" in message, message
    assert_no_server_details(message)
    assert "sys.path" not in message and len(message) < 700, message
