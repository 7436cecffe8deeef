"""Items (documents or their paragraphs/sentences), exact-match normalisation, LSH candidate pairs,
union-find."""

from __future__ import annotations

import functools
import unicodedata

import numpy as np

from dataprep import text as T

SMALL_GROUP = 32


def unit_spans(text: str, level: str) -> list[tuple[int, int]]:
    return T.paragraph_spans(text) if level == "paragraph" else T.sentence_spans(text)


def items_of(texts: list[str], level: str) -> tuple[list[int], list[int], list[str]]:
    """(document row, unit index, text) of every item; a document is one item with unit -1.
    Rows whose text is None (exempt) give no items."""
    if level == "document":
        rows = [r for r, t in enumerate(texts) if t is not None]
        return rows, [-1] * len(rows), [texts[r] for r in rows]
    doc, unit, out = [], [], []
    for row, text in enumerate(texts):
        if text is None:
            continue
        for u, (a, b) in enumerate(unit_spans(text, level)):
            doc.append(row)
            unit.append(u)
            out.append(text[a:b])
    return doc, unit, out


def normalize_exact(text: str, mode: str) -> str:
    if mode == "none":
        return text
    if mode == "full":
        return T.normalize_for_dedup(text)
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@functools.lru_cache(maxsize=1)
def _nfkc_forms() -> tuple[list[str], list[str]]:
    """The characters of planes 0-2 whose NFKC form differs from them (full-width forms,
    ligatures, compatibility ideographs, ...), and those forms."""
    chars, forms = [], []
    for cp in range(0x30000):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        f = unicodedata.normalize("NFKC", c)
        if f != c:
            chars.append(c)
            forms.append(f)
    return chars, forms


def normalize_exact_many(texts: list[str], mode: str) -> list[str]:
    """``normalize_exact`` of every text; the same strings, faster for the default mode.

    NFKC character by character is a column operation (one Aho-Corasick pass of polars'
    ``replace_many`` over the characters that change). Where the result is in NFKC it equals
    NFKC of the whole text: mapping a character to its NFKC form keeps the text's NFKD, and NFKC
    is the canonical composition of the NFKD. Where it is not (combining marks, Hangul jamo,
    characters beyond plane 2 that change), the text is normalised whole, as before."""
    if mode != "light" or not texts:
        return [normalize_exact(t, mode) for t in texts]
    import polars as pl

    chars, forms = _nfkc_forms()
    mapped = pl.Series(texts, dtype=pl.String).str.replace_many(chars, forms).to_list()
    is_nfkc, nfkc = unicodedata.is_normalized, unicodedata.normalize
    return [" ".join((m if is_nfkc("NFKC", m) else nfkc("NFKC", t)).casefold().split()) for t, m in zip(texts, mapped)]


def group_pairs(keys: np.ndarray, members: np.ndarray, small_group: int = SMALL_GROUP) -> np.ndarray:
    """Candidate pairs among items sharing a key, encoded ``i << 32 | j`` (i < j): every pair in
    groups of up to ``small_group`` items (so clusters connect through any verified pair), a star and
    a chain in larger groups (linear work), the star's centre being the smallest member."""
    order = np.argsort(keys)  # members of a group come in no particular order: pairs are (min, max)
    k, m = keys[order], members[order].astype(np.uint64)
    starts = np.flatnonzero(np.concatenate([[True], k[1:] != k[:-1]]))
    sizes = np.diff(np.concatenate([starts, [len(k)]]))
    out = [np.empty(0, np.uint64)]
    for size in np.unique(sizes[sizes > 1]).tolist():
        first = starts[sizes == size]
        if size <= small_group:
            g = m[first[:, None] + np.arange(size)]
            ti, tj = np.triu_indices(size, 1)
            a, b = g[:, ti].ravel(), g[:, tj].ravel()
            out.append((np.minimum(a, b) << np.uint64(32)) | np.maximum(a, b))
        else:
            for f in first.tolist():
                g = np.sort(m[f:f + size])
                out.append((g[0] << np.uint64(32)) | g[1:])
                out.append((g[1:-1] << np.uint64(32)) | g[2:])
    return np.concatenate(out)


class UnionFind:
    """Disjoint sets over 0..n-1; the root of a set is its smallest member. The Python twin of the
    kernel's ``components``."""

    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if rb < ra:
            ra, rb = rb, ra
        self.parent[rb] = ra
