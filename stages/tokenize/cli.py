"""`dataprep tokenizer ...`: train a tokenizer on a corpus, or look at one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from dataprep.corpus import Corpus, read_parquet
from dataprep.stage import StageError

from . import loader as L


@click.group(help="Train or inspect tokenizers.")
def tokenizer() -> None:
    pass


@tokenizer.command(help="""Train a tokenizer on the text of a corpus folder.

\b
Presets:
  bytelevel-bpe  GPT-2 style byte-level BPE (HF tokenizers); writes tokenizer.json
  baichuan2      SentencePiece BPE with digits split, byte fallback and whitespace
                 pieces for code, no normalisation; writes tokenizer.model

\b
Examples:
  dataprep tokenizer train -i work/sample/06-dedup -o tok --preset bytelevel-bpe --vocab-size 32000
  dataprep tokenizer train -i work/clean -o tok-zh --preset baichuan2 --vocab-size 64000
""")
@click.option("-i", "--input", "input_", required=True, help="Corpus folder (a stage's output).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Folder for the tokenizer.")
@click.option("--preset", type=click.Choice(L.PRESETS), default="bytelevel-bpe", show_default=True)
@click.option("--vocab-size", type=click.IntRange(260), default=32000, show_default=True)
@click.option("--max-chars", type=click.IntRange(1), default=200_000_000, show_default=True,
              help="Train on at most this many characters (documents in corpus order).")
@click.option("--text-column", default="text", show_default=True)
def train(input_: str, output: str, preset: str, vocab_size: int, max_chars: int, text_column: str) -> None:
    try:
        corpus = Corpus.open(input_)
    except Exception as e:  # noqa: BLE001
        raise click.ClickException(f"{input_}: not a corpus folder ({e})") from None

    def texts():
        budget = max_chars
        for shard in corpus.shard_paths:
            for t in read_parquet(shard, [text_column], threads=True)[text_column].to_pylist():
                if budget <= 0:
                    return
                if t:
                    yield t
                    budget -= len(t)

    try:
        path = L.train(texts(), Path(output), preset, vocab_size)
        info = L.resolve(str(path))
    except StageError as e:
        raise click.ClickException(str(e)) from None
    click.echo(json.dumps({"file": str(path), **{k: v for k, v in info.to_json().items() if k != "path"}}, indent=1))


@tokenizer.command(help="""Show a tokenizer's vocabulary size, special tokens and the ids of a text.

\b
Example:
  dataprep tokenizer info tok/tokenizer.json --text "你好, world"
""")
@click.argument("spec")
@click.option("--text", default=None, help="Encode this text and print its ids.")
def info(spec: str, text: str | None) -> None:
    try:
        i = L.resolve(spec)
    except StageError as e:
        raise click.ClickException(str(e)) from None
    out = i.to_json()
    if text is not None:
        out["ids"] = L.encoder(i)([text])[0]
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
