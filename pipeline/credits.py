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

import numpy as np
import pyarrow as pa

from pipeline import kernels, schema
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


@dataclass(frozen=True)
class _Gazetteer:
    canonical: dict[str, str]  # alias (as written, and casefolded for names) -> agency
    acronyms: frozenset[str]
    spellings: tuple[str, ...]  # what is searched, longest (in UTF-8) first: acronyms as written, names in 3 cases
    filters: np.ndarray  # `kernels.alias_mentions`' lookup of the spellings (see `kernels.alias_filters`)
    heads: np.ndarray
    chain: np.ndarray
    alias_data: np.ndarray
    alias_offsets: np.ndarray


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
    # Literal spellings (as written, lower case, UPPER CASE) rather than case-insensitive matching: other casings
    # of a name are rare in print.
    spellings = sorted(set(canonical) | {a.upper() for a in canonical if a not in acronyms})
    spellings.sort(key=lambda a: len(a.encode("utf-8")), reverse=True)
    short = [a for a in spellings if len(a.encode("utf-8")) < 2]
    if short:
        raise ValueError(f"agency aliases must be at least 2 bytes long in UTF-8: {short}")
    encoded = [a.encode("utf-8") for a in spellings]
    heads = np.full(1 << 16, -1, dtype=np.int32)
    chain = np.full(len(encoded), -1, dtype=np.int32)
    tails: dict[int, int] = {}
    for k, alias in enumerate(encoded):  # each list stays longest first
        key = (alias[0] << 8) | alias[1]
        if key in tails:
            chain[tails[key]] = k
        else:
            heads[key] = k
        tails[key] = k
    alias_offsets = np.concatenate([[0], np.cumsum([len(a) for a in encoded])]).astype(np.int64)
    alias_data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return _Gazetteer(
        canonical,
        frozenset(acronyms),
        tuple(spellings),
        kernels.alias_filters(encoded),
        heads,
        chain,
        alias_data,
        alias_offsets,
    )


def _agency_of(surface: str, gaz: _Gazetteer) -> str | None:
    if surface in gaz.acronyms:
        return gaz.canonical[surface]
    agency = gaz.canonical.get(surface.casefold()) or gaz.canonical.get(surface)
    return None if agency is None or surface.casefold() in gaz.acronyms else agency


def _credits_from_mentions(text: str, mentions: list[tuple[int, int, str]], gaz: _Gazetteer) -> list[Credit]:
    out = []
    for start, end, surface in mentions:
        # The alias search knows no word boundaries: check them here ("AFP" inside "AFPX" or "x.AFP" is not a mention).
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
    return [c for _, c in texts_credits(pa.array([text], pa.string()), extra)]


def mention_rows(texts: pa.Array, gaz: _Gazetteer) -> np.ndarray:
    """`kernels.alias_mentions`' rows (see its M_ columns) of every alias written in `texts`, in text order."""
    data, offsets = schema.string_buffers(texts)
    valid = texts.is_valid().to_numpy(zero_copy_only=False)
    resume = np.array([0, offsets[0], 0], dtype=np.int64)
    parts = []
    capacity = max(1024, len(texts))
    while resume[0] < len(texts):
        out = np.empty((capacity, 7), dtype=np.int64)
        found = kernels.alias_mentions(
            data, offsets, valid, gaz.filters, gaz.heads, gaz.chain, gaz.alias_data, gaz.alias_offsets, out, resume
        )
        parts.append(out[:found])
    return np.concatenate(parts) if parts else np.zeros((0, 7), dtype=np.int64)


def texts_credits(texts: pa.Array, extra: Extra = ()) -> list[tuple[int, Credit]]:
    """(index of the text, credit) of every credit in `texts`. A kernel finds the aliases in all of them at once;
    Python reads only the window of characters around each mention, never a whole text."""
    gaz = _gazetteer(extra)
    rows = mention_rows(texts, gaz)
    data, _ = schema.string_buffers(texts)
    window_bytes, window_offsets = kernels.gathered_bytes(
        data, rows[:, kernels.M_WINDOW_START].copy(), rows[:, kernels.M_WINDOW_END].copy()
    )
    windows = pa.StringArray.from_buffers(len(rows), pa.py_buffer(window_offsets), pa.py_buffer(window_bytes))
    out = []
    for (text, start, end, _, _, _, first), window in zip(rows.tolist(), windows.to_pylist(), strict=True):
        mention = (start - first, end - first, window[start - first : end - first])
        for c in _credits_from_mentions(window, [mention], gaz):
            out.append((text, Credit(c.agency, c.mention, c.cue, c.start + first, c.end + first)))  # `replace` costs 4x
    return out


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
    """The `attributions` table of a shard: one row per credit in each document's `text`."""
    texts = documents.column("text")
    found: list[tuple[int, Credit]] = []
    base = 0
    for chunk in texts.chunks if isinstance(texts, pa.ChunkedArray) else [texts]:
        found += [(base + text, c) for text, c in texts_credits(chunk, extra)]
        base += len(chunk)
    doc_ids = documents.column("doc_id").take(pa.array([text for text, _ in found], pa.int64()))
    credits = [c for _, c in found]
    return pa.table(
        {
            "doc_id": doc_ids,
            "agency": pa.array([c.agency for c in credits], pa.string()),
            "mention": pa.array([c.mention for c in credits], pa.string()),
            "cue": pa.array([c.cue for c in credits], pa.string()),
            "start": pa.array([c.start for c in credits], schema.ATTRIBUTIONS.field("start").type),
            "end": pa.array([c.end for c in credits], schema.ATTRIBUTIONS.field("end").type),
            "run_id": pa.array([run_id] * len(credits), pa.string()),
        },
        schema=schema.ATTRIBUTIONS,
    )


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
