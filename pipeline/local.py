"""The whole pipeline in one process, without Prefect: for benchmarks, tests and notebooks.

Same stages, same functions and the same tables as the Prefect flow, kept in memory (so memory grows with the
corpus: use the flow for large inputs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import align, boilerplate, candidates, cluster, credits, ingest, provenance, schema, signatures
from pipeline.config import Config


@dataclass
class LocalResult:
    documents: pa.Table
    segments: pa.Table
    rejects: pa.Table
    pairs: pa.Table
    clusters: pa.Table
    origins: pa.Table
    attributions: pa.Table
    candidates: int
    stats: ingest.IngestStats
    seconds: dict[str, float] = field(default_factory=dict)


def match_shards(shards: list[ingest.Shard], cfg: Config, run_id: str) -> LocalResult:
    """Normalise, sign, find candidates, verify and cluster already-ingested shards."""
    import time

    clock = time.perf_counter
    seconds: dict[str, float] = {}
    t = clock()
    edges = (
        pa.concat_tables(
            [boilerplate.edge_line_table(s.documents, cfg.normalize, i * 10**9) for i, s in enumerate(shards)]
        )
        if shards
        else boilerplate.EDGE_LINES.empty_table()
    )
    index = boilerplate.boilerplate_index(edges, cfg.normalize)
    seconds["boilerplate"] = clock() - t
    t = clock()
    featurized = [signatures.featurize(s.documents, cfg, index) for s in shards if s.documents.num_rows]
    seconds["signatures"] = clock() - t
    t = clock()
    feature_tables = [f for _, _, f in featurized]
    c = cfg.candidates
    cands = candidates.candidate_table(
        feature_tables, c.max_bucket_size, c.passage_sample, c.passage_max_df, c.passage_min_shared
    )
    seconds["candidates"] = clock() - t
    t = clock()
    views = [align.FeatureView.from_table(f) for f in feature_tables]
    parts = []
    shard_a, shard_b, row_a, row_b = (cands.column(c).to_numpy() for c in ("shard_a", "shard_b", "row_a", "row_b"))
    from_passages = cands.column("from_passages").to_numpy(zero_copy_only=False)
    # Candidates come sorted by shard pair: each pair of shards is one slice.
    change = np.flatnonzero((shard_a[1:] != shard_a[:-1]) | (shard_b[1:] != shard_b[:-1])) + 1
    for lo, hi in zip(np.r_[0, change].tolist(), np.r_[change, len(shard_a)].tolist(), strict=True):
        if hi > lo:
            a, b = int(shard_a[lo]), int(shard_b[lo])
            part = slice(lo, hi)
            parts.append(
                align.verify_pairs(
                    views[a], views[b], row_a[part], row_b[part], cfg.verify, run_id, from_passages[part]
                )
            )
    pairs = pa.concat_tables(parts) if parts else schema.empty(schema.PAIRS)
    pairs = pairs.sort_by([("doc_id_a", "ascending"), ("doc_id_b", "ascending")])
    seconds["verify"] = clock() - t
    t = clock()
    documents = pa.concat_tables([d for d, _, _ in featurized]) if featurized else schema.empty(schema.DOCUMENTS)
    segments = pa.concat_tables([s for _, s, _ in featurized]) if featurized else schema.empty(schema.SEGMENTS)
    attributions = credits.attributions_table(documents, run_id)
    paired = pc.unique(pa.chunked_array(pairs.column("doc_id_a").chunks + pairs.column("doc_id_b").chunks, pa.string()))
    facts = provenance.doc_facts(documents, attributions, only=paired)
    pairs = provenance.direct_pairs(pairs, facts)
    seconds["provenance"] = clock() - t
    t = clock()
    clusters = cluster.clusters_table(pairs, cfg.cluster, run_id)
    seconds["cluster"] = clock() - t
    t = clock()
    agencies = provenance.agencies_among(documents.column("source"))
    origins = provenance.origins_table(clusters, pairs, facts, agencies, run_id)
    seconds["provenance"] += clock() - t
    rejects = pa.concat_tables([s.rejects for s in shards]) if shards else schema.empty(schema.REJECTS)
    return LocalResult(
        documents,
        segments,
        rejects,
        pairs,
        clusters,
        origins,
        attributions,
        cands.num_rows,
        ingest.IngestStats(),
        seconds,
    )


def run_local(inputs: list[str | Path], cfg: Config | None = None, run_id: str = "local") -> LocalResult:
    """Every stage from input files to clusters, in memory."""
    cfg = cfg or Config()
    stats = ingest.IngestStats()
    shards = list(ingest.shards(ingest.discover_files(inputs), cfg.ingest, run_id, stats))
    result = match_shards(shards, cfg, run_id)
    result.stats = stats
    return result


def write_output(result: LocalResult, output: str | Path, run_id: str) -> Path:
    """Commit an in-memory result as a run of `output` (the same tables the flow writes)."""
    from pipeline import store

    run = store.RunStore(output, run_id)
    run.prepare()
    for name in ("documents", "segments", "pairs", "clusters", "origins", "attributions", "rejects"):
        run.stage(name, getattr(result, name))
    run.stage("cluster_merges", schema.empty(schema.CLUSTER_MERGES))  # one run in memory merges nothing
    run.commit(
        {
            "run_id": run_id,
            "status": "completed",
            "counts": {"documents": result.documents.num_rows, "records": result.stats.records},
        }
    )
    return Path(output)
