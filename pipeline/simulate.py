"""Simulate: a seeded wire ecosystem with gold labels, all text generated here or taken from a base corpus you name.

Agencies publish original stories; regional agencies relay them (BTA re-runs AFP) and outlets copy either after a lag:
verbatim inside page chrome, lightly edited (new lead, sentences dropped or reordered, words substituted, numbers
reformatted), truncated, partial (one to three agency paragraphs inside the outlet's own article) or merged (two
agencies' copy in one article), with credit lines in many styles or none. Negatives look like reuse without being it:
independent stories on the same event, stories that share only a quoted statement, same-site articles that share only
page chrome. Metadata goes wrong at set rates (no date, date only, scrape time instead of publication time).

Every sentence carries an identity, so the gold labels are exact: pairs of documents that share text (with the
relation, the copy type, the source when one copied the other, and the shared spans as character offsets in both
texts), clusters, each cluster's origin (or the agency when the origin is outside the corpus), and every credit
mention with its offsets. Output streams to shards (`corpus/docs-00000.jsonl` or `.parquet`), so a million documents
need no more memory than two events.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

# ---------------------------------------------------------------- vocabulary (written for this project)

_FIRST = [
    "Anna",
    "Marek",
    "Lina",
    "Tomas",
    "Rasa",
    "Oleg",
    "Irena",
    "Pavel",
    "Jonas",
    "Mira",
    "Viktor",
    "Elena",
    "Ruta",
    "Dmitri",
    "Agne",
    "Karol",
    "Zofia",
    "Ivan",
    "Laura",
    "Milan",
    "Nadia",
    "Stefan",
    "Greta",
    "Artur",
    "Vesna",
    "Boris",
    "Dalia",
    "Emil",
    "Hana",
    "Lukas",
]
_LAST = [
    "Petrauskas",
    "Kowalski",
    "Ivanova",
    "Novak",
    "Jankauskas",
    "Horvat",
    "Melnyk",
    "Popescu",
    "Berzins",
    "Dimitrov",
    "Lindqvist",
    "Kaminski",
    "Sokolova",
    "Vidmar",
    "Tamm",
    "Balodis",
    "Nemeth",
    "Kovacs",
    "Stoyanov",
    "Marin",
    "Rusu",
    "Varga",
    "Zelenko",
    "Kazlauskas",
]
_PLACES = [
    "Vilnius",
    "Minsk",
    "Warsaw",
    "Sofia",
    "Riga",
    "Tallinn",
    "Kaunas",
    "Grodno",
    "Bialystok",
    "Plovdiv",
    "Varna",
    "Klaipeda",
    "Brest",
    "Lublin",
    "Daugavpils",
    "Tartu",
    "Gdansk",
    "Burgas",
    "Siauliai",
    "Vitebsk",
]
_ORGS = (
    "the interior ministry",
    "the border guard service",
    "the national bank",
    "the health agency",
    "the energy regulator",
    "the transport ministry",
    "the customs office",
    "the statistics board",
    "the defence ministry",
    "the election commission",
    "the port authority",
    "the farmers union",
    "the railway company",
    "the city council",
    "the environment agency",
    "the prosecutor general",
)
_ROLES = (
    "minister",
    "spokesperson",
    "director",
    "analyst",
    "deputy head",
    "chief economist",
    "commander",
    "mayor",
    "chairman",
    "senior official",
)
_TOPICS = {
    "border": ("checkpoint", "crossing", "migrants", "fence", "patrol", "queue", "permit", "travellers"),
    "energy": ("gas", "pipeline", "tariff", "grid", "turbine", "supply", "reserves", "prices"),
    "economy": ("inflation", "rates", "exports", "budget", "growth", "deficit", "wages", "bonds"),
    "transport": ("railway", "freight", "airport", "tickets", "ferry", "timetable", "trucks", "cargo"),
    "health": ("hospital", "vaccine", "clinic", "doctors", "outbreak", "patients", "beds", "nurses"),
    "farming": ("harvest", "grain", "drought", "fertiliser", "cattle", "subsidies", "yields", "orchards"),
}
_VERBS = (
    "announced",
    "confirmed",
    "criticised",
    "approved",
    "rejected",
    "proposed",
    "delayed",
    "expanded",
    "reviewed",
    "suspended",
    "defended",
    "questioned",
    "welcomed",
    "extended",
    "limited",
    "restored",
)
_ADJ = (
    "new",
    "temporary",
    "additional",
    "stricter",
    "regional",
    "emergency",
    "annual",
    "disputed",
    "revised",
    "unexpected",
    "lengthy",
    "modest",
    "sharp",
    "gradual",
    "joint",
    "formal",
)
_TIMES = (
    "on Monday",
    "on Tuesday",
    "on Wednesday",
    "on Thursday",
    "on Friday",
    "late on Sunday",
    "earlier this week",
    "last month",
    "in the morning",
    "overnight",
)
_LINKS = ("while", "after", "because", "although", "as", "before", "even though", "since")
_NOUNS = (
    "budget",
    "officials",
    "people",
    "workers",
    "residents",
    "contracts",
    "schools",
    "prices",
    "reports",
    "inspections",
    "deliveries",
    "investors",
    "families",
    "companies",
    "drivers",
    "regulations",
    "loans",
    "staff",
    "shipments",
    "vehicles",
    "students",
    "pensions",
    "taxes",
    "salaries",
    "courts",
    "licences",
)
_GROUPS = (
    "local residents",
    "truck drivers",
    "opposition lawmakers",
    "business owners",
    "union leaders",
    "farmers",
    "teachers",
    "aid workers",
    "doctors",
    "students",
    "pensioners",
    "shop owners",
    "volunteers",
)
_DEALS = (
    "agreement",
    "talks",
    "deal",
    "review",
    "programme",
    "investigation",
    "proposal",
    "reform",
    "tender",
    "package",
    "audit",
    "negotiations",
)
_TRENDS = (
    "rose",
    "fell",
    "doubled",
    "dropped sharply",
    "climbed",
    "slowed",
    "stalled",
    "recovered",
    "surged",
    "declined",
)
_ACTIONS = ("approve", "block", "delay", "review", "sign", "challenge", "expand", "cancel", "renew", "fund")
# Several wordings for each fixed part of a sentence template: real copy repeats stock phrases, but not every
# unrelated pair of stories shares a dozen of them.
_SAYS = ("said", "warned that", "told reporters that", "estimated that", "claimed that", "noted that")
_SAID = ("said", "added", "told reporters", "wrote in a statement", "said on social media")
_ACCORDING = ("According to", "Citing figures from", "In a report by", "Data published by")
_EXPECTED = ("is expected to", "plans to", "may", "is likely to", "has promised to", "refused to")
_UNCLEAR = ("It was not clear whether", "It remained unclear if", "Nobody could say whether", "Few expect that")
_SUBST = {
    "said": "stated",
    "announced": "declared",
    "new": "fresh",
    "additional": "extra",
    "criticised": "slammed",
    "approved": "backed",
    "rejected": "turned down",
    "temporary": "interim",
    "sharp": "steep",
    "officials": "authorities",
    "people": "residents",
    "large": "big",
}

AGENCIES = {
    "AFP": ("AFP", "Agence France-Presse", "France Presse", "АФП"),
    "Reuters": ("Reuters", "Рейтер"),
    "AP": ("AP", "Associated Press"),
    "BTA": ("BTA",),
    "BelTA": ("BelTA",),
    "ELTA": ("ELTA",),
    "PAP": ("PAP",),
    "dpa": ("dpa",),
}
# Regional agencies re-run the big three (BTA re-runs AFP), and outlets re-run either.
_RELAYS = ("BTA", "BelTA", "ELTA", "PAP")
_MAJORS = ("AFP", "Reuters", "AP", "dpa")
_OUTLETS = (
    "Baltic Courier",
    "Daily Meridian",
    "Nord Herald",
    "Vistula Post",
    "Eastgate News",
    "Danube Times",
    "Amber Coast Online",
    "City Ledger",
    "Morning Signal",
    "Riverside Gazette",
    "Kaunas Today",
    "Sofia Insider",
    "Minsk Watch",
    "Harbour Chronicle",
    "Plains Observer",
)
_CHROME_HEADERS = ("{site}", "{site} | News", "Home / World / {site}")
_CHROME_SWITCHERS = ("ua en ru", "EN | LT | RU", "bg en", "pl en de")
_CHROME_FOOTERS = (
    "Follow {site} on Telegram",
    "Share this article",
    "Subscribe to our newsletter",
    "Follow the channel of {site}",
)


_LONG_FOOTERS = (
    "Copyright {site}. All rights reserved. Use of materials from this site is allowed only with an active hyperlink "
    "to {site} and the name of the author. Follow us on social networks to get the news first.",
    "{site} is not responsible for the content of external sites. Opinions expressed in comments belong to their "
    "authors. To report a mistake in the text, select it and press Ctrl+Enter.",
)
_TAGS = ("Tags: {a}, {b}", "Topics: {a} | {b}", "{a} {b}")


@dataclass
class Sentence:
    text: str
    origin: tuple[str, int] | None  # (original story id, sentence index); None for a document's own text
    quote: bool = False  # a quoted statement that independent stories may share


@dataclass
class Doc:
    doc_id: str
    source: str
    published_at: datetime
    title: str
    paragraphs: list[list[Sentence]]
    event: int
    lang: str = "en"
    copy_type: str = "original"
    ancestors: frozenset[str] = frozenset()  # documents this one copied from, directly or through a relay
    lead_credit: tuple[str, str] | None = None  # ("AFP" or "AFP|BTA", template) before the first sentence
    tail_credit: tuple[str, str] | None = None
    chrome_top: list[str] = field(default_factory=list)
    chrome_middle: str | None = None  # a related headline inserted between paragraphs
    chrome_bottom: list[str] = field(default_factory=list)


@dataclass
class SimulationConfig:
    """Every behaviour of the simulated ecosystem and its rate."""

    docs: int = 200  # documents to write (the last event may add a few more)
    seed: int = 7
    base: str = "builtin"  # or a JSONL corpus (fields text, title) whose stories become the originals
    shard_docs: int = 100_000  # documents per output shard
    format: str = "jsonl"  # or "parquet"
    sentences: tuple[int, int] = (10, 16)  # per built-in original, about 20 words each
    copies_per_story: tuple[int, int] = (1, 5)
    independent_per_event: tuple[int, int] = (1, 2)
    relay_rate: float = 0.3  # a regional agency relays the original, and outlets may copy the relay
    external_rate: float = 0.15  # the original agency story is absent from the corpus
    copy_weights: dict[str, float] = field(
        default_factory=lambda: {"verbatim": 3, "edited": 4, "truncated": 2, "partial": 2, "merged": 0.5}
    )
    chrome_rate: float = 0.5  # outlet copies wrapped in site header, language switcher, follow line, title
    related_headline_rate: float = 0.3  # of chromed copies: another story's headline inside the body
    long_footer_rate: float = 0.0  # outlets whose every article ends in a long boilerplate footer
    credit_drop_rate: float = 0.2
    quote_rate: float = 0.2  # events with two independent stories sharing only a quoted statement
    no_date_rate: float = 0.05
    date_only_rate: float = 0.05
    scrape_time_rate: float = 0.05  # published_at is the crawl time, hours to days late


class _Writer:
    """Builds sentences and stories from the vocabulary with one seeded RNG."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def person(self) -> str:
        return f"{self.rng.choice(_FIRST)} {self.rng.choice(_LAST)}"

    def sentence(self, topic: str, place: str) -> str:
        r = self.rng
        words = _TOPICS[topic] + _NOUNS

        def w() -> str:
            return r.choice(words)

        def num() -> str:
            return str(r.choice((r.randint(2, 95), r.randint(100, 9000), f"{r.randint(1, 60)} percent")))

        def subject() -> str:
            return r.choice(
                (
                    lambda: r.choice(_ORGS).capitalize(),
                    lambda: f"The {r.choice(_ROLES)} {self.person()}",
                    lambda: self.person(),
                    lambda: f"Officials in {r.choice(_PLACES)}",
                    lambda: f"A group of {r.choice(_GROUPS)}",
                    lambda: f"{r.choice(_GROUPS).capitalize()} from {r.choice(_PLACES)}",
                )
            )()

        templates = (
            lambda: f"{subject()} {r.choice(_VERBS)} {r.choice(_ADJ)} {w()} rules in {place} {r.choice(_TIMES)}",
            lambda: (
                f"{subject()} {r.choice(_SAYS)} {num()} {w()} cases were {r.choice(_VERBS)} near {r.choice(_PLACES)}"
            ),
            lambda: f"{r.choice(_ACCORDING)} {r.choice(_ORGS)}, the {r.choice(_ADJ)} {w()} plan affects {num()} {w()}",
            lambda: f"{subject()} {r.choice(_VERBS)} the {r.choice(_ADJ)} {w()} {r.choice(_TIMES)}",
            lambda: (
                f"{self.person()}, a {r.choice(_ROLES)} at {r.choice(_ORGS)}, {r.choice(_VERBS)} the "
                f"{w()} {r.choice(_DEALS)}"
            ),
            lambda: f"{r.choice(_GROUPS).capitalize()} reported {r.choice(_ADJ)} {w()} delays of {num()} hours",
            lambda: f"{subject()} {r.choice(_SAYS)} {w()} {r.choice(_TRENDS)} by {num()} {r.choice(_TIMES)}",
            lambda: (
                f"The {w()} {r.choice(_DEALS)} with {r.choice(_PLACES)} was {r.choice(_VERBS)} after "
                f"{num()} {w()} {r.choice(_TRENDS)}"
            ),
            lambda: f"In {r.choice(_PLACES)}, {r.choice(_GROUPS)} {r.choice(_VERBS)} {num()} {w()} {r.choice(_TIMES)}",
            lambda: (
                f"{subject()} {r.choice(_EXPECTED)} {r.choice(_ACTIONS)} the {r.choice(_ADJ)} {w()} {r.choice(_DEALS)}"
            ),
            lambda: f"{r.choice(_UNCLEAR)} {r.choice(_ORGS)} would {r.choice(_ACTIONS)} {w()} {w()}",
            lambda: f"{num()} {w()} {r.choice(_TRENDS)} in {r.choice(_PLACES)}, {subject().lower()} {r.choice(_SAID)}",
        )
        clause = r.choice(templates)()
        if r.random() < 0.5:
            clause += (
                f", {r.choice(_LINKS)} {r.choice(_ORGS)} {r.choice(_VERBS)} {r.choice(_ADJ)} "
                f"{w()} {r.choice(_DEALS)} with {r.choice(_PLACES)}"
            )
        return clause[0].upper() + clause[1:] + "."

    def title(self, topic: str, place: str) -> str:
        r = self.rng
        return f"{place} {r.choice(_VERBS)} {r.choice(_ADJ)} {r.choice(_TOPICS[topic])} measures"

    def paragraphs(self, topic: str, place: str, origin_id: str | None, n_sentences: int) -> list[list[Sentence]]:
        sentences = [
            Sentence(self.sentence(topic, place), (origin_id, i) if origin_id else None) for i in range(n_sentences)
        ]
        out, i = [], 0
        while i < len(sentences):
            size = self.rng.randint(1, 3)
            out.append(sentences[i : i + size])
            i += size
        return out

    def substitute(self, sentence: Sentence) -> Sentence:
        words = sentence.text.split(" ")
        spots = [i for i, w in enumerate(words) if w in _SUBST]
        for i in self.rng.sample(spots, k=min(len(spots), 2)):
            words[i] = _SUBST[words[i]]
        return Sentence(" ".join(words), sentence.origin)


# ---------------------------------------------------------------- story sources: built-in or a base corpus


class _BuiltinStories:
    """Original and own-text stories from the built-in generator."""

    def __init__(self, w: _Writer, cfg: SimulationConfig) -> None:
        self.w, self.cfg = w, cfg
        self.lang = "en"

    def original(self, story_id: str, topic: str, place: str) -> tuple[str, list[list[Sentence]]]:
        n = self.w.rng.randint(*self.cfg.sentences)
        return self.w.title(topic, place), self.w.paragraphs(topic, place, story_id, n)

    def own(self, topic: str, place: str, n: int) -> tuple[str, list[list[Sentence]]]:
        return self.w.title(topic, place), self.w.paragraphs(topic, place, None, n)


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”»]?\s+(?=[\"“«(]?[A-ZА-ЯЁ0-9])")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n|\n(?=[ \t]+)")


def split_story(text: str) -> list[list[str]]:
    """Paragraphs of sentences of a real story (blank lines or indented lines start paragraphs; hard-wrapped
    lines are joined)."""
    paragraphs = []
    for block in _PARAGRAPH_BREAK.split(text):
        flat = " ".join(block.split())
        if flat:
            paragraphs.append([s.strip() for s in _SENTENCE_END.split(flat) if s.strip()])
    return [p for p in paragraphs if p]


class _CorpusStories:
    """Originals and own text taken, each story once, from a JSONL base corpus (Reuters-21578, Wikinews, ...).

    Natural re-sends in the base would be unlabelled reuse, so stories whose title or opening repeats an earlier
    one are skipped."""

    MIN_SENTENCES = 5

    def __init__(self, path: Path, w: _Writer) -> None:
        self.w = w
        self.lang = "en"
        self._stories = self._read(path)
        self._seen: set[str] = set()

    def _read(self, path: Path) -> Iterator[dict[str, Any]]:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)

    def _next(self) -> tuple[str, list[list[str]], str]:
        for row in self._stories:
            text = row.get("text") or ""
            paragraphs = split_story(text)
            if sum(len(p) for p in paragraphs) < self.MIN_SENTENCES:
                continue
            keys = {" ".join((row.get("title") or "").casefold().split()), " ".join(text.casefold().split())[:120]}
            keys.discard("")
            if keys & self._seen:
                continue
            self._seen.update(keys)
            title = row.get("title") or paragraphs[0][0][:80]
            return title, paragraphs, row.get("lang") or "en"
        raise StopIteration

    def original(self, story_id: str, topic: str, place: str) -> tuple[str, list[list[Sentence]]]:
        title, paragraphs, self.lang = self._next()
        counter = iter(range(10**6))
        return title, [[Sentence(s, (story_id, next(counter))) for s in p] for p in paragraphs]

    def own(self, topic: str, place: str, n: int) -> tuple[str, list[list[Sentence]]]:
        title, paragraphs, _ = self._next()
        out, used = [], 0
        for p in paragraphs:
            if used >= n:
                break
            out.append([Sentence(s, None) for s in p[: n - used]])
            used += len(out[-1])
        return title, out


# ---------------------------------------------------------------- copy behaviours


def _flatten(paragraphs: list[list[Sentence]]) -> list[Sentence]:
    return [s for p in paragraphs for s in p]


def _regroup(sentences: list[Sentence], rng: random.Random) -> list[list[Sentence]]:
    out, i = [], 0
    while i < len(sentences):
        size = rng.randint(1, 3)
        out.append(sentences[i : i + size])
        i += size
    return out


_BIG_NUMBER = re.compile(r"\b(\d{4,})\b")


def _edit(w: _Writer, sentence: Sentence) -> Sentence:
    """Word substitutions and number reformatting, as a copy desk does."""
    edited = w.substitute(sentence)
    text = _BIG_NUMBER.sub(lambda m: f"{int(m.group(1)):,}", edited.text).replace(" percent", "%")
    return Sentence(text, sentence.origin, sentence.quote)


def _copy(
    w: _Writer,
    stories: Any,
    src: Doc,
    doc_id: str,
    outlet: str,
    when: datetime,
    kind: str,
    topic: str,
    place: str,
    other: Doc | None = None,
) -> Doc:
    """A copy of `src` by `outlet` (for `merged`, paragraphs of `other` too)."""
    r = w.rng
    sentences = _flatten(src.paragraphs)
    title = src.title
    ancestors = src.ancestors | {src.doc_id}
    if kind == "verbatim":
        paragraphs = [list(p) for p in src.paragraphs]
    elif kind == "edited":
        kept = [s for s in sentences if r.random() > 0.15] or sentences[:3]
        if len(kept) > 4 and r.random() < 0.5:
            i = r.randrange(1, len(kept) - 1)
            kept[i], kept[i + 1] = kept[i + 1], kept[i]
        kept = [_edit(w, s) if r.random() < 0.4 else s for s in kept]
        _, lead = stories.own(topic, place, 1)
        paragraphs = [*lead, *_regroup(kept, r)]
    elif kind == "truncated":
        keep = max(3, int(len(sentences) * r.uniform(0.4, 0.7)))
        paragraphs = _regroup(sentences[:keep], r)
    elif kind == "partial":
        title, own = stories.own(topic, place, r.randint(6, 10))
        start = r.randrange(len(src.paragraphs))
        taken = src.paragraphs[start : start + r.randint(1, 3)]
        at = r.randint(1, len(own))
        paragraphs = own[:at] + [list(p) for p in taken] + own[at:]
    else:  # merged: the first half of one agency's story and paragraphs of another's
        assert other is not None
        half = max(1, len(src.paragraphs) // 2)
        start = r.randrange(len(other.paragraphs))
        paragraphs = [list(p) for p in src.paragraphs[:half]] + [
            list(p) for p in other.paragraphs[start : start + r.randint(1, 3)]
        ]
        ancestors = ancestors | other.ancestors | {other.doc_id}
    return Doc(
        doc_id,
        outlet,
        when,
        title,
        paragraphs,
        src.event,
        lang=src.lang,
        copy_type=kind,
        ancestors=frozenset(ancestors),
    )


# ---------------------------------------------------------------- rendering with offsets

_LEAD_CREDITS = (
    "{place} ({alias}) - ",
    "({alias}) - ",
    "{place}, {date} ({alias}) - ",
    "By {alias}\n\n",
    "/{alias}/ ",
    "({alias}) — ",
)
_TAIL_CREDITS = (
    " {alias} reported.",
    " according to {alias}.",
    " {alias} recalls.",
    " citing {alias}.",
    "\n\nSource: {alias}",
)
_RELAY_CREDIT = " reported {alias}, quoted by {relay}."


@dataclass
class Rendered:
    text: str
    credits: list[dict]
    spans: dict[tuple[str, int], tuple[int, int]]  # sentence origin -> (start, end) in text


def render(doc: Doc) -> Rendered:
    """The document text, its credit mentions and the character span of every sentence with an origin."""
    parts: list[str] = []
    credits: list[dict] = []
    spans: dict[tuple[str, int], tuple[int, int]] = {}
    length = 0

    def emit(piece: str) -> None:
        nonlocal length
        parts.append(piece)
        length += len(piece)

    def emit_credit(template: str, agency_and_relay: str) -> None:
        agency, _, relay = agency_and_relay.partition("|")
        aliases = AGENCIES[agency]
        names = {"alias": (aliases[hash_index(doc.doc_id, len(aliases))], agency), "relay": (relay, relay)}
        values = {"place": "VILNIUS", "date": doc.published_at.strftime("%b %-d")}
        rest = template
        while rest:
            cuts = [(rest.find("{" + k + "}"), k) for k in names if "{" + k + "}" in rest]
            if not cuts:
                emit(rest.format(**values))
                return
            cut, key = min(cuts)
            emit(rest[:cut].format(**values))
            mention, canonical = names[key]
            credits.append(
                {
                    "doc_id": doc.doc_id,
                    "agency": canonical,
                    "mention": mention,
                    "start": length,
                    "end": length + len(mention),
                }
            )
            emit(mention)
            rest = rest[cut + len(key) + 2 :]

    for line in doc.chrome_top:
        emit(line + "\n\n")
    middle = len(doc.paragraphs) // 2 if doc.chrome_middle and len(doc.paragraphs) > 2 else -1
    for pi, paragraph in enumerate(doc.paragraphs):
        if pi == middle:
            emit(doc.chrome_middle + "\n\n")
        if pi == 0 and doc.lead_credit:
            emit_credit(doc.lead_credit[1], doc.lead_credit[0])
        for si, sentence in enumerate(paragraph):
            if si:
                emit(" ")
            text = sentence.text
            last = pi == len(doc.paragraphs) - 1 and si == len(paragraph) - 1
            if last and doc.tail_credit and doc.tail_credit[1].startswith(" ") and text.endswith("."):
                text = text[:-1] + ","
            if sentence.origin:
                spans[sentence.origin] = (length, length + len(text.rstrip(",")))
            emit(text)
        if pi == len(doc.paragraphs) - 1 and doc.tail_credit:
            emit_credit(doc.tail_credit[1], doc.tail_credit[0])
        if pi < len(doc.paragraphs) - 1:
            emit("\n\n")
    for line in doc.chrome_bottom:
        emit("\n\n" + line)
    return Rendered("".join(parts), credits, spans)


def hash_index(text: str, n: int) -> int:
    """A deterministic index in range(n) from `text` (the built-in hash() is salted per process)."""
    return sum(text.encode("utf-8")) % n


# ---------------------------------------------------------------- gold relations

MIN_SHARED_RUN = 8  # words: two versions of a sentence count as shared text only with a common run this long


def _runs(text: str) -> set[tuple[str, ...]]:
    words = text.split()
    return {tuple(words[i : i + MIN_SHARED_RUN]) for i in range(len(words) - MIN_SHARED_RUN + 1)}


def _shared_origins(a: Doc, b: Doc) -> set[tuple[str, int]]:
    """Origins of the sentences both documents carry in versions that still share a run of words (two edited
    copies can substitute words in the same sentence until nothing of it is common)."""
    sa = {s.origin: s.text for s in _flatten(a.paragraphs) if s.origin}
    sb = {s.origin: s.text for s in _flatten(b.paragraphs) if s.origin}
    return {o for o in sa.keys() & sb.keys() if sa[o] == sb[o] or _runs(sa[o]) & _runs(sb[o])}


def _share(doc: Doc, shared: set[tuple[str, int]]) -> float:
    sentences = _flatten(doc.paragraphs)
    inside = sum(len(s.text.split()) for s in sentences if s.origin in shared)
    return inside / max(1, sum(len(s.text.split()) for s in sentences))


def _same_article(a: Doc, b: Doc) -> bool:
    """The same sentences in the same order: the same article once page chrome and credit lines are set aside
    (what the pipeline calls `exact`)."""
    return [s.text for s in _flatten(a.paragraphs)] == [s.text for s in _flatten(b.paragraphs)]


def gold_pair(a: Doc, b: Doc, ra: Rendered, rb: Rendered) -> dict[str, Any] | None:
    """The gold label of a document pair, or None when they share nothing."""
    shared = _shared_origins(a, b)
    quotes = {o for o in shared if o[0].startswith("quote:")}
    reuse = shared - quotes
    if not shared:
        return None
    x, y, rx, ry = (a, b, ra, rb) if a.doc_id < b.doc_id else (b, a, rb, ra)
    if not reuse:
        return {"a": x.doc_id, "b": y.doc_id, "label": "shared_quote", "copy_type": "quote", "spans": []}
    if _same_article(x, y):
        label = "exact"
    else:
        label = "near_duplicate" if min(_share(x, reuse), _share(y, reuse)) >= 0.8 else "partial"
    source = x.doc_id if x.doc_id in y.ancestors else y.doc_id if y.doc_id in x.ancestors else None
    copy = y if source == x.doc_id else x if source == y.doc_id else None
    spans = sorted(
        (
            {"a_start": rx.spans[o][0], "a_end": rx.spans[o][1], "b_start": ry.spans[o][0], "b_end": ry.spans[o][1]}
            for o in reuse
            if o in rx.spans and o in ry.spans
        ),
        key=lambda s: s["a_start"],
    )
    return {
        "a": x.doc_id,
        "b": y.doc_id,
        "label": label,
        "copy_type": copy.copy_type if copy else "sibling",
        "source": source,
        "shared_sentences": len(reuse),
        "spans": spans,
    }


# ---------------------------------------------------------------- the ecosystem


@dataclass
class _Event:
    docs: list[Doc]  # documents in the corpus
    original: Doc
    original_in_corpus: bool


class _Ecosystem:
    """Generates events one at a time: an agency original, relays, copies and negatives."""

    def __init__(self, cfg: SimulationConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.w = _Writer(self.rng)
        base = cfg.base
        self.stories = _BuiltinStories(self.w, cfg) if base == "builtin" else _CorpusStories(Path(base), self.w)
        self.footers = {
            o: self.rng.choice(_LONG_FOOTERS).format(site=o)
            for o in _OUTLETS
            if self.rng.random() < cfg.long_footer_rate
        }
        self.previous: _Event | None = None

    def _chrome(self, copy: Doc, outlet: str) -> None:
        r = self.rng
        if r.random() < self.cfg.chrome_rate:
            copy.chrome_top = [r.choice(_CHROME_HEADERS).format(site=outlet), r.choice(_CHROME_SWITCHERS)]
            copy.chrome_bottom = [r.choice(_CHROME_FOOTERS).format(site=outlet), copy.title]
            if r.random() < 0.5:
                topic = r.choice(sorted(_TOPICS))
                copy.chrome_bottom.insert(1, r.choice(_TAGS).format(a=r.choice(_TOPICS[topic]), b=topic))
            if r.random() < self.cfg.related_headline_rate:
                copy.chrome_middle = self.w.title(r.choice(sorted(_TOPICS)), r.choice(_PLACES))
        if outlet in self.footers:
            copy.chrome_bottom.append(self.footers[outlet])

    def _credit(self, copy: Doc, credited: str) -> None:
        r = self.rng
        if r.random() < self.cfg.credit_drop_rate:
            return
        if "|" in credited:
            copy.tail_credit = (credited, _RELAY_CREDIT)
        elif r.random() < 0.5:
            copy.lead_credit = (credited, r.choice(_LEAD_CREDITS))
        else:
            copy.tail_credit = (credited, r.choice(_TAIL_CREDITS))

    def event(self, number: int) -> _Event:
        r, cfg = self.rng, self.cfg
        topic, place = r.choice(sorted(_TOPICS)), r.choice(_PLACES)
        t0 = datetime(2024, 3, 1, tzinfo=UTC) + timedelta(minutes=number * 37 + r.randint(0, 600))
        agency = r.choice(_MAJORS)
        story_id = f"e{number:06d}-{agency.lower()}"
        title, paragraphs = self.stories.original(story_id, topic, place)
        original = Doc(story_id, agency, t0, title, paragraphs, number, lang=self.stories.lang)
        in_corpus = r.random() >= cfg.external_rate
        docs = [original] if in_corpus else []
        sources: list[tuple[Doc, str]] = [(original, agency)]
        if r.random() < cfg.relay_rate:
            relay = r.choice(_RELAYS)
            when = t0 + timedelta(minutes=r.randint(20, 240))
            relayed = _copy(
                self.w,
                self.stories,
                original,
                f"e{number:06d}-{relay.lower()}",
                relay,
                when,
                r.choice(("verbatim", "edited")),
                topic,
                place,
            )
            relayed.copy_type = "relay"
            relayed.tail_credit = (f"{agency}|{relay}", _RELAY_CREDIT)
            docs.append(relayed)
            sources.append((relayed, relay))
        kinds, weights = zip(*cfg.copy_weights.items(), strict=True)
        for n, outlet in enumerate(r.sample(_OUTLETS, k=r.randint(*cfg.copies_per_story))):
            src, credited = r.choice(sources)
            when = src.published_at + timedelta(minutes=r.randint(10, 60 * 36))
            kind = r.choices(kinds, weights=weights)[0]
            other = self.previous.original if self.previous else None
            if kind == "merged" and other is None:
                kind = "edited"
            copy = _copy(self.w, self.stories, src, f"e{number:06d}-c{n}", outlet, when, kind, topic, place, other)
            self._credit(copy, credited)
            self._chrome(copy, outlet)
            docs.append(copy)
        docs.extend(self._negatives(number, topic, place, t0))
        for doc in docs:
            self._metadata_noise(doc)
        made = _Event(docs, original, in_corpus)
        self.previous = made
        return made

    def _negatives(self, number: int, topic: str, place: str, t0: datetime) -> list[Doc]:
        """Independent stories on the same event; with `quote_rate`, two of them quote the same statement."""
        r = self.rng
        count = r.randint(*self.cfg.independent_per_event)
        quoted = r.random() < self.cfg.quote_rate
        count = max(count, 2) if quoted else count
        # The statement is generated for this event, so two events never share it.
        first, second = (self.w.sentence(topic, place).rstrip(".") for _ in range(2))
        statement = Sentence(
            f'"{first}, and {second[0].lower()}{second[1:]}," {self.w.person()} said.',
            (f"quote:{number}", 0),
            quote=True,
        )
        out = []
        for n in range(count):
            title, paragraphs = self.stories.own(topic, place, r.randint(*self.cfg.sentences))
            if quoted and n < 2:
                paragraphs.insert(min(1, len(paragraphs)), [statement])
            doc = Doc(
                f"e{number:06d}-i{n}",
                r.choice(_OUTLETS),
                t0 + timedelta(minutes=r.randint(0, 60 * 48)),
                title,
                paragraphs,
                number,
                lang=self.stories.lang,
                copy_type="quote" if quoted and n < 2 else "independent",
            )
            self._chrome(doc, doc.source)
            out.append(doc)
        return out

    def _metadata_noise(self, doc: Doc) -> None:
        r, cfg = self.rng, self.cfg
        roll = r.random()
        doc.date_noise = None  # type: ignore[attr-defined]
        if roll < cfg.no_date_rate:
            doc.date_noise = "none"  # type: ignore[attr-defined]
        elif roll < cfg.no_date_rate + cfg.date_only_rate:
            doc.date_noise = "date_only"  # type: ignore[attr-defined]
        elif roll < cfg.no_date_rate + cfg.date_only_rate + cfg.scrape_time_rate:
            doc.date_noise = "scrape_time"  # type: ignore[attr-defined]
            doc.scraped_at = doc.published_at + timedelta(minutes=r.randint(60, 60 * 72))  # type: ignore[attr-defined]


def _published_field(doc: Doc) -> str | None:
    noise = getattr(doc, "date_noise", None)
    if noise == "none":
        return None
    if noise == "date_only":
        return doc.published_at.date().isoformat()
    if noise == "scrape_time":
        return doc.scraped_at.isoformat()  # type: ignore[attr-defined]
    return doc.published_at.isoformat()


# ---------------------------------------------------------------- output


class _ShardWriter:
    """Documents to `docs-NNNNN.jsonl` or `.parquet` shards of `shard_docs` each."""

    def __init__(self, out: Path, fmt: str, shard_docs: int) -> None:
        if fmt not in ("jsonl", "parquet"):
            raise ValueError(f"format must be jsonl or parquet, not {fmt!r}")
        self.out, self.fmt, self.shard_docs = out, fmt, shard_docs
        self.rows: list[dict[str, Any]] = []
        self.count = 0
        self.shards = 0
        self._fh = None

    def add(self, row: dict[str, Any]) -> None:
        if self.fmt == "jsonl":
            if self._fh is None or self.count % self.shard_docs == 0:
                self._close_jsonl()
                self._fh = (self.out / f"docs-{self.shards:05d}.jsonl").open("w", encoding="utf-8")
                self.shards += 1
            self._fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            self.rows.append(row)
            if len(self.rows) >= self.shard_docs:
                self._flush_parquet()
        self.count += 1

    def _close_jsonl(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _flush_parquet(self) -> None:
        if self.rows:
            pq.write_table(pa.Table.from_pylist(self.rows), self.out / f"docs-{self.shards:05d}.parquet")
            self.shards += 1
            self.rows = []

    def close(self) -> None:
        self._close_jsonl()
        self._flush_parquet()


class _EventUnion:
    """Union-find over event numbers: merged copies join two events into one gold cluster."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # the older event names the cluster


def simulate(cfg: SimulationConfig, out: str | Path) -> dict[str, int]:
    """Write the corpus shards to `out/corpus/` and the labels to `out/gold/`; returns counts. Memory holds two
    events at a time (and one union-find entry per event)."""
    out = Path(out)
    gold_dir, corpus_dir = out / "gold", out / "corpus"
    gold_dir.mkdir(parents=True, exist_ok=True)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    for stale in corpus_dir.glob("docs-*.*"):
        stale.unlink()
    eco = _Ecosystem(cfg)
    writer = _ShardWriter(corpus_dir, cfg.format, cfg.shard_docs)
    union = _EventUnion()
    counts = {"documents": 0, "pairs": 0, "quote_pairs": 0, "clusters": 0, "credits": 0}
    members_path = gold_dir / ".members.jsonl"
    originals: dict[int, tuple[str | None, str]] = {}
    previous: list[tuple[Doc, Rendered]] = []
    with (
        (gold_dir / "pairs.jsonl").open("w", encoding="utf-8") as pairs_fh,
        (gold_dir / "credits.jsonl").open("w", encoding="utf-8") as credits_fh,
        (gold_dir / "docs.jsonl").open("w", encoding="utf-8") as docs_fh,
        members_path.open("w", encoding="utf-8") as members_fh,
    ):
        number = 0
        while counts["documents"] < cfg.docs:
            try:
                event = eco.event(number)
            except StopIteration:
                break  # the base corpus has no stories left
            rendered = [(d, render(d)) for d in event.docs]
            for doc, r in rendered:
                writer.add(
                    {
                        "id": doc.doc_id,
                        "source": doc.source,
                        "url": f"https://example.org/{doc.doc_id}",
                        "published_at": _published_field(doc),
                        "title": doc.title,
                        "text": r.text,
                        "lang": doc.lang,
                    }
                )
                docs_fh.write(
                    json.dumps(
                        {
                            "doc_id": doc.doc_id,
                            "event": doc.event,
                            "copy_type": doc.copy_type,
                            "source": doc.source,
                            "published_at": doc.published_at.isoformat(),
                            "date_noise": getattr(doc, "date_noise", None),
                        }
                    )
                    + "\n"
                )
                for c in r.credits:
                    credits_fh.write(json.dumps(c, ensure_ascii=False) + "\n")
                counts["credits"] += len(r.credits)
            candidates = list(combinations(rendered, 2)) + [
                (x, y) for x in rendered if x[0].copy_type == "merged" for y in previous
            ]
            for (a, ra), (b, rb) in candidates:
                label = gold_pair(a, b, ra, rb)
                if label is None:
                    continue
                pairs_fh.write(json.dumps(label, ensure_ascii=False) + "\n")
                if label["label"] == "shared_quote":
                    counts["quote_pairs"] += 1
                    continue
                counts["pairs"] += 1
                union.union(a.event, b.event)
                for d in (a, b):
                    members_fh.write(json.dumps([d.doc_id, d.event]) + "\n")
            originals[number] = (event.original.doc_id if event.original_in_corpus else None, event.original.source)
            counts["documents"] += len(event.docs)
            previous = rendered
            number += 1
    writer.close()
    counts["clusters"] = _write_clusters(gold_dir, members_path, union, originals)
    counts["shards"] = writer.shards
    return counts


def _write_clusters(
    gold_dir: Path, members_path: Path, union: _EventUnion, originals: dict[int, tuple[str | None, str]]
) -> int:
    """Gold clusters (one per connected group of events) and their origins, from the streamed membership."""
    seen: set[str] = set()
    events_of: dict[int, set[int]] = {}
    with members_path.open(encoding="utf-8") as fh, (gold_dir / "clusters.jsonl").open("w", encoding="utf-8") as out:
        for line in fh:
            doc_id, event = json.loads(line)
            if doc_id in seen:
                continue
            seen.add(doc_id)
            root = union.find(event)
            events_of.setdefault(root, set()).add(event)
            out.write(json.dumps({"doc_id": doc_id, "cluster": f"e{root:06d}"}) + "\n")
    members_path.unlink()
    with (gold_dir / "origins.jsonl").open("w", encoding="utf-8") as out:
        for root, events in sorted(events_of.items()):
            origin, agency = originals[root]
            out.write(
                json.dumps(
                    {
                        "cluster": f"e{root:06d}",
                        "origin_doc_id": origin,
                        "external_agency": None if origin else agency,
                        "ambiguous": len(events) > 1,
                    }
                )
                + "\n"
            )
    return len(events_of)
