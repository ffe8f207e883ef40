"""`ckpt serve`: the API, the embedded job queue consumer and the store, in one process."""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "serve", help="run the web UI and API (with an embedded worker queue and store)",
        description="Serve the web UI and API on HOST:PORT. Analyses, the queue and the store "
                    "live under --data-dir; no other service is needed. Snippets run in "
                    "bubblewrap sandboxes; a host that cannot build one makes this refuse to "
                    "start, saying what to grant (CKPT_TRUSTED_LOCAL=1 runs trusted snippets "
                    "without a sandbox). Environment: CKPT_DATABASE_URL, CKPT_BLOB_URL, "
                    "CKPT_QUEUE_URL, CKPT_API_KEYS, CKPT_RATE_LIMIT, CKPT_ALLOWED_ORIGINS, "
                    "CKPT_ALLOWED_HOSTS, CKPT_BACKEND, CKPT_DEVICE, CKPT_GPUS, CKPT_POOL_SIZE, "
                    "CKPT_TRUSTED_LOCAL (see the README).")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="where the database, blobs and queue live (default ./ckpt-data)")
    p.add_argument("--pool-size", type=int, default=None,
                   help="analyses run at the same time (default 1)")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.set_defaults(func=run)


def _is_address(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app.main import create_app
    from server.app.settings import ServerSettings

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    settings = ServerSettings.from_env()
    if args.data_dir is not None:
        settings = replace(settings, data_dir=args.data_dir)
    if args.pool_size is not None:
        settings = replace(settings, pool_size=args.pool_size)
    if not _is_address(args.host):  # bound to a name: requests addressed to it are ours
        settings = replace(settings, allowed_hosts=settings.allowed_hosts | {args.host.lower()})
    app = create_app(settings)
    print(f"ckptscope: http://{args.host}:{args.port}  (data in {settings.data_dir.resolve()})",
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                timeout_graceful_shutdown=5)
    return 0
