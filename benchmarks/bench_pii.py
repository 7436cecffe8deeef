"""PII redaction throughput: the pii stage vs datatrove's PIIFormatter on the same documents.

One generated corpus: web-like zh and en documents (~2 KB; paragraphs from sample_data/raw and,
where present, ../shared/data/seeds_text) with personal data planted at web-page rates (an
e-mail address in ~12% of documents, a phone number in ~15%, a public IP in ~4%, identity and card
numbers in ~2%, secrets in ~2%) and look-alikes that every document type carries (dates, prices,
version strings, order numbers, timestamps). It is ingested once; then, each in its own
subprocess:

  ours       `dataprep pii` at defaults (every type, tokens), reading the ingested corpus
  datatrove  JsonlReader -> PIIFormatter() (defaults: e-mail and public IPv4) -> JsonlWriter
             (compression=None, so it spends no time on gzip), from a separate venv
             (--datatrove-python, or created under bench_out/ when --make-datatrove-venv is given)

and, in one process each on the same texts, the detection and replacement alone: our
`find_spans_column` + redaction over the text column vs `PIIFormatter.format` per document.

    python benchmarks/bench_pii.py [--docs 200000] [--workers 2] [--repeats 2] [--reuse] [--make-datatrove-venv]

Prints docs/s, MB/s and CPU seconds (the whole process tree) for each, and the ratios by wall and by
CPU time. Both pipelines get the same number of workers; datatrove gets one input file per worker
(it splits work by file).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import ensure_datatrove, mb, prepare_corpus, run_measured  # noqa: E402

SAMPLE = ROOT / "sample_data" / "raw"
SEEDS = ROOT.parent / "shared" / "data" / "seeds_text"

DATATROVE_PIPELINE = r'''
import sys, time
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.formatters import PIIFormatter
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
def main():
    src, work, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t0 = time.perf_counter()
    LocalPipelineExecutor(pipeline=[JsonlReader(src), PIIFormatter(), JsonlWriter(f"{work}/out", compression=None)],
                          tasks=workers, workers=workers, logging_dir=f"{work}/logs").run()
    print("seconds", time.perf_counter() - t0)


if __name__ == "__main__":  # workers are started with spawn/forkserver
    main()
'''

DATATROVE_KERNEL = r'''
import json, sys, time
from datatrove.pipeline.formatters import PIIFormatter
texts = [json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8")][:int(sys.argv[2])]
fmt = PIIFormatter()
changed = 0
t0, c0 = time.perf_counter(), time.process_time()
for text in texts:
    changed += fmt.format(text) != text
print(json.dumps({"docs": len(texts), "seconds": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                  "changed": changed}))
'''


# --- the corpus ----------------------------------------------------------------------------------------


def paragraphs() -> dict[str, list[str]]:
    pool: dict[str, list[str]] = {"zh": [], "en": []}
    for lang, name in (("zh", "web-zh.jsonl"), ("en", "web-en.jsonl")):
        for line in open(SAMPLE / name, encoding="utf-8"):
            pool[lang].extend(p for p in json.loads(line)["text"].split("\n") if p.strip())
    if SEEDS.is_dir():
        for p in sorted(SEEDS.glob("*.txt")):
            text = p.read_text(encoding="utf-8")
            lang = "zh" if sum("\u4e00" <= c <= "\u9fff" for c in text) > len(text) / 4 else "en"
            pool[lang].extend(line for line in text.split("\n") if len(line.strip()) > 20)
    return pool


def luhn_complete(body: str) -> str:
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def resident_id(rng: random.Random) -> str:
    body = (rng.choice(["110105", "310104", "440305", "330106", "510107", "420106"])
            + f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}")
    s = sum(int(c) * (2 ** (17 - i) % 11) for i, c in enumerate(body))
    return body + "10X98765432"[s % 11]


def planted(rng: random.Random, lang: str) -> str:
    """One sentence with personal data or a look-alike, in the document's language."""
    zh = lang == "zh"
    r = rng.random()
    user = rng.choice(["li.wei", "zhangsan", "j.smith", "mary_k", "wang2019", "info", "hr-dept"])
    if r < 0.16:
        domain = rng.choice(["qq.com", "163.com", "gmail.com", "outlook.com", "sina.com.cn", "corp.example.cn"])
        mail = f"{user}{rng.randint(1, 99)}@{domain}"
        return f"如有疑问请发送邮件至 {mail} 联系我们。" if zh else f"For questions, write to {mail} and we will reply."
    if r < 0.36:
        phone = rng.choice([f"1{rng.choice('3589')}{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
                            f"010-{rng.randint(6000, 8999)}{rng.randint(1000, 9999)}",
                            f"+86 139 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
                            f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}"])
        return f"联系电话：{phone}，工作日9:00-18:00。" if zh else f"Call us at {phone} on weekdays."
    if r < 0.42:
        ip = f"{rng.randint(11, 99)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        return f"访问日志显示来自 {ip} 的请求。" if zh else f"The log shows requests from {ip} last night."
    if r < 0.45:
        return f"身份证号：{resident_id(rng)}。" if zh else f"ID number {resident_id(rng)} was on the form."
    if r < 0.48:
        card = luhn_complete("6222" + "".join(str(rng.randint(0, 9)) for _ in range(11)))
        return f"退款将退回银行卡 {card}。" if zh else f"The refund goes to card {card}."
    if r < 0.51:
        key = "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
        return f'aws_access_key_id = "{key}"'
    date = f"{rng.randint(2015, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return rng.choice([
        f"发布时间：{date} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}" if zh else f"Published {date}.",
        f"售价 {rng.randint(10, 9999)} 元，已售 {rng.randint(100, 99999)} 件。" if zh
        else f"Price ${rng.randint(10, 999)}.{rng.randint(0, 99):02d}, {rng.randint(100, 99999)} sold.",
        f"版本 {rng.randint(1, 12)}.{rng.randint(0, 20)}.{rng.randint(0, 99)} 更新说明" if zh
        else f"Release notes for version {rng.randint(1, 12)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}.",
        f"订单号 {rng.randint(2019, 2024)}{rng.randint(10 ** 11, 10 ** 12 - 1)}" if zh
        else f"Order number {rng.randint(2019, 2024)}{rng.randint(10 ** 11, 10 ** 12 - 1)}.",
        f"时间戳 {rng.randint(1500000000, 1700000000)}" if zh else f"timestamp {rng.randint(1500000000, 1700000000)}",
    ])


def generate(path: Path, n: int, seed: int = 7) -> int:
    """n documents of ~2 KB: 3-6 paragraphs of one language, a planted sentence in ~1 of 4 paragraphs."""
    rng = random.Random(seed)
    pool = paragraphs()
    size = 0
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            lang = "zh" if rng.random() < 0.5 else "en"
            paras = []
            for _ in range(rng.randint(3, 6)):
                p = rng.choice(pool[lang])
                if rng.random() < 0.25:
                    p += (" " if lang == "en" else "") + planted(rng, lang)
                paras.append(p)
            text = "\n".join(paras)
            size += len(text.encode())
            f.write(json.dumps({"id": f"d{i:08d}", "text": text}, ensure_ascii=False) + "\n")
    return size


# --- runs ----------------------------------------------------------------------------------------------


def ours_kernel(src: str, limit: int) -> None:
    """Detection and redaction alone, in this process: the stage's scan over a text column."""
    import pyarrow as pa

    from dataprep.stages.pii import PiiConfig, PiiStage, redact

    texts = [json.loads(line)["text"] for line in open(src, encoding="utf-8")][:limit]
    column = pa.array(texts, pa.large_string())
    stage = PiiStage(PiiConfig())
    t0, c0 = time.perf_counter(), time.process_time()
    rows, docs, found = stage.scan(column)
    changed = [redact(doc, spans, [stage.token(sp) for sp in spans]) for doc, spans in zip(docs, found) if spans]
    print(json.dumps({"docs": len(texts), "seconds": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                      "changed": len(changed)}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--kernel-docs", type=int, default=50_000, help="documents for the in-process comparison")
    ap.add_argument("--workdir", default=str(ROOT / "bench_out" / "pii"))
    ap.add_argument("--datatrove-python", default=None)
    ap.add_argument("--make-datatrove-venv", action="store_true")
    ap.add_argument("--skip", action="append", default=[], choices=["datatrove", "kernel"])
    ap.add_argument("--reuse", action="store_true", help="keep the corpus already generated and ingested in --workdir")
    ap.add_argument("--repeats", type=int, default=1,
                    help="run each command this many times and keep the best wall and CPU time (a busy machine)")
    ap.add_argument("--_kernel", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._kernel:
        ours_kernel(args._kernel[0], int(args._kernel[1]))
        return 0

    work = Path(args.workdir)
    src = work / "corpus.jsonl"
    py = sys.executable
    dp = [py, "-m", "dataprep"]
    size = prepare_corpus(work, args.docs, args.reuse, generate, args.workers)

    def best(cmd: list[str], before=None) -> dict:
        runs = []
        for _ in range(max(args.repeats, 1)):
            if before:
                before()
            runs.append(run_measured(cmd))
        return {**runs[-1], "wall_s": min(r["wall_s"] for r in runs), "cpu_s": min(r["cpu_s"] for r in runs),
                "peak_tree_rss": max(r["peak_tree_rss"] for r in runs)}

    rows = []
    out = work / "ours"
    r = best([*dp, "pii", "--input", str(work / "ingested"), "--output", str(out), "--workers", str(args.workers),
              "--quiet"], before=lambda: shutil.rmtree(out, ignore_errors=True))
    man = json.loads((out / "manifest.json").read_text())
    rows.append(("ours (pii stage)", args.docs, size, r["wall_s"], r["cpu_s"], r["peak_tree_rss"],
                 man["pii"]["docs_with_pii"]))
    found = ", ".join(f"{k} {v:,}" for k, v in man["pii"]["found"].items())
    print(f"ours: the stage's own time (manifest wall_time_s, last run) {man['wall_time_s']:.1f} s; found {found}")

    dt = None if "datatrove" in args.skip else ensure_datatrove(ROOT, args.datatrove_python, args.make_datatrove_venv)
    if "datatrove" not in args.skip and dt is None:
        print("datatrove: skipped (no venv; pass --datatrove-python or --make-datatrove-venv)")
    if dt is not None:
        script = work / "datatrove_pii.py"
        script.write_text(DATATROVE_PIPELINE)
        dsrc = work / "dt_in"
        shutil.rmtree(dsrc, ignore_errors=True)
        dsrc.mkdir()
        with open(src, encoding="utf-8") as f:  # one file per worker: datatrove splits work by file
            lines = f.readlines()
        per = -(-len(lines) // args.workers)
        for k in range(args.workers):
            (dsrc / f"part-{k}.jsonl").write_text("".join(lines[k * per:(k + 1) * per]), encoding="utf-8")
        del lines
        r = best([dt, str(script), str(dsrc), str(work / "datatrove"), str(args.workers)],
                 before=lambda: shutil.rmtree(work / "datatrove", ignore_errors=True))
        rows.append(("datatrove PIIFormatter", args.docs, size, r["wall_s"], r["cpu_s"], r["peak_tree_rss"], None))

    print(f"\n{'pipeline':<26}{'docs':>10}{'docs/s':>10}{'MB/s':>8}{'CPU s':>8}{'docs/CPU s':>12}{'peak RSS':>11}"
          f"{'changed':>10}")
    for name, n, nbytes, wall, cpu, rss, changed in rows:
        print(f"{name:<26}{n:>10,}{n / wall:>10,.0f}{nbytes / wall / 1e6:>8.2f}{cpu:>8.1f}{n / max(cpu, 1e-9):>12,.0f}"
              f"{mb(rss):>11}{'' if changed is None else f'{changed:,}':>10}")
    if len(rows) == 2:
        print(f"ours / datatrove, whole commands with {args.workers} workers: {rows[1][3] / rows[0][3]:.1f}x by wall "
              f"time, {rows[1][4] / rows[0][4]:.1f}x by CPU time")

    if "kernel" not in args.skip:
        limit = min(args.kernel_docs, args.docs)
        k_ours = json.loads(subprocess.run([py, __file__, "--_kernel", str(src), str(limit)], check=True,
                                           capture_output=True, text=True).stdout.strip().splitlines()[-1])
        line = (f"\nin one process, detection + replacement only, first {limit:,} documents (docs/s of wall time, "
                f"of CPU time):\n  ours       {k_ours['docs'] / k_ours['seconds']:>10,.0f} "
                f"{k_ours['docs'] / k_ours['cpu_s']:>10,.0f}  ({k_ours['changed']:,} changed)")
        if dt is not None:
            kscript = work / "datatrove_kernel.py"
            kscript.write_text(DATATROVE_KERNEL)
            k_dt = json.loads(subprocess.run([dt, str(kscript), str(src), str(limit)], check=True, capture_output=True,
                                             text=True).stdout.strip().splitlines()[-1])
            line += (f"\n  datatrove  {k_dt['docs'] / k_dt['seconds']:>10,.0f} {k_dt['docs'] / k_dt['cpu_s']:>10,.0f}"
                     f"  ({k_dt['changed']:,} changed)\n  ours / datatrove: {k_dt['seconds'] / k_ours['seconds']:.1f}x "
                     f"by wall time, {k_dt['cpu_s'] / k_ours['cpu_s']:.1f}x by CPU time")
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
