"""The worker-process pool: results in item order, and a failure in a worker surfaces in the caller."""

import pytest

from pipeline.parallel import ShardPool


def test_results_come_back_in_item_order_from_worker_processes():
    with ShardPool(2) as pool:
        assert pool.processes == 2
        assert list(pool.each(pow, [(2, i) for i in range(12)])) == [2**i for i in range(12)]


def test_one_worker_runs_in_the_calling_process():
    with ShardPool(1) as pool:
        assert pool.processes == 0
        assert list(pool.each(divmod, [(7, 2)])) == [(3, 1)]


def test_an_error_in_a_worker_reaches_the_caller_with_its_type_and_message():
    with ShardPool(2) as pool, pytest.raises(ValueError, match="invalid literal"):
        list(pool.each(int, [("12",), ("not a number",)]))


def test_verifying_in_blocks_finds_the_pairs_of_verifying_everything_at_once(tmp_path):
    """Blocks read other shards only where candidates point, and candidates screened already (as history matching
    leaves them) go straight to alignment: the pairs must be those of one verification over all documents."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline import align, candidates, parallel, schema, signatures, store
    from pipeline.config import Config

    cfg = Config()
    rng = np.random.default_rng(9)
    vocabulary = [f"w{i}" for i in range(400)]
    stories = [" ".join(rng.choice(vocabulary, size=90)) for _ in range(12)]
    texts = []
    for i in range(60):  # copies and part-copies of a few stories, spread over every shard
        story = stories[i % 12]
        texts.append(story if (i // 12) % 2 else "A lead of our own. " + story[: len(story) // 2])
    docs = pa.Table.from_pylist(
        [{"doc_id": f"d{i:02d}", "text": t} for i, t in enumerate(texts)], schema=schema.DOCUMENTS
    )
    _, _, features = signatures.featurize(docs, cfg)
    run = store.RunStore(tmp_path, "r")
    run.prepare()
    paths = []
    for number, start in enumerate(range(0, 60, 15)):
        paths.append(
            str(store.write_parquet(features.slice(start, 15), run.history_path(f"{number:05d}"), row_group_size=4))
        )
    tables = [pq.read_table(p, columns=["band_keys", "shingles"]) for p in paths]
    c = cfg.candidates
    table = candidates.candidate_table(tables, c.max_bucket_size, c.passage_sample, c.passage_max_df, 1)
    view = align.FeatureView.from_table(features)
    starts = np.array([0, 15, 30, 45])
    rows_a = starts[table.column("shard_a").to_numpy()] + table.column("row_a").to_numpy()
    rows_b = starts[table.column("shard_b").to_numpy()] + table.column("row_b").to_numpy()
    passages = table.column("from_passages").to_numpy(zero_copy_only=False)
    # The candidates on the last shard stand for history's: screened already, only those worth aligning left.
    last = np.flatnonzero(table.column("shard_b").to_numpy() == 3)
    screening = align.screen(view, view, rows_a[last], rows_b[last], cfg.verify, passages[last])
    assert 0 < screening.worth.sum() < len(last)
    screened = table.take(pa.array(last[screening.worth]))
    for name in schema.SCREENED:
        values = getattr(screening.worth_aligning(), name)
        screened = screened.set_column(
            screened.schema.get_field_index(name), name, pa.array(values).cast(schema.CANDIDATES.field(name).type)
        )
    others = np.flatnonzero(table.column("shard_b").to_numpy() != 3)
    cand_path = str(run.write_work(pa.concat_tables([table.take(pa.array(others)), screened]), "candidates.parquet"))
    shards_a = sorted(set(table.column("shard_a").to_pylist()))
    got = pa.concat_tables(
        [pq.read_table(parallel.verify_block(cfg, str(tmp_path), "r", cand_path, paths, [a])) for a in shards_a]
    )
    want = align.verify_pairs(view, view, rows_a, rows_b, cfg.verify, "r", passages)

    def rows(t: pa.Table) -> list[tuple]:
        return sorted(
            zip(*(t.column(n).to_pylist() for n in ("doc_id_a", "doc_id_b", "relation", "spans")), strict=True)
        )

    assert rows(got) == rows(want) and got.num_rows > 30
    assert {p[2] for p in rows(got)} == {"exact", "partial"}


def test_verify_blocks_group_the_runs_shards_and_history_shards_apart():
    from pipeline.parallel import HISTORY_VERIFY_BLOCK, VERIFY_BLOCK, verify_blocks

    new, history = list(range(VERIFY_BLOCK + 3)), list(range(100, 100 + HISTORY_VERIFY_BLOCK + 1))
    blocks = verify_blocks(new + history, new_shards=100)
    assert blocks == [new[:VERIFY_BLOCK], new[VERIFY_BLOCK:], history[:-1], history[-1:]]
    assert verify_blocks([], 5) == []
