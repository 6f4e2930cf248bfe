"""History: the candidate pairs of a run's new documents with earlier runs' documents, screened where they lie.

Every run leaves its features (signatures, band keys, shingles) in `output/_history/` and, beside each shard, a
passage index in `output/_passages/` and its token columns in `output/_tokens/`. A later run reads history a batch
of shards at a time, twice: first the passage indexes, to count how many earlier documents hold each of the new
documents' sampled shingles (stock phrases are common and link nothing), noting which rows hold which; then band
keys and signatures, to find each batch's candidate pairs with new documents (a shared band key and enough
agreeing signature values, or enough rare sampled shingles in common). The batch then screens its pairs at once
against the new documents' shingles, reading only the row groups that hold them: nearly every candidate stops
there (stock phrases shared by chance), so what leaves history is the few pairs worth aligning, as candidates on
the history shards in place. Memory stays bounded by the batch size and the run's new documents, not by the
history size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import align, candidates, schema, store
from pipeline.config import Config

# Runs `work(*item)` for each item and yields the results in item order (`parallel.ShardPool.each`).
Each = Callable[[Callable[..., Any], Sequence[tuple[Any, ...]]], Iterator[Any]]


def _serially(work: Callable[..., Any], items: Sequence[tuple[Any, ...]]) -> Iterator[Any]:
    for item in items:
        yield work(*item)


@dataclass
class HistoryMatch:
    """What matching the new documents against history found."""

    shards: list[str] = field(default_factory=list)  # history shards holding a row of a candidate pair
    # Candidates (schema.CANDIDATES) with a row of `shards` as `a` (shard numbered in that list) and a new document
    # as `b` (shard numbered among the new shards), screened already; None without history.
    candidates: str | None = None
    common: str | None = None  # new documents' sampled shingles common across history and new documents together
    rows: int = 0  # history rows in a candidate pair before screening
    pairs: int = 0  # candidate pairs before screening


def match(
    paths: list[Path],
    feature_paths: list[str],
    cfg: Config,
    run: store.RunStore,
    on_start: Callable[[int], None] = lambda steps: None,
    on_step: Callable[[], None] = lambda: None,
    each: Each = _serially,
) -> HistoryMatch:
    """The screened candidate pairs of the new documents (`feature_paths`) with the history shards `paths`.
    Batches are matched by `each` (a worker pool's, to use its processes); `on_start(steps)` and `on_step()`
    report progress."""
    batches = _batches(paths)
    if not batches:
        return HistoryMatch()
    on_start(2 * len(batches))
    c = cfg.candidates
    new = [pq.read_table(p, columns=["band_keys", "minhash", "shingles", "body_hash"]) for p in feature_paths]
    active = np.concatenate([candidates.has_shingles(t) for t in new])  # a document without shingles never pairs
    place = np.cumsum(active) - 1  # a new document's number among those with shingles
    # No passage index without sampling: nothing to count or match by passage.
    sampled_fp, sampled_doc = candidates.sampled_across(new if c.passage_sample else [], c.passage_sample)
    values, df = np.unique(sampled_fp, return_counts=True)
    values_path = str(_write_arrays(run.work_path("new-sampled.npz"), values=values))
    entries = [str(run.work_path(f"history-entries-{number:05d}.npz")) for number in range(len(batches))]
    items = [
        (batch, c.passage_sample, c.passage_max_df, values_path, path)
        for batch, path in zip(batches, entries, strict=True)
    ]
    for counts in each(batch_occurrences, items):
        df += counts
        on_step()
    common = pa.table({"fingerprint": pa.array(values[df > c.passage_max_df], pa.uint64())})
    common_path = str(run.write_work(common, "common-shingles.parquet"))
    holders, held = _rare_holders(values, df <= c.passage_max_df, sampled_fp)
    target_path = _write_arrays(
        run.work_path("match-target.npz"),
        keys=np.concatenate([candidates.band_key_matrix(t) for t in new])[active],
        minhash=np.concatenate([align.minhash_matrix(t) for t in new])[active],
        passage_offsets=holders,
        passage_docs=place[sampled_doc[held]],
    )
    view_path = _write_arrays(run.work_path("match-view.npz"), **_screening_arrays(new, active))
    items = [
        (batch, cfg, str(target_path), str(view_path), entries[n], str(run.work_path(f"history-{n:05d}.parquet")))
        for n, batch in enumerate(batches)
    ]
    found, rows, pairs = [], 0, 0
    for path, batch_rows, batch_pairs in each(batch_candidates, items):
        if path is not None:
            found.append(pq.read_table(path))
        rows, pairs = rows + batch_rows, pairs + batch_pairs
        on_step()
    # Run in this process (one worker), the arrays stay cached until the next run: free them now.
    for cached in (_target, _new_view, _presence, _read_arrays):
        cached.cache_clear()
    starts = np.cumsum([0] + [t.num_rows for t in new])
    shards, table = _history_candidates(found, np.flatnonzero(active), starts)
    return HistoryMatch(shards, str(run.write_work(table, "history-candidates.parquet")), common_path, rows, pairs)


def _rare_holders(values: np.ndarray, rare: np.ndarray, sampled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of `values` (sorted, distinct; `rare` flags each), the entries of `sampled` (the new documents'
    sampled shingles, one entry per document holding one) that hold it, rare values only: entries
    held[offsets[v] : offsets[v + 1]] hold value v."""
    value = np.searchsorted(values, sampled)
    held = np.flatnonzero(rare[value])
    held = held[np.argsort(value[held], kind="stable")]
    return np.concatenate([[0], np.cumsum(np.bincount(value[held], minlength=len(values)))]), held


def _screening_arrays(new: list[pa.Table], active: np.ndarray) -> dict[str, np.ndarray]:
    """The shingles (values and offsets) and body hashes of the `active` rows across the new features tables: what
    screening reads of the new side of a pair (`_new_view`)."""
    chunks = [chunk for table in new for chunk in table.column("shingles").chunks]
    values, offsets = align.gathered_lists(pa.chunked_array(chunks), np.flatnonzero(active))
    hashes = np.concatenate([table.column("body_hash").to_numpy() for table in new])[active]
    return {"shingle_values": values, "shingle_offsets": offsets, "body_hashes": hashes}


def _history_candidates(found: list[pa.Table], docs: np.ndarray, starts: np.ndarray) -> tuple[list[str], pa.Table]:
    """The history shards the batches' survivors (`found`) lie in, and the survivors as candidates: the history
    row as `a`, the new document as `b` (`docs` maps its number among those with shingles to its row across the new
    shards, which start at `starts`)."""
    if not found:
        return [], schema.empty(schema.CANDIDATES)
    table = pa.concat_tables(found)
    shards = sorted(set(table.column("history").to_pylist()))
    new_row = docs[table.column("new").to_numpy()]
    shard_b = np.searchsorted(starts, new_row, side="right") - 1
    columns = {
        "shard_a": pc.index_in(table.column("history"), value_set=pa.array(shards)).cast(pa.int32()),
        "row_a": table.column("row"),
        "shard_b": pa.array(shard_b.astype(np.int32)),
        "row_b": pa.array((new_row - starts[shard_b]).astype(np.int32)),
        "from_passages": table.column("from_passages"),
        "shared": table.column("shared"),
        "size_a": table.column("size_history"),
        "size_b": table.column("size_new"),
        "same_body": table.column("same_body"),
    }
    return shards, pa.table(columns, schema=schema.CANDIDATES).sort_by(
        [("shard_a", "ascending"), ("shard_b", "ascending"), ("row_a", "ascending"), ("row_b", "ascending")]
    )


def batch_occurrences(
    batch: list[tuple[Path, int, int]], sample: int, max_df: int, values_path: str, entries_path: str
) -> np.ndarray:
    """How many documents of a batch of history shards hold each of the new documents' sampled shingles (`values`);
    which rows hold which is written to `entries_path` (`rows`, `values`: numbers of the batch row and the value)
    for the batch's matching pass, which then reads no passage index again. Values this batch alone holds more than
    `max_df` times are common whatever the rest holds: their rows are left out."""
    values = _read_arrays(values_path)["values"]
    fingerprints, rows = passage_entries(batch, sample)
    found, value = candidates.value_matches(values, fingerprints, _presence(values_path))
    counts = np.bincount(value, minlength=len(values))
    rare = counts[value] <= max_df
    _write_arrays(Path(entries_path), rows=rows[found[rare]].astype(np.int32), values=value[rare].astype(np.int32))
    return counts


def batch_candidates(
    batch: list[tuple[Path, int, int]], cfg: Config, target_path: str, view_path: str, entries_path: str, out_path: str
) -> tuple[str | None, int, int]:
    """A batch's candidate pairs with the new documents (`candidates.history_pairs`, its sampled shingles that
    new documents hold read from `entries_path`) that screening finds worth aligning, written to `out_path`
    (`schema.HISTORY_SURVIVORS`); returns that path (None when no pair survives), and the batch rows and pairs
    screened."""
    c = cfg.candidates
    entries = _read_entries(entries_path)
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(pq.ParquetFile(path)) for path, _, _ in batch]  # for signatures, then shingles
        signed = pa.concat_tables([file.read(columns=["band_keys", "minhash"]) for file in files])
        minhash = align.minhash_matrix(signed)
        old, new, from_passages = candidates.history_pairs(
            candidates.band_key_matrix(signed),
            minhash,
            entries["rows"],
            entries["values"],
            _target(target_path),
            c.max_bucket_size,
            cfg.verify.min_signature_matches,
            c.passage_min_shared,
        )
        s = _screening(batch, files, old, new, from_passages, minhash, _new_view(view_path, target_path), cfg)
    parts = []
    for path, start, end in batch:
        lo, hi = np.searchsorted(old, [start, end])
        mine = lo + np.flatnonzero(s.worth[lo:hi])
        if len(mine):
            columns = [[str(path)] * len(mine), old[mine] - start, new[mine], from_passages[mine]]
            columns += [s.shared[mine], s.size_b[mine], s.size_a[mine], s.same_body[mine]]
            parts.append(pa.Table.from_arrays([pa.array(x) for x in columns], schema=schema.HISTORY_SURVIVORS))
    counts = len(np.unique(old)), len(old)
    if not parts:
        return None, *counts
    return str(store.write_parquet(pa.concat_tables(parts), Path(out_path))), *counts


def _screening(
    batch: list[tuple[Path, int, int]],
    files: list[pq.ParquetFile],
    old: np.ndarray,
    new: np.ndarray,
    from_passages: np.ndarray,
    minhash: np.ndarray,
    new_view: align.FeatureView,
    cfg: Config,
) -> align.Screening:
    """`align.screen` of each pair (batch row `old` as a, new document `new` as b; `old` sorted), reading of each
    history shard only the shingles and body hashes of the row groups its pairs point into."""
    parts = [align.Screening(*(np.zeros(0, dtype=t) for t in (bool, np.int64, np.int64, np.int64, bool)))]
    for (_, start, end), file in zip(batch, files, strict=True):
        lo, hi = np.searchsorted(old, [start, end])
        if lo == hi:
            continue
        wanted = np.unique(old[lo:hi]) - start
        table, positions = store.read_rows(file, wanted, ["body_hash", "shingles"])
        view = align.FeatureView.from_rows(table, positions)
        view.minhash = minhash[wanted + start]  # read already
        at = np.searchsorted(wanted, old[lo:hi] - start)
        parts.append(align.screen(view, new_view, at, new[lo:hi], cfg.verify, from_passages[lo:hi]))
    return align.Screening(*(np.concatenate([getattr(p, f) for p in parts]) for f in align.Screening.FIELDS))


def _write_arrays(path: Path, **arrays: np.ndarray) -> Path:
    """Arrays handed to the batch workers (uncompressed: written once, loaded once per worker process)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        np.savez(fh, **arrays)
    return path


def _load_arrays(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


@lru_cache(maxsize=2)
def _read_arrays(path: str) -> dict[str, np.ndarray]:
    """Arrays every batch of a worker reads (`_write_arrays`), loaded once per worker process."""
    return _load_arrays(path)


def _read_entries(path: str) -> dict[str, np.ndarray]:
    """A batch's entries (see `batch_occurrences`), read once: the file is deleted, it serves no one else."""
    entries = _load_arrays(path)
    Path(path).unlink()
    return entries


@lru_cache(maxsize=2)
def _presence(values_path: str) -> np.ndarray:
    """The presence filter of the sorted values in `values_path`, built once per worker process."""
    return candidates.presence_filter(_read_arrays(values_path)["values"])


@lru_cache(maxsize=2)
def _target(path: str) -> candidates.MatchTarget:
    """The match target of a run, loaded once per worker process (its sorted keys and filters are built once too)."""
    return candidates.MatchTarget(**_read_arrays(path))


@lru_cache(maxsize=2)
def _new_view(path: str, target_path: str) -> align.FeatureView:
    """The new documents' shingles, body hashes and signatures (those with shingles, numbered as in the match
    target), loaded once per worker process: what screening reads of the new side of every pair."""
    return align.FeatureView(doc_ids=[], minhash=_target(target_path).minhash, **_read_arrays(path))


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
            fp, row = candidates.sampled_shingles(store.read_file(path, ["shingles"]), sample)
        else:
            fp, row = index.column("fingerprint").to_numpy(), index.column("row").to_numpy()
        fingerprints.append(fp)
        rows.append(row.astype(np.int64) + start)
    return np.concatenate(fingerprints), np.concatenate(rows)
