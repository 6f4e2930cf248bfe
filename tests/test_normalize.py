import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipeline import normalize


def test_matching_form_folds_width_case_ligatures_and_punctuation():
    text = "  «Ｆｕｌｌwidth»  —  „Quoted“\u00a0text\t‘here’ STRASSE ﬁne \n\n\n  Next  paragraph "
    assert normalize.matching_tokens(text) == [
        "fullwidth",
        "quoted",
        "text",
        "here",
        "strasse",
        "fine",
        "next",
        "paragraph",
    ]


def test_casefold_meets_german_sharp_s():
    assert normalize.token_hash("Straße") == normalize.token_hash("STRASSE")


def test_invisible_characters_do_not_split_words():
    assert normalize.matching_tokens("bor\u00adder\u200b point") == ["border", "point"]
    tokens = normalize.body_tokens(pa.array(["bor\u00adder point"]))
    assert tokens.values.tolist() == [normalize.token_hash("border"), normalize.token_hash("point")]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Литва закрыла ещё два пункта", ["литва", "закрыла", "ещё", "два", "пункта"]),
        ("Україна отримала допомогу", ["україна", "отримала", "допомогу"]),
        ("Lietuvos pasienyje užsidarė punktai", ["lietuvos", "pasienyje", "užsidarė", "punktai"]),
        (
            "لتھوانیا نے بیلاروس کے ساتھ سرحد بند کر دی",
            ["لتھوانیا", "نے", "بیلاروس", "کے", "ساتھ", "سرحد", "بند", "کر", "دی"],
        ),
        ("立陶宛关闭边境", ["立", "陶", "宛", "关", "闭", "边", "境"]),
        ("東京でニュース", ["東", "京", "で", "ニ", "ュ", "ー", "ス"]),
        ("뉴스 기사", ["뉴스", "기사"]),
        ("AFP's 2,500 people — (Reuters)", ["afp", "s", "2", "500", "people", "reuters"]),
    ],
)
def test_tokens_in_any_script(text, tokens):
    assert normalize.matching_tokens(text) == tokens
    batch = normalize.body_tokens(pa.array([text]))
    assert batch.values.tolist() == [normalize.token_hash(t) for t in tokens]


def test_combining_marks_stay_inside_words():
    # Urdu with harakat and Hindi vowel signs are combining marks: a word must not split at them.
    assert normalize.tokenize("مُلک हिन्दी") == ["مُلک", "हिन्दी"]
    hashes = normalize.body_tokens(pa.array(["مُلک हिन्दी"])).values.tolist()
    assert hashes == [normalize.token_hash("مُلک"), normalize.token_hash("हिन्दी")]


def test_single_text_tokens_and_offsets_agree():
    for body in ("a b", "", "!!!", "中文 text 42", "x—y"):
        assert [body[s:e] for s, e in normalize.token_spans(body)] == normalize.tokenize(body)
    assert normalize.tokenize("!!!") == [] and normalize.tokenize("") == []


def test_exact_bodies_share_a_body_hash_up_to_case_and_spacing():
    from pipeline import schema, signatures
    from pipeline.config import Config

    docs = pa.Table.from_pylist(
        [
            {"doc_id": "a", "text": "Hello  World."},
            {"doc_id": "b", "text": "hello, world"},
            {"doc_id": "c", "text": "Hello there."},
        ],
        schema=schema.DOCUMENTS,
    )
    documents, _, _ = signatures.featurize(docs, Config())
    hashes = documents.column("body_hash").to_pylist()
    assert hashes[0] == hashes[1] != hashes[2]
    assert documents.column("body").to_pylist()[0] == "Hello  World."  # the body keeps the article's own text


@pytest.mark.parametrize(
    "body",
    [
        "Lithuania closed two crossings, AFP said.\nMore text (here) — and “quotes”.",
        "Литва закрыла ещё два пункта, сообщает ТАСС.",
        "لتھوانیا نے سرحد بند کر دی۔ مُلک",
        "立陶宛关闭边境 and English words 42",
        "İstanbul ﬁnal Straße",
        "",
        "!!! ... ---",
    ],
)
def test_body_tokens_carry_their_offsets(body):
    tokens = normalize.body_tokens(pa.array([body, "second doc."]))
    n = int(tokens.offsets[1])

    def hashed(words: list[str]) -> list[int]:
        return [normalize.token_hash(w) for w in pc.utf8_lower(pa.array(words, pa.string())).to_pylist()]

    assert tokens.values[:n].tolist() == hashed(normalize.tokenize(body))
    spans = [body[start:end] for start, end in zip(tokens.starts[:n], tokens.ends[:n], strict=True)]
    assert spans == normalize.tokenize(body)
    assert tokens.values[n:].tolist() == hashed(["second", "doc"])


def test_body_tokens_are_the_same_whichever_path_a_body_takes():
    # ASCII bodies go through a byte table, others through Unicode rules; mixed, sliced and null bodies included.
    bodies = [
        "Plain ASCII, with CAPS and 3.5% numbers_and-hyphens.",
        "Ne-ASCII: Šiaulių bankas, „ELTA“.",
        None,
        "Tab\tand\nnewline; (parens) [brackets] {braces} 'quote' \"double\" end",
        "東京 AP",
        "tail ascii",
    ]
    array = pa.array(["leading", *bodies], pa.string()).slice(1)
    batch = normalize.body_tokens(array)
    for i, body in enumerate(bodies):
        a, b = int(batch.offsets[i]), int(batch.offsets[i + 1])
        want = pc.utf8_lower(pa.array(normalize.tokenize(body or ""), pa.string())).to_pylist()
        assert batch.values[a:b].tolist() == [normalize.token_hash(t) for t in want], body
        assert [
            (body or "")[s:e] for s, e in zip(batch.starts[a:b], batch.ends[a:b], strict=True)
        ] == normalize.tokenize(body or "")
    assert {normalize.token_hash("3"), normalize.token_hash("numbers")} <= set(batch.values.tolist())


def test_unicode_bodies_are_spaced_as_the_non_word_pattern_spaces_them():
    # The compiled path against the RE2 rule it replaces, over characters of many scripts, marks, invisible
    # characters, punctuation, emoji and other four-byte characters, in random strings.
    alphabet = list(
        "aZ09 ,.;:!?-_'\"\t\nšųėЖжїґ،ے۔اُمُلکहिन्दीΩω東京ひらカナ한국\u00ad\u200b\u200d\u2060\ufeff\u0301"
        "\u00a0\u2028«»„“”…—–•©®™😀𝔘𝟘𠀋\U000e0001"
    )
    rng = np.random.default_rng(4)
    texts = ["".join(rng.choice(alphabet, size=int(rng.integers(0, 40)))) for _ in range(300)]
    lowered = pc.utf8_lower(pa.array(texts))
    want = pc.replace_substring_regex(lowered, normalize._NON_WORD_CHAR, " ")
    spaced, unspaced = normalize._unicode_spaced(lowered)
    assert spaced.to_pylist() == want.to_pylist()
    has_unspaced = pc.match_substring_regex(pa.array(texts), f"[{normalize.UNSPACED_SCRIPTS}]")
    assert unspaced.tolist() == has_unspaced.to_pylist() and 0 < unspaced.sum() < len(texts)


def test_compiled_space_split_gives_python_character_offsets_and_hashes_ascii_tokens():
    import re

    import xxhash

    from pipeline import kernels

    rng = np.random.default_rng(3)
    alphabet = list("ab Zž Ї 东 \U0001f600 9")  # one- to four-byte UTF-8 characters and spaces
    texts = ["".join(rng.choice(alphabet, size=rng.integers(0, 40))) for _ in range(200)] + ["  ", "x", "y" * 300]
    array = pa.array(texts, pa.string())
    buffers = array.buffers()
    skip = np.zeros(len(texts), dtype=bool)
    skip[7] = True
    # Texts said to be ASCII take the byte path; the others are told apart token by token.
    known_ascii = np.array([t.isascii() and i % 2 == 0 for i, t in enumerate(texts)])
    counts, starts, ends, hashes, other_at, packed, packed_offsets = kernels.spaced_token_hashes(
        np.frombuffer(buffers[2], np.uint8), np.frombuffer(buffers[1], np.int32), skip, known_ascii, kernels.XXH3_SECRET
    )
    other = np.zeros(len(hashes), dtype=bool)
    other[other_at] = True
    others = pa.StringArray.from_buffers(len(packed_offsets) - 1, pa.py_buffer(packed_offsets), pa.py_buffer(packed))
    others = iter(others.to_pylist())
    cursor = 0
    for i, text in enumerate(texts):
        want = [] if skip[i] else [m.span() for m in re.finditer(r"[^ ]+", text)]
        assert counts[i] == len(want)
        got = list(zip(starts[cursor : cursor + len(want)], ends[cursor : cursor + len(want)], strict=True))
        assert got == want, text
        for k, (a, b) in enumerate(want, start=cursor):
            token = text[a:b]
            if token.isascii():
                assert not other[k] and hashes[k] == xxhash.xxh3_64_intdigest(token.encode())
            else:
                assert other[k] and hashes[k] == 0 and next(others) == token
        cursor += len(want)
    assert next(others, None) is None
    assert other.any() and (~other).any() and known_ascii.any()  # both kinds of token and text were exercised


def test_character_classes_are_cached_and_rebuilt_when_the_cache_is_damaged(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    normalize.character_classes.cache_clear()
    built = normalize.character_classes()
    (cached,) = (tmp_path / "wiretrace").glob("characters-*.npy")
    normalize.character_classes.cache_clear()
    assert np.array_equal(normalize.character_classes(), built)  # read back from the cache
    cached.write_bytes(cached.read_bytes()[:100])  # a torn file
    normalize.character_classes.cache_clear()
    assert np.array_equal(normalize.character_classes(), built)
    assert built[ord("ж")] == 1 and built[ord(",")] == 0 and built[ord("東")] == 2
    normalize.character_classes.cache_clear()
