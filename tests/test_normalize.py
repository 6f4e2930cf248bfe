import pyarrow as pa
import pytest

from pipeline import normalize


def test_nfkc_quotes_dashes_case_and_whitespace():
    text = "  «Ｆｕｌｌwidth»  —  „Quoted“\u00a0text\t‘here’ STRASSE ﬁne \n\n\n  Next  paragraph "
    assert normalize.normalize_text(text) == '"fullwidth" - "quoted" text \'here\' strasse fine\nnext paragraph'


def test_casefold_meets_german_sharp_s():
    assert normalize.normalize_text("Straße") == normalize.normalize_text("STRASSE")


def test_invisible_characters_are_removed():
    assert normalize.normalize_text("bor\u00adder\u200b point") == "border point"


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
    body = normalize.normalize_text(text)
    assert normalize.tokenize(body) == tokens
    assert normalize.tokenize_batch(pa.array([body]))[0].as_py() == tokens


def test_combining_marks_stay_inside_words():
    # Urdu with harakat and Hindi vowel signs are combining marks: a word must not split at them.
    body = normalize.normalize_text("مُلک हिन्दी")
    assert normalize.tokenize(body) == ["مُلک", "हिन्दी"]
    assert normalize.tokenize_batch(pa.array([body]))[0].as_py() == ["مُلک", "हिन्दी"]


def test_batch_and_single_tokenisation_agree_with_offsets():
    bodies = [normalize.normalize_text(t) for t in ("a b", "", "!!!", "中文 text 42", "x—y")]
    batch = normalize.tokenize_batch(pa.array(bodies)).to_pylist()
    assert batch == [normalize.tokenize(b) for b in bodies]
    assert batch[1] == [] and batch[2] == []
    for body in bodies:
        assert [body[s:e] for s, e in normalize.token_spans(body)] == normalize.tokenize(body)


def test_normalize_documents_fills_body_and_hash():
    from pipeline import schema

    docs = pa.Table.from_pylist(
        [{"doc_id": "a", "text": "Hello  World."}, {"doc_id": "b", "text": "hello world."}], schema=schema.DOCUMENTS
    )
    out = normalize.normalize_documents(docs)
    assert out.documents.column("body").to_pylist() == ["Hello  World.", "hello world."]
    assert out.match_texts.to_pylist() == ["hello world.", "hello world."]
    hashes = out.documents.column("body_hash").to_pylist()
    assert hashes[0] == hashes[1] and hashes[0] is not None
    assert out.documents.column("text").to_pylist() == ["Hello  World.", "hello world."]
