"""Shingle hashing for whole batches in numpy, and one-permutation MinHash.

``shingle_hashes`` gives, for a batch of texts, the 64-bit hash of every shingle that
``dataprep.text.shingles`` would make (same normalisation, same units, same n), without building
the shingle strings: the batch's normalised texts are joined, turned into one code-point array,
cut into units (a CJK character, or a run of other non-space characters), each unit hashed as a
polynomial of its code points (from prefix sums), and each window of n units of one document
mixed into a shingle hash. A document with 1..n-1 units gets one shingle of all its units, as in
``shingles``. Hashes of equal shingles are equal; distinct shingles collide with probability ~2^-64.

``one_permutation`` turns those hashes into MinHash-like signatures with one hash per shingle
instead of one per shingle and permutation (one-permutation hashing, Li, Owen & Zhang, NIPS 2012),
filling empty bins by optimal densification (Shrivastava, ICML 2017) so that two signatures agree
in a bin with probability equal to the Jaccard similarity.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from dataprep import text as T
from dataprep.ngrams import _fmix64  # MurmurHash3's 64-bit finaliser, shared with decontaminate

_TABLE_SIZE = 0x40000
_P = np.uint64(0x100000001B3)  # odd multiplier of the code-point polynomial
_MIX = np.uint64(0x9E3779B97F4A7C15)
EMPTY = np.uint32(0xFFFFFFFF)
SINGLE_UNIT = re.compile(T._UNIT.pattern.split("|")[0])  # a character that is a shingle unit on its own (CJK)
ATTEMPTS = 256  # probes tried per empty bin before falling back to the row's smallest value


@lru_cache(maxsize=1)
def _unit_table() -> np.ndarray:
    """True for code points that are a shingle unit on their own (the CJK class of text._UNIT)."""
    chars = "".join(chr(c) if not 0xD800 <= c < 0xE000 else "a" for c in range(_TABLE_SIZE))
    table = np.zeros(_TABLE_SIZE, dtype=bool)
    for m in SINGLE_UNIT.finditer(chars):
        table[m.start()] = True
    table[-1] = False
    return table


_POWERS: list[np.ndarray] = []


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P**i and P**-i mod 2**64 for i < n (P is odd, so it has an inverse); kept for the next
    batch and grown to a power of two."""
    if not _POWERS or len(_POWERS[0]) < n:
        size = 1 << max(16, (n - 1).bit_length())
        p = np.full(size, _P, dtype=np.uint64)
        q = np.full(size, np.uint64(pow(int(_P), -1, 1 << 64)), dtype=np.uint64)
        p[0] = q[0] = 1
        with np.errstate(over="ignore"):
            _POWERS[:] = [np.cumprod(p, dtype=np.uint64), np.cumprod(q, dtype=np.uint64)]
    return _POWERS[0], _POWERS[1]


def _mix(acc: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """One step of an order-dependent combination (finished by _fmix64 after the last unit)."""
    with np.errstate(over="ignore"):
        acc = acc * _MIX
        acc ^= acc >> np.uint64(29)
        acc ^= unit
        return acc


def unit_hashes(norms: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(hash per unit, document per unit) for normalised texts, units in order."""
    big = " ".join(norms)
    if not big.strip():
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    if big.isascii():  # one byte per character, and no CJK
        cp = np.frombuffer(big.encode("ascii"), dtype=np.uint8)
        single = np.zeros(len(cp), dtype=bool)
    else:
        cp = np.frombuffer(big.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        single = _unit_table()[np.minimum(cp, _TABLE_SIZE - 1)]  # the table's last entry is False
    space = cp == 32
    prev_space = np.empty_like(space)
    prev_space[0] = True
    prev_space[1:] = space[:-1]
    prev_single = np.empty_like(single)
    prev_single[0] = False
    prev_single[1:] = single[:-1]
    starts = np.flatnonzero(~space & (prev_space | single | prev_single))
    if len(starts) == 0:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    powers, inverse = _powers(len(cp))
    lengths = np.add.reduceat((~space).view(np.uint8), starts, dtype=np.uint64)  # spaces may repeat (empty texts)
    with np.errstate(over="ignore"):
        w = cp.astype(np.uint64)
        w += np.uint64(1)
        w *= powers[: len(cp)]
        w[space] = 0
        sums = np.add.reduceat(w, starts) * inverse[starts]  # sum of (c + 1) * P**(position in unit)
        uh = _fmix64(sums ^ (lengths * _MIX))
    offsets = np.cumsum([0] + [len(s) + 1 for s in norms[:-1]])
    doc = np.searchsorted(offsets, starts, side="right") - 1
    return uh, doc


def shingle_hashes(texts: list[str], n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, counts): the shingle hashes of every text in order (with repeats), and how many
    belong to each text. Same shingles as ``dataprep.text.shingles(text, n)``."""
    norms = [T.normalize_for_dedup(t) for t in texts]
    uh, doc = unit_hashes(norms)
    counts_units = np.bincount(doc, minlength=len(texts)) if len(doc) else np.zeros(len(texts), np.int64)
    parts_h, parts_d = [], []
    if len(uh) >= n:
        k = len(uh) - n + 1
        acc = np.full(k, np.uint64(n), dtype=np.uint64)
        for j in range(n):
            acc = _mix(acc, uh[j:j + k])
        acc = _fmix64(acc)
        valid = doc[:k] == doc[n - 1:]
        parts_h.append(acc[valid])
        parts_d.append(doc[:k][valid])
    short = np.flatnonzero((counts_units > 0) & (counts_units < n))
    if len(short):
        first = np.searchsorted(doc, short)
        hs = []
        for d, f in zip(short.tolist(), first.tolist()):
            m = int(counts_units[d])
            acc = np.full(1, np.uint64(m), dtype=np.uint64)
            for j in range(m):
                acc = _mix(acc, uh[f + j:f + j + 1])
            hs.append(_fmix64(acc)[0])
        parts_h.append(np.array(hs, dtype=np.uint64))
        parts_d.append(short)
    if not parts_h:
        return np.empty(0, np.uint64), np.zeros(len(texts), np.int64)
    h = np.concatenate(parts_h)
    d = np.concatenate(parts_d)
    if len(parts_h) > 1:
        order = np.argsort(d, kind="stable")
        h, d = h[order], d[order]
    return h, np.bincount(d, minlength=len(texts)).astype(np.int64)


@lru_cache(maxsize=8)
def _probe_table(num_perm: int, seed: int, attempts: int) -> np.ndarray:
    """(attempts, num_perm) bins to borrow from, the same sequence for every document."""
    i = np.arange(num_perm, dtype=np.uint64)[None, :]
    t = np.arange(1, attempts + 1, dtype=np.uint64)[:, None]
    with np.errstate(over="ignore"):
        h = _fmix64(i * np.uint64(0x9E3779B1) + t * np.uint64(0x85EBCA77) + np.uint64(seed))
    return ((h >> np.uint64(32)) * np.uint64(num_perm) >> np.uint64(32)).astype(np.int64)


def one_permutation(h: np.ndarray, counts: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """(docs, num_perm) uint32 signatures from shingle hashes; all-EMPTY for a text with none."""
    n_docs = len(counts)
    sig = np.full(n_docs * num_perm, EMPTY, dtype=np.uint32)
    if len(h):
        with np.errstate(over="ignore"):
            x = _fmix64(h ^ np.uint64(seed * 0x9E3779B97F4A7C15 % (1 << 64)))
        bins = ((x >> np.uint64(32)) * np.uint64(num_perm) >> np.uint64(32)).astype(np.int64)
        values = np.minimum(x & np.uint64(0xFFFFFFFF), np.uint64(0xFFFFFFFE)).astype(np.uint32)
        doc = np.repeat(np.arange(n_docs, dtype=np.int64), counts)
        np.minimum.at(sig, doc * num_perm + bins, values)
    sig = sig.reshape(n_docs, num_perm)
    return densify(sig, seed)


def densify(sig: np.ndarray, seed: int, attempts: int = ATTEMPTS) -> np.ndarray:
    """Fill each empty bin from the bin its fixed probe sequence reaches first that was filled
    by the document's own shingles (optimal densification); documents with no shingle stay EMPTY."""
    num_perm = sig.shape[1]
    empty = sig == EMPTY
    rows = np.flatnonzero(empty.any(axis=1) & ~empty.all(axis=1))
    if len(rows) == 0:
        return sig
    orig = sig[rows].copy()
    out = orig.copy()
    todo = orig == EMPTY
    probes = _probe_table(num_perm, seed, attempts)
    for t in range(attempts):
        r, b = np.nonzero(todo)
        if len(r) == 0:
            break
        src = orig[r, probes[t, b]]
        hit = src != EMPTY
        out[r[hit], b[hit]] = src[hit]
        todo[r[hit], b[hit]] = False
    r, b = np.nonzero(todo)
    if len(r):  # very few shingles: the smallest filled value of the row
        filled = np.where(orig == EMPTY, EMPTY, orig).min(axis=1)
        out[r, b] = filled[r]
    sig[rows] = out
    return sig
