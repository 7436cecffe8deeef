"""The compiled dedup kernels (``dataprep._kernels``) and their pure-Python twins.

Every function here returns the same values with or without the compiled module, so output does
not depend on whether it was built (tests compare both paths on random text). Without it the
stage falls back to ``dataprep.text`` / numpy, several times slower; set DATAPREP_PURE_PYTHON=1 to
force that path.

The kernel normalises text with a per-code-point table built here from the Python definition
(``dataprep.text.normalize_for_dedup``): casefold, digits to 0, punctuation and symbols to space,
whitespace as separators, CJK characters as units of their own. NFKC is not a per-character
mapping (it composes), so it is applied first, in Python, to the texts that need it.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import unicodedata
from functools import lru_cache

import numpy as np

from dataprep import text as T

from . import vector as V
from .cluster import UnionFind, group_pairs

try:
    from dataprep import _kernels as _K
except ImportError:  # built without a C compiler
    _K = None

KINDS = {"sha1": 0, "xxh32": 1, "vector": 2}
TABLE_SIZE = 0x30000  # above this every code point maps to itself and is a word character (tested)
_WORD, _SPACE, _SINGLE = 0, 1, 2
_MULTI = 0x80000000
_warned = False
_SPACE_RE = re.compile(r"\s")  # str.isspace(), as str.split() uses
VECTOR_BATCH = 256  # texts per numpy shingle-hashing step (Python path)


def available() -> bool:
    return _K is not None and os.environ.get("DATAPREP_PURE_PYTHON", "") in ("", "0")


def warn_if_missing() -> None:
    """Say once, on stderr, that the slower path is in use (called by the stage's main process)."""
    global _warned
    if _K is None and not _warned:
        _warned = True
        sys.stderr.write("dataprep: note: dataprep._kernels is not built (no C compiler at install time); "
                         "dedup uses its pure-Python path: same output, several times slower\n")


def char_output(c: str) -> str:
    """What normalize_for_dedup makes of one (NFKC-normalised) character, before whitespace collapsing."""
    return T._NON_WORD.sub(T._space_if_punct, T._DIGIT.sub("0", c.casefold()))


@lru_cache(maxsize=1)
def tables() -> tuple[bytes, bytes]:
    """(fold, multi): fold[cp] = output code point | class << 24, or _MULTI | index into multi,
    whose entries are [count, up to three (code point | class << 24)]."""
    single = V.SINGLE_UNIT
    fold = np.arange(TABLE_SIZE, dtype=np.uint32)
    # Most characters map to themselves as word characters; find the others in bulk.
    cps = np.arange(TABLE_SIZE, dtype=np.uint32)
    cps[0xD800:0xE000] = ord("a")  # lone surrogates: map to themselves as word characters (the default)
    chars = cps.astype("<u4").tobytes().decode("utf-32-le")
    singles = np.array([m.start() for m in single.finditer(chars)], dtype=np.int64)
    fold[singles] = singles.astype(np.uint32) | np.uint32(_SINGLE << 24)  # CJK: itself, a unit of its own
    punct = np.array([m.start() for m in T._NON_WORD.finditer(chars) if unicodedata.category(m.group())[0] in "PS"],
                     dtype=np.int64)
    fold[punct] = np.uint32(ord(" ") | _SPACE << 24)
    # Digits, whitespace and characters that casefold changes go through the Python definition
    # (a test checks the whole table against char_output, code point by code point).
    special = {m.start() for m in T._DIGIT.finditer(chars)}
    special.update(m.start() for m in _SPACE_RE.finditer(chars))
    for lo in range(0, TABLE_SIZE, 256):  # casefold changes few blocks of characters
        block = chars[lo:lo + 256]
        if block.casefold() != block:
            special.update(lo + i for i, c in enumerate(block) if c.casefold() != c)
    special.difference_update(range(0xD800, 0xE000))
    multi: list[list[int]] = []
    for cp in sorted(special):
        out = char_output(chr(cp))
        codes = [ord(o) | (_SPACE if o.isspace() else _SINGLE if single.match(o) else _WORD) << 24 for o in out]
        if len(codes) == 1:
            fold[cp] = codes[0]
        else:  # casefold can give up to three characters (U+0390 -> 3)
            fold[cp] = _MULTI | len(multi)
            multi.append([len(codes), *codes, *[0] * (3 - len(codes))])
    return fold.tobytes(), np.array(multi or [[0, 0, 0, 0]], dtype=np.uint32).tobytes()


@lru_cache(maxsize=1)
def _ready() -> None:
    _K.set_tables(*tables())


def nfkc(texts: list) -> list:
    """NFKC applied to the texts that need it (None stays None)."""
    norm, is_norm = unicodedata.normalize, unicodedata.is_normalized
    return [t if t is None or t.isascii() or is_norm("NFKC", t) else norm("NFKC", t) for t in texts]


def shingle_hashes(texts: list, n: int, hash_name: str) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, counts): the hash of every shingle of every text (with repeats, in order), and how
    many belong to each text. sha1/xxh32 hash the shingle's UTF-8 bytes (uint32); vector is the
    64-bit hash of dataprep.stages.dedup.vector. Same shingles as dataprep.text.shingles(text, n)."""
    if available():
        _ready()
        h, counts = _K.shingle_hashes(nfkc(texts), n, KINDS[hash_name])
        dtype = np.uint64 if hash_name == "vector" else np.uint32
        return np.frombuffer(h, dtype), np.frombuffer(counts, np.int64)
    texts = ["" if t is None else t for t in texts]
    if hash_name == "vector":
        parts = [V.shingle_hashes(texts[i:i + VECTOR_BATCH], n) for i in range(0, len(texts), VECTOR_BATCH)]
        if not parts:
            return np.empty(0, np.uint64), np.empty(0, np.int64)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]).astype(np.int64)
    lists = [T.shingles(t, n) for t in texts]
    flat = [s for lst in lists for s in lst]
    h = hash_shingles(flat, hash_name) if flat else np.empty(0, np.uint32)
    return h, np.fromiter(map(len, lists), np.int64, len(lists))


def hash_shingles(shingles: list[str], hash_name: str) -> np.ndarray:
    """32-bit hashes of shingles (UTF-8 bytes): ``sha1`` as datasketch (the first 4 bytes of SHA-1,
    little-endian), or ``xxh32``. The kernel's twin for the Python path."""
    if hash_name == "sha1":
        sha1 = hashlib.sha1
        return np.fromiter((int.from_bytes(sha1(s.encode("utf-8", "surrogatepass")).digest()[:4], "little")
                            for s in shingles), dtype=np.uint32, count=len(shingles))
    import xxhash

    f = xxhash.xxh32_intdigest
    return np.fromiter((f(s.encode("utf-8", "surrogatepass")) for s in shingles), dtype=np.uint32,
                       count=len(shingles))


def signatures(texts: list, n: int, hash_name: str, scheme: str, num_perm: int, seed: int,
               perms: tuple[np.ndarray, np.ndarray], with_hashes: bool = False):
    """(docs, num_perm) MinHash signatures straight from texts (hashing and MinHash fused per
    text), or None without the kernel. Same values as minhash.signatures' numpy path. With
    ``with_hashes``: (signatures, verification_hashes(shingle hashes), counts)."""
    if not available():
        return None
    _ready()
    a, b = perms
    if scheme == "one-permutation":
        a = b = np.zeros(num_perm, np.uint32)
        probes = V._probe_table(num_perm, seed, V.ATTEMPTS)
    else:
        probes = np.zeros(0, np.int64)
    raw = _K.signatures(nfkc(texts), n, KINDS[hash_name], 1 if scheme == "one-permutation" else 0,
                        np.ascontiguousarray(a, np.uint32), np.ascontiguousarray(b, np.uint32), seed % (1 << 64),
                        np.ascontiguousarray(probes, np.int64), with_hashes)
    if not with_hashes:
        return np.frombuffer(raw, np.uint32).reshape(len(texts), num_perm).copy()
    sigs, h, counts = raw
    return (np.frombuffer(sigs, np.uint32).reshape(len(texts), num_perm).copy(), np.frombuffer(h, np.uint32),
            np.frombuffer(counts, np.int64))


def verification_hashes(h: np.ndarray) -> np.ndarray:
    """What exact verification compares: 32 bits of each shingle hash (the high half of 64-bit ones)."""
    return (h >> np.uint64(32)).astype(np.uint32) if h.dtype == np.uint64 else h.astype(np.uint32)


def band_pairs(keys: np.ndarray, usable: np.ndarray, small_group: int, threads: int = 1) -> np.ndarray:
    """The LSH candidate pairs of all bands, as sorted distinct codes ``i << 32 | j`` (i < j): per band
    (row of ``keys``, one column per item), the ``usable`` items sharing a key form a group, paired
    as ``cluster.group_pairs`` does. The kernel spreads the bands over ``threads`` threads."""
    keys = np.ascontiguousarray(keys, np.uint64)
    usable = np.ascontiguousarray(usable, np.int64)
    if keys.ndim != 2 or keys.shape[0] == 0:
        return np.empty(0, np.uint64)
    if available():
        def run(rows: np.ndarray) -> np.ndarray:
            return np.frombuffer(_K.band_pairs(rows, rows.shape[0], usable, small_group), np.uint64)

        splits = [s for s in np.array_split(keys, max(1, min(threads, keys.shape[0]))) if len(s)]
        if len(splits) == 1:
            return np.sort(run(splits[0]))
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(splits)) as pool:  # the kernel releases the GIL
            codes = np.concatenate(list(pool.map(run, splits)))
        return sorted_distinct(codes)
    return np.unique(np.concatenate([np.empty(0, np.uint64)] + [group_pairs(keys[b, usable], usable, small_group)
                                                                 for b in range(keys.shape[0])]))


def sorted_distinct(codes: np.ndarray) -> np.ndarray:
    """``np.unique`` of pair codes with one extra copy at most: sorted in place, repeats dropped."""
    codes.sort()
    if len(codes) < 2:
        return codes
    distinct = np.empty(len(codes), bool)
    distinct[0] = True
    np.not_equal(codes[1:], codes[:-1], out=distinct[1:])
    return codes[distinct]


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Label per node 0..n-1: the smallest node of its connected component under the edges."""
    left = np.ascontiguousarray(left, np.int64)
    right = np.ascontiguousarray(right, np.int64)
    if available():
        return np.frombuffer(_K.components(n, left, right), np.int64).copy()
    uf = UnionFind(n)
    for a, b in zip(left.tolist(), right.tolist()):
        uf.union(a, b)
    return np.array([uf.find(i) for i in range(n)], dtype=np.int64)


def sig_agreement(parts: list[np.ndarray], part_of: np.ndarray, row_of: np.ndarray, pairs, num_perm: int
                  ) -> np.ndarray:
    """Number of MinHash values each pair of items shares (int32 per pair). Item k's signature is
    row ``row_of[k]`` of ``parts[part_of[k]]`` (uint32, ``num_perm`` columns, often memory-mapped)."""
    part_of = np.ascontiguousarray(part_of, np.int32)
    row_of = np.ascontiguousarray(row_of, np.int64)
    p = np.ascontiguousarray(np.asarray(pairs, dtype=np.int64).reshape(-1, 2))
    if available():
        raw = _K.sig_agreement([np.ascontiguousarray(h, np.uint32) for h in parts], part_of, row_of, p, num_perm)
        return np.frombuffer(raw, np.int32).copy()
    mats = [np.asarray(h, np.uint32).reshape(-1, num_perm) for h in parts]
    out = np.zeros(len(p), np.int32)
    for c in range(0, len(p), 65536):
        chunk = p[c:c + 65536]
        sides = []
        for col in (0, 1):
            k = chunk[:, col]
            sig = np.empty((len(k), num_perm), np.uint32)
            for q in np.unique(part_of[k]).tolist():
                sel = part_of[k] == q
                sig[sel] = mats[q][row_of[k[sel]]]
            sides.append(sig)
        out[c:c + len(chunk)] = np.count_nonzero(sides[0] == sides[1], axis=1)
    return out


def pair_jaccard(parts: list[np.ndarray], part_of: np.ndarray, start_of: np.ndarray, count_of: np.ndarray,
                 pairs) -> list[float]:
    """Exact Jaccard similarity of the distinct hashes of items i and j, for each pair. Item k's
    hashes are ``parts[part_of[k]][start_of[k]:start_of[k] + count_of[k]]``; the parts (often
    memory-mapped) are all uint64 or all uint32 and are read in place."""
    part_of = np.ascontiguousarray(part_of, np.int32)
    start_of = np.ascontiguousarray(start_of, np.int64)
    count_of = np.ascontiguousarray(count_of, np.int64)
    p = np.ascontiguousarray(np.asarray(pairs, dtype=np.int64).reshape(-1, 2))
    if available():
        dtype = np.uint32 if parts and all(h.dtype == np.uint32 for h in parts) else np.uint64
        raw = _K.pair_jaccard([np.ascontiguousarray(h, dtype) for h in parts], part_of, start_of, count_of, p,
                              np.dtype(dtype).itemsize)
        return np.frombuffer(raw, np.float64).tolist()
    sets: dict[int, np.ndarray] = {}

    def get(i: int) -> np.ndarray:
        if i not in sets:
            a = int(start_of[i])
            sets[i] = np.unique(np.asarray(parts[part_of[i]][a:a + int(count_of[i])], np.uint64))
        return sets[i]

    out = []
    for i, j in p.tolist():
        a, b = get(i), get(j)
        inter = len(np.intersect1d(a, b, assume_unique=True))
        union = len(a) + len(b) - inter
        out.append(inter / union if union else 1.0)
    return out
