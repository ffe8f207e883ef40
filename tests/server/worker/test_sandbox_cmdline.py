"""The sandbox's command line, environment and seccomp program, checked without running them.

The GPU path is verified here only as the command it would run; there is no GPU on CI.
"""

from __future__ import annotations

import datetime
import struct
from pathlib import Path

import pytest

from server.worker.queue import JsonSerializer
from server.worker.runner import sanitize_error
from server.worker.sandbox import (
    ENTRY_IN_SANDBOX,
    JOB_DIR_IN_SANDBOX,
    SandboxConfig,
    SandboxLimits,
    bwrap_args,
    command,
    sandbox_env,
)
from server.worker.seccomp import ARCHES, DENIED, SeccompUnsupported, build_filter


def pairs(args: list[str], flag: str) -> list[tuple[str, str]]:
    return [(args[i + 1], args[i + 2]) for i, a in enumerate(args) if a == flag]


def config(tmp_path: Path, **kw: object) -> SandboxConfig:
    return SandboxConfig(tmp_path, SandboxLimits(), user=None, **kw)  # type: ignore[arg-type]


def test_cpu_sandbox_is_fully_unshared_and_read_only(tmp_path: Path) -> None:
    args = bwrap_args(config(tmp_path), tmp_path / "job", seccomp_fd=7)
    for flag in ("--unshare-all", "--die-with-parent", "--new-session"):
        assert flag in args
    assert args[args.index("--cap-drop") + 1] == "ALL"
    assert ("/usr", "/usr") in pairs(args, "--ro-bind")
    assert tuple(args[i + 1] for i, a in enumerate(args) if a == "--remount-ro") == ("/", )
    assert (str(tmp_path / "job"), JOB_DIR_IN_SANDBOX) in pairs(args, "--bind")
    assert len(pairs(args, "--bind")) == 1  # the job's dir is the only writable bind
    assert args[args.index("--tmpfs") - 1] != "/"  # /tmp is a size-capped private tmpfs
    assert args[args.index("--size") + 1] == str(SandboxLimits().tmp_bytes)
    assert args[args.index("--seccomp") + 1] == "7"
    assert not any("nvidia" in a for a in args)
    assert "/usr/bin" in [args[i + 1] for i, a in enumerate(args) if a == "--tmpfs"]


def test_gpu_sandbox_binds_only_its_gpu(tmp_path: Path) -> None:
    cfg = config(tmp_path, gpu=1)
    args = bwrap_args(cfg, tmp_path / "job", seccomp_fd=None)
    devs = [src for src, _ in pairs(args, "--dev-bind-try")]
    assert devs == ["/dev/nvidia1", "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"]
    assert "/dev/nvidia0" not in args and "--seccomp" not in args
    assert sandbox_env(cfg)["CUDA_VISIBLE_DEVICES"] == "1"
    assert sandbox_env(config(tmp_path))["CUDA_VISIBLE_DEVICES"] == ""


def test_full_chain_drops_to_the_sandbox_user_under_rlimits(tmp_path: Path) -> None:
    cfg = SandboxConfig(tmp_path, SandboxLimits(address_space_bytes=None), user="root")
    argv = command(cfg, tmp_path, 5, ["/cg/a/cgroup.procs", "/cg/b/cgroup.procs"])
    assert argv[0] == "/bin/sh" and argv[4:6] == ["/cg/a/cgroup.procs", "/cg/b/cgroup.procs"]
    rest = argv[6:]
    assert rest[0] == "prlimit" and "--nproc=512" in rest and not any(
        a.startswith("--as=") for a in rest)
    setpriv = rest.index("setpriv")
    assert rest[setpriv + 1] == "--reuid=0" and "--no-new-privs" in rest
    assert rest.index("bwrap") > setpriv
    assert rest[-3:] == [cfg.python, "-I", ENTRY_IN_SANDBOX]


def test_trusted_local_runs_without_bwrap(tmp_path: Path) -> None:
    cfg = SandboxConfig(tmp_path, isolate=False, user=None)
    argv = command(cfg, tmp_path, None, [])
    assert "bwrap" not in argv and "setpriv" not in argv and argv[0] == "prlimit"


def test_environment_carries_no_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_PASSWORD", "s3cret")
    env = sandbox_env(config(tmp_path))
    assert "DATABASE_PASSWORD" not in env and "s3cret" not in env.values()
    assert env["HOME"] == "/tmp"


def test_seccomp_program_shape() -> None:
    prog = build_filter("x86_64")
    insns = [struct.unpack("<HBBI", prog[i:i + 8]) for i in range(0, len(prog), 8)]
    assert insns[0] == (0x20, 0, 0, 4)  # load the architecture first
    assert insns[1][3] == ARCHES["x86_64"][0]
    table = ARCHES["x86_64"][1]
    checked = {k for code, _, _, k in insns if code == 0x15}
    assert {table[n] for n in ("ptrace", "mount", "unshare", "setns", "keyctl", "bpf")} <= checked
    assert insns[-3] == (0x06, 0, 0, 0x00050000 | 1)  # EPERM
    assert DENIED and all(n in ARCHES["aarch64"][1] or n in ("iopl", "ioperm") for n in DENIED)
    with pytest.raises(SeccompUnsupported):
        build_filter("sparc")


def test_json_serializer_round_trips_huey_messages() -> None:
    from huey.registry import Message

    msg = Message("id1", "ckpt.run_job", datetime.datetime(2026, 1, 1), 0, 0, None,
                  ({"job_id": "j"},), {}, None, None, None, None, None, None, None)
    ser = JsonSerializer()
    data = ser.serialize(msg)
    assert data.startswith(b"{")
    assert ser.deserialize(data) == msg
    with pytest.raises(TypeError):
        ser.serialize({"obj": object()})


def test_errors_from_a_sandbox_are_sanitised() -> None:
    err = sanitize_error({"type": "os.system", "code": 5, "message": "m" * 30000, "line": True,
                          "extra": "x"})
    assert err == {"type": "CkptError", "code": "5", "message": "m" * 20000, "line": None}
    ok = sanitize_error({"type": "SnippetRuntimeError", "code": "snippet_raised",
                         "message": "boom", "line": 3})
    assert ok["type"] == "SnippetRuntimeError" and ok["line"] == 3


def test_worker_refuses_to_start_without_bubblewrap(tmp_path: Path) -> None:
    import subprocess
    import sys

    from .conftest import REPO

    proc = subprocess.run(
        [sys.executable, "-m", "server.cli", "worker", "--queue",
         f"sqlite:///{tmp_path / 'q.sqlite3'}"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
        env={"PATH": str(tmp_path), "HOME": str(tmp_path)})  # no bwrap, prlimit, setpriv
    assert proc.returncode == 3, proc.stderr
    assert "refusing to start" in proc.stderr and "bubblewrap" in proc.stderr


@pytest.mark.sandbox
def test_unreachable_paths_are_explained(tmp_path: Path) -> None:
    import os

    from server.worker.sandbox import SandboxUnavailableError, host_config

    if os.geteuid() != 0:
        pytest.skip("needs root to run the sandbox as another user")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    with pytest.raises(SandboxUnavailableError) as info:
        host_config(private / "sandboxes", trusted_local=False)
    assert "chmod o+x" in info.value.message


def test_every_link_to_the_interpreter_in_an_emptied_directory_is_brought_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Debian venv: bin/python → /usr/bin/python → python3 → python3.11 (the file)."""
    from server.worker import sandbox

    usr_bin = tmp_path / "usr" / "bin"
    usr_bin.mkdir(parents=True)
    (usr_bin / "python3.11").write_bytes(b"")
    (usr_bin / "python3").symlink_to("python3.11")
    (usr_bin / "python").symlink_to(usr_bin / "python3")
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(usr_bin / "python")
    monkeypatch.setattr(sandbox, "_EMPTIED", (str(usr_bin),))
    assert sandbox._interpreter_binds(str(venv_bin / "python")) == [
        "--symlink", str(usr_bin / "python3"), str(usr_bin / "python"),
        "--symlink", "python3.11", str(usr_bin / "python3"),
        "--ro-bind", str(usr_bin / "python3.11"), str(usr_bin / "python3.11"),
    ]
    # an interpreter outside the emptied directories needs nothing
    assert sandbox._interpreter_binds(str(tmp_path / "venv" / "bin" / "nothing")) == []
