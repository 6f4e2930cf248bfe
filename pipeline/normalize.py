"""Normalise: the clean `body` used for matching, and its tokens, for text in any script.

First version: Unicode NFKC, quotes and dashes unified, whitespace collapsed, case-folded. Boilerplate, bylines,
datelines and the body -> text offset map come with the normalisation issue; `normalize_documents` is where
they plug in. Whole shards go through Arrow compute kernels (RE2) so no Python loop runs per token.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import regex
import xxhash

# Quotes and dashes of many scripts folded to ASCII, so «Hello», „Hello“ and "Hello" tokenise and compare alike.
_DOUBLE_QUOTES = "[«»„“”‟″〝〞＂]"
_SINGLE_QUOTES = "[‘’‚‛′‹›＇`]"
_DASHES = "[‐‑‒–—―−﹘﹣－]"
_INVISIBLE = "[\u200b\u200c\u200d\u2060\ufeff\u00ad]"  # zero-width characters and soft hyphens
# Runs of two or more horizontal spaces, or one that is not a plain space: matching only these keeps the
# kernel from rewriting every single space (10x faster on ordinary prose).
_HSPACE = r"[^\S\n]{2,}|[^\S \n]"
# Whitespace after a line break (blank lines, indents); a required leading "\n" lets RE2 skip to newlines fast.
_AFTER_BREAK = r"\n\s+"

# Scripts written without spaces between words: every character is a token (then shingled like words).
UNSPACED_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}"
_NON_WORD = r"[^\p{L}\p{N}\p{M} ]+"
# The same tokenisation as `tokenize_batch`, for offsets of single documents (used for passage spans).
TOKEN_PATTERN = regex.compile(
    rf"[{UNSPACED_SCRIPTS}]|[[\p{{L}}\p{{N}}\p{{M}}]--[{UNSPACED_SCRIPTS}]]+", flags=regex.VERSION1
)


def normalize_batch(texts: pa.Array | list[str]) -> pa.Array:
    """The matching form of each text: NFKC, case-folded, unified quotes and dashes, one space between
    words and one newline between paragraphs."""
    if isinstance(texts, pa.ChunkedArray | pa.Array):
        texts = texts.to_pylist()
    # Python's NFKC has an ASCII quick-check that Arrow's lacks; casefold (not lower) so "Straße" meets "STRASSE".
    folded = pa.array([unicodedata.normalize("NFKC", t).casefold() for t in texts], type=pa.string())
    folded = pc.replace_substring_regex(folded, _DOUBLE_QUOTES, '"')
    folded = pc.replace_substring_regex(folded, _SINGLE_QUOTES, "'")
    folded = pc.replace_substring_regex(folded, _DASHES, "-")
    folded = pc.replace_substring_regex(folded, _INVISIBLE, "")
    folded = pc.replace_substring_regex(folded, _HSPACE, " ")
    folded = pc.replace_substring_regex(folded, _AFTER_BREAK, "\n")
    folded = pc.replace_substring(folded, " \n", "\n")
    return pc.utf8_trim_whitespace(folded)


def normalize_text(text: str) -> str:
    """`normalize_batch` of one text."""
    return normalize_batch([text])[0].as_py()


def tokenize_batch(bodies: pa.Array) -> pa.ListArray:
    """Word tokens of each normalised body: runs of letters, digits and combining marks in any script;
    Han, Hiragana and Katakana one character per token. An empty body has no tokens."""
    if len(bodies) and pc.any(pc.match_substring_regex(bodies, f"[{UNSPACED_SCRIPTS}]")).as_py():
        bodies = pc.replace_substring_regex(bodies, f"([{UNSPACED_SCRIPTS}])", r" \1 ")
    tokens = pc.split_pattern(pc.replace_substring_regex(bodies, _NON_WORD, " "), " ")
    # Punctuation next to a space leaves empty strings between separators: drop them (cheaper than collapsing
    # the spaces with another regex pass over every body).
    values = tokens.values
    keep = pc.greater(pc.utf8_length(values), 0).to_numpy(zero_copy_only=False)
    kept_before = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(keep, out=kept_before[1:])
    offsets = tokens.offsets.to_numpy() - tokens.offsets[0].as_py()
    return pa.ListArray.from_arrays(pa.array(kept_before[offsets].astype(np.int32)), values.filter(pa.array(keep)))


def tokenize(body: str) -> list[str]:
    """Tokens of one normalised body (same rules as `tokenize_batch`)."""
    return TOKEN_PATTERN.findall(body)


def token_spans(body: str) -> list[tuple[int, int]]:
    """(start, end) character offsets in `body` of each token of `tokenize(body)`, in order."""
    return [m.span() for m in TOKEN_PATTERN.finditer(body)]


def body_hashes(bodies: pa.Array) -> pa.Array:
    return pa.array([xxhash.xxh3_64_intdigest(b.encode("utf-8")) for b in bodies.to_pylist()], type=pa.uint64())


def normalize_documents(documents: pa.Table) -> pa.Table:
    """`documents` with `body` and `body_hash` filled in from `text`."""
    bodies = normalize_batch(documents.column("text"))
    table = documents.set_column(documents.schema.get_field_index("body"), "body", bodies)
    return table.set_column(table.schema.get_field_index("body_hash"), "body_hash", body_hashes(bodies))
