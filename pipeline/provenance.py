"""Provenance: pair direction and cluster origins with readable evidence.

First version: publication order only. Credited agencies, containment asymmetry and chains come with the
provenance issue; the `attributions` table exists and is empty until then.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa

from pipeline import schema

# Clocks of scrapers and CMSs disagree by minutes; closer than this is "same time", not an order.
CLOCK_TOLERANCE = timedelta(minutes=5)


def _format_gap(gap: timedelta) -> str:
    minutes = int(gap.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if mins or not parts:
        parts.append(f"{mins} m")
    return " ".join(parts)


def direct_pairs(pairs: pa.Table, published: dict[str, datetime | None]) -> pa.Table:
    """`pairs` with `source_doc_id` and `direction_confidence` set where publication order decides."""
    sources: list[str | None] = []
    confidences: list[float | None] = []
    for a, b in zip(pairs.column("doc_id_a").to_pylist(), pairs.column("doc_id_b").to_pylist(), strict=True):
        ta, tb = published.get(a), published.get(b)
        if ta is None or tb is None or abs(ta - tb) <= CLOCK_TOLERANCE:
            sources.append(None)
            confidences.append(None)
            continue
        sources.append(a if ta < tb else b)
        # A longer gap is stronger evidence, but a date alone never makes certainty.
        hours = abs(ta - tb).total_seconds() / 3600
        confidences.append(round(min(0.9, 0.6 + 0.05 * hours), 3))
    table = pairs.set_column(
        pairs.schema.get_field_index("source_doc_id"), "source_doc_id", pa.array(sources, pa.string())
    )
    return table.set_column(
        table.schema.get_field_index("direction_confidence"),
        "direction_confidence",
        pa.array(confidences, pa.float32()),
    )


def origins_table(clusters: pa.Table, published: dict[str, datetime | None], run_id: str) -> pa.Table:
    """One `origins` row per cluster: the earliest dated member when dates tell, else no verdict."""
    members: dict[str, list[str]] = {}
    for cid, doc_id in zip(
        clusters.column("cluster_id").to_pylist(), clusters.column("doc_id").to_pylist(), strict=True
    ):
        members.setdefault(cid, []).append(doc_id)
    rows: dict[str, list] = {name: [] for name in schema.ORIGINS.names}
    for cid, docs in members.items():
        dated = sorted((published[d], d) for d in docs if published.get(d) is not None)
        origin, confidence, evidence = None, 0.0, []
        if len(dated) >= 2 and dated[1][0] - dated[0][0] > CLOCK_TOLERANCE:
            origin = dated[0][1]
            gap = dated[1][0] - dated[0][0]
            confidence = 0.6 if len(dated) == len(docs) else 0.4
            evidence.append(f"earliest by {_format_gap(gap)} ({len(dated)} of {len(docs)} members dated)")
        elif len(dated) >= 2:
            evidence.append("earliest members published within the clock tolerance: no order")
        else:
            evidence.append("too few publication dates to order the members")
        rows["cluster_id"].append(cid)
        rows["origin_doc_id"].append(origin)
        rows["credited_agency"].append(None)
        rows["external_origin"].append(None)
        rows["confidence"].append(confidence)
        rows["evidence"].append(evidence)
        rows["run_id"].append(run_id)
    return pa.Table.from_pydict(rows, schema=schema.ORIGINS)
