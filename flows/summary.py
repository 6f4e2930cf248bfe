"""The end-of-run summary, read back from the written Parquet through DuckDB (what an analyst would see)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from pipeline import store


def gather(output: str | Path, run_id: str) -> dict[str, Any]:
    """Counts and the five largest clusters of run `run_id`, as read from the tables under `output`."""
    globs = store.table_globs(output)
    con = duckdb.connect()
    for table, glob in globs.items():
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{glob}', union_by_name=true)")
    one = con.execute
    counts = json.loads(one("SELECT counts FROM runs WHERE run_id = ?", [run_id]).fetchall()[0][0])
    relations = dict(
        one("SELECT relation, count(*) FROM pairs WHERE run_id = ? GROUP BY 1 ORDER BY 1", [run_id]).fetchall()
    )
    rejects = dict(
        one("SELECT reason, count(*) FROM rejects WHERE run_id = ? GROUP BY 1 ORDER BY 1", [run_id]).fetchall()
    )
    largest = one(
        """
        WITH sized AS (
            SELECT cluster_id, any_value(size) AS size FROM clusters WHERE run_id = ? GROUP BY 1
            ORDER BY size DESC, cluster_id LIMIT 5)
        SELECT s.cluster_id, s.size, d.source, d.title, d.doc_id, d.published_at
        FROM sized s JOIN clusters c ON c.cluster_id = s.cluster_id AND c.run_id = ?
        JOIN documents d ON d.doc_id = c.doc_id AND d.run_id = ?
        ORDER BY s.size DESC, s.cluster_id, d.published_at NULLS LAST, d.doc_id
        """,
        [run_id, run_id, run_id],
    ).fetchall()
    clusters: dict[str, dict[str, Any]] = {}
    for cid, size, source, title, doc_id, _ in largest:
        entry = clusters.setdefault(cid, {"cluster_id": cid, "size": size, "members": []})
        entry["members"].append({"doc_id": doc_id, "source": source, "title": title})
    n_clusters = one("SELECT count(DISTINCT cluster_id) FROM clusters WHERE run_id = ?", [run_id]).fetchall()[0][0]
    return {
        "run_id": run_id,
        "documents": counts.get("documents", 0),
        "records": counts.get("records", 0),
        "rejects": rejects,
        "pairs": relations,
        "clusters": n_clusters,
        "largest_clusters": list(clusters.values()),
        "tables": globs,
        "unparsable_dates": counts.get("unparsable_dates", 0),
        "seconds": counts.get("seconds"),
    }


def render(summary: dict[str, Any], output: str | Path) -> str:
    """The summary as plain text for the terminal."""
    out = Path(output)
    lines = [
        f"wiretrace run {summary['run_id']} finished in {summary['seconds']} s",
        f"  documents read: {summary['documents']} of {summary['records']} records"
        f" ({summary['unparsable_dates']} unparsable dates kept as null)",
        "  rejects: " + (", ".join(f"{k}={v}" for k, v in summary["rejects"].items()) or "none"),
        "  pairs: " + (", ".join(f"{k}={v}" for k, v in summary["pairs"].items()) or "none"),
        f"  clusters: {summary['clusters']}",
    ]
    if summary["largest_clusters"]:
        lines.append("  largest clusters:")
        for c in summary["largest_clusters"]:
            lines.append(f"    {c['cluster_id']} ({c['size']} documents)")
            for m in c["members"]:
                lines.append(f"      - {m['source'] or '?'}: {m['title'] or m['doc_id']}")
    lines.append("  tables:")
    lines.extend(f"    {name:<13} {glob}" for name, glob in summary["tables"].items())
    index, views = out / "report" / "index.html", out / "wiretrace.duckdb"
    if index.exists():
        lines.append(f"  report: {index.resolve().as_uri()}")
    if views.exists():
        lines.append(f"  DuckDB views (cluster_members, copies_without_credit, ...): duckdb {views}")
    lines.append("  open them in DuckDB:")
    lines.append(
        f"    python -c \"import duckdb; duckdb.sql(\\\"SELECT relation, count(*) FROM '{out}/pairs/*.parquet' "
        'GROUP BY 1\\").show()"'
    )
    return "\n".join(lines)
