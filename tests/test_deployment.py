"""The deployment files agree with the code: what the Dockerfile copies exists, and in the
compose file every queue the server sends jobs to has a consumer. (Building the images needs a
container runtime; these checks need none.)"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from ckpt_core.cli import build_parser
from server import cli_serve, cli_worker
from server.app.settings import ServerSettings

REPO = Path(__file__).resolve().parents[1]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def worker_args(command: list[str]) -> Any:
    assert command[:2] == ["ckpt", "worker"], command
    return build_parser([cli_serve, cli_worker]).parse_args(command[1:])


def test_everything_the_dockerfile_copies_is_in_the_repository() -> None:
    copies = [shlex.split(rest) for word, rest in dockerfile_instructions() if word == "COPY"]
    assert copies
    for args in copies:
        sources = [a for a in args[:-1] if not a.startswith("--")]
        for src in sources:
            assert (REPO / src).exists(), f"COPY {src}: no such file in the repository"
    ignored = (REPO / ".dockerignore").read_text().split()
    for src in (s for args in copies for s in args[:-1]):
        assert src not in ignored, f"COPY {src}, but .dockerignore leaves it out of the context"


def test_compose_consumes_every_queue_the_server_uses() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    server = compose["services"]["server"]
    worker = compose["services"]["worker"]
    env = {k: str(v) for k, v in server["environment"].items()}
    settings = ServerSettings.from_env(env)
    assert settings.queue_url.startswith("redis://")
    # the server sends "auto" analyses to settings.device's queue; explicit ones to either
    cpu_workers, gpus = cli_worker.consumers(worker_args(worker["command"]))
    served = {"cuda"} if gpus else set()
    served |= {"cpu"} if cpu_workers else set()
    assert settings.device in served, (settings.device, served)
    assert served == {"cpu", "cuda"}
    assert worker_args(worker["command"]).queue == settings.queue_url
    # the GPU the worker serves is the one compose reserves for it
    reserved = worker["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"]
    assert [str(g) for g in gpus] == reserved


def test_the_worker_image_runs_the_compose_worker_command() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    cmds = [rest for word, rest in dockerfile_instructions() if word == "CMD"]
    import json

    worker_cmd = json.loads(cmds[-1])  # the last stage is the worker
    assert worker_cmd == compose["services"]["worker"]["command"]
    worker_args(worker_cmd)  # parses: every flag exists
