"""Every Arrow schema of every table wiretrace writes, in one place.

The output contract (column names and meanings) is documented in README.md; columns may be added, never renamed.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")

SPAN = pa.struct([("a_start", pa.int32()), ("a_end", pa.int32()), ("b_start", pa.int32()), ("b_end", pa.int32())])

BODY_PIECE = pa.struct([("body_start", pa.int32()), ("text_start", pa.int32()), ("length", pa.int32())])

DOCUMENTS = pa.schema(
    [
        ("doc_id", pa.string()),
        ("source", pa.string()),
        ("url", pa.string()),
        ("published_at", TIMESTAMP),
        ("published_at_raw", pa.string()),  # the date as the input wrote it, kept when it did not parse
        ("title", pa.string()),
        ("text", pa.string()),  # exactly as ingested
        ("body", pa.string()),  # the article text without page chrome and metadata lines: what is matched
        # (body_start, text_start, length) of each kept piece: body offsets -> text offsets
        ("body_map", pa.list_(BODY_PIECE)),
        ("lang", pa.string()),
        ("byline", pa.string()),
        ("dateline_place", pa.string()),
        ("photo_credit", pa.string()),
        ("published_at_source", pa.string()),  # metadata | text (a date found in the article) | null
        ("n_tokens", pa.int32()),
        ("body_hash", pa.uint64()),  # hash of the token sequence: equal bodies up to case, punctuation, spacing
        ("input_file", pa.string()),
        ("input_record", pa.int64()),  # 1-based line (JSONL, CSV) or row (Parquet); null for .txt files
        ("text_hash", pa.uint64()),  # xxh3 of `text`: tells a rerun of the same article from a new version
        ("run_id", pa.string()),
    ]
)

# Internal per-shard matching features: never part of the output contract.

# The features only alignment reads, a row at a time: kept in a file of their own beside each features shard (see
# `store.TOKENS`), so reading one document's tokens decodes a small row group, not those of hundreds of documents.
TOKEN_COLUMNS = ["tokens", "token_starts", "token_ends", "quotes"]
# What that file holds: the token columns and, again, the document ids, so that alignment reads one file.
TOKENS_FILE_COLUMNS = ["doc_id", *TOKEN_COLUMNS]


def matching_fields(features: pa.Schema) -> pa.Schema:
    """The features schema without `TOKEN_COLUMNS`: what makes two shards' features comparable."""
    return pa.schema([f for f in features if f.name not in TOKEN_COLUMNS])


def features_schema(num_perm: int, bands: int) -> pa.Schema:
    return pa.schema(
        [
            ("doc_id", pa.string()),
            ("body_hash", pa.uint64()),
            ("minhash", pa.list_(pa.uint32(), num_perm)),  # datasketch affine32 hashvalues
            ("shingles", pa.list_(pa.uint64())),  # sorted distinct 40-bit shingle fingerprints
            ("tokens", pa.list_(pa.uint64())),  # token hashes in body order
            ("token_starts", pa.list_(pa.int32())),  # each token's character offsets in `text`
            ("token_ends", pa.list_(pa.int32())),
            ("quotes", pa.list_(pa.int32())),  # quoted stretches of `text`: start0, end0, start1, end1, ...
            ("band_keys", pa.list_(pa.uint64(), bands)),  # one LSH key per band
        ]
    )


# Internal: candidate pairs as (shard, row) positions in the features shards.
CANDIDATES = pa.schema(
    [
        ("shard_a", pa.int32()),
        ("row_a", pa.int32()),
        ("shard_b", pa.int32()),
        ("row_b", pa.int32()),
        ("from_passages", pa.bool_()),  # found by the rare-shingle passage index, not by LSH
        # What screening learnt of a pair screened already (history matching screens its pairs where it reads them);
        # null where verification screens the pair.
        ("shared", pa.int32()),  # shared shingles
        ("size_a", pa.int32()),  # shingles of a
        ("size_b", pa.int32()),
        ("same_body", pa.bool_()),
    ]
)

# The candidates columns that hold a screened pair's `align.Screening`.
SCREENED = ["shared", "size_a", "size_b", "same_body"]

# Internal: what a history batch writes of each candidate pair worth aligning (`history.batch_candidates`): the
# history shard and row, the new document, and what screening learnt of the pair (`size_new` and `size_history` are
# the two documents' shingle counts).
HISTORY_SURVIVORS = pa.schema(
    [
        ("history", pa.string()),
        ("row", pa.int32()),
        ("new", pa.int32()),
        ("from_passages", pa.bool_()),
        ("shared", pa.int32()),
        ("size_new", pa.int32()),
        ("size_history", pa.int32()),
        ("same_body", pa.bool_()),
    ]
)

PAIRS = pa.schema(
    [
        ("doc_id_a", pa.string()),
        ("doc_id_b", pa.string()),
        ("relation", pa.string()),  # exact | near_duplicate | partial
        ("similarity", pa.float32()),  # rapidfuzz Indel similarity of the two token sequences, 0..1
        ("jaccard", pa.float32()),  # exact Jaccard of the shingle sets
        ("containment_a", pa.float32()),  # share of a's shingles found in b
        ("containment_b", pa.float32()),
        ("shared_shingles", pa.int32()),
        ("spans", pa.list_(SPAN)),
        ("source_doc_id", pa.string()),
        ("direction_confidence", pa.float32()),
        ("direction_evidence", pa.list_(pa.string())),  # readable reasons for source_doc_id
        ("run_id", pa.string()),
    ]
)

SEGMENTS = pa.schema(
    [
        ("doc_id", pa.string()),
        ("start", pa.int32()),  # character offsets into documents.text
        ("end", pa.int32()),
        ("reason", pa.string()),  # language_switcher | follow_share | web_chrome | byline | date_line | ...
        ("content", pa.string()),
        ("run_id", pa.string()),
    ]
)

CLUSTERS = pa.schema(
    [("cluster_id", pa.string()), ("doc_id", pa.string()), ("size", pa.int32()), ("run_id", pa.string())]
)

# A run that joins clusters of earlier runs keeps the oldest id and records each absorbed one here.
CLUSTER_MERGES = pa.schema([("cluster_id", pa.string()), ("merged_cluster_id", pa.string()), ("run_id", pa.string())])

ORIGINS = pa.schema(
    [
        ("cluster_id", pa.string()),
        ("origin_doc_id", pa.string()),
        ("credited_agency", pa.string()),
        ("external_origin", pa.string()),
        ("confidence", pa.float32()),
        ("evidence", pa.list_(pa.string())),
        ("run_id", pa.string()),
    ]
)

ATTRIBUTIONS = pa.schema(
    [
        ("doc_id", pa.string()),
        ("agency", pa.string()),
        ("mention", pa.string()),
        ("cue", pa.string()),
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("run_id", pa.string()),
    ]
)

REJECTS = pa.schema(
    [
        ("file", pa.string()),
        ("record", pa.int64()),  # 1-based line (JSONL, CSV) or row (Parquet); null for whole files
        ("doc_id", pa.string()),
        ("reason", pa.string()),  # empty_text | duplicate_id | undecodable | malformed_record | unreadable_file
        ("detail", pa.string()),
        ("run_id", pa.string()),
    ]
)

LEDGER = pa.schema(
    [
        ("path", pa.string()),  # resolved path of an input file a committed run processed
        ("size", pa.int64()),
        ("mtime", TIMESTAMP),
        ("content_hash", pa.uint64()),  # xxh3 of the file's bytes
        ("run_id", pa.string()),
    ]
)

RUNS = pa.schema(
    [
        ("run_id", pa.string()),
        ("started_at", TIMESTAMP),
        ("finished_at", TIMESTAMP),
        ("status", pa.string()),
        ("inputs", pa.list_(pa.string())),
        ("counts", pa.string()),  # JSON object
        ("config", pa.string()),  # JSON object
        ("versions", pa.string()),  # JSON object
    ]
)

OUTPUT_TABLES: dict[str, pa.Schema] = {
    "documents": DOCUMENTS,
    "segments": SEGMENTS,
    "pairs": PAIRS,
    "clusters": CLUSTERS,
    "cluster_merges": CLUSTER_MERGES,
    "origins": ORIGINS,
    "attributions": ATTRIBUTIONS,
    "rejects": REJECTS,
    "ledger": LEDGER,
    "runs": RUNS,
}


def empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


def whole(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A column as one array. `combine_chunks` copies even a single chunk, and fresh memory is dear on these
    machines: a lone chunk laid out from its start is used as it is."""
    if isinstance(column, pa.Array):
        return column
    if column.num_chunks == 1 and _from_start(column.chunk(0)):
        return column.chunk(0)
    return column.combine_chunks()


def string_buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes and int32 value offsets of a string array (no copy), both read-only: the compiled kernels
    then have one signature whether Arrow built the buffers (writable) or read them from a file."""
    buffers = array.buffers()
    if buffers[1] is None:  # an empty array may come without buffers
        offsets = np.zeros(len(array) + 1, dtype=np.int32)
    else:
        offsets = np.frombuffer(buffers[1], dtype=np.int32)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    offsets.flags.writeable = False
    data.flags.writeable = False
    return data, offsets


def _from_start(array: pa.Array) -> bool:
    """Whether `array` is not a slice: its data (and a list's values) start at its first row."""
    if array.offset:
        return False
    if pa.types.is_list(array.type):
        return len(array) == 0 or (array.offsets[0].as_py() == 0 and array.offsets[-1].as_py() == len(array.values))
    return True
