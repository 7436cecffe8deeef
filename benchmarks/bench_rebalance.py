"""Rebalance cost against tokenization: the rebalance stage over a corpus of 1M documents (plan and
write, end to end) versus the tokenize stage's time for the same corpus, and the reduce's memory
per document.

    python benchmarks/bench_rebalance.py [--docs 1000000] [--workers 2] [--tokenizer PATH]
        [--sample-shards 4]

The corpus is generated straight into Parquet shards of 50,000 documents (``id, text, lang,
domain, quality``): 45% Chinese of 200-1,200 characters and 55% English of 400-2,000 (10% labelled
`fr`), each a window of the sample corpus's prose (sample_data/raw/web-zh|en.jsonl), so it
tokenizes like real text; domains web/code/math 80/10/10 at random. Rebalance runs the full stage (map over the
shards, reduce, writing every kept row and copy) on all of it, with a lang x domain target and
token counts estimated from characters; then again counting tokens with the tokenizer on 1% of
documents. Tokenization is measured on a sample (the first ``--sample-shards`` shards) with
`dataprep tokenize` and the OLMo 2 tokenizer (../shared/data/tokenizers/allenai_dolma2.json) and
extrapolated to the whole corpus by characters: tokenizing time is linear in the text.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import mb, run_measured  # noqa: E402

DEFAULT_TOKENIZER = ROOT.parent / "shared" / "data" / "tokenizers" / "allenai_dolma2.json"
SHARES = {"zh": {"web": 0.35, "code": 0.05, "math": 0.05}, "en": {"web": 0.3, "code": 0.05, "math": 0.05},
          "other": {"web": 0.15}}


def generate(folder: Path, n: int, shard_docs: int, seed: int = 0) -> int:
    """Write the corpus; return its characters."""
    import numpy as np
    import pyarrow as pa

    from dataprep.corpus import shard_digest, write_table

    pools = {}  # the sample corpus's prose, so the text tokenizes like real text (cut at random places below)
    for lang in ("zh", "en"):
        with open(ROOT / "sample_data" / "raw" / f"web-{lang}.jsonl", encoding="utf-8") as f:
            pools[lang] = "\n".join(json.loads(line)["text"] for line in f)
    gen = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    shards, chars = [], 0
    for s in range(0, n, shard_docs):
        m = min(shard_docs, n - s)
        lang = gen.choice(np.array(["zh", "en", "fr"]), m, p=[0.45, 0.45, 0.10])
        zh = lang == "zh"
        length = np.where(zh, gen.integers(200, 1200, m), gen.integers(400, 2000, m))
        start = gen.integers(0, min(map(len, pools.values())) - 2000, m)
        texts = [pools["zh" if z else "en"][a:a + k] for z, a, k in zip(zh.tolist(), start.tolist(), length.tolist())]
        chars += int(length.sum())
        table = pa.table({
            "id": pa.array([f"doc-{i:09d}" for i in range(s, s + m)]),
            "text": pa.array(texts),
            "lang": pa.array(lang.tolist()),
            "domain": pa.array(gen.choice(np.array(["web", "code", "math"]), m, p=[0.8, 0.1, 0.1]).tolist()),
            "quality": pa.array(gen.random(m, dtype=np.float32)),
        })
        name = f"part-{s // shard_docs:05d}.parquet"
        size = write_table(table, folder / name)
        shards.append({"file": name, "rows": m, "bytes": size, "digest": shard_digest(folder / name)})
    manifest = {"fingerprint": f"bench-rebalance-{n}-{seed}", "rows": n, "shards": shards,
                "schema": [{"name": c, "type": t} for c, t in
                           (("id", "string"), ("text", "string"), ("lang", "string"), ("domain", "string"),
                            ("quality", "float"))]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return chars


def subset(src: Path, dst: Path, shards: int) -> int:
    """A corpus of the first ``shards`` shards of ``src`` (hard links); return its documents."""
    manifest = json.loads((src / "manifest.json").read_text())
    manifest["shards"] = manifest["shards"][:shards]
    manifest["rows"] = sum(s["rows"] for s in manifest["shards"])
    manifest["fingerprint"] += f"-first{shards}"
    dst.mkdir(parents=True)
    for s in manifest["shards"]:
        os.link(src / s["file"], dst / s["file"])
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return manifest["rows"]


def rebalance_child(corpus: str, out: str, workers: int, options: str) -> None:
    """Run the stage in this process (and its workers); print wall seconds and the time to the
    saved plan (the map and the reduce)."""
    from dataprep.config import parse
    from dataprep.corpus import Corpus
    from dataprep.executor import LocalExecutor
    from dataprep.runner import run_stage
    from dataprep.stages.rebalance import RebalanceConfig, RebalanceStage

    stage = RebalanceStage(parse(RebalanceConfig, json.loads(options)))
    t0 = time.time()
    with LocalExecutor(workers) as ex:
        run = run_stage(stage, Corpus.open(corpus), out, ex)
    wall = time.time() - t0
    plan_s = (Path(out) / "_state.pkl").stat().st_mtime - t0
    print(json.dumps({"wall_s": wall, "plan_s": plan_s, "rows_out": run.manifest["rows_kept"],
                      "tokens_out": run.manifest["rebalance"]["tokens_out"]}))


def reduce_child(corpus: str, maps: str, options: str) -> None:
    """The map over every shard (in this process), then the reduce alone under tracemalloc (which
    sees numpy's arrays): its peak memory per document and its seconds."""
    import tracemalloc

    import numpy as np

    from dataprep.config import parse
    from dataprep.corpus import Corpus
    from dataprep.stages.rebalance import RebalanceConfig, map_shard, plan_mix

    cfg = parse(RebalanceConfig, json.loads(options))
    shards = Corpus.open(corpus).shard_paths
    Path(maps).mkdir(parents=True, exist_ok=True)
    files = [f"{maps}/map-{i:05d}.npz" for i in range(len(shards))]
    infos = [map_shard((cfg, str(s), f, "")) for s, f in zip(shards, files)]
    columns = {i: {"source": "main", "path": str(s), "prefix": "", **info}
               for i, (s, info) in enumerate(zip(shards, infos))}
    tracemalloc.start()
    t0 = time.perf_counter()
    parts = []
    for f in files:
        with np.load(f) as z:
            parts.append({k: z[k] for k in z.files})
    copies, _ = plan_mix(cfg, parts, ["main"] * len(parts), columns)
    seconds = time.perf_counter() - t0
    print(json.dumps({"reduce_s": seconds, "peak": tracemalloc.get_traced_memory()[1],
                      "docs": sum(len(c) for c in copies)}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--shard-docs", type=int, default=50_000)
    ap.add_argument("--sample-shards", type=int, default=4, help="shards tokenized to measure its throughput")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--tokenizer", default=str(DEFAULT_TOKENIZER))
    ap.add_argument("--workdir", default=str(ROOT / "bench_out" / "rebalance"))
    ap.add_argument("--_child", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--_reduce", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        corpus, out, workers, options = args._child
        rebalance_child(corpus, out, int(workers), options)
        return 0
    if args._reduce:
        reduce_child(*args._reduce)
        return 0
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if not Path(args.tokenizer).exists():
        raise SystemExit(f"tokenizer {args.tokenizer} not found; give --tokenizer PATH")

    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t0 = time.time()
    chars = generate(work / "corpus", args.docs, args.shard_docs)
    print(f"corpus: {args.docs:,} docs, {chars:,} characters, {args.docs // args.shard_docs} shards "
          f"(generated in {time.time() - t0:.0f} s)")

    def options(**extra) -> str:
        return json.dumps({"by": "lang+domain", "shares": SHARES, "seed": 1, **extra})

    def rebalance(tag: str, **extra) -> dict:
        r = run_measured([sys.executable, __file__, "--_child", str(work / "corpus"), str(work / f"out-{tag}"),
                          str(args.workers), options(**extra)])
        shutil.rmtree(work / f"out-{tag}")
        return {**json.loads(r["stdout"].strip().splitlines()[-1]), "rss": r["peak_tree_rss"]}

    estimate = rebalance("estimate")
    sampled = rebalance("sample", tokenizer=args.tokenizer, tokenizer_sample=0.01)
    r = run_measured([sys.executable, __file__, "--_reduce", str(work / "corpus"), str(work / "maps"), options()])
    reduce = json.loads(r["stdout"].strip().splitlines()[-1])

    sample_docs = subset(work / "corpus", work / "sample", args.sample_shards)
    sample_chars = sum(pc.sum(pc.utf8_length(pq.read_table(p, columns=["text"])["text"])).as_py()
                       for p in sorted((work / "sample").glob("*.parquet")))
    r = run_measured([sys.executable, "-m", "dataprep", "tokenize", "-i", str(work / "sample"), "-o",
                      str(work / "tokens"), "--tokenizer", args.tokenizer, "--formats", "[megatron]",
                      "--workers", str(args.workers), "--quiet"])
    tokens = json.loads((work / "tokens" / "tokenize.json").read_text())["tokens"]
    tok_full = r["wall_s"] * chars / sample_chars

    print(f"tokenize (sample): {sample_docs:,} docs, {sample_chars:,} chars, {tokens:,} tokens in {r['wall_s']:.1f} s "
          f"({sample_chars / r['wall_s'] / 1e6:.2f} M chars/s); whole corpus extrapolated: {tok_full:.0f} s")
    print(f"{'run':<44}{'seconds':>9}{'plan s':>9}{'/ tokenize':>12}{'peak RSS':>12}")
    print(f"{'tokenize (extrapolated from the sample)':<44}{tok_full:>9.1f}{'':>9}{1:>12.3f}"
          f"{mb(r['peak_tree_rss']):>12}")
    for name, res in (("rebalance, tokens estimated from characters", estimate),
                      ("rebalance, tokenizer on 1% of documents", sampled)):
        print(f"{name:<44}{res['wall_s']:>9.1f}{res['plan_s']:>9.1f}{res['wall_s'] / tok_full:>12.3f}"
              f"{mb(res['rss']):>12}")
    print(f"rows out {estimate['rows_out']:,}, tokens out {estimate['tokens_out']:,}; the reduce alone: "
          f"{reduce['reduce_s']:.2f} s, peak {mb(reduce['peak'])} = {reduce['peak'] / reduce['docs']:.0f} bytes per "
          "document")
    return 0


if __name__ == "__main__":
    sys.exit(main())
