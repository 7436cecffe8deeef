"""Ingest throughput and memory on a generated JSONL file, side by side with polars.read_ndjson.

    python benchmarks/bench_ingest.py                 # 1 GB file, all cores
    python benchmarks/bench_ingest.py --size-mb 200   # quicker

The file is generated once (deterministically) under --data-dir and reused. Each side runs in its
own subprocess so peak RSS (sampled over the whole process tree, workers included) is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import mb, run_measured  # noqa: E402

EN = ("the data of model text training corpus web page quality filter language token rule document each "
      "with from into over under after before between large small fast clean raw final first second").split()
ZH = list("数据模型训练语料网页质量过滤语言规则文档每个大小快慢干净原始最终第一第二中文英文句子段落")


def generate(path: Path, size_mb: int, seed: int = 0) -> None:
    """~2 KB documents, 2/3 English-like and 1/3 Chinese-like, with url and source metadata."""
    rng = random.Random(seed)
    target = size_mb * 1_000_000
    tmp = path.with_suffix(".partial")
    written = i = 0
    with open(tmp, "w", encoding="utf-8") as f:
        while written < target:
            if i % 3 == 2:
                text = "\n".join("".join(rng.choices(ZH, k=rng.randint(60, 200))) + "。" for _ in range(3))
            else:
                text = "\n".join(" ".join(rng.choices(EN, k=rng.randint(80, 140))) + "." for _ in range(3))
            line = json.dumps({"id": f"doc-{i}", "text": text, "url": f"https://site{i % 97}.example/p/{i}",
                               "source": "bench"}, ensure_ascii=False) + "\n"
            f.write(line)
            written += len(line.encode())
            i += 1
    os.replace(tmp, path)


POLARS = "import polars as pl, sys; df = pl.read_ndjson(sys.argv[1]); print(df.height)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--data-dir", default="bench_out/ingest")
    args = ap.parse_args()

    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    src = data_dir / f"input-{args.size_mb}mb.jsonl"
    if not src.exists():
        print(f"generating {src} ...", file=sys.stderr)
        generate(src, args.size_mb)
    size = src.stat().st_size
    out = data_dir / "out"
    shutil.rmtree(out, ignore_errors=True)

    ours = run_measured([sys.executable, "-m", "dataprep", "ingest", "-i", str(src), "-o", str(out), "-q",
                         "--workers", str(args.workers)])
    docs = json.loads((out / "manifest.json").read_text())["rows_kept"]
    ref = run_measured([sys.executable, "-c", POLARS, str(src)])
    assert int(ref["stdout"].strip()) == docs, "polars and dataprep disagree on the number of documents"
    shutil.rmtree(out, ignore_errors=True)

    print(f"input: {src} ({mb(size)}, {docs:,} docs), workers={args.workers}")
    print(f"{'':26}{'docs/s':>12}{'MB/s':>10}{'wall s':>9}{'peak RSS (tree)':>17}{'peak RSS (1 proc)':>19}")
    for name, r in [("dataprep ingest", ours), ("polars.read_ndjson", ref)]:
        print(f"{name:26}{docs / r['wall_s']:>12,.0f}{size / 1e6 / r['wall_s']:>10,.1f}{r['wall_s']:>9.1f}"
              f"{mb(r['peak_tree_rss']):>17}{mb(r['peak_proc_rss']):>19}")
    print(f"ratio dataprep/polars throughput: {ref['wall_s'] / ours['wall_s']:.2f}")


if __name__ == "__main__":
    main()
