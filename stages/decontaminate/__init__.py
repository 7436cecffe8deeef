"""decontaminate: remove documents (or the passages in them) that reproduce evaluation-set items.

The global pass (``prepare``) builds the index of the eval sets' n-grams (``index.py``, read
from ``evalsets.py``; cached across runs), then maps over the shards: every window of every
document is hashed and looked up, and the hits go to ``_state/hits-NNNNN.parquet``. The reduce
(``match.py``) measures, for every (document, eval item) pair, the share of the item's text
reproduced, sets aside n-grams that many documents share only in passing, and writes one
decision file per shard and the report of every pair. ``run_task`` then drops the documents, or
cuts the matched passages, from its shard's decision file.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal, Optional

import pyarrow as pa

from dataprep import text as T
from dataprep.config import ConfigError, config_hash, option
from dataprep.corpus import atomic_write_bytes, atomic_write_json, read_parquet, split_by_reason
from dataprep.stage import Stage, StageContext, Task, TaskOutput, text_chars

from .evalsets import EvalSource, content_digest, parse_sources
from .index import GramOptions, cache_folder, load_source, merge
from .match import find_hits, reduce

REPORT = "contamination.parquet"


@dataclass
class DecontaminateConfig:
    against: list[str] = option([], help="Evaluation sets: JSONL/JSON, CSV/TSV, Parquet files or HF datasets "
                                         "save_to_disk folders; globs allowed. Each is a benchmark named after the "
                                         "file (`mmlu_test.jsonl` -> mmlu_test); NAME=PATH names it.")
    fields: list[str] = option([], help="Fields whose strings are indexed (lists and nested values searched). Empty: "
                                        "the usual names present (question, query, prompt, problem, context, "
                                        "passage, article, text, answer(s), solution, choices, options, endings, "
                                        "A-E, ...).")
    id_field: Optional[str] = option(None, help="Field naming each item in reports. Default: id, _id, idx, uid, "
                                                "qid, question_id, task_id, ... if present, else FILE:LINE or "
                                                "FILE#ROW.")
    ngram: int = option(13, help="N-gram length in words for space-delimited text (GPT-3: 13).")
    ngram_cjk: int = option(13, help="N-gram length in characters for Chinese, Japanese and Korean "
                                     "(see docs/decontaminate.md).")
    min_ngram: int = option(8, help="An eval text shorter than one n-gram is indexed whole when it has at least "
                                    "this many words (CJK: characters, scaled by ngram_cjk/ngram); shorter texts "
                                    "are not indexed (GPT-3's floor, 8).")
    mode: Literal["remove", "cut"] = option("remove", help="`remove` drops a contaminated document "
                                                          "(reason contaminated:BENCHMARK); `cut` removes only the "
                                                          "matched passages (listed in _edits/).")
    cut_margin: int = option(200, help="cut: characters also removed on each side of a match, and the shortest "
                                       "piece of text kept between cuts (GPT-3: 200 for both).")
    max_removed_share: float = option(0.5, help="cut: a document that would lose more than this share of its "
                                                "characters is removed instead.")
    common_docs: int = option(10, help="An eval n-gram that more than this many documents share in passing (each "
                                       "holding under half of the eval text) is a common phrase and ignored "
                                       "(GPT-3: 10). 0: never ignore.")
    min_coverage: float = option(0.0, help="Share of an eval text that a document must reproduce to count as "
                                           "contaminated. 0: one n-gram is enough (GPT-3); PaLM used 0.7 of the "
                                           "8-grams.")
    index_dir: Optional[str] = option(None, help="Folder where eval-set indexes are kept between runs; default "
                                                 "$XDG_CACHE_HOME (~/.cache)/dataprep/decontaminate.")

    def validate(self) -> None:
        if not self.against:
            raise ConfigError("against: give at least one evaluation set (file, folder or glob)")
        if not 1 <= self.ngram <= 255 or not 1 <= self.ngram_cjk <= 255:
            raise ConfigError("ngram, ngram_cjk: must be in [1, 255]")
        if not 1 <= self.min_ngram <= self.ngram:
            raise ConfigError(f"min_ngram: must be in [1, ngram] ([1, {self.ngram}])")
        if self.cut_margin < 0 or self.common_docs < 0:
            raise ConfigError("cut_margin, common_docs: must be >= 0")
        for name in ("max_removed_share", "min_coverage"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name}: must be in [0, 1]")
        parse_sources(self.against)

    def grams(self) -> GramOptions:
        return GramOptions(self.ngram, self.ngram_cjk, self.min_ngram)


# --- cutting ----------------------------------------------------------------------------------------


def _joined(x: str, y: str) -> bool:
    """Are two neighbouring characters inside one word (letters or digits of a spaced script)?"""
    return x.isalnum() and y.isalnum() and not T._CJK_CHAR.match(x) and not T._CJK_CHAR.match(y)


def cut_passages(text: str, spans: list[tuple[int, int]], margin: int) -> tuple[str, list[tuple[int, int]]]:
    """``text`` without the spans widened by ``margin`` characters each side (never splitting a
    word), and without pieces left between cuts that are shorter than ``margin``; the pieces kept
    are joined by newlines. Returns the new text and the removed [start, end) spans."""
    widened = []
    for a, b in spans:
        a, b = max(0, a - margin), min(len(text), b + margin)
        while 0 < a < len(text) and _joined(text[a - 1], text[a]):
            a -= 1
        while 0 < b < len(text) and _joined(text[b - 1], text[b]):
            b += 1
        widened.append((a, b))
    merged: list[list[int]] = []
    for a, b in sorted(widened):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    kept, pos = [], 0
    for a, b in merged + [[len(text), len(text)]]:
        piece = text[pos:a]
        if piece.strip() and len(piece.strip()) >= max(margin, 1):
            kept.append((pos, a))
        pos = b
    removed, pos = [], 0
    for a, b in kept + [(len(text), len(text))]:
        if a > pos:
            removed.append((pos, a))
        pos = b
    return "\n".join(text[a:b].strip() for a, b in kept), removed


class DecontaminateStage(Stage):
    """Remove documents that reproduce evaluation-set items (benchmark contamination).

    Every eval text (question, passage, answer, choice) is indexed as n-grams, 13 words for
    space-delimited text (GPT-3's method) and 13 characters for Chinese, Japanese and Korean,
    after the normalisation of dedup shingles (NFKC, case, digits, punctuation). A document
    sharing an n-gram with an item is contaminated by it, unless the n-gram is a common phrase
    (many documents share it in passing) or a question stem shared by several items. It is
    removed (reason contaminated:BENCHMARK) or, with --mode cut, the matched passages are cut
    out (_edits/). contamination.parquet lists every (document, item) pair found: benchmark,
    item, share of the item matched, the text; the manifest counts per benchmark. The index is
    cached (--index-dir) by content hash of the eval files and the options.

    \b
    Examples:
      dataprep decontaminate -i work/dedup -o work/decont --against evals/mmlu_test.jsonl
      dataprep decontaminate -i work/dedup -o work/decont --against 'evals/*.jsonl' --against ceval=evals/ceval_val
      dataprep decontaminate -i work/dedup -o work/decont --against evals/gsm8k.parquet --fields question --mode cut
    """

    name = "decontaminate"
    Config = DecontaminateConfig

    @cached_property
    def sources(self) -> list[EvalSource]:
        return parse_sources(self.config.against)

    @cached_property
    def digests(self) -> list[str]:
        return [content_digest(s.path) for s in self.sources]

    @property
    def version(self) -> str:  # the fingerprint follows the eval files' contents, not only their paths
        return "1+" + config_hash([[s.name, d] for s, d in zip(self.sources, self.digests)])

    def prepare(self, ctx: StageContext) -> dict:
        cfg = self.config
        cache = cache_folder(cfg.index_dir, ctx.state_dir / "eval-index")
        parts, cached = [], 0
        for src, digest in zip(self.sources, self.digests):
            arrays, hit = load_source(src, digest, cfg.grams(), cfg.fields, cfg.id_field, cache)
            parts.append(arrays)
            cached += hit
        index_dir = ctx.state_dir / "index"
        summary = merge(self.sources, parts, index_dir)
        for name, b in summary["benchmarks"].items():
            if b["ngrams"] == 0:
                print(f"warning: decontaminate: {b['path']} ({name}) has no text long enough to index "
                      f"({b['segments']} texts, all under min_ngram={cfg.min_ngram} words); check `fields`",
                      file=sys.stderr)
        summary["index_cache"] = {"folder": str(cache)}
        # whether the index came from the cache depends on earlier runs, not on this one's input and
        # config, so it stays out of the manifest (which must be the same however the run got there)
        (ctx.state_dir / "index_cache.json").write_text(json.dumps({"sources_read_from_cache": cached}) + "\n")

        shards = [str(p) for p in ctx.source.shard_paths]
        hit_files = [ctx.state_dir / f"hits-{i:05d}.parquet" for i in range(len(shards))]
        todo = [(str(index_dir), cfg.ngram, cfg.ngram_cjk, s, str(h)) for s, h in zip(shards, hit_files)
                if not h.exists()]
        ctx.map(find_hits, todo, "search")
        summary.update(reduce(index_dir, hit_files, cfg.common_docs, cfg.min_coverage, ctx.state_dir, REPORT))
        atomic_write_json(ctx.state_dir / "summary.json", summary)
        return {"dir": str(ctx.state_dir), "shards": {Path(p).name: i for i, p in enumerate(shards)}}

    def run_task(self, task: Task, state: dict, out: TaskOutput) -> None:
        cfg = self.config
        table = read_parquet(task.inputs[0])
        out.rows_in += table.num_rows
        out.chars_in += text_chars(table)
        index = state["shards"][Path(task.inputs[0]).name]
        dec = read_parquet(Path(state["dir"]) / f"decide-{index:05d}.parquet").to_pylist()
        n = table.num_rows
        reasons: list[str | None] = [None] * n
        item: list[str | None] = [None] * n
        detail: list[str | None] = [None] * n
        edits = {k: [] for k in ("id", "benchmark", "item", "cut_starts", "cut_ends", "chars_before", "chars_after")}
        cutting = bool(dec) and cfg.mode == "cut"
        texts, ids = (table["text"].to_pylist(), table["id"].to_pylist()) if cutting else ([], [])
        for d in dec:
            r = d["row"]
            reasons[r], item[r], detail[r] = f"contaminated:{d['benchmark']}", d["item"], d["detail"]
            if not cutting:
                out.count(f"removed:{d['benchmark']}")
                continue
            old = texts[r]
            new, removed = cut_passages(old, list(zip(d["starts"], d["ends"])), cfg.cut_margin)
            if not new.strip() or 1 - len(new) / max(len(old), 1) > cfg.max_removed_share:
                out.count(f"removed:{d['benchmark']}")
                continue
            reasons[r] = item[r] = detail[r] = None
            texts[r] = new
            out.count(f"cut:{d['benchmark']}")
            out.count("chars_cut", len(old) - len(new))
            for k, v in zip(edits, (ids[r], d["benchmark"], d["item"], [a for a, _ in removed],
                                    [b for _, b in removed], len(old), len(new))):
                edits[k].append(v)
        kept_table = table
        if edits["id"]:
            i = table.column_names.index("text")
            kept_table = table.set_column(i, table.schema.field(i), pa.array(texts, table.schema.field(i).type))
        kept, _ = split_by_reason(kept_table, reasons, self.name)
        _, rejected = split_by_reason(table, reasons, self.name, extra={"eval_item": item, "detail": detail})
        out.write_kept(kept)
        out.write_rejected(rejected)
        out.write_edits(pa.table({
            "id": pa.array(edits["id"], pa.string()), "benchmark": pa.array(edits["benchmark"], pa.string()),
            "item": pa.array(edits["item"], pa.string()),
            "cut_starts": pa.array(edits["cut_starts"], pa.list_(pa.int64())),
            "cut_ends": pa.array(edits["cut_ends"], pa.list_(pa.int64())),
            "chars_before": pa.array(edits["chars_before"], pa.int64()),
            "chars_after": pa.array(edits["chars_after"], pa.int64())}))

    def finish(self, ctx: StageContext, manifest: dict) -> None:
        atomic_write_bytes(ctx.out_dir / REPORT, (ctx.state_dir / REPORT).read_bytes())
        manifest["files"].append({"file": REPORT})
        summary = json.loads((ctx.state_dir / "summary.json").read_text())
        counters = manifest.get("counters", {})
        for name, b in summary["benchmarks"].items():
            b.update(summary.get("found", {}).get(name, {"documents_contaminated": 0, "items_found": 0}))
            b["documents_removed"] = counters.get(f"removed:{name}", 0)
            b["documents_cut"] = counters.get(f"cut:{name}", 0)
        summary.pop("found", None)
        manifest["decontaminate"] = summary
