"""Candidates: document pairs worth verifying.

LSH banding over MinHash band keys finds documents alike as wholes: band keys of all documents are grouped with one
numpy sort per band (about 100x faster than inserting into datasketch's MinHashLSH). A rare-shingle passage index
finds documents that share only a passage. Every pair is a candidate once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa

from pipeline import kernels, schema, signatures


def pairs_in_buckets(keys: np.ndarray, max_bucket_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of rows that share a key, skipping buckets larger than `max_bucket_size`
    (shared boilerplate would otherwise make every member a candidate of every other). The order within a bucket
    does not matter (each pair comes out as (smaller, larger)), so the sort need not be stable: 5x faster."""
    order = np.argsort(keys)
    sorted_keys = keys[order]
    boundary = np.ones(len(keys), dtype=bool)
    boundary[1:] = sorted_keys[1:] != sorted_keys[:-1]
    group = np.cumsum(boundary) - 1
    sizes = np.bincount(group)
    usable = (sizes[group] >= 2) & (sizes[group] <= max_bucket_size)
    a, b = kernels.pairs_within_runs(order[usable].astype(np.int64, copy=False), group[usable])
    return np.minimum(a, b), np.maximum(a, b)


def candidate_pairs(band_keys: np.ndarray, active: np.ndarray, max_bucket_size: int) -> np.ndarray:
    """(n x 2) int64 row-index pairs, i < j, sorted and distinct, that share a bucket in at least one band. Rows
    where `active` is False (documents without shingles) never pair."""
    rows = np.flatnonzero(active)
    found: list[np.ndarray] = []
    for band in range(band_keys.shape[1]):
        a, b = pairs_in_buckets(band_keys[rows, band], max_bucket_size)
        found.append(rows[a].astype(np.int64) * len(active) + rows[b])
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    codes = np.unique(np.concatenate(found))
    return np.stack([codes // len(active), codes % len(active)], axis=1)


def band_key_matrix(features: pa.Table) -> np.ndarray:
    """(docs x bands) uint64 band keys of a features table."""
    column = schema.whole(features.column("band_keys"))
    width = column.type.list_size
    return column.flatten().to_numpy().reshape(-1, width)


def has_shingles(features: pa.Table) -> np.ndarray:
    """Which rows have shingles (a document without any never pairs)."""
    column = schema.whole(features.column("shingles"))
    return np.diff(column.offsets.to_numpy()) > 0


def sampled_shingles(features: pa.Table, sample: int) -> tuple[np.ndarray, np.ndarray]:
    """(fingerprints, row of each) of the shingles the passage index samples: one in `sample` by value."""
    column = schema.whole(features.column("shingles"))
    return kernels.sampled_entries(column.values.to_numpy(), column.offsets.to_numpy(), max(sample, 1))


def sampled_across(tables: list[pa.Table], sample: int) -> tuple[np.ndarray, np.ndarray]:
    """`sampled_shingles` of several tables, with rows numbered across them in order."""
    if not tables:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    parts = [sampled_shingles(t, sample) for t in tables]
    starts = np.cumsum([0] + [t.num_rows for t in tables])[:-1]
    rows = [row + start for (_, row), start in zip(parts, starts, strict=True)]
    return np.concatenate([fp for fp, _ in parts]), np.concatenate(rows)


def passage_index(features: pa.Table, sample: int) -> pa.Table:
    """A features shard's sampled shingle fingerprints sorted, with the row of each (`fingerprint`, `row`), and the
    sampling in the schema metadata: persisted beside history so later runs search passages without reading every
    shingle of every earlier document."""
    fp, row = sampled_shingles(features, sample)
    order = np.argsort(fp, kind="stable")
    table = pa.table({"fingerprint": pa.array(fp[order]), "row": pa.array(row[order].astype(np.int32))})
    return table.replace_schema_metadata({"passage_sample": str(sample)})


def value_matches(
    values: np.ndarray, fingerprints: np.ndarray, flags: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(index into `fingerprints`, index into `values`) of each fingerprint found among `values` (sorted,
    distinct); `flags`, the `presence_filter` of `values` when already built, spares the binary search of
    fingerprints it rules out."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    maybe = maybe_in(flags, fingerprints) if flags is not None else np.arange(len(fingerprints))
    pos = np.minimum(np.searchsorted(values, fingerprints[maybe]), len(values) - 1)
    found = values[pos] == fingerprints[maybe]
    return maybe[found], pos[found]


def occurrences(values: np.ndarray, fingerprints: np.ndarray, flags: np.ndarray | None = None) -> np.ndarray:
    """How often each of `values` (sorted, distinct) occurs in `fingerprints` (see `value_matches`)."""
    return np.bincount(value_matches(values, fingerprints, flags)[1], minlength=len(values))


@dataclass
class MatchTarget:
    """What earlier runs' documents are matched against: the new documents' band keys and signatures (documents
    with shingles only, numbered in that order), and, for each of their distinct sampled shingles (sorted), the new
    documents holding it when it is rare across history and new documents together (`passage_docs[
    passage_offsets[v] : passage_offsets[v + 1]]`; none when it is common)."""

    keys: np.ndarray
    minhash: np.ndarray
    passage_offsets: np.ndarray
    passage_docs: np.ndarray

    @cached_property
    def sorted_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """The rows in the order of each band's keys, and those keys sorted, band by band (bands x rows: sorted once,
        searched by every history shard)."""
        keys = np.ascontiguousarray(self.keys.T)
        order = np.argsort(keys, axis=1, kind="stable")
        return order, np.take_along_axis(keys, order, axis=1)

    @cached_property
    def key_filter(self) -> np.ndarray:
        """`presence_filter` of every band key of the new documents."""
        return presence_filter(self.keys.ravel())


# Low bits of a hash that index a presence filter: 2**24 flags (16 MB), so a million new values leave most unset.
_FILTER_MASK = np.uint64((1 << 24) - 1)


def presence_filter(values: np.ndarray) -> np.ndarray:
    """Flags by the low 24 bits of hashes: a value whose flag is unset is not among `values`. Checking it is one
    gather, where a binary search of a large sorted array costs ~100 ns of cache misses per value, so history
    values are filtered first and only the few that pass are searched."""
    flags = np.zeros(1 << 24, dtype=bool)
    flags[_filter_slots(values)] = True
    return flags


def _filter_slots(values: np.ndarray) -> np.ndarray:
    """The presence-filter slot of each hash: its low 24 bits."""
    return (values.astype(np.uint64, copy=False) & _FILTER_MASK).view(np.int64)


def in_sorted(ordered: np.ndarray, values: np.ndarray, flags: np.ndarray | None = None) -> np.ndarray:
    """Which of `values` (hashes) occur in `ordered` (sorted): a presence filter (`flags`, when already built for
    `ordered`), then a binary search of the few that pass, where `np.isin` sorts both arrays together (10x slower
    for ten million values)."""
    out = np.zeros(len(values), dtype=bool)
    if len(ordered) == 0:
        return out
    maybe = maybe_in(presence_filter(ordered) if flags is None else flags, values)
    position = np.minimum(np.searchsorted(ordered, values[maybe]), len(ordered) - 1)
    out[maybe] = ordered[position] == values[maybe]
    return out


def maybe_in(flags: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Indices of `values` whose presence flag is set (a superset of those really present)."""
    return np.flatnonzero(flags[_filter_slots(values)])


def band_pairs(keys: np.ndarray, target: MatchTarget, max_bucket_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(row of `keys`, row of the target's keys) pairs that share a key in the same band, once per band they share,
    skipping keys that more than `max_bucket_size` new documents hold (as LSH candidates skip such buckets)."""
    order, ordered = target.sorted_keys
    return kernels.band_matches(keys, target.key_filter, ordered, order, max_bucket_size)


def history_pairs(
    keys: np.ndarray,
    minhash: np.ndarray,
    entry_rows: np.ndarray,
    entry_values: np.ndarray,
    target: MatchTarget,
    max_bucket_size: int,
    min_signature_matches: int,
    min_shared: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The candidate pairs of an earlier run's rows (band keys, signatures, and the sampled shingles they share with
    new documents: row `entry_rows[i]` holds the target's sampled shingle number `entry_values[i]`) with the new
    documents, as (row, new document, from_passages), sorted, each pair once.

    A pair is an LSH candidate (a shared band key) whose signatures agree in at least `min_signature_matches`
    places (verification drops the others), or else a passage candidate (at least `min_shared` rare sampled shingles
    in common, `from_passages`). A pair LSH finds is not a passage candidate, as in `candidate_table`. Stock
    phrases, common everywhere, make no pair."""
    n_new = len(target.keys)
    old, new = band_pairs(keys, target, max_bucket_size)
    lsh = np.unique(old.astype(np.int64) * n_new + new)
    agree = kernels.signature_agreements(minhash, lsh // n_new, target.minhash, lsh % n_new) >= min_signature_matches
    rows, docs = _holders(entry_rows, entry_values, target.passage_offsets, target.passage_docs)
    codes, shared = np.unique(rows * n_new + docs, return_counts=True)
    passage = codes[shared >= min_shared]
    passage = passage[~in_sorted(lsh, passage)]
    codes = np.concatenate([lsh[agree], passage])
    from_passages = np.concatenate([np.zeros(int(agree.sum()), dtype=bool), np.ones(len(passage), dtype=bool)])
    order = np.argsort(codes, kind="stable")
    return codes[order] // n_new, codes[order] % n_new, from_passages[order]


def _holders(
    rows: np.ndarray, values: np.ndarray, offsets: np.ndarray, docs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(row, document) once for each document `docs[offsets[v] : offsets[v + 1]]` holding value v = values[i] of
    row rows[i]."""
    counts = offsets[values + 1] - offsets[values]
    total = int(counts.sum())
    firsts = np.cumsum(counts) - counts
    at = np.arange(total) - np.repeat(firsts - offsets[values], counts)
    return np.repeat(rows.astype(np.int64), counts), docs[at].astype(np.int64)


def passage_pairs(
    feature_tables: list[pa.Table], sample: int, max_df: int, min_shared: int, common: np.ndarray | None = None
) -> np.ndarray:
    """(n x 2) global row pairs that share at least `min_shared` sampled rare shingles: passage-level candidates.

    A copied paragraph inside a long article leaves the two documents' Jaccard near 0.02, out of LSH's reach, but
    every shingle of the paragraph is shared. One shingle in `sample` (by fingerprint value, so both documents keep
    the same ones) is indexed; shingles found in more than `max_df` documents are stock phrases or boilerplate and
    never create candidates, nor do the `common` ones (found in more than `max_df` documents of a wider corpus: the
    history and the new documents together)."""
    base = sum(t.num_rows for t in feature_tables)
    if base == 0:
        return np.zeros((0, 2), dtype=np.int64)
    packed, doc_bits = None, 0
    if common is None or len(common) == 0:
        packed, doc_bits = packed_samples(feature_tables, sample)
    if packed is None:
        fp, doc = sampled_across(feature_tables, sample)
        if common is not None and len(common):
            rare = ~in_sorted(common, fp)
            fp, doc = fp[rare], doc[rare]
        packed, doc_bits = packed_entries(fp, doc, base)
    packed.sort()
    return pairs_sharing(packed, doc_bits, base, max_df, min_shared)


def document_bits(n_docs: int) -> int:
    """Bits that number `n_docs` documents in a packed entry: 24 at least, so 40-bit fingerprints fill the rest."""
    return max(64 - signatures.FINGERPRINT_BITS, int(n_docs - 1).bit_length())


def packed_samples(feature_tables: list[pa.Table], sample: int) -> tuple[np.ndarray | None, int]:
    """`sampled_across` packed as fingerprint << doc_bits | row in one array (unsorted), and doc_bits; None when a
    fingerprint is too wide to pack so. Written in place by a kernel, where the unpacked arrays, their
    concatenation and their packing touched five times the memory."""
    doc_bits = document_bits(sum(t.num_rows for t in feature_tables))
    columns = [schema.whole(t.column("shingles")) for t in feature_tables]
    size = sum(len(c.values) for c in columns)  # an upper bound, never touched beyond what is written
    out = np.empty(size + 1, dtype=np.uint64)
    at, row = 0, 0
    for column in columns:
        at, fits = kernels.packed_samples(
            column.values.to_numpy(), column.offsets.to_numpy(), max(sample, 1), row, doc_bits, out, at
        )
        if not fits:
            return None, doc_bits
        row += len(column)
    return out[:at], doc_bits


def packed_entries(values: np.ndarray, docs: np.ndarray, n_docs: int) -> tuple[np.ndarray, int]:
    """(value, doc) entries packed as value << doc_bits | doc (unsorted), and doc_bits. Values too wide for the
    bits left are replaced by their ranks, which sort the same."""
    doc_bits = document_bits(n_docs)
    if len(values) and int(values.max()) >> (64 - doc_bits):
        _, values = np.unique(values, return_inverse=True)
    return (values.astype(np.uint64) << np.uint64(doc_bits)) | docs.astype(np.uint64), doc_bits


# Pairs of co-holders `pairs_sharing` lists at once: 64 MB (a run of 20,000 simulated ~400-word documents lists
# 4.2 million in all).
PAIR_CHUNK = 1 << 23


def pairs_sharing(
    packed: np.ndarray, doc_bits: int, n_docs: int, max_holders: int, min_shared: int, chunk: int = PAIR_CHUNK
) -> np.ndarray:
    """(n x 2) pairs of documents (a < b, sorted) holding at least `min_shared` values in common, counting only
    values that 2 to `max_holders` documents hold. Entry i says document packed[i] & (2**doc_bits - 1) holds value
    packed[i] >> doc_bits; entries come sorted, each (value, document) once.

    Every pair of co-holders of every value is listed as one number and sorted (numpy's vectorised sort): a pair
    sharing k values appears k times in a row. Counting each document's partners in place instead visits every
    entry's co-holders at a random place of the entries, twice as slow. Lists hold at most `chunk` pairs (the pairs
    headed by a range of documents), so memory stays bounded whatever the number of entries."""
    starts, ends, headed = kernels.shared_value_groups(packed, doc_bits, n_docs, max_holders)
    cumulative = np.cumsum(headed)
    found: list[np.ndarray] = [np.zeros(0, dtype=np.uint64)]
    lo, done = 0, 0
    while lo < n_docs:
        # The documents heading at most `chunk` pairs from `lo` on (at least one, however many it heads).
        hi = max(int(np.searchsorted(cumulative, done + chunk, side="right")), lo + 1)
        total = int(cumulative[hi - 1]) - done
        if total:
            codes = kernels.pairs_headed_by(packed, doc_bits, starts, ends, n_docs, lo, hi, total)
            codes.sort()
            found.append(kernels.repeated_codes(codes, min_shared))
        lo, done = hi, int(cumulative[hi - 1])
    codes = np.concatenate(found).astype(np.int64)
    return np.stack([codes // max(n_docs, 1), codes % max(n_docs, 1)], axis=1)


def candidate_table(
    feature_tables: list[pa.Table],
    max_bucket_size: int,
    passage_sample: int = 0,
    passage_max_df: int = 50,
    passage_min_shared: int = 3,
    common: np.ndarray | None = None,
) -> pa.Table:
    """Candidate pairs across all shards as (shard_a, row_a, shard_b, row_b, from_passages), sorted by shards.

    LSH over band keys finds documents alike as wholes; with `passage_sample` > 0 the rare-shingle index adds pairs
    that share a passage (`from_passages`: verification does not ask those for a MinHash agreement)."""
    keys = np.concatenate([band_key_matrix(t) for t in feature_tables]) if feature_tables else np.zeros((0, 1))
    active = np.concatenate([has_shingles(t) for t in feature_tables]) if feature_tables else np.zeros(0, bool)
    n = len(active)
    lsh = candidate_pairs(keys.astype(np.uint64), active, max_bucket_size)
    codes = lsh[:, 0] * n + lsh[:, 1]
    passage = np.zeros(len(codes), dtype=bool)
    if passage_sample and n:
        extra = passage_pairs(feature_tables, passage_sample, passage_max_df, passage_min_shared, common)
        extra_codes = extra[:, 0] * n + extra[:, 1]
        extra_codes = extra_codes[~in_sorted(codes, extra_codes)]  # both sorted and distinct: LSH found those
        codes = np.concatenate([codes, extra_codes])
        passage = np.concatenate([passage, np.ones(len(extra_codes), dtype=bool)])
    pairs = np.stack([codes // max(n, 1), codes % max(n, 1)], axis=1) if len(codes) else np.zeros((0, 2), np.int64)
    starts = np.cumsum([0] + [t.num_rows for t in feature_tables])
    shard = np.searchsorted(starts, pairs, side="right") - 1
    row = pairs - starts[shard]
    unscreened = [pa.nulls(len(pairs), schema.CANDIDATES.field(name).type) for name in schema.SCREENED]
    table = pa.Table.from_arrays(
        [pa.array(x.astype(np.int32)) for x in (shard[:, 0], row[:, 0], shard[:, 1], row[:, 1])]
        + [pa.array(passage), *unscreened],
        schema=schema.CANDIDATES,
    )
    return table.sort_by(
        [("shard_a", "ascending"), ("shard_b", "ascending"), ("row_a", "ascending"), ("row_b", "ascending")]
    )
