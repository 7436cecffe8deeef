"""The whole sample pipeline end to end: configs/sample.yaml's stages (ingest, clean, langid, dedup
exact / minhash / paragraph, quality, domain, rebalance, tokenize) on a generated corpus of a given
size, run as one `dataprep run` command.

    python benchmarks/bench_pipeline.py [--mb 20] [--workers N] [--scale-check] [--workdir DIR]
        [--keep] [--json results.json]

Corpus (--mb N: N MB of raw JSONL, UTF-8, `id, text, url, source`): Chinese and English
documents (60% / 40%) recombined with one seeded random.Random from the sentences of
sample_data/raw/web-zh.jsonl and web-en.jsonl and, when ../shared/data/seeds_text/ is present, of
those real web pages (a sentence is Chinese when at least 30% of its characters are CJK, English
when none are; sentences in between are left out). An original document is 2 to 8 paragraphs of 2
to 5 sentences drawn from its language's pool, so documents and paragraphs are distinct while
reading like the sample corpus. 5% of documents are exact copies of an earlier original (new id
and url) and 20% near-variants of one: 2% of the words (English) or CJK characters (Chinese)
replaced by others from the pool or deleted, which the minhash stage at Jaccard 0.7 should catch.

The pipeline is configs/sample.yaml with the ingest paths pointed at the corpus and, for
tokenize, `tokenizer: ../shared/data/tokenizers/allenai_dolma2.json` (OLMo 2, 100,278 ids, so
uint32 token ids) instead of `train:`; without that folder the sample's trained byte-level BPE
(vocab 8,000) is kept, and the output says so. Stage seconds are each stage's manifest
`wall_time_s`; the whole command's wall time includes process start and the worker pool. Peak RSS
is sampled every 0.1 s over the whole process tree (the CLI, the fork server and every worker it
starts: /usr/bin/time does not see those) and for the largest single process
(benchmarks/_measure.py).

--scale-check runs the pipeline at N/4 MB and at N MB (each on its own corpus, same seed) and
reports the time ratio (4.0 means linear).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import mb, run_measured, stage_runs  # noqa: E402

from dataprep import text as T  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
SEEDS = SHARED / "seeds_text"
TOKENIZER = SHARED / "tokenizers" / "allenai_dolma2.json"
SAMPLE = ROOT / "sample_data" / "raw"
CONFIG = ROOT / "configs" / "sample.yaml"
SEED = 15
ZH_SHARE = 0.6
EXACT_SHARE = 0.05
NEAR_SHARE = 0.20
EDIT_RATE = 0.02
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def sentence_pools() -> tuple[dict[str, list[str]], dict]:
    """Distinct sentences per language from the sample corpus and (when present) the seed pages."""
    pools: dict[str, dict[str, None]] = {"zh": {}, "en": {}}  # dicts keep first-seen order
    origin = {"zh": {"sample": 0, "seeds": 0}, "en": {"sample": 0, "seeds": 0}}

    def add(text: str, where: str) -> None:
        for para in T.split_paragraphs(text):
            for s in T.split_sentences(para):
                s = s.strip()
                if len(s) < 8:
                    continue
                share = T.cjk_share(s)
                lang = "zh" if share >= 0.3 else "en" if share == 0 else None
                if lang and s not in pools[lang]:
                    pools[lang][s] = None
                    origin[lang][where] += 1

    for name in ("web-zh.jsonl", "web-en.jsonl"):
        with open(SAMPLE / name, encoding="utf-8") as f:
            for line in f:
                add(json.loads(line)["text"], "sample")
    if SEEDS.is_dir():
        for p in sorted(SEEDS.glob("*.txt")):
            add(p.read_text(encoding="utf-8"), "seeds")
    return {k: list(v) for k, v in pools.items()}, origin


def near_variant(text: str, lang: str, rng: random.Random, pool_words: list[str], pool_chars: list[str]) -> str:
    """Light edits: EDIT_RATE of the words (en) or CJK characters (zh) replaced or deleted."""
    if lang == "en":
        toks = text.split(" ")
        for j in rng.sample(range(len(toks)), max(1, int(len(toks) * EDIT_RATE))):
            toks[j] = "" if rng.random() < 0.3 else rng.choice(pool_words)
        return re.sub(r" {2,}", " ", " ".join(toks))
    chars = list(text)
    cjk_at = [i for i, c in enumerate(chars) if CJK.match(c)]
    for j in rng.sample(cjk_at, max(1, int(len(cjk_at) * EDIT_RATE))):
        chars[j] = "" if rng.random() < 0.3 else rng.choice(pool_chars)
    return "".join(chars)


def generate(path: Path, target_bytes: int, seed: int = SEED) -> dict:
    """Write JSONL documents until the file holds target_bytes; return how it was made."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    pools, origin = sentence_pools()
    pool_words = sorted({w for s in pools["en"] for w in s.split() if w.isalpha()})
    pool_chars = sorted({c for s in pools["zh"] for c in s if CJK.match(c)})
    originals: list[tuple[str, str]] = []
    counts = {"original": 0, "exact": 0, "near": 0}
    langs = {"zh": 0, "en": 0}
    size = chars = i = 0
    with open(path, "w", encoding="utf-8") as f:
        while size < target_bytes:
            r = rng.random()
            if originals and r < EXACT_SHARE:
                lang, text = rng.choice(originals)
                kind = "exact"
            elif originals and r < EXACT_SHARE + NEAR_SHARE:
                lang, text = rng.choice(originals)
                text = near_variant(text, lang, rng, pool_words, pool_chars)
                kind = "near"
            else:
                lang = "zh" if rng.random() < ZH_SHARE else "en"
                pool = pools[lang]
                sep = "" if lang == "zh" else " "
                text = "\n\n".join(sep.join(rng.choice(pool) for _ in range(rng.randint(2, 5)))
                                   for _ in range(rng.randint(2, 8)))
                kind = "original"
                if len(originals) < 20000:
                    originals.append((lang, text))
                else:
                    originals[rng.randrange(len(originals))] = (lang, text)
            counts[kind] += 1
            langs[lang] += 1
            rec = {"id": f"p{i:09d}", "text": text, "url": f"https://site{rng.randrange(5000)}.example.com/{lang}/{i}",
                   "source": "crawl"}
            line = json.dumps(rec, ensure_ascii=False) + "\n"
            f.write(line)
            size += len(line.encode("utf-8"))
            chars += len(text)
            i += 1
    return {"docs": i, "bytes": size, "chars": chars, "kinds": counts, "langs": langs, "seed": seed,
            "pool_sentences": {k: len(v) for k, v in pools.items()}, "pool_origin": origin,
            "seeds_text": SEEDS.is_dir(), "seconds": round(time.perf_counter() - t0, 2)}


def pipeline_config(corpus: Path, workdir: Path) -> tuple[dict, str]:
    """configs/sample.yaml pointed at the corpus, with the OLMo 2 tokenizer when it is present."""
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["workdir"] = str(workdir)
    for entry in cfg["stages"]:
        (name, opts), = entry.items()
        if name == "ingest":
            opts["paths"] = [str(corpus)]
        if name == "tokenize":
            if TOKENIZER.exists():
                opts.pop("train", None)
                opts.pop("vocab_size", None)
                opts["tokenizer"] = str(TOKENIZER)
                tok = f"{TOKENIZER.name} (OLMo 2, from ../shared/data/tokenizers/)"
            else:
                tok = (f"{TOKENIZER} absent: trained {opts.get('train')} vocab {opts.get('vocab_size')} in the run "
                       f"(as configs/sample.yaml; its training time is in tokenize's seconds)")
    return cfg, tok


def run_once(mb_target: float, workers: int, base: Path) -> dict:
    work = base / f"{mb_target:g}mb"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    corpus = work / "corpus.jsonl"
    gen = generate(corpus, int(mb_target * 1e6))
    print(f"corpus {mb_target:g} MB: {gen['docs']:,} docs ({gen['langs']['zh']:,} zh, {gen['langs']['en']:,} en; "
          f"{gen['kinds']['original']:,} originals, {gen['kinds']['exact']:,} exact copies, "
          f"{gen['kinds']['near']:,} near-variants), {gen['bytes'] / 1e6:.1f} MB JSONL, "
          f"{gen['chars'] / 1e6:.1f}M characters, generated in {gen['seconds']:.1f} s", flush=True)
    cfg, tok = pipeline_config(corpus, work / "run")
    cfg_path = work / "pipeline.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    r = run_measured([sys.executable, "-m", "dataprep", "run", str(cfg_path), "--workers", str(workers), "--quiet"],
                     interval=0.1)
    stages = []
    for d, m, seen in stage_runs(work / "run", r["timeline"]):
        stages.append({"stage": d.name, "seconds": m["wall_time_s"], "rows_in": m.get("rows_in"),
                       "peak_tree_rss": max((x[1] for x in seen), default=0),
                       "peak_proc_rss": max((x[3] for x in seen), default=0),
                       "rows_kept": m.get("rows_kept"), "rows_rejected": m.get("rows_rejected"),
                       "chars_in": m.get("chars_in"), "reasons": m.get("reasons") or {}})
    notes = []
    ing = work / "run" / "01-ingest" / "manifest.json"
    if ing.exists():
        notes.append(f"ingest wrote {len(json.loads(ing.read_text())['shards'])} shard(s): at most that many "
                     f"workers busy in each map stage")
    for d in (work / "run").glob("*-rebalance"):
        reb = json.loads((d / "manifest.json").read_text()).get("rebalance", {})
        notes += [f"rebalance: {n}" for n in reb.get("notes", [])]
    tok_json = work / "run" / stages[-1]["stage"] / "tokenize.json" if stages else None
    tokens = None
    if tok_json and tok_json.exists():
        tokens = json.loads(tok_json.read_text()).get("tokens")
    return {"mb": mb_target, "workers": workers, "corpus": gen, "tokenizer": tok, "wall_s": round(r["wall_s"], 2),
            "stage_s": round(sum(s["seconds"] for s in stages), 2), "peak_tree_rss": r["peak_tree_rss"],
            "peak_tree_pss": r["peak_tree_pss"], "peak_proc_rss": r["peak_proc_rss"],
            "peak_proc_cmd": r["peak_proc_cmd"], "stages": stages, "tokens": tokens, "notes": notes,
            "workdir": str(work)}


def report(res: dict) -> None:
    g = res["corpus"]
    raw_mb = g["bytes"] / 1e6
    print(f"\n{res['mb']:g} MB raw JSONL, {g['docs']:,} docs, {res['workers']} workers, tokenizer {res['tokenizer']}")
    print(f"{'stage':<14}{'seconds':>9}{'share':>7}{'rows in':>11}{'kept':>11}{'rejected':>10}{'docs/s':>9}"
          f"{'raw MB/s':>10}{'tree RSS':>10}{'largest':>9}")
    total = res["stage_s"] or 1.0
    for s in res["stages"]:
        sec = s["seconds"] or 1e-9
        rows_in = s["rows_in"] if s["rows_in"] is not None else g["docs"]
        print(f"{s['stage']:<14}{s['seconds']:>9.1f}{s['seconds'] / total:>7.0%}{rows_in:>11,}"
              f"{s['rows_kept'] or 0:>11,}{s['rows_rejected'] or 0:>10,}{rows_in / sec:>9,.0f}{raw_mb / sec:>10.2f}"
              f"{s['peak_tree_rss'] / 1e6:>10,.0f}{s['peak_proc_rss'] / 1e6:>9,.0f}")
    print(f"{'stages total':<14}{res['stage_s']:>9.1f}")
    print(f"{'command':<14}{res['wall_s']:>9.1f}{'':>7}{g['docs']:>11,}{'':>21}{g['docs'] / res['wall_s']:>9,.0f}"
          f"{raw_mb / res['wall_s']:>10.2f}")
    for s in res["stages"]:
        if s["reasons"]:
            top_r = sorted(s["reasons"].items(), key=lambda kv: -kv[1])[:4]
            print(f"  {s['stage']} rejected: " + ", ".join(f"{k} {v:,}" for k, v in top_r))
    for n in res["notes"]:
        print(n)
    if res["tokens"]:
        print(f"tokens written: {res['tokens']:,}")
    print(f"peak memory: whole process tree {mb(res['peak_tree_rss'])} RSS ({mb(res['peak_tree_pss'])} PSS, shared "
          f"pages counted once), largest single process {mb(res['peak_proc_rss'])} RSS: {res['peak_proc_cmd']}")
    top = sorted(res["stages"], key=lambda s: -s["seconds"])[:3]
    print("most time: " + ", ".join(f"{s['stage']} {s['seconds']:.1f} s ({s['seconds'] / total:.0%})" for s in top))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=20, help="MB of raw JSONL to generate (default 20)")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--workdir", default=str(ROOT / "bench_out" / "pipeline"))
    ap.add_argument("--scale-check", action="store_true", help="also run at --mb / 4 and report the time ratio")
    ap.add_argument("--keep", action="store_true", help="keep the corpus and every stage's output")
    ap.add_argument("--json", default=None, help="write the results to this JSON file")
    args = ap.parse_args()

    base = Path(args.workdir)
    try:
        load = os.getloadavg()
        print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    except OSError:
        load = None
    sizes = [args.mb / 4, args.mb] if args.scale_check else [args.mb]
    results = []
    for size in sizes:
        res = run_once(size, args.workers, base)
        report(res)
        results.append(res)
        if not args.keep:
            shutil.rmtree(res["workdir"], ignore_errors=True)
    out = {"results": results, "load_avg_start": load}
    if args.scale_check:
        small, big = results
        ratio = big["wall_s"] / small["wall_s"]
        stage_ratio = big["stage_s"] / max(small["stage_s"], 1e-9)
        grown = big["corpus"]["bytes"] / small["corpus"]["bytes"]
        print(f"\nscaling {small['mb']:g} MB -> {big['mb']:g} MB ({grown:.2f}x input): "
              f"command time x{ratio:.2f}, stage time x{stage_ratio:.2f} (4.0 = linear)")
        for a, b in zip(small["stages"], big["stages"]):
            x = b["seconds"] / max(a["seconds"], 1e-3)
            print(f"  {a['stage']:<14}{a['seconds']:>8.1f} -> {b['seconds']:>8.1f} s  x{x:.2f}")
        out["scaling"] = {"wall_ratio": ratio, "stage_ratio": stage_ratio}
    try:
        out["load_avg_end"] = os.getloadavg()
    except OSError:
        pass
    print(f"load average at the end: {out.get('load_avg_end', ('?',))[0]}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
