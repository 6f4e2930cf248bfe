"""Cleaning: chrome rules, metadata extraction, corpus statistics and the body -> text offset map."""

import json
import re
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from pipeline import boilerplate, normalize, schema
from pipeline.config import NormalizeConfig
from pipeline.local import run_local
from tests.conftest import corpus_path

RULES = normalize.Rules.build()


def removed(cleaned: normalize.Cleaned, text: str) -> list[tuple[str, str]]:
    return [(reason, text[a:b]) for a, b, reason in cleaned.segments]


def assert_map_is_exact(cleaned: normalize.Cleaned, text: str) -> None:
    for body_start, text_start, length in cleaned.body_map:
        assert cleaned.body[body_start : body_start + length] == text[text_start : text_start + length]


# ---------------------------------------------------------------- rules, per language


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("ua en ru", "language_switcher"),
        ("EN | LT | RU", "language_switcher"),
        ("Follow the channel of", "follow_share"),
        ("Подписывайтесь на наш канал в Telegram", "follow_share"),
        ("Читайте также: Литва закрыла границу", "follow_share"),
        ("Підписуйтесь на наш Telegram", "follow_share"),
        ("Читайте також", "follow_share"),
        ("مزید پڑھیں: سرحد بند", "follow_share"),
        ("Congratulations! Your weather is set to Houston, TX", "web_chrome"),
        ("You are signed in as jdoe", "web_chrome"),
        ("Comment", "web_chrome"),
        ("Updated: 7:37 PM, May 30, 2019", "web_chrome"),
        ("Copyright 2019 CNN", "web_chrome"),
        ("Author: Daria Shekina", "byline"),
        ("By Ann Maloney", "byline"),
        ("Автор: Дарья Шекина", "byline"),
        ("تحریر: احمد علی", "byline"),
        ("Friday, January 4, 2019", "date_line"),
        ("Фото: Getty Images", "photo_credit"),
        ("تصویر: اے ایف پی", "photo_credit"),
        ("Tags: border, migrants", "tags"),
    ],
)
def test_chrome_lines_leave_the_body_with_their_reason(line, reason):
    text = f"{line}\n\nThe ministry closed two more crossings on Monday, officials said.\n"
    cleaned = normalize.clean(text, "A title", RULES)
    assert removed(cleaned, text) == [(reason, line)]
    assert cleaned.body == "The ministry closed two more crossings on Monday, officials said."


def test_extracted_metadata():
    text = (
        "ua en ru\n\nBorder points closed for good\n\nAuthor: Daria Shekina\nFriday, January 4, 2019\n\n"
        "VILNIUS, Jan 5 (Reuters) - Lithuania closed two crossings, the ministry said.\n\n"
        "The move follows months of tension. Caption here (Photo: Getty Images)\n"
    )
    cleaned = normalize.clean(text, None, RULES)
    assert cleaned.title == "Border points closed for good"
    assert cleaned.byline == "Daria Shekina"
    assert cleaned.text_date == datetime(2019, 1, 4, tzinfo=UTC)
    assert cleaned.dateline_place == "VILNIUS"
    assert cleaned.photo_credit.endswith("(Photo: Getty Images)")
    assert cleaned.body.startswith("Lithuania closed two crossings")
    assert "(Photo" not in cleaned.body
    assert_map_is_exact(cleaned, text)


def test_date_prefix_becomes_the_date():
    text = " date 2021-08-06 Lithuanian Interior Minister ordered border guards to act.\n\nMore prose here."
    cleaned = normalize.clean(text, None, RULES)
    assert cleaned.text_date == datetime(2021, 8, 6, tzinfo=UTC)
    assert cleaned.body.startswith("Lithuanian Interior Minister")
    assert_map_is_exact(cleaned, text)


@pytest.mark.parametrize(
    "prose",
    ["He declined to comment.", "Vilnius Says No.", "Нет.", "یہ درست نہیں ہے۔", "Pas de commentaire !"],
)
def test_prose_is_never_removed_for_being_short_or_title_cased(prose):
    text = f"First paragraph of the story, with a full sentence.\n\n{prose}\n\nLast paragraph, also prose."
    cleaned = normalize.clean(text, None, RULES)
    assert prose in cleaned.body


def test_related_headline_between_paragraphs_leaves_but_tables_stay():
    text = (
        "The first paragraph is prose.\n\nLithuania delivered new military aid to Ukraine\n\n"
        "The second paragraph is prose too.\n\nNet 959,000 vs 1,033,000\nRevs 4.1 mln vs 3.9 mln\n\n"
        "Closing prose."
    )
    cleaned = normalize.clean(text, None, RULES)
    assert removed(cleaned, text) == [("headline", "Lithuania delivered new military aid to Ukraine")]
    assert "Net 959,000 vs 1,033,000" in cleaned.body


def test_hard_wrapped_wire_copy_keeps_every_line():
    text = (
        "SALVADOR, Feb 26 - Showers continued throughout the week in\nthe Bahia cocoa zone, alleviating "
        "the drought since early\nJanuary and improving prospects.\n    Arrivals for the week ended "
        "February 22 were 155,221 bags\nof 60 kilos.\n    Shr 10 cts vs 12 cts\n    Reuter\n"
    )
    cleaned = normalize.clean(text, "BAHIA COCOA REVIEW", RULES)
    assert cleaned.dateline_place == "SALVADOR"
    assert removed(cleaned, text) == [("dateline", "SALVADOR, Feb 26 - ")]
    assert "Shr 10 cts vs 12 cts" in cleaned.body and "early\nJanuary" in cleaned.body
    assert_map_is_exact(cleaned, text)


def test_extra_patterns_from_config():
    rules = normalize.Rules.build(("newsletter:.*",))
    text = "Newsletter: get the daily briefing\n\nThe story itself, in prose."
    assert removed(normalize.clean(text, None, rules), text) == [("custom", "Newsletter: get the daily briefing")]


@pytest.mark.parametrize("extra", [(), (r"(?:Breaking|LIVE)\s*:.*", r"Reuters")])
def test_rule_match_agrees_with_the_case_insensitive_pattern(extra):
    rules = normalize.Rules.build(extra)
    units = [
        "Follow us on Twitter",
        "FOLLOW US ON TWITTER",
        "By JOHN SMITH and Jane Doe",
        "TAGS: Border, Lithuania",
        "ПОДПИСЫВАЙТЕСЬ на наш канал",
        "EN | RU | UA",
        "Monday, January 5, 2026",
        "Sıgn up for our newsletter",  # dotless i: the regex engine folds it to i, lower() keeps it
        "ſhare this story",  # long s
        "İSTANBUL",  # lower-cases to two characters
        "BREAKING: border closed",
        "REUTERS",
        "مزید پڑھیں",
        "The ministry said more crossings would close on Friday.",
        "Photo: AFP",
    ]
    for unit in units:
        want, got = rules.chrome.match(unit), rules.match(unit)
        assert (want is None) == (got is None), unit
        if want:
            assert got.lastgroup == want.lastgroup and got.group(0) == want.group(0), unit
            assert {k: v for k, v in got.groupdict().items() if v} == {k: v for k, v in want.groupdict().items() if v}
    assert sum(rules.match(u) is not None for u in units) >= 9  # hits and misses were both exercised


def test_built_in_rules_are_lower_case():
    # Rules.match lower-cases a unit and matches the built-in rules case-sensitively: they must be written in lower
    # case (escapes such as \s and \d are lower case too; named groups are syntax).
    for reason, pattern in normalize.CHROME_RULES.items():
        text = pattern.replace("(?P<", "(?<")
        assert text == text.lower(), reason


def test_bad_extra_pattern_is_a_config_error():
    from pipeline import config

    with pytest.raises(config.ConfigError, match="not a valid regex"):
        config.load(overrides={"normalize.extra_chrome_patterns": ["(unclosed"]})


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Литва закрыла еще два пункта пропуска на границе с Беларусью, объяснив это угрозами безопасности.", "ru"),
        ("Литва закрила ще два пункти пропуску на кордоні з Білоруссю, пояснивши це загрозами безпеці.", "uk"),
        ("Lietuva uždarė dar du pasienio punktus su Baltarusija, nurodydama grėsmes nacionaliniam saugumui.", "lt"),
        ("لتھوانیا نے بیلاروس کے ساتھ سرحد پر مزید دو چوکیاں بند کر دیں اور سلامتی کو خطرات کا حوالہ دیا۔", "ur"),
        ("立陶宛关闭了与白俄罗斯边境的另外两个检查站，理由是国家安全受到威胁。", "zh"),
        ("La Lituanie a fermé deux points de passage supplémentaires à la frontière avec le Bélarus.", "fr"),
    ],
)
def test_language_detection(text, lang):
    assert normalize.detect_language(text * 2) == lang


def test_boilerplate_statistics_remove_site_footers_but_keep_shared_wire_paragraphs():
    footer = "Copyright Daily Meridian. Use of materials is allowed only with a hyperlink to the site."
    wire = "Lithuania closed two more border crossings with Belarus on Wednesday, the interior ministry said."
    rows = []
    for i in range(10):
        middle = wire if i < 2 else f"Its own second paragraph, number {i}."  # the site re-ran the wire story twice
        rows.append(
            {
                "doc_id": f"dm{i}",
                "source": "Daily Meridian",
                "run_id": "r",
                "text": f"Story {i} opens with its own words, number {i}.\n\n{middle}\n\n{footer}",
            }
        )
        rows.append(
            {
                "doc_id": f"o{i}",
                "source": f"Outlet {i}",
                "run_id": "r",
                "text": f"{wire}\n\nOutlet {i} adds its own closing remark number {i}.",
            }
        )
    docs = pa.Table.from_pylist(rows, schema=schema.DOCUMENTS)
    cfg = NormalizeConfig(boilerplate_min_sources=5)
    index = boilerplate.boilerplate_index(boilerplate.edge_line_table(docs, cfg), cfg)
    out = normalize.normalize_documents(docs, cfg, index)
    bodies = out.documents.column("body").to_pylist()
    assert all(footer not in b for b in bodies)
    # The wire paragraph sits in 12 documents of 11 sources, but it is long and not one site's chrome: it stays.
    assert sum(wire in b for b in bodies) == 12
    reasons = {r for r in out.segments.column("reason").to_pylist()}
    assert reasons == {"site_chrome"}


def test_a_short_closing_line_of_many_sources_is_boilerplate_everywhere():
    everywhere, few = "All rights reserved.", "Subscribe to our weekly digest."
    rows = [
        {
            "doc_id": f"d{i}",
            "source": f"site {i}",
            "run_id": "r",
            "text": f"Story {i} has its own opening line.\n\nA paragraph of prose number {i}.\n\n"
            + (few if i < 3 else everywhere),
        }
        for i in range(8)
    ]
    docs = pa.Table.from_pylist(rows, schema=schema.DOCUMENTS)
    cfg = NormalizeConfig(boilerplate_min_sources=5)
    index = boilerplate.boilerplate_index(boilerplate.edge_line_table(docs, cfg), cfg)
    assert index.everywhere == {normalize.hash_line(everywhere)}  # 5 sources; the other line has only 3
    assert index.by_source == {}  # one document per site: nothing is one site's chrome


def test_an_article_scraped_three_times_is_not_its_sites_chrome():
    article = "\n\n".join(f"Paragraph {i} of the op-ed, which argues its point at some length here." for i in range(6))
    rows = [{"doc_id": f"dup{i}", "source": "nbc", "run_id": "r", "text": article} for i in range(3)]
    rows += [
        {"doc_id": f"other{i}", "source": "nbc", "run_id": "r", "text": f"Another story number {i}, in prose."}
        for i in range(3)
    ]
    docs = pa.Table.from_pylist(rows, schema=schema.DOCUMENTS)
    cfg = NormalizeConfig()
    index = boilerplate.boilerplate_index(boilerplate.edge_line_table(docs, cfg), cfg)
    assert index.for_source("nbc") == frozenset()
    out = normalize.normalize_documents(docs, cfg, index)
    assert out.documents.column("body").to_pylist()[0] == article.replace("\n\n", "\n")


def test_segments_and_map_from_normalize_documents():
    text = "Bbabo NET\n\n\nA headline about the border\n\nProse paragraph one.\n\nProse two.\n\n"
    text += "A headline about the border"
    docs = pa.Table.from_pylist([{"doc_id": "d", "text": text, "run_id": "r"}], schema=schema.DOCUMENTS)
    out = normalize.normalize_documents(docs)
    row = out.documents.to_pylist()[0]
    assert row["title"] == "A headline about the border" and row["body"] == "Prose paragraph one.\nProse two."
    for piece in row["body_map"]:
        assert (
            row["body"][piece["body_start"] : piece["body_start"] + piece["length"]]
            == text[piece["text_start"] : piece["text_start"] + piece["length"]]
        )
    segs = [(r["reason"], r["content"]) for r in out.segments.to_pylist()]
    assert segs == [
        ("site_name", "Bbabo NET"),
        ("title", "A headline about the border"),
        ("title", "A headline about the border"),
    ]


# ---------------------------------------------------------------- the real corpora (skipped when absent)


def seed_results():
    result = run_local([corpus_path("seeds")])
    docs = {d["doc_id"][:3]: d for d in result.documents.to_pylist()}
    segs: dict[str, list[tuple[str, str]]] = {}
    for s in result.segments.to_pylist():
        segs.setdefault(s["doc_id"][:3], []).append((s["reason"], s["content"]))
    return docs, segs


def test_seed_expectations():
    docs, segs = seed_results()
    assert docs["000"]["title"] == "Lithuania ceased cooperation with Belarus through the Ministry of Internal Affairs"
    assert ("site_name", "Bbabo NET") in segs["000"]
    assert [r for r, _ in segs["000"]].count("title") == 2  # the headline and its repeat at the end
    assert segs["001"] == [
        ("headline", "Lithuania delivered new military aid to Ukraine"),
        ("follow_share", "Follow the channel of"),
        ("headline", "border points"),
    ]
    assert docs["002"]["published_at"] == datetime(2021, 8, 6, tzinfo=UTC)
    assert docs["002"]["published_at_source"] == "text"
    assert segs["002"] == [("date_prefix", "date 2021-08-06 ")]
    assert docs["003"]["title"].startswith("‘Why stand still? Go ahead!’ Video of unknown persons")
    assert ("headline", "Lithuanian parliament calls increased flow of illegal migration hybrid aggression") in segs[
        "003"
    ]
    assert docs["004"]["byline"] == "Daria Shekina"
    assert docs["004"]["photo_credit"] == "Illustrative photo (Photo: Getty Images)"
    assert docs["004"]["title"] == "Lithuanian security forces discuss increased threats from Belarusian immigrants"
    assert ("language_switcher", "ua en ru") in segs["004"]
    assert ("headline", "Belarus may be recruiting agents") in segs["004"]


def test_no_seed_sentence_is_lost_and_offsets_map_back():
    result = run_local([corpus_path("seeds")])
    for doc in result.documents.to_pylist():
        for line in doc["text"].splitlines():
            line = line.strip()
            if line.endswith((".", "!", "?", '"', "”")) and not line.startswith("date "):
                assert line in doc["body"], (doc["doc_id"], line)
        for piece in doc["body_map"]:
            b, t, n = piece["body_start"], piece["text_start"], piece["length"]
            assert doc["body"][b : b + n] == doc["text"][t : t + n]


WEB_CHROME = re.compile(
    r"^(?:congratulations! your weather is set to|you are signed in as|comments?$|updated\b|"
    r"show more|chat with us in facebook messenger)",
    re.IGNORECASE,
)


def test_web_news_chrome_lines_leave_the_body():
    result = run_local([corpus_path("web-news-2018-2019", "docs.jsonl")])
    in_text = in_body = 0
    for doc in result.documents.to_pylist():
        in_text += sum(1 for line in doc["text"].splitlines() if WEB_CHROME.match(line.strip()))
        in_body += sum(1 for line in doc["body"].splitlines() if WEB_CHROME.match(line.strip()))
    assert in_text >= 5 and in_body == 0


def test_wikinews_date_line_becomes_the_date(tmp_path):
    source = corpus_path("wikinews", "docs.jsonl")
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()[:60]]
    for row in rows:
        row["published_at"] = None
    (tmp_path / "wn.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    result = run_local([tmp_path / "wn.jsonl"])
    dated = [d for d in result.documents.to_pylist() if re.match(r"^\w+day, \w+ \d{1,2}, \d{4}", d["text"])]
    assert len(dated) >= 20
    for doc in dated:
        first = doc["text"].splitlines()[0]
        assert doc["published_at"] == datetime.strptime(first.strip(), "%A, %B %d, %Y").replace(tzinfo=UTC)
        assert doc["published_at_source"] == "text" and first not in doc["body"]


def test_reuters_datelines_are_extracted():
    source = corpus_path("reuters21578", "docs.jsonl")
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()[:300]]
    expected = {}
    for row in rows:
        m = re.match(r"^([A-Z][A-Z .]+), [A-Z][a-z]+ \d{1,2} - ", row["text"])
        if m:
            expected[row["id"]] = m.group(1)
    docs = pa.Table.from_pylist(
        [{"doc_id": r["id"], "text": r["text"], "title": r["title"], "run_id": "r"} for r in rows],
        schema=schema.DOCUMENTS,
    )
    out = normalize.normalize_documents(docs).documents.to_pylist()
    got = {d["doc_id"]: d["dateline_place"] for d in out}
    assert len(expected) > 200
    assert all(got[k] == v for k, v in expected.items())
