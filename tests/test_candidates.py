from itertools import combinations

import numpy as np
import pyarrow as pa

from pipeline import candidates, schema, signatures
from pipeline.config import Config


def brute_force_pairs(keys: np.ndarray, max_bucket: int) -> set[tuple[int, int]]:
    out = set()
    for band in range(keys.shape[1]):
        buckets: dict[int, list[int]] = {}
        for i, k in enumerate(keys[:, band].tolist()):
            buckets.setdefault(k, []).append(i)
        for members in buckets.values():
            if 2 <= len(members) <= max_bucket:
                out.update(combinations(sorted(members), 2))
    return out


def test_bucket_pairs_equal_brute_force():
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 40, size=(300, 4)).astype(np.uint64)
    keys[:30, 0] = 999  # one oversized bucket in band 0
    got = candidates.candidate_pairs(keys, np.ones(300, dtype=bool), max_bucket_size=20)
    assert {tuple(p) for p in got.tolist()} == brute_force_pairs(keys, 20)
    assert len(got) == len({tuple(p) for p in got.tolist()})


def test_passage_pairs_equal_brute_force():
    rng = np.random.default_rng(11)
    sets = [np.unique(rng.integers(0, 600, size=rng.integers(5, 40))).astype(np.uint64) for _ in range(80)]
    sets[70] = np.union1d(sets[70], np.arange(1000, 1030, dtype=np.uint64))  # a new row sharing a passage...
    sets[3] = np.union1d(sets[3], np.arange(1000, 1030, dtype=np.uint64))  # ...with an earlier one
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in sets])]).astype(np.int32)
    shingles = pa.ListArray.from_arrays(pa.array(offsets), pa.array(np.concatenate(sets)))
    tables = [pa.table({"shingles": shingles.slice(0, 40)}), pa.table({"shingles": shingles.slice(40)})]
    got = candidates.passage_pairs(tables, sample=1, max_df=6, min_shared=2)
    df = {}
    for x in sets:
        for v in x.tolist():
            df[v] = df.get(v, 0) + 1
    want = {
        (i, j)
        for i, j in combinations(range(80), 2)
        if sum(1 for v in np.intersect1d(sets[i], sets[j]).tolist() if df[v] <= 6) >= 2
    }
    assert {tuple(p) for p in got.tolist()} == want and (3, 70) in want  # across the two tables
    assert [tuple(p) for p in got.tolist()] == sorted(want)  # each pair once, a < b, in order
    assert (3, 70) in want and any(i < 60 for i, _ in want) and any(i >= 60 for i, _ in want)
    # Fingerprints too wide to pack beside a row number take the general path; those `common` names are left out.
    wide = pa.ListArray.from_arrays(pa.array(offsets), pa.array(np.concatenate(sets) + np.uint64(1 << 62)))
    wide_tables = [pa.table({"shingles": wide.slice(0, 40)}), pa.table({"shingles": wide.slice(40)})]
    wide_pairs = candidates.passage_pairs(wide_tables, sample=1, max_df=6, min_shared=2)
    assert [tuple(p) for p in wide_pairs.tolist()] == sorted(want)
    common = np.arange(1000, 1030, dtype=np.uint64)
    without = candidates.passage_pairs(tables, sample=1, max_df=6, min_shared=2, common=common)
    assert (3, 70) not in {tuple(p) for p in without.tolist()} and len(without) < len(want)


def test_pairs_sharing_equal_brute_force_whatever_the_chunk_of_listed_pairs():
    rng = np.random.default_rng(17)
    n_docs = 30
    held = {v: np.unique(rng.integers(0, n_docs, size=rng.integers(1, 9))) for v in range(400)}
    values = np.concatenate([np.full(len(d), v, dtype=np.uint64) for v, d in held.items()])
    docs = np.concatenate(list(held.values())).astype(np.int64)
    for max_holders, min_shared in ((6, 2), (8, 1), (4, 3)):
        shared: dict[tuple[int, int], int] = {}
        for d in held.values():
            if 2 <= len(d) <= max_holders:
                for pair in combinations(d.tolist(), 2):
                    shared[pair] = shared.get(pair, 0) + 1
        want = sorted(p for p, k in shared.items() if k >= min_shared)
        assert len(want) > 20
        # One pair at a time, a few documents' pairs at a time, and all at once: the same pairs, sorted.
        packed, doc_bits = candidates.packed_entries(values, docs, n_docs)
        packed.sort()
        for chunk in (1, 50, 1 << 20):
            got = candidates.pairs_sharing(packed, doc_bits, n_docs, max_holders, min_shared, chunk=chunk)
            assert [tuple(p) for p in got.tolist()] == want


def test_sampled_shingles_are_those_divisible_by_the_sample_with_their_rows():
    rng = np.random.default_rng(23)
    lists = [rng.integers(0, 1 << 40, size=rng.integers(0, 30)).astype(np.uint64) for _ in range(50)]
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in lists])]).astype(np.int32)
    table = pa.table({"shingles": pa.ListArray.from_arrays(pa.array(offsets), pa.array(np.concatenate(lists)))})
    for sample in (1, 3, 4, 7, 16):  # divided, or tested by low bits when a power of two
        values, rows = candidates.sampled_shingles(table, sample)
        want = [(int(v), r) for r, x in enumerate(lists) for v in x.tolist() if v % sample == 0]
        assert list(zip(values.tolist(), rows.tolist(), strict=True)) == want
        assert sample == 1 or 0 < len(want) < offsets[-1]  # some kept, some not


def test_inactive_rows_never_pair():
    keys = np.zeros((4, 2), dtype=np.uint64)
    got = candidates.candidate_pairs(keys, np.array([True, False, True, False]), 10)
    assert got.tolist() == [[0, 2]]


def edited_pair(rng: np.random.Generator, keep: float) -> tuple[str, str]:
    """A 400-word story and a copy that keeps each 20-word sentence with probability `keep` and adds a lead."""
    words = [f"w{i}" for i in range(5000)]
    story = list(rng.choice(words, 400))
    sentences = [story[i : i + 20] for i in range(0, 400, 20)]
    copy = list(rng.choice(words, 40)) + [w for s in sentences if rng.random() < keep for w in s]
    return " ".join(story), " ".join(copy)


def test_default_banding_catches_edited_copies_at_jaccard_around_0_3():
    rng = np.random.default_rng(5)
    cfg = Config()
    bodies, pairs = [], []
    for i in range(150):
        a, b = edited_pair(rng, keep=0.4)
        bodies += [a, b]
        pairs.append((2 * i, 2 * i + 1))
    shard_docs = pa.Table.from_pylist(
        [{"doc_id": f"d{i:04d}", "text": t} for i, t in enumerate(bodies)], schema=schema.DOCUMENTS
    )
    _, _, features = signatures.featurize(shard_docs, cfg)
    shingles = features.column("shingles").to_pylist()
    jaccards = [len(set(shingles[a]) & set(shingles[b])) / len(set(shingles[a]) | set(shingles[b])) for a, b in pairs]
    assert 0.25 < np.median(jaccards) < 0.4
    found = candidates.candidate_table([features], cfg.candidates.max_bucket_size)
    got = set(zip(found.column("row_a").to_pylist(), found.column("row_b").to_pylist(), strict=True))
    recall = sum(p in got for p in pairs) / len(pairs)
    assert recall >= 0.8
    # Unrelated random documents rarely become candidates.
    assert len(got - set(pairs)) < 0.01 * len(bodies) ** 2 / 2


def test_candidate_table_maps_rows_back_to_shards():
    cfg = Config()
    text = "The same story text, repeated in two different shards for sure."
    shard1 = pa.Table.from_pylist(
        [{"doc_id": "a", "text": text}, {"doc_id": "b", "text": "other words"}], schema=schema.DOCUMENTS
    )
    shard2 = pa.Table.from_pylist(
        [{"doc_id": "c", "text": "unrelated"}, {"doc_id": "d", "text": text}], schema=schema.DOCUMENTS
    )
    f1, f2 = (signatures.featurize(s, cfg)[2] for s in (shard1, shard2))
    table = candidates.candidate_table([f1, f2], 200)
    unscreened = {"shared": None, "size_a": None, "size_b": None, "same_body": None}  # verification screens it
    assert table.to_pylist() == [
        {"shard_a": 0, "row_a": 0, "shard_b": 1, "row_b": 1, "from_passages": False, **unscreened}
    ]


def test_passage_index_finds_a_paragraph_inside_long_articles_and_skips_common_shingles():
    cfg = Config()
    rng = np.random.default_rng(9)
    vocab = [f"w{i}" for i in range(20000)]
    paragraph = " ".join(rng.choice(vocab, 40))
    common = "the minister said on monday that"
    texts = [" ".join(rng.choice(vocab, 400)) + ". " + common + "." for _ in range(120)]
    texts[0] = " ".join(rng.choice(vocab, 300)) + f". {paragraph}. " + " ".join(rng.choice(vocab, 300)) + "."
    texts[1] = " ".join(rng.choice(vocab, 200)) + f". {paragraph}. " + " ".join(rng.choice(vocab, 400)) + "."
    docs = pa.Table.from_pylist(
        [{"doc_id": f"d{i:03d}", "text": t} for i, t in enumerate(texts)], schema=schema.DOCUMENTS
    )
    _, _, features = signatures.featurize(docs, cfg)
    lsh_only = candidates.candidate_table([features], 200)
    both = candidates.candidate_table([features], 200, passage_sample=4, passage_max_df=50, passage_min_shared=3)
    pairs = {(r["row_a"], r["row_b"]): r["from_passages"] for r in both.to_pylist()}
    assert (0, 1) not in {(r["row_a"], r["row_b"]) for r in lsh_only.to_pylist()}  # Jaccard ~0.04
    assert pairs.get((0, 1)) is True
    # The stock phrase ends 120 documents: more than passage_max_df, so it links none of them.
    assert len(pairs) < 5
    # Shingles common in a wider corpus (the history this run's tables were pruned from) link nothing either.
    shared = np.intersect1d(*(candidates.sampled_shingles(features.slice(i, 1), 4)[0] for i in (0, 1)))
    assert len(shared) >= 3
    pruned = candidates.candidate_table([features], 200, 4, 50, 3, common=np.sort(shared))
    assert (0, 1) not in {(r["row_a"], r["row_b"]) for r in pruned.to_pylist()}


def test_history_pairs_are_those_that_can_become_a_verified_pair_with_a_new_document():
    def features(keys, shingles):
        return pa.table(
            {
                "band_keys": pa.array(keys, pa.list_(pa.uint64(), 2)),
                "shingles": pa.array(shingles, pa.list_(pa.uint64())),
            }
        )

    new = features([[10, 20]], [[8, 12, 16, 5]])
    history = features(
        [[10, 99], [20, 98], [1, 2], [3, 4], [30, 40], [50, 20]],
        [[1, 3], [1, 3], [12, 7], [9, 11], [8, 12], [1]],  # 8, 12 and 16 are shingles the new document samples
    )
    new_minhash = np.arange(16, dtype=np.uint32).reshape(1, 16)
    minhash = np.full((6, 16), 99, dtype=np.uint32)
    minhash[0, :5] = new_minhash[0, :5]  # agrees with the new document in 5 places
    minhash[5, :3] = new_minhash[0, :3]  # shares a band key, but agrees in only 3 places: verification drops it
    index = candidates.passage_index(history, 4)
    assert index.column("fingerprint").to_pylist() == [8, 12, 12]  # sorted, one in 4 by value
    fp, rows = index.column("fingerprint").to_numpy(), index.column("row").to_numpy()
    keys = candidates.band_key_matrix(history)

    values = np.array([8, 12, 16], dtype=np.uint64)  # the new documents' sampled shingles, sorted
    found, value = candidates.value_matches(values, fp)
    assert (fp[found].tolist(), value.tolist()) == ([8, 12, 12], [0, 1, 1])
    assert candidates.occurrences(values, fp).tolist() == [1, 2, 0]
    assert candidates.occurrences(values, fp, candidates.presence_filter(values)).tolist() == [1, 2, 0]

    one_key = candidates.band_key_matrix(new)

    def target(holders, new_keys=one_key, new_minhashes=new_minhash):
        """A match target whose sampled shingle i is rare and held by the new documents holders[i]."""
        offsets = np.concatenate([[0], np.cumsum([len(h) for h in holders])])
        docs = np.array([d for h in holders for d in h], dtype=np.int64)
        return candidates.MatchTarget(new_keys, new_minhashes, offsets, docs)

    def kept(rare, min_shared=1):
        """(history row, from_passages) of each pair with the one new document."""
        holders = [[0] if v in rare else [] for v in values.tolist()]
        old, doc, passages = candidates.history_pairs(
            keys, minhash, rows[found], value, target(holders), 200, 4, min_shared
        )
        assert not doc.any()
        return list(zip(old.tolist(), passages.tolist(), strict=True))

    # Row 0: same key in the same band; 1: the same value in another band is no match; 2: a shared sampled
    # shingle; 3: nothing shared; 4: two shared; 5: a band key but too few signature agreements.
    assert kept([8, 12, 16]) == [(0, False), (2, True), (4, True)]
    # Passage candidates need two shared sampled shingles: one is not enough.
    assert kept([8, 12, 16], min_shared=2) == [(0, False), (4, True)]
    # A shingle that is not rare (a stock phrase) makes no pair.
    assert kept([8]) == [(0, False), (4, True)]
    assert kept([]) == [(0, False)]
    # Two rare shingles held by two different new documents: one shared with each is not a passage candidate.
    two_keys = np.vstack([candidates.band_key_matrix(new), np.zeros((1, 2), np.uint64)])
    split = target([[0], [1], []], two_keys, np.vstack([new_minhash, new_minhash]))
    old, doc, _ = candidates.history_pairs(keys, minhash, rows[found], value, split, 200, 4, 2)
    assert 4 not in old.tolist()
    both = target([[0, 1], [0, 1], []], two_keys, np.vstack([new_minhash, new_minhash]))
    old, doc, _ = candidates.history_pairs(keys, minhash, rows[found], value, both, 200, 4, 2)
    assert {(4, 0), (4, 1)} <= set(zip(old.tolist(), doc.tolist(), strict=True))


def test_band_pairs_equal_brute_force_and_skip_crowded_buckets():
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 12, size=(40, 3)).astype(np.uint64)
    new_keys = rng.integers(0, 12, size=(25, 3)).astype(np.uint64)
    new_keys[:, 2] = 7  # every new document shares one key in band 2: a crowded bucket
    no_passages = np.zeros(1, np.int64), np.zeros(0, np.int64)
    target = candidates.MatchTarget(new_keys, np.zeros((25, 1), np.uint32), *no_passages)
    old, new = candidates.band_pairs(keys, target, max_bucket_size=10)
    want = sorted(
        (i, j)
        for i in range(40)
        for j in range(25)
        for band in range(3)
        if keys[i, band] == new_keys[j, band] and (new_keys[:, band] == new_keys[j, band]).sum() <= 10
    )
    assert sorted(zip(old.tolist(), new.tolist(), strict=True)) == want  # once per band shared
    assert len(set(want)) < len(want) and any(j for _, j in want)  # some pairs share two bands


def test_presence_filter_never_misses_a_present_value_and_drops_most_absent_ones():
    rng = np.random.default_rng(11)
    values = rng.integers(0, 2**63, 50_000, dtype=np.uint64)
    queries = np.concatenate([values[:5000], rng.integers(0, 2**63, 50_000, dtype=np.uint64)])
    passed = candidates.maybe_in(candidates.presence_filter(values), queries)
    assert set(range(5000)) <= set(passed.tolist())  # every present value passes
    assert len(passed) - 5000 < 0.01 * 50_000  # 50k values set ~0.3% of the flags


def test_in_sorted_equals_isin():
    rng = np.random.default_rng(4)
    ordered = np.unique(rng.integers(0, 2**40, 3000, dtype=np.uint64))
    values = rng.integers(0, 2**40, 50_000, dtype=np.uint64)
    values[::5] = ordered[rng.integers(0, len(ordered), len(values[::5]))]
    values[1] = ordered[-1] + np.uint64(1)  # past the end
    got = candidates.in_sorted(ordered, values)
    assert got.tolist() == np.isin(values, ordered).tolist() and got.any() and not got.all()
    assert not candidates.in_sorted(ordered[:0], values[:3]).any()


def test_packed_entries_sort_by_value_then_doc_whatever_the_width_of_values():
    rng = np.random.default_rng(5)
    docs = rng.integers(0, 50, 500)
    for top in (1 << 20, 1 << 63):  # fingerprints that pack into 40 bits, and wider values packed by rank
        values = rng.integers(0, 40, 500).astype(np.uint64) * np.uint64(top // 64)
        packed, doc_bits = candidates.packed_entries(values, docs, 50)
        packed.sort()
        got_docs = (packed & np.uint64((1 << doc_bits) - 1)).astype(np.int64)
        order = sorted(range(500), key=lambda i: (int(values[i]), int(docs[i])))
        assert got_docs.tolist() == [int(docs[i]) for i in order]
        ranks = packed >> np.uint64(doc_bits)  # values, or their ranks: equal exactly where the values are
        assert [(a == b) for a, b in zip(ranks[1:], ranks[:-1], strict=True)] == [
            values[i] == values[j] for i, j in zip(order[1:], order[:-1], strict=True)
        ]
