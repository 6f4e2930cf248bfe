"""Store: Parquet tables under one output folder, written atomically, one file set per run.

Layout (DuckDB reads each table with one glob, e.g. `read_parquet('output/pairs/*.parquet')`):

    output/<table>/<run_id>[-<part>].parquet   committed tables (documents, pairs, clusters, ...)
    output/_staging/<run_id>/                  a run's files while it is running; never read by queries

Every file is written under a temporary name and renamed. A run's table files move from staging into place only at
commit, and its `runs` row is written last, so `runs` lists exactly the runs whose rows are complete. A run killed
before commit leaves only its staging folder, which the next run removes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import schema

STAGING = "_staging"
WORK = "_work"
COMMITTING = "COMMITTING"  # in a run's staging folder: its commit has begun and must be finished
RUN_ROW = "run.parquet"  # the run's `runs` row, waiting in staging until the tables are in place
# Matching features of committed runs (signatures, band keys, token hashes): what later runs match new documents
# against. Internal, not part of the output contract; committed with the run like a table.
HISTORY = "_history"
# Beside each history shard, its sampled shingle fingerprints sorted, with their rows: what a later run's passage
# search reads instead of every shingle of every earlier document.
PASSAGES = "_passages"
# Beside each history shard, its `schema.TOKEN_COLUMNS` in small row groups: alignment reads a few rows of many
# shards (shards written before these files existed hold the columns themselves).
TOKENS = "_tokens"


LOCK = ".wiretrace.lock"


class OutputLocked(RuntimeError):
    """Another live wiretrace run is writing to the same output folder."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


class OutputLock:
    """Exclusive use of an output folder by one run: a lock file created atomically, holding the owner's pid and
    host. A lock whose process is gone (killed, machine restarted) is stale and is taken over."""

    def __init__(self, root: str | Path, run_id: str) -> None:
        self.path = Path(root) / LOCK
        self.run_id = run_id

    def holder(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def is_stale(self, holder: dict[str, Any] | None) -> bool:
        if holder is None:
            return True  # unreadable: its writer died between creating and filling it
        return holder.get("host") == socket.gethostname() and not _pid_alive(int(holder.get("pid", -1)))

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self.holder()
                if not self.is_stale(holder):
                    raise OutputLocked(
                        f"{self.path.parent} is in use by wiretrace run {holder.get('run_id')} "
                        f"(pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}); wait for "
                        f"it to finish, or delete {self.path} if that process is gone"
                    ) from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(
                    {
                        "pid": os.getpid(),
                        "host": socket.gethostname(),
                        "run_id": self.run_id,
                        "started": datetime.now(UTC).isoformat(timespec="seconds"),
                    },
                    fh,
                )
            return
        raise OutputLocked(f"could not take the lock {self.path}")

    def release(self) -> None:
        holder = self.holder()
        if holder is not None and holder.get("pid") == os.getpid() and holder.get("run_id") == self.run_id:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def check_unlocked(root: str | Path) -> None:
    """Raise OutputLocked when a live run holds `root` (a fast check before starting work)."""
    lock = OutputLock(root, "")
    holder = lock.holder()
    if lock.path.exists() and not lock.is_stale(holder):
        raise OutputLocked(
            f"{Path(root)} is in use by wiretrace run {holder.get('run_id')} (pid {holder.get('pid')}, "
            f"started {holder.get('started')}); wait for it to finish"
        )


def new_run_id(now: datetime | None = None) -> str:
    """A run id that sorts by start time: 20261121T231500Z-1a2b3c."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def write_parquet(
    table: pa.Table, path: Path, row_group_size: int | None = None, compression: str = "zstd", dictionary: bool = True
) -> Path:
    """Write `table` to `path` atomically (temporary file in the same folder, then rename).

    Dictionary encoding suits the analysts' tables (sources, relations, run ids repeat); hash and offset columns
    never repeat, and without it their files are about a quarter smaller and faster to write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        pq.write_table(table, tmp, compression=compression, row_group_size=row_group_size, use_dictionary=dictionary)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_parquet(path: str | Path) -> pa.Table:
    return pq.read_table(path)


class RunStore:
    """One run's view of an output folder: where its staged and work files go, and its commit."""

    def __init__(self, root: str | Path, run_id: str) -> None:
        self.root = Path(root)
        self.run_id = run_id
        self.staging = self.root / STAGING / run_id

    def prepare(self) -> None:
        """Create the folders and settle what earlier runs left behind: a run killed during its commit is rolled
        forward (its files were complete), a run killed before it is discarded."""
        self.root.mkdir(parents=True, exist_ok=True)
        leftovers = self.root / STAGING
        if leftovers.exists():
            for stale in sorted(leftovers.iterdir()):
                if stale.name == self.run_id:
                    continue
                if (stale / COMMITTING).exists():
                    RunStore(self.root, stale.name)._finish_commit()
                else:
                    shutil.rmtree(stale, ignore_errors=True)
        self.staging.mkdir(parents=True, exist_ok=True)

    def work_path(self, name: str) -> Path:
        """A path for intermediate files (features, candidates) that never leave staging."""
        return self.staging / WORK / name

    def write_work(self, table: pa.Table, name: str, row_group_size: int | None = None) -> Path:
        """Write an intermediate file: read once or twice within the run, then deleted, so fast lz4 rather than
        small zstd."""
        return write_parquet(table, self.work_path(name), row_group_size, compression="lz4", dictionary=False)

    def staged_path(self, table: str, part: str | None = None) -> Path:
        """Where a committed-to-be file of `table` is staged."""
        if table not in schema.OUTPUT_TABLES:
            raise ValueError(f"unknown output table {table!r}")
        name = f"{self.run_id}-{part}.parquet" if part else f"{self.run_id}.parquet"
        return self.staging / table / name

    def history_path(self, part: str) -> Path:
        """Where a features shard is written: it serves this run's matching and, once committed, later runs'."""
        return self.staging / HISTORY / f"{self.run_id}-{part}.parquet"

    def passage_index_path(self, part: str) -> Path:
        """Where a features shard's passage index is written (committed with it)."""
        return self.staging / PASSAGES / f"{self.run_id}-{part}.parquet"

    def tokens_path(self, part: str) -> Path:
        """Where a features shard's token columns are written (committed with it)."""
        return self.staging / TOKENS / f"{self.run_id}-{part}.parquet"

    def stage(self, table: str, data: pa.Table, part: str | None = None) -> Path:
        expected = schema.OUTPUT_TABLES[table]
        if not data.schema.equals(expected):
            for field in expected:  # columns a producer leaves out are null, never silently renamed
                if field.name not in data.column_names:
                    data = data.append_column(field, pa.nulls(data.num_rows, field.type))
            data = data.select(expected.names).cast(expected)
        return write_parquet(data, self.staged_path(table, part))

    def commit(self, run_row: dict[str, Any]) -> None:
        """Publish the run: record its `runs` row in staging and mark the commit as started (one atomic rename),
        then move every staged table file into place and write the `runs` row last. A run killed after the mark is
        finished by the next run's `prepare` (roll forward), so no table keeps half a run."""
        write_parquet(run_table(run_row), self.staging / RUN_ROW)
        marker = self.staging / COMMITTING
        tmp = marker.with_name(f".{COMMITTING}.tmp")
        tmp.write_text(self.run_id, encoding="utf-8")
        os.replace(tmp, marker)
        self._finish_commit()

    def _finish_commit(self) -> None:
        for table in [*schema.OUTPUT_TABLES, HISTORY, PASSAGES, TOKENS]:
            if table == "runs":
                continue
            staged = self.staging / table
            if not staged.exists():
                continue
            target = self.root / table
            target.mkdir(parents=True, exist_ok=True)
            for file in sorted(staged.glob("*.parquet")):
                os.replace(file, target / file.name)
        (self.root / "runs").mkdir(parents=True, exist_ok=True)
        row = self.staging / RUN_ROW
        if row.exists():
            os.replace(row, self.root / "runs" / f"{self.run_id}.parquet")
        shutil.rmtree(self.staging, ignore_errors=True)
        parent = self.root / STAGING
        if parent.exists() and not any(parent.iterdir()):
            parent.rmdir()


def run_table(row: dict[str, Any]) -> pa.Table:
    encoded = dict(row)
    for key in ("counts", "config", "versions"):
        if not isinstance(encoded.get(key), str):
            encoded[key] = json.dumps(encoded.get(key) or {}, sort_keys=True, default=str)
    return pa.Table.from_pylist([encoded], schema=schema.RUNS)


def table_globs(root: str | Path) -> dict[str, str]:
    """The glob DuckDB reads for each output table under `root`."""
    return {table: str(Path(root) / table / "*.parquet") for table in schema.OUTPUT_TABLES}


def _id_table(doc_ids: list[str]) -> pa.Table:
    return pa.table({"doc_id": pa.array(sorted(set(doc_ids)), pa.string())})


def _duckdb_source(root: Path, table: str) -> str | None:
    """The `read_parquet(...)` expression over a committed table's files; None while it has none."""
    if not list((root / table).glob("*.parquet")):
        return None
    return "read_parquet('" + str(root / table / "*.parquet").replace("'", "''") + "', union_by_name=true)"


def _committed(root: Path, table: str, columns: str) -> list[tuple]:
    import duckdb

    source = _duckdb_source(root, table)
    return [] if source is None else duckdb.sql(f"SELECT {columns} FROM {source}").fetchall()


def history_files(root: str | Path, days: int, expected: pa.Schema, now: datetime | None = None) -> list[Path]:
    """Features shards of the committed runs that finished within the last `days` days and were made with the
    same signature settings (`expected`, a features schema: a shard of other settings cannot be compared and is left
    out; where the token columns are kept does not matter)."""
    root = Path(root)
    now = now or datetime.now(UTC)
    recent = {
        run_id
        for run_id, finished in _committed(root, "runs", "run_id, finished_at")
        if finished is not None and (now - finished).total_seconds() <= days * 86400
    }
    files, wanted = [], schema.matching_fields(expected)
    for path in sorted((root / HISTORY).glob("*.parquet")) if (root / HISTORY).exists() else []:
        if path.name.rsplit("-", 1)[0] in recent and schema.matching_fields(pq.read_schema(path)).equals(wanted):
            files.append(path)
    return files


def read_passage_index(features_path: str | Path, sample: int, columns: list[str] | None = None) -> pa.Table | None:
    """The passage index (its `columns`, default all) written beside a history shard, or None when there is none or
    it samples one shingle in another number than `sample` (shards from older versions or other settings: the
    caller samples the shingles)."""
    path = beside(features_path, PASSAGES)
    if not path.exists():
        return None
    table = read_file(path, columns)
    metadata = table.schema.metadata or {}
    return table if metadata.get(b"passage_sample") == str(sample).encode() else None


def read_file(path: str | Path, columns: list[str] | None = None) -> pa.Table:
    """The `columns` (default all) of one Parquet file: `pq.read_table` without its dataset layer, whose cost per
    call adds up over the thousands of files a run against a large history reads."""
    with pq.ParquetFile(path) as file:
        return file.read(columns=columns)


def beside(features_path: str | Path, folder: str) -> Path:
    """The file of the same name in `folder` (`PASSAGES`, `TOKENS`) beside a features shard's folder."""
    return Path(features_path).parent.parent / folder / Path(features_path).name


def read_feature_rows(path: str | Path, rows: np.ndarray, columns: list[str]) -> tuple[pa.Table, np.ndarray]:
    """`read_rows` of a features shard, its token columns (and the ids beside them) read from their own file when
    it has one: then the table holds exactly `rows`, in order."""
    side = beside(path, TOKENS)
    if not set(columns) & set(schema.TOKEN_COLUMNS) or not side.exists():
        return read_rows(path, rows, columns)
    tokens = [c for c in columns if c in schema.TOKENS_FILE_COLUMNS]
    rest = [c for c in columns if c not in tokens]
    parts = [read_rows(side, rows, tokens)] + ([read_rows(path, rows, rest)] if rest else [])
    picked = [table.take(pa.array(at)) for table, at in parts]
    out = {name: t.column(name) for t in picked for name in t.column_names}
    return pa.table({name: out[name] for name in columns}), np.arange(len(rows))


def read_rows(
    path: str | Path | pq.ParquetFile, rows: np.ndarray, columns: list[str] | None = None
) -> tuple[pa.Table, np.ndarray]:
    """The row groups of a Parquet file (a path or a file open already) that hold `rows`, and where each of `rows`
    sits in what was read: a shard another shard's candidates point into is read only where they point."""
    file = path if isinstance(path, pq.ParquetFile) else pq.ParquetFile(path)
    sizes = np.array([file.metadata.row_group(g).num_rows for g in range(file.num_row_groups)], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    rows = np.asarray(rows, dtype=np.int64)
    group_of = np.searchsorted(starts, rows, side="right") - 1
    groups = np.unique(group_of)
    read_start = np.zeros(len(sizes), dtype=np.int64)
    read_start[groups] = np.cumsum(sizes[groups]) - sizes[groups]
    table = file.read_row_groups(groups.tolist(), columns=columns)
    return table, read_start[group_of] + rows - starts[group_of]


def committed_rows(root: str | Path, table: str, doc_ids: list[str], columns: list[str] | None = None) -> pa.Table:
    """The committed rows of `table` (which has a `doc_id` column) for `doc_ids`."""
    import duckdb

    fields = columns or schema.OUTPUT_TABLES[table].names
    target = pa.schema([schema.OUTPUT_TABLES[table].field(c) for c in fields])
    source = _duckdb_source(Path(root), table)
    if source is None or not doc_ids:
        return target.empty_table()
    wanted = _id_table(doc_ids)  # noqa: F841 (read by DuckDB)
    select = ", ".join(f't."{c}"' for c in fields)
    return _arrow(duckdb.sql(f"SELECT {select} FROM {source} t JOIN wanted USING (doc_id)")).cast(target)


def current_clusters(root: str | Path, doc_ids: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The current cluster of every member of the committed clusters that hold any of `doc_ids` (a document's
    current cluster is the one of the latest run that placed it), and the run each of those clusters first
    appeared in."""
    import duckdb

    clusters = _duckdb_source(Path(root), "clusters")
    if clusters is None or not doc_ids:
        return {}, {}
    wanted = _id_table(doc_ids)  # noqa: F841 (read by DuckDB)
    rows = duckdb.sql(
        f"""
        WITH placed AS (SELECT doc_id, arg_max(cluster_id, run_id) AS cluster_id FROM {clusters} GROUP BY doc_id),
             touched AS (SELECT DISTINCT cluster_id FROM placed JOIN wanted USING (doc_id)),
             born AS (SELECT cluster_id, min(run_id) AS first_run FROM {clusters} GROUP BY cluster_id)
        SELECT p.doc_id, p.cluster_id, b.first_run
        FROM placed p JOIN touched USING (cluster_id) JOIN born b USING (cluster_id)
        """
    ).fetchall()
    return {d: c for d, c, _ in rows}, {c: r for _, c, r in rows}


def committed_pairs(root: str | Path, doc_ids: list[str], columns: list[str] | None = None) -> pa.Table:
    """Committed `pairs` rows between two of `doc_ids`: their `columns` (default all; fewer read faster, the spans
    above all)."""
    import duckdb

    target = pa.schema([schema.PAIRS.field(c) for c in columns or schema.PAIRS.names])
    pairs = _duckdb_source(Path(root), "pairs")
    if pairs is None or not doc_ids:
        return target.empty_table()
    wanted = _id_table(doc_ids)  # noqa: F841 (read by DuckDB)
    select = ", ".join(f'p."{c}"' for c in target.names)
    out = duckdb.sql(
        f"""SELECT {select} FROM {pairs} p
        WHERE p.doc_id_a IN (SELECT doc_id FROM wanted) AND p.doc_id_b IN (SELECT doc_id FROM wanted)"""
    )
    return _arrow(out).cast(target)


class CommittedTexts:
    """Which of a batch of document ids the committed runs of `root` hold, with the hash of their text (called with
    the ids, as `ingest.shards` does once per shard).

    Holds one sorted array of id hashes (DuckDB's `hash`, computed by the same process for committed and asked
    ids) beside the committed ids as Arrow strings, instead of a Python dict of every committed id built again on
    every run."""

    def __init__(self, root: str | Path) -> None:
        import duckdb

        self._con = duckdb.connect()
        source = _duckdb_source(Path(root), "documents")
        self._keys = np.zeros(0, dtype=np.uint64)
        if source is None:
            return
        # Sorted by DuckDB's parallel sort: numpy's argsort of a million keys took longer than the query.
        table = _arrow(self._con.sql(f"SELECT hash(doc_id) AS key, doc_id, text_hash FROM {source} ORDER BY key"))
        self._keys = table.column("key").to_numpy()
        self._ids, self._hashes = table.column("doc_id"), table.column("text_hash")

    def __len__(self) -> int:
        return len(self._keys)

    def __call__(self, doc_ids: list[str]) -> dict[str, int]:
        if not len(self._keys) or not doc_ids:
            return {}
        asked = pa.table({"doc_id": pa.array(doc_ids, pa.string())})
        keys = _arrow(self._con.from_arrow(asked).project("hash(doc_id) AS key")).column("key").to_numpy()
        position = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        found: dict[str, int] = {}
        # Equal hashes are confirmed on the ids themselves (64-bit collisions are rare, not impossible).
        for i in np.flatnonzero(self._keys[position] == keys).tolist():
            at = int(position[i])
            while at < len(self._keys) and self._keys[at] == keys[i]:
                if self._ids[at].as_py() == doc_ids[i] and self._hashes[at].is_valid:
                    found[doc_ids[i]] = self._hashes[at].as_py()
                    break
                at += 1
        return found


def _arrow(relation: Any) -> pa.Table:
    """A DuckDB relation's result as one Arrow table (newer DuckDB returns a record batch reader)."""
    out = relation.arrow()
    return out.read_all() if hasattr(out, "read_all") else out


def file_fingerprint(path: Path) -> tuple[int, datetime, int]:
    """(size, mtime, xxh3 of the bytes) of an input file, read in 1 MB blocks."""
    import xxhash

    digest = xxhash.xxh3_64()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    stat = path.stat()
    return stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC), digest.intdigest()


def _ledger(root: str | Path) -> dict[str, set[tuple[int, datetime, int]]]:
    """path -> the (size, mtime, content hash) versions of it committed runs of `root` have read."""
    known: dict[str, set[tuple[int, datetime, int]]] = {}
    for path, size, mtime, content in _committed(Path(root), "ledger", "path, size, mtime, content_hash"):
        known.setdefault(path, set()).add((size, mtime, content))
    return known


def _unchanged(file: Path, known: dict[str, set[tuple[int, datetime, int]]]) -> tuple[bool, str, os.stat_result]:
    """Whether a committed run read `file` at its current size and mtime, its resolved path, and its stat."""
    resolved = str(file.resolve())
    stat = file.stat()
    mtime = datetime.fromtimestamp(stat.st_mtime, UTC)
    return any(size == stat.st_size and m == mtime for size, m, _ in known.get(resolved, set())), resolved, stat


def new_files(root: str | Path, files: list[Path]) -> tuple[list[Path], pa.Table]:
    """The input files no committed run of `root` has processed in their current content, and ledger rows for them
    (run_id left empty). A file whose size and mtime are unchanged is not re-read; a touched file with the same bytes
    is not new either."""
    known = _ledger(root)
    fresh, rows = [], []
    for file in files:
        unchanged, resolved, _ = _unchanged(file, known)
        if unchanged:
            continue
        size, mtime, content = file_fingerprint(file)
        if any(c == content for _, _, c in known.get(resolved, set())):
            continue
        fresh.append(file)
        rows.append({"path": resolved, "size": size, "mtime": mtime, "content_hash": content, "run_id": None})
    return fresh, pa.Table.from_pylist(rows, schema=schema.LEDGER)


def changed_bytes(root: str | Path, files: list[Path]) -> int:
    """Bytes of the input files whose size or mtime differs from every version committed runs of `root` read: what a
    run may have to read (an upper bound of `new_files`, from file metadata alone)."""
    known = _ledger(root)
    total = 0
    for file in files:
        unchanged, _, stat = _unchanged(file, known)
        total += 0 if unchanged else stat.st_size
    return total
