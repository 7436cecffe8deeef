"""Tokenizers: load a HuggingFace `tokenizer.json` (file, folder or hub name) or a SentencePiece
`.model`, find its BOS/EOS tokens, encode batches; and train new ones on a corpus.

A loaded tokenizer is described by a small picklable ``TokInfo`` (kind, path, special ids); every
worker process opens the file once and keeps it (``encoder``).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.corpus import read_parquet
from dataprep.stage import StageError

# Names under which tokenizers commonly ship their special tokens, most specific first.
EOS_NAMES = ("<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "<|eos|>", "<|im_end|>")
BOS_NAMES = ("<|begin_of_text|>", "<|startoftext|>", "<s>", "<bos>", "<|bos|>")


@dataclass(frozen=True)
class TokInfo:
    kind: str  # "hf" (tokenizers JSON) or "sp" (SentencePiece model)
    path: str  # the file (copied into the output's tokenizer/ folder)
    sha256: str
    vocab_size: int
    bos_id: int | None
    eos_id: int | None
    bos_token: str | None
    eos_token: str | None

    def to_json(self) -> dict:
        return asdict(self)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _hf_config(folder: Path) -> dict:
    cfg = folder / "tokenizer_config.json"
    if cfg.exists():
        try:
            data = json.loads(cfg.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise StageError(f"{cfg}: not valid JSON ({e})") from None
        out = {}
        for key in ("bos_token", "eos_token"):
            v = data.get(key)
            out[key] = v.get("content") if isinstance(v, dict) else v
        return out
    return {}


def resolve(spec: str, bos_token: str | None = None, eos_token: str | None = None) -> TokInfo:
    """Find the tokenizer file for ``spec`` (file, folder, or hub name) and its special tokens.

    Explicit ``bos_token``/``eos_token`` win; then the folder's tokenizer_config.json; then the
    usual names (EOS_NAMES, BOS_NAMES) among the tokenizer's special tokens."""
    p = Path(spec)
    if p.is_dir():
        if (p / "tokenizer.json").exists():
            file = p / "tokenizer.json"
        elif (p / "tokenizer.model").exists():
            file = p / "tokenizer.model"
        else:
            raise StageError(f"tokenizer: {p} has neither tokenizer.json nor tokenizer.model")
    elif p.exists():
        file = p
    elif "/" in spec and not spec.startswith((".", "/")) and not spec.endswith((".json", ".model")):
        file = _from_hub(spec)
    else:
        raise StageError(f"tokenizer: {spec} does not exist (give a tokenizer.json, a SentencePiece .model, "
                         "a folder holding one, or a HuggingFace hub name such as gpt2 or org/name)")
    if file.suffix == ".model":
        return _sp_info(file, bos_token, eos_token)
    return _hf_info(file, bos_token, eos_token, _hf_config(file.parent))


def _from_hub(name: str) -> Path:
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(name, "tokenizer.json"))
    except Exception as e:  # noqa: BLE001 - offline, unknown repo, no tokenizer.json
        raise StageError(f"tokenizer: could not fetch {name!r} from the HuggingFace hub ({type(e).__name__}: {e}); "
                         "download its tokenizer.json and give the path instead") from None


class _Vocab:
    """What the stage's main process needs of a tokenizer.json (vocabulary size, ids of named
    tokens, the special ones), read from the JSON itself: building the tokenizer takes 0.2-0.5 s
    for a 50k-100k vocabulary, which only the workers that encode need to spend. Files whose ids
    are not laid out as the library counts them (ids past the end, unusual models) are not read
    this way (``of`` returns None) and the library is asked instead."""

    def __init__(self, names: dict[str, int], specials: set[str], size: int):
        self.names, self.specials, self.size = names, specials, size

    @classmethod
    def of(cls, file: Path) -> "_Vocab | None":
        import orjson

        try:
            data = orjson.loads(file.read_bytes())
            model = data["model"]
            vocab = model["vocab"]
            if model.get("type") == "Unigram":
                names = {str(p[0]): i for i, p in enumerate(vocab)}
            elif model.get("type") in ("BPE", "WordPiece", "WordLevel") and isinstance(vocab, dict):
                names = {str(k): int(v) for k, v in vocab.items()}
            else:
                return None
            added = data.get("added_tokens") or []
            for t in added:
                names.setdefault(str(t["content"]), int(t["id"]))
            ids = set(names.values())
            size = len(ids)
            if ids != set(range(size)) or any(names[str(t["content"])] != int(t["id"]) for t in added):
                return None
            return cls(names, {str(t["content"]) for t in added if t.get("special")}, size)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
            return None

    def token_to_id(self, name: str) -> int | None:
        return self.names.get(name)

    def get_vocab_size(self, with_added_tokens: bool = True) -> int:
        return self.size


def _hf_info(file: Path, bos: str | None, eos: str | None, folder_cfg: dict) -> TokInfo:
    tok: Any = _Vocab.of(file)
    if tok is not None:
        specials = tok.specials
    else:
        from tokenizers import Tokenizer

        try:
            tok = Tokenizer.from_file(str(file))
        except Exception as e:  # noqa: BLE001
            raise StageError(f"tokenizer: {file} is not a HuggingFace tokenizer.json ({e})") from None
        specials = {t.content for t in tok.get_added_tokens_decoder().values() if t.special}

    def pick(explicit: str | None, from_cfg: str | None, names: tuple[str, ...], what: str) -> tuple[str | None, int | None]:
        if explicit is not None:
            tid = tok.token_to_id(explicit)
            if tid is None:
                raise StageError(f"tokenizer: {file} has no token {explicit!r} (given as {what})")
            return explicit, tid
        for name in ([from_cfg] if from_cfg else []) + [n for n in names if n in specials]:
            tid = tok.token_to_id(name)
            if tid is not None:
                return name, tid
        return None, None

    bos_t, bos_id = pick(bos, folder_cfg.get("bos_token"), BOS_NAMES, "bos_token")
    eos_t, eos_id = pick(eos, folder_cfg.get("eos_token"), EOS_NAMES, "eos_token")
    return TokInfo("hf", str(file), sha256_file(file), tok.get_vocab_size(with_added_tokens=True),
                   bos_id, eos_id, bos_t, eos_t)


def _sp_info(file: Path, bos: str | None, eos: str | None) -> TokInfo:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor()
    try:
        sp.Load(str(file))
    except Exception as e:  # noqa: BLE001
        raise StageError(f"tokenizer: {file} is not a SentencePiece model ({e})") from None

    def pick(explicit: str | None, default_id: int, what: str) -> tuple[str | None, int | None]:
        if explicit is not None:
            tid = sp.piece_to_id(explicit)
            if tid == sp.unk_id() and explicit != sp.id_to_piece(sp.unk_id()):
                raise StageError(f"tokenizer: {file} has no piece {explicit!r} (given as {what})")
            return explicit, tid
        return (sp.id_to_piece(default_id), default_id) if default_id >= 0 else (None, None)

    bos_t, bos_id = pick(bos, sp.bos_id(), "bos_token")
    eos_t, eos_id = pick(eos, sp.eos_id(), "eos_token")
    return TokInfo("sp", str(file), sha256_file(file), sp.get_piece_size(), bos_id, eos_id, bos_t, eos_t)


# --- encoding, one tokenizer per process -----------------------------------------------------

_OPEN: dict[str, Callable[[list[str]], list[list[int]]]] = {}


def encoder(info: TokInfo) -> Callable[[list[str]], list[list[int]]]:
    """A function texts -> ids (no special tokens), exactly the tokenizer's own encoding."""
    key = info.sha256 + info.path
    if key not in _OPEN:
        if info.kind == "sp":
            import sentencepiece as spm

            sp = spm.SentencePieceProcessor()
            sp.Load(info.path)
            _OPEN[key] = lambda texts: sp.encode(texts, out_type=int)
        else:
            from tokenizers import Tokenizer

            try:
                tok = Tokenizer.from_file(info.path)
            except Exception as e:  # noqa: BLE001
                raise StageError(f"tokenizer: {info.path} is not a HuggingFace tokenizer.json ({e})") from None
            fast = getattr(tok, "encode_batch_fast", None)  # tokenizers >= 0.20: no offsets, faster

            def enc(texts: list[str], tok=tok, fast=fast) -> list[list[int]]:
                encs = (fast or tok.encode_batch)(texts, add_special_tokens=False)
                return [e.ids for e in encs]

            _OPEN[key] = enc
    return _OPEN[key]


def decoder(info: TokInfo) -> Callable[[list[int]], str]:
    if info.kind == "sp":
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor()
        sp.Load(info.path)
        return lambda ids: sp.decode(list(map(int, ids)))
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(info.path)
    return lambda ids: tok.decode(list(map(int, ids)), skip_special_tokens=False)


def token_dtype(vocab_size: int, wanted: str = "auto") -> np.dtype:
    if wanted == "uint16" and vocab_size > 1 << 16:
        raise StageError(f"dtype: uint16 cannot hold {vocab_size:,} token ids; use uint32 or auto")
    if wanted == "uint16" or (wanted == "auto" and vocab_size <= 1 << 16):
        return np.dtype(np.uint16)
    return np.dtype(np.uint32)


# --- training --------------------------------------------------------------------------------

PRESETS = ("bytelevel-bpe", "baichuan2")
MIN_VOCAB_SIZE = 260  # the 256 byte tokens and a few special ones
MAX_VOCAB_SIZE = 2**31 - 1  # SentencePiece's vocab_size is an int32

# Training sees no run longer than MAX_RUN_CHARS characters of one kind (letters and digits, other
# symbols, or whitespace): a longer run is cut every MAX_RUN_CHARS characters, as if a space stood
# there. Without the bound one unbroken run (a 1 MB line of base64, 350k CJK characters with no
# punctuation) is a single word to the BPE trainers, whose work per merge grows with the word's
# length, so training time grew with the square of the run. Runs that long are not text a
# tokenizer should learn whole, and ordinary text in any script has almost none, so training on it
# is unchanged. Encoding is unaffected: the saved tokenizers hold no such cut.
MAX_RUN_CHARS = 256
# SentencePiece's cap on a training sentence is in bytes (max_sentence_length); a sentence of at
# most this many characters fits it whatever the script (UTF-8 needs at most 4 bytes a character).
SP_SENTENCE_BYTES = 4096
SP_SENTENCE_CHARS = SP_SENTENCE_BYTES // 4

# A run is matched only from its first character (the lookbehinds), so the scan stays linear even
# for runs just below the bound.
_LONG_RUN = re.compile(r"(?<!\w)\w{%(n)d,}|(?<![^\w\s])[^\w\s]{%(n)d,}|(?<!\s)\s{%(n)d,}" % {"n": MAX_RUN_CHARS + 1})
# A word with the space around it, at most 3 * MAX_RUN_CHARS long once runs are cut.
_WORD = re.compile(r"\s*\S{1,%d}\s*|\s+" % MAX_RUN_CHARS)


def split_long_runs(text: str) -> list[str]:
    """``text`` cut into consecutive parts (joined, they give ``text`` back) in which no run of
    one kind is longer than MAX_RUN_CHARS; a text without such a run stays whole."""
    if len(text) <= MAX_RUN_CHARS:
        return [text]
    parts, start = [], 0
    for m in _LONG_RUN.finditer(text):
        for cut in range(m.start() + MAX_RUN_CHARS, m.end(), MAX_RUN_CHARS):
            parts.append(text[start:cut])
            start = cut
    parts.append(text[start:])
    return parts


def check_text_column(shard: str, column: str, key: str) -> None:
    """Raise a one-line error naming ``key`` unless ``shard`` has a string column ``column``."""
    try:
        schema = pq.read_schema(shard)
    except (pa.ArrowException, OSError) as e:
        raise StageError(f"{shard}: unreadable Parquet shard ({str(e).splitlines()[0]})") from None
    if column not in schema.names:
        raise StageError(f"{key}: {shard} has no column {column!r}")
    kind = schema.field(column).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise StageError(f"{key}: column {column!r} of {shard} holds {kind}, not text")


def training_texts(shards: list[str], column: str, max_chars: int, key: str = "text_column") -> Iterator[str]:
    """The non-empty texts of ``column``, shard by shard in corpus order, until ``max_chars``
    characters have been given. Every shard is checked for the column first, so a wrong column
    (``key`` names the option) is an error before training starts."""
    for shard in shards:
        check_text_column(shard, column, key)

    def texts() -> Iterator[str]:
        budget = max_chars
        for shard in shards:
            for t in read_parquet(shard, [column], threads=True)[column].to_pylist():
                if budget <= 0:
                    return
                if t:
                    yield t
                    budget -= len(t)

    return texts()


def train(texts: Iterable[str], out_dir: Path, preset: str, vocab_size: int, threads: int = 1,
          key: str = "vocab_size") -> Path:
    """Train a tokenizer on ``texts``; write it under ``out_dir`` and return the file.

    bytelevel-bpe: GPT-2 style byte-level BPE (HF tokenizers), <|endoftext|> as EOS and
    <|startoftext|> as BOS. baichuan2: SentencePiece BPE as described for Baichuan 2 (arXiv
    2309.10305, section 2.2): no normalisation, digits split, byte fallback for unknown characters,
    and whitespace pieces (runs of spaces, tab, newline) so code keeps its indentation.
    Both are given ``trainer_input(texts, preset)``, in which no run is longer than MAX_RUN_CHARS,
    so training time is linear in the input. ``key`` names the vocabulary size option in errors."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if preset == "bytelevel-bpe":
        return _train_bytelevel(trainer_input(texts, preset), out_dir, vocab_size)
    if preset == "baichuan2":
        return _train_sentencepiece(trainer_input(texts, preset), out_dir, vocab_size, threads, key)
    raise StageError(f"tokenizer preset {preset!r}: expected one of {', '.join(PRESETS)}")


def trainer_input(texts: Iterable[str], preset: str) -> Iterator[str]:
    """What the trainer of ``preset`` is given: the texts cut by ``split_long_runs``; for
    SentencePiece, one sentence per non-blank line, and a line longer than SP_SENTENCE_CHARS cut
    between words into sentences of at most that many characters."""
    for t in texts:
        if preset != "baichuan2":
            yield from split_long_runs(t)
            continue
        for line in t.split("\n"):
            if not line.strip():
                continue
            for part in split_long_runs(line):
                if len(part) <= SP_SENTENCE_CHARS:
                    yield part
                    continue
                sentence, size = [], 0
                for word in _WORD.findall(part):
                    if size + len(word) > SP_SENTENCE_CHARS:
                        yield "".join(sentence)
                        sentence, size = [], 0
                    sentence.append(word)
                    size += len(word)
                yield "".join(sentence)


def _train_bytelevel(pieces: Iterable[str], out_dir: Path, vocab_size: int) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|startoftext|>"]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(pieces, trainer=trainer)
    path = out_dir / "tokenizer.json"
    tok.save(str(path))
    (out_dir / "tokenizer_config.json").write_text(json.dumps(
        {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "trained_by": "dataprep bytelevel-bpe"},
        indent=1) + "\n")
    return path


def _train_sentencepiece(sentences: Iterable[str], out_dir: Path, vocab_size: int, threads: int, key: str) -> Path:
    import sentencepiece as spm

    model = io.BytesIO()  # written by us, so the model does not embed this run's output path
    whitespace = ["\t", "\n"] + ["\u2581" * k for k in (2, 3, 4, 8, 12, 16)]
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=model, vocab_size=vocab_size,
            model_type="bpe", byte_fallback=True, split_digits=True, normalization_rule_name="identity",
            remove_extra_whitespaces=False, allow_whitespace_only_pieces=True, split_by_whitespace=True,
            user_defined_symbols=whitespace, character_coverage=0.9995, max_sentence_length=SP_SENTENCE_BYTES,
            unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=max(1, threads), minloglevel=2,
            train_extremely_large_corpus=False, shuffle_input_sentence=False)
    except RuntimeError as e:
        message = str(e).strip()
        too_small = re.search(r"required_chars\. \d+ vs (\d+)", message)
        too_large = re.search(r"Vocabulary size too high \((\d+)\)\. Please set it to a value <= (\d+)", message)
        if too_small:
            raise StageError(f"{key}: {vocab_size} is too small for this corpus; the baichuan2 preset needs "
                             f"{too_small[1]} pieces for its characters (those making up 99.95% of the text) "
                             "and special tokens") from None
        if too_large:
            raise StageError(f"{key}: {vocab_size} is too large for this corpus; the baichuan2 preset can learn at "
                             f"most {too_large[2]} pieces from it") from None
        raise StageError(f"tokenizer training (baichuan2 preset, {key} {vocab_size}) failed: "
                         f"{message.splitlines()[0]}") from None
    path = out_dir / "tokenizer.model"
    path.write_bytes(model.getvalue())
    return path


def copy_into(info: TokInfo, folder: Path) -> TokInfo:
    """Copy the tokenizer file (and its tokenizer_config.json) next to the outputs."""
    folder.mkdir(parents=True, exist_ok=True)
    src = Path(info.path)
    dst = folder / ("tokenizer.model" if info.kind == "sp" else "tokenizer.json")
    if src.resolve() != dst.resolve():
        shutil.copyfile(src, dst)
        cfg = src.parent / "tokenizer_config.json"
        if cfg.exists() and info.kind == "hf":
            shutil.copyfile(cfg, folder / "tokenizer_config.json")
        extended = src.parent / "extend.json"  # `tokenizer extend`'s report: base and added id ranges
        if extended.exists():
            shutil.copyfile(extended, folder / "extend.json")
    return TokInfo(**{**info.to_json(), "path": str(dst)})
