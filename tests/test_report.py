"""The duplicate-cluster report files and the DuckDB views, without a browser."""

import json

import duckdb
import pytest

from pipeline import report
from pipeline.local import run_local, write_output


@pytest.fixture(scope="module")
def sample_output(sample_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("report-out")
    write_output(run_local([sample_corpus / "corpus"], run_id="r1"), out, "r1")
    return out


def load_js(path, prefix):
    text = path.read_text(encoding="utf-8")
    assert text.startswith(prefix)
    return json.loads(text[len(prefix) :].rstrip().rstrip(";").rstrip(")"))


def test_report_files_and_data(sample_output):
    index = report.write_report(sample_output)
    folder = index.parent
    assert {p.name for p in folder.iterdir()} >= {"index.html", "report.js", "report.css", "plotly.min.js", "data"}
    html = index.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html  # nothing to fetch from the network
    overview = load_js(folder / "data" / "overview.js", "window.WT_OVERVIEW = ")
    n_clusters = duckdb.sql(f"SELECT count(DISTINCT cluster_id) FROM '{sample_output}/clusters/*.parquet'").fetchall()
    assert len(overview["clusters"]) == n_clusters[0][0] == overview["summary"]["clusters"]
    assert set(overview["charts"]) == {"sizes", "delays_hours", "matrix", "copy_share", "uncredited"}
    chunk = (folder / "data" / "clusters-00000.js").read_text(encoding="utf-8")
    details = json.loads(chunk.split("Object.assign(window.WT_DETAILS, ", 1)[1].rstrip().rstrip(";").rstrip(")"))
    first = overview["clusters"][0][0]
    members = details[first]["members"]
    assert len(members) == overview["clusters"][0][1] and all(m["text"] for m in members)
    assert details[first]["pairs"] and all(len(s) == 4 for p in details[first]["pairs"] for s in p["spans"])


def test_report_is_replaced_whole_and_old_files_go(sample_output):
    report.write_report(sample_output)
    stray = sample_output / "report" / "data" / "clusters-99999.js"
    stray.write_text("stale", encoding="utf-8")
    report.write_report(sample_output)
    assert not stray.exists()
    assert not (sample_output / ".report-staging").exists()


def test_json_in_scripts_cannot_close_the_script_tag():
    payload = report._json({"text": "</script><script>alert(1)</script>", "sep": "a\u2028b"})
    assert "</" not in payload and "\u2028" not in payload
    assert json.loads(payload)["text"] == "</script><script>alert(1)</script>"
    from datetime import UTC, datetime

    moment = datetime(2026, 11, 22, 6, 30, tzinfo=UTC)
    assert json.loads(report._json({"at": moment, 7: "x", "ü": "Вільнюс"})) == {
        "at": str(moment),
        "7": "x",
        "ü": "Вільнюс",
    }


def test_views_answer_analyst_questions(sample_output):
    path = report.write_views(sample_output)
    con = duckdb.connect(str(path), read_only=True)
    members = con.execute("SELECT count(*), count(DISTINCT cluster_id), sum(is_origin::INT) FROM cluster_members")
    n_members, n_clusters, n_origins = members.fetchall()[0]
    assert n_members > n_clusters > 0 and n_origins <= n_clusters
    uncredited = con.execute("SELECT count(*) FROM copies_without_credit").fetchall()[0][0]
    copies = con.execute("SELECT count(*) FROM cluster_members WHERE NOT is_origin").fetchall()[0][0]
    assert 0 < uncredited < copies
    daily = con.execute("SELECT sum(documents), max(reuse_share) FROM outlet_reuse_daily").fetchall()[0]
    assert daily[0] == con.execute("SELECT count(*) FROM documents").fetchall()[0][0] and 0 < daily[1] <= 1
    takes = con.execute("SELECT sum(copies) FROM outlet_agency_takes").fetchall()[0][0]
    assert takes == copies
