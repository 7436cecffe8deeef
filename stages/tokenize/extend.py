"""Extend a tokenizer's vocabulary for new text (another language, a domain) without moving any id.

New pieces are learnt as a continuation of the base's own segmentation: the corpus is encoded by
the base tokenizer, cut into words (a piece never spans whitespace after text, a change of script,
or a special token), and adjacent base tokens are merged, the most frequent pair first, as a BPE
trainer merges characters. The pieces this gives that the base does not have are appended after
the base's last id, in the order they were learnt:

- SentencePiece ``.model``: as pieces with scores below every base score, so the base's merges
  (BPE) all apply before any new one, and a new piece wins (unigram) only where it replaces base
  pieces; characters the base lacks (byte fallback or ``<unk>``) become pieces, the most frequent
  (CHARACTER_COVERAGE of the text) first and any other before the first piece that holds it.
- HF ``tokenizer.json`` BPE: as vocabulary entries with the merges that build them, ranked after
  all of the base's merges; for a byte-level BPE every piece is built from base tokens, for a
  character BPE missing characters are added as in SentencePiece.

Text the new pieces do not match is segmented exactly as by the base. The vocabulary is then
padded to a multiple of ``pad_to`` with reserved special tokens that encoding never produces.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import pyarrow.parquet as pq
import xxhash

from dataprep.corpus import Corpus, atomic_write_bytes, ensure_dir, read_parquet
from dataprep.stage import StageError
from dataprep.text import SCRIPT_RANGES, script_counts

from . import loader as L

MAX_PIECE_CHARS = 16  # longest new piece, in characters (SentencePiece's default max_sentencepiece_length)
MIN_PAIR_COUNT = 2  # a pair seen once in the corpus is not worth a vocabulary entry
CHARACTER_COVERAGE = 0.9995  # missing characters added first: those making up this share of the text
RESERVED = "<|reserved_{}|>"  # padding tokens
BATCH_DOCS = 256
# Symbols are handed to the BPE trainer as single code points from here on (above the BMP, so
# none is whitespace or a surrogate).
_CODE_BASE = 0x10000
_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")
_INSIDE = "+"  # class of a symbol edge that falls inside a character's bytes


# --- where a piece may not continue ----------------------------------------------------------

_SCRIPT_RES = [(name, re.compile(f"[{ranges}]")) for name, ranges in SCRIPT_RANGES.items()]


@lru_cache(maxsize=1 << 16)
def char_class(c: str) -> str:
    """" " a space, "\\t" other whitespace, "0" a number, "" a combining mark (belongs to what
    precedes it), a script name for a letter (Han and kana are one, as for SentencePiece), "*"
    anything else (punctuation, symbols, emoji: Unicode's Common script)."""
    if c.isspace():
        return " " if c == " " else "\t"
    cat = unicodedata.category(c)
    if cat[0] == "N":
        return "0"
    if cat[0] == "M":
        return ""
    if cat[0] != "L":
        return "*"
    for name, rx in _SCRIPT_RES:
        if rx.match(c):
            return "han" if name == "kana" else name
    return unicodedata.name(c, "letter").split(" ")[0].lower()


def _edges(surface: bytes) -> tuple[str, str, int]:
    """(class at the start, class at the end, characters) of a symbol's UTF-8 bytes; an edge that
    cuts a character is _INSIDE."""
    n = len(surface)
    if not n:
        return "*", "*", 0
    head = _INSIDE if surface[0] & 0xC0 == 0x80 else None
    lead = n - 1
    while lead > 0 and surface[lead] & 0xC0 == 0x80:
        lead -= 1
    first = surface[lead]
    width = 1 if first < 0x80 else 2 if first >= 0xC0 and first < 0xE0 else 3 if first < 0xF0 else 4
    tail = _INSIDE if (first & 0xC0 == 0x80 or lead + width > n) else None
    text = surface.decode("utf-8", "ignore")
    chars = sum(1 for b in surface if b & 0xC0 != 0x80)
    if not text:
        return _INSIDE, _INSIDE, chars
    if head is None:
        head = char_class(text[0])
    if tail is None:
        tail = next((k for k in map(char_class, reversed(text)) if k), "*")
    return head, tail, chars


@dataclass(frozen=True)
class Rules:
    digits_alone: bool = False  # the base keeps every digit a piece of its own
    space_suffix: bool = False  # whitespace ends a piece instead of starting one

    def split(self, tail: str, head: str) -> bool:
        """May a piece not continue from a symbol ending in class ``tail`` to one starting in ``head``?"""
        if tail == _INSIDE or head == _INSIDE or head == "":
            return False
        if self.digits_alone and (tail == "0" or head == "0"):
            return True
        if self.space_suffix:
            tail, head = head, tail
        if tail == " " or (tail == "\t" and head in " \t"):
            return False  # a space starts a piece, and a run of whitespace goes on
        return tail != head


# --- the base tokenizer ------------------------------------------------------------------------

@dataclass
class Base:
    """A base tokenizer as the learner sees it: its pieces, and its segmentation of text as words
    of symbols (its pieces, or characters it lacks) in the strings of its own vocabulary."""

    info: L.TokInfo
    kind: str  # "sp" or "hf"
    label: str  # "SentencePiece BPE", "byte-level BPE", ...
    size: int  # ids 0 .. size-1
    known: set[str]  # every piece, special ones included
    char_vocab: bool  # characters it lacks can be added as pieces (not byte-level)
    max_chars: int
    rules: Rules
    surface: Callable[[str], bytes]  # the text bytes a symbol stands for
    units: Callable[[list[str]], Iterator[list[tuple]]] = field(repr=False)
    missing: Counter = field(default_factory=Counter)  # characters the base lacks, as seen
    _meta: dict = field(default_factory=dict, repr=False)
    _symbols: list = field(default_factory=list, repr=False)

    def code(self, symbol: str) -> tuple[str, str, str]:
        """(code point for the trainer, class at start, class at end) of a symbol."""
        m = self._meta.get(symbol)
        if m is None:
            if _CODE_BASE + len(self._symbols) > 0x10FFFF:
                raise StageError("tokenizer extend: the corpus has more distinct symbols than the learner can hold "
                                 f"({0x10FFFF - _CODE_BASE:,})")
            head, tail, _ = _edges(self.surface(symbol))
            m = self._meta[symbol] = (chr(_CODE_BASE + len(self._symbols)), head, tail)
            self._symbols.append(symbol)
        return m

    def symbol(self, code: str) -> str:
        return self._symbols[ord(code) - _CODE_BASE]

    def chars(self, piece: str) -> int:
        return _edges(self.surface(piece))[2]

    def text(self, piece: str) -> str:
        """The text of a piece; bytes that are part of a character (byte-level pieces) as \\xNN."""
        return self.surface(piece).decode("utf-8", "backslashreplace")

    def words(self, texts: list[str]) -> Iterator[list[str]]:
        """For each text, its words of at least two symbols, each as a string of trainer code
        points; a word is cut every MAX_RUN_CHARS symbols (as the trainers' input is)."""
        split, limit = self.rules.split, L.MAX_RUN_CHARS
        for units in self.units(texts):
            out: list[str] = []
            word: list[str] = []
            tail, last_group = None, None
            for symbol, group in units:
                if symbol is None:  # a special token: nothing joins across it
                    if len(word) > 1:
                        out.append("".join(word))
                    word, tail = [], None
                    continue
                code, head, end = self.code(symbol)
                if word and (group != last_group or len(word) >= limit or split(tail, head)):
                    if len(word) > 1:
                        out.append("".join(word))
                    word = []
                word.append(code)
                tail, last_group = end, group
            if len(word) > 1:
                out.append("".join(word))
            yield out


def _bytes_text(raw: bytearray, missing: Counter) -> list[str]:
    """The characters a run of byte-fallback pieces stands for (counted as missing)."""
    try:
        chars = list(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return []
    missing.update(chars)
    return chars


def _surfaces(sp, text: str) -> list[str]:
    """The text each piece of ``sp.encode(text)`` stands for."""
    try:
        proto = sp.encode(text, return_type="proto")
    except TypeError:  # sentencepiece < 0.2.1
        proto = sp.encode(text, out_type="immutable_proto")
    return [p.surface for p in proto.pieces]


def model_proto():
    """SentencePiece's ModelProto class, from the sentencepiece_model_pb2 its wheel ships (which
    needs the protobuf package)."""
    try:
        from sentencepiece import sentencepiece_model_pb2 as pb
    except Exception as e:  # noqa: BLE001 - ImportError without protobuf, VersionError with one too old
        first = (str(e).strip().splitlines() or [""])[0]
        raise StageError("tokenizer extend: editing a SentencePiece model needs the protobuf package that "
                         f"sentencepiece was built for ({type(e).__name__}: {first}); "
                         "pip install -U protobuf") from None
    return pb.ModelProto


def _sp_base(info: L.TokInfo) -> Base:
    import sentencepiece as spm

    proto = model_proto()()
    proto.ParseFromString(Path(info.path).read_bytes())
    spec = proto.trainer_spec
    types = proto.SentencePiece
    if spec.model_type not in (spec.BPE, spec.UNIGRAM):
        raise StageError(f"tokenizer extend: {info.path} is a SentencePiece {spec.ModelType.Name(spec.model_type)} "
                         "model; only BPE and unigram models can be extended")
    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(proto.SerializeToString())
    pieces = [p.piece for p in proto.pieces]
    # per id: the piece, None for a piece nothing may join (control, user-defined, unused), a byte's
    # value for a byte-fallback piece, or -1 for <unk>
    table: list = []
    for p in proto.pieces:
        if p.type == types.NORMAL:
            table.append(p.piece)
        elif p.type == types.BYTE:
            table.append(int(_BYTE_PIECE.fullmatch(p.piece)[1], 16))
        elif p.type == types.UNKNOWN:
            table.append(-1)
        else:
            table.append(None)
    label = "SentencePiece " + spec.ModelType.Name(spec.model_type).lower().replace("bpe", "BPE")
    missing: Counter = Counter()

    def units(texts: list[str]) -> Iterator[list[tuple]]:
        for text, ids in zip(texts, sp.encode(texts)):
            out: list[tuple] = []
            raw = bytearray()
            surfaces = None
            for k, t in enumerate(ids):
                e = table[t]
                if type(e) is int and e >= 0:
                    raw.append(e)
                    continue
                if raw:
                    out.extend((c, 0) for c in _bytes_text(raw, missing))
                    raw.clear()
                if e == -1:  # <unk>: the characters it covers
                    if surfaces is None:
                        surfaces = _surfaces(sp, text)
                    chars = list(surfaces[k].replace(" ", "\u2581"))
                    missing.update(chars)
                    out.extend((c, 0) for c in chars)
                else:
                    out.append((e, 0))
            if raw:
                out.extend((c, 0) for c in _bytes_text(raw, missing))
            yield out

    return Base(info=info, kind="sp", label=label, size=len(pieces), known=set(pieces), char_vocab=True,
                max_chars=spec.max_sentencepiece_length or MAX_PIECE_CHARS,
                rules=Rules(digits_alone=spec.split_digits, space_suffix=spec.treat_whitespace_as_suffix),
                surface=lambda s: s.replace("\u2581", " ").encode("utf-8"), units=units, missing=missing)


def byte_level_table() -> dict[str, int]:
    """The byte-level alphabet (GPT-2's): each byte as one printable character. Bytes that are
    printable characters of Latin-1 stand for themselves; the others take code points from 256 on,
    in byte order."""
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[chr(b)] = b
        else:
            table[chr(256 + extra)] = b
            extra += 1
    return table


def _find(node, kind: str) -> dict | None:
    """The first component of type ``kind`` in a normalizer/pre-tokenizer/decoder description."""
    if isinstance(node, dict):
        if node.get("type") == kind:
            return node
        children = node.get("pretokenizers") or node.get("normalizers") or node.get("decoders") or []
        return next((f for f in (_find(c, kind) for c in children) if f), None)
    return None


def _hf_base(info: L.TokInfo, data: dict) -> Base:
    from tokenizers import Tokenizer

    model = data.get("model") or {}
    if model.get("type") != "BPE":
        raise StageError(f"tokenizer extend: {info.path} is a {model.get('type', 'unknown')} tokenizer.json; "
                         "only BPE ones (and SentencePiece models) can be extended")
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
        raise StageError(f"tokenizer extend: {info.path} marks subwords ({model.get('continuing_subword_prefix') or ''}"
                         f"{model.get('end_of_word_suffix') or ''}); only BPE without subword markers can be extended")
    tok = Tokenizer.from_file(info.path)
    byte_level = _find(data.get("pre_tokenizer"), "ByteLevel") is not None
    vocab: dict[str, int] = model["vocab"]
    added = {t["id"]: t["content"] for t in data.get("added_tokens", [])}
    size = max([*vocab.values(), *added]) + 1
    fallback = bool(model.get("byte_fallback"))
    unk_id = vocab.get(model.get("unk_token")) if model.get("unk_token") else None
    table: list = [None] * size
    for piece, i in vocab.items():
        m = _BYTE_PIECE.fullmatch(piece) if fallback else None
        if m or i not in added:
            table[i] = int(m[1], 16) if m else piece
    if unk_id is not None:
        table[unk_id] = -1
    if byte_level:
        alphabet = byte_level_table()

        def surface(s: str) -> bytes:
            return bytes(alphabet[c] for c in s) if all(c in alphabet for c in s) else s.encode("utf-8")
    else:
        meta = _find(data.get("pre_tokenizer"), "Metaspace") or {}
        space = meta.get("replacement", "\u2581")

        def surface(s: str) -> bytes:
            return s.replace(space, " ").encode("utf-8")
    missing: Counter = Counter()
    normalize = tok.normalizer.normalize_str if tok.normalizer is not None else (lambda s: s)

    def units(texts: list[str]) -> Iterator[list[tuple]]:
        for text, enc in zip(texts, tok.encode_batch(texts, add_special_tokens=False)):
            out: list[tuple] = []
            raw = bytearray()
            group = offsets = None
            for k, (t, w) in enumerate(zip(enc.ids, enc.word_ids)):
                e = table[t]
                if type(e) is int and e >= 0:
                    raw.append(e)
                    group = w
                    continue
                if raw:
                    out.extend((c, group) for c in _bytes_text(raw, missing))
                    raw.clear()
                if e == -1:
                    offsets = offsets or enc.offsets  # a list built on each access
                    start, end = offsets[k]
                    chars = list(normalize(text[start:end]))
                    missing.update(chars)
                    out.extend((c, w) for c in chars)
                else:
                    out.append((e, w))
            if raw:
                out.extend((c, group) for c in _bytes_text(raw, missing))
            yield out

    pre = json.dumps(data.get("pre_tokenizer"))
    digits_alone = '"individual_digits": true' in pre
    label = "byte-level BPE" if byte_level else "BPE" + (" with byte fallback" if fallback else "")
    return Base(info=info, kind="hf", label=label, size=size, known=set(vocab) | set(added.values()),
                char_vocab=not byte_level, max_chars=MAX_PIECE_CHARS, rules=Rules(digits_alone=digits_alone),
                surface=surface, units=units, missing=missing)


def load_base(spec: str) -> tuple[Base, dict | None]:
    """The base tokenizer named by ``spec`` (file, folder, hub name), and for a tokenizer.json its
    parsed JSON."""
    info = L.resolve(spec)
    if info.kind == "sp":
        return _sp_base(info), None
    try:
        data = json.loads(Path(info.path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StageError(f"tokenizer extend: {info.path} is not a tokenizer.json ({e})") from None
    return _hf_base(info, data), data


# --- the corpus ------------------------------------------------------------------------------

@dataclass
class Split:
    """The documents learnt from and the held-out ones, chosen by a hash of the id."""

    shards: list[str]
    text_column: str
    langs: frozenset[str]
    heldout_share: float
    max_chars: int
    train_docs: int = 0
    lang_docs: dict = field(default_factory=dict)

    def heldout(self, ids: list[str]) -> np.ndarray:
        h = np.fromiter((xxhash.xxh64_intdigest(i.encode("utf-8", "surrogatepass")) for i in ids), np.uint64, len(ids))
        return (h & np.uint64(0xFFFFFFFF)).astype(np.float64) < self.heldout_share * 2.0**32

    def rows(self, text: bool = True) -> Iterator[tuple[str, str | None, bool]]:
        """(lang, text, held out) of every document with text (of every document, text None,
        with ``text=False``), in corpus order; lang is "und" where the corpus has none."""
        for shard in self.shards:
            names = pq.read_schema(shard).names
            columns = ["id"] + ([self.text_column] if text else []) + (["lang"] if "lang" in names else [])
            table = read_parquet(shard, columns, threads=True)
            langs = table["lang"].to_pylist() if "lang" in names else [None] * table.num_rows
            held = self.heldout(table["id"].to_pylist()).tolist()
            texts = table[self.text_column].to_pylist() if text else [None] * table.num_rows
            for lang, t, h in zip(langs, texts, held):
                if not text or (t and not t.isspace()):
                    yield ("und" if lang is None else str(lang)), t, h

    def heldout_texts(self) -> list[tuple[str, str]]:
        """(lang, text) of the held-out documents, every language, up to max_chars characters."""
        out, budget = [], self.max_chars
        for lang, text, held in self.rows():
            if held and budget > 0:
                out.append((lang, text))
                budget -= len(text)
        return out

    def learn_texts(self) -> Iterator[str]:
        budget = self.max_chars
        for lang, text, held in self.rows():
            if held or (self.langs and lang not in self.langs):
                continue
            if budget <= 0:
                return
            budget -= len(text)
            yield text


def open_corpus(path: str, text_column: str, langs: Iterable[str], heldout_share: float, max_chars: int) -> Split:
    """Check the corpus (folder, text column, languages) before any work; count what will be used."""
    corpus = Corpus.open(path)
    shards = [str(p) for p in corpus.shard_paths]
    if not shards:
        raise StageError(f"tokenizer extend: {path} holds no shards")
    for shard in shards:
        L.check_text_column(shard, text_column, "--text-column")
    split = Split(shards, text_column, frozenset(langs), heldout_share, max_chars)
    if split.langs and not all("lang" in pq.read_schema(s).names for s in shards):
        raise StageError(f"--lang: {path} has no lang column (run the langid stage on it first, "
                         "or leave out --lang to learn from every document)")
    counts: Counter = Counter()
    for lang, _, held in split.rows(text=False):
        counts[lang] += 1
        if not held and (not split.langs or lang in split.langs):
            split.train_docs += 1
    split.lang_docs = dict(sorted(counts.items()))
    if split.langs and not split.langs & set(counts):
        have = ", ".join(f"{k} {v}" for k, v in counts.most_common(8)) or "no documents"
        raise StageError(f"--lang: {path} has no documents in {', '.join(sorted(split.langs))} (it has: {have})")
    if not split.train_docs:
        raise StageError(f"tokenizer extend: {path} leaves no documents to learn from once the held-out share "
                         f"({heldout_share}) is set aside; lower --heldout-share")
    return split


# --- learning --------------------------------------------------------------------------------

@dataclass
class Learnt:
    pieces: list[str]  # new pieces, most useful first
    merges: list[tuple[str, str]]  # for a tokenizer.json: the merges to append, in rank order
    chars: int  # characters of text learnt from
    docs: int


def learn(base: Base, texts: Iterable[str], n: int, workdir: Path, progress: Callable[[int], None] = lambda k: None,
          base_merges: set[tuple[str, str]] | None = None, min_count: int = MIN_PAIR_COUNT) -> Learnt:
    """The ``n`` most useful new pieces for ``texts``: BPE merges of the base's own symbols, most
    frequent pair first, and for a character vocabulary the characters the base lacks (those
    covering CHARACTER_COVERAGE of the text first, others where a merge needs them).

    The words are written to a file under ``workdir`` (removed afterwards) for the trainer, which
    sees every symbol as one code point."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    chars = docs = 0
    alphabet: set[str] = set()
    with tempfile.TemporaryDirectory(prefix=".extend-", dir=workdir) as tmp:
        words = Path(tmp) / "words.txt"
        with open(words, "w", encoding="utf-8") as f:
            for batch in _batches(texts, BATCH_DOCS):
                for ws in base.words(batch):
                    for w in ws:
                        alphabet.update(w)
                    if ws:
                        f.write(" ".join(ws) + "\n")
                chars += sum(map(len, batch))
                docs += len(batch)
                progress(len(batch))
        # more merges than pieces wanted: some give none (too long, or already a base piece)
        wanted = 2 * n + 256
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        tok.train([str(words)], trainers.BpeTrainer(vocab_size=len(alphabet) + wanted, min_frequency=min_count,
                                                    show_progress=False))
    raw = json.loads(tok.to_str())["model"]["merges"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in raw]

    pieces: list[str] = []
    appended: list[tuple[str, str]] = []
    have = set(base.known)
    linked = set(base_merges or ())
    if base.char_vocab:
        uncovered = sum(base.missing.values())
        for c, k in sorted(base.missing.items(), key=lambda x: (-x[1], x[0])):
            if len(pieces) >= n or chars - uncovered >= CHARACTER_COVERAGE * chars:
                break
            pieces.append(c)
            have.add(c)
            uncovered -= k
    for a_codes, b_codes in merges:
        if len(pieces) >= n:
            break
        a, b = "".join(map(base.symbol, a_codes)), "".join(map(base.symbol, b_codes))
        parts = [(x, len(codes)) for x, codes in ((a, a_codes), (b, b_codes)) if x not in have]
        if any(k > 1 for _, k in parts) or (parts and not base.char_vocab):
            continue  # built on a merge that was left out, or on a character that cannot be added
        need = list(dict.fromkeys(x for x, _ in parts))  # characters the base lacks
        piece = a + b
        if base.chars(piece) > base.max_chars:
            continue
        if piece in have:  # a piece the base has but reaches another way: only a merge to it
            if base.kind == "hf" and not need and (a, b) not in linked:
                linked.add((a, b))
                appended.append((a, b))
            continue
        if len(pieces) + len(need) + 1 > n:
            break
        pieces += need + [piece]
        have.update(need + [piece])
        appended.append((a, b))
    return Learnt(pieces, appended, chars, docs)


def _batches(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for x in items:
        batch.append(x)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- writing ---------------------------------------------------------------------------------

def reserved_names(taken: set[str], count: int) -> list[str]:
    names, j = [], 0
    while len(names) < count:
        name = RESERVED.format(j)
        if name not in taken:
            names.append(name)
        j += 1
    return names


def write_sp(base: Base, pieces: list[str], reserved: list[str], out_dir: Path) -> Path:
    """The base model with ``pieces`` appended (scores below every base score, decreasing in
    order) and ``reserved`` as control pieces."""
    proto = model_proto()()
    proto.ParseFromString(Path(base.info.path).read_bytes())
    types = proto.SentencePiece
    floor = min((p.score for p in proto.pieces if p.type == types.NORMAL), default=0.0)
    # BPE orders merges by score alone; for unigram the scores are log-probabilities, kept within
    # one unit below the base's lowest so that a new piece is taken where it saves pieces
    bpe = proto.trainer_spec.model_type == proto.trainer_spec.BPE
    step = 1.0 if bpe else 1.0 / max(len(pieces), 1)
    for k, piece in enumerate(pieces):
        p = proto.pieces.add()
        p.piece, p.score, p.type = piece, floor - 1.0 - k * step, types.NORMAL
    for name in reserved:
        p = proto.pieces.add()
        p.piece, p.score, p.type = name, 0.0, types.CONTROL
    proto.trainer_spec.vocab_size = len(proto.pieces)
    path = out_dir / "tokenizer.model"
    atomic_write_bytes(path, proto.SerializeToString(deterministic=True))
    return path


def write_hf(base: Base, data: dict, learnt: Learnt, reserved: list[str], out_dir: Path, block: dict) -> Path:
    """The base tokenizer.json with the new pieces in its vocabulary, their merges after its own,
    and ``reserved`` as special added tokens; and a tokenizer_config.json (the base's, if it has
    one, with the same BOS/EOS tokens) that records the extension in ``dataprep_extend``."""
    model = data["model"]
    for k, piece in enumerate(learnt.pieces):
        model["vocab"][piece] = base.size + k
    merges = model.get("merges") or []
    as_text = (not merges or isinstance(merges[0], str)) and not any(" " in x for m in learnt.merges for x in m)
    if not as_text and merges and isinstance(merges[0], str):
        merges = [m.split(" ", 1) for m in merges]
    model["merges"] = merges + [f"{a} {b}" if as_text else [a, b] for a, b in learnt.merges]
    first = base.size + len(learnt.pieces)
    data["added_tokens"] = list(data.get("added_tokens") or []) + [
        {"id": first + j, "content": name, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True} for j, name in enumerate(reserved)]
    path = out_dir / "tokenizer.json"
    atomic_write_bytes(path, (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))

    cfg_file = Path(base.info.path).parent / "tokenizer_config.json"
    try:
        cfg = json.loads(cfg_file.read_text(encoding="utf-8")) if cfg_file.exists() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        cfg = {}
    cfg = cfg if isinstance(cfg, dict) else {}
    cfg.setdefault("tokenizer_class", "PreTrainedTokenizerFast")
    for key in ("bos_token", "eos_token"):
        if getattr(base.info, key) is not None:
            cfg.setdefault(key, getattr(base.info, key))
    if isinstance(cfg.get("added_tokens_decoder"), dict):
        for j, name in enumerate(reserved):
            cfg["added_tokens_decoder"][str(first + j)] = {
                "content": name, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                "special": True}
    cfg["dataprep_extend"] = block
    atomic_write_bytes(out_dir / "tokenizer_config.json",
                       (json.dumps(cfg, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    return path


def ranges(block: dict) -> dict:
    """Id ranges [first, last] of the base, the added pieces and the padding of an extension."""
    b, k, p = block["base_vocab_size"], block["added"], block["padding"]
    return {"base": [0, b - 1], "added": [b, b + k - 1] if k else None,
            "padding": [b + k, b + k + p - 1] if p else None}


def extension_of(info: L.TokInfo) -> dict | None:
    """The extension record of a tokenizer written by ``extend`` (from the extend.json or
    tokenizer_config.json beside it), if it describes this very file; else None."""
    folder = Path(info.path).parent
    block = None
    report = folder / "extend.json"
    try:
        if report.exists():
            data = json.loads(report.read_text(encoding="utf-8"))
            if data.get("files", {}).get(Path(info.path).name) == info.sha256:
                block = data.get("vocab")
        cfg = folder / "tokenizer_config.json"
        if block is None and info.kind == "hf" and cfg.exists():
            block = json.loads(cfg.read_text(encoding="utf-8")).get("dataprep_extend")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return None
    if not isinstance(block, dict) or block.get("vocab_size") != info.vocab_size:
        return None
    return {**block, "ranges": ranges(block)}


# --- measuring -------------------------------------------------------------------------------

def script_of(text: str) -> str:
    """Han, Latin or other: the script of most of a piece's letters (other when it has none)."""
    counts = script_counts(text)
    if not counts:
        return "other"
    top = max(counts, key=lambda k: (counts[k], k))
    return {"han": "Han", "latin": "Latin"}.get(top, "other")


def measure(before: L.TokInfo, after: L.TokInfo, docs: list[tuple[str, str]],
            progress: Callable[[int], None] = lambda k: None) -> dict:
    """Tokens per character of ``docs`` (lang, text) with each tokenizer, per language and in all."""
    enc_before, enc_after = L.encoder(before), L.encoder(after)
    totals: dict[str, list[int]] = {}
    for batch in _batches(docs, BATCH_DOCS):
        texts = [t for _, t in batch]
        for (lang, text), a, b in zip(batch, enc_before(texts), enc_after(texts)):
            for key in (lang, "all"):
                row = totals.setdefault(key, [0, 0, 0, 0])
                row[0] += 1
                row[1] += len(text)
                row[2] += len(a)
                row[3] += len(b)
        progress(len(batch))
    out = {}
    for key in sorted(totals, key=lambda k: (k == "all", k)):
        n, chars, a, b = totals[key]
        out[key] = {"documents": n, "chars": chars, "tokens_before": a, "tokens_after": b,
                    "tokens_per_char_before": round(a / chars, 4), "tokens_per_char_after": round(b / chars, 4),
                    "reduction": round(a / b, 3) if b else None, "change": round(b / a - 1, 4) if a else None}
    return out


# --- the whole job ---------------------------------------------------------------------------

def extend(base_spec: str, corpus: str, out_dir: str | Path, add: int, langs: Iterable[str] = (), pad_to: int = 64,
           heldout_share: float = 0.05, max_chars: int = 200_000_000, text_column: str = "text",
           min_count: int = MIN_PAIR_COUNT, quiet: bool = True) -> dict:
    """Learn ``add`` new pieces for ``base_spec`` from ``corpus`` (its documents in ``langs``, all
    if none), write the extended tokenizer and ``extend.json`` into ``out_dir``; return the report."""
    from tqdm import tqdm

    if add < 1:
        raise StageError(f"--add: must be >= 1, got {add}")
    if pad_to < 1:
        raise StageError(f"--pad-to: must be >= 1, got {pad_to}")
    if not 0.0 <= heldout_share < 1.0:
        raise StageError(f"--heldout-share: must be in [0, 1), got {heldout_share}")
    if max_chars < 1:
        raise StageError(f"--max-chars: must be >= 1, got {max_chars}")
    if min_count < 1:
        raise StageError(f"--min-count: must be >= 1, got {min_count}")
    base, data = load_base(base_spec)
    if base.info.vocab_size != base.size:
        raise StageError(f"tokenizer extend: {base.info.path} has {base.info.vocab_size:,} ids numbered up to "
                         f"{base.size - 1:,}; only a vocabulary without gaps between its ids can be extended")
    if base.size + add + pad_to > L.MAX_VOCAB_SIZE:
        raise StageError(f"--add: {add} pieces on top of {base.size:,} ids exceed {L.MAX_VOCAB_SIZE:,} ids")
    split = open_corpus(corpus, text_column, langs, heldout_share, max_chars)
    out_dir = Path(out_dir)
    if out_dir.resolve() == Path(base.info.path).parent.resolve():
        raise StageError(f"--output: {out_dir} holds the base tokenizer; write the extended one to another folder")
    other = out_dir / ("tokenizer.json" if base.kind == "sp" else "tokenizer.model")
    if other.exists():
        raise StageError(f"--output: {out_dir} already holds {other.name}, which would be loaded instead of "
                         "the extended tokenizer; give another folder")
    ensure_dir(out_dir)
    base_merges = None
    if data is not None:
        base_merges = {tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in data["model"]["merges"]}
    with tqdm(total=split.train_docs, desc="learning", unit="docs", disable=quiet, file=sys.stderr) as bar:
        learnt = learn(base, split.learn_texts(), add, out_dir, bar.update, base_merges, min_count)
    if not learnt.pieces:
        raise StageError(f"tokenizer extend: {corpus} gives no piece that {base.info.path} lacks "
                         "(too little text, or text the base already covers)")
    size = base.size + len(learnt.pieces)
    padded = -(-size // pad_to) * pad_to
    reserved = reserved_names(base.known | set(learnt.pieces), padded - size)
    block = {"base_vocab_size": base.size, "added": len(learnt.pieces), "padding": len(reserved),
             "vocab_size": padded}
    if base.kind == "sp":
        path = write_sp(base, learnt.pieces, reserved, out_dir)
        files = [path]
    else:
        path = write_hf(base, data, learnt, reserved, out_dir, block)
        files = [path, out_dir / "tokenizer_config.json"]
    info = L.resolve(str(path))
    if info.vocab_size != padded:  # a piece that the library merged with another
        raise StageError(f"tokenizer extend: {path} has {info.vocab_size:,} ids, not the {padded:,} written")

    heldout = split.heldout_texts()
    with tqdm(total=len(heldout), desc="measuring", unit="docs", disable=quiet, file=sys.stderr) as bar:
        figures = measure(base.info, info, heldout, bar.update) if heldout else None
    by_script = Counter(script_of(base.surface(p).decode("utf-8", "ignore")) for p in learnt.pieces)
    report = {
        "base": {"tokenizer": base_spec, "file": base.info.path, "kind": base.label, "sha256": base.info.sha256,
                 "vocab_size": base.size},
        "corpus": {"path": str(corpus), "langs": sorted(split.langs) or None, "documents": split.lang_docs,
                   "learnt_from": {"documents": learnt.docs, "chars": learnt.chars},
                   "heldout_share": heldout_share, "heldout_documents": len(heldout)},
        "requested": add,
        "min_count": min_count,
        "vocab": {**block, "ranges": ranges(block)},
        "padding": {"multiple": pad_to, "tokens": len(reserved),
                    "first": reserved[0] if reserved else None, "last": reserved[-1] if reserved else None},
        "added_by_script": {k: by_script.get(k, 0) for k in ("Han", "Latin", "other")},
        "merges_added": len(learnt.merges) if base.kind == "hf" else None,
        "first_pieces": [base.text(p) for p in learnt.pieces[:24]],
        "tokens_per_char": figures,
        "files": {p.name: L.sha256_file(p) for p in files},
    }
    if len(learnt.pieces) < add:
        report["note"] = (f"the corpus gave {len(learnt.pieces):,} new pieces of the {add:,} asked for "
                          f"(a pair seen fewer than --min-count {min_count} times is not added; give more text "
                          "or a lower --min-count)")
    atomic_write_bytes(out_dir / "extend.json", (json.dumps(report, ensure_ascii=False, indent=1) + "\n").encode())
    return report
