"""Credits: which agencies (and outlets) a text credits, with the cue that makes it a credit.

A gazetteer of agencies with aliases across languages and scripts is matched in the text; a match counts as a credit
only with a cue around it ("reported X", "X recalls", "quoted by X", "according to X", a dateline "CITY (X) -",
"/X/", "Source: X", "By X", a closing "— X"). "An AFP correspondent was expelled" names AFP without crediting it.
Acronyms match case-sensitively ("AP", not "ap"); names match in any case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from pipeline import schema
from pipeline.gcpause import gc_paused

AGENCIES: dict[str, tuple[str, ...]] = {
    "AFP": (
        "AFP",
        "Agence France-Presse",
        "Agence France Presse",
        "France-Presse",
        "France Presse",
        "АФП",
        "Франс Пресс",
        "Франс Прес",
    ),
    "Reuters": ("Reuters", "Reuter", "Рейтер", "Рейтерс", "Ройтерс"),
    "AP": ("AP", "Associated Press", "Ассошиэйтед Пресс"),
    "BTA": ("BTA", "БТА", "Bulgarian News Agency", "Българската телеграфна агенция"),
    "BelTA": ("BelTA", "БелТА", "Belarusian Telegraph Agency"),
    "ELTA": ("ELTA", "ЭЛТА"),
    "BNS": ("BNS", "Baltic News Service"),
    "LETA": ("LETA",),
    "PAP": ("PAP", "Polish Press Agency"),
    "TASS": ("TASS", "ТАСС"),
    "RIA Novosti": ("RIA Novosti", "РИА Новости", "RIA"),
    "Interfax": ("Interfax", "Интерфакс", "Інтерфакс"),
    "Ukrinform": ("Ukrinform", "Укрінформ", "Укринформ"),
    "UNIAN": ("UNIAN", "УНІАН", "УНИАН"),
    "dpa": ("dpa", "Deutsche Presse-Agentur"),
    "EFE": ("EFE",),
    "ANSA": ("ANSA",),
    "Xinhua": ("Xinhua", "新华社", "Синьхуа"),
    "Kyodo": ("Kyodo News", "Kyodo"),
    "Yonhap": ("Yonhap",),
    "ANI": ("ANI",),
    "PTI": ("PTI", "Press Trust of India"),
    "APP": ("APP", "Associated Press of Pakistan"),
    "Bloomberg": ("Bloomberg",),
    "15min": ("15min.lt", "15min"),
    "InfoMigrants": ("InfoMigrants",),
}

# Words around an agency name that make the name a credit, by cue type. "before" patterns end where the name
# starts; "after" patterns start where it ends.
_DESCRIPTOR = (
    r"(?:the\s+|l'|la\s+|le\s+)?(?:(?:state[- ]run\s+|state\s+|national\s+|official\s+|[\w-]+\s+){0,3}"
    r"(?:news\s+agency|agency|website|outlet|newspaper|portal|media\s+outlet|агентство|агенція|агенция)\s+)?"
)
_BEFORE: dict[str, str] = {
    "reported_by": r"\b(?:reported|reports|reporting|writes|wrote|told|сообщает|сообщило|передает|передаёт|"
    r"повідомляє|повідомило|передає|пише|съобщава|съобщи|предаде|rapporte|rapporté|indiqué|annoncé|praneša|"
    r"informuoja)\s+",
    "according_to": r"\b(?:according\s+to(?:\s+(?:a\s+)?reports?\s+(?:from|by))?|по\s+данным|по\s+сообщению|"
    r"по\s+информации|за\s+даними|за\s+інформацією|според|selon|d'après|pasak|nach\s+angaben\s+von)"
    r"\s+(?:l')?",
    "quoted_by": r"\b(?:quoted\s+by|cited\s+by|цитирует|цитує|цитира)\s+",
    "citing": r"\b(?:citing|со\s+ссылкой\s+на|з\s+посиланням\s+на|позовавайки\s+се\s+на|citant|cituodama)\s+",
    "source": r"(?:^|\n)\s*(?:source|источник|джерело|източник|šaltinis|source\s*:\s*)\s*:?\s*",
    "byline": r"(?:^|\n)\s*(?:by|от)\s+",
}
_AFTER: dict[str, str] = {
    "agency_reported": r"\s+(?:reported|reports|said|says|wrote|writes|noted|notes|added|adds|published|announced|"
    r"сообщает|сообщило|сообщил|передает|пишет|отмечает|повідомляє|повідомило|пише|съобщи|"
    r"съобщава|rapporte|a\s+rapporté|praneša|pranešė)\b",
    "agency_recalls": r"\s+(?:recalls|recalled|reminds|напоминает|нагадує|припомня|rappelle|primena)\b",
    "agency_quotes": r"\s+(?:quotes|quoted|cites|цитирует|цитує|cite)\b",
}
_DATELINE_AFTER = re.compile(r"^\s*\)\s*[-–—]")
_SLASH_AFTER = re.compile(r"^\s*/")
_SIGNOFF_AFTER = re.compile(r"^\s*\.?\s*(?:\n|$)")

# One search per side: the cue type is the name of the group that matched.
_BEFORE_RE = re.compile(
    "(?:" + "|".join(f"(?P<{cue}>{p})" for cue, p in _BEFORE.items()) + f"){_DESCRIPTOR}$", re.IGNORECASE
)
_AFTER_RE = re.compile("^(?:" + "|".join(f"(?P<{cue}>{p})" for cue, p in _AFTER.items()) + ")", re.IGNORECASE)


@dataclass(frozen=True)
class Credit:
    agency: str
    mention: str
    cue: str
    start: int
    end: int


def _is_acronym(alias: str) -> bool:
    return len(alias) <= 5 and (alias.isupper() or alias.islower()) and " " not in alias


Extra = tuple[tuple[str, tuple[str, ...]], ...]
_MARK = "\x00"


@dataclass(frozen=True)
class _Gazetteer:
    canonical: dict[str, str]  # alias (as written, and casefolded for names) -> agency
    acronyms: frozenset[str]
    pattern: str  # RE2: every alias, longest first; acronyms case-sensitive, names in any case


@lru_cache(maxsize=8)
def _gazetteer(extra: Extra = ()) -> _Gazetteer:
    canonical: dict[str, str] = {}
    acronyms = set()
    for agency, aliases in (*AGENCIES.items(), *extra):
        for alias in aliases:
            canonical[alias] = agency
            if _is_acronym(alias):
                acronyms.add(alias)
            else:
                canonical.setdefault(alias.casefold(), agency)
    # Literal spellings (as written, lower case, UPPER CASE) rather than case-insensitive groups: RE2 runs a pure
    # literal alternation about 3x faster. Other casings of a name are rare in print.
    spellings = set(canonical) | {a.upper() for a in canonical if a not in acronyms}
    parts = [re.escape(a) for a in sorted(spellings, key=len, reverse=True)]
    return _Gazetteer(canonical, frozenset(acronyms), "(?:" + "|".join(parts) + ")")


def _agency_of(surface: str, gaz: _Gazetteer) -> str | None:
    if surface in gaz.acronyms:
        return gaz.canonical[surface]
    agency = gaz.canonical.get(surface.casefold()) or gaz.canonical.get(surface)
    return None if agency is None or surface.casefold() in gaz.acronyms else agency


def _mentions(marked: str) -> list[tuple[int, int, str]]:
    """(start, end, surface) of each alias that RE2 wrapped in markers, with offsets in the unmarked text."""
    out, cursor = [], 0
    for i, piece in enumerate(marked.split(_MARK)):
        if i % 2:
            out.append((cursor, cursor + len(piece), piece))
        cursor += len(piece)
    return out


def _credits_from_mentions(text: str, mentions: list[tuple[int, int, str]], gaz: _Gazetteer) -> list[Credit]:
    out = []
    for start, end, surface in mentions:
        # RE2 has no Unicode word boundaries: check them here ("AFP" inside "AFPX" or "x.AFP" is not a mention).
        if (start and (text[start - 1].isalnum() or text[start - 1] in "_.")) or (
            end < len(text) and (text[end].isalnum() or text[end] == "_")
        ):
            continue
        agency = _agency_of(surface, gaz)
        cue = _cue(text, start, end) if agency else None
        if cue:
            out.append(Credit(agency, surface, cue, start, end))
    return out


def find_credits(text: str, extra: Extra = ()) -> list[Credit]:
    """Every credited agency in `text`, with the cue that makes each mention a credit (mere mentions are left out)."""
    gaz = _gazetteer(extra)
    marked = pc.replace_substring_regex(pa.array([text]), gaz.pattern, _MARK + "\\0" + _MARK)[0].as_py()
    return _credits_from_mentions(text, _mentions(marked), gaz)


# Every "before" cue contains one of these (casefolded): a substring test rules out most mentions before the
# (slow, end-anchored) regex search runs.
_BEFORE_KEYS = (
    "report",
    "writ",
    "wrote",
    "told",
    "accord",
    "quot",
    "cite",
    "citing",
    "source",
    "by",
    "от",
    "сообщ",
    "переда",
    "повідом",
    "пише",
    "съобщ",
    "преда",
    "rapport",
    "indiqu",
    "annonc",
    "pran",
    "inform",
    "данны",
    "даними",
    "според",
    "selon",
    "d'apr",
    "pasak",
    "angaben",
    "цит",
    "ссылк",
    "посилан",
    "позовав",
    "источн",
    "джерел",
    "източн",
    "šaltin",
)


_BEFORE_KEY = re.compile("|".join(re.escape(k) for k in _BEFORE_KEYS))


def _cue_start(before: str) -> int | None:
    """Where in `before` a cue could start (the earliest cue word near its end), or None when none is there."""
    offset = max(0, len(before) - 60)
    # A cue and its agency sit in one sentence: nothing before the last sentence end can be one.
    offset = max(offset, before.rfind(". ") + 1, before.rfind(".\n") + 1, before.rfind("\n\n") + 1)
    m = _BEFORE_KEY.search(before[offset:].casefold())
    return max(0, offset + m.start() - 12) if m else None  # back off over a leading "по / со / за "


def _cue(text: str, start: int, end: int) -> str | None:
    before = text[max(0, start - 80) : start]
    after = text[end : end + 40]
    tail = before.rstrip()
    # Cheap string tests first: most mentions are settled before any regex search runs.
    if tail.endswith("(") and _DATELINE_AFTER.match(after):
        return "dateline"
    if tail.endswith("/") and _SLASH_AFTER.match(after):
        return "slash"
    m = _AFTER_RE.match(after)
    if m is None:
        start = _cue_start(before)
        if start is not None:
            m = _BEFORE_RE.search(before, start)
    if m:
        return m.lastgroup
    if tail.endswith(("-", "–", "—")) and _SIGNOFF_AFTER.match(after):
        return "signoff"
    return None


@gc_paused
def attributions_table(documents: pa.Table, run_id: str, extra: Extra = ()) -> pa.Table:
    """The `attributions` table of a shard: one row per credit in each document's `text`.

    RE2 (Arrow) marks every alias in the whole shard at C speed; Python only looks at the marked mentions."""
    gaz = _gazetteer(extra)
    # Only texts naming an agency are marked: finding them is three times cheaper than rewriting every text.
    named = documents.select(["doc_id", "text"]).filter(pc.match_substring_regex(documents.column("text"), gaz.pattern))
    marked = pc.replace_substring_regex(named.column("text"), gaz.pattern, _MARK + "\\0" + _MARK)
    subset = named.append_column("marked", marked)
    rows: dict[str, list] = {name: [] for name in schema.ATTRIBUTIONS.names}
    for doc_id, text, mark in zip(*(subset.column(c).to_pylist() for c in ("doc_id", "text", "marked")), strict=True):
        for c in _credits_from_mentions(text, _mentions(mark), gaz):
            rows["doc_id"].append(doc_id)
            rows["agency"].append(c.agency)
            rows["mention"].append(c.mention)
            rows["cue"].append(c.cue)
            rows["start"].append(c.start)
            rows["end"].append(c.end)
            rows["run_id"].append(run_id)
    return pa.Table.from_pydict(rows, schema=schema.ATTRIBUTIONS)


@lru_cache(maxsize=65536)
def canonical_source(source: str | None, extra: Extra = ()) -> str | None:
    """The agency a document's `source` field names (e.g. "Reuters", "AFP", "bta.bg" -> BTA), if any."""
    if not source:
        return None
    canonical = _gazetteer(extra).canonical
    if source in canonical or source.casefold() in canonical:
        return canonical.get(source) or canonical[source.casefold()]
    head = re.split(r"[\s.]", source.strip())[0]
    return canonical.get(head) or canonical.get(head.casefold())
