"""`dataprep tokenizer ...`: train a tokenizer on a corpus, or look at one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from dataprep.corpus import Corpus, CorpusError
from dataprep.stage import StageError

from . import INT_RANGES
from . import extend as X
from . import loader as L


@click.group(help="Train, extend or inspect tokenizers.")
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

For a tokenizer written by `dataprep tokenizer extend`, also the id ranges of the base vocabulary,
the added pieces and the padding.

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
    extension = X.extension_of(i)
    if extension is not None:
        out["extension"] = extension
    if text is not None:
        out["ids"] = L.encoder(i)([text])[0]
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


@tokenizer.command(help=f"""Add pieces for new text to a tokenizer, keeping every existing id.

BASE is a SentencePiece .model (BPE or unigram) or an HF tokenizer.json BPE (byte-level or not),
as a file, a folder holding one, or a hub name. The corpus (-i) is segmented by BASE, and pairs of
its tokens are merged as a BPE trainer merges characters, most frequent first, within words (never
across whitespace after text, a change of script, or a special token). The first --add new pieces
are appended after BASE's last id: in a .model with scores below all of BASE's, in a
tokenizer.json with the merges that build them ranked after BASE's. For a character vocabulary
(SentencePiece, or a BPE that is not byte-level), characters BASE lacks are added as pieces: those
making up {X.CHARACTER_COVERAGE:.2%} of the text first, others where a piece needs them. Text the
new pieces do not match is segmented exactly as by BASE.

The new vocabulary is padded to a multiple of --pad-to with reserved special tokens
(<|reserved_0|>, ...) that encoding never produces. OUTPUT gets tokenizer.model, or
tokenizer.json and tokenizer_config.json, and extend.json: tokens per character before and after
per language on the held-out documents (--heldout-share of the corpus, by a hash of the id, not
learnt from), the pieces added by script, the id ranges. Use OUTPUT as the tokenize stage's
`tokenizer`. The same inputs and options give byte-identical files.

\b
Examples:
  dataprep tokenizer extend llama/tokenizer.model -i work/langid -o tok-zh --add 20000 --lang zh
  dataprep tokenizer extend olmo/tokenizer.json -i work/zh-clean -o tok-zh --add 8000 --pad-to 128
  dataprep tokenize -i work/dedup -o work/tokens --tokenizer tok-zh --add-bos
""")
@click.argument("base")
@click.option("-i", "--input", "input_", required=True,
              help="Corpus folder (a stage's output; with --lang, one with a lang column, such as langid's).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Folder for the new tokenizer.")
@click.option("--add", "add", type=int, required=True, help="Number of pieces to add.")
@click.option("--lang", "langs", multiple=True,
              help="Learn only from documents in this language (repeatable, or comma-separated: zh,yue).")
@click.option("--pad-to", type=int, default=64, show_default=True,
              help="Pad the vocabulary size to a multiple of this (1: no padding).")
@click.option("--heldout-share", type=float, default=0.05, show_default=True,
              help="Share of documents kept out of learning to measure tokens per character on.")
@click.option("--max-chars", type=int, default=200_000_000, show_default=True,
              help="Learn from at most this many characters (documents in corpus order).")
@click.option("--min-count", type=int, default=X.MIN_PAIR_COUNT, show_default=True,
              help="Merge only pairs seen at least this often; fewer than --add pieces are added (and the report "
                   "says so) when the corpus has too few such pairs.")
@click.option("--text-column", default="text", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def extend(base: str, input_: str, output: str, add: int, langs: tuple[str, ...], pad_to: int, heldout_share: float,
           max_chars: int, min_count: int, text_column: str, quiet: bool) -> None:
    wanted = [x.strip() for value in langs for x in value.split(",") if x.strip()]
    if langs and not wanted:
        raise click.ClickException("--lang: give a language code such as zh")
    try:
        report = X.extend(base, input_, output, add, wanted, pad_to=pad_to, heldout_share=heldout_share,
                          max_chars=max_chars, text_column=text_column, min_count=min_count, quiet=quiet)
    except (StageError, CorpusError) as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"--output: cannot write {output} ({e.strerror or e})") from None
    click.echo(json.dumps(report, indent=1, ensure_ascii=False))
