"""Normalise text so that obfuscated terms match, and find every listed term in one pass.

Text and terms go through the same canonical form:

1. one character at a time (a lookup table built once per process): NFKC (full-width letters
   and digits, ligatures, circled and compatibility forms), lower case, accents and other
   combining marks dropped, Cyrillic and Greek look-alikes of Latin letters mapped to them,
   traditional forms of the characters of the built-in Chinese terms mapped to simplified ones,
   ``l`` folded into ``i`` (so ``1`` can stand for either), invisible characters (zero-width
   spaces, joiners, bidi marks, soft hyphens) removed; every space becomes `` ``, every symbol
   (``* ~ ^ # = + | ★ • ·`` ...) ``*`` and every dash ``-``;
2. digits and ``@ $`` inside a Latin word become the letters they imitate (``p0rn``, ``c4s1no``,
   ``$ex``); a word of digits alone (``2024``) stays as it is;
3. gaps are closed: up to three gap characters (spaces, symbols, ``. - / & % @ $``) between
   single letters (``p o r n``, ``c.a.s.i.n.o``; wider gaps among them stay, as word breaks),
   between Chinese characters (``赌 博``, ``赌*博``), and symbols inside a Latin word
   (``po*rn``). Nothing else is a gap: line breaks, sentence punctuation (``, ! ? ; : 。 、 …``),
   quotes and brackets are never closed, so two clauses do not run together into a term.

Steps 2 and 3 keep the length of the text (removed characters become a placeholder, dropped at
the end), so a match in the canonical text maps back to the characters of the original text it
came from (``original_spans``). Terms match as whole words where they begin or end with a Latin
letter or digit (``bet`` would not match ``alphabet``), anywhere for Chinese characters; a space
inside a term matches up to three gap characters or none (``online casino``, ``online-casino``,
``onlinecasino``).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from dataprep.config import ConfigError

from .terms import Lexicon

GONE = "\x00"  # placeholder for a removed character: keeps positions until the end
GAP = " *.\\-/&%@$\x00"  # the characters (after step 1) that can be closed as gaps, as a regex class body
SOFT = f"[{GAP}]"
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
LATIN = "a-z0-9"

# Look-alikes of Latin letters (lower case, after NFKC): Cyrillic and Greek.
HOMOGLYPHS = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "i",
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
    "ɑ": "a", "ɡ": "g", "ı": "i", "ʟ": "i", "l": "i",  # l and 1 both become i: ``ki11`` is ``kill``
}
# Traditional forms of the characters of the built-in Chinese terms, as (traditional, simplified) pairs.
TRADITIONAL = ("賭赌場场娛娱樂乐線线網网註注冊册門门時时賽赛車车飛飞開开獎奖碼码體体臺台機机電电遊游藝艺戶户贏赢"
               "賺赚賠赔現现額额憂忧視视頻频訊讯龍龙鬥斗優优錢钱資资莊庄撲扑輪轮盤盘圍围黃黄級级亂乱倫伦穢秽愛爱"
               "戲戏約约際际樓楼鳳凤會会無无艷艳豔艳聖圣戰战殺杀彈弹藥药製制槍枪襲袭擊击極极義义斬斩處处決决滅灭"
               "絕绝異异裝装淨净組组織织種种萬万們们為为還还爭争動动發发國国圖图類类絡络榮荣譽誉質质運运陽阳須须"
               "穩稳婦妇歲岁敵敌畫画獻献")
# Punctuation outside ASCII that separates (kept as it is, so never a gap); other punctuation is a symbol.
_SEPARATORS = "\u3002\u3001\u2026\u2025\u00a1\u00bf\u00a7\u00b6"
# Blocks whose characters all map to themselves (apart from TRADITIONAL): no need to look each up.
_PLAIN_BLOCKS = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xA000, 0xA4CF), (0xAC00, 0xD7A3), (0xD800, 0xF8FF))


def _map_char(c: str) -> str:
    if c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029":
        return "\n"
    cat = unicodedata.category(c)
    if cat in ("Cc", "Zs") or c == "\t":
        return " "
    if cat in ("Cf", "Mn", "Me") or "\ufe00" <= c <= "\ufe0f":
        return GONE
    if c in _SEPARATORS:
        return "\u2026" if c == "\u2025" else c  # NFKC would make ``…`` three dots, which are gaps
    if c == "_" or cat in ("Pd", "Pc"):
        return "-"
    d = unicodedata.normalize("NFKD", c).lower()
    d = "".join(ch for ch in d if not unicodedata.combining(ch))
    n = "".join(HOMOGLYPHS.get(ch, ch) for ch in unicodedata.normalize("NFKC", d))
    if len(n) == 1 and n in "~^#=+|\\":
        return "*"
    if len(n) == 1 and not n.isascii() and unicodedata.category(n)[0] == "S" or cat == "Po" and not n.isascii():
        return "*"  # symbols (★ ♥ → ·) and punctuation such as • ・ ※ beyond ASCII: gaps like ``*``
    return n or GONE


@functools.lru_cache(maxsize=1)
def char_table() -> tuple[str, ...]:
    """What step 1 makes of each character of the Basic Multilingual Plane (others stay as they are)."""
    table = [chr(cp) for cp in range(0x10000)]
    plain = np.zeros(0x10000, dtype=bool)
    for lo, hi in _PLAIN_BLOCKS:
        plain[lo:hi + 1] = True
    for cp in np.flatnonzero(~plain).tolist():
        table[cp] = _map_char(table[cp])
    for i in range(0, len(TRADITIONAL), 2):
        table[ord(TRADITIONAL[i])] = TRADITIONAL[i + 1]
    return tuple(table)


_EXPANDS = np.uint32(0xFFFFFFFF)


@functools.lru_cache(maxsize=1)
def _code_table() -> np.ndarray:
    """``char_table`` as code points for every character, ``_EXPANDS`` where one becomes several."""
    codes = np.arange(0x110000, dtype=np.uint32)
    codes[:0x10000] = [ord(s) if len(s) == 1 else _EXPANDS for s in char_table()]
    return codes


def translate(text: str) -> str:
    """Step 1. ASCII text through ``str.translate`` (fast for ASCII); other text through an array
    lookup, which is many times faster for Chinese; text with characters that expand (ligatures,
    ``㎏``, ``⑴``) through ``str.translate`` again."""
    if text.isascii():
        return text.translate(char_table())
    mapped = _code_table()[np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)]
    if (mapped == _EXPANDS).any():
        return text.translate(char_table())
    return mapped.tobytes().decode("utf-32-le")


# A Latin word that mixes letters with digits or @ $: those become the letters they imitate. The
# cheap check (it starts with a rare character class, so the regex engine skips ahead) runs first.
_HAS_MIXED = re.compile(r"[0-9@$](?:(?<=[a-z].)|(?=[a-z]))")
_MIXED = re.compile(r"(?<![a-z0-9@$])(?=[0-9@$]*[a-z])(?=[a-z]*[0-9@$])[a-z0-9@$]+")
_DIGITS = str.maketrans("013456789@$", "oieasgtbgas")
# Gaps to close (step 3). Each regex starts with a small character class, so the engine skips
# ahead to the few places worth trying; the single-letter one runs only where its cheap check
# finds two single letters in a row.
_TWO_SINGLES = re.compile(f"{SOFT}[^\\W_]{SOFT}{{1,3}}[^\\W_](?![^\\W_])")
_SINGLES = re.compile(f"(?<![^\\W_])[^\\W_](?:{SOFT}{{1,3}}[^\\W_]){{2,}}(?![^\\W_])")
_HAN_GAPS = re.compile(f"{SOFT}(?<=[{HAN}]{SOFT}){SOFT}{{0,2}}(?=[{HAN}])")
_IN_WORD = re.compile(r"\*(?<=[a-z]\*)\*{0,2}(?=[a-z])")
_NON_KEY = re.compile(r"[\W_]+")
FLEX = f"{SOFT}{{0,3}}"  # what a space inside a term matches


_GAP_RUN = re.compile(f"{SOFT}+")


def _close_singles(m: re.Match) -> str:
    """Close the gaps between spaced-out letters; wider gaps stay, as word breaks: ``p o r n  s i t e``
    becomes ``porn  site``."""
    text = m.group()
    narrowest = min(len(g) for g in _GAP_RUN.findall(text))
    return _GAP_RUN.sub(lambda g: GONE * narrowest if len(g.group()) == narrowest else g.group(), text)


def _gone(m: re.Match) -> str:
    return GONE * (m.end() - m.start())


def _fix_mixed(text: str) -> str:
    if _HAS_MIXED.search(text) is None:
        return text
    return _MIXED.sub(lambda m: m.group().translate(_DIGITS), text)


def canonical_steps(text: str) -> str:
    """The canonical text before placeholders are dropped: as long as ``translate(text)``."""
    t = _fix_mixed(translate(text))
    if _TWO_SINGLES.search(t) is not None:
        t = _SINGLES.sub(_close_singles, t)
    t = _HAN_GAPS.sub(_gone, t)
    return _IN_WORD.sub(_gone, t)


def canonical(text: str) -> str:
    """Text as the matcher sees it (see the module docstring)."""
    return canonical_steps(text).replace(GONE, "")


def canonical_term(term: str) -> list[str]:
    """A listed term as the words of its canonical form (no gap closing: a term is written plainly)."""
    return _fix_mixed(translate(term).replace(GONE, "")).split()


def original_spans(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Map spans of ``canonical(text)`` back to spans of ``text``."""
    table = char_table()
    t = canonical_steps(text)
    if len(t) == len(text):
        owner = np.arange(len(text))
    else:  # some characters expanded (ligatures, ``㎏``): each piece belongs to its character
        sizes = [len(table[ord(c)]) if ord(c) < 0x10000 else 1 for c in text]
        owner = np.repeat(np.arange(len(text)), sizes)
    kept = np.flatnonzero(np.frombuffer(t.encode("utf-32-le"), dtype=np.uint32) != 0)
    where = owner[kept]
    return [(int(where[s]), int(where[e - 1]) + 1) for s, e in spans]


# --- the trie-shaped regex ------------------------------------------------------------------------

_SPACE = object()  # a trie edge for a space inside a term


def _is_latin(ch: str) -> bool:
    return "a" <= ch <= "z" or "0" <= ch <= "9"


def _rust_literal(ch: str) -> str:
    return ch if ch.isalnum() else f"\\x{{{ord(ch):x}}}"


_RUST_FLEX = "[" + "".join(_rust_literal(c) for c in GAP.replace("\\", "")) + "]{0,3}"


def _trie_regex(sequences: list[list], rust: bool = False) -> str:
    """One regex for many terms, shaped like their trie: at each point the engine tries only the
    characters that can follow, not every term. Terms starting with a Latin letter or digit match
    only at the start of a word, and those ending with one only at its end.

    ``rust=True`` gives the same terms for Rust's regex engine (polars), which has no look-around:
    the word-start and word-end checks consume the neighbouring character instead, so it finds
    whether a text has a match (not where), for the same texts as the Python regex."""
    root: dict = {}
    for seq in sequences:
        node = root
        for piece in seq:
            node = node.setdefault(piece, {})
        node[None] = True  # a term ends here
    esc = _rust_literal if rust else re.escape
    flex = _RUST_FLEX if rust else FLEX
    word_end = f"(?:[^{LATIN}]|$)" if rust else f"(?![{LATIN}])"

    def emit(node: dict, last: str | None) -> str:
        alts = [esc(piece) + emit(node[piece], piece) for piece in sorted(k for k in node if isinstance(k, str))]
        if _SPACE in node:
            alts.append(flex + emit(node[_SPACE], None))
        if None in node:  # after the longer terms: the longest match wins
            alts.append(word_end if last is not None and _is_latin(last) else "")
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    # Each alternative starts with its literal first character, so the engine skips every position
    # whose character starts no term; the word-start check comes right after that character.
    if rust:
        return "|".join((f"(?:^|[^{LATIN}])" if _is_latin(first) else "") + esc(first) + emit(root[first], first)
                        for first in sorted(k for k in root if isinstance(k, str)))
    return "|".join(re.escape(first) + (f"(?<![{LATIN}].)" if _is_latin(first) else "") + emit(root[first], first)
                    for first in sorted(k for k in root if isinstance(k, str)))


@dataclass
class Found:
    """One document's matches: per category the number of matches and their summed weight, and
    per term (its index in the lexicon) the spans of its matches in the canonical text."""

    hits: list[int]
    weight: list[float]
    terms: dict[int, list[tuple[int, int]]] = field(default_factory=dict)


class Matcher:
    """Every term of a lexicon compiled into two trie-shaped regexes over canonical text: terms that
    start with a Latin letter or digit, and the others (Chinese). Two regexes scan faster than one,
    as English positions then never try the Chinese alternatives and the other way round."""

    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon
        self.categories = lexicon.categories
        cat_index = {c: i for i, c in enumerate(self.categories)}
        by_key: dict[str, dict[int, int]] = {}  # canonical key -> category -> the term that counts
        latin, other = [], []
        for i, term in enumerate(lexicon.terms):
            words = canonical_term(term.text)
            chars = "".join(words)
            if sum(ch.isalnum() for ch in chars) < 2 or not any(ch.isalpha() for ch in chars):
                raise ConfigError(f"{term.where}: term {term.text!r} is too short to match safely "
                                  "(it needs a letter and at least two letters or digits)")
            key = _NON_KEY.sub("", chars)
            if key not in by_key:
                seq: list = []
                for j, w in enumerate(words):
                    seq.extend(([_SPACE] if j else []) + list(w))
                (latin if _is_latin(seq[0]) else other).append(seq)
            cat = cat_index[term.category]
            same = by_key.setdefault(key, {})
            if cat not in same or term.weight > lexicon.terms[same[cat]].weight:
                same[cat] = i  # a term listed twice in a category counts once, with its highest weight
        self._by_key = {k: [(i, cat, lexicon.terms[i].weight) for cat, i in sorted(v.items())]
                        for k, v in by_key.items()}
        self.patterns = tuple(_trie_regex(seqs) for seqs in (latin, other) if seqs)
        self.rust_patterns = tuple(_trie_regex(seqs, rust=True) for seqs in (latin, other) if seqs)

    @functools.cached_property
    def regexes(self) -> tuple[re.Pattern, ...]:
        return tuple(re.compile(p, re.S) for p in self.patterns)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("regexes", None)  # compiled again on first use; re's cache makes that once per process
        return state

    def find_many(self, texts: list[str]) -> list[Found]:
        """``find`` of every text. polars (Rust's regex engine, a literal prefilter ahead of it) tells
        which canonical texts have a match of each regex at all; Python's regex then runs only on
        those, to find where (most documents have none)."""
        import polars as pl

        canon = pl.Series([canonical(t) for t in texts], dtype=pl.String)
        hits = [canon.str.contains(p).to_list() for p in self.rust_patterns]
        return [self._find_canonical(c, [rx for rx, h in zip(self.regexes, flags) if h])
                for c, *flags in zip(canon.to_list(), *hits)]

    def find(self, text: str) -> Found:
        return self._find_canonical(canonical(text), self.regexes)

    def _find_canonical(self, c: str, regexes: tuple | list) -> Found:
        n = len(self.categories)
        found = Found([0] * n, [0.0] * n)
        matches = [(m.start(), m.end(), m.group()) for rx in regexes for m in rx.finditer(c)]
        if len(regexes) > 1:
            matches.sort(key=lambda m: (m[0], -m[1]))
        end = 0
        for start, stop, matched in matches:
            if start < end:  # overlaps an earlier match (``日本av`` and ``av女优``): counted once
                continue
            end = stop
            for term, cat, weight in self._by_key[_NON_KEY.sub("", matched)]:
                found.hits[cat] += 1
                found.weight[cat] += weight
                found.terms.setdefault(term, []).append((start, stop))
        return found

    def describe(self, text: str, found: Found, categories: set[int] | None = None, limit: int = 8) -> str:
        """The matched terms of ``categories`` (default: all), most frequent first, with the original
        text of the first match where it differs from the term: ``casino bonus ×3; porn ×1 ('p*o*r*n')``."""
        terms = [(t, spans) for t, spans in found.terms.items()
                 if categories is None or self.categories.index(self.lexicon.terms[t].category) in categories]
        terms.sort(key=lambda ts: (-len(ts[1]), ts[0]))
        shown = terms[:limit]
        firsts = original_spans(text, [spans[0] for _, spans in shown])
        parts = []
        for (t, spans), (s, e) in zip(shown, firsts):
            written = self.lexicon.terms[t].text
            seen = text[s:e]
            note = f" ({seen[:40]!r})" if seen.lower() != written.lower() else ""
            parts.append(f"{written} ×{len(spans)}{note}")
        if len(terms) > limit:
            parts.append(f"+{len(terms) - limit} more terms")
        return "; ".join(parts)

