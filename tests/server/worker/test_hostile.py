"""The hostile-snippet corpus, each run in a real sandbox: contained, reported, cleaned up."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.worker import WorkerBackend

from .conftest import EXAMPLES, HOSTILE, REPO, run_job, sandbox_pids, wait_for

pytestmark = pytest.mark.sandbox


def source(name: str, **param: Any) -> str:
    text = (HOSTILE / f"{name}.py").read_text()
    return f"PARAM = {param!r}\n{text}" if param else text


def host_procs_named(comm: str) -> list[int]:
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if Path(f"/proc/{p}/comm").read_text().strip() == comm:
                    out.append(int(p))
            except OSError:
                pass
    return out


@pytest.fixture(autouse=True)
def nothing_left_running(backend: WorkerBackend) -> Iterator[None]:
    yield
    # one sandbox (the pool's next warm one) is allowed: outer bwrap, its init, python
    wait_for(lambda: len(sandbox_pids()) <= 3, 15, "the job's sandbox processes to be gone")


def error_of(backend: WorkerBackend, src: str, **options: Any) -> dict[str, Any]:
    outcome = run_job(backend, src, **options)
    assert outcome.result is None, "a hostile snippet produced an analysis"
    assert outcome.error is not None
    return outcome.error


def assert_contained(err: dict[str, Any]) -> None:
    assert err["type"] == "SnippetRuntimeError", err
    said = err["message"].splitlines()[0]  # the rest is the snippet's traceback
    assert "CONTAINED" in said and "LEAK" not in said, err["message"]


def test_fork_bomb_hits_the_process_limit(backend: WorkerBackend) -> None:
    err = error_of(backend, source("fork_bomb"), timeout_s=30)
    assert "BlockingIOError" in err["message"] or "Resource temporarily" in err["message"], err


def test_infinite_loop_is_stopped_at_the_time_limit(backend: WorkerBackend) -> None:
    err = error_of(backend, source("infinite_loop"), timeout_s=3)
    assert err["type"] == "SandboxError" and "time limit of 3 s" in err["message"], err


def test_memory_hog_is_stopped(backend: WorkerBackend) -> None:
    err = error_of(backend, source("memory_hog"), timeout_s=60)
    # the cgroup OOM-kills it, or RLIMIT_AS turns the allocation into a MemoryError
    assert "out of memory" in err["message"] or "MemoryError" in err["message"], err


def test_huge_output_is_capped(backend: WorkerBackend) -> None:
    err = error_of(backend, source("huge_output"), timeout_s=30)
    assert err["type"] == "SandboxError" and "more than 1048576 bytes" in err["message"], err


def test_segfault_is_reported(backend: WorkerBackend) -> None:
    err = error_of(backend, source("segfault"))
    assert err["type"] == "SandboxError" and "SIGSEGV" in err["message"], err


def test_os_exit_before_a_result(backend: WorkerBackend) -> None:
    err = error_of(backend, source("os_exit"))
    assert err["type"] == "SandboxError" and "status 3" in err["message"], err


def test_forged_result_on_stdout_is_ignored(backend: WorkerBackend) -> None:
    err = error_of(backend, source("forged_result"))
    assert err["type"] == "SandboxError" and "before returning a result" in err["message"], err


def test_host_secrets_and_homes_are_unreadable(backend: WorkerBackend) -> None:
    data_dir = backend.data_dir
    files = [str(REPO / "pyproject.toml"), str(data_dir / "queue.sqlite3")]
    # what the sandbox binds on purpose appears as mount points; everything else must not
    bound = {".venv", "ckpt_core", ".pyenv", "main", "alternatives", "ld.so.cache",
             "ld.so.conf", "localtime"}
    dirs = {d: [e for e in os.listdir(d) if e not in bound]
            for d in (str(REPO), str(data_dir), str(Path.home()), "/work", "/home", "/etc",
                      "/var")}
    assert "shadow" in dirs["/etc"] and "pyproject.toml" in dirs[str(REPO)]
    assert_contained(error_of(backend, source("read_secrets", files=files, dirs=dirs)))


def test_parent_environment_is_invisible(backend: WorkerBackend,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CKPT_TEST_SERVER_SECRET", "hunter2-s3cret")
    src = source("read_env", secret="hunter2-s3cret", var="CKPT_TEST_SERVER_SECRET",
                 host_pid=os.getpid())
    assert_contained(error_of(backend, src))


def test_nothing_outside_tmp_and_job_is_writable(backend: WorkerBackend) -> None:
    paths = [str(REPO / "pwned"), str(backend.data_dir / "pwned")]
    err = error_of(backend, source("write_outside_tmp", paths=paths))
    message = str(err["message"]).splitlines()[0]
    if "LEAK: " in message:
        # a checkout under the host's /tmp: inside the sandbox that path lies in the sandbox's
        # own private /tmp, so a write there succeeds but never reaches the host (checked below)
        leaked = message.split("LEAK: ", 1)[1].split(", ")
        assert all(p.startswith("/tmp/") for p in leaked), err
    else:
        assert_contained(err)
    for p in [*paths, "/tmp/fine", "/job/fine"]:  # its /tmp and /job writes stayed private
        assert not os.path.exists(p)


def test_other_jobs_directories_are_invisible(backend: WorkerBackend) -> None:
    work_root = backend._work_root
    assert work_root is not None
    others = [str(p) for p in work_root.iterdir()]  # the warm sandbox's dir, among others
    assert others
    err = error_of(backend, source("other_job_dir", dirs=[str(work_root), *others]))
    assert_contained(err)


def test_killing_the_parent_reaches_nothing(backend: WorkerBackend) -> None:
    assert_contained(error_of(backend, source("kill_parent", host_pid=os.getpid())))


def test_ptrace_is_refused(backend: WorkerBackend) -> None:
    err = error_of(backend, source("ptrace"))
    assert_contained(err)
    assert ", 1)" in err["message"]  # EPERM from the seccomp filter


def test_no_shell_can_be_spawned(backend: WorkerBackend) -> None:
    assert_contained(error_of(backend, source("spawn_shell")))


def test_no_daemon_outlives_the_job(backend: WorkerBackend) -> None:
    assert_contained(error_of(backend, source("daemon")))
    wait_for(lambda: not host_procs_named("ckpt-daemon"), 10, "the daemon to be killed")


def test_host_loopback_listener_is_unreachable(backend: WorkerBackend) -> None:
    accepted: list[object] = []
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        srv.settimeout(0.2)
        stop = threading.Event()

        def accept() -> None:
            while not stop.is_set():
                try:
                    conn, _ = srv.accept()
                except OSError:
                    continue
                accepted.append(conn)
                conn.sendall(b"host secret")
                conn.close()

        t = threading.Thread(target=accept, daemon=True)
        t.start()
        try:
            err = error_of(backend, source("connect_host", port=srv.getsockname()[1]))
        finally:
            stop.set()
            t.join()
    assert_contained(err)
    assert "interfaces ['lo']" in err["message"]
    assert not accepted


def test_still_serving_after_the_hostile_corpus(backend: WorkerBackend) -> None:
    outcome = run_job(backend, (EXAMPLES / "mlp_checkpoint.py").read_text())
    assert outcome.error is None, outcome.error
    assert outcome.result is not None and outcome.result["regions"]
