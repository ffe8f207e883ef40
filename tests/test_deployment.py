"""The deployment files agree with the code: what the Dockerfile copies exists, and in the
compose file every queue the server sends jobs to has a consumer. (Building the images needs a
container runtime; these checks need none.)"""

from __future__ import annotations

import re
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


def compose_file(env: dict[str, str] | None = None) -> Any:
    """compose.yaml with its `${VAR:-default}` / `${VAR-default}` filled in as compose does:
    from `env`, else the default (what `docker compose up` runs with nothing set)."""
    env = env or {}

    def fill(m: re.Match[str]) -> str:
        name, colon, default = m.group(1), m.group(2), m.group(3) or ""
        value = env.get(name)
        if value is None or (colon and value == ""):
            return default
        return value

    text = re.sub(r"\$\{(\w+)(?:(:?)-([^}]*))?\}", fill, (REPO / "compose.yaml").read_text())
    return yaml.safe_load(text)


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
    compose = compose_file()
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
    compose = compose_file()
    cmds = [rest for word, rest in dockerfile_instructions() if word == "CMD"]
    import json

    worker_cmd = json.loads(cmds[-1])  # the last stage is the worker
    assert worker_cmd == compose["services"]["worker"]["command"]
    worker_args(worker_cmd)  # parses: every flag exists


def test_compose_without_a_gpu_serves_the_cpu_queue_it_defaults_to() -> None:
    """What scripts/containers runs on a host without a GPU: the same file, two variables."""
    compose = compose_file({"CKPT_WORKER_GPUS": "", "CKPT_DEVICE": "cpu"})
    env = {k: str(v) for k, v in compose["services"]["server"]["environment"].items()}
    settings = ServerSettings.from_env(env)
    cpu_workers, gpus = cli_worker.consumers(worker_args(compose["services"]["worker"]["command"]))
    assert (settings.device, cpu_workers, gpus) == ("cpu", 1, [])


def test_the_dockerfile_base_and_torch_sources_are_arguments() -> None:
    """scripts/containers builds on a local Debian image and local torch wheels."""
    instructions = dockerfile_instructions()
    args = {rest.split("=", 1)[0] for word, rest in instructions if word == "ARG"}
    assert {"PYTHON_IMAGE", "TORCH_PIP_ARGS", "TORCH_CUDA_PIP_ARGS", "PIP_CERT"} <= args
    assert ("FROM", "${PYTHON_IMAGE} AS base") in instructions
