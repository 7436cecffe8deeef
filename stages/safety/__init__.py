"""safety: word-list and pattern scores for pornographic, gambling and violent/extremist content.

Every document gets, per category, ``safety_<category>`` (the weights of its matched terms per
1,000 characters of its text) and ``safety_<category>_matches`` (how many terms matched). A
document is rejected as ``safety:<category>`` when a category's score reaches its threshold
with at least ``min_matches`` matches; the rejected row says which terms matched in ``detail``.

Terms come from plain text lists (``lists/*.txt``, described in ``lists/README.md``), which a
user can replace. Text and terms are normalised the same way before matching (``matcher.py``),
so spaced-out, symbol-broken, full-width, upper-case and digit-for-letter spellings match too.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pyarrow as pa

from dataprep.config import ConfigError, option
from dataprep.corpus import read_parquet, split_by_reason
from dataprep.stage import Stage, StageContext, StageError, Task, TaskOutput, gc_paused, text_chars

from .matcher import Matcher
from .terms import BUILTIN_LISTS, KNOWN_CATEGORIES, load_lexicon

DEFAULT_THRESHOLD = 20.0


@dataclass
class SafetyConfig:
    lists: Optional[str] = option(None, help="Folder of term lists: CATEGORY.txt or CATEGORY.LANG.txt files, one "
                                             "term per line, `term | weight` (see lists/README.md); every file "
                                             "is a category. Default: the built-in lists (porn, gambling, "
                                             "violence; Chinese and English).")
    porn_lists: list[str] = option([], help="List files for `porn`, used instead of the folder's porn lists.")
    gambling_lists: list[str] = option([], help="List files for `gambling`, used instead of the folder's.")
    violence_lists: list[str] = option([], help="List files for `violence`, used instead of the folder's.")
    threshold: float = option(DEFAULT_THRESHOLD, help="Reject a document when a category's score (weight of "
                                                      "matched terms per 1,000 characters) reaches this.")
    thresholds: dict[str, Optional[float]] = option({}, help="Thresholds by category, overriding `threshold`; "
                                                             "null scores the category but never rejects: "
                                                             "{violence: 30, porn: null}.")
    languages: dict[str, dict[str, Optional[float]]] = option(
        {}, help="Thresholds by language (the `lang` column) and category; null never rejects that category in "
                 "that language: {en: {gambling: 30}}.")
    min_matches: int = option(2, help="A category rejects a document only with at least this many matches.")
    min_chars: int = option(1000, help="Score a shorter document as if it had this many characters, so that "
                                      "one term in a short text is not a high density.")
    dry_run: bool = option(False, help="Score and record what would be rejected (`safety_reason`, "
                                       "`safety_detail`), but keep every document.")
    exempt: dict[str, list[str]] = option({}, help="Score but never reject rows whose column has one of these "
                                                   "values: {source: [news]}.")
    text_column: str = option("text", help="Column holding the text.")

    def list_files(self) -> dict[str, list[str]]:
        return {c: getattr(self, f"{c}_lists") for c in KNOWN_CATEGORIES}

    def validate(self) -> None:
        if self.min_matches < 1:
            raise ConfigError(f"min_matches: must be >= 1, got {self.min_matches}")
        if self.min_chars < 1:
            raise ConfigError(f"min_chars: must be >= 1, got {self.min_chars}")
        bounds = {"threshold": self.threshold, **{f"thresholds.{c}": v for c, v in self.thresholds.items()},
                  **{f"languages.{lang}.{c}": v for lang, over in self.languages.items() for c, v in over.items()}}
        for key, value in bounds.items():
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{key}: a positive number is expected, got {value}")
        categories = matcher_for(self).categories  # reads and checks every list file
        for key in [f"thresholds.{c}" for c in self.thresholds] + \
                   [f"languages.{lang}.{c}" for lang, over in self.languages.items() for c in over]:
            name = key.rsplit(".", 1)[1]
            if name not in categories:
                raise ConfigError(f"{key}: unknown category; the lists have: {', '.join(categories)}")


@functools.lru_cache(maxsize=8)
def _matcher(folder: str | None, files: tuple[tuple[str, tuple[str, ...]], ...], digest: str) -> Matcher:
    return Matcher(load_lexicon(folder, {c: list(p) for c, p in files}))


def matcher_for(config: SafetyConfig) -> Matcher:
    """The compiled lists of a configuration (built once per process for the same list contents)."""
    files = config.list_files()
    digest = load_lexicon(config.lists, files).digest
    return _matcher(config.lists, tuple((c, tuple(p)) for c, p in files.items()), digest)


class SafetyStage(Stage):
    """Score and filter pornographic, gambling and violent/extremist content with term lists.

    Adds `safety_<category>` (weight of matched terms per 1,000 characters) and
    `safety_<category>_matches` for porn, gambling and violence (or the categories of your own
    lists). A category whose score reaches its threshold, with at least --min-matches matches,
    rejects the document as safety:<category>; the rejected row lists the matched terms in
    `detail`. Matching sees through spaced-out letters ("p o r n", "赌 博"), symbols ("p*o*r*n"),
    full-width forms, case, digits for letters ("p0rn") and traditional characters. A news
    article that mentions a casino once scores far below the threshold; a spam page does not.

    \b
    Examples:
      dataprep safety -i work/dedup -o work/safety
      dataprep safety -i work/dedup -o work/safety --dry-run
      dataprep safety -i work/dedup -o work/safety --thresholds '{violence: 30, porn: 10}'
      dataprep safety -i work/dedup -o work/safety --lists my-lists/
      dataprep safety -i work/dedup -o work/safety --gambling-lists gambling-extra.txt
    """

    name = "safety"
    Config = SafetyConfig
    help = __doc__ or ""

    def __init__(self, config: SafetyConfig):
        super().__init__(config)
        self.matcher = matcher_for(config)
        # The lists' contents are part of the stage's fingerprint: an edited list file reruns the stage.
        self.version = f"1+lists.{self.matcher.lexicon.digest}"

    def threshold_for(self, category: str, lang: str | None) -> float | None:
        cfg = self.config
        over = cfg.languages.get(lang, {}) if lang is not None else {}
        if category in over:
            return over[category]
        return cfg.thresholds.get(category, cfg.threshold)

    def run_task(self, task: Task, state: Any, out: TaskOutput) -> None:
        table = read_parquet(task.inputs[0])
        out.rows_in += table.num_rows
        out.chars_in += text_chars(table, self.config.text_column)
        kept, rejected, counts = self.score(table)
        out.write_kept(kept)
        out.write_rejected(rejected)
        for k, v in counts.items():
            out.count(k, v)

    def score(self, table: pa.Table) -> tuple[pa.Table, pa.Table, dict[str, int]]:
        """Score every row; returns kept rows, rejected rows (with ``reason`` and ``detail``) and counters."""
        cfg = self.config
        col = cfg.text_column
        if col not in table.column_names:
            raise StageError(f"safety.text_column: the corpus has no column {col!r}")
        n = table.num_rows
        exempt = [False] * n
        for column, values in cfg.exempt.items():
            if column not in table.column_names:
                raise StageError(f"safety.exempt: the corpus has no column {column!r}")
            wanted = set(values)
            exempt = [e or (v is not None and str(v) in wanted) for e, v in zip(exempt, table[column].to_pylist())]
        langs = table["lang"].to_pylist() if "lang" in table.column_names else [None] * n
        cats = self.matcher.categories
        limits = {lang: [self.threshold_for(c, lang) for c in cats] for lang in set(langs)}
        scores: list[list[float]] = [[] for _ in cats]
        matches: list[list[int]] = [[] for _ in cats]
        reasons: list[str | None] = []
        details: list[str | None] = []
        counts: dict[str, int] = {}
        with gc_paused():
            texts = [t or "" for t in table[col].to_pylist()]
            for text, found, lang, free in zip(texts, self.matcher.find_many(texts), langs, exempt):
                chars = max(len(text), cfg.min_chars)
                doc_scores = [round(1000.0 * w / chars, 3) for w in found.weight]
                worst, worst_ratio = None, 0.0
                for i, (s, hits, limit) in enumerate(zip(doc_scores, found.hits, limits[lang])):
                    scores[i].append(s)
                    matches[i].append(hits)
                    if hits:
                        counts[f"matched_docs:{cats[i]}"] = counts.get(f"matched_docs:{cats[i]}", 0) + 1
                        counts[f"matches:{cats[i]}"] = counts.get(f"matches:{cats[i]}", 0) + hits
                    if limit is not None and hits >= cfg.min_matches and s >= limit and s / limit > worst_ratio:
                        worst, worst_ratio = i, s / limit
                if worst is None:
                    reasons.append(None)
                    details.append(None)
                    continue
                if free:
                    counts["exempt_over_threshold"] = counts.get("exempt_over_threshold", 0) + 1
                    reasons.append(None)
                    details.append(None)
                    continue
                cat = cats[worst]
                reasons.append(f"safety:{cat}")
                details.append(f"{cat} {doc_scores[worst]:g} per 1,000 characters (threshold {limits[lang][worst]:g}), "
                               f"{found.hits[worst]} matches: {self.matcher.describe(text, found, {worst})}")
        out = table
        for i, cat in enumerate(cats):
            for name, values, typ in ((f"safety_{cat}", scores[i], pa.float64()),
                                      (f"safety_{cat}_matches", matches[i], pa.int32())):
                if name in out.column_names:
                    out = out.drop_columns([name])
                out = out.append_column(name, pa.array(values, typ))
        reason_arr = pa.array(reasons, pa.string())
        if cfg.dry_run:
            for name, values in (("safety_reason", reason_arr), ("safety_detail", pa.array(details, pa.string()))):
                if name in out.column_names:
                    out = out.drop_columns([name])
                out = out.append_column(name, values)
            return out, split_by_reason(out.slice(0, 0), pa.array([], pa.string()), self.name)[1], counts
        kept, rejected = split_by_reason(out, reason_arr, self.name, extra={"detail": details})
        return kept, rejected, counts

    def finish(self, ctx: StageContext, manifest: dict) -> None:
        lexicon = self.matcher.lexicon
        manifest["safety"] = {
            "categories": list(lexicon.categories),
            "lists": "built-in" if self.config.lists is None else self.config.lists,
            "list_files": [f"built-in/{Path(f).name}" if Path(f).parent == BUILTIN_LISTS else f for f in lexicon.files],
            "lists_digest": lexicon.digest,
            "terms": {c: sum(t.category == c for t in lexicon.terms) for c in lexicon.categories},
            "thresholds": {c: self.threshold_for(c, None) for c in lexicon.categories},
        }
