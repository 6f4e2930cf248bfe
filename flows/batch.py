"""The `wiretrace-batch` Prefect flow: thin tasks over shards that call `pipeline/` and pass Parquet paths.

Task runs per flow run: ingest, candidates and resolve once each, and featurize and verify over groups of shards,
at most `MAX_TASKS_PER_STAGE` each: Prefect's event queue overflows with thousands of task runs per flow run, so
a million documents is still about 200 task runs, each doing seconds of work.
"""

import math
import platform
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import flow, task, unmapped
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, Field

from flows import progress
from pipeline import (
    __version__,
    align,
    boilerplate,
    candidates,
    cluster,
    history,
    ingest,
    parallel,
    provenance,
    report,
    schema,
    store,
)
from pipeline.config import Config


class BatchParams(BaseModel):
    """Parameters of one batch run: where to read, where to write, and the full validated configuration."""

    inputs: list[str] = Field(min_length=1, description="Files or folders of .txt, JSONL, CSV or Parquet")
    output: str = Field(description="Output folder (Parquet tables, report)")
    config: Config = Field(default_factory=Config)
    run_id: str | None = Field(default=None, description="Run id; a new time-sortable id when not given")


def _store(params: BatchParams, run_id: str) -> store.RunStore:
    return store.RunStore(params.output, run_id)


@task(name="ingest", cache_policy=NO_CACHE, persist_result=False)
def ingest_task(params: BatchParams, run_id: str) -> dict[str, Any]:
    """Stream every input into raw document shards and staged rejects; returns shard paths and counts."""
    run = _store(params, run_id)
    # Only what is new: files a committed run already read (same bytes) are skipped, and so are articles an earlier
    # run holds (same id, same text).
    files, ledger = store.new_files(params.output, ingest.discover_files(params.inputs))
    run.stage(
        "ledger",
        ledger.set_column(
            ledger.schema.get_field_index("run_id"), "run_id", pa.array([run_id] * ledger.num_rows, pa.string())
        ),
    )
    earlier = store.CommittedTexts(params.output) if files else None
    stats = ingest.IngestStats()
    report = progress.current()
    report.stage("ingest", len(files))
    shard_paths: list[str] = []
    reject_parts = 0
    for number, shard in enumerate(ingest.shards(files, params.config.ingest, run_id, stats, earlier)):
        if shard.documents.num_rows:
            path = run.write_work(shard.documents, f"raw-{number:05d}.parquet")
            shard_paths.append(str(path))
        if shard.rejects.num_rows:
            run.stage("rejects", shard.rejects, f"{reject_parts:05d}")
            reject_parts += 1
        report.advance("ingest", 0)
    report.advance("ingest", len(files))
    if reject_parts == 0:
        run.stage("rejects", schema.empty(schema.REJECTS))
    return {
        "shards": shard_paths,
        "stats": {k: v for k, v in vars(stats).items() if k != "files"},
        "files": stats.files,
    }


MAX_TASKS_PER_STAGE = 100


def _groups(items: list[Any], max_groups: int = MAX_TASKS_PER_STAGE) -> list[list[Any]]:
    """`items` split into at most `max_groups` contiguous groups of near-equal size."""
    if not items:
        return []
    n = min(max_groups, len(items))
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return out


@task(name="boilerplate", cache_policy=NO_CACHE, persist_result=False)
def boilerplate_task(params: BatchParams, run_id: str, raw_paths: list[str]) -> str:
    """Corpus statistics over the first and last lines of every document: site chrome and boilerplate lines."""
    run = _store(params, run_id)
    cfg = params.config.normalize
    edges = [
        boilerplate.edge_line_table(pq.read_table(p, columns=["source", "text"]), cfg, i * 10**9)
        for i, p in enumerate(raw_paths)
    ]
    table = pa.concat_tables(edges) if edges else boilerplate.EDGE_LINES.empty_table()
    index = boilerplate.boilerplate_index(table, cfg)
    return str(run.write_work(index.to_table(), "boilerplate.parquet"))


@task(name="featurize", cache_policy=NO_CACHE, persist_result=False)
def featurize_task(params: BatchParams, run_id: str, shards: list[tuple[int, str]], boilerplate_path: str) -> list[str]:
    """Clean and normalise shards and compute their signatures (in the run's worker processes); stages their
    documents and segments, returns features paths."""
    items = [(params.config, params.output, run_id, n, raw, boilerplate_path) for n, raw in shards]
    paths = []
    for path in _pool(run_id).each(parallel.featurize_shard, items):
        paths.append(path)
        progress.current().advance("signatures")
    return paths


@task(name="candidates", cache_policy=NO_CACHE, persist_result=False)
def candidates_task(
    params: BatchParams, run_id: str, feature_paths: list[str], found: history.HistoryMatch
) -> tuple[str, int, list[int]]:
    """LSH banding and the passage index over the new shards' features, joined by the candidates history matching
    `found` (with the history shards numbered after the new ones); returns the candidates path, their number, and
    the shards that have candidates on their `a` side. The shingles `found.common` lists (common across the whole
    history window) make no passage candidates."""
    run = _store(params, run_id)
    tables = [pq.read_table(p, columns=["band_keys", "shingles"]) for p in feature_paths]
    c = params.config.candidates
    common = pq.read_table(found.common).column("fingerprint").to_numpy() if found.common else None
    table = candidates.candidate_table(
        tables, c.max_bucket_size, c.passage_sample, c.passage_max_df, c.passage_min_shared, common
    )
    if found.candidates:
        earlier = pq.read_table(found.candidates)
        shard_a = pc.add(earlier.column("shard_a"), pa.scalar(len(feature_paths), pa.int32()))
        table = pa.concat_tables([table, earlier.set_column(0, "shard_a", shard_a)])
    path = run.write_work(table, "candidates.parquet")
    shards = sorted(set(table.column("shard_a").to_pylist())) if table.num_rows else []
    return str(path), table.num_rows, shards


@task(name="verify", cache_policy=NO_CACHE, persist_result=False)
def verify_task(
    params: BatchParams, run_id: str, candidates_path: str, feature_paths: list[str], blocks: list[list[int]]
) -> list[str]:
    """Verify the candidates whose first document is in one of the shards of `blocks` (each block a work item for
    the run's worker processes)."""
    items = [(params.config, params.output, run_id, candidates_path, feature_paths, block) for block in blocks]
    paths = []
    for block, path in zip(blocks, _pool(run_id).each(parallel.verify_block, items), strict=True):
        paths.append(path)
        progress.current().advance("verify", len(block))
    return paths


# The worker processes of each active run (a pool is not a task parameter: Prefect would try to serialise it).
_POOLS: dict[str, parallel.ShardPool] = {}


def _pool(run_id: str) -> parallel.ShardPool:
    return _POOLS.get(run_id) or parallel.ShardPool(1)


@task(name="resolve", cache_policy=NO_CACHE, persist_result=False)
def resolve_task(params: BatchParams, run_id: str, pair_paths: list[str]) -> dict[str, int]:
    """Pair direction, clusters and origins from all verified pairs and the credits; stages pairs, clusters,
    cluster merges and origins. Clusters of earlier runs that new pairs touch are regrown under their old ids."""
    run = _store(params, run_id)
    pairs = pa.concat_tables([pq.read_table(p) for p in pair_paths]) if pair_paths else schema.empty(schema.PAIRS)
    pairs = pairs.sort_by([("doc_id_a", "ascending"), ("doc_id_b", "ascending")])
    clustering = pairs.filter(pc.is_in(pairs.column("relation"), pa.array(align.CLUSTERING_RELATIONS)))
    linked = sorted(set(clustering.column("doc_id_a").to_pylist()) | set(clustering.column("doc_id_b").to_pylist()))
    previous, first_seen = store.current_clusters(params.output, linked)
    edges = pa.concat_tables([pairs.select(EDGE_SCHEMA.names).cast(EDGE_SCHEMA), _cluster_edges(previous)])
    groups = cluster.components(edges, params.config.cluster)
    members = sorted({d for g in groups for d in g})
    facts = _doc_facts(params, run, members)
    pairs = provenance.direct_pairs(pairs, facts)
    ids, merges = cluster.stable_ids(groups, previous, first_seen)
    clusters = cluster.members_table(groups, ids, run_id)
    agencies = {f.agency for f in facts.values() if f.agency}
    evidence = pairs.select(provenance.DIRECTION_COLUMNS)
    if previous:
        earlier = store.committed_pairs(params.output, members, provenance.DIRECTION_COLUMNS)
        evidence = pa.concat_tables([evidence, earlier.cast(evidence.schema)])
    origins = provenance.origins_table(clusters, evidence, facts, agencies, run_id)
    run.stage("pairs", pairs)
    run.stage("clusters", clusters)
    run.stage("origins", origins)
    merged = {"cluster_id": [m[0] for m in merges], "merged_cluster_id": [m[1] for m in merges]}
    run.stage("cluster_merges", pa.table({**merged, "run_id": [run_id] * len(merges)}))
    counts = {
        "pairs": pairs.num_rows,
        "clusters": len(set(ids)),
        "clusters_grown": len(set(ids) & set(first_seen)),
        "cluster_merges": len(merges),
    }
    for row in pc.value_counts(pairs.column("relation")).to_pylist() if pairs.num_rows else []:
        counts[f"pairs_{row['values']}"] = row["counts"]
    return counts


# What clustering reads of a pair.
EDGE_SCHEMA = pa.schema([schema.PAIRS.field(c) for c in ("doc_id_a", "doc_id_b", "relation", "shared_shingles")])


def _cluster_edges(previous: dict[str, str]) -> pa.Table:
    """Earlier clusters as strong edges (each member to its cluster's first), so they grow as wholes."""
    first: dict[str, str] = {}
    a, b = [], []
    for doc_id, cid in sorted(previous.items()):
        if cid in first:
            a.append(first[cid])
            b.append(doc_id)
        else:
            first[cid] = doc_id
    n = len(a)
    return pa.table(
        {"doc_id_a": a, "doc_id_b": b, "relation": [align.EXACT] * n, "shared_shingles": [2**31 - 1] * n}
    ).cast(EDGE_SCHEMA)


def _doc_facts(params: BatchParams, run: store.RunStore, doc_ids: list[str]) -> dict[str, provenance.DocFacts]:
    """Provenance facts of this run's documents and of the earlier ones among `doc_ids`."""
    columns = ["doc_id", "source", "published_at", "published_at_raw", "published_at_source"]
    staged = run.staging / "documents"
    documents = pq.read_table(staged, columns=columns) if staged.exists() else schema.DOCUMENTS.empty_table()
    credited = run.staging / "attributions"
    attributions = pq.read_table(credited) if credited.exists() else schema.ATTRIBUTIONS.empty_table()
    earlier = sorted(set(doc_ids) - set(documents.column("doc_id").to_pylist()))
    if earlier:
        documents = pa.concat_tables(
            [documents.select(columns), store.committed_rows(params.output, "documents", earlier, columns)]
        )
        attributions = pa.concat_tables(
            [
                attributions.select(schema.ATTRIBUTIONS.names).cast(schema.ATTRIBUTIONS),
                store.committed_rows(params.output, "attributions", earlier),
            ]
        )
    return provenance.doc_facts(documents, attributions)


@task(name="history", cache_policy=NO_CACHE, persist_result=False)
def history_task(params: BatchParams, run_id: str, feature_paths: list[str]) -> history.HistoryMatch:
    """This run's documents matched against earlier runs' features (within the history window, same signature
    settings): the candidate pairs screening keeps, on history shards read in place. See `pipeline/history.py`."""
    days = params.config.run.history_days
    if not days or not feature_paths:
        return history.HistoryMatch()
    paths = store.history_files(params.output, days, pq.read_schema(feature_paths[0]))
    report = progress.current()
    return history.match(
        paths,
        feature_paths,
        params.config,
        _store(params, run_id),
        on_start=lambda steps: report.stage("history", steps),
        on_step=lambda: report.advance("history"),
        each=_pool(run_id).each,
    )


def _versions() -> dict[str, str]:
    """The versions a run's results depend on, from the installed distributions' metadata (importing datasketch
    just for its version would import scipy)."""
    from importlib.metadata import version

    libraries = ("pyarrow", "datasketch", "rapidfuzz", "duckdb", "prefect")
    return {"wiretrace": __version__, "python": platform.python_version()} | {name: version(name) for name in libraries}


class StageClock:
    """Wall-clock seconds of each stage of a run, recorded in its `runs` row (where a run's time went)."""

    def __init__(self) -> None:
        self.start = self._last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = round(now - self._last, 3)
        self._last = now

    def total(self) -> float:
        return round(time.perf_counter() - self.start, 3)


@flow(name="wiretrace-batch", log_prints=True, validate_parameters=True)
def batch_flow(params: BatchParams) -> dict[str, Any]:
    """Ingest -> normalise + signatures (per shard) -> LSH candidates -> verify (per shard) -> clusters and
    origins -> atomic commit of every table. Returns the run's id, counts, table globs, report path and summary."""
    started = datetime.now(UTC)
    clock = StageClock()
    run_id = params.run_id or store.new_run_id(started)
    with store.OutputLock(params.output, run_id):
        return _batch(params, run_id, started, clock)


def _batch(params: BatchParams, run_id: str, started: datetime, clock: StageClock) -> dict[str, Any]:
    """The flow's body, run while this run holds the output folder's lock."""
    run = _store(params, run_id)
    run.prepare()
    with parallel.ShardPool(_workers(params)) as pool:
        _POOLS[run_id] = pool
        try:
            return _ingest_match_and_commit(params, run_id, started, clock)
        finally:
            del _POOLS[run_id]


# Input bytes per document assumed when sizing the worker pool before ingest (news articles run 1-5 KB).
BYTES_PER_DOCUMENT = 1_000


def _workers(params: BatchParams) -> int:
    """Worker processes for the run, decided before ingest from the bytes of input that may be new: the pool then
    starts (each worker imports the pipeline and loads the kernels) while the input is read. An input of one shard
    or less runs in the calling thread."""
    files = ingest.discover_files(params.inputs)
    shards = store.changed_bytes(params.output, files) / (params.config.ingest.shard_size * BYTES_PER_DOCUMENT)
    return max(1, min(params.config.run.max_workers, math.ceil(shards)))


def _ingest_match_and_commit(params: BatchParams, run_id: str, started: datetime, clock: StageClock) -> dict[str, Any]:
    """Ingest, then everything after it, in the run's worker pool."""
    run = _store(params, run_id)
    report = progress.current()
    runner_shards = ingest_task(params, run_id)
    clock.lap("ingest")
    if runner_shards["stats"]["records"] == runner_shards["stats"]["already_seen"]:
        # Nothing new since the last run: commit nothing, so a rerun adds no rows at all.
        shutil.rmtree(run.staging, ignore_errors=True)
        return {
            "run_id": None,
            "nothing_new": True,
            "counts": runner_shards["stats"],
            "output": str(Path(params.output).resolve()),
            "tables": store.table_globs(params.output),
        }
    shard_paths = runner_shards["shards"]
    report.stage("signatures", len(shard_paths))
    boilerplate_path = boilerplate_task(params, run_id, shard_paths)
    clock.lap("boilerplate")
    return _match_and_commit(params, run_id, started, clock, runner_shards, boilerplate_path)


def _match_and_commit(
    params: BatchParams,
    run_id: str,
    started: datetime,
    clock: StageClock,
    runner_shards: dict[str, Any],
    boilerplate_path: str,
) -> dict[str, Any]:
    """Signatures, history, candidates, verification, resolution and the commit, once the input is ingested."""
    run = _store(params, run_id)
    report = progress.current()
    shard_paths = runner_shards["shards"]
    groups = _groups(list(enumerate(shard_paths)))
    feature_futures = featurize_task.map(unmapped(params), unmapped(run_id), groups, unmapped(boilerplate_path))
    feature_paths = [path for f in feature_futures for path in f.result()]
    clock.lap("signatures")
    if not feature_paths:
        for table in ("documents", "segments", "attributions"):
            run.stage(table, schema.OUTPUT_TABLES[table].empty_table())
    found = history_task(params, run_id, feature_paths)
    clock.lap("history")
    cand_path, n_candidates, shards_a = candidates_task(params, run_id, feature_paths, found)
    clock.lap("candidates")
    feature_paths = feature_paths + found.shards
    report.stage("verify", len(shards_a))
    blocks = parallel.verify_blocks(shards_a, len(feature_paths) - len(found.shards))
    shard_groups = _groups(blocks)
    pair_futures = verify_task.map(
        unmapped(params), unmapped(run_id), unmapped(cand_path), unmapped(feature_paths), shard_groups
    )
    pair_paths = [path for f in pair_futures for path in f.result()]
    _pool(run_id).release()  # no more work for the workers
    clock.lap("verify")
    resolved = resolve_task(params, run_id, pair_paths)
    clock.lap("resolve")
    counts = {
        **runner_shards["stats"],
        "history_rows": found.rows,
        "history_candidates": found.pairs,
        "candidates": n_candidates,
        "worker_processes": _pool(run_id).processes,
        **resolved,
        "seconds": clock.total(),
        "stage_seconds": clock.laps,
    }
    run.commit(
        {
            "run_id": run_id,
            "started_at": started,
            "finished_at": datetime.now(UTC),
            "status": "completed",
            "inputs": [str(Path(p).resolve()) for p in params.inputs],
            "counts": counts,
            "config": params.config.model_dump(),
            "versions": _versions(),
        }
    )
    index, summary = report_task(params, run_id)
    return {
        "run_id": run_id,
        "counts": counts,
        "output": str(Path(params.output).resolve()),
        "tables": store.table_globs(params.output),
        "report": index,
        "summary": summary,
    }


@task(name="report", cache_policy=NO_CACHE, persist_result=False)
def report_task(params: BatchParams, run_id: str) -> tuple[str, dict[str, Any]]:
    """The HTML report and the DuckDB views of the committed run, and Prefect artifacts pointing at them; returns
    the report's path and the run summary (`flows.summary.gather`), which the CLI prints."""
    index = report.write_report(params.output, run_id)
    views = report.write_views(params.output)
    from flows.summary import gather, render

    summary = gather(params.output, run_id)
    largest = "\n".join(
        f"| {c['cluster_id']} | {c['size']} | {', '.join(sorted({m['source'] or '?' for m in c['members']}))} |"
        for c in summary["largest_clusters"]
    )
    create_markdown_artifact(
        key="wiretrace-run-summary",
        markdown=f"# wiretrace run {run_id}\n\n```\n{render(summary, params.output)}\n```\n\n"
        f"| cluster | size | sources |\n|---|---|---|\n{largest}\n\nDuckDB views: `{views}`",
        description="Run summary and the largest clusters",
    )
    create_link_artifact(key="wiretrace-report", link=index.resolve().as_uri(), link_text="duplicate-cluster report")
    return str(index), summary


def run_batch(params: BatchParams) -> dict[str, Any]:
    """Run the flow with a bounded thread pool sized from the config."""
    runner = ThreadPoolTaskRunner(max_workers=params.config.run.max_workers)
    return batch_flow.with_options(task_runner=runner)(params)
