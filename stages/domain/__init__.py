"""domain: tag every document with a domain (code, math, encyclopedia, news, academic, qa/forum, web).

Rules (``rules.py``) score every domain per batch with polars; the domain with the highest score
among those that reach their threshold is the document's (a tie goes to the earlier in priority
order), else ``web``. Metadata decides before the rules: a ``source`` value or a URL glob mapped to
a domain, then an optional fastText classifier whose top label is probable enough. Every document
keeps ``domain``, ``domain_scores`` (the rule score of every domain) and ``domain_by`` (what
decided: ``source``, ``url``, ``model`` or ``rules``). Nothing is rejected unless ``drop:`` names
domains. See docs/domain.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Optional

import polars as pl
import pyarrow as pa

from dataprep.config import ConfigError, option
from dataprep.corpus import read_parquet, split_by_reason
from dataprep.stage import Stage, StageContext, StageError, Task, TaskOutput, text_chars

from . import rules as R

ORIGINS = ("source", "url", "model", "rules")
MODEL_SCORE = "model"  # the field of `domain_scores` that holds the classifier's probability
SCORE_DIGITS = 4
_GLOB_PART = re.compile(r"\*|\?|\[!?\]?[^\]]*\]|[^*?\[]+|\[")


@dataclass
class DomainRules:
    patterns: list[str] = option([], help="Regular expressions (Rust regex syntax, as polars uses) whose matches "
                                          "are cues of the domain, each match counting 1; for `code`, patterns "
                                          "of code lines.")
    per_kchar: Optional[float] = option(None, help="Cue matches per 1000 characters for a full score "
                                                   "(default 2; built-in domains have their own).")
    min_hits: Optional[float] = option(None, help="Cue matches a document needs at least for a full score, "
                                                  "however short (default 2; built-in domains have their own).")
    threshold: Optional[float] = option(None, help="Score (0-1) at which the domain is taken (default: the "
                                                   "stage's `threshold`).")

    def validate(self) -> None:
        for i, pattern in enumerate(self.patterns):
            error = _regex_error(pattern)
            if error:
                raise ConfigError(f"patterns[{i}]: not a valid regular expression ({error})")
        for key in ("per_kchar", "min_hits"):
            value = getattr(self, key)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{key}: a positive number is expected, got {value}")
        if self.threshold is not None and not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"threshold: a number in (0, 1] is expected, got {self.threshold}")


USER_PER_KCHAR = 2.0
USER_MIN_HITS = 2.0


@dataclass
class DomainConfig:
    domains: dict[str, DomainRules] = option(
        {}, help="New domains, or more cues for built-in ones, by name: {legal: {patterns: ['判决书|原告|被告']}, "
                 "code: {patterns: ['proc\\s+\\w+']}}.")
    priority: list[str] = option([], help="Domains to try first, in this order; the rest follow in the default order "
                                          "(new domains by name, then code, math, academic, qa/forum, news, "
                                          "encyclopedia).")
    threshold: float = option(0.5, help="Rule score (0-1) at which a domain is taken.")
    urls: dict[str, str] = option({}, help="URL globs mapped to domains, deciding before the rules: "
                                           "{'*.wikipedia.org': encyclopedia, 'github.com/*': code}. A glob without "
                                           "'/' matches the host, one with '/' host and path; 'www.' is ignored; "
                                           "the longest matching glob wins.")
    sources: dict[str, str] = option({}, help="Values of the source column mapped to domains, deciding before URLs "
                                              "and rules: {code: code, papers: academic}.")
    drop: list[str] = option([], help="Domains to reject (as `domain:dropped`); by default every row is kept.")
    model: Optional[str] = option(None, help="A fastText classifier with __label__<domain> labels (from "
                                             "`dataprep domain-train`); its label decides before the rules when "
                                             "its probability reaches `model_threshold`.")
    model_threshold: float = option(0.5, help="Probability at which the classifier's label is taken.")
    max_chars: int = option(20000, help="Characters of each document the rules read (the start); 0 = all.")
    text_column: str = option("text", help="Column holding the text.")
    url_column: str = option("url", help="Column holding the URL (used by `urls`).")
    source_column: str = option("source", help="Column holding the source (used by `sources`).")

    def validate(self) -> None:
        for name in self.domains:
            if name == R.FALLBACK:
                raise ConfigError(f"domains.{name}: `{R.FALLBACK}` is the fallback domain and takes no rules")
            if name == MODEL_SCORE:
                raise ConfigError(f"domains.{name}: the name is taken by the classifier's score in `domain_scores`")
            if not re.fullmatch(r"[\w][\w/.-]*", name):
                raise ConfigError(f"domains.{name}: a domain name is letters, digits and _ / . - (no spaces)")
        for name, rules in self.domains.items():
            if name == "code" and (rules.per_kchar is not None or rules.min_hits is not None):
                key = "per_kchar" if rules.per_kchar is not None else "min_hits"
                raise ConfigError(f"domains.code.{key}: code is scored by its lines; give it patterns or a threshold")
        ruled = sorted(set(self.domains) | set(R.BUILTIN))
        for i, name in enumerate(self.priority):
            if name not in ruled:
                raise ConfigError(f"priority[{i}]: unknown domain {name!r}; known: {', '.join(ruled)}")
        if len(set(self.priority)) != len(self.priority):
            raise ConfigError("priority: a domain is named twice")
        known = self.known()
        for key in ("urls", "sources"):
            for pattern, domain in getattr(self, key).items():
                if domain not in known:
                    raise ConfigError(f"{key}.{pattern}: unknown domain {domain!r}; known: {', '.join(known)} "
                                      "(add new ones under `domains:`)")
        for pattern in self.urls:
            if not pattern.strip() or any(c.isspace() for c in pattern):
                raise ConfigError(f"urls.{pattern}: a URL glob is expected (no spaces)")
        for i, name in enumerate(self.drop):
            if name not in known:
                raise ConfigError(f"drop[{i}]: unknown domain {name!r}; known: {', '.join(known)}")
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"threshold: a number in (0, 1] is expected, got {self.threshold}")
        if not 0.0 <= self.model_threshold <= 1.0:
            raise ConfigError(f"model_threshold: a number between 0 and 1 is expected, got {self.model_threshold}")
        if self.max_chars < 0:
            raise ConfigError(f"max_chars: must be >= 0, got {self.max_chars}")

    def known(self) -> list[str]:
        """Every domain a document can get, the fallback last."""
        return self.order() + [R.FALLBACK]

    def order(self) -> list[str]:
        """Domains in priority order (a tie of rule scores goes to the earlier)."""
        new = sorted(n for n in self.domains if n not in R.BUILTIN)
        rest = [n for n in new + list(R.BUILTIN) if n not in self.priority]
        return list(self.priority) + rest

    def threshold_of(self, name: str) -> float:
        rules = self.domains.get(name)
        return rules.threshold if rules is not None and rules.threshold is not None else self.threshold


def _regex_error(pattern: str) -> str | None:
    try:
        pl.select(pl.lit("").str.contains(pattern))
    except Exception as e:  # noqa: BLE001 - polars reports a bad pattern as a ComputeError
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    return None


def glob_regex(glob: str) -> str:
    """An fnmatch-style glob (``*``, ``?``, ``[seq]``, ``[!seq]``) as an anchored Rust regex."""
    out = []
    for part in _GLOB_PART.findall(glob):
        if part == "*":
            out.append(".*")
        elif part == "?":
            out.append(".")
        elif part.startswith("[") and part.endswith("]") and len(part) > 2:
            body = part[1:-1]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\").replace("[", "\\[") + "]")
        else:
            out.append(re.escape(part))
    return "^" + "".join(out) + "$"


def _url_rules(urls: dict[str, str]) -> list[tuple[bool, str, str]]:
    """(matches host and path?, regex, domain) per glob, the longest glob first."""
    rules = []
    for glob in sorted(urls, key=lambda g: (-len(g), g)):
        host, slash, path = glob.partition("/")
        host = host.lower().removeprefix("www.")
        rules.append((bool(slash), "(?s)" + glob_regex(host + slash + path), urls[glob]))
    return rules


URL_PARTS = r"^[ \t]*(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?://)?(?:[^@/?#\s]*@)?([^/:?#\s]+)(?::\d+)?([^?#\s]*)"


class DomainStage(Stage):
    """Tag documents with a domain: code, math, academic, qa/forum, news, encyclopedia or web.

    Rules score every domain from the text (code lines and symbols; LaTeX, formulas and math
    words in Chinese and English; citations; Q/A markers; news and encyclopedic cues); the
    highest score that reaches its threshold wins (ties: the earlier in priority order), else
    web. A `source` value or URL glob mapped to a domain (and an optional fastText classifier)
    decides before the rules. Adds `domain`, `domain_scores` and `domain_by`; keeps every row
    unless `drop` names domains (rejected as domain:dropped).

    \b
    Examples:
      dataprep domain -i work/quality -o work/domain
      dataprep domain -i work/quality -o work/domain --urls '{"*.wikipedia.org": encyclopedia, "github.com/*": code}'
      dataprep domain -i work/quality -o work/domain --sources '{code: code, papers: academic}' --drop web
      dataprep domain -i work/quality -o work/domain --domains '{legal: {patterns: ["判决书|原告|被告"]}}'
    """

    name = "domain"
    Config = DomainConfig
    help = __doc__ or ""
    version = "1"

    def prepare(self, ctx: StageContext) -> Any:
        if self.config.model:
            from .model import load

            load(self.config.model, self.config.known())  # a missing or unsuitable model stops the stage first
        return None

    def run_task(self, task: Task, state: Any, out: TaskOutput) -> None:
        table = read_parquet(task.inputs[0])
        out.rows_in += table.num_rows
        out.chars_in += text_chars(table, self.config.text_column)
        kept, rejected, counts = self.tag(table)
        out.write_kept(kept)
        out.write_rejected(rejected)
        for k, v in counts.items():
            out.count(k, v)

    def scores(self, texts: pl.Series) -> pl.DataFrame:
        """Rule score of every domain (columns in priority order) for a batch of texts."""
        cfg = self.config
        t = texts.cast(pl.String).fill_null("")
        if cfg.max_chars:
            t = t.str.slice(0, cfg.max_chars)
        columns = {}
        for name in cfg.order():
            rules = cfg.domains.get(name, DomainRules())
            if name == "code":
                columns[name] = R.code_scores(t, rules.patterns)
                continue
            if name in R.CUE_SPECS:
                expr = R.cue_score(R.CUE_SPECS[name], rules.patterns, rules.per_kchar, rules.min_hits,
                                   word_problems=name == "math")
            else:
                spec = R.Spec(cues=(), per_kchar=rules.per_kchar or USER_PER_KCHAR,
                              min_hits=rules.min_hits or USER_MIN_HITS)
                expr = R.cue_score(spec, rules.patterns)
            # lazily: polars' common-subexpression elimination then computes the evidence once,
            # where an eager select would evaluate it again inside the cap (clip, fill_nan)
            columns[name] = pl.DataFrame({"t": t}).lazy().select(expr).collect().to_series()
        return pl.DataFrame({k: v.round(SCORE_DIGITS) for k, v in columns.items()})

    def pick(self, scores: pl.DataFrame) -> pl.Series:
        """The rules' domain: the highest score among the domains that reach their threshold (ties go
        to the earlier in priority order), else the fallback."""
        n = scores.height
        best = pl.Series([R.FALLBACK] * n, dtype=pl.String)
        top = pl.Series([-1.0] * n, dtype=pl.Float64)
        for name in scores.columns:
            s = scores[name]
            take = (s >= self.config.threshold_of(name)) & (s > top)
            best = pl.select(pl.when(take).then(pl.lit(name)).otherwise(best)).to_series()
            top = pl.select(pl.when(take).then(s).otherwise(top)).to_series()
        return best

    def tag(self, table: pa.Table) -> tuple[pa.Table, pa.Table, dict[str, int]]:
        """Kept rows with ``domain``, ``domain_scores`` and ``domain_by``; rejected rows; counters."""
        cfg = self.config
        if cfg.text_column not in table.column_names:
            raise StageError(f"domain.text_column: the corpus has no column {cfg.text_column!r}")
        texts = pl.from_arrow(table[cfg.text_column]).cast(pl.String)
        scores = self.scores(texts)
        frame = pl.DataFrame({"_rules": self.pick(scores)})
        domain = pl.col("_rules")
        by = pl.lit("rules")
        if cfg.model:
            from .model import load, predict

            labels, probs = predict(load(cfg.model, cfg.known()), texts.fill_null("").to_list())
            frame = frame.with_columns(_ml=pl.Series(labels, dtype=pl.String), _mp=pl.Series(probs, dtype=pl.Float64))
            sure = pl.col("_mp") >= cfg.model_threshold
            domain = pl.when(sure).then(pl.col("_ml")).otherwise(domain)
            by = pl.when(sure).then(pl.lit("model")).otherwise(by)
            scores = scores.with_columns(frame["_mp"].round(SCORE_DIGITS).alias(MODEL_SCORE))
        if cfg.urls:
            host, path = self._url_parts(table)
            frame = frame.with_columns(_host=host, _path=path)
            found = self._url_domain()
            domain = pl.when(found.is_not_null()).then(found).otherwise(domain)
            by = pl.when(found.is_not_null()).then(pl.lit("url")).otherwise(by)
        if cfg.sources:
            column = self._column(table, cfg.source_column, "sources")
            values = pl.from_arrow(table[column]).cast(pl.String)
            frame = frame.with_columns(_src=values.replace_strict(cfg.sources, default=None, return_dtype=pl.String))
            found = pl.col("_src")
            domain = pl.when(found.is_not_null()).then(found).otherwise(domain)
            by = pl.when(found.is_not_null()).then(pl.lit("source")).otherwise(by)
        decided = frame.select(domain=domain, by=by)
        domains, origins = decided["domain"], decided["by"]

        counts: dict[str, int] = {}
        chars = texts.fill_null("").str.len_chars().cast(pl.Int64)
        summary = (pl.DataFrame({"d": domains, "c": chars}).group_by("d").agg(n=pl.len(), c=pl.col("c").sum())
                   .sort("d"))
        for d, n, c in summary.iter_rows():
            counts[f"domain:{d}"] = n
            counts[f"domain_chars:{d}"] = c
        for o, n in origins.value_counts(sort=True, name="n").sort("by").iter_rows():
            counts[f"domain_by:{o}"] = n

        out = table.drop_columns([c for c in ("domain", "domain_scores", "domain_by") if c in table.column_names])
        out = out.append_column("domain", domains.to_arrow().cast(pa.string()))
        out = out.append_column("domain_scores", scores.select(pl.struct(pl.all()).alias("s"))["s"].to_arrow())
        out = out.append_column("domain_by", origins.to_arrow().cast(pa.string()))
        reasons = pl.select(pl.when(domains.is_in(cfg.drop)).then(pl.lit("domain:dropped"))
                            .otherwise(pl.lit(None, dtype=pl.String))).to_series()
        kept, rejected = split_by_reason(out, reasons.to_arrow().cast(pa.string()), self.name)
        return kept, rejected, counts

    def _column(self, table: pa.Table, column: str, key: str) -> str:
        if column not in table.column_names:
            raise StageError(f"domain.{key}: the corpus has no column {column!r} (set the column option or "
                             f"leave `{key}` empty)")
        return column

    def _url_parts(self, table: pa.Table) -> tuple[pl.Series, pl.Series]:
        column = self._column(table, self.config.url_column, "urls")
        urls = pl.DataFrame({"u": pl.from_arrow(table[column]).cast(pl.String)})
        parts = urls.select(
            host=pl.col("u").str.extract(URL_PARTS, 1).str.to_lowercase().str.strip_prefix("www."),
            path=pl.col("u").str.extract(URL_PARTS, 2).fill_null(""))
        return parts["host"], parts["path"]

    def _url_domain(self) -> pl.Expr:
        found = pl.lit(None, dtype=pl.String)
        for with_path, regex, domain in reversed(_url_rules(self.config.urls)):
            target = pl.col("_host") + pl.col("_path") if with_path else pl.col("_host")
            found = pl.when(target.str.contains(regex).fill_null(False)).then(pl.lit(domain)).otherwise(found)
        return found

    def finish(self, ctx: StageContext, manifest: dict) -> None:
        counters = manifest.get("counters", {})
        docs: dict[str, int] = {}
        chars: dict[str, int] = {}
        origins: dict[str, int] = {}
        for key, value in counters.items():
            kind, _, name = key.partition(":")
            target = {"domain": docs, "domain_chars": chars, "domain_by": origins}.get(kind)
            if target is not None:
                target[name] = value
        manifest["counters"] = {k: v for k, v in counters.items() if not k.startswith("domain_chars:")}
        order = {name: i for i, name in enumerate(self.config.known())}
        manifest["domain"] = {
            "order": self.config.order(),
            "docs": dict(sorted(docs.items(), key=lambda kv: order.get(kv[0], len(order)))),
            "chars": dict(sorted(chars.items(), key=lambda kv: order.get(kv[0], len(order)))),
            "by": {o: origins[o] for o in ORIGINS if o in origins},
            "dropped": sorted(self.config.drop),
        }
