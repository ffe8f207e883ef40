"""The store: migrations match the models, links and deletion, blobs, concurrent SQLite writers."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from server.store import EventRecord, Store, hash_token
from server.store.models import Base


def make_store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'ckpt.sqlite3'}", str(tmp_path / "blobs"))


def new_job(store: Store, key: str = "k") -> str:
    return store.create_job(kind="analysis", cache_key=key, source="x = 1", snippet_name="s.py",
                            settings={}, options={}, device="cpu", torch_version="t").id


def test_migrations_match_models_and_use_wal(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], diff
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert {"jobs", "links", "job_events"} <= set(inspect(store.engine).get_table_names())
    make_store(tmp_path)  # migrating again is a no-op


def test_links_cache_and_delete(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    job_id = new_job(store)
    share_a, token_a = store.create_link(job_id)
    share_b, _ = store.create_link(job_id)
    token_hash, job = store.link(share_a) or ("", None)
    assert job is not None and job.id == job_id and token_hash == hash_token(token_a)
    assert token_a not in token_hash and len(share_a) >= 22
    store.finish_job(job_id, result={"summary": {"n": 1}, "schema_version": 1,
                                     "torch_version": "2.13", "device": "cpu"}, error=None)
    done = store.job(job_id)
    assert done is not None and done.status == "done" and done.summary == {"n": 1}
    assert store.cached_job("k") == done
    assert store.document_bytes(done) is not None
    assert store.delete_link(share_a) is None  # another link still shares the job
    assert store.link(share_a) is None and store.link(share_b) is not None
    removed = store.delete_link(share_b)
    assert removed is not None and store.job(job_id) is None
    assert store.document_bytes(removed) is None


def test_failed_jobs_are_not_cache_hits(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    job_id = new_job(store, "f")
    store.finish_job(job_id, result=None, error={"code": "compile_error", "message": "no"})
    assert store.cached_job("f") is None
    assert [e.stage for e in store.events(job_id)] == ["failed"]


def test_concurrent_writers_on_sqlite(tmp_path: Path) -> None:
    """Two stores (as two server processes would) and many threads write at once."""
    stores = [make_store(tmp_path), make_store(tmp_path)]
    errors: list[BaseException] = []
    per_thread = 15

    def writer(n: int) -> None:
        store = stores[n % 2]
        try:
            for i in range(per_thread):
                job_id = new_job(store, f"{n}-{i}")
                store.create_link(job_id)
                store.record_progress(job_id, [EventRecord(0, "tracing", 0.3, "", 0.0)])
                store.finish_job(job_id, result={"summary": {}, "schema_version": 1}, error=None)
        except Exception as e:  # noqa: BLE001 - reported by the test thread below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with stores[0].engine.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from jobs where status='done'").scalar() \
            == 8 * per_thread
        assert conn.exec_driver_sql("select count(*) from job_events").scalar() == 16 * per_thread
