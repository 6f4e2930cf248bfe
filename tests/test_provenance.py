"""Pair direction and cluster origins from credits, publication order, agency outlets and containment."""

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from pipeline import provenance, schema
from pipeline.provenance import DocFacts

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)


def test_credit_beats_a_wrong_publication_time():
    agency = DocFacts(published=T0 + timedelta(hours=5), agency="AFP")  # scrape time, late
    copy = DocFacts(published=T0, credits={"AFP"})
    score, evidence = provenance.pair_direction("afp", "copy", agency, copy, 0.9, 0.8)
    assert score > 0
    assert any("credits AFP" in e for e in evidence) and any("earlier" in e for e in evidence)


def test_times_within_clock_tolerance_give_no_order():
    a, b = DocFacts(published=T0), DocFacts(published=T0 + timedelta(minutes=3))
    assert provenance.pair_direction("a", "b", a, b, 0.5, 0.5) == (0.0, [])


def test_day_only_dates_need_a_day_and_weigh_less():
    a = DocFacts(published=T0.replace(hour=0), day_only=True)
    b = DocFacts(published=a.published + timedelta(hours=20))
    assert provenance.pair_direction("a", "b", a, b, 0.5, 0.5)[0] == 0.0
    b.published = a.published + timedelta(days=2)
    score, evidence = provenance.pair_direction("a", "b", a, b, 0.5, 0.5)
    assert score == provenance.WEAK_TIME_WEIGHT and "day-precision" in evidence[0]


def test_confidence_grows_with_evidence_but_never_reaches_certainty():
    assert provenance.confidence(0.5) < provenance.confidence(3) < provenance.confidence(10) < 0.95


def pairs_table(rows):
    return pa.Table.from_pylist([{**r, "spans": [], "run_id": "r"} for r in rows], schema=schema.PAIRS)


def clusters_table(members):
    return pa.Table.from_pylist(
        [{"cluster_id": "c1", "doc_id": d, "size": len(members), "run_id": "r"} for d in members],
        schema=schema.CLUSTERS,
    )


def test_origin_follows_the_credit_chain_to_the_agency_story():
    facts = {
        "afp": DocFacts(published=T0, agency="AFP"),
        "bta": DocFacts(published=T0 + timedelta(hours=1), agency="BTA", credits={"AFP"}),
        "site1": DocFacts(published=T0 + timedelta(hours=3), credits={"BTA"}),
        "site2": DocFacts(published=T0 + timedelta(hours=4), credits={"BTA"}),
    }
    verdict = provenance.cluster_origin(list(facts), facts, provenance.Counter(), {"AFP", "BTA"})
    assert verdict["origin_doc_id"] == "afp" and verdict["external_origin"] is None
    assert verdict["credited_agency"] == "BTA"
    assert any("chain" in e for e in verdict["evidence"])


def test_external_origin_when_no_member_comes_from_the_credited_agency():
    facts = {f"site{i}": DocFacts(published=T0 + timedelta(hours=i), credits={"AFP"}) for i in range(4)}
    verdict = provenance.cluster_origin(list(facts), facts, provenance.Counter(), {"Reuters"})
    assert verdict["external_origin"] == "AFP" and verdict["credited_agency"] == "AFP"
    assert "credited by 4 of 4 members: AFP" in verdict["evidence"]
    assert verdict["origin_doc_id"] == "site0"  # the earliest credible source in the corpus


def test_no_dates_and_no_credits_give_a_low_confidence_origin():
    facts = {"a": DocFacts(), "b": DocFacts(), "c": DocFacts()}
    pairs = provenance.direct_pairs(
        pairs_table(
            [
                {"doc_id_a": "a", "doc_id_b": "b", "relation": "partial", "containment_a": 0.9, "containment_b": 0.4},
                {"doc_id_a": "a", "doc_id_b": "c", "relation": "partial", "containment_a": 0.8, "containment_b": 0.3},
            ]
        ),
        facts,
    )
    assert pairs.column("source_doc_id").to_pylist() == ["a", "a"]
    origins = provenance.origins_table(clusters_table(["a", "b", "c"]), pairs, facts, set(), "r").to_pylist()
    assert origins[0]["origin_doc_id"] == "a" and origins[0]["confidence"] <= 0.6


def test_direct_pairs_writes_evidence_and_leaves_undecided_pairs_null():
    facts = {
        "a": DocFacts(published=T0),
        "b": DocFacts(published=T0 + timedelta(hours=2)),
        "x": DocFacts(),
        "y": DocFacts(),
    }
    out = provenance.direct_pairs(
        pairs_table(
            [
                {
                    "doc_id_a": "a",
                    "doc_id_b": "b",
                    "relation": "near_duplicate",
                    "containment_a": 0.9,
                    "containment_b": 0.9,
                },
                {
                    "doc_id_a": "x",
                    "doc_id_b": "y",
                    "relation": "near_duplicate",
                    "containment_a": 0.9,
                    "containment_b": 0.9,
                },
            ]
        ),
        facts,
    ).to_pylist()
    assert out[0]["source_doc_id"] == "a" and out[0]["direction_evidence"] == ["a earlier by 2 h"]
    assert out[1]["source_doc_id"] is None and out[1]["direction_confidence"] is None
