"""`dataprep quality-train`: train the fastText quality classifier that the quality stage can use."""

from __future__ import annotations

from pathlib import Path

import click

from dataprep import classifier as M
from dataprep.classifier import FEW_HELD_OUT, FORMATS, _label_value, expand, read_rows, train_for_cli


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
@M.training_options("class")
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

    info = train_for_cli(M.train, output, good, bad, output, seed=seed, epochs=epochs, lr=lr,
                         word_ngrams=word_ngrams, dim=dim, valid_share=valid_share, bucket=bucket, max_docs=max_docs)
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
