"""History: the rows of earlier runs' features that can pair with a run's new documents.

Every run leaves its features (signatures, band keys, token hashes) in `output/_history/` and, beside each shard, a
passage index in `output/_passages/`. A later run reads history a batch of shards at a time, and only their band
keys, signatures and passage indexes, twice: first to count how many earlier documents hold each of the new
documents' sampled shingles (stock phrases are common and link nothing), then to keep the rows that would pass
verification's first test with a new document (a shared band key and enough agreeing signature values) or share
enough rare sampled shingles with one. Kept rows are not copied: a selection file lists them, and later stages
read only the columns and row groups they need from the history shards in place. Memory stays bounded by the batch
size, not the history size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import align, candidates, store
from pipeline.config import Config

# Runs `work(*item)` for each item and yields the results in item order (`parallel.ShardPool.each`).
Each = Callable[[Callable[..., Any], Sequence[tuple[Any, ...]]], Iterator[Any]]


def _serially(work: Callable[..., Any], items: Sequence[tuple[Any, ...]]) -> Iterator[Any]:
    for item in items:
        yield work(*item)


def prune(
    paths: list[Path],
    feature_paths: list[str],
    cfg: Config,
    run: store.RunStore,
    on_start: Callable[[int], None] = lambda steps: None,
    on_step: Callable[[], None] = lambda: None,
    each: Each = _serially,
) -> tuple[list[str], str | None]:
    """The kept rows of the history shards `paths` as selections (one per batch with any), and the path of the new
    documents' (`feature_paths`) sampled shingles that are common across history and new documents together; None
    when there is no history. Batches are matched by `each` (a worker pool's, to use its processes);
    `on_start(steps)` and `on_step()` report progress."""
    batches = _batches(paths)
    if not batches:
        return [], None
    on_start(2 * len(batches))
    c = cfg.candidates
    new = [pq.read_table(p, columns=["band_keys", "minhash", "shingles"]) for p in feature_paths]
    active = np.concatenate([candidates.has_shingles(t) for t in new])  # a document without shingles never pairs
    # No passage index without sampling: nothing to count or match by passage.
    sampled_fp, sampled_doc = candidates.sampled_across(new if c.passage_sample else [], c.passage_sample)
    values, df = np.unique(sampled_fp, return_counts=True)
    values_path = str(_write_arrays(run.work_path("new-sampled.npz"), values=values))
    for counts in each(batch_occurrences, [(batch, c.passage_sample, values_path) for batch in batches]):
        df += counts
        on_step()
    common = pa.table({"fingerprint": pa.array(values[df > c.passage_max_df], pa.uint64())})
    common_path = str(run.write_work(common, "common-shingles.parquet"))
    rare = candidates.in_sorted(values[df <= c.passage_max_df], sampled_fp)
    order = np.argsort(sampled_fp[rare], kind="stable")
    target_path = _write_arrays(
        run.work_path("match-target.npz"),
        keys=np.concatenate([candidates.band_key_matrix(t) for t in new])[active],
        minhash=np.concatenate([align.minhash_matrix(t) for t in new])[active],
        passage_fp=sampled_fp[rare][order],
        passage_doc=sampled_doc[rare][order],
    )
    items = [
        (batch, cfg, str(target_path), str(run.work_path(f"history-{number:05d}.parquet")))
        for number, batch in enumerate(batches)
    ]
    pruned = []
    for path in each(batch_selection, items):
        if path is not None:
            pruned.append(path)
        on_step()
    # Run in this process (one worker), the target stays cached until the next run: free it now.
    _target.cache_clear()
    _presence.cache_clear()
    _read_arrays.cache_clear()
    return pruned, common_path


def batch_occurrences(batch: list[tuple[Path, int, int]], sample: int, values_path: str) -> np.ndarray:
    """How many documents of a batch of history shards hold each of the new documents' sampled shingles."""
    values = _read_arrays(values_path)["values"]
    return candidates.occurrences(values, passage_fingerprints(batch, sample), _presence(values_path))


def batch_selection(batch: list[tuple[Path, int, int]], cfg: Config, target_path: str, out_path: str) -> str | None:
    """The selection of a batch's rows that can pair with a new document (see `candidates.history_rows`), written
    to `out_path`; None when no row can."""
    c = cfg.candidates
    target = _target(target_path)
    signed = pa.concat_tables([pq.read_table(p, columns=["band_keys", "minhash"]) for p, _, _ in batch])
    fingerprints, rows = passage_entries(batch, c.passage_sample)
    hit = candidates.history_rows(
        candidates.band_key_matrix(signed),
        align.minhash_matrix(signed),
        fingerprints,
        rows,
        target,
        c.max_bucket_size,
        cfg.verify.min_signature_matches,
        c.passage_min_shared,
    )
    # Kept rows stay where they are: later stages read them through a selection, only the columns they need. The
    # selection carries what candidates need (band keys, already in memory, and sampled shingles), so that stage
    # reads no history shard at all.
    kept = [(str(path), np.flatnonzero(hit[start:end])) for path, start, end in batch if hit[start:end].any()]
    if not kept:
        return None
    # Of the sampled shingles, only those some new document holds as a rare one can make a passage candidate.
    of_kept = np.flatnonzero(hit[rows])
    relevant = of_kept[candidates.in_sorted(target.passage_fp, fingerprints[of_kept], target.passage_filter)]
    own = {
        "band_keys": signed.column("band_keys").take(pa.array(np.flatnonzero(hit))),
        candidates.SAMPLED: _sampled_of(hit, fingerprints[relevant], rows[relevant]),
    }
    return str(store.write_selection(Path(out_path), kept, own))


def _write_arrays(path: Path, **arrays: np.ndarray) -> Path:
    """Arrays handed to the batch workers (uncompressed: written once, loaded once per worker process)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        np.savez(fh, **arrays)
    return path


@lru_cache(maxsize=2)
def _read_arrays(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


@lru_cache(maxsize=2)
def _presence(values_path: str) -> np.ndarray:
    """The presence filter of the sorted values in `values_path`, built once per worker process."""
    return candidates.presence_filter(_read_arrays(values_path)["values"])


@lru_cache(maxsize=2)
def _target(path: str) -> candidates.MatchTarget:
    """The match target of a run, loaded once per worker process (its sorted keys and filters are built once too)."""
    return candidates.MatchTarget(**_read_arrays(path))


# History rows matched at once: numpy calls on one 2,000-row shard cost more in call overhead than in work, while a
# batch this size holds ~25 MB of band keys and signatures.
HISTORY_BATCH_ROWS = 1 << 15


def _batches(paths: list[Path]) -> list[list[tuple[Path, int, int]]]:
    """Consecutive history shards in batches of at most HISTORY_BATCH_ROWS rows (a larger shard alone), each shard
    with the range of batch rows it holds."""
    batches: list[list[tuple[Path, int, int]]] = []
    rows = 0
    for path in paths:
        n = pq.ParquetFile(path).metadata.num_rows
        if not batches or rows + n > HISTORY_BATCH_ROWS:
            batches.append([])
            rows = 0
        batches[-1].append((path, rows, rows + n))
        rows += n
    return batches


def _sampled_of(hit: np.ndarray, fingerprints: np.ndarray, rows: np.ndarray) -> pa.ListArray:
    """The sampled shingles of each row of a batch that `hit` marks, in row order, from the batch's passage
    entries (`fingerprints` of `rows`)."""
    mine = hit[rows]
    position = (np.cumsum(hit) - 1)[rows[mine]]  # the row's place among the kept ones
    order = np.argsort(position)  # a row's shingles may come in any order
    offsets = np.concatenate([[0], np.cumsum(np.bincount(position, minlength=int(hit.sum())))])
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(fingerprints[mine][order]))


def passage_entries(batch: list[tuple[Path, int, int]], sample: int) -> tuple[np.ndarray, np.ndarray]:
    """The sampled shingle fingerprints of a batch of history shards and their rows (numbered across the batch):
    each shard's persisted passage index, or sampled from its shingles when it has none for this sampling (shards
    of older versions or other settings)."""
    if not sample:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    fingerprints, rows = [], []
    for path, start, _ in batch:
        index = store.read_passage_index(path, sample)
        if index is None:
            fp, row = candidates.sampled_shingles(pq.read_table(path, columns=["shingles"]), sample)
        else:
            fp, row = index.column("fingerprint").to_numpy(), index.column("row").to_numpy()
        fingerprints.append(fp)
        rows.append(row.astype(np.int64) + start)
    return np.concatenate(fingerprints), np.concatenate(rows)


def passage_fingerprints(batch: list[tuple[Path, int, int]], sample: int) -> np.ndarray:
    """The fingerprints of `passage_entries` alone (counting them needs no rows: a third less to read)."""
    if not sample:
        return np.zeros(0, dtype=np.uint64)
    fingerprints = []
    for path, _, _ in batch:
        index = store.read_passage_index(path, sample, columns=["fingerprint"])
        if index is None:
            fp, _ = candidates.sampled_shingles(pq.read_table(path, columns=["shingles"]), sample)
        else:
            fp = index.column("fingerprint").to_numpy()
        fingerprints.append(fp)
    return np.concatenate(fingerprints)
