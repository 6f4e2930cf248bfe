"""Provenance: which document of a pair is the source, and where each cluster's text came from, with evidence.

Evidence, strongest first: a document credits the other's agency ("…, AFP reported" in a copy of AFP's story);
publication order (with a tolerance for clock noise, and less weight for dates known only to the day or found in the
text); a document from an agency against one from an outlet; containment asymmetry (the source holds the shared
text more completely, copies add their own material: a weak tie-breaker, since truncated copies invert it). A
cluster's origin follows credit chains (a site credits BTA, BTA credits AFP: AFP) to the agency's own story when it
is in the cluster; when the chain ends at an agency none of whose documents is in the cluster (every copy says AFP,
no AFP story is there) that agency is the external origin.
Without dates or credits the verdict rests on containment with a low confidence: never a made-up certainty.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from pipeline import schema
from pipeline.credits import canonical_source
from pipeline.gcpause import gc_paused

# Clocks of scrapers and CMSs disagree by minutes; closer than this is "same time", not an order.
CLOCK_TOLERANCE = timedelta(minutes=5)
DAY_TOLERANCE = timedelta(days=1)  # for dates known only to the day
CREDIT_WEIGHT, TIME_WEIGHT, WEAK_TIME_WEIGHT, AGENCY_WEIGHT, CONTAINMENT_WEIGHT = 3.0, 2.0, 1.0, 1.0, 0.5


@dataclass
class DocFacts:
    published: datetime | None = None  # set from `published_us`, or given directly
    day_only: bool = False  # the time of day is unknown (date-only metadata, or a date found in the text)
    agency: str | None = None  # the agency the document's source is, if it is one
    credits: set[str] = field(default_factory=set)  # agencies the text credits, other than its own


@gc_paused
def doc_facts(documents: pa.Table, attributions: pa.Table, only: pa.Array | None = None) -> dict[str, DocFacts]:
    """What provenance needs to know of every document (or of the ids in `only`: those in pairs), from `documents`
    and `attributions`."""
    # Only the columns read below: filtering the table would copy every text and body.
    documents = documents.select(["doc_id", "published_at", "published_at_raw", "published_at_source", "source"])
    if only is not None:
        documents = documents.filter(pc.is_in(documents.column("doc_id"), only))
        attributions = attributions.filter(pc.is_in(attributions.column("doc_id"), only))
    ids = documents.column("doc_id").to_pylist()
    # Timestamps as integers: converting every one to a Python datetime costs more than the rest of provenance.
    micros = pc.cast(documents.column("published_at"), pa.int64()).to_pylist()
    raw_len = pc.utf8_length(pc.utf8_trim_whitespace(documents.column("published_at_raw"))).to_pylist()
    from_text = pc.equal(documents.column("published_at_source"), "text").to_pylist()
    sources = documents.column("source").to_pylist()
    facts: dict[str, DocFacts] = {}
    for i, doc_id in enumerate(ids):
        us = micros[i]
        published = None if us is None else _EPOCH + timedelta(microseconds=us)
        day_only = us is not None and (bool(from_text[i]) or (raw_len[i] is not None and raw_len[i] <= 10))
        facts[doc_id] = DocFacts(published, day_only, canonical_source(sources[i]))
    for doc_id, agency in zip(
        attributions.column("doc_id").to_pylist(), attributions.column("agency").to_pylist(), strict=True
    ):
        f = facts.get(doc_id)
        if f is not None and agency != f.agency:
            f.credits.add(agency)
    return facts


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def agencies_among(sources: pa.Array | pa.ChunkedArray) -> set[str]:
    """The agencies that publish among `sources` (each distinct source looked up once)."""
    return {a for s in pc.unique(sources).to_pylist() if (a := canonical_source(s))}


def format_gap(gap: timedelta) -> str:
    minutes = int(gap.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if mins or not parts:
        parts.append(f"{mins} m")
    return " ".join(parts)


def pair_direction(
    a: str, b: str, fa: DocFacts, fb: DocFacts, containment_a: float, containment_b: float
) -> tuple[float, list[str]]:
    """(score, evidence): score > 0 says `a` is the source, < 0 says `b` is."""
    score, evidence = 0.0, []
    if fa.agency and fa.agency in fb.credits:
        score += CREDIT_WEIGHT
        evidence.append(f"{b} credits {fa.agency}, the source of {a}")
    if fb.agency and fb.agency in fa.credits:
        score -= CREDIT_WEIGHT
        evidence.append(f"{a} credits {fb.agency}, the source of {b}")
    if fa.published is not None and fb.published is not None:
        weak = fa.day_only or fb.day_only
        gap = fb.published - fa.published
        if abs(gap) > (DAY_TOLERANCE if weak else CLOCK_TOLERANCE):
            weight = WEAK_TIME_WEIGHT if weak else TIME_WEIGHT
            earlier = a if gap > timedelta(0) else b
            score += weight if earlier == a else -weight
            evidence.append(f"{earlier} earlier by {format_gap(abs(gap))}" + (" (day-precision date)" if weak else ""))
    if bool(fa.agency) != bool(fb.agency):
        agency_doc, agency = (a, fa.agency) if fa.agency else (b, fb.agency)
        score += AGENCY_WEIGHT if agency_doc == a else -AGENCY_WEIGHT
        evidence.append(f"{agency_doc} comes from the agency {agency}")
    if abs(containment_a - containment_b) >= 0.2:
        fuller = a if containment_a > containment_b else b
        score += CONTAINMENT_WEIGHT if fuller == a else -CONTAINMENT_WEIGHT
        evidence.append(
            f"{fuller} holds the shared text more completely "
            f"({max(containment_a, containment_b):.0%} vs {min(containment_a, containment_b):.0%})"
        )
    return score, evidence


def confidence(score: float) -> float:
    """A direction confidence in [0.5, 0.95): more agreeing evidence, more confidence; never certainty."""
    return round(0.5 + 0.45 * (1 - math.exp(-abs(score) / 2)), 3)


@gc_paused
def direct_pairs(pairs: pa.Table, facts: dict[str, DocFacts]) -> pa.Table:
    """`pairs` with `source_doc_id`, `direction_confidence` and `direction_evidence` set."""
    sources, confidences, evidences = [], [], []
    empty = DocFacts()
    for a, b, ca, cb in zip(
        *(pairs.column(c).to_pylist() for c in ("doc_id_a", "doc_id_b", "containment_a", "containment_b")), strict=True
    ):
        score, evidence = pair_direction(a, b, facts.get(a, empty), facts.get(b, empty), ca or 0.0, cb or 0.0)
        sources.append(None if score == 0 else (a if score > 0 else b))
        confidences.append(None if score == 0 else confidence(score))
        evidences.append(evidence)
    out = pairs
    for name, values in (
        ("source_doc_id", sources),
        ("direction_confidence", confidences),
        ("direction_evidence", evidences),
    ):
        f = schema.PAIRS.field(name)
        out = out.set_column(out.schema.get_field_index(name), f, pa.array(values, f.type))
    return out


def _members(clusters: pa.Table) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for cid, doc_id in zip(
        clusters.column("cluster_id").to_pylist(), clusters.column("doc_id").to_pylist(), strict=True
    ):
        out.setdefault(cid, []).append(doc_id)
    return out


# What `origins_table` reads of a pair: its direction.
DIRECTION_COLUMNS = ["source_doc_id", "direction_confidence"]


def _wins(pairs: pa.Table) -> Counter[str]:
    """How often each document is the source of a directed pair, weighted by confidence."""
    wins: Counter[str] = Counter()
    for source, conf in zip(
        pairs.column("source_doc_id").to_pylist(), pairs.column("direction_confidence").to_pylist(), strict=True
    ):
        if source is not None:
            wins[source] += conf or 0.0
    return wins


def cluster_origin(docs: list[str], facts: dict[str, DocFacts], wins: Counter[str], corpus_agencies: set[str]) -> dict:
    """The origin verdict of one cluster: origin document, credited agency, external origin, confidence, evidence."""
    credited = Counter(a for d in docs for a in facts[d].credits)
    evidence: list[str] = []
    agency = most_credited = None
    if credited:
        agency, count = sorted(credited.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        most_credited = agency
        evidence.append(f"credited by {count} of {len(docs)} members: {agency}")
    origin, conf, external = None, 0.0, None
    # Follow the credit chain to the agency whose own story is in the cluster.
    seen: set[str] = set()
    while agency and agency not in seen:
        seen.add(agency)
        own = sorted(
            (d for d in docs if facts[d].agency == agency),
            key=lambda d: (facts[d].published is None, facts[d].published or datetime.max, d),
        )
        if not own:
            break
        origin = own[0]
        upstream = facts[origin].credits - seen
        if upstream:
            nxt = sorted(upstream, key=lambda a: (-credited.get(a, 0), a))[0]
            evidence.append(f"chain: {origin} ({agency}) credits {nxt}")
            agency = nxt
            continue
        conf = round(0.6 + 0.35 * credited[agency] / len(docs), 3) if credited.get(agency) else 0.6
        evidence.append(f"{origin} is {agency}'s own story")
        break
    if agency and not any(facts[d].agency == agency for d in docs):
        # Every credit leads to an agency whose own story is not among the copies: the text came from outside.
        external = agency
        where = "in the corpus" if agency not in corpus_agencies else "in this cluster"
        evidence.append(f"no document {where} comes from {agency}: external origin")
    if origin is None or (external and facts[origin].agency != external):
        origin, conf = _fallback_origin(docs, facts, wins, evidence, conf if origin else 0.0)
        if external:
            conf = max(conf, round(0.6 + 0.35 * credited[external] / len(docs), 3))
    return {
        "origin_doc_id": origin,
        "credited_agency": most_credited,
        "external_origin": external,
        "confidence": conf,
        "evidence": evidence,
    }


def _fallback_origin(
    docs: list[str], facts: dict[str, DocFacts], wins: Counter[str], evidence: list[str], conf: float
) -> tuple[str | None, float]:
    """The member that wins most directed pairs, then the earliest; containment alone gives a low confidence."""
    dated = sorted((facts[d].published, d) for d in docs if facts[d].published is not None)
    position = {d: i for i, (_, d) in enumerate(dated)}
    best = max(docs, key=lambda d: (round(wins.get(d, 0.0), 6), -position.get(d, len(docs)), d))
    if wins.get(best):
        evidence.append(f"{best} is the source in most directed pairs of the cluster")
        conf = max(conf, 0.55)
    if len(dated) >= 2 and dated[0][1] == best and dated[1][0] - dated[0][0] > CLOCK_TOLERANCE:
        evidence.append(
            f"earliest by {format_gap(dated[1][0] - dated[0][0])} ({len(dated)} of {len(docs)} members dated)"
        )
        conf = max(conf, 0.6 if len(dated) == len(docs) else 0.45)
    if not wins.get(best) and not dated:
        evidence.append("no dates and no credits: origin by containment only")
        conf = max(conf, 0.3)
    return best, conf


@gc_paused
def origins_table(
    clusters: pa.Table, pairs: pa.Table, facts: dict[str, DocFacts], corpus_agencies: set[str], run_id: str
) -> pa.Table:
    """One `origins` row per cluster (of `pairs`, only the `DIRECTION_COLUMNS` are read)."""
    wins = _wins(pairs)
    rows: dict[str, list] = {name: [] for name in schema.ORIGINS.names}
    for cid, docs in _members(clusters).items():
        verdict = cluster_origin(docs, facts, wins, corpus_agencies)
        rows["cluster_id"].append(cid)
        for key, value in verdict.items():
            rows[key].append(value)
        rows["run_id"].append(run_id)
    return pa.Table.from_pydict(rows, schema=schema.ORIGINS)
