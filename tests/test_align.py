import numpy as np
import pyarrow as pa
import xxhash

from pipeline import align, passages, schema, signatures
from pipeline.config import Config, VerifyConfig


def test_overlap_equals_set_arithmetic():
    rng = np.random.default_rng(1)
    a = np.unique(rng.integers(0, 500, 200).astype(np.uint64))
    b = np.unique(rng.integers(0, 500, 300).astype(np.uint64))
    o = align.overlap(a, b)
    sa, sb = set(a.tolist()), set(b.tolist())
    assert o.shared == len(sa & sb)
    assert o.jaccard == len(sa & sb) / len(sa | sb)
    assert o.containment_a == len(sa & sb) / len(sa) and o.containment_b == len(sa & sb) / len(sb)


def test_overlap_of_empty_sets_is_zero():
    empty = np.zeros(0, dtype=np.uint64)
    assert align.overlap(empty, empty) == align.Overlap(0, 0.0, 0.0, 0.0)


def test_relations_follow_the_configured_thresholds():
    cfg = VerifyConfig(near_duplicate_containment=0.8, partial_min_shared_shingles=12, partial_min_passage_words=12)
    assert align.relation(align.Overlap(5, 0.1, 0.1, 0.1), True, 0, False, cfg) == "exact"
    assert align.relation(align.Overlap(100, 0.7, 0.85, 0.81), False, 90, False, cfg) == "near_duplicate"
    assert align.relation(align.Overlap(100, 0.5, 0.95, 0.6), False, 40, False, cfg) == "partial"
    # A long shared passage counts however long the two articles are.
    assert align.relation(align.Overlap(20, 0.01, 0.02, 0.02), False, 24, False, cfg) == "partial"
    assert align.relation(align.Overlap(11, 0.02, 0.03, 0.9), False, 15, False, cfg) is None  # too few shingles
    assert align.relation(align.Overlap(30, 0.01, 0.04, 0.02), False, 8, False, cfg) is None  # stock phrases only
    assert align.relation(align.Overlap(20, 0.01, 0.04, 0.02), False, 20, True, cfg) == "shared_quote"


def test_quote_spans_in_every_style():
    text = (
        'He said "we will keep the border closed for now" and left. «Нам нечего скрывать от соседей», '
        "сказал он. „Wir bleiben hier bis zum Ende“ und ‘a single quoted statement here’."
    )
    quoted = [text[a:b] for a, b in align.quote_spans(text)]
    assert quoted == [
        '"we will keep the border closed for now"',
        "«Нам нечего скрывать от соседей»",
        "„Wir bleiben hier bis zum Ende“",
        "‘a single quoted statement here’",
    ]


def test_quote_offsets_of_a_batch_equal_quote_spans_of_each_text():
    from pipeline.normalize import quote_offsets, quote_spans

    texts = [
        'He said "we will keep the border closed for now" and left.',
        "no quotes at all here",
        '"short" and "a quote broken\nby a newline" are not quotes',
        "「東京の国境は閉鎖されたままだ」と述べた。『長い引用文です』",
        "‹a guillemet quotation here› and «another one, in French»",
        None,
        "",
    ]
    got = quote_offsets(pa.array(texts, pa.string())).to_pylist()
    assert got == [[x for span in quote_spans(t or "") for x in span] for t in texts]
    assert sum(1 for g in got if g) == 3  # texts with and without quotes were both exercised


def test_quote_offsets_match_the_quote_pattern_on_random_text():
    """The compiled pass finds what `quote_spans` (the regular expression) finds, mark for mark."""
    import random

    from pipeline.normalize import quote_offsets, quote_spans

    rng = random.Random(5)
    alphabet = list('"“”«»„‘’‹›「」『』') + ["\n", " ", "a", "b", "ё", "边", "😀", "e\u0301"] * 3
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))) for _ in range(3000)]
    texts += ["".join(rng.choice(["a", " ", rng.choice(alphabet)]) for _ in range(200)) for _ in range(500)]
    got = quote_offsets(pa.array(texts, pa.string())).to_pylist()
    assert got == [[x for span in quote_spans(t) for x in span] for t in texts]
    assert sum(1 for g in got if g) > 500


def test_a_shared_quotation_is_not_reuse():
    cfg = Config()
    quote = '"We will not allow anyone to use people as a weapon against our country and we will keep it closed,"'
    docs = pa.Table.from_pylist(
        [
            {
                "doc_id": "a",
                "text": "The minister spoke in Vilnius on Monday about the border situation. "
                f"{quote} she said. Her remarks came after a week of incidents near Grodno.",
            },
            {
                "doc_id": "b",
                "text": "Officials in Warsaw reviewed a different set of figures on Tuesday evening. "
                f"{quote} the minister told reporters. Polish guards reported three arrests.",
            },
        ],
        schema=schema.DOCUMENTS,
    )
    _, _, features = signatures.featurize(docs, cfg)
    view = align.FeatureView.from_table(features)
    pairs = align.verify_pairs(view, view, np.array([0]), np.array([1]), cfg.verify, "r").to_pylist()
    assert [p["relation"] for p in pairs] == ["shared_quote"]


def test_verify_pairs_orders_ids_and_swaps_containments():
    cfg = Config()
    story = " ".join(f"word{i}" for i in range(120))
    docs = pa.Table.from_pylist(
        [
            {"doc_id": "z-copy", "text": "A new lead sentence for the copy. " + story[: len(story) // 2]},
            {"doc_id": "a-orig", "text": story},
        ],
        schema=schema.DOCUMENTS,
    )
    _, _, features = signatures.featurize(docs, cfg)
    view = align.FeatureView.from_table(features)
    pairs = align.verify_pairs(view, view, np.array([0]), np.array([1]), cfg.verify, "r").to_pylist()
    assert len(pairs) == 1
    p = pairs[0]
    assert (p["doc_id_a"], p["doc_id_b"]) == ("a-orig", "z-copy")
    assert p["relation"] == "partial"
    assert p["containment_b"] > 0.8 > p["containment_a"] > 0.3  # the copy is mostly the original's text
    assert 0 < p["similarity"] < 1
    # One passage: the copied half of the story, at its place in each text.
    texts = {row["doc_id"]: row["text"] for row in docs.to_pylist()}
    assert len(p["spans"]) == 1
    span = p["spans"][0]
    copied = texts["a-orig"][span["a_start"] : span["a_end"]]
    assert copied == texts["z-copy"][span["b_start"] : span["b_end"]]
    assert copied.startswith("word0 ") and len(copied.split()) >= 55


def test_passages_survive_substitutions_and_find_moved_paragraphs():
    import numpy as np

    words = [f"w{i}" for i in range(60)]
    a = words[:]
    b = [*words[30:], "new", "lead", *words[:30]]  # halves swapped
    b[5] = "changed"  # a substituted word inside the first passage
    codes_a, codes_b = (align.token_code_points(np.array([hash_word(w) for w in x], dtype=np.uint64)) for x in (a, b))
    found, _ = passages.pair_passages(codes_a, codes_b, 8)
    assert found.tolist() == [[0, 29, 32, 61], [30, 59, 0, 29]]


def hash_word(word: str) -> int:
    from pipeline.normalize import token_hash

    return token_hash(word)


def test_intersection_sizes_equal_set_intersections_for_every_pair():
    from pipeline import kernels

    rng = np.random.default_rng(5)
    sets = [np.unique(rng.integers(0, 400, size=rng.integers(0, 120))).astype(np.uint64) for _ in range(40)]
    values = np.concatenate(sets)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sets])]).astype(np.int64)
    rows_a = rng.integers(0, 40, size=301)  # an odd count: the kernel merges pairs two at a time
    rows_b = rng.integers(0, 40, size=301)
    got = kernels.intersection_sizes(values, offsets, rows_a, values, offsets, rows_b)
    want = [len(np.intersect1d(sets[a], sets[b])) for a, b in zip(rows_a, rows_b, strict=True)]
    assert got.tolist() == want
    assert any(w == 0 for w in want) and any(w > 10 for w in want)  # both ends of the range were exercised


def test_intersection_bounds_never_undercount_and_are_exact_without_low_bit_collisions():
    from pipeline import kernels

    rng = np.random.default_rng(11)
    span = 1 << kernels.BOUND_BITS
    # Values below 2**BOUND_BITS never share low bits, so the bound is the intersection; adding multiples of it
    # makes distinct values that collide there, so the bound may only grow.
    sets = [np.unique(rng.integers(0, 300, size=rng.integers(0, 120))).astype(np.uint64) for _ in range(40)]
    colliding = [np.unique(s + np.uint64(span) * rng.integers(0, 3, size=len(s)).astype(np.uint64)) for s in sets]
    for family, exact in ((sets, True), (colliding, False)):
        values = np.concatenate(family)
        offsets = np.concatenate([[0], np.cumsum([len(s) for s in family])]).astype(np.int64)
        # Runs of a repeated first row (the bitmap is kept) and unsorted rows (rebuilt and cleared each time).
        rows_a = np.concatenate([np.repeat(rng.integers(0, 40, size=30), 4), rng.integers(0, 40, size=200)])
        rows_b = rng.integers(0, 40, size=len(rows_a))
        got = kernels.intersection_bounds(values, offsets, rows_a, values, offsets, rows_b)
        want = np.array([len(np.intersect1d(family[a], family[b])) for a, b in zip(rows_a, rows_b, strict=True)])
        assert (got >= want).all()
        if exact:
            assert got.tolist() == want.tolist()
        else:
            assert (got > want).any()


def test_screening_keeps_exactly_the_pairs_exact_counts_would_keep():
    # Documents of 1-60 shingles drawn from a small pool, so pairs share anything from nothing to all, around
    # both thresholds (the near-duplicate containment, in cases where float rounding puts it a hair off, and the
    # partial floor); low bits collide often (values differ by multiples of 2**18) so bounds overshoot.
    rng = np.random.default_rng(3)
    pool = (rng.integers(0, 60, size=100) + (rng.integers(0, 4, size=100) << 18)).astype(np.uint64)
    sets = [np.unique(rng.choice(pool, size=rng.integers(1, 60))) for _ in range(80)]
    sets += [s[: max(1, len(s) - rng.integers(0, 3))] for s in sets[:30]]  # near copies
    values = np.concatenate(sets)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sets])]).astype(np.int64)
    view = align.FeatureView(
        doc_ids=[str(i) for i in range(len(sets))],
        shingle_values=values,
        shingle_offsets=offsets,
        body_hashes=np.array([xxhash.xxh3_64_intdigest(s.tobytes()) for s in sets], dtype=np.uint64),
        minhash=np.zeros((len(sets), 4), dtype=np.uint32),  # every pair plausible
    )
    rows_a, rows_b = np.triu_indices(len(sets), 1)
    for containment, floor in ((0.8, 12), (0.7, 5), (0.9, 16), (0.05, 12)):
        cfg = VerifyConfig(near_duplicate_containment=containment, partial_min_shared_shingles=floor)
        got = align.screen(view, view, rows_a, rows_b, cfg)
        shared = np.array([len(np.intersect1d(sets[a], sets[b])) for a, b in zip(rows_a, rows_b, strict=True)])
        size_a, size_b = offsets[rows_a + 1] - offsets[rows_a], offsets[rows_b + 1] - offsets[rows_b]
        same = view.body_hashes[rows_a] == view.body_hashes[rows_b]
        near = np.minimum(shared / size_a, shared / size_b) >= containment
        worth = (shared > 0) & (same | near | (shared >= floor))
        assert got.worth.tolist() == worth.tolist()
        assert got.shared[worth].tolist() == shared[worth].tolist()
        assert worth.sum() > 50 and (~worth).sum() > 50


def test_least_worth_sharing_never_exceeds_what_a_kept_pair_shares():
    # Every (size_a, size_b, shared) up to 120 shingles: wherever screening's rule keeps a pair, the floor the
    # bound is held against is at most what it shares (0.55 x 100 is 55.00000000000001 in floats, yet 55/100 >= 0.55).
    size_a, size_b, shared = (g.ravel() for g in np.meshgrid(*(np.arange(1, 121),) * 2, np.arange(0, 121)))
    possible = shared <= np.minimum(size_a, size_b)
    size_a, size_b, shared = size_a[possible], size_b[possible], shared[possible]
    for containment in (0.1, 0.3, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0):
        for floor in (1, 12, 200):
            cfg = VerifyConfig(near_duplicate_containment=containment, partial_min_shared_shingles=floor)
            near = np.minimum(shared / size_a, shared / size_b) >= containment
            kept = (shared > 0) & (near | (shared >= floor))
            assert (shared[kept] >= align.least_worth_sharing(size_a, size_b, cfg)[kept]).all()


def test_signature_agreements_count_equal_minhash_values_of_each_pair():
    from pipeline import kernels

    rng = np.random.default_rng(7)
    # Few distinct values, so pairs agree anywhere from nowhere to everywhere; the two sides differ in height.
    left = rng.integers(0, 3, size=(30, 64), dtype=np.uint32)
    right = rng.integers(0, 3, size=(12, 64), dtype=np.uint32)
    right[0] = left[0]
    right[1] = left[1] + 1
    rows_a = np.concatenate([[0, 1], rng.integers(0, 30, size=200)])
    rows_b = np.concatenate([[0, 1], rng.integers(0, 12, size=200)])
    got = kernels.signature_agreements(left, rows_a, right, rows_b)
    want = [int(np.count_nonzero(left[a] == right[b])) for a, b in zip(rows_a, rows_b, strict=True)]
    assert got.tolist() == want
    assert want[0] == 64 and want[1] == 0


def test_a_view_of_some_rows_of_a_chunked_read_equals_the_view_of_those_rows_taken():
    cfg = Config()
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(300)]
    docs = pa.Table.from_pylist(
        [
            {
                "doc_id": f"d{i}",
                "text": " ".join(rng.choice(words, size=int(rng.integers(0, 60))))
                + ' "We will keep the border crossing closed until further notice," the minister said.',
            }
            for i in range(40)
        ],
        schema=schema.DOCUMENTS,
    )
    _, _, features = signatures.featurize(docs, cfg)
    # Chunks as whole row groups arrive: one of them a slice, whose offsets point past the start of its child array.
    chunked = pa.concat_tables([features.slice(0, 7), features.slice(7, 20), features.slice(27)])
    rows = np.array([30, 2, 8, 8, 39, 0, 26, 27])  # any order, repeats, every chunk
    got = align.FeatureView.from_rows(chunked, rows)
    want = align.FeatureView.from_table(features.take(pa.array(rows)))
    assert got.doc_ids == want.doc_ids
    for name in ("shingle_values", "shingle_offsets", "body_hashes", "minhash", "token_values", "token_offsets"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    for name in ("token_starts", "token_ends", "quote_values", "quote_offsets"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert len(got.quote_values) > 0 and got.shingle_offsets[-1] > 0


def test_token_code_points_are_valid_characters_outside_the_surrogates():
    rng = np.random.default_rng(9)
    edges = np.array([0, 0xD7FF, 0xD800, 0xDFFF, 0xE000, 0x10F7FF, 0x10F800, 0x10F800 + 0xD800, 2**64 - 1], np.uint64)
    hashes = np.concatenate([edges, rng.integers(0, 2**64, size=5000, dtype=np.uint64)])
    points = align.token_code_points(hashes)
    want = [int(h) % 0x10F800 for h in hashes.tolist()]
    assert points.tolist() == [p + 0x800 if p >= 0xD800 else p for p in want]
    assert ((points < 0xD800) | ((points > 0xDFFF) & (points < 0x110000))).all()
    assert "".join(map(chr, points.tolist())).encode("utf-8")  # every one a character UTF-8 can hold
