"""Items (documents or their paragraphs/sentences), exact-match normalisation, union-find."""

from __future__ import annotations

import unicodedata

from dataprep import text as T


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
