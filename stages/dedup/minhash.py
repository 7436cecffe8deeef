"""MinHash signatures computed for whole batches with numpy, bit-identical to datasketch.

datasketch (>= 2.0, default scheme "affine32") hashes each shingle's bytes with ``sha1_hash32``
(the first 4 bytes of SHA-1, little-endian), mixes it with the MurmurHash3 32-bit finalizer, and
applies ``num_perm`` affine permutations ``a*h + b mod 2**32`` whose odd ``a`` and ``b`` come from
``np.random.RandomState(seed)``; the signature is the minimum per permutation. We do the same for
all shingles of a batch at once and take per-document minima with ``np.minimum.reduceat``.
"""

from __future__ import annotations

import numpy as np

from . import kernel as K
from . import vector as V

EMPTY = np.uint32(0xFFFFFFFF)
SIGNATURE_BATCH = 2048  # texts whose shingles are held at once
_CHUNK_ELEMENTS = 1 << 14  # shingles x permutations per numpy step (64 KB of uint32: stays in cache)


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) arrays datasketch draws for scheme affine32."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (a bijection), as datasketch applies it."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signatures(texts: list[str], num_perm: int, seed: int, ngram: int, hash_name: str = "sha1",
               perms: tuple[np.ndarray, np.ndarray] | None = None, scheme: str = "permutations",
               with_hashes: bool = False):
    """(len(texts), num_perm) uint32 signatures. A text with no shingles gets all-EMPTY values.
    ``with_hashes``: (signatures, the texts' shingle hashes for exact verification (uint32, one text
    after another, see kernel.verification_hashes), shingles per text).

    ``hash_name`` sha1/xxh32 hash each shingle's UTF-8 bytes; ``vector`` is a 64-bit hash of the
    units' code points (see .vector). ``scheme`` permutations = datasketch's num_perm affine
    permutations; one-permutation = one hash per shingle, binned, with densification (see .vector).
    The compiled kernel does all of it per text when built; the numpy code below is its twin."""
    if len(texts) > SIGNATURE_BATCH:  # bounded memory: shingles of a batch at a time
        parts = list(signature_batches(texts, num_perm, seed, ngram, hash_name, scheme, with_hashes))
        if not with_hashes:
            return np.concatenate(parts)
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))
    perms = perms if perms is not None else permutations(num_perm, seed)
    sig = K.signatures(texts, ngram, hash_name, scheme, num_perm, seed, perms, with_hashes)
    if sig is not None:
        return sig
    h, counts = K.shingle_hashes(texts, ngram, hash_name)  # the Python path, without the kernel
    if scheme == "one-permutation":
        sig = V.one_permutation(h.astype(np.uint64), counts, num_perm, seed)
    else:
        a, b = perms
        h32 = (h >> np.uint64(32)).astype(np.uint32) if h.dtype == np.uint64 else h
        sig = np.full((len(texts), num_perm), EMPTY, dtype=np.uint32)
        if len(h32):
            sig = minima(fmix32(h32), counts, a, b, sig)
    return (sig, K.verification_hashes(h), counts) if with_hashes else sig


def signature_batches(texts: list[str], num_perm: int, seed: int, ngram: int, hash_name: str, scheme: str,
                      with_hashes: bool = False):
    """``signatures`` of SIGNATURE_BATCH texts at a time, batch after batch (a caller can write each
    batch's shingle hashes away before the next is made)."""
    perms = permutations(num_perm, seed)
    for i in range(0, len(texts), SIGNATURE_BATCH):
        yield signatures(texts[i:i + SIGNATURE_BATCH], num_perm, seed, ngram, hash_name, perms, scheme, with_hashes)


def minima(hv: np.ndarray, counts: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Per-document minima of ``a*h + b`` over the documents' (consecutive) shingle hashes ``hv``.

    The work is cut into pieces of a fixed number of shingles so the (piece x num_perm) temporary
    stays in cache; a document that spans pieces gets the minimum of its parts."""
    num_perm = len(a)
    piece = max(1, _CHUNK_ELEMENTS // num_perm)
    ends = np.cumsum(counts)
    starts = ends - counts
    nonempty = np.flatnonzero(counts > 0)
    s_ne, e_ne = starts[nonempty], ends[nonempty]
    buf = np.empty((piece, num_perm), dtype=np.uint32)
    for lo in range(0, len(hv), piece):
        hi = min(lo + piece, len(hv))
        # documents overlapping [lo, hi): each is one contiguous segment of this piece
        first = np.searchsorted(e_ne, lo, side="right")
        last = np.searchsorted(s_ne, hi, side="left")
        docs = nonempty[first:last]
        seg = np.maximum(s_ne[first:last], lo) - lo
        ph = buf[:hi - lo]
        np.multiply(hv[lo:hi, None], a, out=ph)
        ph += b
        out[docs] = np.minimum(out[docs], np.minimum.reduceat(ph, seg, axis=0))
    return out


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(bands, docs) uint64 keys, band-major (the reduce reads one band at a time): each band's
    ``rows`` values folded into one 64-bit hash."""
    n = sigs.shape[0]
    keys = np.empty((bands, n), dtype=np.uint64)
    mult = np.uint64(0x9E3779B97F4A7C15)
    for band in range(bands):
        block = sigs[:, band * rows:(band + 1) * rows].astype(np.uint64)
        h = np.full(n, np.uint64((band * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
        for col in range(rows):
            h = (h ^ block[:, col]) * mult
            h ^= h >> np.uint64(29)
        keys[band] = h
    return keys


def false_positive(threshold: float, bands: int, rows: int) -> float:
    x = np.linspace(0.0, threshold, 201)
    return float(np.trapezoid(1 - (1 - x ** rows) ** bands, x))


def lsh_params(threshold: float, num_perm: int, min_recall: float = 0.97) -> tuple[int, int]:
    """Bands x rows for candidate search: among layouts whose chance of making a pair at exactly
    ``threshold`` a candidate is at least ``min_recall``, the one with the least false-positive
    area below the threshold (candidates are verified afterwards, so recall comes first)."""
    best = None
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if bands < 1:
            break
        recall = 1 - (1 - threshold ** rows) ** bands
        if recall < min_recall:
            continue
        fp = false_positive(threshold, bands, rows)
        if best is None or fp < best[0]:
            best = (fp, bands, rows)
    if best is None:
        return num_perm, 1
    return best[1], best[2]


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    return float(np.mean(sig_a == sig_b))
