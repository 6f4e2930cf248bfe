"""Clusters: connected components over kept pairs, with a guard against chaining, and deterministic ids.

Without a guard one weak partial edge can join two large stories into one cluster (A copies a paragraph of B, and
suddenly every copy of A and every copy of B are one "story"). Edges are added strongest first; two components that
both already have `guard_min_size` members are joined only by an exact/near-duplicate edge or by at least
`guard_min_edges` partial edges between them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from pipeline import schema
from pipeline.align import CLUSTERING_RELATIONS, PARTIAL
from pipeline.config import ClusterConfig
from pipeline.gcpause import gc_paused


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.size = [1] * n

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> int:
        if self.size[a] < self.size[b]:
            a, b = b, a
        self.parent[b] = a
        self.size[a] += self.size[b]
        return a


def cluster_id(members: list[str]) -> str:
    """A cluster's id: a hash of its smallest member id, so the same input always gives the same ids."""
    return "c" + xxhash.xxh3_64_hexdigest(min(members).encode("utf-8"))


def sorted_codes(values: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct strings of `values` in order, and each value's index among them: `np.unique(...,
    return_inverse=True)`, where numpy sorting Python strings took half the clustering time."""
    encoded = pc.dictionary_encode(values).combine_chunks()
    order = pc.array_sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    distinct = encoded.dictionary.take(pa.array(order)).to_numpy(zero_copy_only=False)
    return distinct, rank[encoded.indices.to_numpy()]


@gc_paused
def components(pairs: pa.Table, cfg: ClusterConfig) -> list[list[str]]:
    """Member lists (sorted) of every cluster with at least two members, largest first."""
    kept = pairs.filter(pc.is_in(pairs.column("relation"), pa.array(CLUSTERING_RELATIONS)))
    if kept.num_rows == 0:
        return []
    ids, codes = sorted_codes(pa.chunked_array(kept.column("doc_id_a").chunks + kept.column("doc_id_b").chunks))
    a, b = codes[: kept.num_rows], codes[kept.num_rows :]
    partial = kept.column("relation").to_numpy(zero_copy_only=False) == PARTIAL
    strength = kept.column("shared_shingles").to_numpy(zero_copy_only=False)
    # Strong edges first, then partial ones by amount of shared text.
    order = np.lexsort((-strength, partial))
    uf = _UnionFind(len(ids))
    bridging: dict[tuple[int, int], int] = {}
    for i in order.tolist():
        ra, rb = uf.find(int(a[i])), uf.find(int(b[i]))
        if ra == rb:
            continue
        if partial[i] and min(uf.size[ra], uf.size[rb]) >= cfg.guard_min_size:
            key = (min(ra, rb), max(ra, rb))
            bridging[key] = bridging.get(key, 0) + 1
            if bridging[key] < cfg.guard_min_edges:
                continue
        uf.union(ra, rb)
    groups: dict[int, list[str]] = {}
    for index, doc_id in enumerate(ids.tolist()):
        groups.setdefault(uf.find(index), []).append(doc_id)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g[0]))


def stable_ids(
    groups: list[list[str]], previous: dict[str, str], first_seen: dict[str, str]
) -> tuple[list[str], list[tuple[str, str]]]:
    """An id for each group and the merges it implies, given each earlier document's current cluster id and
    the run each earlier cluster id first appeared in.

    A group holding no earlier cluster gets a fresh id; a grown cluster keeps its id; a group joining several
    earlier clusters keeps the oldest one's id (first run, then id) and yields (kept, absorbed) for the others."""
    ids, merges = [], []
    for members in groups:
        earlier = sorted({previous[d] for d in members if d in previous}, key=lambda c: (first_seen.get(c, ""), c))
        ids.append(earlier[0] if earlier else cluster_id(members))
        merges.extend((earlier[0], absorbed) for absorbed in earlier[1:])
    return ids, merges


def clusters_table(pairs: pa.Table, cfg: ClusterConfig, run_id: str) -> pa.Table:
    """The `clusters` table of one run on its own: every multi-member component of `pairs`, ids from members."""
    groups = components(pairs, cfg)
    return members_table(groups, [cluster_id(g) for g in groups], run_id)


def members_table(groups: list[list[str]], ids: list[str], run_id: str) -> pa.Table:
    """The `clusters` table: one row per member of every group, under the group's id."""
    rows: dict[str, list] = {"cluster_id": [], "doc_id": [], "size": [], "run_id": []}
    for cid, members in zip(ids, groups, strict=True):
        for doc_id in members:
            rows["cluster_id"].append(cid)
            rows["doc_id"].append(doc_id)
            rows["size"].append(len(members))
            rows["run_id"].append(run_id)
    return pa.Table.from_pydict(rows, schema=schema.CLUSTERS)
