"""The Prefect flow under a temporary local Prefect server (the test harness)."""

import json

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline import schema
from pipeline.config import Config
from tests.conftest import corpus_docs, read_jsonl

pytestmark = pytest.mark.prefect


def test_batch_flow_writes_every_table_and_shards_the_work(prefect_harness, sample_corpus, tmp_path, monkeypatch):
    from flows.batch import BatchParams, run_batch
    from pipeline import parallel

    cfg = Config.model_validate({"ingest": {"shard_size": 40}})  # several shards, cross-shard pairs
    monkeypatch.setattr(parallel, "VERIFY_BLOCK", 2)  # verification blocks read shards outside them in part
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
    counts = result["counts"]
    assert counts["worker_processes"] == 2  # the shards were cleaned and verified in worker processes
    by_relation = {k.removeprefix("pairs_"): v for k, v in counts.items() if k.startswith("pairs_")}
    assert by_relation and set(by_relation) <= {"exact", "near_duplicate", "partial", "shared_quote"}
    assert sum(by_relation.values()) == counts["pairs"] == len(found)
    assert list(counts["stage_seconds"]) == [
        "ingest",
        "boilerplate",
        "signatures",
        "history",
        "candidates",
        "verify",
        "resolve",
    ]
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


def story(seed: int, words: int = 140) -> str:
    """A made-up story of invented words: no two seeds share a passage."""
    import random

    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "la", "di", "fu", "ge", "ho", "ja"]
    body = [
        "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) + ("." if i % 12 == 11 else "")
        for i in range(words)
    ]
    return " ".join(body).capitalize()


def write_batch(path, docs: list[tuple[str, str, str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"id": i, "source": s, "published_at": t, "text": x} for i, s, t, x in docs]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_a_later_batch_grows_and_merges_earlier_clusters(prefect_harness, tmp_path):
    from flows.batch import BatchParams, run_batch

    wire, other = story(1), story(2)
    out = tmp_path / "out"
    write_batch(
        tmp_path / "in1" / "a.jsonl",
        [
            ("wire-1", "wire.example", "2026-11-01T08:00:00Z", wire),
            ("copy-1", "daily.example", "2026-11-01T10:00:00Z", "Local lead here. " + wire),
            ("wire-2", "wire.example", "2026-11-01T09:00:00Z", other),
            ("copy-2", "weekly.example", "2026-11-01T12:00:00Z", other + " Our own closing line."),
            ("alone", "daily.example", "2026-11-01T13:00:00Z", story(3)),
        ],
    )
    small = Config.model_validate({"ingest": {"shard_size": 2}})  # three history shards, matched as one batch
    first = run_batch(BatchParams(inputs=[str(tmp_path / "in1")], output=str(out), config=small))
    con = duckdb.connect()

    def cluster_of(doc_id: str) -> str:
        sql = f"SELECT arg_max(cluster_id, run_id) FROM '{out}/clusters/*.parquet' WHERE doc_id = ?"
        return con.execute(sql, [doc_id]).fetchall()[0][0]

    wire_cluster, other_cluster = cluster_of("wire-1"), cluster_of("wire-2")
    assert wire_cluster and other_cluster and wire_cluster != other_cluster
    # The next day: a copy of yesterday's wire story, and a round-up that carries both stories.
    write_batch(
        tmp_path / "in2" / "b.jsonl",
        [
            ("copy-3", "radio.example", "2026-11-02T07:00:00Z", wire + " Stay tuned."),
            ("roundup", "digest.example", "2026-11-02T08:00:00Z", other + "\n\n" + story(4) + "\n\n" + wire),
        ],
    )
    second = run_batch(BatchParams(inputs=[str(tmp_path / "in2")], output=str(out)))
    assert second["run_id"] > first["run_id"]
    assert 0 < second["counts"]["history_rows"] < 5  # the unrelated story of the first batch is not read again
    assert len(list((out / "_passages").glob("*.parquet"))) == 4  # each shard's passage index, committed with it
    # ... and its token columns, in a file of their own
    tokens = sorted((out / "_tokens").glob("*.parquet"))
    assert [p.name for p in tokens] == sorted(p.name for p in (out / "_history").glob("*.parquet"))
    assert pq.read_schema(tokens[0]).names == schema.TOKENS_FILE_COLUMNS
    assert not set(schema.TOKEN_COLUMNS) & set(pq.read_schema(out / "_history" / tokens[0].name).names)
    cross = con.execute(
        f"SELECT doc_id_a, doc_id_b FROM '{out}/pairs/*.parquet' WHERE run_id = ?", [second["run_id"]]
    ).fetchall()
    assert ("copy-3", "wire-1") in cross and ("copy-1", "copy-3") in cross  # matched against yesterday's run
    # Both earlier clusters now hold one story each plus the round-up: the older id (first run, then id) survives.
    survivor = min(wire_cluster, other_cluster)
    assert {cluster_of(d) for d in ("wire-1", "copy-1", "copy-3", "wire-2", "copy-2", "roundup")} == {survivor}
    merges = con.execute(f"SELECT cluster_id, merged_cluster_id, run_id FROM '{out}/cluster_merges/*.parquet'")
    assert merges.fetchall() == [(survivor, max(wire_cluster, other_cluster), second["run_id"])]
    current = duckdb.connect(str(out / "wiretrace.duckdb"))
    sizes = current.execute("SELECT cluster_id, any_value(size), count(*) FROM current_clusters GROUP BY 1").fetchall()
    assert sizes == [(survivor, 6, 6)]
    origin = current.execute("SELECT cluster_id FROM current_origins").fetchall()
    assert origin == [(survivor,)]
    assert cluster_of("alone") is None


def test_history_without_a_passage_index_for_this_sampling_is_sampled_from_its_shingles(tmp_path):
    import pyarrow as pa

    from pipeline import candidates, signatures, store
    from pipeline.history import passage_entries
    from pipeline.schema import DOCUMENTS

    docs = pa.Table.from_pylist(
        [{"doc_id": f"d{i}", "run_id": "r", "text": story(i, words=80)} for i in range(5)], schema=DOCUMENTS
    )
    features = signatures.featurize(docs, Config())[2]
    path = store.write_parquet(features, tmp_path / "_history" / "r-00000.parquet")
    want = candidates.sampled_shingles(features, 4)
    index = tmp_path / "_passages" / "r-00000.parquet"
    for written in (None, 2, 4):  # none (an older version), another sampling, this sampling
        if written:
            store.write_parquet(candidates.passage_index(features, written), index)
        fp, rows = passage_entries([(path, 0, features.num_rows)], 4)
        order = np.lexsort((rows, fp))
        expected = np.lexsort((want[1], want[0]))
        assert fp[order].tolist() == want[0][expected].tolist() and rows[order].tolist() == want[1][expected].tolist()
        assert len(fp) > 20


def test_history_matching_leaves_only_the_screened_pairs_worth_aligning(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline import candidates, history, signatures, store
    from pipeline.schema import DOCUMENTS

    cfg = Config()
    cfg.candidates.passage_sample = 4
    texts = [story(i, words=120) for i in range(6)]
    old = pa.Table.from_pylist(
        [{"doc_id": f"h{i}", "run_id": "r", "text": t} for i, t in enumerate(texts)], schema=DOCUMENTS
    )
    features = signatures.featurize(old, cfg)[2]
    path = store.write_parquet(features, tmp_path / "out" / "_history" / "r-00000.parquet", row_group_size=2)
    store.write_parquet(candidates.passage_index(features, 4), tmp_path / "out" / "_passages" / "r-00000.parquet")
    # New documents (two shards): an unrelated story, a copy of history story 1, and a new story quoting a long
    # passage of history story 4.
    new_texts = [story(50, words=80), texts[1], story(99, words=60) + " " + " ".join(texts[4].split()[20:80])]
    new = pa.Table.from_pylist(
        [{"doc_id": f"n{i}", "run_id": "s", "text": t} for i, t in enumerate(new_texts)], schema=DOCUMENTS
    )
    new_features = signatures.featurize(new, cfg)[2]
    new_paths = [
        str(store.write_parquet(new_features.slice(start, 2), tmp_path / f"new-{start}.parquet")) for start in (0, 2)
    ]
    run = store.RunStore(tmp_path / "out", "s")
    run.prepare()
    found = history.match([path], new_paths, cfg, run)
    assert found.shards == [str(path)] and found.rows >= 2 and found.pairs >= 2
    got = pq.read_table(found.candidates).to_pylist()
    # History rows against (new shard, row): h1 and its copy (n1 = shard 0, row 1), h4 and the story quoting it
    # (n2 = shard 1, row 0), each with what screening learnt of it, and nothing else.
    assert [(c["shard_a"], c["row_a"], c["shard_b"], c["row_b"]) for c in got] == [(0, 1, 0, 1), (0, 4, 1, 0)]
    copy, quoting = got
    assert copy["same_body"] and copy["shared"] == copy["size_a"] == copy["size_b"] > 100
    assert not quoting["same_body"] and 40 < quoting["shared"] < min(quoting["size_a"], quoting["size_b"])


def test_the_worker_pool_is_sized_before_ingest_from_the_input_that_may_be_new(tmp_path):
    import pyarrow as pa

    from flows.batch import BatchParams, _workers
    from pipeline import store

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "small.jsonl").write_text(json.dumps({"id": "a", "text": "one short story"}) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    cfg = Config.model_validate({"ingest": {"shard_size": 100}, "run": {"max_workers": 3}})
    params = BatchParams(inputs=[str(inbox)], output=str(out), config=cfg)
    assert _workers(params) == 1  # one shard or less: the calling thread, no process start-up
    line = json.dumps({"id": "b", "text": "x" * 1000})
    (inbox / "large.jsonl").write_text("\n".join([line] * 250), encoding="utf-8")  # ~2.5 shards at 1 KB/doc
    assert _workers(params) == 3
    # Once a committed run's ledger holds both files at their size and mtime, nothing may be new: no workers.
    files, ledger = store.new_files(out, sorted(inbox.iterdir()))
    run = store.RunStore(out, "r1")
    run.prepare()
    run_ids = pa.array(["r1"] * ledger.num_rows, pa.string())
    run.stage("ledger", ledger.set_column(ledger.schema.get_field_index("run_id"), "run_id", run_ids))
    run.commit({"run_id": "r1", "status": "completed"})
    assert len(files) == 2 and _workers(params) == 1
