"""Verification: exact shingle overlap (Jaccard, containment both ways) and a rapidfuzz similarity for each
candidate pair, and the relation the pair is kept with.

Passage spans (character offsets into `text`) come with the passage-level reuse issue; the `spans` column exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from rapidfuzz.distance import Indel

from pipeline import schema
from pipeline.config import VerifyConfig

EXACT = "exact"
NEAR_DUPLICATE = "near_duplicate"
PARTIAL = "partial"
CLUSTERING_RELATIONS = (EXACT, NEAR_DUPLICATE, PARTIAL)


@dataclass(frozen=True)
class Overlap:
    shared: int
    jaccard: float
    containment_a: float
    containment_b: float


def overlap(shingles_a: np.ndarray, shingles_b: np.ndarray) -> Overlap:
    """Exact overlap of two sorted distinct fingerprint arrays."""
    shared = len(np.intersect1d(shingles_a, shingles_b, assume_unique=True))
    na, nb = len(shingles_a), len(shingles_b)
    union = na + nb - shared
    return Overlap(
        shared=shared,
        jaccard=shared / union if union else 0.0,
        containment_a=shared / na if na else 0.0,
        containment_b=shared / nb if nb else 0.0,
    )


def relation(o: Overlap, same_body: bool, cfg: VerifyConfig) -> str | None:
    """The relation a pair is kept with, or None when it shares too little to be reuse.

    `partial` needs both an absolute amount of shared text (a passage, not a stock phrase) and a minimum share
    of the smaller document, so two long same-topic stories sharing a few phrases stay apart.
    """
    if same_body:
        return EXACT
    if min(o.containment_a, o.containment_b) >= cfg.near_duplicate_containment:
        return NEAR_DUPLICATE
    if o.shared >= cfg.partial_min_shared_shingles and max(o.containment_a, o.containment_b) >= (
        cfg.partial_min_containment
    ):
        return PARTIAL
    return None


@dataclass
class FeatureView:
    """Random access to one shard's features and documents by row."""

    doc_ids: list[str]
    shingle_values: np.ndarray
    shingle_offsets: np.ndarray
    token_values: np.ndarray
    token_offsets: np.ndarray
    body_hashes: np.ndarray

    @classmethod
    def from_table(cls, features: pa.Table) -> FeatureView:
        shingles = features.column("shingles").combine_chunks()
        tokens = features.column("tokens").combine_chunks()
        return cls(
            doc_ids=features.column("doc_id").to_pylist(),
            shingle_values=shingles.values.to_numpy(),
            shingle_offsets=shingles.offsets.to_numpy(),
            token_values=tokens.values.to_numpy(),
            token_offsets=tokens.offsets.to_numpy(),
            body_hashes=features.column("body_hash").to_numpy(),
        )

    def shingles(self, row: int) -> np.ndarray:
        return self.shingle_values[self.shingle_offsets[row] : self.shingle_offsets[row + 1]]

    def tokens(self, row: int) -> np.ndarray:
        return self.token_values[self.token_offsets[row] : self.token_offsets[row + 1]]


def verify_pairs(
    view_a: FeatureView, view_b: FeatureView, rows_a: np.ndarray, rows_b: np.ndarray, cfg: VerifyConfig, run_id: str
) -> pa.Table:
    """The `pairs` rows for the candidate pairs (view_a[rows_a[i]], view_b[rows_b[i]]) that are reuse."""
    out: dict[str, list] = {name: [] for name in schema.PAIRS.names}
    for ra, rb in zip(rows_a.tolist(), rows_b.tolist(), strict=True):
        o = overlap(view_a.shingles(ra), view_b.shingles(rb))
        kept = relation(o, bool(view_a.body_hashes[ra] == view_b.body_hashes[rb]), cfg)
        if kept is None:
            continue
        a_id, b_id = view_a.doc_ids[ra], view_b.doc_ids[rb]
        # Pairs are stored with doc_id_a < doc_id_b so a pair has one row whatever order it was found in.
        if b_id < a_id:
            a_id, b_id = b_id, a_id
            o = Overlap(o.shared, o.jaccard, o.containment_b, o.containment_a)
        similarity = Indel.normalized_similarity(view_a.tokens(ra).tolist(), view_b.tokens(rb).tolist())
        out["doc_id_a"].append(a_id)
        out["doc_id_b"].append(b_id)
        out["relation"].append(kept)
        out["similarity"].append(similarity)
        out["jaccard"].append(o.jaccard)
        out["containment_a"].append(o.containment_a)
        out["containment_b"].append(o.containment_b)
        out["shared_shingles"].append(o.shared)
        out["spans"].append([])
        out["source_doc_id"].append(None)
        out["direction_confidence"].append(None)
        out["run_id"].append(run_id)
    return pa.Table.from_pydict(out, schema=schema.PAIRS)
