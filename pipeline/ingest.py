"""Ingest: .txt folders, JSONL, CSV and Parquet -> shards of the `documents` table, plus `rejects`.

Records stream through in shards of `shard_size`, so memory is bounded by the shard, not the corpus. The only state
kept across shards is the set of ids already seen (duplicate ids: the first wins).
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from pipeline import schema
from pipeline.config import IngestConfig
from pipeline.dates import parse_timestamp
from pipeline.gcpause import gc_paused, gc_paused_while_producing
from pipeline.normalize import title_from_lines

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
CSV_SUFFIXES = {".csv", ".tsv"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
KNOWN_SUFFIXES = TEXT_SUFFIXES | JSONL_SUFFIXES | CSV_SUFFIXES | PARQUET_SUFFIXES

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class InputError(ValueError):
    """An input path cannot be read at all (missing, unknown format); raised before any work starts."""


@dataclass
class Record:
    doc_id: str | None
    source: str | None
    url: str | None
    published_at: Any
    title: str | None
    text: Any
    lang: str | None
    file: str
    record: int | None


@dataclass
class Reject:
    file: str
    record: int | None
    doc_id: str | None
    reason: str
    detail: str


@dataclass
class Shard:
    documents: pa.Table
    rejects: pa.Table


@dataclass
class IngestStats:
    records: int = 0
    documents: int = 0
    rejects: int = 0
    unparsable_dates: int = 0
    missing_dates: int = 0
    already_seen: int = 0  # records an earlier run of this output already holds (same id, same text): skipped
    files: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- input discovery


def discover_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every readable input file under `paths`, in a stable order; raises InputError for a bad path."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"input not found: {path}")
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in KNOWN_SUFFIXES)
            found = [p for p in found if not _is_sidecar(p)]
            if not found:
                raise InputError(f"input folder {path} has no .txt, .jsonl, .csv or .parquet files")
            files.extend(found)
        elif path.suffix.lower() in KNOWN_SUFFIXES:
            files.append(path)
        else:
            raise InputError(f"input {path}: unknown format {path.suffix!r}; expected one of {sorted(KNOWN_SUFFIXES)}")
    return files


def _is_sidecar(path: Path) -> bool:
    return path.stem == "sources" and path.suffix.lower() in {".json", ".csv"}


# ---------------------------------------------------------------- readers: each yields Record | Reject


def _read_txt(path: Path, cfg: IngestConfig, sources: dict[str, str]) -> Iterator[Record | Reject]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield Reject(str(path), None, path.stem, "undecodable", f"not UTF-8: {exc.reason} at byte {exc.start}")
        return
    source = sources.get(path.name) or sources.get(path.stem) or path.parent.name
    yield Record(path.stem, source, None, None, title_from_text(text), text, None, str(path), None)


def title_from_text(text: str) -> str | None:
    """The headline of a plain-text article: its first line when that looks like one (see normalize)."""
    return title_from_lines([line.strip() for line in text.splitlines() if line.strip()])


def _sources_for_folder(folder: Path, cfg: IngestConfig) -> dict[str, str]:
    sidecar = folder / cfg.txt_sources_file
    if not sidecar.is_file():
        return {}
    try:
        if sidecar.suffix.lower() == ".csv":
            with sidecar.open(encoding="utf-8", newline="") as fh:
                return {row["file"]: row["source"] for row in csv.DictReader(fh)}
        mapping = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"source mapping {sidecar} is unreadable: {exc}") from None
    if not isinstance(mapping, dict):
        raise InputError(f"source mapping {sidecar} must be a JSON object of file name -> source")
    return {str(k): str(v) for k, v in mapping.items()}


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _record_from_mapping(obj: dict[str, Any], cfg: IngestConfig, file: str, number: int) -> Record:
    doc_id = obj.get(cfg.id_field)
    return Record(
        doc_id=None if doc_id is None or str(doc_id) == "" else str(doc_id),
        source=_text_or_none(obj.get(cfg.source_field)),
        url=_text_or_none(obj.get(cfg.url_field)),
        published_at=obj.get(cfg.published_at_field),
        title=_text_or_none(obj.get(cfg.title_field)),
        text=obj.get(cfg.text_field),
        lang=_text_or_none(obj.get(cfg.lang_field)),
        file=file,
        record=number,
    )


def _read_jsonl(path: Path, cfg: IngestConfig) -> Iterator[Record | Reject]:
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                reason = "undecodable" if _is_bad_utf8(line) else "malformed_record"
                yield Reject(str(path), number, None, reason, f"invalid JSON: {exc}")
                continue
            if not isinstance(obj, dict):
                yield Reject(str(path), number, None, "malformed_record", "JSON line is not an object")
                continue
            yield _record_from_mapping(obj, cfg, str(path), number)


def _is_bad_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _read_csv(path: Path, cfg: IngestConfig) -> Iterator[Record | Reject]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    # surrogateescape keeps undecodable bytes visible per row instead of failing the whole file.
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Reject(str(path), 1, None, "malformed_record", f"unreadable CSV header: {exc}")
            return
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Reject(str(path), reader.line_num, None, "malformed_record", f"CSV error: {exc}")
                continue
            number = reader.line_num
            if not row or all(not cell for cell in row):
                continue
            if len(row) != len(header):
                detail = f"{len(row)} fields, header has {len(header)}"
                yield Reject(str(path), number, None, "malformed_record", detail)
                continue
            if any(_has_surrogates(cell) for cell in row):
                yield Reject(str(path), number, None, "undecodable", "row is not valid UTF-8")
                continue
            yield _record_from_mapping(dict(zip(header, row, strict=True)), cfg, str(path), number)


def _has_surrogates(text: str) -> bool:
    if text.isascii():  # a flag of the string: no scan, and most English copy stops here
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _read_parquet(path: Path, cfg: IngestConfig) -> Iterator[Record | Reject]:
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        yield Reject(str(path), None, None, "unreadable_file", f"not a Parquet file: {exc}")
        return
    number = 0
    for batch in parquet.iter_batches(batch_size=max(cfg.shard_size, 1024)):
        for obj in batch.to_pylist():
            number += 1
            yield _record_from_mapping(obj, cfg, str(path), number)


def read_records(files: Iterable[Path], cfg: IngestConfig) -> Iterator[Record | Reject]:
    """Every record and reject of every input file, streamed in file order."""
    sources_by_folder: dict[Path, dict[str, str]] = {}
    for path in files:
        suffix = path.suffix.lower()
        try:
            if suffix in TEXT_SUFFIXES:
                if path.parent not in sources_by_folder:
                    sources_by_folder[path.parent] = _sources_for_folder(path.parent, cfg)
                yield from _read_txt(path, cfg, sources_by_folder[path.parent])
            elif suffix in JSONL_SUFFIXES:
                yield from _read_jsonl(path, cfg)
            elif suffix in CSV_SUFFIXES:
                yield from _read_csv(path, cfg)
            else:
                yield from _read_parquet(path, cfg)
        except OSError as exc:
            yield Reject(str(path), None, None, "unreadable_file", str(exc))


# ---------------------------------------------------------------- shards


def text_hash(text: str) -> int:
    return xxhash.xxh3_64_intdigest(text.encode("utf-8"))


# Which of a batch of document ids an earlier run of the same output committed, with the hash of their text.
EarlierTexts = Callable[[list[str]], Mapping[str, int]]


ALREADY_SEEN = object()  # marks a record an earlier run already committed


def _with_id(item: Record | Reject) -> Record | Reject:
    if isinstance(item, Record) and item.doc_id is None:
        # Records without an id get a stable one from where they came from, so reruns agree.
        item.doc_id = f"{Path(item.file).name}#{item.record}"
    return item


def _validated(item: Record, seen: set[str], earlier: Mapping[str, int]) -> Record | Reject | object:
    if not isinstance(item.text, str):
        if item.text is None:
            return Reject(item.file, item.record, item.doc_id, "empty_text", "no text field")
        return Reject(item.file, item.record, item.doc_id, "malformed_record", "text is not a string")
    if not item.text or item.text.isspace():  # (`strip` would copy every text)
        return Reject(item.file, item.record, item.doc_id, "empty_text", "text is empty or whitespace")
    if _has_surrogates(item.text):
        return Reject(item.file, item.record, item.doc_id, "undecodable", "text is not valid Unicode")
    if item.doc_id in seen:
        return Reject(item.file, item.record, item.doc_id, "duplicate_id", "an earlier record has this id")
    if item.doc_id in earlier:
        # Reruns are idempotent: the same article again is skipped; the same id with other text is a new version
        # that needs an id of its own (rejected, never a silent duplicate).
        if earlier[item.doc_id] == text_hash(item.text):
            return ALREADY_SEEN
        return Reject(
            item.file,
            item.record,
            item.doc_id,
            "id_reused",
            "an earlier run holds this id with different text; give the new version an id of its own",
        )
    seen.add(item.doc_id)
    return item


def _earlier_texts(earlier: Mapping[str, int] | EarlierTexts | None) -> EarlierTexts:
    if earlier is None:
        return lambda ids: {}
    if callable(earlier):
        return earlier
    return lambda ids: {i: earlier[i] for i in ids if i in earlier}


def _with_earlier(
    items: Iterator[Record | Reject], size: int, earlier: EarlierTexts
) -> Iterator[tuple[Record | Reject, Mapping[str, int]]]:
    """Each item read, with what earlier runs hold of the ids of its chunk of `size` items: one look-up per chunk,
    which against a large history costs what one id costs."""
    while chunk := [_with_id(item) for item in itertools.islice(items, size)]:
        held = earlier([item.doc_id for item in chunk if isinstance(item, Record)])
        for item in chunk:
            yield item, held


@gc_paused
def _documents_table(records: list[Record], run_id: str, stats: IngestStats) -> pa.Table:
    published: list[datetime | None] = []
    raw_dates: list[str | None] = []
    for r in records:
        ts = parse_timestamp(r.published_at)
        published.append(ts)
        raw = None if r.published_at is None else str(r.published_at)
        raw_dates.append(raw)
        if raw is None or not raw.strip():
            stats.missing_dates += 1
        elif ts is None:
            stats.unparsable_dates += 1
    n = len(records)
    columns = {
        "doc_id": [r.doc_id for r in records],
        "source": [r.source for r in records],
        "url": [r.url for r in records],
        "published_at": published,
        "published_at_raw": raw_dates,
        "title": [r.title for r in records],
        "text": [r.text for r in records],
        "lang": [r.lang for r in records],
        "input_file": [r.file for r in records],
        "input_record": [r.record for r in records],
        "text_hash": [text_hash(r.text) for r in records],
        "run_id": [run_id] * n,
    }
    for name in schema.DOCUMENTS.names:  # filled by later stages
        columns.setdefault(name, [None] * n)
    return pa.Table.from_pydict(columns, schema=schema.DOCUMENTS)


def _rejects_table(rejects: list[Reject], run_id: str) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "file": r.file,
                "record": r.record,
                "doc_id": r.doc_id,
                "reason": r.reason,
                "detail": r.detail,
                "run_id": run_id,
            }
            for r in rejects
        ],
        schema=schema.REJECTS,
    )


@gc_paused_while_producing
def shards(
    files: list[Path],
    cfg: IngestConfig,
    run_id: str,
    stats: IngestStats | None = None,
    earlier: Mapping[str, int] | EarlierTexts | None = None,
) -> Iterator[Shard]:
    """Shards of at most `cfg.shard_size` documents (with the rejects met on the way), streamed from `files`.
    `earlier` gives the ids an earlier run of the same output committed with the hash of their text: a mapping, or
    a function of a batch of ids (see `store.CommittedTexts`)."""
    stats = stats if stats is not None else IngestStats()
    stats.files = [str(f) for f in files]
    seen: set[str] = set()
    records: list[Record] = []
    rejects: list[Reject] = []
    for item, held in _with_earlier(read_records(files, cfg), cfg.shard_size, _earlier_texts(earlier)):
        stats.records += 1
        checked = _validated(item, seen, held) if isinstance(item, Record) else item
        if checked is ALREADY_SEEN:
            stats.already_seen += 1
        elif isinstance(checked, Reject):
            rejects.append(checked)
            stats.rejects += 1
        else:
            records.append(checked)
            stats.documents += 1
        if len(records) >= cfg.shard_size:
            yield Shard(_documents_table(records, run_id, stats), _rejects_table(rejects, run_id))
            records, rejects = [], []
    if records or rejects:
        yield Shard(_documents_table(records, run_id, stats), _rejects_table(rejects, run_id))
