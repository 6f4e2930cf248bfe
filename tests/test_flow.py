"""The Prefect flow under a temporary local Prefect server (the test harness)."""

import json

import duckdb
import pytest

from pipeline.config import Config
from tests.conftest import corpus_docs, read_jsonl

pytestmark = pytest.mark.prefect


def test_batch_flow_writes_every_table_and_shards_the_work(prefect_harness, sample_corpus, tmp_path):
    from flows.batch import BatchParams, run_batch

    cfg = Config.model_validate({"ingest": {"shard_size": 40}})  # several shards, cross-shard pairs
    result = run_batch(BatchParams(inputs=[str(sample_corpus / "corpus")], output=str(tmp_path), config=cfg))
    run_id = result["run_id"]
    con = duckdb.connect()
    docs = corpus_docs(sample_corpus)
    counted = con.execute(f"SELECT count(*), count(DISTINCT doc_id) FROM '{tmp_path}/documents/*.parquet'").fetchall()[
        0
    ]
    assert counted == (len(docs), len(docs))
    assert len(list((tmp_path / "documents").glob("*.parquet"))) == -(-len(docs) // 40)
    for table in ("pairs", "clusters", "origins", "attributions", "rejects", "runs"):
        runs = con.sql(f"SELECT DISTINCT run_id FROM read_parquet('{tmp_path}/{table}/*.parquet')").fetchall()
        assert runs in ([(run_id,)], []), table
    status = con.sql(f"SELECT status FROM '{tmp_path}/runs/*.parquet'").fetchall()
    assert status == [("completed",)]
    gold = {(p["a"], p["b"]) for p in read_jsonl(sample_corpus / "gold" / "pairs.jsonl")}
    found = set(con.sql(f"SELECT doc_id_a, doc_id_b FROM '{tmp_path}/pairs/*.parquet'").fetchall())
    assert found and found <= gold
    # The same pairs as the in-process pipeline: sharding changes nothing.
    from pipeline.local import run_local

    local = run_local([sample_corpus / "corpus"])
    assert found == {(r["doc_id_a"], r["doc_id_b"]) for r in local.pairs.to_pylist()}
    assert not (tmp_path / "_staging").exists()
    # The report and the DuckDB views are written at the end of every run.
    assert result["report"].endswith("index.html") and (tmp_path / "report" / "data" / "overview.js").exists()
    assert (tmp_path / "wiretrace.duckdb").exists()


def table_counts(out):
    con = duckdb.connect()
    return {
        t: con.execute(f"SELECT count(*) FROM read_parquet('{out}/{t}/*.parquet')").fetchall()[0][0]
        for t in ("documents", "pairs", "clusters", "origins", "rejects", "runs", "ledger")
    }


def test_reruns_add_nothing_and_only_new_files_are_read(prefect_harness, sample_corpus, tmp_path):
    import shutil

    from flows.batch import BatchParams, run_batch

    inbox = tmp_path / "inbox"
    shutil.copytree(sample_corpus / "corpus", inbox)
    out = tmp_path / "out"
    first = run_batch(BatchParams(inputs=[str(inbox)], output=str(out)))
    before = table_counts(out)
    assert first["run_id"] and before["ledger"] == 1
    again = run_batch(BatchParams(inputs=[str(inbox)], output=str(out)))
    assert again.get("nothing_new") and table_counts(out) == before
    # A new file, holding one known article (skipped), one known id with new text (rejected) and one new article.
    known = read_jsonl(next(inbox.glob("*.jsonl")))[0]
    extra = [
        known,
        {**known, "text": known["text"] + " Updated."},
        {"id": "fresh-1", "source": "X", "text": "An entirely new story about the harbour, in prose."},
    ]
    (inbox / "more.jsonl").write_text("\n".join(json.dumps(r) for r in extra), encoding="utf-8")
    third = run_batch(BatchParams(inputs=[str(inbox)], output=str(out)))
    after = table_counts(out)
    assert third["counts"]["already_seen"] == 1 and third["counts"]["records"] == 3
    assert after["documents"] == before["documents"] + 1 and after["ledger"] == 2 and after["runs"] == 2
    reasons = duckdb.sql(f"SELECT reason FROM '{out}/rejects/*.parquet' WHERE run_id = '{third['run_id']}'").fetchall()
    assert reasons == [("id_reused",)]
