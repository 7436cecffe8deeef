"""Quality filtering throughput: the quality stage (default preset) vs datatrove's Gopher, C4 and
FineWeb filters on the same English and Chinese documents, in the same run.

    python benchmarks/bench_quality.py [--docs 3000] [--shard-rows 500] [--json results.json]
        [--datatrove-python PATH | --make-datatrove-venv] [--skip ...] [--profile]

Documents, per language: sample_data/raw/web-en.jsonl and web-zh.jsonl (generated) plus the real
web pages in ../shared/data/seeds_text/ when that folder is present (1 English, 4 Chinese; a
page's language is the one most of its words are in), the real pages first, cycled in the same
order until --docs documents per language (copies get their own ids; a copy is several hundred
documents away from the one before it). Each language is ingested into its own corpus (`lang`
promoted to a column, as the langid stage would add; --shard-rows documents per shard) and
written as 2 JSONL files for datatrove (it splits work by file).

Ours (QualityStage(QualityConfig()), the default preset):
  call        `QualityStage.score` on each shard's table, one process, Parquet already read
              (--repeat passes, the median counted)
  cli w1/w2   `dataprep quality -i CORPUS -o OUT --workers 1|2` end to end (process start, reading
              and writing Parquet, kept, rejected and edits)
datatrove, in its own venv (--datatrove-python, default bench_out/datatrove-venv; created with
--make-datatrove-venv): GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter,
FineWebQualityFilter at their defaults (language English, so spaCy's blank `en` tokenizer, which
needs no model), in that order, a document leaving at the first filter that rejects it:
  loop        the four filters' `filter` called in a loop, one process, documents already in memory
  exec t1/t2  LocalPipelineExecutor(JsonlReader, the four filters, JsonlWriter), tasks = workers = 1|2
  loop cmn    (Chinese only) the same loop with language="cmn_Hani", datatrove's Mandarin setting
              (spaCy's blank `zh` with the jieba segmenter; jieba ships its dictionary)
Peak RSS is sampled over each command's process tree (benchmarks/_measure.py). Memory bound: the
CLI with 2 workers on both languages together at 1x and 4x the documents, same shard size.
--profile (or ours / datatrove English below 50x) prints where the score call's time goes, per
language: cProfile by function, a sampled profile by line of the stage, each pattern's cost alone.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import io
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import mb, run_measured  # noqa: E402

SEEDS = ROOT.parent / "shared" / "data" / "seeds_text"
SAMPLE = ROOT / "sample_data" / "raw"
LANGS = ("en", "zh")
TARGET = 50.0

DATATROVE_COMMON = r'''
import json, sys, time
from pathlib import Path
from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                        GopherRepetitionFilter)


def filters(language=None):
    kw = {} if language is None else {"language": language}
    return [GopherRepetitionFilter(**kw), GopherQualityFilter(**kw), C4QualityFilter(**kw), FineWebQualityFilter(**kw)]
'''

DATATROVE_LOOP = DATATROVE_COMMON + r'''
from datatrove.data import Document


def main():
    src, language = Path(sys.argv[1]), (sys.argv[2] if sys.argv[2] != "default" else None)
    rows = [json.loads(line) for p in sorted(src.glob("*.jsonl")) for line in open(p, encoding="utf-8")]
    docs = [Document(text=r["text"], id=r["id"]) for r in rows]
    fs = filters(language)
    for f in fs:  # load the word tokenizer before timing
        f.filter(Document(text=rows[0]["text"], id="warm"))
    kept, reasons = [], {}
    t0, c0 = time.perf_counter(), time.process_time()
    for doc in docs:
        for f in fs:
            r = f.filter(doc)
            ok = r if isinstance(r, bool) else r[0]
            if not ok:
                key = f"{f.name.split(' ', 1)[-1]}:{'' if isinstance(r, bool) else r[1]}"
                reasons[key] = reasons.get(key, 0) + 1
                break
        else:
            kept.append(doc.id)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"docs": len(docs), "seconds": seconds, "cpu_s": cpu, "kept": len(kept), "kept_ids": kept,
                      "reasons": reasons}))


if __name__ == "__main__":
    main()
'''

DATATROVE_EXEC = DATATROVE_COMMON + r'''
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter


def main():
    src, work, tasks = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t0 = time.perf_counter()
    LocalPipelineExecutor(pipeline=[JsonlReader(src), *filters(), JsonlWriter(f"{work}/out")],
                          tasks=tasks, workers=tasks, logging_dir=f"{work}/logs").run()
    print(json.dumps({"seconds": time.perf_counter() - t0}))


if __name__ == "__main__":  # workers are started with spawn/forkserver
    main()
'''


# --- documents ---------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict]:
    out = []
    for line in open(path, encoding="utf-8"):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("text"), str) and rec["text"].strip():
            out.append(rec)
    return out


def han_share(text: str) -> float:
    """Han characters / (Han characters + Latin words): a page mixing Chinese and English counts
    as Chinese when most of its words are Chinese."""
    han = len(re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]", text))
    words = len(re.findall(r"[A-Za-z]+", text))
    return han / max(han + words, 1)


def pools() -> tuple[dict[str, list[dict]], dict[str, int]]:
    """The distinct documents of each language: the real pages first, then sample_data's."""
    pool: dict[str, list[dict]] = {"en": [], "zh": []}
    real = {"en": 0, "zh": 0}
    if SEEDS.is_dir():
        for p in sorted(SEEDS.glob("*.txt")):
            text = p.read_text(encoding="utf-8")
            lang = "zh" if han_share(text) > 0.5 else "en"
            pool[lang].append({"id": f"seed-{p.stem}", "text": text, "src": "real"})
            real[lang] += 1
    for lang, name in (("en", "web-en.jsonl"), ("zh", "web-zh.jsonl")):
        for rec in read_jsonl(SAMPLE / name):
            pool[lang].append({"id": rec["id"], "text": rec["text"], "src": "sample"})
    return pool, real


def replicate(pool: list[dict], n: int, lang: str) -> list[dict]:
    out = []
    for i in range(n):
        rec = pool[i % len(pool)]
        out.append({"id": f"{rec['id']}~{i // len(pool)}", "text": rec["text"], "lang": lang, "source": rec["src"]})
    return out


def write_jsonl(path: Path, recs: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def ingest(dp: list[str], inputs: list[Path], out: Path, shard_rows: int) -> None:
    subprocess.run([*dp, "ingest", *[a for p in inputs for a in ("-i", str(p))], "-o", str(out), "--promote", "lang",
                    "--promote", "source", "--shard-rows", str(shard_rows), "--workers", "2", "--quiet"], check=True)


# --- children ----------------------------------------------------------------------------------


def ours_call_child(corpus: str, repeat: int, profile: int) -> None:
    """Time QualityStage.score over every shard of a corpus in this one process (started with
    POLARS_MAX_THREADS=1: one core, as datatrove's loop)."""
    from dataprep.corpus import Corpus, read_parquet
    from dataprep.stages.quality import QualityConfig, QualityStage

    tables = [read_parquet(p) for p in Corpus.open(corpus).shard_paths]
    stage = QualityStage(QualityConfig())
    stage.score(tables[0].slice(0, 20))  # compiles the patterns once
    passes: list[tuple[float, float]] = []
    kept_ids: list[str] = []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        results = [stage.score(t) for t in tables]
        passes.append((time.perf_counter() - t0, time.process_time() - c0))
        kept_ids = [i for k, *_ in results for i in k["id"].to_pylist()]
    wall, cpu = sorted(passes)[len(passes) // 2]
    out = {"docs": sum(t.num_rows for t in tables), "seconds": wall, "cpu_s": cpu, "passes": passes,
           "kept": len(kept_ids), "kept_ids": kept_ids}
    if profile:
        out["profile"] = profile_score(stage, tables, profile)
    print(json.dumps(out))


def profile_score(stage, tables: list, top: int) -> str:
    """Where the score call's time goes: cProfile by function; a sampled profile by source line of
    the stage (polars releases the GIL while it computes, so a sampling thread sees the line that
    started the work); and the cost of each of the stage's patterns alone over the same texts."""
    import linecache
    import threading
    from collections import Counter

    import polars as pl

    from dataprep.stages.quality import signals as S

    buf = io.StringIO()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for t in tables:
        stage.score(t)
    prof.disable()
    total = time.perf_counter() - t0
    buf.write(f"cProfile of the score call: {sum(t.num_rows for t in tables):,} documents, {total:.2f} s "
              f"(profiled)\n")
    st = pstats.Stats(prof, stream=buf)
    st.sort_stats("cumulative").print_stats(r"stages/quality", top)
    st.sort_stats("tottime").print_stats(12)

    main, stop, hits = threading.get_ident(), threading.Event(), Counter()

    def sampler() -> None:
        while not stop.is_set():
            f = sys._current_frames().get(main)
            while f is not None and "stages/quality" not in f.f_code.co_filename.replace(os.sep, "/"):
                f = f.f_back
            hits[None if f is None else (f.f_code.co_filename, f.f_lineno, f.f_code.co_name)] += 1
            time.sleep(0.0005)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    for _ in range(3):
        for t in tables:
            stage.score(t)
    stop.set()
    th.join()
    n = sum(hits.values())
    buf.write(f"\nsampled by line of the stage ({n:,} samples over 3 passes; the line that is running or "
              f"called what is running):\n")
    for key, c in hits.most_common(top):
        if key is None:
            buf.write(f"{c / n:7.1%}  (outside the stage)\n")
            continue
        path, line, func = key
        src = linecache.getline(path, line).strip()
        buf.write(f"{c / n:7.1%}  {Path(path).name}:{line} {func}: {src[:90]}\n")

    texts = pl.concat([pl.from_arrow(t[stage.config.text_column]).cast(pl.String) for t in tables])
    costs = []
    for name in dir(S):
        pattern = getattr(S, name)
        if not (name.isupper() and isinstance(pattern, str)):
            continue
        try:
            texts.head(10).str.count_matches(pattern)
        except Exception:  # not a regex
            continue
        t0 = time.perf_counter()
        texts.str.count_matches(pattern)
        costs.append((time.perf_counter() - t0, name))
    buf.write(f"\neach pattern of signals.py alone, str.count_matches over the {len(texts):,} texts "
              f"(whole documents; the stage runs some per line or sentence):\n")
    for sec, name in sorted(costs, reverse=True)[:top]:
        buf.write(f"{sec * 1e3:9.1f} ms  {sec / total:6.1%} of the score call  {name}\n")
    return buf.getvalue()


# --- runs --------------------------------------------------------------------------------------


def ensure_datatrove(python: str | None, make: bool) -> str | None:
    py = Path(python) if python else ROOT / "bench_out" / "datatrove-venv" / "bin" / "python"
    if py.exists():
        return str(py)
    if python or not make:
        return None
    venv = py.parent.parent
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # regex: datatrove's text utilities; spacy: its word tokenizers (blank pipelines, no model
    # download); jieba: the segmenter of its Mandarin tokenizer; orjson: its JSONL reader
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "datatrove", "regex", "orjson", "spacy", "jieba"])
    return str(py) if r.returncode == 0 else None


def dt_env() -> dict:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONWARNINGS="ignore")
    return env


def count_jsonl_gz(folder: Path) -> int:
    n = 0
    for p in folder.rglob("*.jsonl*"):
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt", encoding="utf-8") as f:
            n += sum(1 for _ in f)
    return n


def run_cli(dp: list[str], corpus: Path, out: Path, workers: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    r = run_measured([*dp, "quality", "-i", str(corpus), "-o", str(out), "--workers", str(workers), "--quiet"])
    man = json.loads((out / "manifest.json").read_text())
    return {"docs": man["rows_in"], "seconds": r["wall_s"], "kept": man["rows_kept"],
            "rss_tree": r["peak_tree_rss"], "rss_proc": r["peak_proc_rss"]}


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=3000, help="documents per language (default 3000)")
    ap.add_argument("--shard-rows", type=int, default=500, help="documents per shard of our corpora")
    ap.add_argument("--repeat", type=int, default=3, help="passes of our score call (median counted)")
    ap.add_argument("--rss-scale", type=int, default=4, help="the larger corpus of the memory check, x --docs")
    ap.add_argument("--workdir", default=str(ROOT / "bench_out" / "quality"))
    ap.add_argument("--datatrove-python", default=None)
    ap.add_argument("--make-datatrove-venv", action="store_true")
    ap.add_argument("--skip", action="append", default=[],
                    choices=["datatrove", "exec", "cmn", "cli", "rss"], help="leave out a part (repeatable)")
    ap.add_argument("--profile", action="store_true", help="print where our score call's time goes, per language")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    ap.add_argument("--_call", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._call:
        ours_call_child(args._call[0], int(args._call[1]), int(args._call[2]))
        return 0

    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    py = sys.executable
    dp = [py, "-m", "dataprep"]
    pool, real = pools()
    docs = {lang: replicate(pool[lang], args.docs, lang) for lang in LANGS}
    info = {"docs_per_language": args.docs, "shard_rows": args.shard_rows, "load_avg_start": os.getloadavg(),
            "distinct": {lang: len(pool[lang]) for lang in LANGS}, "real_pages": real,
            "chars": {lang: sum(len(d["text"]) for d in docs[lang]) for lang in LANGS}}
    origin = (f"sample_data and real pages ({real['en']} en, {real['zh']} zh)" if SEEDS.is_dir()
              else f"sample_data only ({SEEDS} absent)")
    print(f"documents per language: {args.docs:,}, cycled from {len(pool['en'])} English and {len(pool['zh'])} "
          f"Chinese distinct ones: {origin}")
    for lang in LANGS:
        print(f"  {lang}: {info['chars'][lang] / args.docs:,.0f} characters per document on average")
        write_jsonl(work / f"{lang}.jsonl", docs[lang])
        half = -(-args.docs // 2)
        for k in range(2):  # datatrove's input: 2 files, one per task
            write_jsonl(work / "dt_in" / lang / f"part-{k}.jsonl", docs[lang][k * half:(k + 1) * half])
        ingest(dp, [work / f"{lang}.jsonl"], work / f"corpus-{lang}", args.shard_rows)

    res: dict = {"setup": info, "ours": {}, "datatrove": {}, "rss_check": {}}
    one_thread = {**os.environ, "POLARS_MAX_THREADS": "1"}
    real_ids = {lang: {d["id"] for d in docs[lang] if d["source"] == "real"} for lang in LANGS}

    def real_kept(lang: str, ids: list[str]) -> int:
        return len(real_ids[lang].intersection(ids))

    for lang in LANGS:
        r = run_measured([py, __file__, "--_call", str(work / f"corpus-{lang}"), str(args.repeat), "0"], env=one_thread)
        d = last_json(r["stdout"])
        res["ours"].setdefault(lang, {})["call"] = {
            "docs": d["docs"], "seconds": d["seconds"], "cpu_s": d["cpu_s"], "passes": d["passes"], "kept": d["kept"],
            "real_kept": real_kept(lang, d["kept_ids"]), "rss_tree": r["peak_tree_rss"], "rss_proc": r["peak_proc_rss"]}
        if "cli" not in args.skip:
            for w in (1, 2):
                res["ours"][lang][f"cli w{w}"] = run_cli(dp, work / f"corpus-{lang}", work / f"q-{lang}-w{w}", w)

    dt = None if "datatrove" in args.skip else ensure_datatrove(args.datatrove_python, args.make_datatrove_venv)
    if dt is None and "datatrove" not in args.skip:
        print("datatrove: skipped (no venv; pass --datatrove-python or --make-datatrove-venv)")
    if dt:
        (work / "dt_loop.py").write_text(DATATROVE_LOOP)
        (work / "dt_exec.py").write_text(DATATROVE_EXEC)
        versions = subprocess.run([dt, "-c", "from importlib.metadata import version as v; "
                                   "print(*(v(p) for p in ('datatrove', 'spacy', 'jieba')))"],
                                  capture_output=True, text=True).stdout.split()
        res["setup"]["datatrove"] = {"python": dt, **dict(zip(("datatrove", "spacy", "jieba"), versions))}
        print("datatrove venv: " + ", ".join(f"{k} {v}" for k, v in zip(("datatrove", "spacy", "jieba"), versions)))
        for lang in LANGS:
            variants = [("loop", "default")] + ([("loop cmn", "cmn_Hani")] if lang == "zh" and "cmn" not in args.skip
                                                 else [])
            for name, language in variants:
                try:
                    r = run_measured([dt, str(work / "dt_loop.py"), str(work / "dt_in" / lang), language], env=dt_env())
                except SystemExit as e:
                    print(f"datatrove {name} {lang}: failed ({e})")
                    continue
                d = last_json(r["stdout"])
                res["datatrove"].setdefault(lang, {})[name] = {
                    "docs": d["docs"], "seconds": d["seconds"], "cpu_s": d["cpu_s"], "kept": d["kept"],
                    "real_kept": real_kept(lang, d["kept_ids"]), "reasons": d["reasons"],
                    "rss_tree": r["peak_tree_rss"], "rss_proc": r["peak_proc_rss"]}
            if "exec" in args.skip:
                continue
            for t in (1, 2):
                out = work / f"dt-{lang}-t{t}"
                try:
                    r = run_measured([dt, str(work / "dt_exec.py"), str(work / "dt_in" / lang), str(out), str(t)],
                                     env=dt_env())
                except SystemExit as e:
                    print(f"datatrove exec {lang} t{t}: failed ({e})")
                    continue
                res["datatrove"].setdefault(lang, {})[f"exec t{t}"] = {
                    "docs": args.docs, "seconds": r["wall_s"], "kept": count_jsonl_gz(out / "out"),
                    "rss_tree": r["peak_tree_rss"], "rss_proc": r["peak_proc_rss"]}

    if "rss" not in args.skip:  # same shard size, 1x and Nx the shards: peak RSS should not move
        for scale in (1, args.rss_scale):
            inputs = []
            for lang in LANGS:
                p = work / "rss" / f"{lang}-x{scale}.jsonl"
                write_jsonl(p, replicate(pool[lang], args.docs * scale, lang))
                inputs.append(p)
            corpus = work / "rss" / f"corpus-x{scale}"
            ingest(dp, inputs, corpus, args.shard_rows)
            shards = len(json.loads((corpus / "manifest.json").read_text())["shards"])
            r = run_cli(dp, corpus, work / "rss" / f"q-x{scale}", 2)
            r["shards"] = shards
            res["rss_check"][f"x{scale}"] = r
            shutil.rmtree(work / "rss" / f"q-x{scale}", ignore_errors=True)

    a, b = res["ours"].get("en", {}).get("call"), res["datatrove"].get("en", {}).get("loop")
    en_ratio = b["seconds"] / a["seconds"] if a and b else None  # same documents: the docs/s ratio
    if args.profile or (en_ratio is not None and en_ratio < TARGET):
        if en_ratio is not None and en_ratio < TARGET:
            print(f"\nbelow the {TARGET:.0f}x target on English ({en_ratio:.1f}x): where the score call's time goes")
        res["profile"] = {}
        for lang in LANGS:  # Chinese too: more time per character than English
            r = run_measured([py, __file__, "--_call", str(work / f"corpus-{lang}"), "1", "25"], env=one_thread)
            res["profile"][lang] = last_json(r["stdout"])["profile"]
            print(f"\n=== profile, {lang} ===\n{res['profile'][lang]}")

    # --- report -------------------------------------------------------------------------------
    print(f"\n{'language':<9}{'side':<11}{'run':<10}{'docs':>7}{'seconds':>9}{'CPU s':>8}{'docs/s':>9}{'peak RSS':>10}"
          f"{'kept':>7}{'real kept':>11}")
    for lang in LANGS:
        for side in ("ours", "datatrove"):
            for run, d in res[side].get(lang, {}).items():
                d["docs_per_s"] = d["docs"] / d["seconds"]
                rk = f"{d['real_kept']}/{len(real_ids[lang])}" if "real_kept" in d and real_ids[lang] else ""
                cpu = f"{d['cpu_s']:.2f}" if "cpu_s" in d else ""
                print(f"{lang:<9}{side:<11}{run:<10}{d['docs']:>7,}{d['seconds']:>9.2f}{cpu:>8}{d['docs_per_s']:>9,.0f}"
                      f"{mb(d['rss_tree']):>10}{d['kept']:>7,}{rk:>11}")
    res["ratios"] = {}
    pairs = [("call", "loop"), ("cli w1", "exec t1"), ("cli w2", "exec t2"), ("call", "loop cmn")]
    print()
    for lang in LANGS:
        for ours, theirs in pairs:
            a, b = res["ours"].get(lang, {}).get(ours), res["datatrove"].get(lang, {}).get(theirs)
            if a and b:
                ratio = a["docs_per_s"] / b["docs_per_s"]
                res["ratios"][f"{lang}: {ours} / {theirs}"] = ratio
                line = f"{lang}: ours {ours} / datatrove {theirs}: {ratio:.1f}x"
                if "cpu_s" in a and "cpu_s" in b:
                    res["ratios"][f"{lang}: {ours} / {theirs}, CPU"] = cpu_ratio = b["cpu_s"] / a["cpu_s"]
                    line += f" (CPU time: {cpu_ratio:.1f}x)"
                print(line)
    if en_ratio is not None:
        print(f"target >= {TARGET:.0f}x datatrove on English (call / loop): "
              f"{'met' if en_ratio >= TARGET else 'NOT met'} ({en_ratio:.1f}x)"
              f"{'; the profile is above' if 'profile' in res else ''}")
    for key, r in res["rss_check"].items():
        print(f"memory check {key}: {r['docs']:,} docs in {r['shards']} shards of {args.shard_rows} rows, "
              f"CLI 2 workers: peak RSS tree {mb(r['rss_tree'])}, largest process {mb(r['rss_proc'])}, "
              f"{r['docs'] / r['seconds']:,.0f} docs/s")
    for lang in LANGS:
        for name, d in res["datatrove"].get(lang, {}).items():
            if d.get("reasons"):
                top = sorted(d["reasons"].items(), key=lambda kv: -kv[1])[:6]
                print(f"datatrove {name} {lang} rejections: " + ", ".join(f"{k} {v}" for k, v in top))

    res["setup"]["load_avg_end"] = os.getloadavg()
    print("load average (1, 5, 15 min): {} at the start, {} at the end ({} cores)".format(
        *(" ".join(f"{x:.1f}" for x in res["setup"][k]) for k in ("load_avg_start", "load_avg_end")), os.cpu_count()))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=str))
        print(f"results: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
