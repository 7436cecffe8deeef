"""Word n-gram repetition: the compiled kernel (``dataprep._kernels.ngram_repetition``) and its numpy
twin.

Both give the same values, bit for bit (tests compare them on random word sequences): n-grams are
keyed by the same 64-bit hash of their word hashes. Without the compiled module (no C compiler at
install time), or with DATAPREP_PURE_PYTHON=1, the twin runs: same output, several times slower.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

try:
    from dataprep import _kernels as _K
except ImportError:  # built without a C compiler
    _K = None

_MIX = np.uint64(0x9E3779B97F4A7C15)


def available() -> bool:
    """Whether ngram_repetition runs compiled."""
    return (_K is not None and hasattr(_K, "ngram_repetition")
            and os.environ.get("DATAPREP_PURE_PYTHON", "") in ("", "0"))


def _per_doc(values: np.ndarray, doc: np.ndarray, n_docs: int, how: str) -> np.ndarray:
    """Sum or max of ``values`` per document (0 for a document without values); ``doc`` is
    non-decreasing, in [0, n_docs)."""
    if how == "sum":
        return np.bincount(doc, weights=values, minlength=n_docs).astype(np.float64)
    out = np.zeros(n_docs, dtype=np.float64)
    if values.size:
        starts = np.searchsorted(doc, np.arange(n_docs))
        nonempty = starts < np.append(starts[1:], values.size)
        # reduce over the non-empty documents only: each segment then ends where the next begins
        # (an empty document's start, clipped, would cut the value before it from the segment)
        out[nonempty] = np.maximum.reduceat(values, starts[nonempty])
    return out


def repetition(h: np.ndarray, lengths: np.ndarray, doc: np.ndarray, n_docs: int, n: int,
               top: bool) -> np.ndarray:
    """Per document: characters covered by repeat occurrences of word n-grams (``top=False``), or
    count x characters of the most frequent repeated n-gram (``top=True``). ``h``: a hash per word,
    ``lengths``: its characters, ``doc``: its document (non-decreasing)."""
    m = h.size - n + 1
    if m <= 0:
        return np.zeros(n_docs)
    with np.errstate(over="ignore"):
        g = h[:m].copy()
        for k in range(1, n):
            g = g * _MIX + h[k:k + m]
        key = g ^ (doc[:m].astype(np.uint64) * np.uint64(0xD6E8FEB86659FD93))
    valid = doc[:m] == doc[n - 1:]  # the n-gram stays inside one document
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        return np.zeros(n_docs)
    _, first, inverse, counts = np.unique(key[idx], return_index=True, return_inverse=True, return_counts=True)
    cum = np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)))
    if top:
        chars = (cum[idx + n] - cum[idx]).astype(np.float64)
        cover = np.where(counts[inverse] > 1, counts[inverse] * chars, 0.0)
        return _per_doc(cover, doc[idx], n_docs, "max")
    repeat = np.ones(idx.size, dtype=bool)
    repeat[first] = False
    starts = idx[repeat]
    diff = np.bincount(starts, minlength=h.size + 1) - np.bincount(starts + n, minlength=h.size + 1)
    covered = np.cumsum(diff[:-1]) > 0
    return _per_doc(np.where(covered, lengths, 0).astype(np.float64), doc, n_docs, "sum")


def ngram_repetition(h: np.ndarray, lengths: np.ndarray, doc: np.ndarray, n_docs: int,
                     top_sizes: Sequence[int] = (), dup_sizes: Sequence[int] = ()
                     ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``repetition`` for several sizes at once: (one array per top size, one per dup size), each
    with a float64 value per document. ``h``: uint64 hash per word, ``lengths``: its characters
    (>= 0), ``doc``: its document, non-decreasing, in [0, n_docs). The compiled kernel does every
    size in one pass over the documents."""
    top_sizes, dup_sizes = [int(n) for n in top_sizes], [int(n) for n in dup_sizes]
    if any(n < 1 for n in top_sizes + dup_sizes):
        raise ValueError(f"n-gram sizes must be >= 1: {top_sizes}, {dup_sizes}")
    h = np.ascontiguousarray(h, np.uint64)
    lengths = np.ascontiguousarray(lengths, np.int64)
    doc = np.ascontiguousarray(doc, np.int64)
    if available():
        starts = np.searchsorted(doc, np.arange(n_docs + 1, dtype=np.int64)).astype(np.int64)
        raw = _K.ngram_repetition(h, lengths, starts, tuple(top_sizes), tuple(dup_sizes))
        out = [np.frombuffer(r, np.float64).copy() for r in raw]
        return out[:len(top_sizes)], out[len(top_sizes):]
    return ([repetition(h, lengths, doc, n_docs, n, True) for n in top_sizes],
            [repetition(h, lengths, doc, n_docs, n, False) for n in dup_sizes])
