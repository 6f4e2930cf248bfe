import json
import os
import socket
from pathlib import Path

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


KILLED_COMMIT = """
import os, signal, sys
import pyarrow as pa
from pipeline import schema, store

root, stage_only, die_after = sys.argv[1], sys.argv[2] == "stage", int(sys.argv[3])
run = store.RunStore(root, "r1")
run.prepare()
for part in range(3):
    rows = [{"doc_id": f"d{part}-{i}", "text": "t", "run_id": "r1"} for i in range(5)]
    run.stage("documents", pa.Table.from_pylist(rows, schema=schema.DOCUMENTS), f"{part:05d}")
run.stage("pairs", schema.empty(schema.PAIRS))
if stage_only:
    os.kill(os.getpid(), signal.SIGKILL)  # killed before its commit began
moves = 0
real_replace = os.replace
def dying_replace(src, dst):
    global moves
    real_replace(src, dst)
    moves += 1
    if moves == die_after:
        os.kill(os.getpid(), signal.SIGKILL)  # kill -9 halfway through publishing
store.os.replace = dying_replace
run.commit({"run_id": "r1", "status": "completed"})
"""


def run_killed(tmp_path, mode: str, die_after: int = 0) -> int:
    import subprocess
    import sys

    script = tmp_path / "commit.py"
    script.write_text(KILLED_COMMIT, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "out"), mode, str(die_after)],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
    )
    return done.returncode


def published(root) -> tuple[int, list]:
    docs = (
        duckdb.sql(f"SELECT count(*) FROM read_parquet('{root}/documents/*.parquet')").fetchall()[0][0]
        if list((root / "documents").glob("*.parquet"))
        else 0
    )
    runs = (
        duckdb.sql(f"SELECT run_id FROM read_parquet('{root}/runs/*.parquet')").fetchall()
        if list((root / "runs").glob("*.parquet"))
        else []
    )
    return docs, runs


def test_a_run_killed_mid_commit_is_rolled_forward_by_the_next_run(tmp_path):
    assert run_killed(tmp_path, "commit", die_after=3) == -9  # really killed, after moving 3 files
    root = tmp_path / "out"
    docs, runs = published(root)
    assert runs == [] and 0 < docs < 15  # torn until the next run settles it
    store.RunStore(root, "r2").prepare()
    assert published(root) == (15, [("r1",)])  # exactly the rows of an uninterrupted commit
    assert [p.name for p in (root / store.STAGING).iterdir()] == ["r2"]


def test_a_run_killed_before_its_commit_leaves_no_rows(tmp_path):
    assert run_killed(tmp_path, "stage") == -9
    root = tmp_path / "out"
    assert published(root) == (0, [])
    store.RunStore(root, "r2").prepare()
    assert published(root) == (0, []) and [p.name for p in (root / store.STAGING).iterdir()] == ["r2"]


def test_history_holds_only_recent_runs_with_the_same_signature_settings(tmp_path):
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 11, 21, 12, tzinfo=UTC)
    features = schema.features_schema(num_perm=16, bands=4)
    other = schema.features_schema(num_perm=32, bands=4)
    apart = schema.matching_fields(features)  # token columns in a file of their own, as runs now write them
    runs = (("r1", 40, features), ("r2", 3, apart), ("r3", 1, other), ("r4", 2, features))
    for run_id, age_days, shard_schema in runs:
        run = store.RunStore(tmp_path, run_id)
        run.prepare()
        store.write_parquet(shard_schema.empty_table(), run.history_path("00000"))
        run.commit({"run_id": run_id, "finished_at": now - timedelta(days=age_days), "status": "completed"})
    names = [p.name for p in store.history_files(tmp_path, 30, apart, now=now)]
    # r1 is older than the window, r3 was signed with other settings; r4 (tokens inline, as older versions wrote
    # them) compares with r2.
    assert names == ["r2-00000.parquet", "r4-00000.parquet"]
    assert [p.name for p in store.history_files(tmp_path, 60, features, now=now)] == [
        "r1-00000.parquet",
        "r2-00000.parquet",
        "r4-00000.parquet",
    ]


def test_feature_rows_read_the_token_columns_from_their_own_file_when_there_is_one(tmp_path):
    import numpy as np

    table = pa.table(
        {
            "doc_id": [f"d{i}" for i in range(10)],
            "tokens": [[i, i + 1] for i in range(10)],
            "quotes": [[i] * (i % 3) for i in range(10)],
        }
    )
    inline = store.write_parquet(table, tmp_path / "_history" / "a.parquet", row_group_size=4)
    apart = store.write_parquet(table.select(["doc_id"]), tmp_path / "_history" / "b.parquet", row_group_size=4)
    store.write_parquet(table, store.beside(apart, store.TOKENS), row_group_size=2)
    rows = np.array([7, 2, 9])
    for path in (inline, apart):
        read, at = store.read_feature_rows(path, rows, ["doc_id", "tokens", "quotes"])
        assert read.take(at).to_pylist() == table.take(rows).to_pylist()
    alone, at = store.read_feature_rows(apart, rows, ["quotes"])
    assert alone.take(at).column("quotes").to_pylist() == [[7], [2, 2], []]


def test_read_rows_reads_only_the_row_groups_holding_the_rows(tmp_path):
    import numpy as np
    import pyarrow.parquet as pq

    table = pa.table({"x": list(range(10))})
    path = store.write_parquet(table, tmp_path / "t.parquet", row_group_size=3)  # groups 0-2, 3-5, 6-8, 9
    assert pq.ParquetFile(path).num_row_groups == 4
    read, positions = store.read_rows(path, np.array([7, 1, 8, 2]))
    assert read.num_rows == 6  # groups 0 and 2 only
    assert read.take(positions).column("x").to_pylist() == [7, 1, 8, 2]


def test_committed_texts_answer_which_ids_earlier_runs_hold(tmp_path):
    assert store.CommittedTexts(tmp_path)(["a"]) == {}  # no committed run yet
    for run_id, ids in (("r1", ["a", "b", "Ω-ü"]), ("r2", [f"id{i}" for i in range(5000)])):
        run = store.RunStore(tmp_path, run_id)
        run.prepare()
        rows = [{"doc_id": i, "text": i, "text_hash": 7 * n + 1, "run_id": run_id} for n, i in enumerate(ids)]
        run.stage("documents", pa.Table.from_pylist(rows, schema=schema.DOCUMENTS))
        run.commit({"run_id": run_id, "status": "completed"})
    committed = store.CommittedTexts(tmp_path)
    assert len(committed) == 5003
    asked = ["Ω-ü", "nope", "id4999", "a", "id5000", "b"]
    assert committed(asked) == {"Ω-ü": 15, "id4999": 7 * 4999 + 1, "a": 1, "b": 8}
    assert committed([]) == {}


def test_committed_pairs_between_the_given_documents_in_the_columns_asked(tmp_path):
    rows = [
        {"doc_id_a": "a", "doc_id_b": "b", "relation": "exact", "source_doc_id": "a", "direction_confidence": 0.5},
        {"doc_id_a": "a", "doc_id_b": "z", "relation": "partial", "source_doc_id": None, "direction_confidence": None},
    ]
    run = store.RunStore(tmp_path, "r1")
    run.prepare()
    run.stage("pairs", pa.Table.from_pylist([{**r, "run_id": "r1"} for r in rows], schema=schema.PAIRS))
    run.commit({"run_id": "r1", "status": "completed"})
    whole = store.committed_pairs(tmp_path, ["a", "b", "c"])
    assert whole.schema == schema.PAIRS and whole.column("relation").to_pylist() == ["exact"]
    some = store.committed_pairs(tmp_path, ["a", "b", "c"], ["source_doc_id", "direction_confidence"])
    assert some.column_names == ["source_doc_id", "direction_confidence"] and some.to_pylist() == [
        {"source_doc_id": "a", "direction_confidence": 0.5}
    ]
