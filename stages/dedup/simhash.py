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


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def candidate_pairs(fps: np.ndarray, k: int) -> list[tuple[int, int]]:
    """Index pairs (i < j) whose fingerprints differ in at most k bits."""
    blocks = k + 1
    bounds = np.linspace(0, 64, blocks + 1).astype(int)
    pairs = set()
    for lo, hi in zip(bounds, bounds[1:]):
        mask = np.uint64(((1 << (hi - lo)) - 1) << lo)
        keys = fps & mask
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        cuts = np.flatnonzero(np.diff(sorted_keys)) + 1
        for group in np.split(order, cuts):
            if len(group) < 2:
                continue
            members = sorted(group.tolist())
            vals = [int(fps[i]) for i in members]
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    if (vals[x] ^ vals[y]).bit_count() <= k:
                        pairs.add((members[x], members[y]))
    return sorted(pairs)
