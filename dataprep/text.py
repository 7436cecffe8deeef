"""Text units shared by every stage: scripts, paragraphs, sentences, words and dedup shingles.

CJK text has no spaces between words, so Han and kana characters count as one word each (or
jieba words with ``cjk="jieba"``); Korean separates words with spaces, so a run of hangul is a
word. Sentences end at ``. ! ?`` followed by space, at the CJK enders ``。！？；…`` and at line
breaks. Dedup shingles are n-grams of *units*: a CJK character or a non-CJK word, so Chinese gets
character n-grams, English word n-grams, and mixed text both. Every stage measures text through
this module, so a Chinese document is measured the same way everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f\u3005\u3007\u303b"
KANA = "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"
HANGUL = "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"
CJK = HAN + KANA + HANGUL

SCRIPT_RANGES = {
    "han": HAN,
    "kana": KANA,
    "hangul": HANGUL,
    "latin": "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff\uff21-\uff3a\uff41-\uff5a",
    "cyrillic": "\u0400-\u052f",
    "arabic": "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff",
    "greek": "\u0370-\u03ff\u1f00-\u1fff",
    "devanagari": "\u0900-\u097f",
    "thai": "\u0e00-\u0e7f",
    "hebrew": "\u0590-\u05ff",
}
SCRIPTS = (*SCRIPT_RANGES, "other")

_SCRIPT_RES = {name: re.compile(f"[{ranges}]") for name, ranges in SCRIPT_RANGES.items()}
_KNOWN = re.compile("[" + "".join(SCRIPT_RANGES.values()) + "]")
_LETTER = re.compile(r"[^\W\d_]")
_CJK_CHAR = re.compile(f"[{CJK}]")

# A word: one Han/kana character, a run of hangul, or a run of other letters/digits (with inner
# apostrophes and hyphens: "don't", "state-of-the-art").
_WORD = re.compile(f"[{HAN}{KANA}ー]|[{HANGUL}]+|(?:(?![{CJK}])[^\\W_])+(?:['’\\-](?:(?![{CJK}])[^\\W_])+)*")
_HAN_RUN = re.compile(f"[{HAN}]+")
# A shingle unit after normalisation: a CJK character, or a run of other word characters.
_UNIT = re.compile(f"[{CJK}ー]|[^\\s{CJK}ー]+")

_PARA = re.compile(r"[^\r\n\u2028\u2029]+")
_NON_SPACE = re.compile(r"\S")

_ABBREVIATIONS = {"e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "no", "fig",
                  "al", "inc", "ltd", "co", "u.s", "u.k", "a.m", "p.m", "approx", "dept", "est", "vol"}
_CLOSERS = "\"'”’」』）)】》〉]"
# A sentence ends after . ! ? (+ closers) followed by whitespace or the end, after CJK enders
# (+ closers) anywhere, or at a line break.
_CLOSERS_CLASS = "[" + re.escape(_CLOSERS) + "]"
_SENT_END = re.compile(
    f"(?:[.!?]+{_CLOSERS_CLASS}*(?=\\s|$))|(?:(?:……|…|[。！？；．!?;]){_CLOSERS_CLASS}*)|\\n"
)


def script_counts(text: str) -> dict[str, int]:
    """Letters per script (digits, punctuation, spaces and emoji are not counted)."""
    counts = {name: len(rx.findall(text)) for name, rx in _SCRIPT_RES.items()}
    counts = {k: v for k, v in counts.items() if v}
    other = len(_LETTER.findall(_KNOWN.sub("", text)))
    if other:
        counts["other"] = other
    return counts


def script_shares(text: str) -> dict[str, float]:
    counts = script_counts(text)
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total else {}


def cjk_share(text: str) -> float:
    shares = script_shares(text)
    return shares.get("han", 0.0) + shares.get("kana", 0.0) + shares.get("hangul", 0.0)


def dominant_script(text: str) -> str | None:
    counts = script_counts(text)
    return max(counts, key=lambda k: (counts[k], k)) if counts else None


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-empty line, stripped of surrounding whitespace."""
    spans = []
    for m in _PARA.finditer(text):
        line = m.group()
        lead = len(line) - len(line.lstrip())
        body = line.strip()
        if body:
            start = m.start() + lead
            spans.append((start, start + len(body)))
    return spans


def split_paragraphs(text: str) -> list[str]:
    return [text[a:b] for a, b in paragraph_spans(text)]


def _is_abbreviation(text: str, dot: int) -> bool:
    """Is the '.' at ``dot`` part of an abbreviation or a number like 3.14?"""
    if dot + 1 < len(text) and text[dot + 1].isdigit():
        return True
    start = dot
    while start > 0 and (text[start - 1].isalpha() or text[start - 1] == "."):
        start -= 1
    word = text[start:dot]
    return word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isupper())  # initials: "J. Smith"


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, stripped; sentences never cross line breaks."""
    spans = []
    start = 0
    for m in _SENT_END.finditer(text):
        end = m.end()
        tok = m.group()
        if tok[0] == "." and len(tok.rstrip(_CLOSERS)) == 1 and _is_abbreviation(text, m.start()):
            continue
        _add_span(text, start, end, spans)
        start = end
    _add_span(text, start, len(text), spans)
    return spans


def _add_span(text: str, start: int, end: int, spans: list) -> None:
    piece = text[start:end]
    first = _NON_SPACE.search(piece)
    if first is None:
        return
    body = piece.rstrip()
    spans.append((start + first.start(), start + len(body)))


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def words(text: str, cjk: str = "char") -> list[str]:
    """Word tokens: a Han/kana character each (or jieba words), hangul runs, other letter runs."""
    if cjk == "jieba":
        return _jieba_words(text)
    if cjk != "char":
        raise ValueError(f"cjk must be 'char' or 'jieba', not {cjk!r}")
    return _WORD.findall(text)


def _jieba_words(text: str) -> list[str]:
    try:
        import jieba
    except ImportError:
        raise ImportError("cjk='jieba' needs the jieba package: pip install jieba") from None
    out: list[str] = []
    pos = 0
    for m in _HAN_RUN.finditer(text):
        out.extend(_WORD.findall(text[pos:m.start()]))
        out.extend(w for w in jieba.lcut(m.group(), HMM=True) if w.strip())
        pos = m.end()
    out.extend(_WORD.findall(text[pos:]))
    return out


def count_words(text: str, cjk: str = "char") -> int:
    if cjk == "char":
        return sum(1 for _ in _WORD.finditer(text))
    return len(words(text, cjk))


_DIGIT = re.compile(r"\d")


_NON_WORD = re.compile(r"[^\w\s]|_")


def _space_if_punct(m: re.Match) -> str:
    c = m.group()
    return " " if unicodedata.category(c)[0] in "PS" else c


_ASCII_FOLD = str.maketrans({**{c: " " for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"},
                             **{d: "0" for d in "123456789"}})


def normalize_for_dedup(text: str) -> str:
    """NFKC (folds full-width forms), casefold, digits -> 0, punctuation and symbols (Unicode
    categories P*, S*) removed, whitespace runs collapsed to one space, stripped."""
    if text.isascii():
        text = text.lower().translate(_ASCII_FOLD)
    else:
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
        text = _NON_WORD.sub(_space_if_punct, _DIGIT.sub("0", text.casefold()))
    return " ".join(text.split())


def units(text: str) -> list[str]:
    """Shingle units of normalised text: each CJK character, each other space-separated word."""
    return text.split() if text.isascii() else _UNIT.findall(text)


def shingles(text: str, n: int = 5) -> list[str]:
    """Distinct n-grams of units of the normalised text, in first-occurrence order. A text with
    fewer than n units gives one shingle of all its units; a text with no units gives none."""
    u = units(normalize_for_dedup(text))
    if not u:
        return []
    if len(u) <= n:
        return [" ".join(u)]
    return list(dict.fromkeys(map(" ".join, zip(*(u[i:] for i in range(n))))))


def shingles_batch(texts: list[str], n: int = 5) -> list[list[str]]:
    return [shingles(t, n) for t in texts]


def char_count(text: str) -> int:
    return len(text)


def stats(text: str, cjk: str = "char") -> dict:
    """Basic measurements used by filters and reports."""
    w = words(text, cjk)
    return {
        "chars": len(text),
        "words": len(w),
        "paragraphs": len(paragraph_spans(text)),
        "sentences": len(sentence_spans(text)),
        "mean_word_length": (sum(map(len, w)) / len(w)) if w else 0.0,
        "cjk_share": cjk_share(text),
        "dominant_script": dominant_script(text),
        "top_word_share": (Counter(w).most_common(1)[0][1] / len(w)) if w else 0.0,
    }
