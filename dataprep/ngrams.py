"""Hashed n-grams of units for whole batches of texts, in numpy, with where each unit lies.

Units and normalisation are those of the dedup shingles (``dataprep.text``): NFKC, casefold,
digits to 0, punctuation and symbols to space; a unit is one CJK character or one run of other
non-space characters. ``units_of`` finds them for a batch at once: one table lookup per character
gives what ``normalize_for_dedup`` makes of it and its class (space, word character, CJK), and
numpy cuts units and hashes them from their characters. Texts holding a character whose
normalisation depends on its neighbours (combining marks, Hangul jamo) or expands it (ß -> ss)
are normalised in Python first (``fold``). Tests check the units against
``text.units(text.normalize_for_dedup(t))``.

An n-gram is a window of consecutive units of one text. Its hash comes from prefix sums of a
polynomial in the unit hashes (Karp and Rabin, 1987), so windows of any length cost the same and
``Windows.hash(a, b)`` is a function of the units in [a, b) only. ``full_windows`` sizes windows
by script: from each unit a window extends until it holds ``n_word`` words' or ``n_cjk`` CJK
characters' worth of units (a word weighs 1/n_word, a CJK character 1/n_cjk), so English text gets
word n-grams, Chinese text character n-grams and mixed text a blend, the same on both sides of a
comparison. Hashes are 64-bit: two distinct windows collide with probability ~2^-64.

``units_of`` also gives each unit's character span in its text, exact where the normalisation kept
every character in place; ``unit_spans`` aligns any text's units with its original characters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from dataprep import text as T

TABLE_SIZE = 0x30000  # above this, every code point stays itself and is a word character (tested)
SPACE, WORD, CJK = 0, 1, 2
_CJK_UNIT = re.compile(T._UNIT.pattern.split("|")[0])  # a character that is a unit of its own
_SPACE_RE = re.compile(r"\s")  # what str.split() splits at
_HANGUL_JAMO_VT = [*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)]  # compose with what precedes them

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_BASE = np.uint64(0x100000001B3)  # odd, so invertible modulo 2**64
HASH_VERSION = 1  # changes whenever a unit or window hashes differently (cached indexes key on it)


@lru_cache(maxsize=1)
def tables() -> tuple[np.ndarray, np.ndarray]:
    """(out, cls) indexed by code point of casefolded text: the character ``normalize_for_dedup``
    makes of it (digits -> '0', punctuation and symbols -> ' ', else itself) and its class. Both
    rules replace one character by one, so applying them to all code points at once stays aligned."""
    cps = np.arange(TABLE_SIZE, dtype=np.uint32)
    cps[0xD800:0xE000] = ord("a")  # lone surrogates cannot be encoded; they stay word characters below
    chars = cps.astype("<u4").tobytes().decode("utf-32-le")
    mapped = T._NON_WORD.sub(T._space_if_punct, T._DIGIT.sub("0", chars))
    out = np.frombuffer(mapped.encode("utf-32-le"), dtype="<u4").copy()
    cls = np.full(TABLE_SIZE, WORD, dtype=np.uint8)
    cls[[m.start() for m in _SPACE_RE.finditer(mapped)]] = SPACE
    cls[[m.start() for m in _CJK_UNIT.finditer(mapped)]] = CJK
    surrogates = np.arange(0xD800, 0xE000)
    out[surrogates], cls[surrogates] = surrogates, WORD
    return out, cls


@lru_cache(maxsize=1)
def raw_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(out, cls, safe) indexed by code point of text not yet normalised: what NFKC, casefold and
    ``tables`` make of the character alone. Where every character of a text is ``safe`` (NFKC gives
    one starter that nothing composes with, casefold one character), normalising the text is
    normalising each character, so the table replaces the per-text NFKC: full-width forms and
    compatibility characters need no Python pass."""
    out_f, cls_f = tables()
    out, cls = out_f.copy(), cls_f.copy()
    safe = np.ones(TABLE_SIZE, dtype=bool)
    safe[0xD800:0xE000] = False
    codes = [*range(0x80, 0xD800), *range(0xE000, TABLE_SIZE)]
    chars = [chr(c) for c in codes]
    joined = "\0".join(chars)  # NUL is a starter that composes with nothing: each character is normalised alone
    nfkd = unicodedata.normalize("NFKD", joined).split("\0")
    folded = joined.casefold().split("\0")
    combining = unicodedata.combining
    safe[[c for c, ch in zip(codes, chars) if combining(ch)]] = False
    changed = [c for c, ch, d, f in zip(codes, chars, nfkd, folded) if d != ch or f != ch]
    second = set(_HANGUL_JAMO_VT)  # characters that compose with the character before them
    for c in changed:
        d = unicodedata.decomposition(chr(c))
        if d and not d.startswith("<") and len(d.split()) == 2:
            second.add(int(d.split()[1], 16))
    safe[sorted(second)] = False
    for c in changed:
        f = unicodedata.normalize("NFKC", chr(c))
        f = f.casefold() if len(f) == 1 and not combining(f) and ord(f) not in second else ""
        if len(f) != 1 or ord(f) >= TABLE_SIZE:
            safe[c] = False
        else:
            out[c], cls[c] = out_f[ord(f)], cls_f[ord(f)]
    lower = np.frombuffer(bytes(range(0x80)).lower(), dtype=np.uint8)
    out[:0x80], cls[:0x80] = out_f[lower], cls_f[lower]
    return out, cls, safe


def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: every input bit reaches every output bit."""
    with np.errstate(over="ignore"):
        h = h ^ (h >> np.uint64(33))
        h = h * _M1
        h = h ^ (h >> np.uint64(33))
        h = h * _M2
        return h ^ (h >> np.uint64(33))


def fold(text: str) -> tuple[str, bool]:
    """NFKC (where needed) and casefold, as ``normalize_for_dedup`` begins; True when every
    character stayed in place."""
    if text.isascii():
        return text.lower(), True
    kept = unicodedata.is_normalized("NFKC", text)
    if not kept:
        text = unicodedata.normalize("NFKC", text)
    folded = text.casefold()
    return folded, kept and len(folded) == len(text)


@dataclass
class Units:
    """The units of a batch of texts, in order. ``first[d]:first[d+1]`` are text d's units;
    ``start``/``end`` are character offsets in text d, in the original text where ``exact[d]``."""

    hashes: np.ndarray  # uint64
    cjk: np.ndarray  # bool
    start: np.ndarray  # int64
    end: np.ndarray  # int64
    first: np.ndarray  # int64, one more than texts
    exact: np.ndarray  # bool per text

    @cached_property
    def doc_end(self) -> np.ndarray:
        """For each unit, one past the last unit of its text."""
        return np.repeat(self.first[1:], np.diff(self.first))


def _codepoints(s: str) -> np.ndarray:
    if s.isascii():
        return np.frombuffer(s.encode("ascii"), dtype=np.uint8)
    return np.frombuffer(s.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _lookup(cp: np.ndarray, out_t: np.ndarray, cls_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if cp.dtype == np.uint8 or cp.max(initial=0) < TABLE_SIZE:
        return out_t[cp], cls_t[cp]
    inside = cp < TABLE_SIZE
    clipped = np.where(inside, cp, 0)
    return np.where(inside, out_t[clipped], cp), np.where(inside, cls_t[clipped], WORD).astype(np.uint8)


def _classify(folded: str) -> tuple[np.ndarray, np.ndarray]:
    """(normalised code points, classes) of a casefolded string."""
    return _lookup(_codepoints(folded), *tables())


def _cut_units(out: np.ndarray, cls: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(hash, is CJK, start, end) of every unit of classified characters: a CJK character, or a run
    of word characters. A unit's hash is a polynomial in its code points (prefix sums over all the
    characters, so every unit costs the same), finished by a mixer."""
    n = len(cls)
    if n == 0:
        empty = np.empty(0, np.int64)
        return np.empty(0, np.uint64), np.empty(0, bool), empty, empty
    word, cjk = cls == WORD, cls == CJK
    before, after = np.zeros(n, bool), np.zeros(n, bool)
    before[1:], after[:-1] = word[:-1], word[1:]
    starts = np.flatnonzero(cjk | (word & ~before))
    ends = np.flatnonzero(cjk | (word & ~after)) + 1
    power, inverse = _powers(n)
    with np.errstate(over="ignore"):
        prefix = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum(out.astype(np.uint64) * power[:n], out=prefix[1:])
        poly = (prefix[ends] - prefix[starts]) * inverse[starts]
        h = _fmix64(poly ^ ((ends - starts).astype(np.uint64) * _GOLDEN))
    return h, cjk[starts], starts.astype(np.int64), ends.astype(np.int64)


def units_of(texts: list[str | None]) -> Units:
    """The units of every text (None counts as empty), found for the whole batch at once. Texts
    made only of ``raw_tables``' safe characters go straight through the table; the others are
    normalised by ``fold`` first."""
    texts = [t or "" for t in texts]
    exact = np.ones(len(texts), dtype=bool)
    lengths = np.fromiter(map(len, texts), np.int64, len(texts)) + 1  # each text and a newline
    cp = _codepoints("\n".join(texts))
    out_r, cls_r, safe = raw_tables()
    unsafe = np.empty(0, np.int64)
    if cp.dtype != np.uint8:  # code points above the table are safe: none decomposes or has case
        unsafe = np.flatnonzero(~safe[np.minimum(cp, TABLE_SIZE - 1)] & (cp < TABLE_SIZE))
    if len(unsafe):
        redo = np.unique(np.searchsorted(np.cumsum(lengths), unsafe, side="right"))
        for d in redo.tolist():
            texts[d], exact[d] = fold(texts[d])
            lengths[d] = len(texts[d]) + 1
        cp = _codepoints("\n".join(texts))
        folded = np.zeros(len(texts), dtype=bool)
        folded[redo] = True
        folded = np.repeat(folded, lengths)[: len(cp)]
        (o1, c1), (o2, c2) = _lookup(cp, out_r, cls_r), _lookup(cp, *tables())
        out, cls = np.where(folded, o2, o1), np.where(folded, c2, c1)
    else:
        out, cls = _lookup(cp, out_r, cls_r)
    h, cjk, start, end = _cut_units(out, cls)
    offsets = np.cumsum(lengths) - lengths
    first = np.searchsorted(start, np.append(offsets, np.iinfo(np.int64).max), side="left")
    doc = np.repeat(np.arange(len(texts)), np.diff(first))
    return Units(hashes=h, cjk=cjk, start=start - offsets[doc], end=end - offsets[doc], first=first, exact=exact)


def normalized_units(text: str) -> list[str]:
    """The unit strings of one text, as ``units_of`` cuts them (for tests and reports)."""
    folded, _ = fold(text)
    out, cls = _classify(folded)
    _, _, start, end = _cut_units(out, cls)
    chars = out.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")
    return [chars[a:b] for a, b in zip(start.tolist(), end.tolist())]


def unit_spans(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of each unit of ``text`` in the original text, for any text. A piece of text
    that the normalisation keeps in place maps character by character; in the others each
    character (with the combining marks after it) is normalised on its own, which equals
    normalising the piece unless a composition joins two of them (Hangul jamo, half-width voiced
    kana); then every unit of the piece spans it whole. Pieces are cut at whitespace: NFKC never
    composes across it, so they always align."""
    blocks: list[tuple[int, int, str, bool]] = []  # (start, end, normalised text, one character each)
    combining = unicodedata.combining
    for m in re.finditer(r"\s+|\S+", text):
        a, b = m.span()
        whole, in_place = fold(m.group())
        if in_place:
            blocks.append((a, b, whole, True))
            continue
        starts = [i for i in range(a, b) if i == a or not combining(text[i])]
        parts = [(i, j, *fold(text[i:j])) for i, j in zip(starts, starts[1:] + [b])]
        if "".join(p[2] for p in parts) == whole:
            blocks += parts
        else:
            blocks.append((a, b, whole, False))
    if not blocks:
        empty = np.empty(0, np.int64)
        return empty, empty
    lens = np.fromiter((len(t) for _, _, t, _ in blocks), np.int64, len(blocks))
    block = np.repeat(np.arange(len(blocks)), lens)
    first = np.repeat(np.cumsum(lens) - lens, lens)
    bounds = np.array([(a, b) for a, b, _, _ in blocks], dtype=np.int64)
    aligned = np.array([k for _, _, _, k in blocks], dtype=bool)[block]
    char_start = np.where(aligned, bounds[block, 0] + np.arange(len(block)) - first, bounds[block, 0])
    char_end = np.where(aligned, char_start + 1, bounds[block, 1])
    out, cls = _classify("".join(t for _, _, t, _ in blocks))
    _, _, start, end = _cut_units(out, cls)
    return char_start[start], char_end[end - 1]


# --- windows -------------------------------------------------------------------------------------


_POWERS: list[np.ndarray] = []
POWERS_KEPT = 1 << 22  # longer tables (a text of millions of units) are made for the call and dropped


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """BASE**i and BASE**-i modulo 2**64 for i <= n, made by doubling (the second half is the first
    times BASE**half) in a power-of-two size; tables up to POWERS_KEPT long are kept for the next call."""
    if _POWERS and len(_POWERS[0]) > n:
        return _POWERS[0], _POWERS[1]
    size = 1 << max(12, n.bit_length())
    out = []
    for base in (_BASE, np.uint64(pow(int(_BASE), -1, 1 << 64))):
        p = np.empty(size, dtype=np.uint64)
        p[0], filled = 1, 1
        with np.errstate(over="ignore"):
            while filled < size:
                p[filled:2 * filled] = p[:filled] * (p[filled - 1] * base)
                filled *= 2
        out.append(p)
    if size <= POWERS_KEPT:
        _POWERS[:] = out
    return out[0], out[1]


class Windows:
    """Hashes of windows [a, b) of a unit sequence, from one pass of prefix sums."""

    def __init__(self, unit_hashes: np.ndarray):
        n = len(unit_hashes)
        self._pow, self._inv = _powers(n)
        with np.errstate(over="ignore"):
            self._prefix = np.concatenate([[np.uint64(0)], np.cumsum(unit_hashes * self._pow[:n], dtype=np.uint64)])

    def hash(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            poly = (self._prefix[b] - self._prefix[a]) * self._inv[a]
            return _fmix64(poly ^ ((b - a).astype(np.uint64) * _GOLDEN))


def weights(cjk: np.ndarray, n_word: int, n_cjk: int) -> np.ndarray:
    """Integer unit weights: a window is full at n_word * n_cjk (n_word words or n_cjk CJK characters)."""
    return np.where(cjk, n_word, n_cjk).astype(np.int64)


def full_windows(units: Units, n_word: int, n_cjk: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of every full window inside one text: from each unit, the fewest units reaching full weight."""
    n = len(units.hashes)
    a = np.arange(n, dtype=np.int64)
    if n_word == n_cjk:
        b = a + n_word
    else:
        cum = np.concatenate([[0], np.cumsum(weights(units.cjk, n_word, n_cjk))])
        b = np.searchsorted(cum, cum[:-1] + n_word * n_cjk, side="left")
    ok = b <= units.doc_end
    return a[ok], b[ok]


def fixed_windows(units: Units, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of every window of exactly k units inside one text."""
    a = np.arange(len(units.hashes), dtype=np.int64)
    ok = a + k <= units.doc_end
    return a[ok], a[ok] + k
