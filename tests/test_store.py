import json
import os
import socket

import duckdb
import pyarrow as pa
import pytest

from pipeline import schema, store


def test_write_parquet_is_atomic_and_leaves_no_temporary_files(tmp_path):
    table = pa.table({"x": [1, 2, 3]})
    path = store.write_parquet(table, tmp_path / "t" / "a.parquet")
    assert store.read_parquet(path).equals(table)
    assert [p.name for p in (tmp_path / "t").iterdir()] == ["a.parquet"]


def test_failed_write_leaves_previous_file_intact(tmp_path):
    path = store.write_parquet(pa.table({"x": [1]}), tmp_path / "a.parquet")
    with pytest.raises(Exception):  # noqa: B017 - any Arrow error: the point is what is left on disk
        store.write_parquet(pa.table({"x": [object()]}), path)
    assert store.read_parquet(path).column("x").to_pylist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["a.parquet"]


def test_staged_tables_are_invisible_until_commit(tmp_path):
    run = store.RunStore(tmp_path, "r1")
    run.prepare()
    run.stage(
        "clusters",
        pa.Table.from_pylist([{"cluster_id": "c1", "doc_id": "d", "size": 2, "run_id": "r1"}], schema=schema.CLUSTERS),
    )
    assert not (tmp_path / "clusters").exists()
    run.commit({"run_id": "r1", "status": "completed", "counts": {"documents": 1}})
    got = duckdb.sql(f"SELECT cluster_id, run_id FROM read_parquet('{tmp_path}/clusters/*.parquet')").fetchall()
    assert got == [("c1", "r1")]
    runs = duckdb.sql(f"SELECT run_id, status, counts FROM read_parquet('{tmp_path}/runs/*.parquet')").fetchall()
    assert runs == [("r1", "completed", '{"documents": 1}')]
    assert not (tmp_path / store.STAGING).exists()


def test_prepare_removes_staging_of_runs_that_never_committed(tmp_path):
    dead = store.RunStore(tmp_path, "dead")
    dead.prepare()
    dead.stage("pairs", schema.empty(schema.PAIRS))
    store.RunStore(tmp_path, "live").prepare()
    assert [p.name for p in (tmp_path / store.STAGING).iterdir()] == ["live"]


def test_stage_casts_to_the_contract_schema_and_rejects_unknown_tables(tmp_path):
    run = store.RunStore(tmp_path, "r")
    run.prepare()
    path = run.stage(
        "rejects",
        pa.table(
            {"reason": ["empty_text"], "file": ["x"], "record": [1], "doc_id": [None], "detail": ["d"], "run_id": ["r"]}
        ),
    )
    assert store.read_parquet(path).schema.equals(schema.REJECTS)
    with pytest.raises(ValueError, match="unknown output table"):
        run.staged_path("nope")


def test_run_ids_sort_by_time():
    from datetime import UTC, datetime

    early = store.new_run_id(datetime(2026, 1, 1, tzinfo=UTC))
    late = store.new_run_id(datetime(2026, 1, 2, tzinfo=UTC))
    assert early < late and early.startswith("20260101T000000Z-")


def test_a_live_run_holds_the_output_exclusively(tmp_path):
    import subprocess
    import sys

    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = store.OutputLock(tmp_path, "other")
        lock.path.write_text(
            json.dumps(
                {
                    "pid": holder.pid,
                    "host": socket.gethostname(),
                    "run_id": "r-live",
                    "started": "2026-11-21T10:00:00+00:00",
                }
            ),
            encoding="utf-8",
        )
        with pytest.raises(store.OutputLocked, match="in use by wiretrace run r-live"):
            store.OutputLock(tmp_path, "mine").acquire()
        with pytest.raises(store.OutputLocked):
            store.check_unlocked(tmp_path)
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_is_taken_over_and_released(tmp_path):
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / store.LOCK
    path.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "run_id": "r-dead"}), encoding="utf-8")
    store.check_unlocked(tmp_path)  # a dead holder does not block
    with store.OutputLock(tmp_path, "mine") as lock:
        assert lock.holder()["run_id"] == "mine" and lock.holder()["pid"] == os.getpid()
    assert not path.exists()
    path.write_text("{not json", encoding="utf-8")  # a lock its writer never finished is stale too
    with store.OutputLock(tmp_path, "again"):
        pass
    assert not path.exists()
