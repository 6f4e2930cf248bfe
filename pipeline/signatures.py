"""Signatures: token hashes, word-shingle hashes and MinHash signatures, computed a whole shard at a time.

Signatures are datasketch-compatible: for each document, `minhash` equals the `hashvalues` of
`datasketch.MinHash(num_perm, seed, hashfunc=lambda v: v)` (scheme `affine32`) updated with the document's 32-bit
shingle hashes, so a stored signature loads as a `LeanMinHash` and estimates Jaccard exactly as datasketch would.
Work runs over flat arrays of every shingle in the shard (compiled where numpy would materialise more than the
answer), so no Python loop touches a shingle.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import xxhash

from pipeline import kernels, schema
from pipeline.config import Config
from pipeline.normalize import BodyTokens, body_tokens, normalize_documents, quote_offsets

if TYPE_CHECKING:
    from pipeline.boilerplate import BoilerplateIndex

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer: an avalanching bijection, applied element-wise."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def token_hashes(bodies: pa.Array) -> BodyTokens:
    """xxh3-64 of the matching form of every token of every body, with each token's offsets in its body: the
    signatures stage's name for `normalize.body_tokens`, which finds and hashes them in one pass."""
    return body_tokens(bodies)


def sequence_hashes(tokens: BodyTokens) -> np.ndarray:
    """One hash per document of its whole token sequence: equal exactly when the bodies read the same once case,
    punctuation and spacing are set aside (the `exact` relation)."""
    n_docs = len(tokens.offsets) - 1
    out = np.zeros(n_docs, dtype=np.uint64)
    for d in range(n_docs):
        out[d] = xxhash.xxh3_64_intdigest(tokens.values[tokens.offsets[d] : tokens.offsets[d + 1]].tobytes())
    return out


def text_offsets(body_offsets: np.ndarray, token_offsets: np.ndarray, body_map: pa.ListArray) -> np.ndarray:
    """Token offsets in each document's `text`, from offsets in its `body` and the body -> text map."""
    pieces = body_map.flatten()
    piece_offsets = body_map.offsets.to_numpy().astype(np.int64) - body_map.offsets[0].as_py()
    body_start = pieces.field("body_start").to_numpy().astype(np.int64)
    text_start = pieces.field("text_start").to_numpy().astype(np.int64)
    return kernels.shifted_offsets(body_offsets, token_offsets.astype(np.int64), piece_offsets, body_start, text_start)


def shingle_hashes(tokens: BodyTokens, k: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every k-token shingle (one shingle of all tokens for a document shorter than k),
    flat with per-document offsets.

    A shingle's hash is a polynomial in its token hashes (mod 2**64) passed once through fmix64: two multiply-adds
    per token and window instead of a full mix per step (compiled: see `kernels.shingle_hashes`)."""
    return kernels.shingle_hashes(tokens.values, tokens.offsets.astype(np.int64), k)


FINGERPRINT_BITS = 40
_DOC_BITS = np.uint64(64 - FINGERPRINT_BITS)


def shingle_fingerprints(shingles: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each document's sorted distinct 40-bit shingle fingerprints (top bits of the shingle hash), with offsets.

    Packing the document index into the top 24 bits turns a per-document unique into one flat sort (10x faster
    than a loop of np.unique; numpy's vectorised sort beat a compiled sort per document). Packing and the unique
    pass are compiled: numpy's way made four temporary arrays of every shingle. A false shared shingle between two
    400-word documents has probability ~1.5e-7.
    """
    n_docs = len(offsets) - 1
    if n_docs >= 1 << int(_DOC_BITS):
        raise ValueError(f"a shard holds at most {1 << int(_DOC_BITS)} documents")
    packed = kernels.packed_by_document(shingles, np.asarray(offsets, dtype=np.int64), FINGERPRINT_BITS)
    packed.sort()
    return kernels.distinct_by_document(packed, n_docs, FINGERPRINT_BITS)


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (a, b) for `num_perm` and `seed`, drawn as datasketch draws
    them (`MinHash._init_permutations`; tests compare both with datasketch's own). Not imported from it: importing
    datasketch imports scipy, in every worker process."""
    generator = np.random.RandomState(seed)
    a = generator.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)  # odd: bijective
    b = generator.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def minhash_signatures(shingles: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """(docs x num_perm) uint32 MinHash signatures of each document's 32-bit shingle hashes (the low 32 bits of
    each 64-bit one, through MurmurHash3's 32-bit finalizer as datasketch's affine32 scheme applies it; the kernel
    mixes them as it reads them); a document without shingles gets datasketch's empty signature (all 2**32-1)."""
    a, b = permutations(num_perm, seed)
    return kernels.minhash_signatures(shingles, offsets.astype(np.int64), a, b)


def optimal_bands(threshold: float, num_perm: int, fp_weight: float, fn_weight: float) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false-positive and false-negative areas of the LSH S-curve
    around `threshold` (the criterion of datasketch's MinHashLSH), integrated numerically."""
    s_low = np.linspace(0.0, threshold, 200)
    s_high = np.linspace(threshold, 1.0, 200)
    best, best_error = (1, 1), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = np.trapezoid(1 - (1 - s_low**r) ** b, s_low)
            fn = np.trapezoid((1 - s_high**r) ** b, s_high)
            error = fp * fp_weight + fn * fn_weight
            if error < best_error:
                best, best_error = (b, r), error
    return best


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(docs x bands) uint64 keys: documents share a key in band i exactly when (up to 2**-64 collisions)
    their signatures agree on that band's `rows` values."""
    n_docs = signatures.shape[0]
    keys = np.zeros((n_docs, bands), dtype=np.uint64)
    sig = signatures.astype(np.uint64)
    for i in range(bands):
        h = np.full(n_docs, np.uint64(i + 1), dtype=np.uint64)
        for j in range(rows):
            h = fmix64(h * _GOLDEN + sig[:, i * rows + j])
        keys[:, i] = h
    return keys


def _list_array(values: np.ndarray, offsets: np.ndarray) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values))


def features(
    documents: pa.Table, k: int, num_perm: int, seed: int, bands: int, rows: int
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """The matching features of a shard of cleaned documents (minhash, sorted unique shingles, token hashes with
    their offsets in `text`, band keys), each document's token count, and each document's token-sequence hash."""
    tokens = token_hashes(documents.column("body"))
    shingles, shingle_offsets = shingle_hashes(tokens, k)
    signature = minhash_signatures(shingles, shingle_offsets, num_perm, seed)
    unique, unique_offsets = shingle_fingerprints(shingles, shingle_offsets)
    keys = band_keys(signature, bands, rows)
    body_map = schema.whole(documents.column("body_map"))
    starts = text_offsets(tokens.starts, tokens.offsets, body_map)
    ends = text_offsets(tokens.ends - 1, tokens.offsets, body_map) + 1  # the last character, then one past it
    sequence = sequence_hashes(tokens)
    quotes = quote_offsets(documents.column("text"))
    table = pa.Table.from_arrays(
        [
            schema.whole(documents.column("doc_id")),
            pa.array(sequence, pa.uint64()),
            pa.FixedSizeListArray.from_arrays(pa.array(signature.ravel()), num_perm),
            _list_array(unique, unique_offsets),
            _list_array(tokens.values, tokens.offsets),
            _list_array(starts, tokens.offsets),
            _list_array(ends, tokens.offsets),
            quotes,
            pa.FixedSizeListArray.from_arrays(pa.array(keys.ravel()), bands),
        ],
        schema=schema.features_schema(num_perm, bands),
    )
    return table, np.diff(tokens.offsets), sequence


@lru_cache(maxsize=32)
def lsh_shape(
    threshold: float, num_perm: int, fp_weight: float, fn_weight: float, bands: int = 0, rows: int = 0
) -> tuple[int, int]:
    """(bands, rows) for LSH: the configured pair when given, else the optimum for `threshold`."""
    if bands and rows:
        return bands, rows
    return optimal_bands(threshold, num_perm, fp_weight, fn_weight)


def featurize(
    documents: pa.Table, cfg: Config, boilerplate: BoilerplateIndex | None = None
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Clean a shard of documents and compute its matching features: (documents with body, metadata, body_hash and
    n_tokens filled in, the removed segments, the features table)."""
    normalized = normalize_documents(documents, cfg.normalize, boilerplate)
    documents = normalized.documents
    c = cfg.candidates
    bands, rows = lsh_shape(
        c.threshold, cfg.signatures.num_perm, c.false_positive_weight, c.false_negative_weight, c.bands, c.rows
    )
    table, n_tokens, sequence = features(
        documents, cfg.signatures.shingle_size, cfg.signatures.num_perm, cfg.signatures.seed, bands, rows
    )
    documents = documents.set_column(
        documents.schema.get_field_index("n_tokens"), "n_tokens", pa.array(n_tokens, pa.int32())
    )
    documents = documents.set_column(
        documents.schema.get_field_index("body_hash"), "body_hash", pa.array(sequence, pa.uint64())
    )
    return documents, normalized.segments, table
