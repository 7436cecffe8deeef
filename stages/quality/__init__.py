"""quality: score every document, cut low-quality lines and sentences, reject low-quality documents.

Signals (``signals.py``) are computed per batch with polars, per language group (``rules.py``):
Gopher, C4 and FineWeb rules with their published thresholds, Chinese rules in Chinese units,
ads and spam, machine-made and templated text. Lines and sentences that match a cut rule
(navigation, copyright, "read more", ads, ...) are removed from kept documents and recorded in
``_edits/``; a document is then judged on what is left. Every document gets ``quality`` in [0, 1]
and ``quality_signals`` (the raw values); rejected ones go to ``_rejected/`` as
``quality:<rule>``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Optional

import polars as pl
import pyarrow as pa

from dataprep.config import ConfigError, option
from dataprep.corpus import read_parquet, split_by_reason
from dataprep.stage import Stage, StageContext, StageError, Task, TaskOutput, text_chars

from . import rules as R
from . import signals as S

HIST_BINS = 10


@dataclass
class QualityConfig:
    preset: Literal["default", "gopher", "c4", "fineweb", "chinese"] = option(
        "default", help="Rule set: `default` (everything that fits each language), or one published set: "
                        "`gopher`, `c4`, `fineweb`, `chinese` (ChineseWebText and MAP-NEO rules).")
    add_rules: list[str] = option([], help="Rules to add to the preset (names as in docs/quality.md).")
    skip_rules: list[str] = option([], help="Rules of the preset to leave out.")
    thresholds: dict[str, float] = option({}, help="Bounds to change, by rule name: {gopher_min_words: 30}.")
    languages: dict[str, dict[str, Optional[float]]] = option(
        {}, help="Per-language bounds by ISO code; null turns a rule off for that language: "
                 "{zh: {zh_min_chars: 100}, en: {gopher_stop_words: null}}.")
    line_rules: Optional[list[str]] = option(None, help="Line (paragraph) cut rules; default: the preset's. "
                                                        f"Known: {', '.join(R.LINE_RULES)}.")
    sentence_rules: Optional[list[str]] = option(None, help="Sentence cut rules; default: the preset's. "
                                                            f"Known: {', '.join(R.SENTENCE_RULES)}.")
    min_quality: float = option(0.0, help="Also reject documents whose quality score is lower (0 = off).")
    dry_run: bool = option(False, help="Score and record what would be cut or rejected (`quality_reason`), "
                                       "but keep every document unchanged.")
    model: Optional[str] = option(None, help="A fastText quality classifier (from `dataprep quality-train`) "
                                             "whose high-quality probability is mixed into the score.")
    model_weight: float = option(0.5, help="Weight of the classifier in the score (the rules get the rest).")
    min_model_score: float = option(0.0, help="Reject documents the classifier scores lower (0 = off).")
    exempt: dict[str, list[str]] = option({}, help="Score but never cut or reject rows whose column has one of "
                                                   "these values: {source: [code]}.")
    text_column: str = option("text", help="Column holding the text.")

    def validate(self) -> None:
        names = set(R.BY_NAME)
        for key in ("add_rules", "skip_rules"):
            for name in getattr(self, key):
                if name not in names:
                    raise ConfigError(f"{key}: unknown rule {name!r}; known: {', '.join(sorted(names))}")
        for name, value in self.thresholds.items():
            if name not in names:
                raise ConfigError(f"thresholds.{name}: unknown rule; known: {', '.join(sorted(names))}")
            if not math.isfinite(value):
                raise ConfigError(f"thresholds.{name}: a finite number is expected, got {value}")
        for lang, over in self.languages.items():
            for name in over:
                if name not in names:
                    raise ConfigError(f"languages.{lang}.{name}: unknown rule; known: {', '.join(sorted(names))}")
        for key, known in (("line_rules", R.LINE_RULES), ("sentence_rules", R.SENTENCE_RULES)):
            for name in getattr(self, key) or []:
                if name not in known:
                    raise ConfigError(f"{key}: unknown rule {name!r}; known: {', '.join(known)}")
        for key in ("min_quality", "model_weight", "min_model_score"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ConfigError(f"{key}: a number between 0 and 1 is expected, got {getattr(self, key)}")
        if self.model is None and self.min_model_score > 0:
            raise ConfigError("min_model_score: needs `model:`")

    def doc_rules(self) -> list[R.Rule]:
        chosen = [n for n in R.PRESETS[self.preset]["rules"] if n not in self.skip_rules]
        chosen += [n for n in self.add_rules if n not in chosen]
        out = []
        for name in chosen:
            rule = R.BY_NAME[name]
            if name in self.thresholds:
                rule = R.Rule(rule.name, rule.signal, rule.op, self.thresholds[name], rule.langs, rule.source)
            out.append(rule)
        return out

    def unit_rules(self) -> tuple[list[str], list[str]]:
        preset = R.PRESETS[self.preset]
        lines = preset["lines"] if self.line_rules is None else self.line_rules
        sentences = preset["sentences"] if self.sentence_rules is None else self.sentence_rules
        return list(lines), list(sentences)


def soft_score(value: pl.Expr, rule: R.Rule) -> pl.Expr:
    """1 well inside the bound, 0.5 at the bound, 0 at twice (or half) the bound."""
    b = float(rule.bound)
    if rule.op == "max":
        if b <= 0:
            return pl.when(value <= b).then(1.0).otherwise(0.0)
        r = value / b
    else:
        if b <= 0:
            return pl.lit(1.0)
        r = pl.when(value > 0).then(b / value).otherwise(float("inf"))
    return (pl.when(r <= 0.5).then(1.0).when(r <= 1.0).then(1.5 - r)
            .otherwise((1.0 - 0.5 * r).clip(0.0, 0.5)))


def violated(value: pl.Expr, rule: R.Rule) -> pl.Expr:
    return value > rule.bound if rule.op == "max" else value < rule.bound


class QualityStage(Stage):
    """Score documents, cut low-quality lines and sentences, reject low-quality documents.

    Rules run per language (the `lang` column from langid, else the script): Gopher's word rules
    for languages with spaces, Chinese rules in characters and Chinese sentences, ads, spam,
    garbled and templated text for all. Cut lines and sentences are listed in _edits/ with their
    rule; rejected documents go to _rejected/ as quality:<rule>. Adds `quality` (0-1) and
    `quality_signals`.

    \b
    Examples:
      dataprep quality -i work/dedup -o work/quality
      dataprep quality -i work/dedup -o work/quality --preset gopher --dry-run
      dataprep quality -i work/dedup -o work/quality --thresholds '{gopher_min_words: 30}'
      dataprep quality -i work/dedup -o work/quality --model quality.bin --min-model-score 0.2
    """

    name = "quality"
    Config = QualityConfig
    help = __doc__ or ""
    version = "1"

    def prepare(self, ctx: StageContext) -> Any:
        if self.config.model:
            from dataprep.classifier import load

            load(self.config.model)  # a missing or unreadable model stops the stage before any shard runs
        return None

    def run_task(self, task: Task, state: Any, out: TaskOutput) -> None:
        table = read_parquet(task.inputs[0])
        out.rows_in += table.num_rows
        out.chars_in += text_chars(table, self.config.text_column)
        kept, rejected, edits, counts = self.score(table)
        out.write_kept(kept)
        out.write_rejected(rejected)
        out.write_edits(edits)
        for k, v in counts.items():
            out.count(k, v)

    def score(self, table: pa.Table) -> tuple[pa.Table, pa.Table, pa.Table, dict[str, int]]:
        cfg = self.config
        col = cfg.text_column
        if col not in table.column_names:
            raise StageError(f"quality.text_column: the corpus has no column {col!r}")
        n = table.num_rows
        texts = pl.from_arrow(table[col]).cast(pl.String).fill_null("")
        langs = pl.from_arrow(table["lang"]).cast(pl.String) if "lang" in table.column_names else None
        groups = S.language_groups(texts, langs)
        line_rules, sentence_rules = cfg.unit_rules()
        new_texts, cuts = S.cut_units(texts, line_rules, sentence_rules)
        sig = S.doc_signals(new_texts, groups)
        # the share of the document kept; a related-articles tail is not part of the document
        tail = (cuts.filter(pl.col("reason") == "quality:related_section")
                .group_by("doc").agg(c=(pl.col("text").str.len_chars() + 1).sum()))
        tail_chars = (pl.DataFrame({"doc": pl.arange(0, n, eager=True, dtype=pl.UInt32)})
                      .join(tail, on="doc", how="left").sort("doc")["c"].fill_null(0))
        body = (texts.str.len_chars().cast(pl.Int64) - tail_chars.cast(pl.Int64)).clip(0)
        sig = sig.with_columns(kept_share=pl.Series(S._ratio_series(new_texts.str.len_chars(), body)))

        exempt = pl.Series([False] * n, dtype=pl.Boolean)  # typed: an empty shard would make it Null
        for column, values in cfg.exempt.items():
            if column not in table.column_names:
                raise StageError(f"quality.exempt: the corpus has no column {column!r}")
            exempt = exempt | pl.from_arrow(table[column]).cast(pl.String).is_in(values).fill_null(False)

        lang_key = langs.fill_null(groups) if langs is not None else groups
        frame = sig.with_columns(_g=groups, _lang=lang_key)
        scores, reasons, violations = [], [], {}
        for rule in cfg.doc_rules():
            over = {lang: v for lang, o in cfg.languages.items() for name, v in o.items() if name == rule.name}
            applies = pl.col("_g").is_in([g for g in ("word", "zh", "cjk") if rule.applies(g)])
            if rule.only_langs:  # a rule for named languages (a stop-word list)
                applies = applies | pl.col("_lang").is_in(rule.only_langs)
            value = pl.col(rule.signal)
            s = soft_score(value, rule)
            bad = violated(value, rule)
            for lang, bound in over.items():
                is_lang = pl.col("_lang") == lang
                if bound is None:
                    applies = applies & ~is_lang
                    continue
                alt = R.Rule(rule.name, rule.signal, rule.op, bound, rule.langs, rule.source)
                s = pl.when(is_lang).then(soft_score(value, alt)).otherwise(s)
                bad = pl.when(is_lang).then(violated(value, alt)).otherwise(bad)
            scores.append(pl.when(applies).then(s).otherwise(1.0).alias(f"s_{rule.name}"))
            reasons.append((rule.name, pl.when(applies).then(bad).otherwise(False).alias(f"v_{rule.name}")))
        judged = frame.with_columns(scores + [r for _, r in reasons]) if scores else frame
        rule_names = [name for name, _ in reasons]
        if scores:
            quality = judged.select(pl.reduce(lambda a, b: a * b, [pl.col(f"s_{n}") for n in rule_names]))
            quality = quality.to_series()
        else:
            quality = pl.Series([1.0] * n)
        if cfg.model:
            from dataprep.classifier import load, score as model_score

            probs = pl.Series(model_score(load(cfg.model), new_texts.to_list()), dtype=pl.Float64)
            sig = sig.with_columns(model_score=probs)
            quality = (1 - cfg.model_weight) * quality + cfg.model_weight * probs
        quality = quality.cast(pl.Float64).round(6)

        # the reason: the violated rule with the lowest soft score (ties: rule order); a document
        # that lost too much to cuts is named after the cut rule that removed most characters
        reason = pl.Series([None] * n, dtype=pl.String)
        worst = pl.Series([2.0] * n)
        for name in rule_names:
            v = judged[f"v_{name}"]
            s = judged[f"s_{name}"]
            take = v & (s < worst)
            reason = pl.select(pl.when(take).then(pl.lit(f"quality:{name}")).otherwise(reason)).to_series()
            worst = pl.select(pl.when(take).then(s).otherwise(worst)).to_series()
            violations[f"violations:{name}"] = int(v.sum())
        if cfg.model and cfg.min_model_score > 0:
            low = sig["model_score"] < cfg.min_model_score
            reason = pl.select(pl.when(reason.is_null() & low).then(pl.lit("quality:model_score"))
                               .otherwise(reason)).to_series()
        if cfg.min_quality > 0:
            reason = pl.select(pl.when(reason.is_null() & (quality < cfg.min_quality))
                               .then(pl.lit("quality:low_score")).otherwise(reason)).to_series()
        if cuts.height:
            top_cut = (cuts.with_columns(c=pl.col("text").str.len_chars()).group_by(["doc", "reason"])
                       .agg(pl.col("c").sum()).sort(["doc", "c", "reason"], descending=[False, True, False])
                       .group_by("doc", maintain_order=True).first())
            by_doc = (pl.DataFrame({"doc": pl.arange(0, n, eager=True, dtype=pl.UInt32)})
                      .join(top_cut, on="doc", how="left").sort("doc")["reason"])
            cut_most = judged["v_min_kept_share"] if "v_min_kept_share" in judged.columns else pl.Series([False] * n)
            reason = pl.select(pl.when(cut_most & by_doc.is_not_null()).then(by_doc).otherwise(reason)).to_series()
        reason = pl.select(pl.when(exempt).then(None).otherwise(reason)).to_series()

        signals_struct = sig.select(pl.struct(pl.all()).alias("quality_signals")).to_series().to_arrow()
        counts = dict(violations)
        for r, c, chars in cuts.group_by("reason").agg(n=pl.len(), chars=pl.col("text").str.len_chars().sum()).iter_rows():
            counts[f"cut_units:{r}"] = c
            counts[f"cut_chars:{r}"] = chars
        bins = (pl.DataFrame({"lang": lang_key, "q": quality})
                .group_by("lang", (pl.col("q") * HIST_BINS).floor().cast(pl.Int64).clip(0, HIST_BINS - 1).alias("b"))
                .len())
        for lang, b, c in bins.iter_rows():
            counts[f"hist:{lang}:{b}"] = c

        out = table
        if not cfg.dry_run:
            cut_mask = ~exempt
            final = pl.select(pl.when(cut_mask).then(new_texts).otherwise(texts)).to_series()
            out = out.set_column(out.column_names.index(col), col, final.to_arrow().cast(table.schema.field(col).type))
        for name, arr in (("quality", quality.to_arrow()), ("quality_signals", signals_struct)):
            if name in out.column_names:
                out = out.drop_columns([name])
            out = out.append_column(name, arr)
        edits = self._edits(table, cuts, exempt)
        if cfg.dry_run:
            out = out.append_column("quality_reason", reason.to_arrow().cast(pa.string()))
            return out, out.slice(0, 0).append_column("reason", pa.array([], pa.string())), edits, counts
        # rejected rows keep their original text, for inspection
        full = out.set_column(out.column_names.index(col), col, table[col])
        kept, rejected = split_by_reason(full, reason.to_arrow().cast(pa.string()), "quality")
        if kept.num_rows:
            keep_mask = pa.array(reason.is_null().to_list())
            kept = out.filter(keep_mask)
        return kept, rejected, edits, counts

    def _edits(self, table: pa.Table, cuts: pl.DataFrame, exempt: pl.Series) -> pa.Table:
        if cuts.height == 0:
            return pa.table({})
        ids = pl.from_arrow(table["id"]).cast(pl.String)
        cuts = cuts.filter(~exempt.gather(cuts["doc"]))
        return (cuts.with_columns(id=ids.gather(cuts["doc"])).sort(["doc", "index", "unit"], maintain_order=True)
                .select("id", "unit", "index", "reason", "text").to_arrow())

    def finish(self, ctx: StageContext, manifest: dict) -> None:
        counters = manifest.get("counters", {})
        hist: dict[str, list[int]] = {}
        cuts: dict[str, dict[str, int]] = {}
        violations: dict[str, int] = {}
        for key, value in counters.items():
            kind, _, rest = key.partition(":")
            if kind == "hist":
                lang, _, b = rest.rpartition(":")
                hist.setdefault(lang, [0] * HIST_BINS)[int(b)] += value
            elif kind == "cut_units":
                cuts.setdefault(rest, {})["units"] = value
            elif kind == "cut_chars":
                cuts.setdefault(rest, {})["chars"] = value
            elif kind == "violations":
                violations[rest] = value
        manifest["counters"] = {k: v for k, v in counters.items() if k.partition(":")[0] not in
                                ("hist", "cut_units", "cut_chars", "violations")}
        manifest["quality"] = {
            "preset": self.config.preset,
            "histogram_bins": [round(i / HIST_BINS, 2) for i in range(HIST_BINS + 1)],
            "histogram": dict(sorted(hist.items())),
            "cuts": dict(sorted(cuts.items())),
            "violations": dict(sorted(violations.items())),
        }
