"""rebalance: set the mix of the output by tokens: shares by language, domain or both, extra corpora
blended in at their own shares (code, math, a replay corpus), repetition capped at ``max_epochs``.

``prepare`` is a map over every input shard, which reads only ``id``, ``text`` (for its length, or
to count tokens), ``lang``, ``domain`` and ``quality`` into ``_state/map-NNNNN.npz``, and a small
reduce: documents into buckets, tokens per bucket, the mix solved (``solve_mix``), then per
document how many copies (``select_copies``: best quality first, else by a seeded hash of the id),
saved as one int8 per document in ``_state/plan-NNNNN.npy``. ``run_task`` writes a shard's chosen
rows, then each extra copy as another row (``repeat`` 1, 2, ... and id ``ID#r1``, ...), and
rejects the rest as ``rebalance:downsampled`` (or ``rebalance:unlisted``: in no bucket of the
shares). Extra copies are counted as ``rows_added``, so rows in + added = kept + rejected.
"""

from __future__ import annotations

import io
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Optional, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dataprep.config import ConfigError, config_hash, option
from dataprep.corpus import Corpus, CorpusError, atomic_write_bytes, atomic_write_json, read_parquet, split_by_reason
from dataprep.stage import Stage, StageContext, StageError, Task, TaskOutput, text_chars

MAIN = "main"
REPLAY = "replay"
DEFAULT_DOMAIN = "web"  # documents without a `domain` value
NO_LANG = "und"  # documents without a `lang` value
OTHER = "other"  # in `shares`: every value not named
DOWNSAMPLED = "rebalance:downsampled"
UNLISTED = "rebalance:unlisted"
SHARE_TOLERANCE = 1e-6
MAX_EPOCHS = 100  # copies are stored as int8; Muennighoff et al. find repeats near 40 epochs worthless

# Characters per token of the OLMo 2 tokenizer (`allenai_dolma2.json`, a cl100k-style byte-level
# BPE) on the UDHR lines of each language (../shared/data/langid/udhr2_lines.tsv), two decimals.
# Used only without `tokenizer`; override or extend with `chars_per_token`. Formal text: real
# Chinese web pages, with digits and Latin words, measured 1.2-1.35 with the same tokenizer.
CHARS_PER_TOKEN = {
    "ar": 1.43, "bg": 2.04, "bn": 0.82, "ca": 3.20, "cs": 2.16, "da": 3.15, "de": 3.68, "el": 1.14, "en": 5.42,
    "es": 4.08, "et": 2.52, "fa": 1.37, "fi": 2.60, "fr": 3.84, "he": 1.02, "hi": 1.03, "hr": 2.54, "hu": 2.40,
    "id": 3.35, "it": 3.66, "ja": 0.85, "ko": 0.99, "lt": 2.14, "lv": 2.10, "nb": 3.19, "nl": 3.44, "no": 3.19,
    "pl": 2.72, "pt": 3.75, "ro": 2.94, "ru": 2.31, "sk": 2.20, "sl": 2.54, "sr": 1.71, "sv": 3.01, "ta": 0.71,
    "th": 1.04, "tr": 2.60, "uk": 1.75, "ur": 1.15, "vi": 2.04, "zh": 0.77,
}
DEFAULT_CHARS_PER_TOKEN = 3.0  # languages not in the table, and documents without `lang`

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass
class SourceConfig:
    input: str = option(help="A finished corpus folder (manifest.json and Parquet shards).")
    share: float = option(help="Its share of the output tokens, in (0, 1).")
    name: Optional[str] = option(None, help="Its name in the report and in its output shards' names "
                                            "(default: the folder's name; `replay` for the replay corpus).")
    id_prefix: str = option("", help="Put before each of its ids, where they would collide with another input's.")
    # The corpus's own fingerprint, read when the config is parsed: part of the config, so the
    # stage's fingerprint (and a rerun's decision to reuse it) changes when this corpus changes.
    fingerprint: str = field(default="", init=False)

    def validate(self) -> None:
        if not 0.0 < self.share < 1.0:
            raise ConfigError(f"share: must be in (0, 1), got {self.share}")
        try:
            self.fingerprint = Corpus.open(self.input).fingerprint
        except CorpusError as e:
            raise ConfigError(f"input: {e}") from None


Shares = dict[str, Union[float, dict[str, float]]]


@dataclass
class RebalanceConfig:
    inputs: list[str] = option([], help="Command line only (-i, repeatable): corpora that together are the main "
                                        "corpus (one listed in `sources` or `replay` is that source instead). In a "
                                        "pipeline the main corpus is the previous stage's output.")
    by: Literal["lang", "domain", "lang+domain"] = option(
        "lang", help="What `shares` and `temperature` split the main corpus by: the `lang` column, the `domain` "
                     "column (missing = web), or both (`shares` then maps language to a mapping of domains).")
    shares: Shares = option({}, help="Target shares of the output tokens, e.g. {zh: 0.6, en: 0.3, other: 0.1}; "
                                     "`other` takes every value not named (without it they are dropped). With "
                                     "sources and replay, all shares sum to 1.")
    temperature: Optional[float] = option(None, help="Instead of `shares`: p_i ~ n_i^(1/T) over the buckets' tokens "
                                                     "(T = 1 keeps the corpus's own mix; T = 3.3 is alpha 0.3 of "
                                                     "XLM-R and mT5).")
    sources: list[SourceConfig] = option([], help="Further corpora, each blended as one bucket: "
                                                  "[{input: DIR, share: 0.2, name: code}].")
    replay: Optional[SourceConfig] = option(None, help="Continued pretraining: a general corpus mixed in at this "
                                                       "share of the output tokens: {input: DIR, share: 0.1}.")
    tokens: Optional[int] = option(None, help="Total output tokens; default: as large as the data allows while "
                                              "meeting the shares (the bucket with most data for its share is used "
                                              "once, none repeats more than max_epochs).")
    max_epochs: int = option(4, help="Most copies of any document (Muennighoff et al. 2023: up to ~4 epochs of "
                                     "repetition are almost as good as new data).")
    strict: bool = option(False, help="Stop with an error naming the bucket when a target cannot be met, instead "
                                      "of writing the best feasible mix.")
    order: Literal["quality", "hash"] = option(
        "quality", help="Which documents are kept or repeated first: highest `quality_column` (where the column "
                        "exists; ties by hash), or a seeded hash of the id.")
    quality_column: str = option("quality", help="Column read by order=quality (a score in [0, 1]).")
    tokenizer: Optional[str] = option(None, help="Count tokens with this tokenizer (tokenizer.json, SentencePiece "
                                                 ".model, or a folder holding one); default: estimated from "
                                                 "characters per language.")
    tokenizer_sample: float = option(1.0, help="Share of documents (by id hash) the tokenizer counts; the rest are "
                                               "estimated from their language's measured characters per token.")
    chars_per_token: dict[str, float] = option({}, help="Characters per token by language for estimates, over the "
                                                        "built-in table, e.g. {zh: 1.4, default: 3.0}.")
    seed: int = option(0, help="Seed of the id hash that orders documents without a quality score.")

    def validate(self) -> None:
        if self.shares and self.temperature is not None:
            raise ConfigError("shares/temperature: give one of them, not both")
        if self.temperature is not None and not self.temperature > 0:
            raise ConfigError(f"temperature: must be > 0, got {self.temperature}")
        self._check_shares()
        if self.tokens is not None and self.tokens < 1:
            raise ConfigError(f"tokens: must be >= 1, got {self.tokens}")
        if not 1 <= self.max_epochs <= MAX_EPOCHS:
            raise ConfigError(f"max_epochs: must be in [1, {MAX_EPOCHS}], got {self.max_epochs}")
        if not 0.0 < self.tokenizer_sample <= 1.0:
            raise ConfigError(f"tokenizer_sample: must be in (0, 1], got {self.tokenizer_sample}")
        for lang, value in self.chars_per_token.items():
            if not value > 0:
                raise ConfigError(f"chars_per_token.{lang}: must be > 0, got {value}")
        names = set()
        for i, s in enumerate(self.sources):
            s.name = s.name or Path(s.input).resolve().name
            if not NAME.fullmatch(s.name) or s.name in (MAIN, REPLAY) or s.name in names:
                raise ConfigError(f"sources[{i}].name: {s.name!r} must be letters, digits, '_', '.' or '-', not "
                                  f"{MAIN!r} or {REPLAY!r}, and differ from the other sources' names")
            names.add(s.name)
        if self.replay is not None:
            if self.replay.name not in (None, REPLAY):
                raise ConfigError(f"replay.name: the replay corpus is always named {REPLAY!r}")
            self.replay.name = REPLAY
        if self.main_share() <= SHARE_TOLERANCE:
            raise ConfigError(f"sources/replay: their shares sum to {1 - self.main_share():g}, leaving nothing for "
                              "the main corpus")
        if self.shares:
            total = sum(v if isinstance(v, float) else sum(v.values()) for v in self.shares.values())
            if abs(total - self.main_share()) > SHARE_TOLERANCE:
                rest = "" if self.main_share() == 1.0 else f" (1 less {1 - self.main_share():g} for sources and replay)"
                raise ConfigError(f"shares: sum to {total:g}, must sum to {self.main_share():g}{rest}; every share "
                                  "is of the output tokens")

    def _check_shares(self) -> None:
        joint = self.by == "lang+domain"
        for key, value in self.shares.items():
            if isinstance(value, dict) != joint:
                want = "a mapping of domains to shares" if joint else "a number"
                raise ConfigError(f"shares.{key}: with by={self.by} each value is {want}")
            for k, v in (value.items() if isinstance(value, dict) else [(key, value)]):
                if not 0.0 <= v <= 1.0:
                    raise ConfigError(f"shares.{key}{'.' + k if joint else ''}: must be in [0, 1], got {v}")

    def main_share(self) -> float:
        extra = [s.share for s in self.sources] + ([self.replay.share] if self.replay else [])
        return 1.0 - sum(extra)

    def extra_sources(self) -> list[SourceConfig]:
        return self.sources + ([self.replay] if self.replay else [])


# --- tokens --------------------------------------------------------------------------------------

_COUNTERS: dict[str, Callable[[list[str]], np.ndarray]] = {}


def tokenizer_file(spec: str) -> Path:
    p = Path(spec)
    if p.is_dir():
        for name in ("tokenizer.json", "tokenizer.model"):
            if (p / name).exists():
                return p / name
        raise StageError(f"rebalance.tokenizer: {p} has neither tokenizer.json nor tokenizer.model")
    if not p.is_file():
        raise StageError(f"rebalance.tokenizer: {spec} does not exist (give a tokenizer.json, a SentencePiece "
                         ".model, or a folder holding one)")
    return p


def token_counter(spec: str) -> Callable[[list[str]], np.ndarray]:
    """texts -> token counts (no special tokens: the ids the tokenize stage writes, less BOS/EOS).
    One tokenizer per process, loaded on first use."""
    if spec not in _COUNTERS:
        path = tokenizer_file(spec)
        try:
            if path.suffix == ".model":
                import sentencepiece as spm

                sp = spm.SentencePieceProcessor(model_file=str(path))
                _COUNTERS[spec] = lambda texts: np.fromiter(map(len, sp.encode(texts)), np.int64, len(texts))
            else:
                from tokenizers import Tokenizer

                tok = Tokenizer.from_file(str(path))
                enc = getattr(tok, "encode_batch_fast", tok.encode_batch)
                _COUNTERS[spec] = lambda texts: np.fromiter(
                    (len(e.ids) for e in enc(texts, add_special_tokens=False)), np.int64, len(texts))
        except Exception as e:  # noqa: BLE001 - any loader failure is one line naming the file
            raise StageError(f"rebalance.tokenizer: cannot load {path} ({str(e).splitlines()[0]})") from None
    return _COUNTERS[spec]


def _hash_ids(ids: list[str], prefix: str, seed: int) -> np.ndarray:
    import xxhash

    f = xxhash.xxh64_intdigest
    return np.fromiter((f((prefix + i).encode("utf-8", "surrogatepass"), seed) for i in ids), np.uint64, len(ids))


def _sampled(keys: np.ndarray, share: float) -> np.ndarray:
    """Documents the tokenizer counts: chosen by the low 32 bits of the id hash (the order uses
    mostly the high ones)."""
    if share >= 1.0:
        return np.ones(len(keys), bool)
    return (keys & np.uint64(0xFFFFFFFF)).astype(np.float64) < share * 2.0**32


# --- map: what each document weighs ------------------------------------------------------------


def _codes(table: pa.Table, column: str) -> tuple[np.ndarray, list[str]]:
    """A string column as codes into its distinct values (-1: null or absent)."""
    if column not in table.column_names:
        return np.full(table.num_rows, -1, np.int32), []
    enc = pc.dictionary_encode(table[column].cast(pa.string())).combine_chunks()
    codes = pc.fill_null(enc.indices, -1).to_numpy().astype(np.int32)
    return codes, [str(v) for v in enc.dictionary.to_pylist()]


def map_shard(args: tuple) -> dict:
    """Per document: characters, tokens (-1: not counted), id hash, quality (NaN: none), language
    and domain codes; into ``out`` (.npz). Returns the shard's rows and which columns it had."""
    cfg, path, out, id_prefix = args
    names = pq.read_schema(path).names
    use_quality = cfg.order == "quality" and cfg.quality_column in names
    info = {"lang": "lang" in names, "domain": "domain" in names, "quality": use_quality}
    if Path(out).exists():  # done by an earlier, interrupted run
        with np.load(out) as z:
            return {**info, "rows": len(z["chars"])}
    columns = ["id", "text", *[c for c in ("lang", "domain") if c in names]]
    table = read_parquet(path, list(dict.fromkeys(columns + ([cfg.quality_column] if use_quality else []))))
    chars = pc.fill_null(pc.utf8_length(table["text"]), 0).to_numpy().astype(np.int32)  # < 2 GiB a document
    keys = _hash_ids(table["id"].to_pylist(), id_prefix, cfg.seed)
    tokens = np.full(table.num_rows, -1, np.int32)
    if cfg.tokenizer:
        count = token_counter(cfg.tokenizer)
        rows = np.flatnonzero(_sampled(keys, cfg.tokenizer_sample))
        texts = table["text"].take(pa.array(rows)).to_pylist()
        for b in range(0, len(rows), 512):
            tokens[rows[b:b + 512]] = count([t or "" for t in texts[b:b + 512]])
    if use_quality:
        quality = pc.cast(table[cfg.quality_column], pa.float32()).to_numpy(zero_copy_only=False)
        quality = np.asarray(quality, np.float32)  # nulls come back as NaN
    else:
        quality = np.full(table.num_rows, np.nan, np.float32)
    lang, lang_values = _codes(table, "lang")
    domain, domain_values = _codes(table, "domain")
    tmp = Path(out).with_name(Path(out).stem + ".partial.npz")
    np.savez(tmp, chars=chars, tokens=tokens, keys=keys, quality=quality, lang=lang, domain=domain,
             lang_values=np.array(lang_values, dtype=str), domain_values=np.array(domain_values, dtype=str))
    tmp.replace(out)
    return {**info, "rows": table.num_rows}


# --- reduce: the mix ----------------------------------------------------------------------------


def solve_mix(avail: np.ndarray, share: np.ndarray, max_epochs: int, budget: int | None
              ) -> tuple[np.ndarray, float, int | None, bool]:
    """Target tokens per bucket from tokens available and target shares (summing to 1).

    With a ``budget``, each bucket gets share x budget, but never more than max_epochs x its
    tokens; what a capped bucket cannot take is spread over the others in proportion to their
    shares (water-filling), so the budget is met where the data allows. Without one, the total is
    as large as the data allows at the shares: the smaller of the total at which the bucket with
    the most data for its share is used once, and the total at which the scarcest reaches
    max_epochs. Buckets with a share but no data are left out and the other shares scaled up.
    Returns (targets, ideal total, the bucket that sets the total or None, whether that bucket
    is at max_epochs rather than used once)."""
    avail = avail.astype(np.float64)
    cap = avail * max_epochs
    target = np.zeros(len(avail))
    if budget is None:
        live = (share > 0) & (avail > 0)
        if not live.any():
            return target, 0.0, None, False
        s = share[live] / share[live].sum()
        once, most = avail[live] / s, cap[live] / s
        scarce = bool(most.min() < once.max())
        total = float(most.min() if scarce else once.max())
        limit = int(np.flatnonzero(live)[int(np.argmin(most) if scarce else np.argmax(once))])
        target[live] = s * total
        return np.minimum(target, cap), total, limit, scarce
    fixed = share <= 0
    remaining = float(budget)
    while remaining > 0 and not fixed.all():
        free = np.flatnonzero(~fixed)
        t = share[free] / share[free].sum() * remaining
        over = t > cap[free] * (1 + 1e-12)
        if not over.any():
            target[free] = t
            break
        capped = free[over]
        target[capped] = cap[capped]
        fixed[capped] = True
        remaining -= float(cap[capped].sum())
    return target, float(budget), None, False


def select_copies(bucket: np.ndarray, tokens: np.ndarray, priority: np.ndarray, keys: np.ndarray,
                  targets: np.ndarray, max_epochs: int) -> np.ndarray:
    """Copies of each document (int8; -1 for documents in no bucket). In each bucket every
    document gets floor(epochs) copies, and the first documents in priority order (lower first,
    then by key) one more, up to the prefix whose tokens come closest to the rest of the target."""
    copies = np.zeros(len(bucket), np.int8)
    copies[bucket < 0] = -1
    order = np.lexsort((keys, priority, bucket))
    sorted_bucket = bucket[order]
    starts = np.searchsorted(sorted_bucket, np.arange(len(targets)), "left")
    ends = np.searchsorted(sorted_bucket, np.arange(len(targets)), "right")
    for b, (a, e) in enumerate(zip(starts.tolist(), ends.tolist())):
        if a == e or targets[b] <= 0:
            continue
        idx = order[a:e]
        cum = np.cumsum(tokens[idx])
        avail = float(cum[-1])
        full = min(int(targets[b] // avail), max_epochs) if avail > 0 else 0
        rest = max(targets[b] - full * avail, 0.0)
        extra = 0
        if full < max_epochs and rest > 0:
            k = int(np.searchsorted(cum, rest))  # cum[k - 1] < rest <= cum[k]
            below = float(cum[k - 1]) if k > 0 else 0.0
            extra = k + 1 if k < len(cum) and cum[k] - rest <= rest - below else k
        copies[idx] = full
        copies[idx[:extra]] += 1
    return copies


@dataclass
class Buckets:
    source: list[str]
    label: list[str]
    share: np.ndarray

    def name(self, b: int) -> str:
        return f"bucket {self.label[b]}" if self.source[b] == MAIN else f"source {self.source[b]}"


def _lookup(values: list[str], shares: dict) -> list[str | None]:
    """For each value, its key in ``shares``: itself, else `other`, else None (in no bucket)."""
    return [v if v in shares else (OTHER if OTHER in shares else None) for v in values]


def main_buckets(cfg: RebalanceConfig, langs: list[str], domains: list[str], lang: np.ndarray,
                 domain: np.ndarray, tokens: np.ndarray) -> tuple[np.ndarray, list[str], list[float]]:
    """Bucket of each main-corpus document (-1: none), the buckets' labels and shares."""
    main_share = cfg.main_share()
    if not cfg.shares and cfg.temperature is None:
        return np.zeros(len(lang), np.int32), ["all"], [main_share]
    nd = len(domains)
    if cfg.by == "lang":
        values, codes = langs, lang
    elif cfg.by == "domain":
        values, codes = domains, domain
    else:
        values = [f"{lv}/{dv}" for lv in langs for dv in domains]
        codes = lang.astype(np.int64) * nd + domain
    if cfg.temperature is not None:  # every value present is a bucket
        present = np.flatnonzero(np.bincount(codes, minlength=len(values)))
        remap = np.full(len(values), -1, np.int32)
        remap[present] = np.arange(len(present))
        avail = np.bincount(codes, weights=tokens, minlength=len(values))[present]
        p = np.where(avail > 0, avail, 0.0) ** (1.0 / cfg.temperature)
        p = p / p.sum() if p.sum() > 0 else np.full(len(p), 1.0 / max(len(p), 1))
        return remap[codes], [values[i] for i in present], (p * main_share).tolist()
    if cfg.by == "lang+domain":
        labels, shares, index = [], [], {}
        for lk, inner in cfg.shares.items():
            for dk, v in inner.items():
                index[(lk, dk)] = len(labels)
                labels.append(f"{lk}/{dk}")
                shares.append(v)
        lang_keys = _lookup(langs, cfg.shares)
        table = np.full(len(values), -1, np.int32)
        for li, lk in enumerate(lang_keys):
            if lk is None:
                continue
            for di, dk in enumerate(_lookup(domains, cfg.shares[lk])):
                if dk is not None:
                    table[li * nd + di] = index[(lk, dk)]
        return table[codes], labels, shares
    labels = list(cfg.shares)
    table = np.array([labels.index(k) if k is not None else -1 for k in _lookup(values, cfg.shares)], np.int32)
    return table[codes], labels, [cfg.shares[k] for k in labels]


def _vocab(parts: list[dict], name: str, missing: str) -> tuple[list[str], np.ndarray]:
    """One sorted vocabulary over all shards, and every document's code into it (null -> ``missing``)."""
    vocab = sorted({missing}.union(*[set(p[f"{name}_values"].tolist()) for p in parts]))
    index = {v: i for i, v in enumerate(vocab)}
    for p in parts:
        remap = np.array([index[v] for v in p.pop(f"{name}_values").tolist()] + [index[missing]], np.int32)
        p[name] = remap[p[name]]  # code -1 takes the last entry: `missing`
    return vocab, _take(parts, name, np.int32)


def _take(parts: list[dict], name: str, dtype: type) -> np.ndarray:
    """One array over all shards, dropping the shards' own (the reduce holds each value once)."""
    arrays = [p.pop(name) for p in parts]
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(0, dtype)


def plan_mix(cfg: RebalanceConfig, parts: list[dict], part_source: list[str], columns: dict[int, dict]
             ) -> tuple[list[np.ndarray], dict]:
    """The reduce: copies per document for every shard (``parts``: the map arrays, in shard order,
    consumed; ``part_source``: each shard's source name) and the report."""
    sizes = [len(p["chars"]) for p in parts]
    bounds = np.cumsum([0] + sizes)
    langs, lang = _vocab(parts, "lang", NO_LANG)
    domains, domain = _vocab(parts, "domain", DEFAULT_DOMAIN)
    chars = _take(parts, "chars", np.int32)
    tokens = _take(parts, "tokens", np.int32)
    keys = _take(parts, "keys", np.uint64)
    quality = _take(parts, "quality", np.float32)
    source_names = [MAIN] + [s.name for s in cfg.extra_sources()]
    source = np.repeat(np.array([source_names.index(s) for s in part_source], np.int16), sizes)
    _check_unique(keys, bounds, columns)

    # tokens: counted, or estimated from characters per language
    table = {**CHARS_PER_TOKEN, **cfg.chars_per_token}
    default = table.pop("default", DEFAULT_CHARS_PER_TOKEN)
    ratio = np.array([table.get(v, default) for v in langs], np.float64)
    counted = tokens >= 0
    if cfg.tokenizer and cfg.tokenizer_sample < 1.0:  # measured on the sample, per language
        c = np.bincount(lang[counted], weights=chars[counted], minlength=len(langs))
        t = np.bincount(lang[counted], weights=tokens[counted], minlength=len(langs))
        ratio = np.where(t > 0, c / np.maximum(t, 1), ratio)
    ratio_of = ratio.astype(np.float32)[lang]
    estimate = np.where(chars > 0, np.maximum(1, np.rint(chars / ratio_of)), 0).astype(np.int32)
    tokens = np.where(counted, tokens, estimate)
    del chars, estimate, ratio_of, counted

    # buckets: the main corpus's by its targets, each other source one
    in_main = source == 0
    main_bucket, labels, shares = main_buckets(cfg, langs, domains, lang[in_main], domain[in_main], tokens[in_main])
    del domain
    bucket = np.empty(len(tokens), np.int32)
    bucket[in_main] = main_bucket
    buckets = Buckets([MAIN] * len(labels), list(labels), np.array(shares, np.float64))
    for i, s in enumerate(cfg.extra_sources(), start=1):
        bucket[source == i] = len(buckets.label)
        buckets.source.append(s.name)
        buckets.label.append(s.name)
        buckets.share = np.append(buckets.share, s.share)
    nb = len(buckets.label)
    listed = bucket >= 0
    avail = np.bincount(bucket[listed], weights=tokens[listed], minlength=nb)
    docs = np.bincount(bucket[listed], minlength=nb)
    targets, total, limit, scarce = solve_mix(avail, buckets.share, cfg.max_epochs, cfg.tokens)

    priority = np.where(np.isnan(quality), np.float32(np.inf), -quality)  # best first, unscored last
    del quality
    copies = select_copies(bucket, tokens, priority, keys, targets, cfg.max_epochs)
    out = np.maximum(copies, 0)
    achieved = np.bincount(bucket[listed], weights=tokens[listed] * out[listed].astype(np.float64), minlength=nb)
    kept = np.bincount(bucket[listed], weights=(out > 0)[listed], minlength=nb)
    report = _report(cfg, buckets, avail, docs, targets, achieved, kept, total, (limit, scarce), langs, ratio, lang,
                     tokens, columns, int(out.sum()), int((~listed).sum()))
    return [copies[a:b] for a, b in zip(bounds[:-1], bounds[1:])], report


def _check_unique(keys: np.ndarray, bounds: np.ndarray, columns: dict) -> None:
    """Ids must stay unique across the blended corpora (each corpus's are already): equal hashes
    are looked up and the ids compared."""
    order = np.argsort(keys, kind="stable")
    same = np.flatnonzero(keys[order][1:] == keys[order][:-1])
    for i in same[:1000].tolist():
        a, b = int(order[i]), int(order[i + 1])
        ids = []
        for doc in (a, b):
            part = int(np.searchsorted(bounds, doc, "right")) - 1
            info = columns[part]
            ids.append((info["prefix"] + read_parquet(info["path"], ["id"])["id"][doc - int(bounds[part])].as_py(),
                        info["path"]))
        if ids[0][0] == ids[1][0]:
            raise StageError(f"rebalance: id {ids[0][0]!r} is in both {ids[0][1]} and {ids[1][1]}; ids must be unique "
                             "across the blended corpora (set id_prefix on a source)")


def _report(cfg: RebalanceConfig, buckets: Buckets, avail, docs, targets, achieved, kept, total: float,
            limit: tuple[int | None, bool], langs: list[str], ratio, lang, tokens, columns: dict, rows_out: int,
            unlisted: int) -> dict:
    out_total = float(achieved.sum())
    rows, infeasible = [], []
    for b in range(len(buckets.label)):
        share = float(buckets.share[b])
        need = share * total
        if share > 0 and not avail[b]:
            infeasible.append(f"{buckets.name(b)}: no documents for its share {share:.1%}; the other buckets take it "
                              "in proportion to their shares")
        elif share > 0 and need > avail[b] * cfg.max_epochs * (1 + 1e-9) + 0.5:
            infeasible.append(f"{buckets.name(b)}: {int(avail[b]):,} tokens, its share {share:.1%} of {total:,.0f} "
                              f"needs {need:,.0f} ({need / avail[b]:.1f} epochs > max_epochs {cfg.max_epochs}); best "
                              f"feasible share {achieved[b] / max(out_total, 1):.1%}")
        rows.append({"source": buckets.source[b], "bucket": buckets.label[b], "docs": int(docs[b]),
                     "docs_kept": int(kept[b]), "tokens_available": int(avail[b]), "target_share": round(share, 6),
                     "target_tokens": int(round(float(targets[b]))), "tokens_out": int(achieved[b]),
                     "achieved_share": round(float(achieved[b]) / out_total, 6) if out_total else 0.0,
                     "epochs": round(float(achieved[b] / avail[b]), 4) if avail[b] else 0.0})
    present = sorted(set(np.unique(lang).tolist()))
    if cfg.tokenizer:
        method = (f"tokenizer {cfg.tokenizer}" if cfg.tokenizer_sample >= 1.0 else
                  f"tokenizer {cfg.tokenizer} on {cfg.tokenizer_sample:.2%} of documents (by id hash); the rest "
                  "estimated from each language's measured characters per token")
    else:
        method = "estimated from characters per language (OLMo 2 tokenizer on UDHR text, or chars_per_token)"
    notes = []
    main_cols = [c for c in columns.values() if c["source"] == MAIN]
    if cfg.shares or cfg.temperature is not None:
        for col in {"lang": ("lang",), "domain": ("domain",), "lang+domain": ("lang", "domain")}[cfg.by]:
            lacking = sum(not c[col] for c in main_cols)
            if lacking:
                notes.append(f"{lacking} of {len(main_cols)} main-corpus shards have no {col} column: their documents "
                             f"count as {NO_LANG if col == 'lang' else DEFAULT_DOMAIN}")
    if cfg.tokens is not None and out_total < cfg.tokens * 0.999:
        infeasible.append(f"budget: only {out_total:,.0f} of {cfg.tokens:,} tokens at max_epochs {cfg.max_epochs}")
    if cfg.tokens is not None and infeasible:
        live = (buckets.share > 0) & (avail > 0)
        exact = float(np.min(avail[live] * cfg.max_epochs / buckets.share[live])) if live.any() else 0.0
        notes.append(f"the target shares can be met exactly up to {exact:,.0f} tokens (a smaller `tokens`, or none)")
    bucket, scarce = limit
    limited = buckets.name(bucket) if bucket is not None else None
    if limited and scarce:
        notes.append(f"the total is set by {limited}, at max_epochs {cfg.max_epochs}; buckets with more data for "
                     "their share are downsampled to meet the shares")
    elif limited:
        notes.append(f"the total is set by {limited}, the bucket with the most data for its share, used once")
    return {
        "mode": "budget" if cfg.tokens is not None else "max",
        "tokens_budget": cfg.tokens,
        "tokens_out": int(out_total),
        "rows_out": rows_out,
        "docs_unlisted": unlisted,
        "max_epochs": cfg.max_epochs,
        "limited_by": limited,
        "feasible": not infeasible,
        "infeasible": infeasible,
        "notes": notes,
        "token_count": {
            "method": method,
            "tokens": int(tokens.sum()),
            "chars_per_token": {langs[i]: round(float(ratio[i]), 3) for i in present},
        },
        "order": {s: "quality" if all(c["quality"] for c in columns.values() if c["source"] == s) else "hash"
                  for s in dict.fromkeys(c["source"] for c in columns.values())},
        "buckets": rows,
    }


def format_report(report: dict) -> str:
    """The mix as a table, for the terminal."""
    how = (f"budget {report['tokens_budget']:,}" if report["mode"] == "budget" else "as large as the data allows")
    lines = [f"rebalance: {report['tokens_out']:,} tokens, {report['rows_out']:,} rows ({how}, "
             f"max_epochs {report['max_epochs']})",
             f"  {'source':<10}{'bucket':<16}{'docs':>10}{'tokens':>15}{'target':>9}{'achieved':>10}{'epochs':>8}"]
    for r in report["buckets"]:
        lines.append(f"  {r['source']:<10}{r['bucket']:<16}{r['docs']:>10,}{r['tokens_available']:>15,}"
                     f"{r['target_share']:>9.1%}{r['achieved_share']:>10.1%}{r['epochs']:>8.2f}")
    tc = report["token_count"]
    lines.append(f"  tokens: {tc['method']}; chars per token: "
                 + ", ".join(f"{k} {v:g}" for k, v in tc["chars_per_token"].items()))
    if report["docs_unlisted"]:
        lines.append(f"  note: {report['docs_unlisted']:,} documents are in no bucket of the shares (rejected as "
                     f"{UNLISTED})")
    lines += [f"  note: {n}" for n in report["notes"]]
    lines += [f"  NOT MET: {n}" for n in report["infeasible"]]
    return "\n".join(lines)


# --- the stage ----------------------------------------------------------------------------------


class RebalanceStage(Stage):
    """Set the output's mix by tokens: shares by language, domain or both, further corpora (code,
    math, replay) blended at their own shares, repetition capped at max_epochs.

    Documents are kept, dropped or repeated best quality first (the `quality` column), else by a
    seeded hash of the id. Repeats are extra rows with `repeat` 1, 2, ... and id `ID#r1`, ...;
    dropped documents go to _rejected/ as rebalance:downsampled. The mix report (tokens available,
    target and achieved share, epochs per bucket) is printed and kept in the manifest; a target
    that cannot be met is reported with the best feasible mix, or stops the run with `--strict`.

    \b
    Examples:
      dataprep rebalance -i work/good -o work/mix --shares '{zh: 0.6, en: 0.3, other: 0.1}'
      dataprep rebalance -i work/good -o work/mix --temperature 3.3 --tokens 1000000000
      dataprep rebalance -i work/zh -o work/cpt --shares '{zh: 0.9}' --replay '{input: work/en, share: 0.1}'
    """

    name = "rebalance"
    Config = RebalanceConfig
    cli_input = "inputs"

    def _main_inputs(self) -> list[str]:
        """Command line: the -i corpora that are not a source (those are found in `sources`/`replay`)."""
        extra = {Path(s.input).resolve() for s in self.config.extra_sources()}
        return [p for p in self.config.inputs if Path(p).resolve() not in extra]

    def source_fingerprint(self) -> str:
        return config_hash([Corpus.open(p).fingerprint for p in self._main_inputs()])

    def _shards(self, ctx: StageContext) -> list[dict]:
        cfg = self.config
        if ctx.source is not None and cfg.inputs:
            raise StageError("rebalance.inputs: only for the command line; in a pipeline the main corpus is the "
                             "previous stage's output, and further corpora go in `sources` or `replay`")
        mains = [ctx.source] if ctx.source is not None else [Corpus.open(p) for p in self._main_inputs()]
        if not mains:
            raise StageError("rebalance: no main corpus (every -i is a source); give the main corpus with -i")
        corpora = [(MAIN, c, "" if i == 0 else f"in{i}-", "") for i, c in enumerate(mains)]
        corpora += [(s.name, Corpus.open(s.input), f"{s.name}-", s.id_prefix) for s in cfg.extra_sources()]
        shards = []
        for name, corpus, key_prefix, id_prefix in corpora:
            corpus.verify()
            for p in corpus.shard_paths:
                shards.append({"source": name, "path": str(p), "key": key_prefix + p.stem, "prefix": id_prefix})
        return shards

    def prepare(self, ctx: StageContext) -> dict:
        cfg = self.config
        shards = self._shards(ctx)
        if cfg.tokenizer:
            tokenizer_file(cfg.tokenizer)  # before any work
        maps = [str(ctx.state_dir / f"map-{i:05d}.npz") for i in range(len(shards))]
        infos = ctx.map(map_shard, [(cfg, s["path"], m, s["prefix"]) for s, m in zip(shards, maps)], "count")
        if cfg.shares or cfg.temperature is not None:
            needed = {"lang": ["lang"], "domain": [], "lang+domain": ["lang"]}[cfg.by]
            for s, info in zip(shards, infos):
                for col in needed:
                    if s["source"] == MAIN and not info[col]:
                        raise StageError(f"rebalance.by: {s['path']} has no {col!r} column; run langid first")
        parts = []
        for m in maps:
            with np.load(m) as z:
                parts.append({k: z[k] for k in z.files})
        for s, info in zip(shards, infos):
            s["rows"] = info["rows"]
        columns = {i: {**s, **info} for i, (s, info) in enumerate(zip(shards, infos))}
        copies, report = plan_mix(cfg, parts, [s["source"] for s in shards], columns)
        del parts
        for i, c in enumerate(copies):
            buf = io.BytesIO()
            np.save(buf, c)
            atomic_write_bytes(ctx.state_dir / f"plan-{i:05d}.npy", buf.getvalue())
        atomic_write_json(ctx.state_dir / "report.json", report)
        if cfg.strict and report["infeasible"]:
            raise StageError(f"rebalance: target not met (strict): {report['infeasible'][0]}")
        for m in maps:
            Path(m).unlink()
        return {"dir": str(ctx.state_dir), "shards": shards}

    def tasks(self, source: Corpus | None, state: dict) -> list[Task]:
        return [Task(key=s["key"], inputs=(s["path"],), params=(("index", i),), weight=max(1, s["rows"]))
                for i, s in enumerate(state["shards"])]

    def run_task(self, task: Task, state: dict, out: TaskOutput) -> None:
        index = task.param("index")
        shard = state["shards"][index]
        table = read_parquet(task.inputs[0])
        if shard["prefix"]:
            ids = pc.binary_join_element_wise(pa.scalar(shard["prefix"]), table["id"], "")
            table = table.set_column(table.column_names.index("id"), "id", ids)
        if "repeat" in table.column_names:
            table = table.drop_columns(["repeat"])
        copies = np.load(Path(state["dir"]) / f"plan-{index:05d}.npy")
        if len(copies) != table.num_rows:
            raise StageError(f"rebalance: {task.inputs[0]} has {table.num_rows} rows, the plan {len(copies)}; "
                             "the input changed since the plan was made: remove the output folder and rerun")
        out.rows_in += table.num_rows
        out.chars_in += text_chars(table)
        reasons = pa.array([None if c > 0 else UNLISTED if c < 0 else DOWNSAMPLED for c in copies.tolist()],
                           pa.string())
        kept, rejected = split_by_reason(table, reasons, self.name)
        out.write_kept(kept.append_column("repeat", pa.array(np.zeros(kept.num_rows, np.int32))))
        out.write_rejected(rejected)
        for k in range(1, int(copies.max(initial=0))):
            rows = table.filter(pa.array(copies > k))
            ids = pc.binary_join_element_wise(rows["id"], pa.scalar(f"#r{k}"), "")
            rows = rows.set_column(rows.column_names.index("id"), "id", ids)
            out.write_kept(rows.append_column("repeat", pa.array(np.full(rows.num_rows, k, np.int32))))
            out.rows_added += rows.num_rows
        out.count("copies_added", out.rows_added)
        out.count("docs_repeated", int((copies > 1).sum()))

    def finish(self, ctx: StageContext, manifest: dict) -> None:
        report = json.loads((ctx.state_dir / "report.json").read_text())
        if manifest["rows_kept"] != report["rows_out"]:
            raise StageError(f"rebalance: wrote {manifest['rows_kept']:,} rows but planned {report['rows_out']:,}")
        manifest["rebalance"] = report
        print(format_report(report), flush=True)
        for line in report["infeasible"]:
            print(f"warning: rebalance: target not met: {line}", file=sys.stderr)


__all__ = ["RebalanceConfig", "RebalanceStage", "SourceConfig", "format_report", "plan_mix", "select_copies",
           "solve_mix"]
