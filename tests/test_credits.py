"""Credit lines: the gazetteer, cue patterns, and credits told apart from mere mentions."""

from pathlib import Path

import pyarrow as pa
import pytest

from pipeline import credits, schema
from tests.conftest import corpus_path

SENTENCES = Path(__file__).parent / "data" / "credit_sentences.tsv"


def labelled_sentences() -> list[tuple[str, set[str], str]]:
    rows = []
    for line in SENTENCES.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        lang, expected, sentence = line.split("\t")
        rows.append((lang, set(filter(None, expected.split(","))), sentence))
    return rows


def test_sentence_set_precision_and_recall():
    rows = labelled_sentences()
    assert len(rows) >= 60 and len({lang for lang, _, _ in rows}) >= 4
    tp = fp = fn = 0
    wrong = []
    for lang, expected, sentence in rows:
        got = {c.agency for c in credits.find_credits(sentence)}
        tp, fp, fn = tp + len(expected & got), fp + len(got - expected), fn + len(expected - got)
        if got != expected:
            wrong.append((lang, sentence, expected, got))
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"credit sentences: {len(rows)}, precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.95 and recall >= 0.90, wrong


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("Lithuania closed two crossings, AFP reported.", "agency_reported"),
        ("reported France Presse, quoted by BTA.", "reported_by"),
        ("Last year, it closed two points, AFP recalls.", "agency_recalls"),
        ("VILNIUS, Jan 5 (Reuters) - The minister said", "dateline"),
        ("/BTA/ The parliament", "slash"),
        ("Source: ELTA", "source"),
        ("By Reuters\n\nThe text", "byline"),
        ("The text ends here. — PAP", "signoff"),
        ("the talks failed, citing Xinhua.", "citing"),
        ("according to the Associated Press.", "according_to"),
    ],
)
def test_cue_types(text, cue):
    found = credits.find_credits(text)
    assert found and found[0].cue == cue
    assert text[found[0].start : found[0].end] == found[0].mention


def test_acronyms_match_case_sensitively():
    assert credits.find_credits("the map reported nothing") == []
    assert credits.find_credits("ap reported") == []
    assert [c.agency for c in credits.find_credits("AP reported")] == ["AP"]


def test_canonical_source():
    assert credits.canonical_source("Reuters") == "Reuters"
    assert credits.canonical_source("France Presse") == "AFP"
    assert credits.canonical_source("BTA") == "BTA"
    assert credits.canonical_source("15min.lt") == "15min"
    assert credits.canonical_source("Daily Meridian") is None


def test_attributions_table_rows():
    docs = pa.Table.from_pylist(
        [{"doc_id": "d", "text": "VILNIUS (AFP) - Text. More text, AFP recalls."}], schema=schema.DOCUMENTS
    )
    rows = credits.attributions_table(docs, "r").to_pylist()
    assert [(r["agency"], r["mention"], r["cue"], r["start"], r["end"]) for r in rows] == [
        ("AFP", "AFP", "dateline", 9, 12),
        ("AFP", "AFP", "agency_recalls", 33, 36),
    ]


def test_seed_credits():
    seeds = corpus_path("seeds")
    found = {
        p.name[:3]: {(c.agency, c.mention) for c in credits.find_credits(p.read_text(encoding="utf-8"))}
        for p in sorted(seeds.glob("*.txt"))
    }
    assert found["001"] == {("AFP", "France Presse"), ("BTA", "BTA"), ("AFP", "AFP")}
    assert ("BelTA", "BelTA") in found["003"]
    assert found["000"] == set()  # "… Internal Affairs, reports" names no agency: nothing is invented
