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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import schema

STAGING = "_staging"
WORK = "_work"


def new_run_id(now: datetime | None = None) -> str:
    """A run id that sorts by start time: 20261121T231500Z-1a2b3c."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def write_parquet(table: pa.Table, path: Path) -> Path:
    """Write `table` to `path` atomically (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
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
        """Create the folders and remove staging left behind by runs that never committed."""
        self.root.mkdir(parents=True, exist_ok=True)
        leftovers = self.root / STAGING
        if leftovers.exists():
            for stale in leftovers.iterdir():
                if stale.name != self.run_id:
                    shutil.rmtree(stale, ignore_errors=True)
        self.staging.mkdir(parents=True, exist_ok=True)

    def work_path(self, name: str) -> Path:
        """A path for intermediate files (features, candidates) that never leave staging."""
        return self.staging / WORK / name

    def staged_path(self, table: str, part: str | None = None) -> Path:
        """Where a committed-to-be file of `table` is staged."""
        if table not in schema.OUTPUT_TABLES:
            raise ValueError(f"unknown output table {table!r}")
        name = f"{self.run_id}-{part}.parquet" if part else f"{self.run_id}.parquet"
        return self.staging / table / name

    def stage(self, table: str, data: pa.Table, part: str | None = None) -> Path:
        expected = schema.OUTPUT_TABLES[table]
        if not data.schema.equals(expected):
            for field in expected:  # columns a producer leaves out are null, never silently renamed
                if field.name not in data.column_names:
                    data = data.append_column(field, pa.nulls(data.num_rows, field.type))
            data = data.select(expected.names).cast(expected)
        return write_parquet(data, self.staged_path(table, part))

    def commit(self, run_row: dict[str, Any]) -> None:
        """Move every staged table file into place, then write the `runs` row that marks the run complete."""
        for table in schema.OUTPUT_TABLES:
            if table == "runs":
                continue
            staged = self.staging / table
            if not staged.exists():
                continue
            target = self.root / table
            target.mkdir(parents=True, exist_ok=True)
            for file in sorted(staged.glob("*.parquet")):
                os.replace(file, target / file.name)
        write_parquet(run_table(run_row), self.root / "runs" / f"{self.run_id}.parquet")
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
