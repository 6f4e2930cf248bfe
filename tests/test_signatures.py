import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
import xxhash
from datasketch import LeanMinHash, MinHash
from datasketch.lsh import _optimal_param

from pipeline import kernels, normalize, signatures
from pipeline.config import Config

WORDS = [f"w{i}" for i in range(3000)]


def random_bodies(n: int, length: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=length)) for _ in range(n)]


def shard_signatures(bodies, k=5, num_perm=128, seed=1):
    tokens = signatures.token_hashes(pa.array(bodies))
    shingles, offsets = signatures.shingle_hashes(tokens, k)
    return shingles, offsets, signatures.minhash_signatures(shingles, offsets, num_perm, seed)


def datasketch_minhash(values: np.ndarray, num_perm=128, seed=1) -> MinHash:
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=lambda v: v)
    if len(values):
        m.update_batch([int(v) for v in values.astype(np.uint32)])
    return m


@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (64, 42)])
def test_signatures_equal_datasketch_bit_for_bit(num_perm, seed):
    # Shingle counts of every remainder by four (the kernel takes four hashes per pass), one and none.
    bodies = [*random_bodies(5, 200, 0), *(random_bodies(1, n, n)[0] for n in (7, 8, 9, 10)), "short", ""]
    shingles, offsets, sig = shard_signatures(bodies, num_perm=num_perm, seed=seed)
    for i in range(len(bodies)):
        expected = datasketch_minhash(shingles[offsets[i] : offsets[i + 1]], num_perm, seed)
        assert np.array_equal(sig[i], expected.hashvalues), i


def test_stored_signature_loads_as_leanminhash_with_the_same_jaccard_estimate():
    base = random_bodies(1, 300, 1)[0].split()
    a = " ".join(base)
    b = " ".join(base[:200] + random_bodies(1, 100, 2)[0].split())
    shingles, offsets, sig = shard_signatures([a, b])
    lean = [LeanMinHash(seed=1, hashvalues=sig[i], scheme="affine32") for i in range(2)]
    ours = lean[0].jaccard(lean[1])
    theirs = datasketch_minhash(shingles[offsets[0] : offsets[1]]).jaccard(
        datasketch_minhash(shingles[offsets[1] : offsets[2]])
    )
    assert ours == theirs
    assert 0.3 < ours < 0.8  # the two share two thirds of their text


def test_shingles_are_k_token_windows_and_short_documents_get_one():
    tokens = signatures.token_hashes(pa.array(["a b c d e f g", "a b", ""]))
    shingles, offsets = signatures.shingle_hashes(tokens, 5)
    assert list(np.diff(offsets)) == [3, 1, 0]
    # The same window in another document hashes the same.
    other = signatures.shingle_hashes(signatures.token_hashes(pa.array(["x c d e f g"])), 5)[0]
    assert shingles[2] == other[1]


def test_shingle_hash_is_the_documented_polynomial_so_stored_history_stays_comparable():
    def fmix64(h: int) -> int:
        mask = (1 << 64) - 1
        h ^= h >> 33
        h = (h * 0xFF51AFD7ED558CCD) & mask
        h ^= h >> 33
        h = (h * 0xC4CEB9FE1A85EC53) & mask
        return h ^ (h >> 33)

    def window(tokens: list[int]) -> int:
        h = 0
        for t in tokens:
            h = (h * 0x9E3779B97F4A7C15 + t) & ((1 << 64) - 1)
        return fmix64(h)

    tokens = signatures.token_hashes(pa.array(["a b c d e f g", "a b"]))
    shingles, _ = signatures.shingle_hashes(tokens, 5)
    values = [int(v) for v in tokens.values]
    assert [int(s) for s in shingles] == [window(values[i : i + 5]) for i in range(3)] + [window(values[7:9])]


def test_hashes_are_stable_across_processes():
    code = (
        "import pyarrow as pa; from pipeline import signatures as s; "
        "t = s.token_hashes(pa.array(['Литва closed 中文 border'])); print(list(t.values))"
    )
    outputs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    }
    assert len(outputs) == 1
    here = signatures.token_hashes(pa.array(["Литва closed 中文 border"])).values
    assert outputs.pop().strip() == str(list(here))


def test_fingerprints_are_sorted_distinct_per_document():
    bodies = ["a b c d e a b c d e", "", "x y z x y z x y z", "q", "the wire said the wire said so"]
    tokens = signatures.token_hashes(pa.array(bodies))
    shingles, offsets = signatures.shingle_hashes(tokens, 5)
    values, new_offsets = signatures.shingle_fingerprints(shingles, offsets)
    assert len(new_offsets) == len(bodies) + 1 and new_offsets[1] == new_offsets[2]  # the empty body has none
    for i in range(len(bodies)):
        seg = values[new_offsets[i] : new_offsets[i + 1]]
        expected = np.unique(shingles[offsets[i] : offsets[i + 1]] >> np.uint64(24))
        assert np.array_equal(seg, expected)


@pytest.mark.parametrize("threshold", [0.2, 0.3, 0.5, 0.8])
def test_band_shape_matches_datasketch_optimum(threshold):
    assert signatures.optimal_bands(threshold, 128, 0.5, 0.5) == _optimal_param(threshold, 128, 0.5, 0.5)


def test_band_keys_agree_exactly_when_band_values_agree():
    sig = np.array([[1, 2, 3, 4], [1, 2, 9, 9], [7, 2, 3, 4]], dtype=np.uint32)
    keys = signatures.band_keys(sig, bands=2, rows=2)
    assert keys[0, 0] == keys[1, 0] and keys[0, 0] != keys[2, 0]
    assert keys[0, 1] == keys[2, 1] and keys[0, 1] != keys[1, 1]
    assert keys[0, 0] != keys[0, 1]  # bands are salted: equal values in different bands never collide


def test_featurize_fills_documents_and_features():
    from pipeline import schema

    docs = pa.Table.from_pylist(
        [{"doc_id": "a", "text": "One two three four five six."}, {"doc_id": "b", "text": "!!!"}],
        schema=schema.DOCUMENTS,
    )
    documents, segments, features = signatures.featurize(docs, Config())
    assert documents.column("n_tokens").to_pylist() == [6, 0]
    assert documents.column("body").to_pylist() == ["One two three four five six.", "!!!"]
    assert segments.num_rows == 0
    assert features.column("doc_id").to_pylist() == ["a", "b"]
    assert [len(s) for s in features.column("shingles").to_pylist()] == [2, 0]


def test_token_offsets_point_into_text_past_removed_chrome_and_datelines():
    from pipeline import schema
    from pipeline.normalize import matching_tokens

    texts = [
        "Share this\nVILNIUS, Jan 5 (Reuters) - Lithuania closed two border crossings on Friday.\n"
        "Advertisement\nThe   ministry said   more would follow.\nPhoto: AFP",
        "Вільнюс — столиця. Литва закрыла ещё два пункта (Photo: BTA)\nDrugi akapit, Šiaulių bankas.",
        "東京 AP reports\n\nA second paragraph.",
    ]
    docs = pa.Table.from_pylist([{"doc_id": str(i), "text": t} for i, t in enumerate(texts)], schema=schema.DOCUMENTS)
    documents, segments, features = signatures.featurize(docs, Config())
    assert segments.num_rows >= 3  # chrome, dateline and photo credit left the body, so offsets had to shift
    for text, body, starts, ends in zip(
        texts,
        documents.column("body").to_pylist(),
        features.column("token_starts").to_pylist(),
        features.column("token_ends").to_pylist(),
        strict=True,
    ):
        from_text = [matching_tokens(text[a:b])[0] for a, b in zip(starts, ends, strict=True)]
        assert from_text == matching_tokens(body)


@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 7), (256, 2**31)])
def test_permutations_are_datasketchs_own(num_perm, seed):
    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    mine = signatures.permutations(num_perm, seed)
    assert [x.tolist() for x in mine] == [a.tolist(), b.tolist()] and mine[0].dtype == np.uint32


def test_string_kernel_is_xxh3_for_every_length_and_leaves_other_strings_to_python():
    rng = np.random.default_rng(7)
    lengths = [*range(0, 300), 1023, 1024, 1025, 2048, 2113, 4000]  # every path: short, mid-size, stripes, blocks
    strings = [bytes(rng.integers(0, 128, n, dtype=np.uint8)) for n in lengths for _ in range(3)]
    strings += ["naïve".encode(), "литва".encode(), "中文".encode()]
    data = np.frombuffer(b"".join(strings), dtype=np.uint8)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in strings])]).astype(np.int32)
    for known_ascii in (np.zeros(len(strings), dtype=bool), np.array([s.isascii() for s in strings])):
        values, other = kernels.xxh3_strings(data, offsets, known_ascii, kernels.XXH3_SECRET)
        assert [s for s, o in zip(strings, other, strict=True) if o] == strings[-3:]
        hashed = [int(v) for v, o in zip(values, other, strict=True) if not o]
        assert hashed == [xxhash.xxh3_64_intdigest(s) for s in strings[:-3]]


def test_token_hashes_are_the_matching_form_hash_of_each_token():
    bodies = ["Vilnius border guards", "Литва ЗАКРЫЛА границу naïve café", "a " + "x" * 200 + " b", "", None]
    tokens = signatures.token_hashes(pa.array(bodies))
    expected = [normalize.token_hash(t) for body in bodies for t in normalize.tokenize(body or "")]
    assert [int(v) for v in tokens.values] == expected
