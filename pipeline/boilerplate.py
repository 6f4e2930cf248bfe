"""Boilerplate: page chrome found by corpus statistics, before documents are cleaned.

Rules catch the chrome that looks like chrome; statistics catch the rest: a line that opens or closes many articles
of one site (its footer, its "Chat with us" box) is that site's chrome, and a short line that opens or closes
articles of many sites ("All rights reserved.") is boilerplate everywhere. Only the first and last `edge_lines`
lines of each document count, because that is where chrome sits and where copied wire paragraphs do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from pipeline.config import NormalizeConfig
from pipeline.gcpause import gc_paused
from pipeline.normalize import edge_line_strings, hashed_lines

EDGE_LINES = pa.schema(
    [
        ("source", pa.string()),
        ("doc_index", pa.int64()),
        ("line_hash", pa.uint64()),
        ("words", pa.int32()),
        ("folded_bytes", pa.int32()),  # the UTF-8 length of the case-folded line (what `hash_line` hashes)
    ]
)


@gc_paused
def edge_line_table(documents: pa.Table, cfg: NormalizeConfig, first_index: int = 0) -> pa.Table:
    """One row per distinct edge line of each document: (source, doc_index, line_hash, words, folded_bytes)."""
    lines = edge_line_strings(documents.column("text"), cfg.edge_lines)
    hashes, folded_bytes = hashed_lines(lines.strings)
    doc_index = np.repeat(np.arange(documents.num_rows, dtype=np.int64), np.diff(lines.first))
    # A line repeated within one document counts once for it (its first occurrence stays).
    order = np.lexsort((np.arange(len(hashes)), hashes, doc_index))
    repeat = np.zeros(len(order), dtype=bool)
    repeat[1:] = (doc_index[order][1:] == doc_index[order][:-1]) & (hashes[order][1:] == hashes[order][:-1])
    kept = np.sort(order[~repeat])
    return pa.Table.from_arrays(
        [
            documents.column("source").fill_null("").take(pa.array(doc_index[kept])),
            pa.array(doc_index[kept] + first_index, pa.int64()),
            pa.array(hashes[kept], pa.uint64()),
            pa.array(lines.spaces[kept] + 1, pa.int32()),
            pa.array(folded_bytes[kept].astype(np.int32)),
        ],
        schema=EDGE_LINES,
    )


@dataclass
class BoilerplateIndex:
    """Line hashes that are chrome for one source, or boilerplate for every source."""

    everywhere: frozenset[int] = frozenset()
    by_source: dict[str, frozenset[int]] = field(default_factory=dict)
    # The longest of these lines, case-folded, in UTF-8 bytes (None: not known): a longer line is none of them.
    longest: int | None = None

    def for_source(self, source: str | None) -> frozenset[int]:
        return self.by_source.get(source or "", frozenset())

    def to_table(self) -> pa.Table:
        sources = [""] * len(self.everywhere) + [s for s, keys in self.by_source.items() for _ in keys]
        hashes = list(self.everywhere) + [k for keys in self.by_source.values() for k in keys]
        kinds = ["boilerplate"] * len(self.everywhere) + ["site_chrome"] * (len(hashes) - len(self.everywhere))
        table = pa.table(
            {
                "source": pa.array(sources, pa.string()),
                "line_hash": pa.array(hashes, pa.uint64()),
                "kind": pa.array(kinds, pa.string()),
            }
        )
        return table.replace_schema_metadata({} if self.longest is None else {"longest": str(self.longest)})

    @classmethod
    def from_table(cls, table: pa.Table) -> BoilerplateIndex:
        everywhere, by_source = set(), {}
        for source, key, kind in zip(
            *(table.column(c).to_pylist() for c in ("source", "line_hash", "kind")), strict=True
        ):
            if kind == "boilerplate":
                everywhere.add(key)
            else:
                by_source.setdefault(source, set()).add(key)
        known = (table.schema.metadata or {}).get(b"longest")  # a table written before lengths were kept has none
        longest = int(known) if known is not None else None
        return cls(frozenset(everywhere), {s: frozenset(k) for s, k in by_source.items()}, longest)


def boilerplate_index(edges: pa.Table, cfg: NormalizeConfig) -> BoilerplateIndex:
    """Site chrome and cross-site boilerplate from the edge lines of a whole batch (grouped in numpy)."""
    if edges.num_rows == 0:
        return BoilerplateIndex()
    source_codes, source_names = _codes(edges.column("source"))
    hashes = edges.column("line_hash").to_numpy()
    words = edges.column("words").to_numpy()
    docs_per_source = np.bincount(
        source_codes[np.unique(edges.column("doc_index").to_numpy(), return_index=True)[1]],
        minlength=len(source_names),
    )
    # Distinct *articles* per (source, line): a document's key sums the hashes of its edge lines, so the same
    # article scraped three times counts once and its paragraphs are not mistaken for the site's chrome.
    doc_index = edges.column("doc_index").to_numpy()
    order = np.argsort(doc_index, kind="stable")
    starts = np.flatnonzero(np.r_[True, doc_index[order][1:] != doc_index[order][:-1]])
    doc_key_sorted = np.add.reduceat(hashes[order], starts)  # wraps mod 2**64, as a hash sum should
    doc_key = np.empty_like(hashes)
    doc_key[order] = np.repeat(doc_key_sorted, np.diff(np.r_[starts, len(order)]))
    source_codes = source_codes.astype(np.uint64)
    triples, _ = _groups(source_codes, hashes, doc_key)
    rows, counts = _groups(source_codes[triples], hashes[triples])
    pair_source, pair_hash = source_codes[triples][rows], hashes[triples][rows]
    share = counts / docs_per_source[pair_source.astype(np.int64)]
    chrome = (counts >= cfg.site_chrome_min_docs) & (share >= cfg.site_chrome_min_share)
    by_source: dict[str, set[int]] = {}
    for code, key in zip(pair_source[chrome].tolist(), pair_hash[chrome].tolist(), strict=True):
        by_source.setdefault(source_names[int(code)], set()).add(key)
    # Distinct sources per short line.
    short = words <= cfg.boilerplate_max_words
    line_source, _ = _groups(hashes[short], source_codes[short])
    line_rows, n_sources = _groups(hashes[short][line_source])
    lines = hashes[short][line_source][line_rows]
    common = n_sources >= cfg.boilerplate_min_sources
    everywhere = frozenset(lines[common].tolist())
    # Equal hashes are equal folded lines, so any row of a line gives its length.
    lengths = edges.column("folded_bytes").to_numpy()
    chrome_lengths = np.concatenate(
        [lengths[triples][rows][chrome], lengths[short][line_source][line_rows][common], [0]]
    )
    return BoilerplateIndex(everywhere, {s: frozenset(k) for s, k in by_source.items()}, int(chrome_lengths.max()))


def _groups(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The index of one row of each distinct combination of `columns` and how many rows hold it (a lexsort:
    np.unique with an axis sorts rows as opaque bytes and is several times slower)."""
    order = np.lexsort(columns[::-1])
    change = np.zeros(len(order), dtype=bool)
    change[:1] = True
    for column in columns:
        ordered = column[order]
        change[1:] |= ordered[1:] != ordered[:-1]
    starts = np.flatnonzero(change)
    return order[starts], np.diff(np.r_[starts, len(order)])


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    encoded = column.combine_chunks().dictionary_encode()
    return encoded.indices.to_numpy().astype(np.int64), encoded.dictionary.to_pylist()
