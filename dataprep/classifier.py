"""fastText text classifiers shared by stages: the quality stage's good/bad model and the domain
stage's multi-class model use the same text preparation, reproducible training, metrics and
training-input readers.

The quality model has two labels, ``__label__hq`` and ``__label__lq``; a document's score is the model's
probability of ``hq``. This is the shape of DCLM's fastText filter (Li et al. 2024,
mlfoundations/dclm ``baselines``) and of ChineseWebText's fastText scorer distilled from its BERT
judge (Chen et al. 2023, CASIA-LM/ChineseWebText ``fasttext/main.py``).

fastText splits text on whitespace only, so every document is first turned into one line of tokens
by ``prepare_text``, at training and at scoring alike. See docs/quality-model.md.
"""

from __future__ import annotations

import bz2
import contextlib
import ctypes
import glob
import gzip
import io
import json
import lzma
import math
import os
import platform
import re
import string
import tempfile
import unicodedata
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

import click
import numpy as np
import pyarrow.parquet as pq
import xxhash

from dataprep.config import ConfigError
from dataprep.corpus import Corpus, CorpusError, atomic_write_json, ensure_dir, read_parquet
from dataprep.stage import StageError
from dataprep.text import HAN, KANA

POSITIVE = "__label__hq"
NEGATIVE = "__label__lq"

# Characters of a document the model sees. Quality shows in the first pages of a document, and the
# bound keeps training files and scoring time proportional to the number of documents.
MAX_CHARS = 5000
# Bumped whenever prepare_text changes, so a model records which preparation it was trained with.
PREPARE_VERSION = 1

# Defaults are DCLM's (lr 0.1, dim 100, 5 epochs, minCount 1, word bigrams; dclm
# baselines/train_fasttext_classifier.py and fasttext_filter.yaml); ChineseWebText's scorer uses
# lr 0.5 with the same epochs and bigrams. The bucket count is fastText's own default.
DEFAULTS = {"seed": 0, "epochs": 5, "lr": 0.1, "word_ngrams": 2, "dim": 100, "bucket": 2_000_000,
            "min_count": 1, "valid_share": 0.1}
# A quantized model keeps the rows (words and n-gram buckets) of largest norm, retrained, as
# fastText's published compressed classifiers do (`-qnorm -retrain -cutoff 100000`, fasttext.cc,
# "Supervised models").
QUANTIZE_CUTOFF = 100_000
THRESHOLD = 0.5  # for the held-out accuracy only; choose a filtering threshold by the share kept

# --- text preparation ---------------------------------------------------------------------------

# Control and invisible format characters and lone surrogates become spaces (fastText would read
# NUL as a separator; a lone surrogate cannot be written as UTF-8).
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff\ud800-\udfff]")
_DIGIT = re.compile(r"\d")
# Punctuation and symbols, the underscore included (so no token can start with fastText's label
# prefix `__label__`), and runs of Han and kana characters.
_PUNCT = re.compile(r"([^\w\s]|_)")
_HAN_KANA_RUN = re.compile(f"([{HAN}{KANA}ー]+)")
# The same steps for ASCII text, in one pass.
_ASCII_TABLE = {**{c: " " for c in (*range(32), 127)}, **{ord(d): "0" for d in string.digits},
                **{ord(p): f" {p} " for p in string.punctuation}}


def prepare_text(text: str, max_chars: int = MAX_CHARS) -> str:
    """The line fastText sees for a document.

    The first ``max_chars`` characters, NFKC-normalised (full-width letters and digits fold to
    ASCII) and lowercased; every digit becomes 0 (a number's shape matters, not its value); line
    breaks and whitespace runs become one space. Han and kana characters, punctuation marks and
    symbols are tokens of their own: Chinese and Japanese are written without spaces, and fastText
    splits on whitespace only, so a Chinese paragraph would otherwise be one unseen "word". With
    ``word_ngrams >= 2`` fastText then also sees character bigrams. Hangul runs stay whole (Korean
    separates words with spaces).
    """
    t = text[:max_chars]
    if t.isascii():
        t = t.lower().translate(_ASCII_TABLE)
    else:
        t = _DIGIT.sub("0", _INVISIBLE.sub(" ", unicodedata.normalize("NFKC", t).lower()))
        parts = _HAN_KANA_RUN.split(" ".join(_PUNCT.split(t)))
        parts[1::2] = [" ".join(run) for run in parts[1::2]]
        t = " ".join(parts)
    return " ".join(t.split())


def _hash(line: str, salt: int) -> int:
    return xxhash.xxh3_64_intdigest(line.encode("utf-8"), seed=salt)


_SPLIT_SALT = 0  # held-out split
_SAMPLE_SALT = 1  # which documents --max-docs keeps


def held_out(line: str, valid_share: float) -> bool:
    """Whether a prepared line belongs to the validation set: a hash of the line, not its position,
    decides, so the split does not depend on input order and never changes with the seed."""
    return _hash(line, _SPLIT_SALT) < valid_share * 2.0**64


# --- metrics ------------------------------------------------------------------------------------


def roc_auc(labels: Any, scores: Any) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random
    negative, ties counting one half (Mann-Whitney U over average ranks). NaN when a class is empty."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels and scores must be 1-D and of one length, got {y.shape} and {s.shape}")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    mean_rank = ends - (counts - 1) / 2.0  # ranks start at 1; tied values share their mean rank
    pos_ranks = mean_rank[inverse][y].sum()
    return float((pos_ranks - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _metrics(labels: np.ndarray, probs: np.ndarray) -> dict:
    if labels.size == 0:
        return {"accuracy": None, "roc_auc": None, "threshold": THRESHOLD}
    auc = roc_auc(labels, probs)
    return {"accuracy": float(((probs >= THRESHOLD) == labels).mean()),
            "roc_auc": None if math.isnan(auc) else auc, "threshold": THRESHOLD}


# --- the fastText model -------------------------------------------------------------------------


def _fasttext() -> Any:
    try:
        import fasttext
    except ImportError:
        raise StageError("the fasttext package is missing: pip install fasttext-numpy2-wheel") from None
    if not hasattr(fasttext, "train_supervised"):
        raise StageError("the installed `fasttext` module cannot train or load models (fasttext-predict may have "
                         "replaced it): pip install --force-reinstall fasttext-numpy2-wheel")
    fasttext.FastText.eprint = lambda *a, **k: None  # silence the load-time warning
    return fasttext


def _fasttext_version() -> str | None:
    for dist in ("fasttext-numpy2-wheel", "fasttext-wheel", "fasttext"):
        try:
            return f"{dist} {version(dist)}"
        except PackageNotFoundError:
            continue
    return None


_models: dict[tuple, Any] = {}


def load_fasttext(path: str | os.PathLike, what: str, command: str) -> Any:
    """A fastText model file, loaded once per process (again if the file changed); errors name the
    file and how to make one (``what`` model, trained with ``command``)."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        raise StageError(f"{p}: {what} model not found; train one with `{command}`") from None
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _models:
        from dataprep import ftmodel

        fast = ftmodel.load(p)  # the compiled predictor: the binding's results, several times faster
        if fast is not None:
            _models[key] = fast
            return fast
        fasttext = _fasttext()
        try:
            _models[key] = fasttext.load_model(str(p))
        except (ValueError, RuntimeError, MemoryError) as e:
            raise StageError(f"{p}: not a readable fastText model ({e})") from None
    return _models[key]


def load(path: str | os.PathLike) -> Any:
    """A trained quality model (labels hq and lq)."""
    model = load_fasttext(path, "quality", "dataprep quality-train")
    labels = sorted(model.get_labels())
    if labels != sorted((POSITIVE, NEGATIVE)):
        raise StageError(f"{path}: not a quality model: its labels are {', '.join(labels[:5])}"
                         f"{' ...' if len(labels) > 5 else ''}, not {POSITIVE} and {NEGATIVE}")
    return model


def _hq_probability(model: Any, lines: list[str]) -> np.ndarray:
    if not lines:
        return np.zeros(0, dtype=np.float64)
    labels, probs = model.predict(lines, k=2, threshold=0.0)
    probs = np.vstack(probs).astype(np.float64)
    first_is_hq = np.fromiter((lab[0] == POSITIVE for lab in labels), dtype=bool, count=len(lines))
    return np.clip(np.where(first_is_hq, probs[:, 0], probs[:, 1]), 0.0, 1.0)


def score(model: Any, texts: list[str]) -> np.ndarray:
    """The model's probability that each text is high quality (float64, one per text)."""
    return _hq_probability(model, [prepare_text(t) for t in texts])


# --- training -----------------------------------------------------------------------------------

# This fastText build stores its weight matrices in uninitialised memory, and with one training
# thread fills only the first tenth of the input matrix with random values (its initialisation
# splits the matrix into ten blocks, one per thread). The rest is whatever the allocator hands
# back: zeros from fresh pages, or old heap contents, which make training irreproducible and can
# put huge or NaN weights in the saved model. glibc can be asked to zero every allocation
# (mallopt M_PERTURB: allocations are filled with the byte 0xFF ^ value), which makes those rows
# start at zero, as they do in a fresh process.
_M_PERTURB = -6
_ZERO_FILL = 0xFF
_FULL_INIT_THREADS = 11  # without glibc: enough threads to initialise every block (and any remainder)


def _mallopt() -> Any:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    return getattr(ctypes.CDLL(None), "mallopt", None)


@contextlib.contextmanager
def _zeroed_allocations() -> Iterator[bool]:
    """Make native allocations zero-filled while the block runs; yields whether that worked."""
    mallopt = _mallopt()
    if mallopt is None or mallopt(_M_PERTURB, _ZERO_FILL) != 1:
        yield False
        return
    try:
        yield True
    finally:
        try:
            previous = int(os.environ.get("MALLOC_PERTURB_", "0") or 0)
        except ValueError:
            previous = 0
        mallopt(_M_PERTURB, previous)


def _check_settings(s: dict, quantize: bool) -> None:
    for name, low in (("epochs", 1), ("word_ngrams", 1), ("dim", 1), ("bucket", 0), ("min_count", 1)):
        if not isinstance(s[name], int) or s[name] < low:
            raise ConfigError(f"{name}: an integer >= {low} is expected, got {s[name]!r}")
    if s["word_ngrams"] > 1 and s["bucket"] < 1:
        raise ConfigError("bucket: word_ngrams > 1 needs bucket >= 1 (n-grams are hashed into buckets)")
    if not s["lr"] > 0:
        raise ConfigError(f"lr: a positive learning rate is expected, got {s['lr']!r}")
    if not 0.0 <= s["valid_share"] < 1.0:
        raise ConfigError(f"valid_share: a share in [0, 1) is expected, got {s['valid_share']!r}")
    if s["max_docs"] is not None and s["max_docs"] < 1:
        raise ConfigError(f"max_docs: an integer >= 1 is expected, got {s['max_docs']!r}")
    if quantize and s["dim"] < 2:
        raise ConfigError("dim: a quantized (.ftz) model needs dim >= 2")


def _prepare_class(texts: Iterable[str], max_docs: int | None) -> tuple[set[str], dict]:
    lines: set[str] = set()
    n_in = n_empty = 0
    for text in texts:
        n_in += 1
        line = prepare_text(text)
        if line:
            lines.add(line)
        else:
            n_empty += 1
    counts = {"in": n_in, "empty": n_empty, "duplicates": n_in - n_empty - len(lines)}
    if max_docs is not None and len(lines) > max_docs:
        lines = set(sorted(lines, key=lambda line: (_hash(line, _SAMPLE_SALT), line))[:max_docs])
    return lines, counts


def split(rows: list[tuple[int, Any, str]], valid_share: float) -> tuple[list, list]:
    """(train, held-out) ``(label, line)`` rows from ``(hash, label, line)`` rows: a line is held
    out when its hash falls in the first ``valid_share`` of the hash range, whatever the order."""
    cut = valid_share * 2.0**64
    return ([(label, line) for h, label, line in rows if h >= cut],
            [(label, line) for h, label, line in rows if h < cut])


def fit(rows: list[tuple[str, str]], out: Path, settings: dict, quantize: bool) -> tuple[Any, bool, int]:
    """Train a fastText supervised model on ``(fastText label, prepared line)`` rows and write it
    atomically to ``out`` (quantized with fastText's published recipe when asked). fastText learns
    by SGD in file order, so the rows are shuffled with the seed first; training uses one thread
    where allocations can be zero-filled, which makes the model byte-identical for the same rows.
    Returns the model, whether it is reproducible, and the threads used."""
    order = np.random.default_rng(settings["seed"]).permutation(len(rows))
    fasttext = _fasttext()
    ensure_dir(out.parent)
    fd, train_file = tempfile.mkstemp(prefix=".tmp-", suffix=".train.txt", dir=out.parent)
    tmp_model = out.with_name(f".tmp-{os.getpid()}-{out.name}")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            for i in order:
                label, line = rows[i]
                f.write(f"{label} {line}\n")
        with _zeroed_allocations() as zeroed:
            threads = 1 if zeroed else _FULL_INIT_THREADS
            try:
                model = fasttext.train_supervised(
                    train_file, lr=settings["lr"], dim=settings["dim"], epoch=settings["epochs"],
                    wordNgrams=settings["word_ngrams"], minCount=settings["min_count"], bucket=settings["bucket"],
                    loss="softmax", thread=threads, seed=settings["seed"], verbose=0)
                if quantize:
                    model.quantize(input=train_file, qnorm=True, retrain=True, cutoff=QUANTIZE_CUTOFF,
                                   epoch=settings["epochs"], lr=settings["lr"], thread=threads, verbose=0)
            except (RuntimeError, ValueError, MemoryError) as e:
                raise StageError(f"fastText training failed: {e}") from None
        model.save_model(str(tmp_model))
        os.replace(tmp_model, out)
    finally:
        Path(train_file).unlink(missing_ok=True)
        tmp_model.unlink(missing_ok=True)
    return model, zeroed, threads


def train_for_cli(train_fn: Any, output: str, *args: Any, **kwargs: Any) -> dict:
    """Run a training function for a command: user mistakes and write errors become one-line
    click errors (the command's --output named)."""
    try:
        return train_fn(*args, **kwargs)
    except (ConfigError, StageError, CorpusError) as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"-o: cannot write {e.filename or output} ({e.strerror or e})") from None


def training_options(unit: str) -> Any:
    """The fastText settings shared by the training commands, as click options; ``unit`` names what
    a class is (``class``, ``domain``) in the help."""
    def apply(fn: Any) -> Any:
        options = [
            click.option("--epochs", type=click.IntRange(min=1), default=DEFAULTS["epochs"], show_default=True),
            click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=DEFAULTS["lr"],
                         show_default=True, help="Learning rate."),
            click.option("--word-ngrams", type=click.IntRange(min=1), default=DEFAULTS["word_ngrams"],
                         show_default=True,
                         help="Longest n-gram of tokens used as a feature (2: bigrams; Chinese characters are tokens)."),
            click.option("--dim", type=click.IntRange(min=1), default=DEFAULTS["dim"], show_default=True,
                         help="Size of the embeddings."),
            click.option("--bucket", type=click.IntRange(min=1), default=DEFAULTS["bucket"], show_default=True,
                         help="Hash buckets for n-grams."),
            click.option("--seed", type=int, default=DEFAULTS["seed"], show_default=True),
            click.option("--valid-share", type=click.FloatRange(0, 1, max_open=True), default=DEFAULTS["valid_share"],
                         show_default=True, help=f"Share of each {unit} held out for the metrics (0: none)."),
            click.option("--max-docs", type=click.IntRange(min=1), default=None,
                         help=f"At most this many documents per {unit} (chosen by a hash of the text)."),
        ]
        for option in reversed(options):
            fn = option(fn)
        return fn
    return apply


def train(pos_texts: Iterable[str], neg_texts: Iterable[str], out_path: str | os.PathLike, *,
          seed: int = DEFAULTS["seed"], epochs: int = DEFAULTS["epochs"], lr: float = DEFAULTS["lr"],
          word_ngrams: int = DEFAULTS["word_ngrams"], dim: int = DEFAULTS["dim"],
          valid_share: float = DEFAULTS["valid_share"], bucket: int = DEFAULTS["bucket"],
          min_count: int = DEFAULTS["min_count"], max_docs: int | None = None) -> dict:
    """Train a quality classifier on good (``pos_texts``) and bad (``neg_texts``) documents.

    Texts are prepared (``prepare_text``); empty results and duplicates within a class are dropped,
    and a line found in both classes is dropped from both. ``max_docs`` keeps at most that many
    documents per class, chosen by a hash of their text. A hash of each line puts about
    ``valid_share`` of each class in a held-out set; the model trains on the rest with one thread
    and ``seed``, so the same inputs in any order give a byte-identical model.

    Writes the model to ``out_path`` (quantized when it ends in ``.ftz``) and, next to it with the
    suffix ``.json``, what this returns: settings, counts and held-out accuracy and ROC AUC.
    """
    out = Path(out_path)
    quantize = out.suffix.lower() == ".ftz"
    settings = {"seed": seed, "epochs": epochs, "lr": lr, "word_ngrams": word_ngrams, "dim": dim,
                "bucket": bucket, "min_count": min_count, "valid_share": valid_share, "max_docs": max_docs}
    _check_settings(settings, quantize)

    pos, pos_counts = _prepare_class(pos_texts, max_docs)
    neg, neg_counts = _prepare_class(neg_texts, max_docs)
    conflicts = pos & neg
    pos -= conflicts
    neg -= conflicts
    for name, lines in (("positive", pos), ("negative", neg)):
        if not lines:
            raise ConfigError(f"no {name} documents with text to train on")
    rows = sorted([(_hash(line, _SPLIT_SALT), 1, line) for line in pos] +
                  [(_hash(line, _SPLIT_SALT), 0, line) for line in neg])
    train_rows, valid_rows = split(rows, valid_share)
    for name, label in (("positive", 1), ("negative", 0)):
        if not any(lab == label for lab, _ in train_rows):
            raise ConfigError(f"no {name} documents left for training after holding out "
                              f"valid_share={valid_share}; give more documents or a smaller share")
    model, zeroed, threads = fit([(POSITIVE if label else NEGATIVE, line) for label, line in train_rows],
                                 out, settings, quantize)

    valid_labels = np.array([label for label, _ in valid_rows], dtype=bool)
    probs = _hq_probability(model, [line for _, line in valid_rows])
    info = {
        "model": out.name,
        "quantized": quantize,
        "labels": {"positive": POSITIVE, "negative": NEGATIVE},
        "settings": {**settings, "loss": "softmax", "threads": threads},
        "prepare": {"version": PREPARE_VERSION, "max_chars": MAX_CHARS},
        "counts": {
            "positive": pos_counts, "negative": neg_counts, "in_both_classes": len(conflicts),
            "train": {"positive": sum(1 for lab, _ in train_rows if lab),
                      "negative": sum(1 for lab, _ in train_rows if not lab)},
            "valid": {"positive": int(valid_labels.sum()), "negative": int((~valid_labels).sum())},
        },
        "metrics": _metrics(valid_labels, probs),
        "reproducible": zeroed,
        "fasttext": _fasttext_version(),
    }
    atomic_write_json(out.with_suffix(".json"), info)
    return info


# --- training inputs ---------------------------------------------------------------------------

JSONL_EXT = (".jsonl", ".json", ".ndjson")
TEXT_EXT = (".txt",)
COMPRESSED_EXT = (".gz", ".bz2", ".xz", ".zst", ".zstd")
FEW_HELD_OUT = 30  # fewer held-out documents of a class than this make the metrics rough
FORMATS = "a corpus folder, .parquet, .jsonl/.json/.ndjson or .txt (optionally .gz/.bz2/.xz/.zst)"


def _open_text(path: Path) -> IO[str]:
    name = path.name.lower()
    if name.endswith(".gz"):
        raw: Any = gzip.open(path, "rb")
    elif name.endswith(".bz2"):
        raw = bz2.open(path, "rb")
    elif name.endswith(".xz"):
        raw = lzma.open(path, "rb")
    elif name.endswith((".zst", ".zstd")):
        import zstandard

        raw = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)
    else:
        raw = open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8", newline="\n")


def _kind(path: Path) -> str:
    if path.is_dir():
        return "corpus"
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    for ext in COMPRESSED_EXT:
        name = name.removesuffix(ext)
    if name.endswith(JSONL_EXT):
        return "jsonl"
    if name.endswith(TEXT_EXT):
        return "text"
    raise click.ClickException(f"{path}: unknown format; expected {FORMATS}")


def expand(specs: tuple[str, ...], flag: str) -> list[Path]:
    """Paths and glob patterns to files and folders; a spec that matches nothing is an error."""
    paths: list[Path] = []
    for spec in specs:
        if glob.has_magic(spec):
            matches = sorted(glob.glob(spec, recursive=True))
            if not matches:
                raise click.ClickException(f"{flag} {spec}: the pattern matches no file")
            paths.extend(Path(m) for m in matches)
        elif Path(spec).exists():
            paths.append(Path(spec))
        else:
            raise click.ClickException(f"{flag} {spec}: no such file or folder")
    return paths


def _label_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _parquet_rows(path: Path, text_column: str, label_column: str | None) -> Iterator[tuple[str, Any]]:
    columns = [text_column] + ([label_column] if label_column else [])
    try:
        names = pq.read_schema(path).names
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        raise click.ClickException(f"{path}: unreadable Parquet file ({str(e).splitlines()[0]})") from None
    for column, flag in zip(columns, ("--text-column", "--label-column")):
        if column not in names:
            raise click.ClickException(f"{path}: no column {column!r} (set {flag}); columns: {', '.join(names)}")
    table = read_parquet(path, columns)
    texts = table.column(text_column).to_pylist()
    labels = table.column(label_column).to_pylist() if label_column else [None] * len(texts)
    for text, label in zip(texts, labels):
        if isinstance(text, str):
            yield text, label


def _jsonl_rows(path: Path, text_column: str, label_column: str | None) -> Iterator[tuple[str, Any]]:
    with _open_text(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise click.ClickException(f"{path}:{n}: not valid JSON ({e.msg})") from None
            text = record.get(text_column) if isinstance(record, dict) else None
            if not isinstance(text, str):
                raise click.ClickException(f"{path}:{n}: no string field {text_column!r} (set --text-column)")
            yield text, record.get(label_column) if label_column else None


def _text_rows(path: Path) -> Iterator[tuple[str, Any]]:
    with _open_text(path) as f:
        for line in f:
            if line.strip():
                yield line.rstrip("\r\n"), None


def read_rows(path: Path, text_column: str, label_column: str | None = None) -> Iterator[tuple[str, Any]]:
    """(text, label) pairs of one input: a corpus folder, a Parquet, JSONL or text file (a document
    per line). Texts are cut to the characters the model sees."""
    kind = _kind(path)
    if kind == "text" and label_column:
        raise click.ClickException(f"{path}: a text file has no labels; give it with --pos or --neg")
    try:
        if kind == "corpus":
            shards = Corpus.open(path).shard_paths
            rows = (row for shard in shards for row in _parquet_rows(shard, text_column, label_column))
        elif kind == "parquet":
            rows = _parquet_rows(path, text_column, label_column)
        elif kind == "jsonl":
            rows = _jsonl_rows(path, text_column, label_column)
        else:
            rows = _text_rows(path)
        for text, label in rows:
            yield text[:MAX_CHARS], label
    except CorpusError as e:
        raise click.ClickException(str(e)) from None
    except UnicodeDecodeError as e:
        raise click.ClickException(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except (OSError, EOFError, ValueError) as e:  # unreadable or damaged (compressed) files
        raise click.ClickException(f"{path}: cannot read ({e})") from None
