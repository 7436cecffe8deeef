"""A fastText domain classifier: one ``__label__<domain>`` per domain, trained on labelled documents.

Text preparation, the fastText import and the reproducible single-thread training are the quality
classifier's (``dataprep.classifier``), so both models see a document the same way; this
module adds what a multi-class model needs: many labels, per-label counts and accuracy.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from dataprep.config import ConfigError
from dataprep.corpus import atomic_write_json
from dataprep.stage import StageError
from dataprep import classifier as Q

PREFIX = "__label__"
DEFAULTS = dict(Q.DEFAULTS)


def load(path: str | os.PathLike, known: Iterable[str]) -> Any:
    """A domain model, loaded once per process (again if the file changed); its labels must all be
    domains the stage knows."""
    p = Path(path)
    model = Q.load_fasttext(p, "domain", "dataprep domain-train")
    labels = [label.removeprefix(PREFIX) for label in model.get_labels()]
    unknown = sorted(set(labels) - set(known))
    if unknown:
        raise StageError(f"{p}: the model's labels {', '.join(unknown[:5])} are not domains of this stage; "
                         "add them under `domains:`")
    return model


def predict(model: Any, texts: list[str]) -> tuple[list[str], np.ndarray]:
    """The most probable domain of each text and its probability."""
    return predict_lines(model, [Q.prepare_text(t) for t in texts])


def predict_lines(model: Any, lines: list[str]) -> tuple[list[str], np.ndarray]:
    """Like ``predict``, for lines already prepared."""
    if not lines:
        return [], np.zeros(0, dtype=np.float64)
    labels, probs = model.predict(lines, k=1, threshold=0.0)
    names = [lab[0].removeprefix(PREFIX) if len(lab) else "" for lab in labels]
    return names, np.clip(np.array([p[0] if len(p) else 0.0 for p in probs], dtype=np.float64), 0.0, 1.0)


def train(examples: Iterable[tuple[str, str]], out_path: str | os.PathLike, *, seed: int = DEFAULTS["seed"],
          epochs: int = DEFAULTS["epochs"], lr: float = DEFAULTS["lr"], word_ngrams: int = DEFAULTS["word_ngrams"],
          dim: int = DEFAULTS["dim"], valid_share: float = DEFAULTS["valid_share"], bucket: int = DEFAULTS["bucket"],
          min_count: int = DEFAULTS["min_count"], max_docs: int | None = None) -> dict:
    """Train a domain classifier on ``(domain, text)`` pairs.

    As for the quality classifier: texts are prepared (``prepare_text``), duplicates within a domain
    are trained on once and a text under two domains is dropped from both, ``max_docs`` keeps at
    most that many per domain (by a hash of the text), a hash of each text holds out about
    ``valid_share``, and one thread with ``seed`` makes the model byte-identical for the same
    inputs in any order. Writes the model (quantized for ``.ftz``) and, with the suffix ``.json``,
    what this returns: settings, counts per domain and held-out accuracy.
    """
    out = Path(out_path)
    quantize = out.suffix.lower() == ".ftz"
    settings = {"seed": seed, "epochs": epochs, "lr": lr, "word_ngrams": word_ngrams, "dim": dim,
                "bucket": bucket, "min_count": min_count, "valid_share": valid_share, "max_docs": max_docs}
    Q._check_settings(settings, quantize)

    by_label: dict[str, set[str]] = {}
    seen: dict[str, set[str]] = {}
    for label, text in examples:
        if not label or any(c.isspace() for c in label):
            raise ConfigError(f"label {label!r}: a domain name without spaces is expected")
        line = Q.prepare_text(text)
        if line:
            by_label.setdefault(label, set()).add(line)
            seen.setdefault(line, set()).add(label)
    conflicts = {line for line, labels in seen.items() if len(labels) > 1}
    if len(by_label) < 2:
        raise ConfigError(f"at least two domains with text are needed to train, got {sorted(by_label) or 'none'}")
    rows = []
    for label in sorted(by_label):
        lines = sorted(by_label[label] - conflicts)
        if max_docs is not None and len(lines) > max_docs:
            lines = sorted(lines, key=lambda line: (Q._hash(line, Q._SAMPLE_SALT), line))[:max_docs]
        rows += [(Q._hash(line, Q._SPLIT_SALT), label, line) for line in lines]
    rows.sort()
    train_rows, valid_rows = Q.split(rows, valid_share)
    if len({label for label, _ in train_rows}) < 2:
        raise ConfigError(f"fewer than two domains left for training after holding out valid_share={valid_share}")
    model, zeroed, threads = Q.fit([(f"{PREFIX}{label}", line) for label, line in train_rows], out, settings, quantize)

    predicted, _ = predict_lines(model, [line for _, line in valid_rows])
    per_label: dict[str, dict] = {}
    for label in sorted(by_label):
        truth = [p for (lab, _), p in zip(valid_rows, predicted) if lab == label]
        per_label[label] = {"train": sum(1 for lab, _ in train_rows if lab == label), "valid": len(truth),
                            "accuracy": (sum(p == label for p in truth) / len(truth)) if truth else None}
    correct = sum(p == lab for (lab, _), p in zip(valid_rows, predicted))
    info = {
        "model": out.name,
        "quantized": quantize,
        "labels": [f"{PREFIX}{label}" for label in sorted(by_label)],
        "settings": {**settings, "loss": "softmax", "threads": threads},
        "prepare": {"version": Q.PREPARE_VERSION, "max_chars": Q.MAX_CHARS},
        "counts": {"in_two_domains": len(conflicts), "by_domain": per_label},
        "metrics": {"accuracy": correct / len(valid_rows) if valid_rows else None},
        "reproducible": zeroed,
        "fasttext": Q._fasttext_version(),
    }
    atomic_write_json(out.with_suffix(".json"), info)
    return info

