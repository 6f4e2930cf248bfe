"""Simulate: a seeded wire ecosystem with gold labels, all text generated here (no third-party news).

Agencies publish original stories; outlets re-run them after a lag as verbatim copies with page chrome, edited
copies (new lead, dropped/reordered sentences, word substitutions), truncated copies and partial copies (agency
paragraphs inside the outlet's own article); other outlets write independent stories on the same events, which
share topic words but no passage. Every generated sentence carries an identity, so gold pairs are exactly the
document pairs that share at least one sentence of common origin.

Output: `docs.jsonl` (the pipeline's input format) and `gold/` with pairs, clusters, origins and credits.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path

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
    "AFP": ("AFP", "Agence France-Presse", "France Presse"),
    "Reuters": ("Reuters",),
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


@dataclass
class Sentence:
    text: str
    origin: tuple[str, int] | None  # (original story id, sentence index); None for outlet-own text


@dataclass
class Doc:
    doc_id: str
    source: str
    published_at: datetime | None
    title: str
    paragraphs: list[list[Sentence]]
    lang: str = "en"
    copy_type: str = "original"
    family: str | None = None  # the original story this text derives from
    lead_credit: tuple[str, str] | None = None  # (agency, template) placed before the first sentence
    tail_credit: tuple[str, str] | None = None
    chrome_top: list[str] = field(default_factory=list)
    chrome_bottom: list[str] = field(default_factory=list)
    derived_from: str | None = None


@dataclass
class SimulationConfig:
    events: int = 30
    seed: int = 7
    copies_per_story: tuple[int, int] = (1, 5)
    independent_per_event: tuple[int, int] = (1, 3)
    relay_rate: float = 0.3  # a regional agency re-runs the original and outlets copy the relay
    external_rate: float = 0.15  # the original agency story is absent from the corpus
    chrome_rate: float = 0.5
    credit_drop_rate: float = 0.2
    sentences: tuple[int, int] = (10, 16)  # per original story; about 20 words each
    start: datetime = datetime(2024, 3, 1, tzinfo=UTC)


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
            lambda: f"{subject()} said {num()} {w()} cases were {r.choice(_VERBS)} near {r.choice(_PLACES)}",
            lambda: f"According to {r.choice(_ORGS)}, the {r.choice(_ADJ)} {w()} plan affects {num()} {w()}",
            lambda: f"{subject()} {r.choice(_VERBS)} the {r.choice(_ADJ)} {w()} {r.choice(_TIMES)}",
            lambda: (
                f"{self.person()}, a {r.choice(_ROLES)} at {r.choice(_ORGS)}, {r.choice(_VERBS)} the "
                f"{w()} {r.choice(_DEALS)}"
            ),
            lambda: f"{r.choice(_GROUPS).capitalize()} reported {r.choice(_ADJ)} {w()} delays of {num()} hours",
            lambda: f"{subject()} warned that {w()} {r.choice(_TRENDS)} by {num()} {r.choice(_TIMES)}",
            lambda: (
                f"The {w()} {r.choice(_DEALS)} with {r.choice(_PLACES)} was {r.choice(_VERBS)} after "
                f"{num()} {w()} {r.choice(_TRENDS)}"
            ),
            lambda: f"In {r.choice(_PLACES)}, {r.choice(_GROUPS)} {r.choice(_VERBS)} {num()} {w()} {r.choice(_TIMES)}",
            lambda: f"{subject()} is expected to {r.choice(_ACTIONS)} the {r.choice(_ADJ)} {w()} {r.choice(_DEALS)}",
            lambda: f"It was not clear whether {r.choice(_ORGS)} would {r.choice(_ACTIONS)} the {w()} {w()}",
            lambda: f"{num()} {w()} {r.choice(_TRENDS)} in {r.choice(_PLACES)}, {subject().lower()} said",
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


def _copy(w: _Writer, src: Doc, doc_id: str, outlet: str, when: datetime, kind: str, topic: str, place: str) -> Doc:
    r = w.rng
    sentences = _flatten(src.paragraphs)
    if kind == "verbatim":
        paragraphs = [list(p) for p in src.paragraphs]
    elif kind == "edited":
        kept = [s for s in sentences if r.random() > 0.15] or sentences[:3]
        if len(kept) > 4 and r.random() < 0.5:
            i = r.randrange(1, len(kept) - 1)
            kept[i], kept[i + 1] = kept[i + 1], kept[i]
        kept = [w.substitute(s) if r.random() < 0.4 else s for s in kept]
        lead = Sentence(w.sentence(topic, place), None)
        paragraphs = [[lead], *_regroup(kept, r)]
    elif kind == "truncated":
        keep = max(3, int(len(sentences) * r.uniform(0.4, 0.7)))
        paragraphs = _regroup(sentences[:keep], r)
    else:  # partial: one to three agency paragraphs inside the outlet's own story
        own = w.paragraphs(topic, place, None, r.randint(6, 10))
        start = r.randrange(len(src.paragraphs))
        taken = src.paragraphs[start : start + r.randint(1, 3)]
        at = r.randint(1, len(own))
        paragraphs = own[:at] + [list(p) for p in taken] + own[at:]
    return Doc(
        doc_id,
        outlet,
        when,
        src.title if kind != "partial" else w.title(topic, place),
        paragraphs,
        copy_type=kind,
        family=src.family,
        derived_from=src.doc_id,
    )


# ---------------------------------------------------------------- rendering with credit offsets

_LEAD_CREDITS = ("{place} ({alias}) - ", "({alias}) - ", "{place}, {date} ({alias}) - ", "By {alias}\n\n", "/{alias}/ ")
_TAIL_CREDITS = (
    " {alias} reported.",
    " according to {alias}.",
    " {alias} recalls.",
    " reported {alias}, quoted by {relay}.",
    "\n\nSource: {alias}",
)


def _render(doc: Doc) -> tuple[str, list[dict]]:
    """The document text and its credit mentions with character offsets."""
    parts: list[str] = []
    credits: list[dict] = []
    length = 0

    def emit(piece: str) -> None:
        nonlocal length
        parts.append(piece)
        length += len(piece)

    def emit_template(template: str, values: dict[str, str], agencies: dict[str, str]) -> None:
        # Split around {alias}/{relay} so the mention's offsets are known exactly.
        rest = template
        while rest:
            cut = min((rest.find(k) for k in ("{alias}", "{relay}") if k in rest), default=-1)
            if cut < 0:
                emit(rest.format(**values))
                return
            emit(rest[:cut].format(**values))
            key = "alias" if rest.startswith("{alias}", cut) else "relay"
            mention = values[key]
            credits.append(
                {
                    "doc_id": doc.doc_id,
                    "agency": agencies[key],
                    "mention": mention,
                    "start": length,
                    "end": length + len(mention),
                }
            )
            emit(mention)
            rest = rest[cut + len("{" + key + "}") :]

    for line in doc.chrome_top:
        emit(line + "\n\n")
    for pi, paragraph in enumerate(doc.paragraphs):
        if pi == 0 and doc.lead_credit:
            emit_template(doc.lead_credit[1], *_credit_values(doc, doc.lead_credit[0]))
        emit(" ".join(s.text for s in paragraph))
        if pi == len(doc.paragraphs) - 1 and doc.tail_credit:
            template = doc.tail_credit[1]
            if template.startswith(" ") and parts[-1].endswith("."):
                parts[-1] = parts[-1][:-1] + ","
            emit_template(template, *_credit_values(doc, doc.tail_credit[0]))
        if pi < len(doc.paragraphs) - 1:
            emit("\n\n")
    for line in doc.chrome_bottom:
        emit("\n\n" + line)
    return "".join(parts), credits


def _credit_values(doc: Doc, agency_and_relay: str) -> tuple[dict[str, str], dict[str, str]]:
    agency, _, relay = agency_and_relay.partition("|")
    alias = AGENCIES[agency][hash_index(doc.doc_id, len(AGENCIES[agency]))]
    values = {
        "alias": alias,
        "relay": relay or agency,
        "place": "VILNIUS",
        "date": doc.published_at.strftime("%b %-d") if doc.published_at else "Jan 5",
    }
    return values, {"alias": agency, "relay": relay or agency}


def hash_index(text: str, n: int) -> int:
    """A deterministic index in range(n) from `text` (the built-in hash() is salted per process)."""
    return sum(text.encode("utf-8")) % n


# ---------------------------------------------------------------- the ecosystem


def _event_docs(w: _Writer, cfg: SimulationConfig, event: int) -> Iterator[tuple[Doc, bool]]:
    """(document, is_in_corpus) for one event: the original, relays, copies and independent stories."""
    r = w.rng
    topic = r.choice(sorted(_TOPICS))
    place = r.choice(_PLACES)
    t0 = cfg.start + timedelta(minutes=r.randint(0, 60 * 24 * 30))
    agency = r.choice(_MAJORS)
    story_id = f"e{event:05d}-{agency.lower()}"
    original = Doc(
        story_id,
        agency,
        t0,
        w.title(topic, place),
        w.paragraphs(topic, place, story_id, r.randint(*cfg.sentences)),
        family=story_id,
    )
    external = r.random() < cfg.external_rate
    yield original, not external
    sources = [(original, agency)]
    if r.random() < cfg.relay_rate:
        relay = r.choice(_RELAYS)
        when = t0 + timedelta(minutes=r.randint(20, 240))
        relay_doc = _copy(
            w, original, f"e{event:05d}-{relay.lower()}", relay, when, r.choice(("verbatim", "edited")), topic, place
        )
        relay_doc.tail_credit = (f"{agency}|{relay}", " reported {alias}, quoted by {relay}.")
        yield relay_doc, True
        sources.append((relay_doc, relay))
    outlets = r.sample(_OUTLETS, k=r.randint(*cfg.copies_per_story))
    for n, outlet in enumerate(outlets):
        src, credited = r.choice(sources)
        when = src.published_at + timedelta(minutes=r.randint(10, 60 * 36))
        kind = r.choices(("verbatim", "edited", "truncated", "partial"), weights=(3, 4, 2, 2))[0]
        copy = _copy(w, src, f"e{event:05d}-c{n}", outlet, when, kind, topic, place)
        if r.random() >= cfg.credit_drop_rate:
            if r.random() < 0.5:
                copy.lead_credit = (credited, r.choice(_LEAD_CREDITS))
            else:
                copy.tail_credit = (credited, r.choice(_TAIL_CREDITS[:3] + _TAIL_CREDITS[4:]))
        if r.random() < cfg.chrome_rate:
            copy.chrome_top = [r.choice(_CHROME_HEADERS).format(site=outlet), r.choice(_CHROME_SWITCHERS)]
            copy.chrome_bottom = [r.choice(_CHROME_FOOTERS).format(site=outlet), copy.title]
        yield copy, True
    for n in range(r.randint(*cfg.independent_per_event)):
        outlet = r.choice(_OUTLETS)
        when = t0 + timedelta(minutes=r.randint(0, 60 * 48))
        yield (
            Doc(
                f"e{event:05d}-i{n}",
                outlet,
                when,
                w.title(topic, place),
                w.paragraphs(topic, place, None, r.randint(*cfg.sentences)),
                copy_type="independent",
            ),
            True,
        )


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


def _gold_relation(a: Doc, b: Doc, shared: set[tuple[str, int]]) -> str:
    def share(d: Doc) -> float:
        sentences = _flatten(d.paragraphs)
        inside = sum(len(s.text.split()) for s in sentences if s.origin in shared)
        return inside / max(1, sum(len(s.text.split()) for s in sentences))

    return "near_duplicate" if min(share(a), share(b)) >= 0.8 else "partial"


def simulate(cfg: SimulationConfig, out: str | Path) -> dict[str, int]:
    """Write `docs.jsonl` and `gold/*.jsonl` under `out`; returns counts."""
    out = Path(out)
    (out / "gold").mkdir(parents=True, exist_ok=True)
    w = _Writer(random.Random(cfg.seed))
    counts = {"documents": 0, "pairs": 0, "clusters": 0, "credits": 0}
    with (
        (out / "docs.jsonl").open("w", encoding="utf-8") as docs_fh,
        (out / "gold" / "pairs.jsonl").open("w", encoding="utf-8") as pairs_fh,
        (out / "gold" / "clusters.jsonl").open("w", encoding="utf-8") as clusters_fh,
        (out / "gold" / "origins.jsonl").open("w", encoding="utf-8") as origins_fh,
        (out / "gold" / "credits.jsonl").open("w", encoding="utf-8") as credits_fh,
    ):
        for event in range(cfg.events):
            event_docs = list(_event_docs(w, cfg, event))
            present = [d for d, inside in event_docs if inside]
            for doc in present:
                text, credits = _render(doc)
                docs_fh.write(
                    json.dumps(
                        {
                            "id": doc.doc_id,
                            "source": doc.source,
                            "url": f"https://example.org/{doc.doc_id}",
                            "published_at": doc.published_at.isoformat() if doc.published_at else None,
                            "title": doc.title,
                            "text": text,
                            "lang": doc.lang,
                            "copy_type": doc.copy_type,
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
                for c in credits:
                    credits_fh.write(json.dumps(c, ensure_ascii=False) + "\n")
                counts["credits"] += len(credits)
            members: set[str] = set()
            for a, b in combinations(present, 2):
                shared = _shared_origins(a, b)
                if not shared:
                    continue
                members.update((a.doc_id, b.doc_id))
                x, y = sorted((a, b), key=lambda d: d.doc_id)
                pairs_fh.write(
                    json.dumps(
                        {
                            "a": x.doc_id,
                            "b": y.doc_id,
                            "label": _gold_relation(x, y, shared),
                            "copy_type": (b if b.copy_type != "original" else a).copy_type,
                            "shared_sentences": len(shared),
                        }
                    )
                    + "\n"
                )
                counts["pairs"] += 1
            if members:
                cluster = f"e{event:05d}"
                for doc_id in sorted(members):
                    clusters_fh.write(json.dumps({"doc_id": doc_id, "cluster": cluster}) + "\n")
                original, in_corpus = event_docs[0]
                origins_fh.write(
                    json.dumps(
                        {
                            "cluster": cluster,
                            "origin_doc_id": original.doc_id if in_corpus else None,
                            "external_agency": None if in_corpus else original.source,
                        }
                    )
                    + "\n"
                )
                counts["clusters"] += 1
            counts["documents"] += len(present)
    return counts
