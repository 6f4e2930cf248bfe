"""Verify and align: for each candidate pair, the exact shingle overlap (Jaccard, containment both ways), the
aligned passages both documents share (as character spans into each `text`), a rapidfuzz similarity, and the
relation the pair is kept with (exact, near_duplicate, partial, or shared_quote when only quotations are shared).

Alignment (`pipeline/passages.py`) reproduces rapidfuzz's Indel alignment on token sequences (one code point per
token hash), compiled and a batch of pairs at a time, never on whole texts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pyarrow as pa

from pipeline import kernels, passages, schema
from pipeline.config import VerifyConfig
from pipeline.gcpause import gc_paused
from pipeline.normalize import quote_spans  # noqa: F401 - part of this stage's interface

EXACT = "exact"
NEAR_DUPLICATE = "near_duplicate"
PARTIAL = "partial"
CLUSTERING_RELATIONS = (EXACT, NEAR_DUPLICATE, PARTIAL)  # never shared_quote


@dataclass(frozen=True)
class Overlap:
    shared: int
    jaccard: float
    containment_a: float
    containment_b: float


def overlap(shingles_a: np.ndarray, shingles_b: np.ndarray) -> Overlap:
    """Exact overlap of two sorted distinct fingerprint arrays."""
    shared = len(np.intersect1d(shingles_a, shingles_b, assume_unique=True))
    return _overlap_from_counts(shared, len(shingles_a), len(shingles_b))


def _overlap_from_counts(shared: int, na: int, nb: int) -> Overlap:
    union = na + nb - shared
    return Overlap(
        shared=shared,
        jaccard=shared / union if union else 0.0,
        containment_a=shared / na if na else 0.0,
        containment_b=shared / nb if nb else 0.0,
    )


SHARED_QUOTE = "shared_quote"


def relation(o: Overlap, same_body: bool, longest_passage: int, quote_only: bool, cfg: VerifyConfig) -> str | None:
    """The relation a pair is kept with, or None when it shares too little to be reuse (see `relations`)."""
    return relations(
        np.array([o.shared]),
        np.array([o.containment_a]),
        np.array([o.containment_b]),
        np.array([same_body]),
        np.array([longest_passage]),
        np.array([quote_only]),
        cfg,
    )[0]


def relations(
    shared: np.ndarray,
    containment_a: np.ndarray,
    containment_b: np.ndarray,
    same_body: np.ndarray,
    longest_passage: np.ndarray,
    quote_only: np.ndarray,
    cfg: VerifyConfig,
) -> np.ndarray:
    """The relation each pair is kept with (object array), None where it shares too little to be reuse.

    `partial` needs an aligned passage of `partial_min_passage_words` (a copied sentence, not a stock phrase) and
    enough shared shingles; when every shared passage lies inside quotation marks the pair is `shared_quote`: two
    outlets quoting one statement did not copy each other."""
    near = np.minimum(containment_a, containment_b) >= cfg.near_duplicate_containment
    partial = (shared >= cfg.partial_min_shared_shingles) & (longest_passage >= cfg.partial_min_passage_words)
    choices = [same_body, near, partial & quote_only, partial]
    out = np.select(choices, [EXACT, NEAR_DUPLICATE, SHARED_QUOTE, PARTIAL], "")
    return np.where(out == "", None, out.astype(object))


def mostly_quoted(span: tuple[int, int], regions: list[tuple[int, int]], share: float = 0.6) -> bool:
    """Whether at least `share` of the span's characters lie inside quotation marks (the words around a quote,
    "…," she said, may align too)."""
    covered = sum(max(0, min(span[1], end) - max(span[0], start)) for start, end in regions)
    return covered >= share * max(1, span[1] - span[0])


def minhash_matrix(features: pa.Table) -> np.ndarray:
    column = schema.whole(features.column("minhash"))
    return column.flatten().to_numpy().reshape(-1, column.type.list_size)


def gathered_lists(column: pa.ChunkedArray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values and offsets (int64) of the lists at `rows` of a list column, in the order of `rows`, copied from
    each chunk where it lies."""
    sizes = np.array([len(chunk) for chunk in column.chunks], dtype=np.int64)
    chunk_starts = np.concatenate([[0], np.cumsum(sizes)])
    chunk_of = np.searchsorted(chunk_starts, rows, side="right") - 1
    starts = np.zeros(len(rows), dtype=np.int64)
    lengths = np.zeros(len(rows), dtype=np.int64)
    for c in np.unique(chunk_of).tolist():
        mine = chunk_of == c
        offsets = column.chunks[c].offsets.to_numpy()
        local = rows[mine] - chunk_starts[c]
        starts[mine], lengths[mine] = offsets[local], offsets[local + 1] - offsets[local]
    out_offsets = np.concatenate([[0], np.cumsum(lengths)])
    values = np.empty(int(out_offsets[-1]), dtype=column.type.value_type.to_pandas_dtype())
    for c in np.unique(chunk_of).tolist():
        mine = np.flatnonzero(chunk_of == c)
        source = column.chunks[c].values.to_numpy()  # offsets index into the unsliced child array
        kernels.copy_segments(source, starts[mine], lengths[mine], values, out_offsets[mine])
    return values, out_offsets


def signature_matches(view_a: FeatureView, view_b: FeatureView, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
    """How many MinHash values each pair has in common (num_perm x the estimated Jaccard)."""
    rows_a, rows_b = np.asarray(rows_a, dtype=np.int64), np.asarray(rows_b, dtype=np.int64)
    return kernels.signature_agreements(view_a.minhash, rows_a, view_b.minhash, rows_b)


def _no_rows() -> np.ndarray:
    return np.zeros(1, dtype=np.int64)


# What deciding whether a pair is worth aligning reads; alignment itself reads every features column.
SCREENING_COLUMNS = ["doc_id", "body_hash", "minhash", "shingles"]


@dataclass
class FeatureView:
    """Random access to one shard's features and documents by row (a view of the screening columns alone has no
    tokens or quotes: enough to screen pairs, not to align them; a view of the alignment columns alone is the
    reverse)."""

    doc_ids: list[str]
    shingle_values: np.ndarray = field(default_factory=_no_rows)
    shingle_offsets: np.ndarray = field(default_factory=_no_rows)
    body_hashes: np.ndarray = field(default_factory=_no_rows)
    minhash: np.ndarray = field(default_factory=_no_rows)  # (docs x num_perm) uint32
    token_values: np.ndarray = field(default_factory=_no_rows)
    token_offsets: np.ndarray = field(default_factory=_no_rows)
    token_starts: np.ndarray = field(default_factory=_no_rows)  # character offsets in `text`
    token_ends: np.ndarray = field(default_factory=_no_rows)
    quote_values: np.ndarray = field(default_factory=_no_rows)
    quote_offsets: np.ndarray = field(default_factory=_no_rows)
    _token_codes: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_table(cls, features: pa.Table) -> FeatureView:
        view = cls(doc_ids=features.column("doc_id").to_pylist() if "doc_id" in features.column_names else [])
        if "shingles" in features.column_names:
            shingles = schema.whole(features.column("shingles"))
            view.shingle_values, view.shingle_offsets = shingles.values.to_numpy(), shingles.offsets.to_numpy()
            view.body_hashes = features.column("body_hash").to_numpy()
        if "minhash" in features.column_names:
            view.minhash = minhash_matrix(features)
        if "tokens" in features.column_names:
            tokens = schema.whole(features.column("tokens"))
            quotes = schema.whole(features.column("quotes"))
            view.token_values, view.token_offsets = tokens.values.to_numpy(), tokens.offsets.to_numpy()
            view.token_starts = schema.whole(features.column("token_starts")).values.to_numpy()
            view.token_ends = schema.whole(features.column("token_ends")).values.to_numpy()
            view.quote_values, view.quote_offsets = quotes.values.to_numpy(), quotes.offsets.to_numpy()
        return view

    @classmethod
    def from_rows(cls, features: pa.Table, rows: np.ndarray) -> FeatureView:
        """The view of `rows` of `features` alone (a read holding more rows than wanted, such as whole row groups),
        gathered column by column: Arrow's `take` first concatenates every chunk of a list column, then copies
        again, which cost more than reading the rows."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == features.num_rows and np.array_equal(rows, np.arange(len(rows))):
            return cls.from_table(features)
        names = features.column_names
        view = cls(doc_ids=features.column("doc_id").take(pa.array(rows)).to_pylist() if "doc_id" in names else [])
        if "shingles" in names:
            view.shingle_values, view.shingle_offsets = gathered_lists(features.column("shingles"), rows)
            view.body_hashes = features.column("body_hash").to_numpy()[rows]
        if "minhash" in names:
            view.minhash = minhash_matrix(features)[rows]
        if "tokens" in names:
            view.token_values, view.token_offsets = gathered_lists(features.column("tokens"), rows)
            view.token_starts, _ = gathered_lists(features.column("token_starts"), rows)
            view.token_ends, _ = gathered_lists(features.column("token_ends"), rows)
            view.quote_values, view.quote_offsets = gathered_lists(features.column("quotes"), rows)
        return view

    def shingles(self, row: int) -> np.ndarray:
        return self.shingle_values[self.shingle_offsets[row] : self.shingle_offsets[row + 1]]

    @property
    def token_codes(self) -> np.ndarray:
        """Every token of the view as one code point (see `token_code_points`), computed on first use: a document in
        many pairs is converted once."""
        if self._token_codes is None:
            self._token_codes = token_code_points(self.token_values)
        return self._token_codes

    def quotes(self, row: int) -> list[tuple[int, int]]:
        flat = self.quote_values[self.quote_offsets[row] : self.quote_offsets[row + 1]].tolist()
        return list(zip(flat[::2], flat[1::2], strict=True))


def shared_counts(view_a: FeatureView, view_b: FeatureView, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
    """Number of shared shingle fingerprints of each pair (view_a[rows_a[i]], view_b[rows_b[i]]), all at once: a
    compiled linear merge of the two sorted sets per pair (25x faster than merging them with one numpy sort)."""
    return _over_shingles(kernels.intersection_sizes, view_a, view_b, rows_a, rows_b)


def shared_count_bounds(view_a: FeatureView, view_b: FeatureView, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
    """An upper bound on each pair's shared shingle fingerprints, a few times cheaper than `shared_counts`
    (see `kernels.intersection_bounds`; fastest with pairs sorted by `rows_a`)."""
    return _over_shingles(kernels.intersection_bounds, view_a, view_b, rows_a, rows_b)


def _over_shingles(
    kernel: Callable[..., np.ndarray], view_a: FeatureView, view_b: FeatureView, rows_a: np.ndarray, rows_b: np.ndarray
) -> np.ndarray:
    """`kernel` (a pair kernel over two sets of sorted fingerprint lists) on the pairs' shingles."""
    rows_a, rows_b = (np.ascontiguousarray(rows, dtype=np.int64) for rows in (rows_a, rows_b))
    return kernel(
        view_a.shingle_values, view_a.shingle_offsets, rows_a, view_b.shingle_values, view_b.shingle_offsets, rows_b
    )


def least_worth_sharing(size_a: np.ndarray, size_b: np.ndarray, cfg: VerifyConfig) -> np.ndarray:
    """Shared shingles below which a pair of documents with these shingle counts cannot be worth aligning (see
    `screen`): a near duplicate shares `near_duplicate_containment` of the larger one, any other kept pair
    `partial_min_shared_shingles`, and a pair of equal bodies all of them (a near duplicate too). Rounded down, so a
    containment that float arithmetic puts a hair under its threshold is never ruled out."""
    near = np.floor(cfg.near_duplicate_containment * np.maximum(size_a, size_b)).astype(np.int64)
    return np.maximum(1, np.minimum(near, cfg.partial_min_shared_shingles))


def token_code_points(tokens: np.ndarray) -> np.ndarray:
    """Token hashes as Unicode code points (int32), the form alignment compares (and rapidfuzz would, as one
    string). Two different tokens share a code point with probability ~1e-6, which moves a similarity by far less
    than its rounding."""
    return kernels.code_points(np.asarray(tokens, dtype=np.uint64))


@dataclass
class Screening:
    """What screening learnt of each candidate pair from the screening columns: whether it is worth aligning, its
    shared shingles (0 where not counted), both documents' shingle counts and whether their bodies are the same."""

    worth: np.ndarray
    shared: np.ndarray
    size_a: np.ndarray
    size_b: np.ndarray
    same_body: np.ndarray

    FIELDS: ClassVar[tuple[str, ...]] = ("worth", "shared", "size_a", "size_b", "same_body")

    def worth_aligning(self) -> Screening:
        """The pairs worth aligning only."""
        keep = np.flatnonzero(self.worth)
        return Screening(*(getattr(self, name)[keep] for name in self.FIELDS))

    @classmethod
    def of_candidates(cls, candidates: pa.Table) -> Screening:
        """The screening of candidates screened already (all worth aligning), from their `schema.SCREENED` columns."""
        shared, size_a, size_b = (candidates.column(c).to_numpy().astype(np.int64) for c in schema.SCREENED[:3])
        same_body = candidates.column("same_body").to_numpy(zero_copy_only=False)
        return cls(np.ones(len(shared), dtype=bool), shared, size_a, size_b, same_body)


def screen(
    view_a: FeatureView,
    view_b: FeatureView,
    rows_a: np.ndarray,
    rows_b: np.ndarray,
    cfg: VerifyConfig,
    from_passages: np.ndarray | None = None,
) -> Screening:
    """Which candidate pairs are worth aligning, with each pair's number of shared shingles (0 where not counted),
    from the screening columns alone: nearly all candidates stop here, before any token is read."""
    # LSH guarantees `rows` matching values; a real copy has more. Dropping pairs with too few matches before the
    # exact count removes most stock-phrase candidates at ~1/100 of the cost (see config.toml for the odds).
    # Passage-index candidates share a passage, not a whole story: they skip this test.
    plausible = signature_matches(view_a, view_b, rows_a, rows_b) >= cfg.min_signature_matches
    if from_passages is not None:
        plausible |= np.asarray(from_passages, dtype=bool)
    size_a = np.diff(view_a.shingle_offsets)[rows_a]
    size_b = np.diff(view_b.shingle_offsets)[rows_b]
    # Most plausible pairs share a stock phrase or two: a cheap upper bound on their shared shingles rules them out,
    # and only the rest are counted exactly.
    counted = np.flatnonzero(plausible)
    bounds = shared_count_bounds(view_a, view_b, rows_a[counted], rows_b[counted])
    counted = counted[bounds >= least_worth_sharing(size_a[counted], size_b[counted], cfg)]
    shared = np.zeros(len(rows_a), dtype=np.int64)
    shared[counted] = shared_counts(view_a, view_b, rows_a[counted], rows_b[counted])
    same_body = view_a.body_hashes[rows_a] == view_b.body_hashes[rows_b]
    # Whatever can still be kept: the same body, a near duplicate, or enough shared shingles to hold a passage.
    near = np.minimum(shared / np.maximum(size_a, 1), shared / np.maximum(size_b, 1)) >= cfg.near_duplicate_containment
    worth = (shared > 0) & (same_body | near | (shared >= cfg.partial_min_shared_shingles))
    return Screening(worth, shared, size_a, size_b, same_body)


def verify_pairs(
    view_a: FeatureView,
    view_b: FeatureView,
    rows_a: np.ndarray,
    rows_b: np.ndarray,
    cfg: VerifyConfig,
    run_id: str,
    from_passages: np.ndarray | None = None,
) -> pa.Table:
    """The `pairs` rows for the candidate pairs (view_a[rows_a[i]], view_b[rows_b[i]]) that share text."""
    rows_a, rows_b = np.asarray(rows_a, dtype=np.int64), np.asarray(rows_b, dtype=np.int64)
    screening = screen(view_a, view_b, rows_a, rows_b, cfg, from_passages)
    keep = np.flatnonzero(screening.worth)
    return aligned_pairs(view_a, view_b, rows_a[keep], rows_b[keep], screening.worth_aligning(), cfg, run_id)


# What aligning a screened pair reads (views of these columns alone carry no shingles or signatures).
ALIGNMENT_COLUMNS = schema.TOKENS_FILE_COLUMNS


@dataclass
class Alignments:
    """What aligning a batch of pairs found, side a first as the pairs were given."""

    similarity: np.ndarray  # float64: Indel similarity of the two token sequences
    offsets: np.ndarray  # pair i owns spans[offsets[i] : offsets[i + 1]], in text order on side a
    spans: np.ndarray  # (k x 4) int32: a_start, a_end, b_start, b_end, character offsets in each `text`
    longest: np.ndarray  # tokens of each pair's longest passage on side a (0: none)
    quote_only: np.ndarray  # bool: every passage lies mostly inside quotation marks on one side


def alignments(
    view_a: FeatureView, view_b: FeatureView, rows_a: np.ndarray, rows_b: np.ndarray, min_words: int
) -> Alignments:
    """The aligned passages of pairs (view_a[rows_a[i]], view_b[rows_b[i]]), from the alignment columns."""
    rows_a, rows_b = np.asarray(rows_a, dtype=np.int64), np.asarray(rows_b, dtype=np.int64)
    # One compiled signature for every view: token offsets arrive as int32 (read from Arrow) or int64 (gathered).
    offsets_a, offsets_b = (np.asarray(v.token_offsets, dtype=np.int64) for v in (view_a, view_b))
    similarity, offsets, found = passages.batch_passages(
        view_a.token_codes, offsets_a, rows_a, view_b.token_codes, offsets_b, rows_b, min_words
    )
    pair_of = np.repeat(np.arange(len(rows_a)), np.diff(offsets))
    base_a, base_b = view_a.token_offsets[rows_a][pair_of], view_b.token_offsets[rows_b][pair_of]
    spans = np.stack(
        [
            view_a.token_starts[base_a + found[:, 0]],
            view_a.token_ends[base_a + found[:, 1]],
            view_b.token_starts[base_b + found[:, 2]],
            view_b.token_ends[base_b + found[:, 3]],
        ],
        axis=1,
    ).astype(np.int32)
    longest = np.zeros(len(rows_a), dtype=np.int64)
    np.maximum.at(longest, pair_of, found[:, 1] - found[:, 0] + 1)
    quote_only = np.zeros(len(rows_a), dtype=bool)
    quoting = (np.diff(view_a.quote_offsets)[rows_a] > 0) | (np.diff(view_b.quote_offsets)[rows_b] > 0)
    # Only pairs with passages and quotes somewhere can be quote-only: the few checked in Python.
    for i in np.flatnonzero(quoting & (np.diff(offsets) > 0)).tolist():
        quotes_a, quotes_b = view_a.quotes(int(rows_a[i])), view_b.quotes(int(rows_b[i]))
        quote_only[i] = all(
            mostly_quoted((a0, a1), quotes_a) or mostly_quoted((b0, b1), quotes_b)
            for a0, a1, b0, b1 in spans[offsets[i] : offsets[i + 1]].tolist()
        )
    return Alignments(similarity, offsets, spans, longest, quote_only)


def _oriented_alignments(
    view_a: FeatureView, view_b: FeatureView, rows_a: np.ndarray, rows_b: np.ndarray, flip: np.ndarray, min_words: int
) -> tuple[np.ndarray, Alignments]:
    """The alignments of the pairs with side a and b swapped where `flip` is set: the pairs as given come first,
    then the flipped ones (`order` holds each one's index among the pairs given)."""
    order = np.concatenate([np.flatnonzero(~flip), np.flatnonzero(flip)])
    as_given = alignments(view_a, view_b, rows_a[~flip], rows_b[~flip], min_words)
    flipped = alignments(view_b, view_a, rows_b[flip], rows_a[flip], min_words)
    return order, Alignments(
        np.concatenate([as_given.similarity, flipped.similarity]),
        np.concatenate([as_given.offsets[:-1], flipped.offsets + as_given.offsets[-1]]),
        np.concatenate([as_given.spans, flipped.spans]),
        np.concatenate([as_given.longest, flipped.longest]),
        np.concatenate([as_given.quote_only, flipped.quote_only]),
    )


@gc_paused
def aligned_pairs(
    view_a: FeatureView,
    view_b: FeatureView,
    rows_a: np.ndarray,
    rows_b: np.ndarray,
    screening: Screening,
    cfg: VerifyConfig,
    run_id: str,
) -> pa.Table:
    """The `pairs` rows of candidate pairs screening found worth aligning (`screening` holds what it learnt of each),
    from the alignment columns of both documents."""
    rows_a, rows_b = np.asarray(rows_a, dtype=np.int64), np.asarray(rows_b, dtype=np.int64)
    ids_a, ids_b = [view_a.doc_ids[r] for r in rows_a.tolist()], [view_b.doc_ids[r] for r in rows_b.tolist()]
    # Pairs are stored with doc_id_a < doc_id_b, and aligned in that order too: a pair gets one row, the same
    # whichever side it was found from (alignment breaks ties by order).
    flip = np.array([b < a for a, b in zip(ids_a, ids_b, strict=True)], dtype=bool)
    order, found = _oriented_alignments(view_a, view_b, rows_a, rows_b, flip, cfg.min_passage_words)
    shared = screening.shared[order]
    size_a = np.where(flip, screening.size_b, screening.size_a)[order]
    size_b = np.where(flip, screening.size_a, screening.size_b)[order]
    union = size_a + size_b - shared
    jaccard, containment_a, containment_b = (
        np.divide(shared, whole, out=np.zeros(len(shared)), where=whole > 0) for whole in (union, size_a, size_b)
    )
    kept_relations = relations(
        shared, containment_a, containment_b, screening.same_body[order], found.longest, found.quote_only, cfg
    )
    kept = np.flatnonzero(kept_relations != None)  # noqa: E711 - elementwise
    given_a, given_b = np.array(ids_a, dtype=object), np.array(ids_b, dtype=object)
    id_a, id_b = np.where(flip, given_b, given_a)[order], np.where(flip, given_a, given_b)[order]
    spans = pa.ListArray.from_arrays(
        pa.array(found.offsets.astype(np.int32)),
        pa.StructArray.from_arrays([pa.array(found.spans[:, k]) for k in range(4)], fields=list(schema.SPAN)),
    ).take(pa.array(kept))
    n = len(kept)
    columns = {
        "doc_id_a": pa.array(id_a[kept], pa.string()),
        "doc_id_b": pa.array(id_b[kept], pa.string()),
        "relation": pa.array(kept_relations[kept], pa.string()),
        "similarity": pa.array(found.similarity[kept].astype(np.float32)),
        "jaccard": pa.array(jaccard[kept].astype(np.float32)),
        "containment_a": pa.array(containment_a[kept].astype(np.float32)),
        "containment_b": pa.array(containment_b[kept].astype(np.float32)),
        "shared_shingles": pa.array(shared[kept].astype(np.int32)),
        "spans": spans,
        "source_doc_id": pa.nulls(n, pa.string()),
        "direction_confidence": pa.nulls(n, pa.float32()),
        "direction_evidence": pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)), pa.array([], pa.string())),
        "run_id": pa.array([run_id] * n, pa.string()),
    }
    table = pa.Table.from_pydict(columns, schema=schema.PAIRS)
    return table.take(pa.array(np.argsort(order[kept], kind="stable")))
