"""An incremental run: new documents matched against the history earlier runs left in the output folder.

    python bench/incremental.py                          # 20,000 new against 100,000 history documents
    python bench/incremental.py --history 1000000 --history-runs 10   # the issue's target size (history: 10 runs)
    python bench/incremental.py --keep /tmp/incr          # keep the history and reuse it on the next call
    python bench/incremental.py --keep /tmp/incr --server # the run against a running Prefect server (scheduled)

Simulates history + new documents in one ecosystem (so some of the new documents copy history stories), commits
the history as one run with `wiretrace run`, then times the run of the new documents alone. Prints the time of both
runs, docs/s, the cross-run pairs found, the flow's own seconds by stage beside the wall time, and the history on
disk per document: the signature and band-key columns (the issue's budget) and everything matching keeps (token hashes
and offsets for alignment included). A lone `wiretrace run` starts a temporary Prefect server (it boots beside
the imports); with `--server` the timed run goes to a server started beforehand, as the runs of a served deployment
do.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import store  # noqa: E402
from pipeline.simulate import SimulationConfig, simulate  # noqa: E402


def split_corpus(folder: Path, history: int, target: Path, runs: int = 1) -> list[Path]:
    """The simulated documents as inputs: the first `history` in `runs` consecutive folders (history/0, ...), and
    the rest in new/."""
    size = -(-history // runs)
    folders = [target / "history" / str(i) for i in range(runs)] + [target / "new"]
    for part in folders:
        part.mkdir(parents=True)
    outs = [(part / "docs.jsonl").open("wb") for part in folders]
    try:
        n = 0
        for shard in sorted((folder / "corpus").glob("*.jsonl")):
            with shard.open("rb") as src:
                for line in src:
                    outs[n // size if n < history else -1].write(line)
                    n += 1
    finally:
        for out in outs:
            out.close()
    return folders


def timed_run(inputs: Path, output: Path, env: dict[str, str] | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from flows.cli import main; raise SystemExit(main())",
            "run",
            "--input",
            str(inputs),
            "--output",
            str(output),
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        env=env,
    )
    return time.perf_counter() - t


@contextlib.contextmanager
def prefect_server(home: Path) -> Iterator[dict[str, str]]:
    """A running local Prefect server (as a scheduled deployment has), and the environment that points runs at it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield env
    finally:
        server.terminate()
        server.wait(timeout=30)


def history_bytes(output: Path) -> tuple[int, int, int]:
    """(documents, bytes of the minhash and band_keys columns, bytes of every features and token file) on disk."""
    docs = signature = 0
    total = sum(path.stat().st_size for path in (output / store.TOKENS).glob("*.parquet"))
    for path in sorted((output / store.HISTORY).glob("*.parquet")):
        meta = pq.ParquetFile(path).metadata
        docs += meta.num_rows
        total += path.stat().st_size
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                column = group.column(c)
                if column.path_in_schema.split(".")[0] in ("minhash", "band_keys"):
                    signature += column.total_compressed_size
    return docs, signature, total


def compile_project() -> None:
    """Byte-compile the project's modules, as an installation's first run leaves them: without it, a machine that
    sets PYTHONDONTWRITEBYTECODE (this one does) recompiles them in every process of every timed run (~0.5 s in the
    CLI's own process)."""
    for package in ("pipeline", "flows"):
        compileall.compile_dir(ROOT / package, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=int, default=100_000, help="history documents (default: 100000)")
    parser.add_argument("--new", type=int, default=20_000, help="new documents (default: 20000)")
    parser.add_argument("--history-runs", type=int, default=1, help="commit the history in this many runs (default: 1)")
    parser.add_argument(
        "--keep",
        type=Path,
        help="work in this folder and keep it; when it already holds a committed history, reuse it (the history "
        "output is copied, so each incremental run starts from the same state)",
    )
    parser.add_argument(
        "--server",
        action="store_true",
        help="time the incremental run against a Prefect server started beforehand (as scheduled runs of `wiretrace "
        "serve` are), not the temporary server a lone `wiretrace run` starts",
    )
    args = parser.parse_args()
    compile_project()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        output = work / "out"
        if not (work / "history-out").exists():
            t = time.perf_counter()
            simulate(SimulationConfig(docs=args.history + args.new, seed=5, shard_docs=1_000_000), work / "sim")
            print(f"simulated {args.history + args.new:,} documents in {time.perf_counter() - t:.1f} s")
            folders = split_corpus(work / "sim", args.history, work, args.history_runs)
            first = 0.0
            for i, folder in enumerate(folders[:-1]):
                seconds = timed_run(folder, work / "history-out")
                first += seconds
                print(f"history run {i + 1}/{args.history_runs}: {seconds:.1f} s")
            print(f"history: {args.history:,} documents in {first:.1f} s ({args.history / first:,.0f} docs/s)")
        else:
            counts = duckdb.sql(f"SELECT counts FROM '{work}/history-out/runs/*.parquet'").fetchall()
            first = sum(json.loads(c[0])["seconds"] for c in counts)
            print(f"history reused from {work} ({len(counts)} runs whose flows took {first:.1f} s)")
        shutil.rmtree(output, ignore_errors=True)
        shutil.copytree(work / "history-out", output)
        os.sync()  # the copy's writes are this bench's set-up: flushed before the timed run, not during it
        new = work / "new"
        hist_docs, signature, total = history_bytes(output)
        print(
            f"history on disk: {signature / hist_docs:,.0f} B/doc for signatures and band keys, "
            f"{total / hist_docs:,.0f} B/doc with token hashes and offsets ({hist_docs:,} documents)"
        )
        if args.server:
            with prefect_server(work / "prefect-server") as env:
                second = timed_run(new, output, env)
        else:
            second = timed_run(new, output)
        con = duckdb.connect()
        runs = con.execute(f"SELECT run_id, counts FROM '{output}/runs/*.parquet' ORDER BY run_id").fetchall()
        counts = json.loads(runs[-1][1])
        cross = con.execute(
            f"""SELECT count(*) FROM '{output}/pairs/*.parquet' p
            JOIN '{output}/documents/*.parquet' a ON a.doc_id = p.doc_id_a
            JOIN '{output}/documents/*.parquet' b ON b.doc_id = p.doc_id_b
            WHERE p.run_id = ? AND a.run_id <> b.run_id""",
            [runs[-1][0]],
        ).fetchall()[0][0]
        print(
            f"incremental run: {args.new:,} new against {hist_docs:,} history documents in {second:.1f} s "
            f"({args.new / second:,.0f} docs/s); {counts.get('history_candidates', 0):,} candidate pairs with "
            f"{counts.get('history_rows', 0):,} history documents screened in history; {counts.get('candidates', 0):,} "
            f"candidates verified, {counts.get('pairs', 0):,} pairs, {cross:,} across runs; "
            f"{counts.get('clusters_grown', 0):,} earlier clusters grown, {counts.get('cluster_merges', 0):,} merged"
        )
        ratio = second / (first * args.new / args.history)
        print(f"incremental run / same-size share of the history runs: {ratio:.2f}x")
        print(
            f"incremental run: flow {counts.get('seconds')} s of {second:.1f} s wall (the rest: CLI and Prefect "
            f"start-up{'' if args.server else ' with a temporary server'}, commit, report); "
            f"stages (s): {counts.get('stage_seconds')}"
        )


if __name__ == "__main__":
    main()
