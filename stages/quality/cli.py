"""`dataprep quality-train`: train the fastText quality classifier that the quality stage can use."""

from __future__ import annotations

import bz2
import glob
import gzip
import io
import json
import lzma
from pathlib import Path
from typing import IO, Any, Iterator

import click
import pyarrow.parquet as pq

from dataprep.config import ConfigError
from dataprep.corpus import Corpus, CorpusError, read_parquet
from dataprep.stage import StageError

from . import model as M

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
            yield text[:M.MAX_CHARS], label
    except CorpusError as e:
        raise click.ClickException(str(e)) from None
    except UnicodeDecodeError as e:
        raise click.ClickException(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except (OSError, EOFError, ValueError) as e:  # unreadable or damaged (compressed) files
        raise click.ClickException(f"{path}: cannot read ({e})") from None


@click.command("quality-train", help=f"""Train a fastText classifier of good against bad text for the quality stage.

Give examples of good documents with --pos and of bad ones with --neg (each repeatable, files,
folders or glob patterns), or labelled documents with -i and --label-column. Inputs are
{FORMATS}; a .txt file holds a document per line.

The model is saved to OUTPUT (.bin, or .ftz for a quantized model that keeps the 100,000 largest
rows); OUTPUT with the suffix .json gets the settings, the document counts and the accuracy and
ROC AUC on held-out documents (--valid-share of each class, chosen by a hash of the text, so the
split is the same whatever the input order or seed). The same inputs and settings give a
byte-identical model. Use it in the quality stage with `model: OUTPUT`.

Defaults are DCLM's (lr 0.1, dim 100, 5 epochs, word bigrams); ChineseWebText's scorer uses
--lr 0.5. A few thousand examples need more epochs (20) and a higher rate (0.5). The model holds
(words + --bucket) x --dim floats: 800 MB with the defaults.

\b
Examples:
  dataprep quality-train --pos work/wiki --neg work/crawl-sample -o quality.bin
  dataprep quality-train --pos 'good/*.jsonl' --neg spam.txt -o quality.ftz --epochs 20 --lr 0.5
  dataprep quality-train -i labelled.jsonl --label-column quality_label --positive good -o q.bin
""")
@click.option("--pos", "pos", multiple=True, metavar="PATH", help="Good (high-quality) documents; repeatable.")
@click.option("--neg", "neg", multiple=True, metavar="PATH", help="Bad (low-quality) documents; repeatable.")
@click.option("-i", "--input", "inputs", multiple=True, metavar="PATH",
              help="Labelled documents (needs --label-column and --positive); repeatable.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Model file (.bin or .ftz).")
@click.option("--text-column", default="text", show_default=True, help="Column or JSON field holding the text.")
@click.option("--label-column", default=None, help="Column or JSON field holding the label (with -i).")
@click.option("--positive", multiple=True, metavar="VALUE", help="Label value of good documents; repeatable.")
@click.option("--negative", multiple=True, metavar="VALUE",
              help="Label value of bad documents; repeatable (default: every other value).")
@click.option("--epochs", type=click.IntRange(min=1), default=M.DEFAULTS["epochs"], show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=M.DEFAULTS["lr"], show_default=True,
              help="Learning rate.")
@click.option("--word-ngrams", type=click.IntRange(min=1), default=M.DEFAULTS["word_ngrams"], show_default=True,
              help="Longest n-gram of tokens used as a feature (2: bigrams; Chinese characters are tokens).")
@click.option("--dim", type=click.IntRange(min=1), default=M.DEFAULTS["dim"], show_default=True,
              help="Size of the embeddings.")
@click.option("--bucket", type=click.IntRange(min=1), default=M.DEFAULTS["bucket"], show_default=True,
              help="Hash buckets for n-grams.")
@click.option("--seed", type=int, default=M.DEFAULTS["seed"], show_default=True)
@click.option("--valid-share", type=click.FloatRange(0, 1, max_open=True), default=M.DEFAULTS["valid_share"],
              show_default=True, help="Share of each class held out for the metrics (0: none).")
@click.option("--max-docs", type=click.IntRange(min=1), default=None,
              help="At most this many documents per class (chosen by a hash of the text).")
def quality_train(pos: tuple[str, ...], neg: tuple[str, ...], inputs: tuple[str, ...], output: str, text_column: str,
                  label_column: str | None, positive: tuple[str, ...], negative: tuple[str, ...], epochs: int,
                  lr: float, word_ngrams: int, dim: int, bucket: int, seed: int, valid_share: float,
                  max_docs: int | None) -> None:
    if not (pos or neg or inputs):
        raise click.ClickException("no training documents: give --pos and --neg, or -i with --label-column")
    if inputs and not label_column:
        raise click.ClickException("-i needs --label-column (and --positive); plain files of one class go to "
                                   "--pos or --neg")
    if label_column and not inputs:
        raise click.ClickException("--label-column applies to -i inputs; give some with -i")
    if inputs and not positive:
        raise click.ClickException(f"--positive: which values of {label_column!r} mark good documents?")
    if (positive or negative) and not label_column:
        raise click.ClickException("--positive/--negative need -i and --label-column")
    if set(positive) & set(negative):
        raise click.ClickException(f"--positive and --negative share {sorted(set(positive) & set(negative))}")

    good: list[str] = []
    bad: list[str] = []
    for flag, specs, target in (("--pos", pos, good), ("--neg", neg, bad)):
        for path in expand(specs, flag):
            target.extend(text for text, _ in read_rows(path, text_column))
    for path in expand(inputs, "-i"):
        for text, label in read_rows(path, text_column, label_column):
            if label is None:
                continue
            value = _label_value(label)
            if value in positive:
                good.append(text)
            elif value in negative or not negative:
                bad.append(text)
    for name, texts, flags in (("good", good, "--pos" + (" or --positive" if inputs else "")),
                               ("bad", bad, "--neg" + (" or --negative" if inputs else ""))):
        if not texts:
            raise click.ClickException(f"no {name} documents to train on (check {flags})")

    try:
        info = M.train(good, bad, output, seed=seed, epochs=epochs, lr=lr, word_ngrams=word_ngrams, dim=dim,
                       valid_share=valid_share, bucket=bucket, max_docs=max_docs)
    except (ConfigError, StageError, CorpusError) as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"-o: cannot write {e.filename or output} ({e.strerror or e})") from None
    _report(info, Path(output))


def _report(info: dict, output: Path) -> None:
    c = info["counts"]
    click.echo(f"trained on {c['train']['positive']} good and {c['train']['negative']} bad documents; "
               f"held out {c['valid']['positive']} good and {c['valid']['negative']} bad")
    m = info["metrics"]
    if m["accuracy"] is None:
        click.echo("held-out metrics: none (no documents held out)")
    else:
        auc = "n/a (the held-out documents are all of one class)" if m["roc_auc"] is None else f"{m['roc_auc']:.4f}"
        click.echo(f"held-out accuracy {m['accuracy']:.4f} (threshold {m['threshold']}), ROC AUC {auc}")
        few = min(c["valid"].values())
        if few < FEW_HELD_OUT:
            click.echo(f"note: only {few} documents of a class held out; the metrics are rough "
                       "(raise --valid-share or add documents)")
    if not info["reproducible"]:
        click.echo("note: trained with several threads (no glibc here), so a rerun gives a slightly different model")
    click.echo(f"model: {output}   metrics: {output.with_suffix('.json')}")
