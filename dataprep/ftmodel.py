"""fastText prediction with the compiled ``dataprep._fasttext`` module, bit-identical to the
``fasttext`` binding and several times faster.

``load(path)`` gives a ``Model`` whose ``predict`` returns what ``fasttext.load_model(path).predict``
returns: the same labels in the same order and the same float32 probabilities (tests compare the two
with ``==`` on many texts, tests/test_ftmodel.py). It returns None where the compiled module was not
built, where DATAPREP_PURE_PYTHON=1 is set, or where the model is one the module does not handle
(unsupervised models, unreadable files): callers then use the binding.

Supported: supervised models of file format 11 and 12, dense or quantized (``.ftz``, pruned or not,
with or without ``qnorm``/``qout``), losses ``hs``, ``softmax``, ``ova`` and ``ns``, any
``minn``/``maxn``/``wordNgrams``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

try:
    from dataprep import _fasttext as _F
except ImportError:  # built without a C compiler
    _F = None


def available() -> bool:
    return _F is not None and os.environ.get("DATAPREP_PURE_PYTHON", "") in ("", "0")


class Model:
    """A supervised fastText model loaded by ``dataprep._fasttext``."""

    def __init__(self, core: Any) -> None:
        self._core = core
        self.labels: tuple[str, ...] = core.labels
        self.info: dict = core.info

    def is_quantized(self) -> bool:
        """Whether the input matrix is quantized (a ``.ftz``), as the binding's ``is_quantized``."""
        return bool(self.info["quant_input"])

    def get_labels(self) -> list[str]:
        """The labels in the model's order, as the binding's ``get_labels``."""
        return list(self.labels)

    def predict(self, text: str | list[str], k: int = 1, threshold: float = 0.0,
                on_unicode_error: str = "strict") -> tuple[Any, Any]:
        """As ``fasttext.FastText._FastText.predict``: for a list of lines, a list of label lists and
        a list of float32 arrays; for one line, a tuple of labels and a float64 array. Lines must
        not contain a newline (ValueError). The batch runs without the GIL. `on_unicode_error` is
        accepted for compatibility: labels are decoded (strictly) when the model loads."""
        if isinstance(text, list):
            labels, probs, offsets = self._core.predict(text, k, threshold)
            flat = np.frombuffer(probs, dtype=np.float32)
            ends = np.frombuffer(offsets, dtype=np.int64).tolist()
            return labels, [flat[a:b] for a, b in zip(ends, ends[1:])]
        labels, probs, _ = self._core.predict([text], k, threshold)
        return tuple(labels[0]), np.frombuffer(probs, dtype=np.float32).astype(np.float64)


def load(path: str | os.PathLike, strict: bool = False) -> Model | None:
    """The model at `path`, or None when the compiled module is missing (or disabled by
    DATAPREP_PURE_PYTHON=1) or cannot read this model; with `strict`, the reason is raised
    (ImportError, ValueError) instead."""
    if not available():
        if strict:
            raise ImportError("dataprep._fasttext is not built (or DATAPREP_PURE_PYTHON=1 is set)")
        return None
    try:
        return Model(_F.Model(os.fspath(path)))
    except (ValueError, OSError, MemoryError):
        if strict:
            raise
        return None
