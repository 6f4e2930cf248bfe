"""Verify and align: for each candidate pair, the exact shingle overlap (Jaccard, containment both ways), the
aligned passages both documents share (as character spans into each `text`), a rapidfuzz similarity, and the
relation the pair is kept with (exact, near_duplicate, partial, or shared_quote when only quotations are shared).

Alignment runs rapidfuzz's Indel opcodes on token strings (one code point per token hash), never on whole texts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pyarrow as pa
from rapidfuzz.distance import Indel

from pipeline import kernels, schema
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
    """The relation a pair is kept with, or None when it shares too little to be reuse.

    `partial` needs an aligned passage of `partial_min_passage_words` (a copied sentence, not a stock phrase) and
    enough shared shingles; when every shared passage lies inside quotation marks the pair is `shared_quote`: two
    outlets quoting one statement did not copy each other."""
    if same_body:
        return EXACT
    if min(o.containment_a, o.containment_b) >= cfg.near_duplicate_containment:
        return NEAR_DUPLICATE
    if o.shared >= cfg.partial_min_shared_shingles and longest_passage >= cfg.partial_min_passage_words:
        return SHARED_QUOTE if quote_only else PARTIAL
    return None


def mostly_quoted(span: tuple[int, int], regions: list[tuple[int, int]], share: float = 0.6) -> bool:
    """Whether at least `share` of the span's characters lie inside quotation marks (the words around a quote,
    "…," she said, may align too)."""
    covered = sum(max(0, min(span[1], end) - max(span[0], start)) for start, end in regions)
    return covered >= share * max(1, span[1] - span[0])


def minhash_matrix(features: pa.Table) -> np.ndarray:
    column = features.column("minhash").combine_chunks()
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
    _all_tokens: str | None = field(default=None, repr=False)

    @classmethod
    def from_table(cls, features: pa.Table) -> FeatureView:
        view = cls(doc_ids=features.column("doc_id").to_pylist() if "doc_id" in features.column_names else [])
        if "shingles" in features.column_names:
            shingles = features.column("shingles").combine_chunks()
            view.shingle_values, view.shingle_offsets = shingles.values.to_numpy(), shingles.offsets.to_numpy()
            view.body_hashes = features.column("body_hash").to_numpy()
        if "minhash" in features.column_names:
            view.minhash = minhash_matrix(features)
        if "tokens" in features.column_names:
            tokens = features.column("tokens").combine_chunks()
            quotes = features.column("quotes").combine_chunks()
            view.token_values, view.token_offsets = tokens.values.to_numpy(), tokens.offsets.to_numpy()
            view.token_starts = features.column("token_starts").combine_chunks().values.to_numpy()
            view.token_ends = features.column("token_ends").combine_chunks().values.to_numpy()
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

    def tokens(self, row: int) -> np.ndarray:
        return self.token_values[self.token_offsets[row] : self.token_offsets[row + 1]]

    def token_string(self, row: int) -> str:
        """The row's tokens as one code point each (see `_token_string`), cut from one string of the whole view
        made on first use: a document in many pairs is converted once."""
        if self._all_tokens is None:
            self._all_tokens = _token_string(self.token_values)
        return self._all_tokens[self.token_offsets[row] : self.token_offsets[row + 1]]

    def quotes(self, row: int) -> list[tuple[int, int]]:
        flat = self.quote_values[self.quote_offsets[row] : self.quote_offsets[row + 1]].tolist()
        return list(zip(flat[::2], flat[1::2], strict=True))

    def token_span(self, row: int, first: int, last: int) -> tuple[int, int]:
        """(start, end) in `text` of the row's tokens first..last (inclusive)."""
        base = self.token_offsets[row]
        return int(self.token_starts[base + first]), int(self.token_ends[base + last])


def shared_counts(view_a: FeatureView, view_b: FeatureView, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
    """Number of shared shingle fingerprints of each pair (view_a[rows_a[i]], view_b[rows_b[i]]), all at once: a
    compiled linear merge of the two sorted sets per pair (25x faster than merging them with one numpy sort)."""
    return kernels.intersection_sizes(
        view_a.shingle_values,
        view_a.shingle_offsets,
        np.ascontiguousarray(rows_a, dtype=np.int64),
        view_b.shingle_values,
        view_b.shingle_offsets,
        np.ascontiguousarray(rows_b, dtype=np.int64),
    )


def _token_string(tokens: np.ndarray) -> str:
    """Token hashes as a string of one code point each, so rapidfuzz runs its fast string path. Two different
    tokens share a code point with probability ~1e-6, which moves a similarity by far less than its rounding."""
    points = (tokens % np.uint64(0x10F800)).astype(np.uint32)
    points += (points >= 0xD800) * np.uint32(0x800)  # skip the surrogate block
    return points.tobytes().decode("utf-32-le")


# Two aligned runs of tokens separated by at most this many unmatched tokens on each side are one passage: a
# substituted word or a reformatted number inside a copied sentence does not cut it in two.
MAX_GAP = 4
# Each further alignment of what earlier ones left unmatched finds passages the copy moved.
MAX_PASSES = 4


def alignment(sa: str, sb: str, min_words: int) -> tuple[list[tuple[int, int, int, int]], float]:
    """The aligned passages of two token strings (a_first, a_last, b_first, b_last token indices, inclusive) and
    their Indel similarity (2 x LCS / total length).

    rapidfuzz's Indel alignment gives one monotonic alignment; its equal blocks are joined across small gaps.
    Aligning again what earlier passes left unmatched finds passages the copy moved (swapped or reordered
    paragraphs). The first pass is a longest common subsequence, so its matched length gives the similarity."""
    found: list[tuple[int, int, int, int]] = []
    original_a, original_b = sa, sb
    free_a, free_b = len(sa), len(sb)
    blocks = Indel.opcodes(sa, sb).as_matching_blocks()
    similarity = 2 * sum(size for _, _, size in blocks) / max(1, len(sa) + len(sb))
    for step in range(MAX_PASSES):
        if min(free_a, free_b) < min_words:
            break  # too little left unmatched on one side to hold another passage
        if step:
            blocks = Indel.opcodes(sa, sb).as_matching_blocks()
        new = _monotonic_passages(blocks, min_words)
        if not new:
            break
        found += new
        free_a -= sum(a1 - a0 + 1 for a0, a1, _, _ in new)
        free_b -= sum(b1 - b0 + 1 for _, _, b0, b1 in new)
        sa = _masked(sa, [(a0, a1) for a0, a1, _, _ in new], "\x00")
        sb = _masked(sb, [(b0, b1) for _, _, b0, b1 in new], "\x01")
    return sorted(_extended(p, original_a, original_b) for p in found), similarity


def _masked(s: str, ranges: list[tuple[int, int]], fill: str) -> str:
    """`s` with each inclusive range replaced by `fill` characters (which match nothing on the other side)."""
    pieces, cursor = [], 0
    for first, last in sorted(ranges):
        pieces += [s[cursor:first], fill * (last - first + 1)]
        cursor = last + 1
    pieces.append(s[cursor:])
    return "".join(pieces)


def _extended(p: tuple[int, int, int, int], sa: str, sb: str) -> tuple[int, int, int, int]:
    """A passage grown over equal neighbouring tokens the alignment gave to another occurrence of the same word."""
    a0, a1, b0, b1 = p
    while a0 > 0 and b0 > 0 and sa[a0 - 1] == sb[b0 - 1]:
        a0, b0 = a0 - 1, b0 - 1
    while a1 + 1 < len(sa) and b1 + 1 < len(sb) and sa[a1 + 1] == sb[b1 + 1]:
        a1, b1 = a1 + 1, b1 + 1
    return a0, a1, b0, b1


# A passage must be mostly matched words, with one unbroken run of at least this many: scattered stock phrases
# ("the … said … in the …") joined across small gaps are not a copied passage.
MIN_DENSITY = 0.8
MIN_RUN = 5


def _monotonic_passages(blocks: list, min_words: int) -> list[tuple[int, int, int, int]]:
    """Equal blocks (a, b, size) of one alignment joined across gaps of at most MAX_GAP tokens on both sides."""
    out: list[list[int]] = []  # a0, a1, b0, b1 (exclusive ends), matched, longest run
    for a, b, run in blocks:
        if not run:
            continue
        if out and a - out[-1][1] <= MAX_GAP and b - out[-1][3] <= MAX_GAP:
            last = out[-1]
            last[1], last[3] = a + run, b + run
            last[4] += run
            last[5] = max(last[5], run)
        else:
            out.append([a, a + run, b, b + run, run, run])
    return [
        (a0, a1 - 1, b0, b1 - 1)
        for a0, a1, b0, b1, matched, longest in out
        if matched >= min_words and longest >= MIN_RUN and matched >= MIN_DENSITY * max(a1 - a0, b1 - b0)
    ]


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
    shared = np.zeros(len(rows_a), dtype=np.int64)
    shared[plausible] = shared_counts(view_a, view_b, rows_a[plausible], rows_b[plausible])
    size_a = np.diff(view_a.shingle_offsets)[rows_a]
    size_b = np.diff(view_b.shingle_offsets)[rows_b]
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
    shared, size_a, size_b, same_body = screening.shared, screening.size_a, screening.size_b, screening.same_body
    out: dict[str, list] = {name: [] for name in schema.PAIRS.names}
    for i in range(len(rows_a)):
        va, vb, ra, rb, na, nb = view_a, view_b, int(rows_a[i]), int(rows_b[i]), int(size_a[i]), int(size_b[i])
        # Pairs are stored with doc_id_a < doc_id_b, and aligned in that order too: a pair gets one row, the same
        # whichever side it was found from (alignment breaks ties by order).
        if vb.doc_ids[rb] < va.doc_ids[ra]:
            va, vb, ra, rb, na, nb = vb, va, rb, ra, nb, na
        o = _overlap_from_counts(int(shared[i]), na, nb)
        found, similarity = alignment(va.token_string(ra), vb.token_string(rb), cfg.min_passage_words)
        longest = max((a1 - a0 + 1 for a0, a1, _, _ in found), default=0)
        spans = [(va.token_span(ra, a0, a1), vb.token_span(rb, b0, b1)) for a0, a1, b0, b1 in found]
        quote_only = bool(spans) and all(
            mostly_quoted(x, va.quotes(ra)) or mostly_quoted(y, vb.quotes(rb)) for x, y in spans
        )
        kept = relation(o, bool(same_body[i]), longest, quote_only, cfg)
        if kept is None:
            continue
        a_id, b_id = va.doc_ids[ra], vb.doc_ids[rb]
        out["doc_id_a"].append(a_id)
        out["doc_id_b"].append(b_id)
        out["relation"].append(kept)
        out["similarity"].append(similarity)
        out["jaccard"].append(o.jaccard)
        out["containment_a"].append(o.containment_a)
        out["containment_b"].append(o.containment_b)
        out["shared_shingles"].append(o.shared)
        out["spans"].append(
            sorted(
                ({"a_start": x[0], "a_end": x[1], "b_start": y[0], "b_end": y[1]} for x, y in spans),
                key=lambda d: d["a_start"],
            )
        )
        out["source_doc_id"].append(None)
        out["direction_confidence"].append(None)
        out["direction_evidence"].append([])
        out["run_id"].append(run_id)
    return pa.Table.from_pydict(out, schema=schema.PAIRS)
