"""The server's one settings object, read from the environment (`CKPT_*`) and the command line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from ckpt_core.source import MAX_SNIPPET_BYTES

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ServerSettings:
    """Where data lives, who may submit and how much.

    - `data_dir`: SQLite database, blobs and the queue live here unless URLs say otherwise.
    - `database_url`: SQLAlchemy URL (`CKPT_DATABASE_URL`); default `<data_dir>/ckpt.sqlite3`.
    - `blob_url`: fsspec URL for compressed artifacts (`CKPT_BLOB_URL`); default `<data_dir>/blobs`.
    - `api_keys`: when non-empty, submissions need one of them (`CKPT_API_KEYS`, comma-separated).
    - `submissions_per_minute`: per-client submission rate (`CKPT_RATE_LIMIT`; 0 disables).
    - `max_snippet_bytes` / `max_request_bytes`: size limits of a snippet and of a request body.
    - `backend`: `auto` (the sandboxed worker when installed, else `local`), `worker`, `local`,
      or `module:factory` called as `factory(settings)` (`CKPT_BACKEND`).
    - `device`: what `auto` resolves to for routing and the cache key (`CKPT_DEVICE`).
    - `queue_url`: empty for the embedded SQLite queue under `data_dir`, or `redis://…` for a
      queue that `ckpt worker` hosts serve (`CKPT_QUEUE_URL`).
    - `gpus`: GPUs the embedded consumer runs CUDA jobs on (`CKPT_GPUS`, a count).
    - `trusted_local`: run analyses without a sandbox (`CKPT_TRUSTED_LOCAL=1`);
      without it, a host that cannot sandbox makes the server refuse to start.
    - `allowed_origins`: pages from these origins may submit too (`CKPT_ALLOWED_ORIGINS`);
      a browser write from any other site is refused (403).
    - `queue_deadline_s`: a job no worker has taken after this long fails with that reason
      (`CKPT_QUEUE_DEADLINE_S`, default 900).
    - `queue_retention_s`: finished jobs' records in the queue database that the server never
      collected are removed after this long (`CKPT_QUEUE_RETENTION_S`, default 3600); those
      it collected are removed at once, and a deleted analysis' at its deletion.
    - `min_free_bytes`: with less free space under `data_dir`, `/readyz` says unavailable and
      submissions are refused with 507 (`CKPT_MIN_FREE_MB`, default 64).
    - `max_streams_per_client`: live event streams one client address may hold at once
      (`CKPT_MAX_STREAMS_PER_CLIENT`, default 16; more are refused with 429).
    - `allowed_hosts`: names this server answers to besides `localhost` and IP addresses
      (`CKPT_ALLOWED_HOSTS`, comma-separated; `*.example.com` for subdomains, `*` for any):
      a request addressed to another name is refused (400), against DNS rebinding.
    """

    data_dir: Path = Path("ckpt-data")
    database_url: str = ""
    blob_url: str = ""
    queue_url: str = ""
    api_keys: frozenset[str] = field(default_factory=frozenset)
    submissions_per_minute: int = 120
    max_snippet_bytes: int = MAX_SNIPPET_BYTES
    max_request_bytes: int = MAX_SNIPPET_BYTES + 64 * 1024
    backend: str = "auto"
    pool_size: int = 1
    device: str = "cpu"
    gpus: int = 0
    trusted_local: bool = False
    #: origins (scheme://host[:port]) other than the server's own whose pages may write
    #: (`CKPT_ALLOWED_ORIGINS`, comma-separated): e.g. a UI served from another host
    allowed_origins: frozenset[str] = frozenset()
    #: host names (besides localhost and IP addresses) requests may be addressed to
    allowed_hosts: frozenset[str] = frozenset()
    frontend_dir: Path = REPO_ROOT / "frontend"
    examples_dir: Path = REPO_ROOT / "examples"
    job_poll_s: float = 0.2
    queue_deadline_s: float = 900.0
    queue_retention_s: float = 3600.0
    min_free_bytes: int = 64 << 20
    max_streams_per_client: int = 16

    def resolved(self) -> ServerSettings:
        """Fill URLs that default to paths under `data_dir`."""
        data_dir = self.data_dir.resolve()
        return replace(
            self,
            data_dir=data_dir,
            database_url=self.database_url or f"sqlite:///{data_dir / 'ckpt.sqlite3'}",
            blob_url=self.blob_url or str(data_dir / "blobs"),
        )

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> ServerSettings:
        e = dict(os.environ if env is None else env)
        keys = frozenset(k.strip() for k in e.get("CKPT_API_KEYS", "").split(",") if k.strip())
        base = cls(
            data_dir=Path(e.get("CKPT_DATA_DIR", "ckpt-data")),
            database_url=e.get("CKPT_DATABASE_URL", ""),
            blob_url=e.get("CKPT_BLOB_URL", ""),
            queue_url=e.get("CKPT_QUEUE_URL", ""),
            api_keys=keys,
            submissions_per_minute=int(e.get("CKPT_RATE_LIMIT", "120")),
            backend=e.get("CKPT_BACKEND", "auto"),
            pool_size=int(e.get("CKPT_POOL_SIZE", "1")),
            device=e.get("CKPT_DEVICE", _default_device()),
            gpus=int(e.get("CKPT_GPUS", "1" if _default_device() == "cuda" else "0")),
            trusted_local=e.get("CKPT_TRUSTED_LOCAL", "") in ("1", "true", "yes"),
            allowed_origins=frozenset(o.strip().rstrip("/") for o in
                                      e.get("CKPT_ALLOWED_ORIGINS", "").split(",") if o.strip()),
            queue_deadline_s=float(e.get("CKPT_QUEUE_DEADLINE_S", "900")),
            queue_retention_s=float(e.get("CKPT_QUEUE_RETENTION_S", "3600")),
            max_streams_per_client=int(e.get("CKPT_MAX_STREAMS_PER_CLIENT", "16")),
            min_free_bytes=int(float(e.get("CKPT_MIN_FREE_MB", "64")) * (1 << 20)),
            allowed_hosts=frozenset(h.strip().lower() for h in
                                    e.get("CKPT_ALLOWED_HOSTS", "").split(",") if h.strip()),
        )
        return replace(base, **overrides)  # type: ignore[arg-type]


def _default_device() -> str:
    """CUDA when a GPU is visible and torch is not a CPU build (read without importing torch)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        torch_version = version("torch")
    except PackageNotFoundError:
        return "cpu"
    return "cuda" if Path("/dev/nvidia0").exists() and "+cpu" not in torch_version else "cpu"


def torch_version() -> str:
    """The installed torch version, read from package metadata (the server never imports torch)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        return "unknown"
