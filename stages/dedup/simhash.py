"""64-bit SimHash over weighted shingles, and near-duplicate search by a block index.

Each shingle is hashed to 64 bits (xxh64); each bit position sums +w for a 1 and -w for a 0, with
w the shingle's count in the document; the fingerprint bit is 1 where the sum is positive (Charikar
2002). Two fingerprints within Hamming distance k, split into k+1 blocks, agree on at least one
block (pigeonhole), so grouping by each block value finds every such pair (Manku et al. 2007).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import xxhash

from dataprep import text as T

_BIT_VALUES = (np.uint64(1) << np.arange(64, dtype=np.uint64))


def fingerprint_from_counts(counts: Counter) -> int:
    if not counts:
        return 0
    hashes = np.fromiter((xxhash.xxh64_intdigest(s.encode()) for s in counts), dtype=np.uint64, count=len(counts))
    weights = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    bits = (hashes[:, None] & _BIT_VALUES[None, :]) != 0
    score = weights @ np.where(bits, 1.0, -1.0)
    return int(np.bitwise_or.reduce(_BIT_VALUES[score > 0], initial=np.uint64(0)))


def fingerprint(text: str, ngram: int) -> int:
    """SimHash of a text's shingles (duplicates counted, which is what weights them)."""
    u = T.units(T.normalize_for_dedup(text))
    if not u:
        return 0
    grams = [" ".join(u)] if len(u) <= ngram else list(map(" ".join, zip(*(u[i:] for i in range(ngram)))))
    return fingerprint_from_counts(Counter(grams))


def _popcount(x: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (numpy's bitwise_count where it exists, numpy >= 2.0)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x).astype(np.int64)
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return ((x * np.uint64(0x0101010101010101)) >> np.uint64(56)).astype(np.int64)


def _close_values(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (v < w) of distinct fingerprints ``values`` within k bits, by the block index, with
    their distances."""
    bounds = np.linspace(0, 64, k + 2).astype(int)
    codes = [np.empty(0, np.int64)]
    for lo, hi in zip(bounds, bounds[1:]):
        keys = values & np.uint64(((1 << (hi - lo)) - 1) << lo)
        order = np.argsort(keys, kind="stable")
        cuts = np.flatnonzero(np.diff(keys[order])) + 1
        starts, ends = np.concatenate([[0], cuts]), np.concatenate([cuts, [len(order)]])
        for a, b in zip(starts[ends - starts > 1].tolist(), ends[ends - starts > 1].tolist()):
            g = np.sort(order[a:b])
            near = np.triu(_popcount(values[g][:, None] ^ values[g][None, :]) <= k, 1)
            i, j = np.nonzero(near)
            codes.append(g[i] * len(values) + g[j])
    found = np.unique(np.concatenate(codes))
    v, w = found // max(len(values), 1), found % max(len(values), 1)
    return v, w, _popcount(values[v] ^ values[w])


def near_pairs(fps: np.ndarray, k: int, reference: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges (left < right, ascending; similarity 1 - distance/64) whose connected components, and
    lowest similarity per component, are those of all pairs of items within k bits of each other
    less the pairs of two ``reference`` items. Items with equal fingerprints are joined by a star
    around the first that is not a reference item, and two close fingerprints by one edge between
    their stars (from each member of a side that has reference items only), so the work grows
    with the items, not with the pairs of identical ones."""
    n = len(fps)
    reference = np.zeros(n, bool) if reference is None else np.asarray(reference, bool)
    values, inverse = np.unique(np.asarray(fps, np.uint64), return_inverse=True)
    order = np.argsort(inverse, kind="stable")  # items grouped by value, ascending within a value
    value_of = inverse[order]
    starts = np.searchsorted(value_of, np.arange(len(values) + 1))
    anchor = np.full(len(values), -1, np.int64)
    new = np.flatnonzero(~reference[order])
    firsts, at = np.unique(value_of[new], return_index=True)
    anchor[firsts] = order[new[at]]
    a = anchor[value_of]
    same = (a >= 0) & (order != a)
    left, right = [np.minimum(order[same], a[same])], [np.maximum(order[same], a[same])]
    dist = [np.zeros(int(same.sum()), np.int64)]
    v, w, d = _close_values(values, k)
    both = (anchor[v] >= 0) & (anchor[w] >= 0)
    left.append(np.minimum(anchor[v[both]], anchor[w[both]]))
    right.append(np.maximum(anchor[v[both]], anchor[w[both]]))
    dist.append(d[both])
    for refs, other in ((v, w), (w, v)):  # one side has reference items only: each joins the other's star
        one = (anchor[refs] < 0) & (anchor[other] >= 0)
        for x, y, dd in zip(refs[one].tolist(), anchor[other[one]].tolist(), d[one].tolist()):
            members = order[starts[x]:starts[x + 1]]
            left.append(np.minimum(members, y))
            right.append(np.maximum(members, y))
            dist.append(np.full(len(members), dd, np.int64))
    left, right, dist = np.concatenate(left), np.concatenate(right), np.concatenate(dist)
    pos = np.lexsort((right, left))
    return left[pos], right[pos], 1 - dist[pos] / 64
