"""`dataprep domain-train`: train the fastText domain classifier that the domain stage can use."""

from __future__ import annotations

from pathlib import Path

import click

from dataprep.classifier import FORMATS, expand, read_rows, train_for_cli, training_options

from . import model as M


@click.command("domain-train", help=f"""Train a fastText classifier of domains for the domain stage.

Give labelled documents with -i (repeatable: files, folders or glob patterns; {FORMATS}) and the
column holding the domain with --label-column (default `domain`: the output of the domain stage
itself, or of a hand-labelled sample). Rows with no label are skipped; --labels keeps only the
domains named.

The model (.bin, or .ftz quantized) gets one label `__label__<domain>` per domain; OUTPUT with
the suffix .json gets the settings, the documents per domain and the held-out accuracy per domain
(--valid-share of each, chosen by a hash of the text). The same inputs and settings give a
byte-identical model. Use it in the domain stage with `model: OUTPUT`; its label decides when its
probability reaches `model_threshold`. Every label must be a domain of that stage (add new ones
under `domains:`).

\b
Examples:
  dataprep domain-train -i work/domain -o domain.bin --labels '[code, math, encyclopedia, news, web]'
  dataprep domain-train -i 'labelled/*.jsonl' --label-column topic -o domain.ftz --epochs 20 --lr 0.5
""")
@click.option("-i", "--input", "inputs", multiple=True, required=True, metavar="PATH",
              help="Labelled documents; repeatable.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Model file (.bin or .ftz).")
@click.option("--text-column", default="text", show_default=True, help="Column or JSON field holding the text.")
@click.option("--label-column", default="domain", show_default=True, help="Column or JSON field holding the domain.")
@click.option("--labels", default=None, metavar="YAML", help="Only these domains, as a YAML list: '[code, math]'.")
@training_options("domain")
def domain_train(inputs: tuple[str, ...], output: str, text_column: str, label_column: str, labels: str | None,
                 epochs: int, lr: float, word_ngrams: int, dim: int, bucket: int, seed: int, valid_share: float,
                 max_docs: int | None) -> None:
    wanted = _labels(labels)
    examples = []
    for path in expand(inputs, "-i"):
        for text, label in read_rows(path, text_column, label_column):
            if label is None or not isinstance(label, str):
                continue
            if wanted is None or label in wanted:
                examples.append((label, text))
    if not examples:
        raise click.ClickException(f"no labelled documents to train on (check --label-column {label_column!r}"
                                   + (" and --labels)" if wanted else ")"))
    info = train_for_cli(M.train, output, examples, output, seed=seed, epochs=epochs, lr=lr,
                         word_ngrams=word_ngrams, dim=dim, valid_share=valid_share, bucket=bucket, max_docs=max_docs)
    _report(info, Path(output))


def _labels(value: str | None) -> set[str] | None:
    if value is None:
        return None
    import yaml

    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        parsed = None
    if isinstance(parsed, str):
        parsed = [parsed]
    if not isinstance(parsed, list) or not parsed or not all(isinstance(x, str) for x in parsed):
        raise click.ClickException(f"--labels: a list of domains is expected, like '[code, math]', got {value!r}")
    return set(parsed)


def _report(info: dict, output: Path) -> None:
    by = info["counts"]["by_domain"]
    click.echo("trained on " + ", ".join(f"{d} {c['train']}" for d, c in by.items()))
    accuracy = info["metrics"]["accuracy"]
    if accuracy is None:
        click.echo("held-out accuracy: none (no documents held out)")
    else:
        parts = ", ".join(f"{d} {c['accuracy']:.3f} ({c['valid']})" for d, c in by.items() if c["valid"])
        click.echo(f"held-out accuracy {accuracy:.4f}; per domain: {parts}")
    if not info["reproducible"]:
        click.echo("note: trained with several threads (no glibc here), so a rerun gives a slightly different model")
    click.echo(f"model: {output}   metrics: {output.with_suffix('.json')}")
