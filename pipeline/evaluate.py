"""Evaluate: score a pipeline output against gold labels.

Gold is either a folder written by `wiretrace simulate` (`gold/pairs.jsonl`, `clusters.jsonl`, `origins.jsonl`,
`credits.jsonl`, `docs.jsonl`) or a plain pair-label file (CSV, TSV or JSONL with `a`, `b`, `label` and an optional
`origin`: the id of the document the other copied from), so any external labelled corpus can be scored.

Every metric is a small pure function over plain Python collections; `evaluate` gathers them into one report.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from math import comb
from pathlib import Path
from typing import Any

import duckdb

REUSE_LABELS = frozenset({"exact", "near_duplicate", "partial"})
_TRUE_WORDS = frozenset({"1", "true", "yes", "duplicate", "reuse", "copy", *REUSE_LABELS})

Pair = tuple[str, str]


def ordered(a: str, b: str) -> Pair:
    return (a, b) if a <= b else (b, a)


# ---------------------------------------------------------------- metric functions


@dataclass(frozen=True)
class PRF:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def set_prf(predicted: Iterable[Any], gold: Iterable[Any]) -> PRF:
    """Precision, recall and F1 of a predicted set against a gold set."""
    p, g = set(predicted), set(gold)
    return PRF(len(p & g), len(p - g), len(g - p))


def bcubed(predicted: dict[str, str], gold: dict[str, str], items: Iterable[str]) -> PRF | dict[str, float]:
    """B-cubed precision, recall and F1 over `items`; an item missing from a clustering is a singleton."""
    items = list(items)
    pred_members: dict[str, set[str]] = defaultdict(set)
    gold_members: dict[str, set[str]] = defaultdict(set)
    for item in items:
        pred_members[predicted.get(item, f"\0{item}")].add(item)
        gold_members[gold.get(item, f"\0{item}")].add(item)
    precision = recall = 0.0
    for item in items:
        p = pred_members[predicted.get(item, f"\0{item}")]
        g = gold_members[gold.get(item, f"\0{item}")]
        both = len(p & g)
        precision += both / len(p)
        recall += both / len(g)
    n = len(items) or 1
    precision, recall = precision / n, recall / n
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def adjusted_rand_index(predicted: dict[str, str], gold: dict[str, str], items: Iterable[str]) -> float:
    """Hubert-Arabie adjusted Rand index of two clusterings over `items` (missing items are singletons)."""
    items = list(items)
    if len(items) < 2:
        return 1.0
    cells = Counter((predicted.get(i, f"\0{i}"), gold.get(i, f"\0{i}")) for i in items)
    rows = Counter(predicted.get(i, f"\0{i}") for i in items)
    cols = Counter(gold.get(i, f"\0{i}") for i in items)
    index = sum(comb(n, 2) for n in cells.values())
    sum_rows = sum(comb(n, 2) for n in rows.values())
    sum_cols = sum(comb(n, 2) for n in cols.values())
    expected = sum_rows * sum_cols / comb(len(items), 2)
    maximum = (sum_rows + sum_cols) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)


def span_chars(spans: Iterable[tuple[int, int]]) -> set[int]:
    return {c for start, end in spans for c in range(start, end)}


def span_prf(predicted: dict[Pair, list[dict]], gold: dict[Pair, list[dict]]) -> PRF:
    """Character-level precision/recall of reused spans: for every pair, the characters of each document covered
    by predicted spans against those covered by gold spans (a missed pair's gold characters are all misses)."""
    tp = fp = fn = 0
    for pair in set(predicted) | set(gold):
        for side in ("a", "b"):
            p = span_chars((s[f"{side}_start"], s[f"{side}_end"]) for s in predicted.get(pair, []))
            g = span_chars((s[f"{side}_start"], s[f"{side}_end"]) for s in gold.get(pair, []))
            tp, fp, fn = tp + len(p & g), fp + len(p - g), fn + len(g - p)
    return PRF(tp, fp, fn)


def credit_prf(predicted: list[dict], gold: list[dict]) -> PRF:
    """Credit mentions: a prediction matches a gold mention of the same document and agency whose characters it
    overlaps; each gold mention is matched at most once."""
    unmatched = defaultdict(list)
    for g in gold:
        unmatched[(g["doc_id"], g["agency"].casefold())].append((g["start"], g["end"]))
    tp = 0
    for p in predicted:
        candidates = unmatched.get((p["doc_id"], str(p["agency"]).casefold()), [])
        hit = next((c for c in candidates if c[0] < p["end"] and p["start"] < c[1]), None)
        if hit is not None:
            candidates.remove(hit)
            tp += 1
    return PRF(tp, len(predicted) - tp, len(gold) - tp)


def majority_cluster(members: list[str], predicted: dict[str, str]) -> str | None:
    """The predicted cluster holding most of a gold cluster's members (ties: the smallest id), or None."""
    votes = Counter(predicted[m] for m in members if m in predicted)
    if not votes:
        return None
    best = max(votes.values())
    return min(c for c, n in votes.items() if n == best)


def origin_accuracy(
    gold_origins: list[dict],
    gold_members: dict[str, list[str]],
    predicted: dict[str, str],
    predicted_origins: dict[str, dict],
) -> dict[str, Any]:
    """Top-1 origin accuracy (gold origin in the corpus) and external-origin accuracy (the credited agency named
    as external origin) of the predicted cluster that holds most of each gold cluster's members."""
    inside = [0, 0]
    external = [0, 0]
    for g in gold_origins:
        if g.get("ambiguous"):
            continue
        cluster = majority_cluster(gold_members.get(g["cluster"], []), predicted)
        verdict = predicted_origins.get(cluster, {}) if cluster else {}
        if g.get("origin_doc_id"):
            inside[1] += 1
            inside[0] += verdict.get("origin_doc_id") == g["origin_doc_id"]
        elif g.get("external_agency"):
            external[1] += 1
            guess = verdict.get("external_origin") or ""
            external[0] += guess.casefold() == g["external_agency"].casefold()
    return {
        "origin_top1": inside[0] / inside[1] if inside[1] else None,
        "origin_clusters": inside[1],
        "external_origin_accuracy": external[0] / external[1] if external[1] else None,
        "external_clusters": external[1],
    }


def direction_accuracy(gold_sources: dict[Pair, str], predicted_sources: dict[Pair, str | None]) -> dict[str, Any]:
    """Share of found gold pairs with a known direction whose predicted source is right (no verdict is wrong)."""
    found = [p for p in gold_sources if p in predicted_sources]
    right = sum(predicted_sources[p] == gold_sources[p] for p in found)
    decided = sum(predicted_sources[p] is not None for p in found)
    return {
        "direction_accuracy": right / len(found) if found else None,
        "directed_pairs": len(found),
        "direction_decided": decided / len(found) if found else None,
    }


# ---------------------------------------------------------------- loading


@dataclass
class Gold:
    pairs: dict[Pair, dict] = field(default_factory=dict)  # every labelled pair, positives and negatives
    clusters: dict[str, str] = field(default_factory=dict)
    origins: list[dict] = field(default_factory=list)
    credits: list[dict] = field(default_factory=list)
    docs: dict[str, dict] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # the simulated documents, for span-based figures
    plain: bool = False

    @property
    def positives(self) -> set[Pair]:
        return {p for p, g in self.pairs.items() if g["label"] in REUSE_LABELS}


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_gold(path: str | Path) -> Gold:
    """Gold labels from a simulator folder or a plain pair-label file."""
    path = Path(path)
    if path.is_dir():
        base = path / "gold" if (path / "gold").is_dir() else path
        gold = Gold()
        for row in _read_jsonl(base / "pairs.jsonl"):
            gold.pairs[ordered(row["a"], row["b"])] = row
        gold.clusters = {r["doc_id"]: r["cluster"] for r in _read_jsonl(base / "clusters.jsonl")}
        gold.origins = _read_jsonl(base / "origins.jsonl")
        gold.credits = _read_jsonl(base / "credits.jsonl")
        gold.docs = {r["doc_id"]: r for r in _read_jsonl(base / "docs.jsonl")}
        corpus = base.parent / "corpus"
        for shard in sorted(corpus.glob("docs-*.jsonl")) if corpus.is_dir() else []:
            gold.texts.update({r["id"]: r["text"] for r in _read_jsonl(shard)})
        if not gold.pairs:
            raise ValueError(f"no gold pairs found in {base} (expected pairs.jsonl)")
        return gold
    return load_pair_labels(path)


def load_pair_labels(path: Path) -> Gold:
    """A plain label file: CSV/TSV with a header or JSONL, fields `a`, `b`, `label` and optional `origin`."""
    if not path.is_file():
        raise ValueError(f"gold labels not found: {path}")
    if path.suffix.lower() in {".jsonl", ".json", ".ndjson"}:
        rows = _read_jsonl(path)
    else:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t" if path.suffix.lower() == ".tsv" else ","))
    gold = Gold(plain=True)
    for number, row in enumerate(rows, start=2):
        if not row.get("a") or not row.get("b") or row.get("label") is None:
            raise ValueError(f"{path}, record {number}: needs fields a, b and label")
        raw = str(row["label"]).strip().casefold()
        label = raw if raw in REUSE_LABELS else ("partial" if raw in _TRUE_WORDS else "none")
        gold.pairs[ordered(str(row["a"]), str(row["b"]))] = {
            "label": label,
            "origin": row.get("origin") or None,
            "copy_type": "labelled",
        }
    return gold


@dataclass
class Output:
    pairs: dict[Pair, dict]
    clusters: dict[str, str]
    origins: dict[str, dict]
    attributions: list[dict]
    documents: list[str]


def load_output(output: str | Path) -> Output:
    """The latest completed run's tables under `output`, read with DuckDB."""
    root = Path(output)
    con = duckdb.connect()

    def rows(table: str, columns: str) -> list[dict]:
        glob = root / table / "*.parquet"
        if not list((root / table).glob("*.parquet")):
            return []
        latest = con.execute(f"SELECT max(run_id) FROM read_parquet('{root}/runs/*.parquet')").fetchall()[0][0]
        cur = con.execute(
            f"SELECT {columns} FROM read_parquet('{glob}', union_by_name=true) WHERE run_id = ?", [latest]
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    if not list((root / "runs").glob("*.parquet")):
        raise ValueError(f"no completed run in {root}: run `wiretrace run` first")
    pairs = {
        ordered(r["doc_id_a"], r["doc_id_b"]): r
        for r in rows("pairs", "doc_id_a, doc_id_b, relation, spans, source_doc_id")
    }
    return Output(
        pairs=pairs,
        clusters={r["doc_id"]: r["cluster_id"] for r in rows("clusters", "cluster_id, doc_id")},
        origins={r["cluster_id"]: r for r in rows("origins", "cluster_id, origin_doc_id, external_origin")},
        attributions=rows("attributions", 'doc_id, agency, start, "end"'),
        documents=[r["doc_id"] for r in rows("documents", "doc_id")],
    )


# ---------------------------------------------------------------- the report


def evaluate(output: Output, gold: Gold) -> dict[str, Any]:
    """Every metric the gold supports, as a JSON-ready dict."""
    predicted = {p for p, r in output.pairs.items() if r["relation"] in REUSE_LABELS}
    report: dict[str, Any] = {"pairs": set_prf(predicted, gold.positives).as_dict()}
    if gold.plain:
        # A plain label file only speaks for the pairs it labels.
        labelled = set(gold.pairs)
        report["pairs"] = set_prf(predicted & labelled, gold.positives).as_dict()
    by_relation = {}
    for label in sorted(REUSE_LABELS):
        pred = {p for p in predicted if output.pairs[p]["relation"] == label}
        by_relation[label] = set_prf(pred, {p for p in gold.positives if gold.pairs[p]["label"] == label}).as_dict()
    report["pairs_by_relation"] = by_relation
    by_type: dict[str, dict[str, float | int]] = {}
    for copy_type in sorted({gold.pairs[p].get("copy_type", "?") for p in gold.positives}):
        wanted = {p for p in gold.positives if gold.pairs[p].get("copy_type", "?") == copy_type}
        by_type[copy_type] = {"recall": len(wanted & predicted) / len(wanted), "pairs": len(wanted)}
    report["recall_by_copy_type"] = by_type
    if gold.texts:
        report["partial_recall_by_shared_words"] = recall_by_shared_words(
            {p: g for p, g in gold.pairs.items() if g["label"] == "partial"}, predicted, gold.texts
        )
    quotes = [p for p, g in gold.pairs.items() if g["label"] == "shared_quote"]
    if quotes:
        labelled = sum(output.pairs.get(p, {}).get("relation") == "shared_quote" for p in quotes)
        report["shared_quote"] = {
            "pairs": len(quotes),
            "labelled_shared_quote": labelled / len(quotes),
            "labelled_reuse": sum(p in predicted for p in quotes) / len(quotes),
        }
    gold_sources = {
        p: g.get("source") or g.get("origin")
        for p, g in gold.pairs.items()
        if g["label"] in REUSE_LABELS and (g.get("source") or g.get("origin"))
    }
    report["direction"] = direction_accuracy(
        gold_sources, {p: r["source_doc_id"] for p, r in output.pairs.items() if p in predicted}
    )
    if gold.plain:
        return report
    items = sorted(set(output.documents) | set(gold.docs) | set(gold.clusters) | set(output.clusters))
    report["clusters"] = {
        **bcubed(output.clusters, gold.clusters, items),
        "ari": adjusted_rand_index(output.clusters, gold.clusters, items),
    }
    members: dict[str, list[str]] = defaultdict(list)
    for doc, cluster in gold.clusters.items():
        members[cluster].append(doc)
    report["origins"] = origin_accuracy(gold.origins, members, output.clusters, output.origins)
    gold_spans = {p: g.get("spans", []) for p, g in gold.pairs.items() if g["label"] in REUSE_LABELS}
    report["spans"] = span_prf(
        {p: r["spans"] or [] for p, r in output.pairs.items() if p in predicted}, gold_spans
    ).as_dict()
    report["credits"] = credit_prf(output.attributions, gold.credits).as_dict()
    return report


SHARED_WORD_BUCKETS = ((0, 19, "< 20 words"), (20, 39, "20-39 words"), (40, 10**9, ">= 40 words"))


def recall_by_shared_words(
    gold_pairs: dict[Pair, dict], predicted: set[Pair], texts: dict[str, str]
) -> dict[str, dict[str, float | int]]:
    """Recall of gold pairs bucketed by how many words of the first document their gold spans cover."""
    out: dict[str, dict[str, float | int]] = {}
    for low, high, name in SHARED_WORD_BUCKETS:
        wanted = set()
        for pair, g in gold_pairs.items():
            words = sum(len(texts.get(pair[0], "")[s["a_start"] : s["a_end"]].split()) for s in g.get("spans", []))
            if low <= words <= high:
                wanted.add(pair)
        if wanted:
            out[name] = {"recall": len(wanted & predicted) / len(wanted), "pairs": len(wanted)}
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def render(report: dict[str, Any]) -> str:
    """The report as an aligned plain-text table."""
    lines = ["metric                                   value"]

    def row(name: str, value: Any) -> None:
        lines.append(f"{name:<40} {_fmt(value)}")

    p = report["pairs"]
    row("pairs precision / recall / F1", f"{p['precision']:.3f} / {p['recall']:.3f} / {p['f1']:.3f}")
    for label, m in report["pairs_by_relation"].items():
        row(f"  {label} P / R / F1", f"{m['precision']:.3f} / {m['recall']:.3f} / {m['f1']:.3f}")
    for copy_type, m in report["recall_by_copy_type"].items():
        row(f"  recall, copy type {copy_type} ({m['pairs']})", m["recall"])
    for bucket, m in report.get("partial_recall_by_shared_words", {}).items():
        row(f"  partial recall, shared {bucket} ({m['pairs']})", m["recall"])
    if "shared_quote" in report:
        q = report["shared_quote"]
        row(f"quote-only pairs labelled shared_quote ({q['pairs']})", q["labelled_shared_quote"])
        row("quote-only pairs labelled reuse", q["labelled_reuse"])
    d = report["direction"]
    row(f"pair direction accuracy ({d['directed_pairs']})", d["direction_accuracy"])
    row("  pairs with a direction verdict", d["direction_decided"])
    if "clusters" in report:
        c = report["clusters"]
        row("clusters B3 precision / recall / F1", f"{c['precision']:.3f} / {c['recall']:.3f} / {c['f1']:.3f}")
        row("clusters ARI", c["ari"])
        o = report["origins"]
        row(f"origin top-1 ({o['origin_clusters']} clusters)", o["origin_top1"])
        row(f"external origin accuracy ({o['external_clusters']})", o["external_origin_accuracy"])
        s = report["spans"]
        row("span chars precision / recall / F1", f"{s['precision']:.3f} / {s['recall']:.3f} / {s['f1']:.3f}")
        cr = report["credits"]
        row("credit mentions precision / recall", f"{cr['precision']:.3f} / {cr['recall']:.3f}")
    return "\n".join(lines)
