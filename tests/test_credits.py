"""Credit lines: the gazetteer, cue patterns, and credits told apart from mere mentions."""

import random
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from pipeline import credits, kernels, schema
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


def _random_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    spellings = list(credits._gazetteer().spellings)
    pieces = [*spellings, "reported", "Reute", "AFPX", "x.", "é", "Літва", "中文", "\x00", " ", "  ", "\n", "(", ") -"]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 60))) for _ in range(count)]


def test_alias_mentions_are_those_of_a_longest_first_alternation():
    gaz = credits._gazetteer()
    alternation = re.compile("|".join(re.escape(a) for a in gaz.spellings))
    texts = _random_texts(400, 3)
    rows = credits.mention_rows(pa.array(texts), gaz)
    got = [(t, s, e, gaz.spellings[a]) for t, s, e, a, _, _, _ in rows.tolist()]
    expected = [(t, m.start(), m.end(), m.group()) for t, text in enumerate(texts) for m in alternation.finditer(text)]
    assert got == expected
    # Each window holds the mention where the row says, with the context credits read around it.
    data, offsets = schema.string_buffers(pa.array(texts))
    for text, start, end, _, window_start, window_end, first in rows.tolist():
        window = data[window_start:window_end].tobytes().decode("utf-8")
        assert offsets[text] <= window_start and window_end <= offsets[text + 1]
        assert texts[text][first : first + len(window)] == window
        assert first <= max(0, start - kernels.MENTION_BEFORE)
        assert first + len(window) >= min(len(texts[text]), end + kernels.MENTION_AFTER)


def test_alias_mentions_resume_where_a_full_output_stopped():
    gaz = credits._gazetteer()
    texts = pa.array([*_random_texts(50, 5), None, ""])
    data, offsets = schema.string_buffers(texts)
    valid = texts.is_valid().to_numpy(zero_copy_only=False)
    resume = np.array([0, offsets[0], 0], dtype=np.int64)
    rows = []
    while resume[0] < len(texts):
        out = np.empty((3, 7), dtype=np.int64)  # full after three mentions
        found = kernels.alias_mentions(
            data, offsets, valid, gaz.filters, gaz.heads, gaz.chain, gaz.alias_data, gaz.alias_offsets, out, resume
        )
        rows += out[:found].tolist()
    assert len(rows) > 3
    assert rows == credits.mention_rows(texts, gaz).tolist()


def test_credits_are_found_in_texts_with_nul_characters_and_beside_null_texts():
    documents = pa.table({"doc_id": ["a", "b", "c"], "text": ["\x00AFP reported \x00", None, "x (Reuters) - y"]})
    table = credits.attributions_table(documents, "r")
    assert table.select(["doc_id", "agency", "start", "end"]).to_pylist() == [
        {"doc_id": "a", "agency": "AFP", "start": 1, "end": 4},
        {"doc_id": "c", "agency": "Reuters", "start": 3, "end": 10},
    ]
