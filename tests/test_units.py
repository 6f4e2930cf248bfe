"""The compiled cleaning passes: units found in one pass over a batch, the units settled as plain prose without
Python, and a batch cleaned as each of its texts alone."""

import random
import re

import numpy as np
import pyarrow as pa
import pytest

from pipeline import kernels, normalize

RULES = normalize.Rules.build()
# Paragraph breaks of a hard-wrapped text, as Python states them: a blank line (and any space after it), or a line
# break before an indented line.
BLOCK_BREAK = re.compile(r"\n[ \t]*\n\s*|\n(?=[ \t]+\S)")

WORDS = [
    "border", "Vilnius", "the", "and", "of", "said.", "said", "officials", "(AP)", "(Reuters)", "—", "-", ",",
    "2024-01-05", "Jan", "5", "граница", "Литва", "ąčęėįšųūž", "سرحد",
    "边境", "国境", "😀", "e\u0301", "bor\u00adder", "İstanbul", "Photo:", "(Photo: AFP)", "By", "Tags:",
]  # fmt: skip
CHROME = [
    "ua en ru", "EN | LT | RU", "Follow us on Telegram", "Share this", "Comment", "Advertisement", "Updated 5 May 2019",
    "Copyright 2019 CNN", "All rights reserved.", "By Ann Maloney", "Author: Daria Shekina", "Friday, January 4, 2019",
    "Photo: Getty Images", "Tags: border, migrants", "Show more", "3 / 12", "Image 2 of 9", "Click here",
    "Автор: Дарья Шекина", "Фото: Getty Images", "Читайте также: Литва", "مزید پڑھیں: سرحد بند",
]  # fmt: skip
SPACES = [" ", " ", " ", "  ", "\t", "\x0b", "\x1c", "\xa0", "\u3000", "\u2028", "\r", "\u200b"]
ENDINGS = ["", "", ".", "!", "?", ":", ")", "»", "。", "؟", "…", ","]
BREAKS = ["\n", "\n", "\n\n", "\n \n  ", "\n   ", "\n\t", "\r\n", "\n\u3000"]


def random_line(rng: random.Random) -> str:
    if rng.random() < 0.15:
        line = rng.choice(CHROME)
    else:
        words = [rng.choice(WORDS) for _ in range(rng.choice([1, 2, 4, 8, 14, 30, 45, 60]))]
        if rng.random() < 0.1:  # page JavaScript, or prose that only looks like it
            words.insert(rng.randrange(len(words) + 1), rng.choice(["function", "window.", "});", "_taboola"]))
        line = "".join(w + rng.choice(SPACES) for w in words).rstrip(" ")
    return rng.choice(["", " ", "\t", "\xa0"]) + line + rng.choice(ENDINGS) + rng.choice(["", " ", "\r"])


def random_text(rng: random.Random) -> str:
    lines = [random_line(rng) for _ in range(rng.randint(0, 12))]
    if rng.random() < 0.3:  # wire copy: long lines cut mid-sentence, so the text counts as hard-wrapped
        lines = [" ".join(rng.choice(WORDS[:8]) for _ in range(12)) for _ in range(rng.randint(2, 8))] + lines
    return "".join(line + rng.choice(BREAKS) for line in lines)[: rng.choice([10**6, 10**6, 37])]


TEXTS = [random_text(random.Random(seed)) for seed in range(1500)] + ["", "\n", " \n\t\n", "x", "(AP) — x"]


def python_units(text: str) -> tuple[list[tuple[int, int]], bool]:
    """(start, end) of each unit and whether the text is hard-wrapped, by the rules as Python states them."""
    lines, offset, long_open = [], 0, 0
    for raw in text.split("\n"):
        stripped = raw.strip()
        if stripped:
            start = offset + len(raw) - len(raw.lstrip())
            lines.append((start, start + len(stripped)))
            long_open += len(stripped) >= 40 and stripped[-1] not in normalize._END_CHARS
        offset += len(raw) + 1
    wrapped = len(lines) >= 2 and long_open >= 0.3 * len(lines)
    if not wrapped:
        return lines, False
    cuts = [0] + [x for m in BLOCK_BREAK.finditer(text) for x in m.span()] + [len(text)]
    units = []
    for a, b in zip(cuts[::2], cuts[1::2], strict=True):
        raw = text[a:b]
        if raw.strip():
            start = a + len(raw) - len(raw.lstrip())
            units.append((start, start + len(raw.strip())))
    return units, True


def python_flags(unit: str) -> int:
    return (
        (kernels.UNIT_ENDS_SENTENCE if unit[-1] in normalize._END_CHARS else 0)
        | (kernels.UNIT_ENDS_PAREN if unit.endswith(")") else 0)
        | (kernels.UNIT_EARLY_PAREN if "(" in unit[:60] else 0)
        | (kernels.UNIT_ASCII if unit.isascii() else 0)
        | (kernels.UNIT_MAYBE_SCRIPT if any(w in unit for w in kernels.SCRIPT_WORDS) else 0)
    )


def test_units_are_the_stripped_lines_or_the_paragraphs_of_wrapped_text():
    units = normalize.text_units(pa.array(TEXTS))
    strings = units.strings.to_pylist()
    wrapped_seen = 0
    for i, text in enumerate(TEXTS):
        spans, wrapped = python_units(text)
        a, b = units.first[i], units.first[i + 1]
        assert list(zip(units.starts[a:b].tolist(), units.ends[a:b].tolist(), strict=True)) == spans, repr(text)
        assert bool(units.wrapped[i]) == wrapped
        wrapped_seen += wrapped
        for k, (start, end) in zip(range(a, b), spans, strict=True):
            unit = text[start:end]
            assert strings[k] == unit
            assert text.encode()[: units.byte_starts[k]].decode() == text[:start]
            assert units.words[k] == len(unit.split())
            assert units.flags[k] == python_flags(unit), repr(unit)
    assert 200 < wrapped_seen < len(TEXTS) - 200  # both kinds of text were exercised


def test_units_of_a_sliced_batch_are_its_own():
    whole = pa.array(TEXTS[:40])
    part = normalize.text_units(whole.slice(10, 20))
    alone = normalize.text_units(pa.array(TEXTS[10:30]))
    assert part.strings.equals(alone.strings)
    assert np.array_equal(part.first, alone.first)
    assert np.array_equal(part.byte_starts, alone.byte_starts)


@pytest.mark.parametrize("rules", [RULES, normalize.Rules.build(("newsletter.*",))], ids=["built-in", "custom"])
def test_plain_units_are_prose_to_the_python_rules_too(rules):
    """A unit settled in the batch is one `_unit_kind` would keep whole as prose, recording nothing."""
    rng = random.Random(7)
    texts = pa.array(TEXTS)
    units = normalize.text_units(texts)
    strings = units.strings.to_pylist()
    edge_chrome = frozenset(normalize.hash_line(u) for u in rng.sample(strings, 200))
    source_chrome = frozenset(normalize.hash_line(u) for u in rng.sample(strings, 200))
    n_edge = np.array([rng.choice([0, 2, 4]) for _ in TEXTS])
    plain, rule_free = normalize._plain_units(units, n_edge, rules, edge_chrome | source_chrome)
    assert min(plain.sum(), (~plain).sum()) > 300  # both outcomes occur
    # Python may skip the rules where the batch says none matches, and the script test where no word was seen.
    assert rule_free.sum() > 300 and not any(rules.match(strings[k]) for k in np.flatnonzero(rule_free))
    no_script = (units.flags & kernels.UNIT_MAYBE_SCRIPT) == 0
    assert not any(w in strings[k] for k in np.flatnonzero(no_script) for w in kernels.SCRIPT_WORDS)
    for i in range(len(TEXTS)):
        a, b = units.first[i], units.first[i + 1]
        for k in range(a, b):
            if not plain[k]:
                continue
            out = normalize.Cleaned("", [], [])
            edge = k - a < n_edge[i] or k >= b - n_edge[i]
            start = int(units.starts[k])
            kind = normalize._unit_kind(strings[k], start, rules, out, edge_chrome, source_chrome, edge)
            assert kind == ("prose", int(units.ends[k])), strings[k]
            assert out == normalize.Cleaned("", [], [])


def test_built_in_rules_mean_the_same_to_re2_on_ascii_lines():
    """RE2 settles short ASCII units for the Python rules, so the two must agree on them, hits and misses."""
    rng = random.Random(3)
    lines = [u.lower() for u in CHROME if u.isascii()]
    lines += [
        rng.choice(CHROME).lower().replace(" ", rng.choice([" ", "\x0b", "\x1c", "\t", "  "]))
        + rng.choice(["", " ", "\x1f", ".", " x"])
        for _ in range(2000)
    ]
    lines += [random_line(rng).strip().lower() for _ in range(2000)]
    lines = [line for line in lines if line.isascii()]
    re2 = pa.compute.match_substring_regex(pa.array(lines), normalize._builtin_re2()).to_pylist()
    python = [RULES.builtin_lower.match(line) is not None for line in lines]
    assert re2 == python
    assert 500 < sum(python) < len(lines) - 500


def test_a_batch_is_cleaned_as_each_text_alone():
    rng = random.Random(11)
    texts = TEXTS[:400]
    titles = [rng.choice([None, "", "A title", "Vilnius said"]) for _ in texts]
    chrome = frozenset(normalize.hash_line(line) for line in CHROME[:5])
    sources = [rng.choice([frozenset(), chrome]) for _ in texts]
    batch = normalize.clean_texts(pa.array(texts), titles, RULES, frozenset(), sources, 4)
    for i, text in enumerate(texts):
        alone = normalize.clean(text, titles[i], RULES, frozenset(), sources[i], 4)
        assert batch.body[i].as_py() == alone.body
        assert [tuple(p.values()) for p in batch.body_map[i].as_py()] == alone.body_map
        found = batch.found[i]
        assert (found.segments, found.title, found.byline, found.dateline_place, found.photo_credit) == (
            alone.segments,
            alone.title,
            alone.byline,
            alone.dateline_place,
            alone.photo_credit,
        )
        for body_start, text_start, length in alone.body_map:
            assert alone.body[body_start : body_start + length] == text[text_start : text_start + length]


def python_edge_lines(text: str, n: int) -> list[str]:
    """The first and last `n` non-empty stripped lines, each once, as Python states it."""
    lines = [line.strip() for line in text.split("\n")]
    taken, head = 0, []
    while taken < len(lines) and len(head) < n:
        if lines[taken]:
            head.append(lines[taken])
        taken += 1
    tail = [line for line in lines[taken:] if line][-n:] if n else []
    return head + tail


@pytest.mark.parametrize("n", [0, 1, 4])
def test_edge_lines_are_read_from_both_ends_of_each_text(n):
    edges = normalize.edge_line_strings(pa.array(TEXTS), n)
    strings = edges.strings.to_pylist()
    for i, text in enumerate(TEXTS):
        lines = strings[edges.first[i] : edges.first[i + 1]]
        assert lines == python_edge_lines(text, n), repr(text)
        assert edges.spaces[edges.first[i] : edges.first[i + 1]].tolist() == [line.count(" ") for line in lines]


def test_a_null_text_is_cleaned_as_an_empty_one():
    batch = normalize.clean_texts(
        pa.array([None, "Vilnius said."]), [None, None], RULES, frozenset(), [frozenset()] * 2, 4
    )
    assert batch.body.to_pylist() == ["", "Vilnius said."]
    assert batch.found[0].segments == []


def test_the_chrome_length_bound_changes_no_unit():
    """Edge units longer than three times the longest chrome line are not hashed: none of them could be one."""
    rng = random.Random(9)
    units = normalize.text_units(pa.array(TEXTS))
    strings = units.strings.to_pylist()
    short = [line for line in strings if len(line) < 60]  # chrome lines are short
    chrome = [*rng.sample(short, 200), "KELVIN \u212a", "straße"]  # folding shrinks K, grows ß
    hashes = frozenset(normalize.hash_line(line) for line in chrome)
    longest = max(len(normalize.folded_line(line)) for line in chrome)
    n_edge = np.array([rng.choice([0, 2, 4]) for _ in TEXTS])
    bounded, _ = normalize._plain_units(units, n_edge, RULES, hashes, longest)
    assert np.array_equal(bounded, normalize._plain_units(units, n_edge, RULES, hashes)[0])
    assert (units.byte_ends - units.byte_starts > 3 * longest).any()  # the bound skipped some


def test_the_boilerplate_index_keeps_its_longest_line_through_its_table():
    from pipeline.boilerplate import BoilerplateIndex

    index = BoilerplateIndex(frozenset({1, 2}), {"site": frozenset({3})}, 57)
    assert BoilerplateIndex.from_table(index.to_table()) == index
    unknown = BoilerplateIndex(frozenset({1}), {}, None)  # e.g. a table written before lengths were kept
    assert BoilerplateIndex.from_table(unknown.to_table().replace_schema_metadata(None)).longest is None


def test_batch_line_hashes_are_hash_line_of_each_line():
    rng = random.Random(11)
    pieces = ["Subscribe", "NOW", " ", "Straße", "\u212a", "Літва", "中文", "x" * 300, "Ǆ", "İ", "e\u0301", "©"]
    lines = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(2000)]
    hashes, sizes = normalize.hashed_lines(pa.array(lines).slice(1))
    assert hashes.tolist() == [normalize.hash_line(line) for line in lines[1:]]
    assert sizes.tolist() == [len(normalize.folded_line(line)) for line in lines[1:]]
