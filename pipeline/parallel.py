"""Per-shard work as functions of file paths, and a pool of worker processes to run them.

Cleaning and alignment are Python loops that hold the GIL, so threads give a run one core whatever the machine
has; worker processes give each shard a core. A work item reads Parquet paths and writes Parquet paths (a shard in,
a shard out), so nothing large crosses a process boundary, and each worker holds one shard at a time (one block
of `VERIFY_BLOCK` shards' signatures and shingles when verifying): memory grows with the shard size times the
workers, not with the corpus.
"""

from __future__ import annotations

import multiprocessing
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import align, arrowpool, boilerplate, candidates, credits, kernels, schema, signatures, store
from pipeline.config import Config

HISTORY_ROW_GROUP = 256  # rows per Parquet row group of a features shard: what a later run reads per hit
# Rows per row group of a shard's token columns: verification reads them for a few rows of each of many history
# shards (~7 of 2,000 each, simulated 1M history), so smaller groups decode less, for more disk
# (bench/incremental.py, 1M history: 2,639 -> 2,852 B/doc for everything matching keeps).
TOKENS_ROW_GROUP = 64
# Every later run within the history window reads these files again. Their hashes barely compress, and lz4 decodes
# them faster than zstd for about a third more disk (bench/incremental.py, 1M simulated history: features 1,951 ->
# 2,639 B/doc, signatures and band keys 494 -> 562; verify 10.1 -> 7.9 s in the runs before and after the switch).
HISTORY_COMPRESSION = "lz4"


def featurize_shard(cfg: Config, output: str, run_id: str, number: int, raw_path: str, boilerplate_path: str) -> str:
    """Clean one raw shard and compute its features: stages its documents, segments and attributions, writes its
    features (the run's history shard) and returns that path. The raw shard is deleted once it is done."""
    run = store.RunStore(output, run_id)
    index = boilerplate.BoilerplateIndex.from_table(pq.read_table(boilerplate_path))
    documents, segments, features = signatures.featurize(pq.read_table(raw_path), cfg, index)
    run.stage("documents", documents, f"{number:05d}")
    run.stage("segments", segments, f"{number:05d}")
    run.stage("attributions", credits.attributions_table(documents, run_id), f"{number:05d}")
    path = store.write_parquet(
        features.drop_columns(schema.TOKEN_COLUMNS),
        run.history_path(f"{number:05d}"),
        row_group_size=HISTORY_ROW_GROUP,
        compression=HISTORY_COMPRESSION,
        dictionary=False,
    )
    store.write_parquet(
        features.select(schema.TOKENS_FILE_COLUMNS),
        run.tokens_path(f"{number:05d}"),
        row_group_size=TOKENS_ROW_GROUP,
        compression=HISTORY_COMPRESSION,
        dictionary=False,
    )
    if cfg.candidates.passage_sample:
        index = candidates.passage_index(features, cfg.candidates.passage_sample)
        path_index = run.passage_index_path(f"{number:05d}")
        store.write_parquet(index, path_index, compression=HISTORY_COMPRESSION, dictionary=False)
    Path(raw_path).unlink(missing_ok=True)
    return str(path)


# Shards whose candidates one work item verifies together: each other shard is read once per block instead of once
# per shard (reads grow with shards squared over this), while memory holds the block's signatures and shingles.
VERIFY_BLOCK = 8
# The same for history shards, whose candidates come screened and few (only the rows they point at are read): a
# block of many reads the new shards they pair with once for all of them (each block reads nearly every new row:
# 8 blocks of 64 read them 8 times over at 1M history).
HISTORY_VERIFY_BLOCK = 256


def verify_blocks(shards_a: list[int], new_shards: int) -> list[list[int]]:
    """The shards with candidates on their `a` side (sorted) in blocks for `verify_block`: the run's own shards
    (numbered below `new_shards`) by VERIFY_BLOCK, history shards by HISTORY_VERIFY_BLOCK."""
    new = [s for s in shards_a if s < new_shards]
    earlier = [s for s in shards_a if s >= new_shards]
    return [new[i : i + VERIFY_BLOCK] for i in range(0, len(new), VERIFY_BLOCK)] + [
        earlier[i : i + HISTORY_VERIFY_BLOCK] for i in range(0, len(earlier), HISTORY_VERIFY_BLOCK)
    ]


def verify_block(
    cfg: Config, output: str, run_id: str, candidates_path: str, feature_paths: Sequence[str], block: Sequence[int]
) -> str:
    """Verify the candidates whose first document is in one of the shards `block`; returns the path of the pairs.

    Two reads: the screening columns (signatures, shingles) of the rows candidates point at, which settle nearly
    every candidate, then the alignment columns (token hashes, offsets, quotes) of the rows in the pairs left to
    align. A shard outside the block is read only in the row groups candidates point into, and the block's own
    shards only when some of their candidates are not screened yet (history's come screened and go straight to
    alignment)."""
    run = store.RunStore(output, run_id)
    cands = pq.read_table(candidates_path, filters=[("shard_a", "in", list(block))])
    survivors: list[tuple[int, int, np.ndarray, np.ndarray, align.Screening]] = []
    for shard_b, on_b in _by_shard(cands.filter(pc.is_valid(cands.column("shared"))), "shard_b"):
        for shard_a, group in _by_shard(on_b, "shard_a"):
            rows_a, rows_b = group.column("row_a").to_numpy(), group.column("row_b").to_numpy()
            survivors.append((shard_a, shard_b, rows_a, rows_b, align.Screening.of_candidates(group)))
    unscreened = cands.filter(pc.is_null(cands.column("shared")))
    screened = {a: _shard_view(feature_paths[a], align.SCREENING_COLUMNS) for a, _ in _by_shard(unscreened, "shard_a")}
    for shard_b, on_b in _by_shard(unscreened, "shard_b"):
        if shard_b in screened:
            view_b, at_b = screened[shard_b], _identity
        else:
            view_b, at_b = _rows_view(feature_paths[shard_b], on_b.column("row_b").to_numpy(), align.SCREENING_COLUMNS)
        for shard_a, group in _by_shard(on_b, "shard_a"):
            rows_a, rows_b = group.column("row_a").to_numpy(), group.column("row_b").to_numpy()
            passages = group.column("from_passages").to_numpy(zero_copy_only=False)
            screening = align.screen(screened[shard_a], view_b, rows_a, at_b(rows_b), cfg.verify, passages)
            if screening.worth.any():
                keep = screening.worth
                survivors.append((shard_a, shard_b, rows_a[keep], rows_b[keep], screening.worth_aligning()))
    del screened
    # Alignment reads token hashes, offsets and quotes of the survivors only: what screening learnt of each pair
    # (shared shingles, sizes, same body) travels with it, so no shingle is read twice.
    wanted: dict[int, list[np.ndarray]] = defaultdict(list)
    for shard_a, shard_b, rows_a, rows_b, _ in survivors:
        wanted[shard_a].append(rows_a)
        wanted[shard_b].append(rows_b)
    views = {
        shard: _rows_view(feature_paths[shard], np.concatenate(rows), align.ALIGNMENT_COLUMNS)
        for shard, rows in sorted(wanted.items())
    }
    parts = []
    for shard_a, shard_b, rows_a, rows_b, screening in survivors:
        (view_a, at_a), (view_b, at_b) = views[shard_a], views[shard_b]
        parts.append(align.aligned_pairs(view_a, view_b, at_a(rows_a), at_b(rows_b), screening, cfg.verify, run_id))
    table = pa.concat_tables(parts) if parts else schema.empty(schema.PAIRS)
    return str(run.write_work(table, f"pairs-{block[0]:05d}.parquet"))


def _by_shard(candidates: pa.Table, column: str) -> Iterator[tuple[int, pa.Table]]:
    """(shard, its candidates) for each shard in `column` of the candidates, in shard order."""
    for shard in sorted(set(candidates.column(column).to_pylist())):
        yield shard, candidates.filter(pc.equal(candidates.column(column), shard))


def _identity(rows: np.ndarray) -> np.ndarray:
    return rows


def _rows_view(
    path: str, rows: np.ndarray, columns: list[str]
) -> tuple[align.FeatureView, Callable[[np.ndarray], np.ndarray]]:
    """A view of `columns` of the row groups holding `rows`, and a map from a row of the file to its
    place in the view."""
    wanted = np.unique(rows)
    table, positions = store.read_feature_rows(path, wanted, columns)
    return align.FeatureView.from_rows(table, positions), lambda r: np.searchsorted(wanted, r)


def _shard_view(path: str, columns: list[str]) -> align.FeatureView:
    """A view of `columns` of every row of a features shard."""
    rows = np.arange(pq.ParquetFile(path).metadata.num_rows)
    return align.FeatureView.from_rows(*store.read_rows(path, rows, columns))


def _start_worker() -> None:
    """A worker allocates as the command line does (`pipeline/arrowpool.py`), and loads each compiled kernel
    from numba's disk cache (0.1-0.5 s each) once, as it starts."""
    arrowpool.use_jemalloc()
    kernels.warm_up()


def _nothing() -> None:
    pass


class ShardPool:
    """Runs work items in `workers` spawned processes, or in the calling thread when there is one worker (small
    runs: a new process spends about two seconds on imports)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: Executor | None = None

    @property
    def processes(self) -> int:
        """Worker processes in use (0: work runs in the calling thread)."""
        return self.workers if self.workers > 1 else 0

    def __enter__(self) -> ShardPool:
        if self.workers > 1:
            # Spawned, not forked: the parent runs threads (Prefect's), and a fork copies their locks mid-use.
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=context, initializer=_start_worker
            )
            # Start every worker now (the executor starts them one submission at a time): their imports and
            # kernel loads then overlap what the caller does next instead of delaying the first shards.
            for _ in range(self.workers):
                self._executor.submit(_nothing)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def release(self) -> None:
        """Let the workers exit without waiting for them: the caller has no more work for them, and their shutdown
        then overlaps what it does next. Leaving the pool's context still waits for them."""
        if self._executor is not None:
            self._executor.shutdown(wait=False)

    def each(self, work: Callable[..., Any], items: Sequence[tuple[Any, ...]]) -> Iterator[Any]:
        """`work(*item)` for every item, results in item order, yielded as each is ready."""
        if self._executor is None:
            for item in items:
                yield work(*item)
            return
        futures = [self._executor.submit(work, *item) for item in items]
        for future in futures:
            yield future.result()
