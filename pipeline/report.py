"""Report: the duplicate-cluster report reviewers open, generated from the Parquet tables through DuckDB.

`output/report/index.html` is self-contained: it works from `file://` with no network. Data travels as JavaScript
files (`data/overview.js`, and `data/clusters-NNNNN.js` loaded when a cluster of that chunk is opened), so 100,000
clusters cost a few megabytes of JSON and a paginated table, never 100,000 DOM nodes. Charts use Plotly, whose
bundle is copied beside the page. All document text reaches the page as JSON and is put into the DOM with
`textContent`: nothing in an article can become markup or script.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import orjson

from pipeline import store

ASSETS = Path(__file__).resolve().parent / "report_assets"
CHUNK = 500  # clusters per detail file
# This run's pairs, and earlier runs' pairs inside the clusters it grew.
RUN_OR_WITHIN_CLUSTERS = (
    "run_id = ? OR (doc_id_a IN (SELECT doc_id FROM r_clusters) AND doc_id_b IN (SELECT doc_id FROM r_clusters))"
)
MAX_DELAYS = 20_000  # delay samples kept for the chart


def _connect(output: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for table, glob in store.table_globs(output).items():
        if list(Path(glob).parent.glob("*.parquet")):
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{glob}', union_by_name=true)")
    return con


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def latest_run(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT max(run_id) FROM runs WHERE status = 'completed'").fetchall()[0][0]


def materialize(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """The run's rows (without article text) as in-memory tables: the report's many joins then run on columns
    already decoded instead of re-reading Parquet files for each."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE r_clusters AS SELECT cluster_id, doc_id, size FROM clusters WHERE run_id = ?",
        [run_id],
    )
    # A cluster grown by this run also holds earlier runs' documents (doc ids are unique across runs).
    con.execute(
        "CREATE OR REPLACE TEMP TABLE r_docs AS SELECT doc_id, source, published_at, title FROM documents "
        "WHERE run_id = ? OR doc_id IN (SELECT doc_id FROM r_clusters)",
        [run_id],
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE r_origins AS SELECT * EXCLUDE (run_id) FROM origins WHERE run_id = ?", [run_id]
    )
    # Credits of this run's documents and of every cluster member, in one scan of `attributions`.
    con.execute(
        'CREATE OR REPLACE TEMP TABLE r_credits AS SELECT doc_id, start, "end", agency, cue FROM attributions '
        "WHERE run_id = ? OR doc_id IN (SELECT doc_id FROM r_clusters)",
        [run_id],
    )
    con.execute("CREATE OR REPLACE TEMP TABLE r_credited AS SELECT DISTINCT doc_id FROM r_credits")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE r_attributions AS SELECT * FROM r_credits "
        "WHERE doc_id IN (SELECT doc_id FROM r_clusters)"
    )
    con.execute("DROP TABLE r_credits")
    con.execute("""CREATE OR REPLACE TEMP TABLE r_copies AS
        SELECT c.cluster_id, c.doc_id, d.source, d.published_at, o.origin_doc_id, od.source AS origin_source,
               od.published_at AS origin_at
        FROM r_clusters c JOIN r_origins o USING (cluster_id) JOIN r_docs d USING (doc_id)
        LEFT JOIN r_docs od ON od.doc_id = o.origin_doc_id
        WHERE o.origin_doc_id IS NULL OR c.doc_id <> o.origin_doc_id""")
    # What the cluster view needs, read from Parquet once rather than once per detail chunk.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE r_members AS
        SELECT c.cluster_id, d.doc_id, d.source, epoch_ms(d.published_at) AS published_ms, d.title, d.text, d.url
        FROM r_clusters c JOIN documents d ON d.doc_id = c.doc_id""",
    )
    con.execute(
        'CREATE OR REPLACE TEMP TABLE r_segments AS SELECT doc_id, start, "end", reason FROM segments '
        "WHERE doc_id IN (SELECT doc_id FROM r_clusters)",
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE r_spans AS SELECT doc_id_a, doc_id_b, relation, containment_a, "
        f"containment_b, spans, source_doc_id FROM pairs WHERE {RUN_OR_WITHIN_CLUSTERS}",
        [run_id],
    )
    # The same rows without spans, for the overview's joins (one scan of `pairs` for both).
    con.execute(
        "CREATE OR REPLACE TEMP TABLE r_pairs AS "
        "SELECT doc_id_a, doc_id_b, relation, containment_a, containment_b FROM r_spans"
    )


def overview(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """Run summary, one summary row per cluster, and the chart data."""
    materialize(con, run_id)
    counts = json.loads(con.execute("SELECT counts FROM runs WHERE run_id = ?", [run_id]).fetchall()[0][0])
    summary = {
        "run_id": run_id,
        "documents": counts.get("documents", 0),
        "records": counts.get("records", 0),
        "rejects": dict(
            con.execute(
                "SELECT reason, count(*) FROM rejects WHERE run_id = ? GROUP BY 1 ORDER BY 1", [run_id]
            ).fetchall()
        ),
        "pairs": dict(
            con.execute(
                "SELECT relation, count(*) FROM pairs WHERE run_id = ? GROUP BY 1 ORDER BY 1", [run_id]
            ).fetchall()
        ),
        "clusters": con.execute(
            "SELECT count(DISTINCT cluster_id) FROM clusters WHERE run_id = ?", [run_id]
        ).fetchall()[0][0],
    }
    clusters = con.execute(
        """
        WITH agg AS (
            SELECT c.cluster_id, count(*) AS size, count(DISTINCT d.source) AS sources,
                   min(d.published_at) AS first_at, max(d.published_at) AS last_at
            FROM r_clusters c JOIN r_docs d USING (doc_id) GROUP BY 1),
        contain AS (
            SELECT c.cluster_id, max(greatest(p.containment_a, p.containment_b)) AS containment
            FROM r_pairs p JOIN r_clusters c ON c.doc_id = p.doc_id_a GROUP BY 1)
        SELECT a.cluster_id, a.size, o.origin_doc_id, od.source AS origin_source, coalesce(od.title, od.doc_id),
               o.credited_agency, o.external_origin, o.confidence, epoch_ms(a.first_at), epoch_ms(a.last_at),
               a.sources, coalesce(ct.containment, 0)
        FROM agg a JOIN r_origins o USING (cluster_id)
        LEFT JOIN r_docs od ON od.doc_id = o.origin_doc_id
        LEFT JOIN contain ct USING (cluster_id)
        ORDER BY a.size DESC, a.cluster_id
        """
    ).fetchall()
    return {
        "summary": summary,
        "columns": [
            "cluster_id",
            "size",
            "origin_doc_id",
            "origin_source",
            "title",
            "credited_agency",
            "external_origin",
            "confidence",
            "first_ms",
            "last_ms",
            "sources",
            "containment",
        ],
        "clusters": [list(r) for r in clusters],
        "charts": charts(con, run_id),
        "chunk": CHUNK,
    }


def charts(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """Data for the overview charts: sizes, delays from origin to copy, who re-uses whom, copy shares, uncredited.
    Reads the tables `materialize` made for `run_id`."""
    sizes = con.execute(
        "SELECT size, count(*) FROM (SELECT cluster_id, any_value(size) AS size FROM r_clusters "
        "GROUP BY 1) GROUP BY 1 ORDER BY 1"
    ).fetchall()
    delays = [
        r[0]
        for r in con.execute(
            "SELECT (epoch(published_at) - epoch(origin_at)) / 3600.0 FROM r_copies "
            "WHERE published_at IS NOT NULL AND origin_at IS NOT NULL LIMIT ?",
            [MAX_DELAYS],
        ).fetchall()
    ]
    matrix = con.execute(
        "SELECT origin_source, source, count(*) FROM r_copies WHERE origin_source IS NOT NULL "
        "GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 400"
    ).fetchall()
    share = con.execute(
        """SELECT d.source, count(*) AS docs, count(cp.doc_id) AS copies
           FROM r_docs d LEFT JOIN r_copies cp USING (doc_id) GROUP BY 1 ORDER BY copies DESC, docs DESC LIMIT 40"""
    ).fetchall()
    uncredited = con.execute(
        """SELECT cp.source, count(*) FROM r_copies cp ANTI JOIN r_credited USING (doc_id)
           GROUP BY 1 ORDER BY 2 DESC LIMIT 40"""
    ).fetchall()
    return {
        "sizes": {"size": [r[0] for r in sizes], "count": [r[1] for r in sizes]},
        "delays_hours": delays,
        "matrix": [list(r) for r in matrix],
        "copy_share": {
            "source": [r[0] for r in share],
            "share": [r[2] / r[1] if r[1] else 0 for r in share],
            "docs": [r[1] for r in share],
        },
        "uncredited": {"source": [r[0] for r in uncredited], "count": [r[1] for r in uncredited]},
    }


def details(con: duckdb.DuckDBPyConnection, cluster_ids: list[str]) -> dict[str, Any]:
    """Everything the cluster view shows for `cluster_ids`: members with text, removed segments and credits, the
    origin verdict, and the spans of every pair inside each cluster. Reads the tables `materialize` made."""
    con.execute("CREATE OR REPLACE TEMP TABLE wanted AS SELECT unnest(?::VARCHAR[]) AS cluster_id", [cluster_ids])
    members = _rows(
        con,
        "SELECT m.* FROM r_members m JOIN wanted USING (cluster_id) "
        "ORDER BY m.cluster_id, m.published_ms NULLS LAST, m.doc_id",
    )
    doc_ids = [m["doc_id"] for m in members]
    con.execute("CREATE OR REPLACE TEMP TABLE wanted_docs AS SELECT unnest(?::VARCHAR[]) AS doc_id", [doc_ids])
    removed, credited = defaultdict(list), defaultdict(list)
    for doc_id, start, end, reason in con.execute(
        "SELECT s.* FROM r_segments s JOIN wanted_docs USING (doc_id)"
    ).fetchall():
        removed[doc_id].append([start, end, reason])
    for doc_id, start, end, agency, cue in con.execute(
        "SELECT a.* FROM r_attributions a JOIN wanted_docs USING (doc_id)"
    ).fetchall():
        credited[doc_id].append([start, end, agency, cue])
    # Spans as [a_start, a_end, b_start, b_end] lists, built by DuckDB rather than from one Python dict per span.
    pairs = _rows(
        con,
        "SELECT p.* REPLACE (list_transform(coalesce(p.spans, []), lambda s: [s.a_start, s.a_end, s.b_start, s.b_end]) "
        "AS spans) FROM r_spans p JOIN wanted_docs w ON w.doc_id = p.doc_id_a",
    )
    verdicts = {
        r["cluster_id"]: r
        for r in _rows(
            con,
            "SELECT o.cluster_id, o.origin_doc_id, o.credited_agency, o.external_origin, o.confidence, o.evidence "
            "FROM r_origins o JOIN wanted USING (cluster_id)",
        )
    }
    out: dict[str, Any] = {cid: {"members": [], "verdict": verdicts.get(cid), "pairs": []} for cid in cluster_ids}
    cluster_of: dict[str, str] = {}
    for m in members:
        m["removed"], m["credits"] = removed.get(m["doc_id"], []), credited.get(m["doc_id"], [])
        cluster_of[m["doc_id"]] = m["cluster_id"]
        out[m.pop("cluster_id")]["members"].append(m)
    for p in pairs:
        cid = cluster_of.get(p["doc_id_a"])
        if cid is not None and cluster_of.get(p["doc_id_b"]) == cid:
            out[cid]["pairs"].append(p)
    return out


def _json(value: Any) -> str:
    """`value` as JSON that is safe inside a script: no "</" can close a tag, no line separator breaks a string.
    orjson writes the report's tens of megabytes ~3x faster than `json`; datetimes and other types it does not know
    become `str(value)`, as with `json.dumps(default=str)`."""
    options = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
    payload = orjson.dumps(value, default=str, option=options).decode("utf-8")
    return payload.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(output: str | Path, run_id: str | None = None) -> Path:
    """Write `output/report/` for `run_id` (default: the latest completed run) and return the index path.

    The report is built in a staging folder and swapped in whole, so a reader never sees half a report."""
    output = Path(output)
    con = _connect(output)
    run_id = run_id or latest_run(con)
    data = overview(con, run_id)
    target = output / "report"
    staging = output / ".report-staging"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "data").mkdir(parents=True)
    _write(staging / "data" / "overview.js", f"window.WT_OVERVIEW = {_json(data)};\n")
    ids = [row[0] for row in data["clusters"]]
    for number, start in enumerate(range(0, len(ids), CHUNK)):
        chunk = details(con, ids[start : start + CHUNK])
        _write(
            staging / "data" / f"clusters-{number:05d}.js",
            f"window.WT_DETAILS = window.WT_DETAILS || {{}};\nObject.assign(window.WT_DETAILS, {_json(chunk)});\n",
        )
    _write(staging / "plotly.min.js", _plotly_js())
    for asset in ("index.html", "report.js", "report.css"):
        shutil.copyfile(ASSETS / asset, staging / asset)
    old = output / ".report-old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
    return target / "index.html"


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


VIEWS_SQL = Path(__file__).resolve().parent / "views.sql"


def write_views(output: str | Path) -> Path:
    """Create `output/wiretrace.duckdb` holding the analyst views (views.sql) over the output's Parquet tables."""
    output = Path(output).resolve()
    target = output / "wiretrace.duckdb"
    tmp = output / ".wiretrace.duckdb.tmp"
    tmp.unlink(missing_ok=True)
    sql = VIEWS_SQL.read_text(encoding="utf-8").replace("{root}", str(output).replace("'", "''"))
    con = duckdb.connect(str(tmp))
    try:
        con.execute(sql)
    finally:
        con.close()
    os.replace(tmp, target)
    return target
