"""Normalise: the clean `body` of each article, its metadata, and the matching form of its text, in any script.

Two steps. Cleaning (per document, in Python over lines) removes page chrome and metadata lines by documented rules
(language switchers, follow/share lines, web chrome, bylines, date lines, photo credits, tags, headlines that are not
prose) and by corpus statistics (`pipeline/boilerplate.py`), keeps every removed segment with its reason, extracts
title, byline, dateline place, photo credit and a date found in the text, and records where each kept piece of the
body sits in the original `text`. Matching form (whole shard, Arrow compute kernels and compiled passes): NFKC,
case-folded, quotes and dashes unified, whitespace collapsed; tokens are letters, digits and combining marks in any
script, one per character for Han, Hiragana and Katakana.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import regex
import xxhash

from pipeline import kernels, schema
from pipeline.config import NormalizeConfig
from pipeline.dates import parse_timestamp
from pipeline.gcpause import gc_paused

if TYPE_CHECKING:
    from pipeline.boilerplate import BoilerplateIndex

# Invisible characters inside words (soft hyphens, zero-width spaces and joiners): part of the token they split,
# dropped when the token is hashed, so "bor\u00adder" matches "border".
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_DROP_INVISIBLE = str.maketrans("", "", _INVISIBLE)

# Scripts written without spaces between words: every character is a token (then shingled like words).
UNSPACED_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}"
# Tokens of one text in Python: the same rules as `body_tokens` (used where that batch path cannot keep offsets).
TOKEN_PATTERN = regex.compile(
    rf"[{UNSPACED_SCRIPTS}]|[[\p{{L}}\p{{N}}\p{{M}}{_INVISIBLE}]--[{UNSPACED_SCRIPTS}]]+", flags=regex.VERSION1
)


@dataclass
class BodyTokens:
    """Tokens of a batch of bodies: the hash of each one's matching form (`token_hash`), flat, and its character
    offsets in its body."""

    values: np.ndarray  # uint64, one per token, in body order
    offsets: np.ndarray  # int64, doc i owns tokens offsets[i]:offsets[i+1]
    starts: np.ndarray  # int32 character offset of each token in its body
    ends: np.ndarray


_NON_WORD_CHAR = r"[^\p{L}\p{N}\p{M}\x{00AD}\x{200B}-\x{200D}\x{2060}\x{FEFF} ]"


def body_tokens(bodies: pa.Array) -> BodyTokens:
    """Tokens of each body, hashed, with their offsets in that body.

    Lower-casing and replacing each non-word character by one space keep every character where it was, so a split
    on spaces yields each token's offset from the lengths of the pieces before it. An ASCII token is then already
    in matching form (NFKC and case folding leave it alone), and a kernel hashes it where it lies; each distinct
    other token of the batch is brought to matching form (NFKC, case folding) and hashed once in Python. Bodies where
    the split does not hold (Han/Kana, whose characters are tokens one by one, or characters whose lower case has
    another length) go through the same rules in Python."""
    bodies = bodies.combine_chunks() if isinstance(bodies, pa.ChunkedArray) else bodies
    spaced, special, ascii_bodies = _spaced(bodies)
    spaced = spaced.combine_chunks() if isinstance(spaced, pa.ChunkedArray) else spaced
    data, value_offsets = schema.string_buffers(spaced)
    skip = special | pc.is_null(spaced).to_numpy(zero_copy_only=False)
    counts, starts, ends, values, other, packed, packed_offsets = kernels.spaced_token_hashes(
        data, value_offsets, skip, ascii_bodies, kernels.XXH3_SECRET
    )
    if len(other):
        n_other = len(packed_offsets) - 1
        values[other] = _hashed_strings(
            pa.StringArray.from_buffers(n_other, pa.py_buffer(packed_offsets), pa.py_buffer(packed))
        )
    if special.any():
        values, counts, starts, ends = _merge_python_tokens(bodies, special, values, counts, starts, ends)
    offsets = np.zeros(len(bodies) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return BodyTokens(values, offsets, starts.astype(np.int32, copy=False), ends.astype(np.int32, copy=False))


def _hashed_strings(strings: pa.Array) -> np.ndarray:
    """`token_hash` of each string (uint64), computed once per distinct string."""
    encoded = pc.dictionary_encode(strings)
    vocabulary = encoded.dictionary.to_pylist()
    hashes = np.fromiter((token_hash(t) for t in vocabulary), dtype=np.uint64, count=len(vocabulary))
    return hashes[encoded.indices.to_numpy()]


# ASCII bytes in their tokenising form: letters lower-cased, digits kept, everything else a space.
_ASCII_SPACED = np.full(256, ord(" "), dtype=np.uint8)
_ASCII_SPACED[np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyz", np.uint8)] = np.frombuffer(
    b"0123456789abcdefghijklmnopqrstuvwxyz", np.uint8
)
_ASCII_SPACED[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", np.uint8)] = np.frombuffer(
    b"abcdefghijklmnopqrstuvwxyz", np.uint8
)


def _spaced(bodies: pa.Array) -> tuple[pa.StringArray, np.ndarray, np.ndarray]:
    """Each body lower-cased with every non-word character replaced by one space (character offsets unchanged),
    which bodies need Python tokenisation instead, and which are ASCII (a null body counts as one). ASCII bodies
    (most English copy) go through a byte lookup table over the whole buffer, ten times faster than the Unicode
    regex the others need."""
    ascii_mask = pc.fill_null(pc.string_is_ascii(bodies), True).to_numpy(zero_copy_only=False)
    buffers = bodies.buffers()
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    spaced = pa.StringArray.from_buffers(
        len(bodies),
        buffers[1],
        pa.py_buffer(kernels.translated_bytes(data, _ASCII_SPACED)),
        buffers[0],
        bodies.null_count,
        bodies.offset,
    )
    special = np.zeros(len(bodies), dtype=bool)
    if not ascii_mask.all():
        others = bodies.filter(pa.array(~ascii_mask))
        lowered = pc.utf8_lower(others)
        replaced, unspaced = _unicode_spaced(lowered)
        # Python tokenises the bodies whose characters are tokens one by one (Han, Kana) and those whose lower case
        # has another length (offsets would shift).
        resized = pc.not_equal(pc.utf8_length(others), pc.utf8_length(lowered)).to_numpy(zero_copy_only=False)
        special[~ascii_mask] = unspaced | resized
        spaced = pc.replace_with_mask(spaced, pa.array(~ascii_mask), replaced)
    return spaced, special, ascii_mask


def _unicode_spaced(lowered: pa.StringArray) -> tuple[pa.StringArray, np.ndarray]:
    """Lower-cased bodies (no nulls) with every character `_NON_WORD_CHAR` matches written as one space, and which
    of them hold a character of an unspaced script: compiled, with `character_classes` for a table (RE2 replacing
    through Unicode classes was the slowest step of tokenising non-ASCII text)."""
    data, offsets = schema.string_buffers(lowered)
    out, out_offsets, unspaced = kernels.spaced_utf8(data, offsets, character_classes())
    return pa.StringArray.from_buffers(len(lowered), pa.py_buffer(out_offsets), pa.py_buffer(out)), unspaced


@lru_cache(maxsize=1)
def character_classes() -> np.ndarray:
    """The class of every code point (uint8, 0x110000): 0 where `_NON_WORD_CHAR` matches, 1 for other characters,
    2 for those of `UNSPACED_SCRIPTS`. Found by those very patterns (RE2), so the table cannot drift from the rules;
    building it takes a noticeable part of a second, so it is kept in the user's cache folder, under the pyarrow
    version and the rules."""
    rules = f"{pa.__version__}\0{_NON_WORD_CHAR}\0{UNSPACED_SCRIPTS}"
    key = hashlib.blake2b(rules.encode(), digest_size=8).hexdigest()
    path = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "wiretrace" / f"characters-{key}.npy"
    with contextlib.suppress(OSError, ValueError, EOFError):  # none yet, or unreadable: built again
        classes = np.load(path)
        if classes.shape == (0x110000,) and classes.dtype == np.uint8:
            return classes
    classes = _character_classes_from_rules()
    with contextlib.suppress(OSError):  # a read-only home only costs the next process the build again
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as out:
            np.save(out, classes)
        partial.replace(path)
    return classes


def _character_classes_from_rules() -> np.ndarray:
    points = np.arange(1, 0x110000, dtype=np.uint32)
    points = points[(points < 0xD800) | (points > 0xDFFF)]  # surrogates: no string holds them
    every = pa.array([points.tobytes().decode("utf-32-le")])

    def kept_by(pattern: str) -> np.ndarray:  # which characters `pattern` does not match (each written as \0)
        replaced = pc.replace_substring_regex(every, pattern, "\0")[0].as_py()
        return np.frombuffer(replaced.encode("utf-32-le"), dtype=np.uint32) == points

    classes = np.zeros(0x110000, dtype=np.uint8)  # code point 0 is not a word character
    classes[points] = kept_by(_NON_WORD_CHAR)
    classes[points[~kept_by(f"[{UNSPACED_SCRIPTS}]")]] = 2
    return classes


def _merge_python_tokens(
    bodies: pa.Array, special: np.ndarray, values: np.ndarray, counts: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Insert the hashed tokens of `special` documents (which have none yet) found by Python tokenisation, keeping
    document order: the other documents' tokens move as numpy slices."""
    insert_at = np.concatenate([[0], np.cumsum(counts)])
    parts_v: list[np.ndarray] = []
    parts_b: list[np.ndarray] = []
    parts_e: list[np.ndarray] = []
    cursor = 0
    for doc in np.flatnonzero(special).tolist():
        at = int(insert_at[doc])
        body = bodies[doc].as_py() or ""
        spans = token_spans(body)
        lowered = pc.utf8_lower(pa.array([body[a:b] for a, b in spans], pa.string()))
        parts_v += [values[cursor:at], _hashed_strings(lowered) if spans else np.zeros(0, dtype=np.uint64)]
        parts_b += [starts[cursor:at], np.array([a for a, _ in spans], dtype=np.int64)]
        parts_e += [ends[cursor:at], np.array([b for _, b in spans], dtype=np.int64)]
        counts[doc] = len(spans)
        cursor = at
    parts_v.append(values[cursor:])
    parts_b.append(starts[cursor:])
    parts_e.append(ends[cursor:])
    return (
        np.concatenate(parts_v),
        counts,
        np.concatenate(parts_b).astype(np.int64),
        np.concatenate(parts_e).astype(np.int64),
    )


def token_hash(token: str) -> int:
    """The stable 64-bit hash of one token's matching form: invisible characters dropped, NFKC, case-folded."""
    form = unicodedata.normalize("NFKC", token.translate(_DROP_INVISIBLE)).casefold()
    return xxhash.xxh3_64_intdigest(form.encode("utf-8"))


def matching_tokens(text: str) -> list[str]:
    """The matching form of each token of `text` (what `token_hash` hashes), for inspection and baselines."""
    return [unicodedata.normalize("NFKC", t.translate(_DROP_INVISIBLE)).casefold() for t in tokenize(text)]


def tokenize(body: str) -> list[str]:
    """Tokens of one text as written (same rules as `body_tokens`)."""
    return TOKEN_PATTERN.findall(body)


def token_spans(body: str) -> list[tuple[int, int]]:
    """(start, end) character offsets in `body` of each token of `tokenize(body)`, in order."""
    return [m.span() for m in TOKEN_PATTERN.finditer(body)]


# ---------------------------------------------------------------- cleaning: chrome, metadata, body and offset map

_LANG_CODES = (
    "ua|uk|en|ru|lt|lv|et|pl|de|fr|bg|be|by|es|it|pt|ro|cs|sk|hu|sr|hr|sl|tr|ar|ur|zh|ja|ko|ka|az|kz|"
    "kk|fi|sv|no|da|nl|el|he|fa|hi"
)
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|wed|thu|fri|sat|sun"

# Whole lines that are page chrome, by reason. Multilingual where the pattern is. Extend with
# `normalize.extra_chrome_patterns` in config.toml (reason "custom").
CHROME_RULES: dict[str, str] = {
    "language_switcher": rf"(?:(?:{_LANG_CODES})(?:\s*[|/·•,]\s*|\s+)){{1,8}}(?:{_LANG_CODES})",
    "follow_share": r"(?:follow (?:the channel of|us|our)|share (?:this|on)|subscribe|sign up for|join us on|"
    r"подписывайтесь|подпишитесь|читайте (?:также|нас)|підписуйтесь|читайте також|"
    r"sekite mus|skaitykite taip pat|suivez-nous|abonnez-vous|lire aussi|"
    r"read (?:also|more)|related (?:stories|articles|news)|see also|more from|"
    r"مزید پڑھیں|یہ بھی پڑھیں|ہمیں فالو کریں|اقرأ أيضا|تابعونا)(?:\b|\s|:|$).{0,80}",
    "web_chrome": r"(?:(?:congratulations! your weather is set to|you are signed in as).{0,80}|comments?|advertisement|"
    r"show more(?: show less)?|chat with us in facebook messenger.{0,120}|click here|back to gallery|"
    r"\d{1,3}\s*/\s*\d{1,3}|(?:image|photo|slide)\s*\d{1,3}\s*of\s*/?\s*\d{1,3}|"
    r"(?:posted|updated|published)\s*:?.{0,40}\d{4}.{0,20}|updated \d.{0,40}|"
    r"(?:copyright|©).{0,60}|all rights reserved\.?|реклама|реклама\s*\d*)",
    "byline": r"(?:author|by|автор|авторка|autorius|par|von|تحریر|بقلم)\s*:?\s+"
    r"(?P<byline_name>[\w.'’-]+(?:\s+[\w.'’-]+){0,4}(?:\s*(?:,|and|и|та)\s*[\w.'’ -]{2,60})?)",
    "date_line": rf"(?P<date_value>(?:(?:{_WEEKDAYS}),?\s+)?(?:(?:{_MONTHS})\.?\s+\d{{1,2}},?\s+\d{{4}}|"
    rf"\d{{1,2}}\s+(?:{_MONTHS})\.?\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}))",
    "photo_credit": r"(?:(?:illustrative )?photo|фото|foto|image|تصویر|صورة)\s*[:(].{0,80}",
    "tags": r"(?:tags|topics|теги|теґи|žymės|mots-clés)\s*[:|].{0,200}",
}

# Prefixes of a line, removed from the body and kept as metadata.
_DATE_PREFIX = re.compile(r"^\s*(?:date|дата|data)\s*:?\s*(\d{4}-\d{2}-\d{2})\s+", re.IGNORECASE)
# "VILNIUS, Jan 5 (Reuters) - ", "SALVADOR, Feb 26 - ", "AUSTIN, Texas (AP) — ", "(AFP) — ", "WASHINGTON, D.C. - "
_DATELINE = re.compile(
    rf"^(?:(?P<place>[A-ZА-ЯЁІЇЄ][A-ZА-ЯЁІЇЄ.'’ -]{{1,40}}?)(?:,\s*(?:[A-Z][a-z]+\.?(?: [A-Z][a-z]+)?|"
    rf"(?i:{_MONTHS})\.? \d{{1,2}}|[A-Z]\.[A-Z]\.))*\s*)?"
    r"(?P<credit>\((?:[A-Za-zА-Яа-яЁё.\- ]{2,30})\)\s*)?[-–—]+\s+"
)
# A caption credit closing a line: "... Illustrative photo (Photo: Getty Images)".
_INLINE_PHOTO = re.compile(
    r"\s*(?:illustrative\s+)?(?:photo|фото|foto)?\s*\((?:photo|фото|foto)\s*:\s*[^)]{1,80}\)\s*$", re.IGNORECASE
)
_SENTENCE_END = ".!?…:;\"'»”’)]۔。！？؟।"


def _folds_apart(unit: str, lowered: str) -> bool:
    """Whether lower-casing `unit` may disagree with `re.IGNORECASE` on a letter of the built-in rules: a character
    whose lower case is longer (İ), or one the regex engine folds to i or s and lower-casing does not (ı, ſ)."""
    return len(lowered) != len(unit) or "ı" in unit or "ſ" in unit


def _whole_unit(alternatives: list[str], flags: int) -> re.Pattern[str] | None:
    return re.compile("^(?:" + "|".join(alternatives) + r")\s*$", flags) if alternatives else None


@dataclass
class Rules:
    """Compiled cleaning rules (built once per config)."""

    chrome: re.Pattern[str]  # every rule, any case: the match whose groups are read
    headline_max_words: int
    builtin_lower: re.Pattern[str] | None = None  # the built-in rules (all lower case), case-sensitive
    custom: re.Pattern[str] | None = None  # the configured extra patterns, any case

    @classmethod
    def build(cls, extra_patterns: tuple[str, ...] = (), headline_max_words: int = 20) -> Rules:
        builtin = [f"(?P<{reason}>{pattern})" for reason, pattern in CHROME_RULES.items()]
        custom = [f"(?P<custom{i}>{p})" for i, p in enumerate(extra_patterns)]
        return cls(
            _whole_unit(builtin + custom, re.IGNORECASE),
            headline_max_words,
            _whole_unit(builtin, 0),
            _whole_unit(custom, re.IGNORECASE),
        )

    def match(self, unit: str) -> re.Match[str] | None:
        """The chrome rule matching the whole unit, as `chrome.match(unit)` finds it.

        Case-insensitive matching costs `re` three times a case-sensitive match of the lower-cased unit, and nearly
        every unit matches no rule: the built-in rules are tried that way first, and the case-insensitive pattern
        runs only on a hit (to read the groups in the original case) or where lower-casing is not the same as
        `re`'s case folding."""
        lowered = unit.lower()
        if self.builtin_lower is None or (not unit.isascii() and _folds_apart(unit, lowered)):
            return self.chrome.match(unit)
        if self.builtin_lower.match(lowered):
            return self.chrome.match(unit)
        return self.custom.match(unit) if self.custom is not None else None


@dataclass
class Cleaned:
    body: str
    body_map: list[tuple[int, int, int]]  # (body_start, text_start, length) for each kept piece
    segments: list[tuple[int, int, str]]  # removed (text_start, text_end, reason)
    title: str | None = None
    byline: str | None = None
    dateline_place: str | None = None
    photo_credit: str | None = None
    text_date: datetime | None = None


_NUMBER = re.compile(r"\d[\d.,/:-]*")
# A line that stops on a function word was cut mid-sentence by the scraper: prose, not a headline. (So is a line
# with a comma anywhere: headlines rarely have one.)
_FUNCTION_WORDS = (
    "and|or|but|the|a|an|to|at|of|in|on|for|with|that|by|from|as|is|was|are|"
    "were|и|в|на|с|что|і|та|ir|et|de|la|le|les|des|du|und|der|die|das"
)
_ENDS_ON_FUNCTION_WORD = re.compile(rf"\b(?:{_FUNCTION_WORDS})$", re.IGNORECASE)
# The end of a line that can hold its last function word and the character before it: a search of the whole line
# would try every position of it.
_FUNCTION_WORD_WINDOW = max(len(w) for w in _FUNCTION_WORDS.split("|")) + 1


def _is_continued(line: str) -> bool:
    return "," in line or _ENDS_ON_FUNCTION_WORD.search(line[-_FUNCTION_WORD_WINDOW:]) is not None


def _is_headline(line: str, max_words: int) -> bool:
    """A line that is not prose: no sentence end and at most `max_words` words (a title, related headline,
    subheading, caption or tag). Prose paragraphs, however short, end with punctuation; lines cut mid-sentence and
    table rows (two or more numbers: "Net 959,000 vs 1,033,000") are content too."""
    stripped = line.rstrip()
    if stripped[-1:] in _END_CHARS or len(line.split()) > max_words:
        return False
    return not _is_continued(stripped) and len(_NUMBER.findall(stripped)) < 2


def title_from_lines(lines: list[str], max_words: int = 20) -> str | None:
    """The document's headline: the first headline-like line of its opening that is not a site name (a line of
    one to three words followed by another headline), if prose follows."""
    for i, line in enumerate(lines[:4]):
        if not _is_headline(line, max_words):
            return None
        following = lines[i + 1] if i + 1 < len(lines) else None
        if following is None:
            return None
        if len(line.split()) <= 3 and _is_headline(following, max_words):
            continue
        return line
    return None


def _line_key(line: str) -> str:
    return " ".join(line.casefold().split())


# A line ends a sentence when its last character is one of these (`line[-1:] in _END_CHARS`: `str.endswith` with a
# tuple tries each ending in turn, several times slower on every line of every document).
_END_CHARS = frozenset(_SENTENCE_END)


@lru_cache(maxsize=1)
def _character_flags() -> np.ndarray:
    """`kernels.text_units`' table: which characters of the Basic Multilingual Plane `str.strip` removes (no
    character beyond it is a space), which end a sentence and which start a `kernels.SCRIPT_WORDS` word."""
    flags = np.zeros(0x10000, dtype=np.uint8)
    flags[[c for c in range(0x10000) if chr(c).isspace()]] |= kernels.SPACE
    flags[[ord(c) for c in _SENTENCE_END]] |= kernels.SENTENCE_END
    flags[[ord(word[0]) for word in kernels.SCRIPT_WORDS]] |= kernels.SCRIPT_START
    return flags


@dataclass
class TextUnits:
    """The units cleaning classifies, for a batch of texts (see `kernels.text_units`): text i owns units
    first[i]:first[i+1], each a stripped line, or a paragraph of a hard-wrapped text."""

    first: np.ndarray  # int64, per text and one more
    wrapped: np.ndarray  # bool, per text
    starts: np.ndarray  # int64 character offsets of each unit in its text
    ends: np.ndarray
    byte_starts: np.ndarray  # int64 byte offsets of each unit in its text's UTF-8
    byte_ends: np.ndarray
    words: np.ndarray  # int32, len(unit.split())
    flags: np.ndarray  # uint8, kernels.UNIT_*
    text_of_unit: np.ndarray  # int64, the text each unit belongs to
    data: np.ndarray  # the batch's UTF-8 bytes (read-only, the Arrow buffer)
    text_starts: np.ndarray  # int64 byte offset of each text in `data`

    def strings_at(self, rows: np.ndarray) -> pa.StringArray:
        """The text of units `rows`, copied out of the batch's buffer: cleaning reads few units as strings (short
        ones, edge ones, openings), so the long paragraphs of prose never are."""
        rows = np.asarray(rows, dtype=np.int64)
        base = self.text_starts[self.text_of_unit[rows]]
        packed, offsets = kernels.gathered_bytes(self.data, base + self.byte_starts[rows], base + self.byte_ends[rows])
        return pa.StringArray.from_buffers(len(rows), pa.py_buffer(offsets), pa.py_buffer(packed))

    @property
    def strings(self) -> pa.StringArray:
        """Every unit's text."""
        return self.strings_at(np.arange(len(self.words)))


def text_units(texts: pa.Array) -> TextUnits:
    """Every text's units, found in one compiled pass over the batch's UTF-8 buffer."""
    texts = schema.whole(texts)
    data, offsets = schema.string_buffers(texts)
    first, wrapped, spans, words, flags = kernels.text_units(data, offsets, _character_flags(), True)
    text_of_unit = np.repeat(np.arange(len(texts)), np.diff(first))
    return TextUnits(
        first,
        wrapped,
        spans[:, 0],
        spans[:, 1],
        spans[:, 2],
        spans[:, 3],
        words,
        flags,
        text_of_unit,
        data,
        offsets[:-1].astype(np.int64),
    )


def clean(
    text: str,
    title: str | None,
    rules: Rules,
    chrome_lines: frozenset[int] = frozenset(),
    source_chrome: frozenset[int] = frozenset(),
    edge_lines: int = 4,
) -> Cleaned:
    """Split `text` into kept body pieces and removed segments (with reasons), extracting title, byline, dateline
    place, photo credit and a publication date found in the text.

    `chrome_lines` are line hashes that recur across many sources, `source_chrome` those that recur across this
    document's own source (both from corpus statistics, see `pipeline/boilerplate.py`)."""
    batch = clean_texts(pa.array([text], pa.string()), [title], rules, chrome_lines, [source_chrome], edge_lines)
    out = batch.found[0]
    out.body = batch.body[0].as_py()
    out.body_map = [tuple(piece.values()) for piece in batch.body_map[0].as_py()]
    return out


@dataclass
class CleanedTexts:
    """`clean` of a batch: each text's body and body map as Arrow, and what was found in it (`Cleaned` with an
    empty body: its segments, title, byline, dateline place, photo credit and date)."""

    body: pa.StringArray
    body_map: pa.ListArray  # of schema.BODY_PIECE
    found: list[Cleaned]


def clean_texts(
    texts: pa.Array,
    titles: list[str | None],
    rules: Rules,
    chrome_lines: frozenset[int],
    source_chromes: list[frozenset[int]],
    edge_lines: int,
    chrome_longest: int | None = None,
) -> CleanedTexts:
    """`clean` for every text of a batch (no nulls), with the title and the source's chrome of each
    (`chrome_longest`: the longest of the chrome lines, case-folded, in UTF-8 bytes, when known).

    Compiled passes find the units and join the kept ones into bodies; the batch's regular expressions (RE2) settle
    most units as plain prose. Python reads only the units they cannot settle, each text's first paragraph (for a
    dateline) and what it removes."""
    texts = schema.whole(texts)
    if texts.null_count:
        texts = pc.fill_null(texts, "")
    units = text_units(texts)
    n_edge = np.array([edge_lines if (chrome_lines or chrome) else 0 for chrome in source_chromes], dtype=np.int64)
    plain, rule_free = _plain_units(units, n_edge, rules, chrome_lines.union(*source_chromes), chrome_longest)
    found = [Cleaned("", [], []) for _ in range(len(texts))]
    spans = np.column_stack([units.starts, units.ends, units.byte_starts, units.byte_ends])
    kinds, opens_lower = _unit_kinds(units, plain, rule_free, n_edge, rules, chrome_lines, source_chromes, found, spans)
    ends_sentence = (units.flags & kernels.UNIT_ENDS_SENTENCE) != 0
    keep, dropped, at_top = kernels.kept_units(units.first, kinds, opens_lower, ends_sentence, units.wrapped)
    _find_titles(units, titles, plain, rules, found)
    _drop_headlines(units, np.flatnonzero(dropped), at_top, spans, found)
    _strip_openings(units, keep, spans, found)
    data, offsets = schema.string_buffers(texts)
    body, body_offsets, map_first, pieces = kernels.joined_pieces(data, offsets, units.first, keep, spans)
    for out in found:
        out.segments.sort()
    body_map = pa.ListArray.from_arrays(
        pa.array(map_first.astype(np.int32)),
        pa.StructArray.from_arrays([pa.array(pieces[:, k]) for k in range(3)], fields=list(schema.BODY_PIECE)),
    )
    body_array = pa.StringArray.from_buffers(len(texts), pa.py_buffer(body_offsets), pa.py_buffer(body))
    return CleanedTexts(body_array, body_map, found)


def _unit_kinds(
    units: TextUnits,
    plain: np.ndarray,
    rule_free: np.ndarray,
    n_edge: np.ndarray,
    rules: Rules,
    chrome_lines: frozenset[int],
    source_chromes: list[frozenset[int]],
    found: list[Cleaned],
    spans: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's `kernels` kind (plain units are prose) and whether it opens in lower case (read for headlines
    only). `_unit_kind` classifies the others, recording their segments and metadata in `found`, and any cut-off
    closing photo credit shortens the unit's span in `spans`."""
    kinds = np.zeros(len(plain), dtype=np.uint8)
    opens_lower = np.zeros(len(plain), dtype=np.bool_)
    others = np.flatnonzero(~plain)
    docs = units.text_of_unit[others]
    position = others - units.first[docs]
    edges = (position < n_edge[docs]) | (position >= units.first[docs + 1] - units.first[docs] - n_edge[docs])
    named = {"prose": kernels.PROSE, "headline": kernels.HEADLINE, "chrome": kernels.CHROME}
    strings = units.strings_at(others).to_pylist()
    scripted = ((units.flags[others] & kernels.UNIT_MAYBE_SCRIPT) != 0).tolist()
    for k, doc, edge, start, unit, free, script in zip(
        others.tolist(),
        docs.tolist(),
        edges.tolist(),
        units.starts[others].tolist(),
        strings,
        rule_free[others].tolist(),
        scripted,
        strict=True,
    ):
        chrome = source_chromes[doc]
        kind, end = _unit_kind(unit, start, rules, found[doc], chrome_lines, chrome, edge, not free, script)
        kinds[k] = named[kind]
        opens_lower[k] = unit[:1].islower()
        if end < start + len(unit):  # a closing photo credit stays out of the body
            spans[k, 1] = end
            spans[k, 3] = spans[k, 2] + len(unit[: end - start].encode("utf-8"))
    return kinds, opens_lower


def _find_titles(
    units: TextUnits, titles: list[str | None], plain: np.ndarray, rules: Rules, found: list[Cleaned]
) -> None:
    """Each text's title: the given one, else a headline among its first units (`title_from_lines`). A text whose
    first unit is plain prose has none."""
    for doc, title in enumerate(titles):
        found[doc].title = title or None
    first = units.first
    looking = [doc for doc, title in enumerate(titles) if not title and first[doc] < first[doc + 1]]
    for doc in (d for d in looking if not plain[first[d]]):
        a, b = int(first[doc]), int(min(first[doc] + 4, first[doc + 1]))
        found[doc].title = title_from_lines(units.strings_at(np.arange(a, b)).to_pylist(), rules.headline_max_words)


def _drop_headlines(
    units: TextUnits, dropped: np.ndarray, at_top: np.ndarray, spans: np.ndarray, found: list[Cleaned]
) -> None:
    """The segments of headlines that leave the body: the title, a site name at the top, or another headline."""
    for k, unit in zip(dropped.tolist(), units.strings_at(dropped).to_pylist(), strict=True):
        out = found[int(units.text_of_unit[k])]
        start, end = int(spans[k, 0]), int(spans[k, 1])
        title_key = _line_key(out.title) if out.title else None
        kept = " ".join(unit[: end - start].split())
        out.segments.append((start, end, _headline_reason(kept, title_key, bool(at_top[k]))))


def _strip_openings(units: TextUnits, keep: np.ndarray, spans: np.ndarray, found: list[Cleaned]) -> None:
    """A "date 2021-08-06 " prefix or an agency dateline off the opening of each body: its first kept unit, or one
    of the next nine that has "(" in its first 60 characters (a caption or kicker came first); a dateline found
    from the fourth piece on must name an agency. Shortens those units' spans in place."""
    doc_of_unit = units.text_of_unit
    rank = np.cumsum(keep) - 1
    rank -= np.concatenate([[0], np.cumsum(keep)])[units.first[:-1]][doc_of_unit]
    early = (units.flags & kernels.UNIT_EARLY_PAREN) != 0
    candidates = np.flatnonzero(keep & ((rank == 0) | ((rank < 10) & early)))
    dated = np.zeros(len(found), dtype=bool)
    strings = units.strings_at(candidates).to_pylist()
    for k, unit in zip(candidates.tolist(), strings, strict=True):
        doc = int(doc_of_unit[k])
        start, end = int(spans[k, 0]), int(spans[k, 1])
        piece = unit[: end - start]
        if dated[doc] or (rank[k] > 0 and "(" not in piece[:60]):
            continue
        new_start, _ = _strip_prefixes(piece, start, found[doc], first_prose=True, need_credit=rank[k] >= 3)
        if new_start != start:
            dated[doc] = True
            spans[k, 0] = new_start
            spans[k, 2] += len(piece[: new_start - start].encode("utf-8"))


# Python's `\s` on ASCII text (RE2's lacks \v and \x1c-\x1f).
_ASCII_SPACE = r"\t\n\x0b\f\r\x1c-\x1f "


def re2_pattern(pattern: str) -> str:
    r"""A pattern of the built-in rules as RE2 reads it with the meaning Python's `re` gives it on ASCII text: only
    `\s` differs (on ASCII text `\w`, `\d` and `\b` mean the same in both)."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        piece = pattern[i : i + 2]
        if piece == r"\s":
            out.append(_ASCII_SPACE if in_class else f"[{_ASCII_SPACE}]")
            i += 2
            continue
        if pattern[i] == "\\":
            out.append(piece)
            i += 2
            continue
        if pattern[i] == "[" and not in_class:
            in_class = True
            if pattern[i + 1 : i + 2] == "]":  # a literal "]" opening the class
                out.append("[]")
                i += 2
                continue
        elif pattern[i] == "]" and in_class:
            in_class = False
        out.append(pattern[i])
        i += 1
    return "".join(out)


def _plain_units(
    units: TextUnits, n_edge: np.ndarray, rules: Rules, every_chrome: frozenset[int], longest: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Which units `_unit_kind` would call prose as they are, with no segment or metadata: what the batch can
    tell without Python. A unit is not plain when it may be script, may match a chrome rule (RE2 runs the built-in
    rules over the short ASCII units; other short units, and all of them when the config adds patterns, are left
    to Python), sits at a document's edge with a line hash of the chrome, may close on a photo credit, or may be a
    headline (no sentence end and at most `headline_max_words` words).

    Also returns which units no chrome rule matches (RE2 found none, or the unit is too long for any): Python need
    not try the rules on those."""
    n = len(units.words)
    if n == 0:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    flags = units.flags
    ends_sentence = (flags & kernels.UNIT_ENDS_SENTENCE) != 0
    short = (units.ends - units.starts) <= _MAX_CHROME_CHARS
    maybe_chrome = short.copy()
    if rules.custom is None:
        checked = short & ((flags & kernels.UNIT_ASCII) != 0)
        lowered = pc.ascii_lower(units.strings_at(np.flatnonzero(checked)))
        hits = pc.match_substring_regex(lowered, _builtin_re2()).to_numpy(zero_copy_only=False)
        maybe_chrome[checked] = hits
    maybe_script = (flags & kernels.UNIT_MAYBE_SCRIPT) != 0
    counts = np.diff(units.first)
    text_of_unit = units.text_of_unit
    position = np.arange(n) - units.first[:-1][text_of_unit]
    edge_n = n_edge[text_of_unit]
    edge = (position < edge_n) | (position >= counts[text_of_unit] - edge_n)
    chrome_hash = np.zeros(n, dtype=bool)
    if every_chrome:
        # Case folding shrinks a character's UTF-8 to a third at most (K, the Kelvin sign, to k): a unit more
        # than three times the longest chrome line's length cannot fold to one of them.
        fits = edge if longest is None else edge & (units.byte_ends - units.byte_starts <= 3 * longest)
        at_edge = np.flatnonzero(fits)
        hashes, _ = hashed_lines(units.strings_at(at_edge))
        chrome_hash[at_edge] = np.isin(hashes, np.fromiter(every_chrome, dtype=np.uint64, count=len(every_chrome)))
    prose_early = ~edge & ~short & ends_sentence
    settled = ~maybe_chrome & ~chrome_hash & ((flags & kernels.UNIT_ENDS_PAREN) == 0)
    not_headline = ends_sentence | (units.words > rules.headline_max_words)
    return ~maybe_script & (prose_early | (settled & not_headline)), ~maybe_chrome


@lru_cache(maxsize=1)
def _builtin_re2() -> str:
    builtin = [f"(?P<{reason}>{re2_pattern(pattern)})" for reason, pattern in CHROME_RULES.items()]
    return "^(?:" + "|".join(builtin) + f")[{_ASCII_SPACE}]*$"


_NOT_PLACES = {"FILE", "PHOTO", "UPDATE", "UPDATED", "CORRECTION", "EDITOR'S NOTE", "ADVISORY"}
# Page JavaScript the scraper kept (the substring tests in `_unit_kind` run first: they are cheaper than a search).
_SCRIPT = re.compile(r"window\._|_taboola|googletag\.|function\s?\(|document\.getElementById|\}\);")
# Chrome lines are short: the rules never need to look at a long paragraph.
_MAX_CHROME_CHARS = 240


def _unit_kind(
    unit: str,
    start: int,
    rules: Rules,
    out: Cleaned,
    chrome_lines: frozenset[int],
    source_chrome: frozenset[int],
    edge: bool,
    maybe_rule: bool = True,
    maybe_script: bool = True,
) -> tuple[str, int]:
    """("chrome", end) for a unit removed by a rule or by statistics (its segment recorded, metadata extracted),
    else ("headline" | "prose", end of the part to keep: a closing photo credit is cut off). `maybe_rule` False
    says no chrome rule matches the unit, `maybe_script` False that it holds none of `kernels.SCRIPT_WORDS` (the
    batch found so): those tests are then skipped."""
    end = start + len(unit)
    if maybe_script and any(word in unit for word in kernels.SCRIPT_WORDS) and _SCRIPT.search(unit):
        out.segments.append((start, end, "script"))  # page JavaScript the scraper kept
        return "chrome", end
    if not edge and len(unit) > _MAX_CHROME_CHARS and unit[-1:] in _END_CHARS:
        return "prose", end  # the common case: a paragraph of prose
    if maybe_rule and len(unit) <= _MAX_CHROME_CHARS:
        # The rules allow any run of spaces where a page puts one; the unit is matched as it is.
        m = rules.match(unit)
        if m:
            reason = m.lastgroup or "custom"
            reason = "custom" if reason.startswith("custom") else reason
            if reason == "byline":
                out.byline = out.byline or m.group("byline_name")
            elif reason == "date_line":
                out.text_date = out.text_date or parse_timestamp(m.group("date_value"))
            elif reason == "photo_credit":
                out.photo_credit = out.photo_credit or " ".join(unit.split())
            out.segments.append((start, end, reason))
            return "chrome", end
    if edge:
        key = hash_line(unit)
        if key in source_chrome or key in chrome_lines:
            out.segments.append((start, end, "site_chrome" if key in source_chrome else "boilerplate"))
            return "chrome", end
    if unit.endswith(")"):
        photo = _INLINE_PHOTO.search(unit)
        if photo:
            out.photo_credit = out.photo_credit or photo.group(0).strip()
            credit_start = start + photo.start() + len(photo.group(0)) - len(photo.group(0).lstrip())
            out.segments.append((credit_start, end, "photo_credit"))
            unit, end = unit[: photo.start()], start + photo.start()
    return ("headline" if _is_headline(unit, rules.headline_max_words) else "prose"), end


def _headline_reason(flat: str, title_key: str | None, at_top: bool) -> str:
    if title_key and _line_key(flat) == title_key:
        return "title"
    if at_top and len(flat.split()) <= 3:
        return "site_name"
    return "headline"


def _strip_prefixes(
    piece: str, start: int, out: Cleaned, first_prose: bool, need_credit: bool = False
) -> tuple[int, str]:
    """On the first paragraph, a "date 2021-08-06 " prefix and an agency dateline leave the body (kept as metadata
    and segments)."""
    if not first_prose:
        return start, piece
    date = _DATE_PREFIX.match(piece)
    if date:
        out.text_date = out.text_date or parse_timestamp(date.group(1))
        out.segments.append((start, start + date.end(), "date_prefix"))
        piece, start = piece[date.end() :], start + date.end()
    dateline = _DATELINE.match(piece)
    place = (dateline.group("place") or "").strip().rstrip(",") if dateline else ""
    if place.upper() in _NOT_PLACES:  # "FILE - In this photo …": an AP caption, not a dateline
        dateline = None
    if dateline and need_credit and not dateline.group("credit"):
        dateline = None
    if dateline and (dateline.group("place") or dateline.group("credit")):
        if dateline.group("place"):
            out.dateline_place = dateline.group("place").strip().rstrip(",")
        out.segments.append((start, start + dateline.end(), "dateline"))
        piece, start = piece[dateline.end() :], start + dateline.end()
    return start, piece


# `kernels.QUOTE_STYLES` states the same styles for the batch pass (`quote_offsets`); a test holds the two equal.
_QUOTED = re.compile(
    r'"[^"\n]{12,}?"|“[^”\n]{12,}”|«[^»\n]{12,}»|„[^“”\n]{12,}[“”]|‘[^’\n]{12,}’|‹[^›\n]{12,}›|'
    r"「[^」]{6,}」|『[^』]{6,}』"
)


def quote_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each quoted stretch of `text`, in any of the common quotation-mark styles."""
    return [m.span() for m in _QUOTED.finditer(text)]


def quote_offsets(texts: pa.Array | pa.ChunkedArray) -> pa.ListArray:
    """start0, end0, start1, end1, ... (int32) of the quoted stretches of each text (`quote_spans`; a null text has
    none), found by one compiled pass over the batch."""
    texts = schema.whole(texts)
    if texts.null_count:
        texts = pc.fill_null(texts, "")
    data, offsets = schema.string_buffers(texts)
    first, values = kernels.quote_spans(data, offsets, kernels.QUOTE_STYLES)
    return pa.ListArray.from_arrays(pa.array(first.astype(np.int32)), pa.array(values, pa.int32()))


def hash_line(line: str) -> int:
    """A stable hash of a stripped line, case ignored, for boilerplate statistics. (Inner spacing counts: pages
    repeat their chrome byte for byte, and skipping the split/join halves the cost of the statistics.)"""
    return hash_folded(folded_line(line))


def folded_line(line: str) -> bytes:
    """A stripped line as boilerplate statistics compare it: case-folded, in UTF-8."""
    return line.casefold().encode("utf-8")


def hash_folded(folded: bytes) -> int:
    """`hash_line` of the line `folded_line` gave `folded`."""
    return xxhash.xxh3_64_intdigest(folded)


def hashed_lines(lines: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """`hash_line` of every line of a batch (no nulls), and the UTF-8 length of each folded line. Case folding an
    ASCII line only lower-cases it: those are lower-cased by Arrow and hashed by a kernel, the others in Python."""
    lines = schema.whole(lines)
    data, offsets = schema.string_buffers(pc.ascii_lower(lines))
    known_ascii = pc.string_is_ascii(lines).to_numpy(zero_copy_only=False)
    hashes, other = kernels.xxh3_strings(data, offsets, known_ascii, kernels.XXH3_SECRET)
    sizes = np.diff(offsets).astype(np.int64)
    rest = np.flatnonzero(other)
    if len(rest):
        folded = [folded_line(line) for line in lines.take(pa.array(rest)).to_pylist()]
        hashes[rest] = np.array([hash_folded(f) for f in folded], dtype=np.uint64)
        sizes[rest] = [len(f) for f in folded]
    return hashes, sizes


@dataclass
class EdgeLines:
    """The edge lines of a batch of texts: text i owns lines first[i]:first[i+1]."""

    first: np.ndarray
    strings: pa.StringArray
    spaces: np.ndarray  # int64, the " " characters of each line


def edge_line_strings(texts: pa.Array | pa.ChunkedArray, n: int) -> EdgeLines:
    """The first and last `n` non-empty stripped lines of every text of a batch (no nulls), each once: where
    chrome sits. One compiled pass reads only the two ends of each text."""
    data, offsets = schema.string_buffers(schema.whole(texts))
    first, starts, ends, spaces = kernels.edge_line_spans(data, offsets, n, _character_flags())
    packed, packed_offsets = kernels.gathered_bytes(data, starts, ends)
    strings = pa.StringArray.from_buffers(len(starts), pa.py_buffer(packed_offsets), pa.py_buffer(packed))
    return EdgeLines(first, strings, spaces)


# ---------------------------------------------------------------- language

_SCRIPT_LANG = (
    ("[\u0600-\u06ff]", "ar"),
    ("[\u0400-\u04ff]", "ru"),
    ("[\u4e00-\u9fff]", "zh"),
    ("[\u3040-\u30ff]", "ja"),
    ("[\uac00-\ud7af]", "ko"),
    ("[\u0900-\u097f]", "hi"),
    ("[\u0370-\u03ff]", "el"),
    ("[\u0590-\u05ff]", "he"),
)


def detect_language(body: str) -> str | None:
    """ISO 639-1 code of the body's language from CLD2 (its model ships in the wheel; ~40 us a document on the
    first 320 characters), or a guess from the dominant script when CLD2 cannot tell."""
    sample = body[:320]
    if not sample.strip():
        return None
    try:
        import pycld2

        _, _, details = pycld2.detect(sample)
        if details and details[0][1] not in ("un", "xxx"):
            return details[0][1]
    except (ImportError, ValueError):  # ValueError: CLD2 refuses some invalid code points
        pass
    counts = [(len(re.findall(pattern, sample)), lang) for pattern, lang in _SCRIPT_LANG]
    best = max(counts)
    return best[1] if best[0] > len(sample) // 10 else None


# ---------------------------------------------------------------- a shard at a time


@dataclass
class Normalized:
    documents: pa.Table  # body, body_map and metadata filled in
    segments: pa.Table  # every removed segment with its reason


@gc_paused
def normalize_documents(
    documents: pa.Table, cfg: NormalizeConfig | None = None, boilerplate: BoilerplateIndex | None = None
) -> Normalized:
    """Clean every document of a shard and compute the matching form of its body.

    `boilerplate` is a `pipeline.boilerplate.BoilerplateIndex` computed over the whole batch (None: rules only).
    """
    cfg = cfg or NormalizeConfig()
    rules = _rules(tuple(cfg.extra_chrome_patterns), cfg.headline_max_words)
    everywhere = boilerplate.everywhere if boilerplate is not None else frozenset()
    sources = documents.column("source").to_pylist()
    chromes = [boilerplate.for_source(s) if boilerplate is not None else frozenset() for s in sources]
    titles = documents.column("title").to_pylist()
    longest = boilerplate.longest if boilerplate is not None else None
    cleaned = clean_texts(documents.column("text"), titles, rules, everywhere, chromes, cfg.edge_lines, longest)
    found = cleaned.found
    out: dict[str, pa.Array | list] = {
        "body": cleaned.body,
        "body_map": cleaned.body_map,
        "title": [f.title for f in found],
        "byline": [f.byline for f in found],
        "dateline_place": [f.dateline_place for f in found],
        "photo_credit": [f.photo_credit for f in found],
        "lang": _languages(documents.column("lang"), cleaned.body, cfg.detect_language),
    }
    segmented = [i for i, f in enumerate(found) if f.segments]
    texts = documents.column("text").take(pa.array(segmented, pa.int64())).to_pylist()
    segments: dict[str, list] = {name: [] for name in schema.SEGMENTS.names}
    for i, text in zip(segmented, texts, strict=True):
        for start, end, reason in found[i].segments:
            segments["start"].append(start)
            segments["end"].append(end)
            segments["reason"].append(reason)
            segments["content"].append(text[start:end])
    owners = pa.array(np.repeat(segmented, [len(found[i].segments) for i in segmented]).astype(np.int64))
    segments["doc_id"] = documents.column("doc_id").take(owners)
    segments["run_id"] = documents.column("run_id").take(owners)
    text_dates = [f.text_date for f in found]
    # Dates stay in Arrow: a date found in the text fills `published_at` only where the metadata has none.
    metadata = documents.column("published_at")
    found = pa.array(text_dates, schema.TIMESTAMP)
    out["published_at"] = pc.coalesce(metadata, found)
    out["published_at_source"] = pc.if_else(
        pc.is_valid(metadata), "metadata", pc.if_else(pc.is_valid(found), "text", pa.scalar(None, pa.string()))
    )
    table = documents
    for name, values in out.items():
        field = schema.DOCUMENTS.field(name)
        array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, field.type)
        table = table.set_column(table.schema.get_field_index(name), field, array)
    return Normalized(table, pa.Table.from_pydict(segments, schema=schema.SEGMENTS))


def _languages(given: pa.ChunkedArray, bodies: pa.StringArray, detect: bool) -> list[str | None]:
    """Each document's language: the one its record gave, else (when `detect`) the one its body is written in."""
    languages = given.to_pylist()
    missing = [i for i, lang in enumerate(languages) if not lang] if detect else []
    for i, body in zip(missing, bodies.take(pa.array(missing, pa.int64())).to_pylist(), strict=True):
        languages[i] = detect_language(body)
    return languages


_RULES_CACHE: dict[tuple, Rules] = {}


def _rules(extra: tuple[str, ...], headline_max_words: int) -> Rules:
    key = (extra, headline_max_words)
    if key not in _RULES_CACHE:
        _RULES_CACHE[key] = Rules.build(extra, headline_max_words)
    return _RULES_CACHE[key]
