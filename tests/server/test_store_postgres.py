"""The store on a real PostgreSQL (`CKPT_DATABASE_URL=postgresql+psycopg://…`).

A throwaway cluster is created with Debian's PostgreSQL binaries in a temporary directory,
listening on 127.0.0.1 only, run as the `postgres` system user (PostgreSQL refuses root), and
removed afterwards. Skipped where the binaries, that user or the driver are missing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from server.store import Store
from server.store.models import Base

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as postgres")


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    pytest.importorskip("psycopg")
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    runuser = shutil.which("runuser")
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        user = None
    if not (initdb and pg_ctl and runuser and user):
        pytest.skip("Debian's postgresql (initdb, pg_ctl, the postgres user) is not installed")
    # pytest's own temporary root is private to root; the postgres user must reach this one
    root = Path(tempfile.mkdtemp(prefix="ckpt-pg-"))
    root.chmod(0o755)
    data = root / "data"
    data.mkdir()
    os.chown(data, user.pw_uid, user.pw_gid)
    as_pg = [runuser, "-u", "postgres", "--"]
    subprocess.run([*as_pg, initdb, "-D", str(data), "-A", "trust", "-U", "ckpt"], check=True,
                   capture_output=True, timeout=120)
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data}"
    subprocess.run([*as_pg, pg_ctl, "-D", str(data), "-o", options, "-l",
                    str(data / "log"), "-w", "start"], check=True, capture_output=True,
                   timeout=120)
    try:
        yield f"postgresql+psycopg://ckpt@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_pg, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def test_migrations_and_the_job_lifecycle_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    store = Store(postgres_url, str(tmp_path / "blobs"))
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    job = store.create_job(kind="analysis", cache_key="pg", source="x = 1", snippet_name="s.py",
                           settings={"memory_budget": 0.5}, options={}, device="cpu",
                           torch_version="t")
    share, _token = store.create_link(job.id)
    store.finish_job(job.id, result={"summary": {"n": 1}, "schema_version": 1,
                                     "torch_version": "t", "device": "cpu"}, error=None)
    found = store.link(share)
    assert found is not None and found[1].status == "done"
    assert found[1].settings == {"memory_budget": 0.5}
    assert store.cached_job("pg") is not None and store.document_bytes(found[1]) is not None
    assert store.delete_link(share) is not None and store.job(job.id) is None
    Store(postgres_url, str(tmp_path / "blobs")).close()  # migrating again is a no-op
    store.close()


def test_concurrent_writers_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    stores = [Store(postgres_url, str(tmp_path / "blobs")) for _ in range(2)]
    errors: list[BaseException] = []
    ids: list[str] = []
    lock = threading.Lock()

    def write(i: int) -> None:
        try:
            store = stores[i % 2]
            for j in range(10):
                job = store.create_job(kind="analysis", cache_key=f"c{i}-{j}", source="x",
                                       snippet_name="s.py", settings={}, options={},
                                       device="cpu", torch_version="t")
                store.create_link(job.id)
                with lock:
                    ids.append(job.id)
        except Exception as e:  # noqa: BLE001 -- collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(ids)) == 80
    assert all(stores[0].job(i) is not None for i in ids)
    for s in stores:
        s.close()
