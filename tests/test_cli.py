"""The `wiretrace` command end to end, as a user runs it (a subprocess with its own temporary Prefect server)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import corpus_docs, gold_kinds, read_jsonl


def wiretrace(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PREFECT_HOME": str(home / "prefect"), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.mark.parametrize(
    "command", [[], ["run"], ["demo"], ["simulate"], ["evaluate"], ["report"], ["views"], ["serve"]]
)
def test_help_is_complete(command, tmp_path):
    out = wiretrace(*command, "--help", cwd=tmp_path, home=tmp_path)
    assert out.returncode == 0
    assert "usage: wiretrace" in out.stdout
    if command == ["run"]:
        for flag in ("--input", "--output", "--config", "--shard-size", "--set"):
            assert flag in out.stdout


def test_bad_input_and_bad_config_exit_2_with_a_clear_message(tmp_path):
    out = wiretrace("run", "--input", str(tmp_path / "missing"), cwd=tmp_path, home=tmp_path)
    assert out.returncode == 2 and "input not found" in out.stderr
    out = wiretrace("run", "--input", str(tmp_path), "--set", "signatures.num_perm=3", cwd=tmp_path, home=tmp_path)
    assert out.returncode == 2 and "signatures.num_perm" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.prefect
def test_run_on_sample_corpus_writes_tables_duckdb_reads(sample_corpus, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x1", "text": ""}\n{not json\n', encoding="utf-8")
    out = wiretrace(
        "run",
        "--input",
        str(sample_corpus / "corpus"),
        str(bad),
        "--output",
        str(tmp_path / "o"),
        cwd=tmp_path,
        home=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "largest clusters" in out.stdout and "duckdb" in out.stdout
    assert "ingest" in out.stderr  # plain progress lines when not on a terminal
    o = tmp_path / "o"
    con = duckdb.connect()
    docs = corpus_docs(sample_corpus)
    columns = {r[0] for r in con.sql(f"DESCRIBE SELECT * FROM '{o}/documents/*.parquet'").fetchall()}
    assert {"doc_id", "source", "url", "published_at", "title", "text", "body", "lang", "run_id"} <= columns
    pair_cols = {r[0] for r in con.sql(f"DESCRIBE SELECT * FROM '{o}/pairs/*.parquet'").fetchall()}
    assert {
        "doc_id_a",
        "doc_id_b",
        "relation",
        "similarity",
        "containment_a",
        "containment_b",
        "spans",
        "source_doc_id",
        "direction_confidence",
        "run_id",
    } <= pair_cols
    n_docs = con.execute(f"SELECT count(*) FROM '{o}/documents/*.parquet'").fetchall()[0][0]
    rejects = con.sql(f"SELECT reason, record FROM '{o}/rejects/*.parquet' ORDER BY record").fetchall()
    assert n_docs == len(docs) and rejects == [("empty_text", 1), ("malformed_record", 2)]
    gold = {(p["a"], p["b"]): p["label"] for p in read_jsonl(sample_corpus / "gold" / "pairs.jsonl")}
    found = dict(
        ((a, b), r) for a, b, r in con.sql(f"SELECT doc_id_a, doc_id_b, relation FROM '{o}/pairs/*.parquet'").fetchall()
    )
    assert all(k in found for k, label in gold.items() if label in ("exact", "near_duplicate"))
    independent = {d for d, kind in gold_kinds(sample_corpus).items() if kind in ("independent", "quote")}
    assert not [k for k in found if set(k) & independent]
    counts = json.loads(con.execute(f"SELECT counts FROM '{o}/runs/*.parquet'").fetchall()[0][0])
    assert "report: file://" in out.stdout
    again = wiretrace("report", "--output", str(o), cwd=tmp_path, home=tmp_path)
    assert again.returncode == 0 and (o / "report" / "index.html").exists() and (o / "wiretrace.duckdb").exists()
    assert counts["documents"] + counts["rejects"] == counts["records"] == len(docs) + 2


def test_a_second_run_on_a_busy_output_is_refused(sample_corpus, tmp_path):
    import socket

    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        out = tmp_path / "o"
        out.mkdir()
        (out / ".wiretrace.lock").write_text(
            json.dumps({"pid": holder.pid, "host": socket.gethostname(), "run_id": "r-busy"}), encoding="utf-8"
        )
        result = wiretrace(
            "run", "--input", str(sample_corpus / "corpus"), "--output", str(out), cwd=tmp_path, home=tmp_path
        )
        assert result.returncode == 2 and "in use by wiretrace run r-busy" in result.stderr
        assert not (out / "runs").exists()
    finally:
        holder.kill()
        holder.wait()
