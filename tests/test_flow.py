"""The Prefect flow under a temporary local Prefect server (the test harness)."""

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
