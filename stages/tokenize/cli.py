"""`dataprep tokenizer ...`: train a tokenizer on a corpus, or look at one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from dataprep.corpus import Corpus
from dataprep.stage import StageError

from . import INT_RANGES
from . import loader as L


@click.group(help="Train or inspect tokenizers.")
def tokenizer() -> None:
    pass


@tokenizer.command(help=f"""Train a tokenizer on the text of a corpus folder.

\b
Presets:
  bytelevel-bpe  GPT-2 style byte-level BPE (HF tokenizers); writes tokenizer.json
  baichuan2      SentencePiece BPE with digits split, byte fallback and whitespace
                 pieces for code, no normalisation; writes tokenizer.model

Training cuts any run of more than {L.MAX_RUN_CHARS} characters of one kind (letters and digits, other
symbols, whitespace) every {L.MAX_RUN_CHARS} characters, so its time is linear in the input; the saved
tokenizer encodes such runs whole.

\b
Examples:
  dataprep tokenizer train -i work/sample/06-dedup -o tok --preset bytelevel-bpe --vocab-size 32000
  dataprep tokenizer train -i work/clean -o tok-zh --preset baichuan2 --vocab-size 64000
""")
@click.option("-i", "--input", "input_", required=True, help="Corpus folder (a stage's output).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Folder for the tokenizer.")
@click.option("--preset", type=click.Choice(L.PRESETS), default="bytelevel-bpe", show_default=True)
@click.option("--vocab-size", type=int, default=32000, show_default=True,
              help=f"Vocabulary size, at least {L.MIN_VOCAB_SIZE}.")
@click.option("--max-chars", type=int, default=200_000_000, show_default=True,
              help="Train on at most this many characters (documents in corpus order).")
@click.option("--text-column", default="text", show_default=True)
def train(input_: str, output: str, preset: str, vocab_size: int, max_chars: int, text_column: str) -> None:
    for flag, value, key in (("--vocab-size", vocab_size, "vocab_size"), ("--max-chars", max_chars, "train_chars")):
        low, high = INT_RANGES[key]  # the stage's own ranges for the same options
        if value < low:
            raise click.ClickException(f"{flag}: must be >= {low}, got {value}")
        if value > high:
            raise click.ClickException(f"{flag}: must be <= {high}, got {value}")
    try:
        corpus = Corpus.open(input_)
    except Exception as e:  # noqa: BLE001
        raise click.ClickException(f"{input_}: not a corpus folder ({e})") from None
    try:
        texts = L.training_texts([str(p) for p in corpus.shard_paths], text_column, max_chars, "--text-column")
        path = L.train(texts, Path(output), preset, vocab_size, key="--vocab-size")
        info = L.resolve(str(path))
    except StageError as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"--output: cannot write {output} ({e.strerror or e})") from None
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
