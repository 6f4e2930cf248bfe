import csv
import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import ingest
from pipeline.config import IngestConfig

STORY = "Officials in Vilnius extended the permit rules on Monday, the ministry said."


def run(paths, **cfg):
    stats = ingest.IngestStats()
    shards = list(ingest.shards(ingest.discover_files(paths), IngestConfig(**cfg), "r1", stats))
    docs = pa.concat_tables([s.documents for s in shards])
    rejects = pa.concat_tables([s.rejects for s in shards])
    return docs, rejects, stats, shards


def test_txt_folder_ids_titles_and_sources_from_sidecar(tmp_path):
    folder = tmp_path / "bbabo"
    folder.mkdir()
    (folder / "a1.txt").write_text("Border points closed\n\n" + STORY, encoding="utf-8")
    (folder / "a2.txt").write_text(STORY + "\nSecond line.", encoding="utf-8")
    (folder / "sources.json").write_text(json.dumps({"a2.txt": "Daily Meridian"}), encoding="utf-8")
    docs, rejects, _, _ = run([folder])
    rows = {r["doc_id"]: r for r in docs.to_pylist()}
    assert rows["a1"]["title"] == "Border points closed"
    assert rows["a1"]["source"] == "bbabo"  # folder name when the sidecar has no entry
    assert rows["a2"]["title"] is None  # a first line ending a sentence is not a headline
    assert rows["a2"]["source"] == "Daily Meridian"
    assert rows["a1"]["text"] == "Border points closed\n\n" + STORY  # text kept exactly as ingested
    assert rejects.num_rows == 0


def test_jsonl_csv_and_parquet_with_field_mapping(tmp_path):
    records = [
        {"key": f"d{i}", "outlet": "X", "body": f"{STORY} {i}", "when": "2024-03-01T10:00:00Z"} for i in range(3)
    ]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    with (tmp_path / "b.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["key", "outlet", "body", "when"])
        writer.writeheader()
        writer.writerows([{**r, "key": "c" + r["key"]} for r in records])
    pq.write_table(pa.Table.from_pylist([{**r, "key": "p" + r["key"]} for r in records]), tmp_path / "c.parquet")
    docs, rejects, stats, _ = run(
        [tmp_path], id_field="key", source_field="outlet", text_field="body", published_at_field="when"
    )
    assert sorted(docs.column("doc_id").to_pylist()) == sorted([f"{p}d{i}" for p in ("", "c", "p") for i in range(3)])
    assert set(docs.column("source").to_pylist()) == {"X"}
    assert set(docs.column("published_at").to_pylist()) == {datetime(2024, 3, 1, 10, tzinfo=UTC)}
    assert stats.documents == 9 and rejects.num_rows == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2019-05-31T17:45:53-04:00", datetime(2019, 5, 31, 21, 45, 53, tzinfo=UTC)),
        ("1987-02-26T15:01:01", datetime(1987, 2, 26, 15, 1, 1, tzinfo=UTC)),
        ("2021-08-06", datetime(2021, 8, 6, tzinfo=UTC)),
        ("2024-01-05 08:30:00Z", datetime(2024, 1, 5, 8, 30, tzinfo=UTC)),
        ("Fri, 06 Aug 2021 10:00:00 +0200", datetime(2021, 8, 6, 8, 0, tzinfo=UTC)),
        ("August 6, 2021", datetime(2021, 8, 6, tzinfo=UTC)),
        ("Friday, January 4, 2019", datetime(2019, 1, 4, tzinfo=UTC)),
        ("06.08.2021", datetime(2021, 8, 6, tzinfo=UTC)),
        (1628244000, datetime(2021, 8, 6, 10, 0, tzinfo=UTC)),
        (1628244000000, datetime(2021, 8, 6, 10, 0, tzinfo=UTC)),
        ("yesterday-ish", None),
        ("", None),
        (None, None),
    ],
)
def test_dates_become_utc_timestamps(raw, expected):
    assert ingest.parse_timestamp(raw) == expected


def test_unparsable_date_is_null_and_counted_not_rejected(tmp_path):
    lines = [
        {"id": "a", "text": STORY, "published_at": "sometime in spring"},
        {"id": "b", "text": STORY, "published_at": None},
    ]
    (tmp_path / "x.jsonl").write_text("\n".join(json.dumps(r) for r in lines), encoding="utf-8")
    docs, rejects, stats, _ = run([tmp_path / "x.jsonl"])
    assert docs.num_rows == 2 and rejects.num_rows == 0
    assert docs.column("published_at").to_pylist() == [None, None]
    assert docs.column("published_at_raw").to_pylist() == ["sometime in spring", None]
    assert stats.unparsable_dates == 1 and stats.missing_dates == 1


def reasons(rejects):
    return sorted((r["reason"], r["record"]) for r in rejects.to_pylist())


def test_reject_empty_text(tmp_path):
    lines = [{"id": "a", "text": "   "}, {"id": "b"}, {"id": "c", "text": STORY}]
    (tmp_path / "x.jsonl").write_text("\n".join(json.dumps(r) for r in lines), encoding="utf-8")
    docs, rejects, _, _ = run([tmp_path])
    assert reasons(rejects) == [("empty_text", 1), ("empty_text", 2)]
    assert docs.column("doc_id").to_pylist() == ["c"]


def test_reject_duplicate_id_first_wins(tmp_path):
    lines = [{"id": "a", "text": "first " + STORY}, {"id": "a", "text": "second " + STORY}]
    (tmp_path / "x.jsonl").write_text("\n".join(json.dumps(r) for r in lines), encoding="utf-8")
    docs, rejects, _, _ = run([tmp_path])
    assert docs.column("text").to_pylist() == ["first " + STORY]
    assert reasons(rejects) == [("duplicate_id", 2)]
    assert rejects.column("doc_id").to_pylist() == ["a"]


def test_reject_undecodable_bytes_in_jsonl_csv_and_txt(tmp_path):
    good = json.dumps({"id": "ok", "text": STORY}).encode()
    (tmp_path / "x.jsonl").write_bytes(good + b"\n" + b'{"id": "bad", "text": "caf\xe9 \xff"}\n')
    (tmp_path / "y.csv").write_bytes(b"id,text\nc1,fine text here\nc2,caf\xe9\n")
    (tmp_path / "z.txt").write_bytes(b"Title\n\ncaf\xe9 \xff bytes")
    docs, rejects, _, _ = run([tmp_path])
    got = sorted((r["file"].rsplit("/", 1)[-1], r["reason"], r["record"]) for r in rejects.to_pylist())
    assert got == [("x.jsonl", "undecodable", 2), ("y.csv", "undecodable", 3), ("z.txt", "undecodable", None)]
    assert sorted(docs.column("doc_id").to_pylist()) == ["c1", "ok"]


def test_reject_malformed_records(tmp_path):
    (tmp_path / "x.jsonl").write_text(
        '{"id": "a", "text": "fine"}\n{"id": "b", "text": \n[1, 2]\n{"id": "c", "text": 42}\n', encoding="utf-8"
    )
    (tmp_path / "y.csv").write_text("id,text\nc1,ok text\nc2,too,many\n", encoding="utf-8")
    docs, rejects, _, _ = run([tmp_path])
    assert sorted((r["file"].rsplit("/", 1)[-1], r["reason"], r["record"]) for r in rejects.to_pylist()) == [
        ("x.jsonl", "malformed_record", 2),
        ("x.jsonl", "malformed_record", 3),
        ("x.jsonl", "malformed_record", 4),
        ("y.csv", "malformed_record", 3),
    ]
    assert sorted(docs.column("doc_id").to_pylist()) == ["a", "c1"]


def test_reject_unreadable_parquet(tmp_path):
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    _, rejects, _, _ = run([tmp_path])
    assert reasons(rejects) == [("unreadable_file", None)]


def test_every_record_lands_in_documents_or_rejects_once(tmp_path):
    lines = [json.dumps({"id": f"d{i % 7}", "text": STORY if i % 5 else ""}) for i in range(40)]
    lines.insert(10, "{broken")
    (tmp_path / "x.jsonl").write_text("\n".join(lines), encoding="utf-8")
    docs, rejects, stats, _ = run([tmp_path])
    assert docs.num_rows + rejects.num_rows == 41 == stats.records
    assert len(set(docs.column("doc_id").to_pylist())) == docs.num_rows


def test_shards_are_bounded_by_shard_size(tmp_path):
    lines = [json.dumps({"id": f"d{i}", "text": STORY}) for i in range(25)]
    (tmp_path / "x.jsonl").write_text("\n".join(lines), encoding="utf-8")
    _, _, _, shards = run([tmp_path], shard_size=4)
    assert [s.documents.num_rows for s in shards] == [4, 4, 4, 4, 4, 4, 1]


def test_records_without_id_get_a_stable_one(tmp_path):
    (tmp_path / "x.jsonl").write_text(json.dumps({"text": STORY}), encoding="utf-8")
    docs, _, _, _ = run([tmp_path])
    assert docs.column("doc_id").to_pylist() == ["x.jsonl#1"]


def test_bad_paths_fail_before_any_work(tmp_path):
    with pytest.raises(ingest.InputError, match="not found"):
        ingest.discover_files([tmp_path / "missing"])
    (tmp_path / "notes.docx").write_text("x")
    with pytest.raises(ingest.InputError, match="unknown format"):
        ingest.discover_files([tmp_path / "notes.docx"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ingest.InputError, match="has no"):
        ingest.discover_files([tmp_path / "empty"])


def test_articles_an_earlier_run_holds_are_skipped_and_new_versions_rejected(tmp_path):
    lines = [{"id": "a", "text": STORY}, {"id": "b", "text": STORY + " Updated."}, {"id": "c", "text": STORY}]
    (tmp_path / "x.jsonl").write_text("\n".join(json.dumps(r) for r in lines), encoding="utf-8")
    earlier = {"a": ingest.text_hash(STORY), "b": ingest.text_hash(STORY)}
    stats = ingest.IngestStats()
    shards = list(ingest.shards(ingest.discover_files([tmp_path]), IngestConfig(), "r2", stats, earlier))
    docs = pa.concat_tables([s.documents for s in shards])
    rejects = pa.concat_tables([s.rejects for s in shards])
    assert docs.column("doc_id").to_pylist() == ["c"]
    assert [(r["doc_id"], r["reason"]) for r in rejects.to_pylist()] == [("b", "id_reused")]
    assert stats.already_seen == 1 and stats.records == stats.documents + stats.rejects + stats.already_seen
