"""MinHash dedup throughput: the dedup stage vs datasketch's per-document path vs datatrove.

One generated corpus (~2 KB English-like documents, 20% of them near-duplicates of another made by
1% word substitutions) is ingested once; then, each in its own subprocess so peak RSS is its own:

  ours        `dataprep dedup --method minhash` at defaults (3-shingles, 128 perms, threshold 0.7, 64-bit
              `vector` shingle hash, one-permutation MinHash, exact verification), and with
              `--hash sha1 --scheme permutations` (datasketch's bit-identical signatures); both use the
              compiled kernels when built (see docs/dedup.md)
  datasketch  per document: dataprep.text.shingles (the same shingles), MinHash(num_perm=128).update_batch,
              MinHashLSH(threshold=0.7).query + insert (our defaults' shingle size and threshold)
  datatrove   its four-step MinHash pipeline (signatures, buckets, clusters, filter) with default
              MinhashConfig, run from a separate venv (--datatrove-python, or created under bench_out/
              with `pip install datatrove[processing]` when --make-datatrove-venv is given)

    python benchmarks/bench_dedup.py [--docs 100000] [--workers 2] [--datasketch-docs 100000] [--reuse]
    python benchmarks/bench_dedup.py --repeats 20000

`--repeats N` times instead every method at paragraph and sentence level (and SimHash and exact
at document level) on one document of N identical paragraphs (N identical documents for the
document level): the work must grow linearly with N.

Prints docs/s, MB/s, peak RSS (whole process tree) and index bytes per document for each, and the
ratios. datasketch runs on the first --datasketch-docs documents only (it is slow); its rate is
per document, so the ratio stays fair.
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

DATATROVE_SCRIPT = r'''
import sys, time
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                              MinhashDedupFilter, MinhashDedupSignature)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
def main():
    src, work, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cfg = MinhashConfig()
    t0 = time.perf_counter()
    LocalPipelineExecutor(pipeline=[JsonlReader(src), MinhashDedupSignature(output_folder=f"{work}/sigs", config=cfg)],
                          tasks=workers, workers=workers, logging_dir=f"{work}/logs/1").run()
    LocalPipelineExecutor(pipeline=[MinhashDedupBuckets(input_folder=f"{work}/sigs", output_folder=f"{work}/buckets",
                                                        config=cfg)],
                          tasks=cfg.num_buckets, workers=workers, logging_dir=f"{work}/logs/2").run()
    LocalPipelineExecutor(pipeline=[MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/ids",
                                                        config=cfg)],
                          tasks=1, logging_dir=f"{work}/logs/3").run()
    LocalPipelineExecutor(pipeline=[JsonlReader(src), MinhashDedupFilter(input_folder=f"{work}/ids"),
                                    JsonlWriter(f"{work}/out")],
                          tasks=workers, workers=workers, logging_dir=f"{work}/logs/4").run()
    print("seconds", time.perf_counter() - t0)


if __name__ == "__main__":  # workers are started with spawn/forkserver
    main()
'''


def generate(path: Path, n: int, seed: int = 11) -> int:
    """n documents of ~2 KB; 20% are near-duplicates (1% of words replaced, Jaccard ~0.9) of an earlier original."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
             for _ in range(30000)]
    weights = [1 / (i + 1) for i in range(len(vocab))]  # Zipf-like word frequencies
    originals: list[list[str]] = []
    size = 0
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            if originals and rng.random() < 0.2:
                words = list(rng.choice(originals))
                for j in rng.sample(range(len(words)), len(words) // 100):
                    words[j] = rng.choice(vocab)
            else:
                words = rng.choices(vocab, weights, k=rng.randint(300, 380))
                if len(originals) < 20000:
                    originals.append(words)
                else:
                    originals[rng.randrange(len(originals))] = words
            text = "\n\n".join(" ".join(words[k:k + 60]) for k in range(0, len(words), 60))
            line = json.dumps({"id": f"d{i:08d}", "text": text}) + "\n"
            size += len(text.encode())
            f.write(line)
    return size


REPEATED = "The same paragraph about rivers and their deltas, repeated many times over."
REPEAT_RUNS = [("exact", "paragraph"), ("exact", "sentence"), ("minhash", "paragraph"), ("minhash", "sentence"),
               ("simhash", "paragraph"), ("simhash", "sentence"), ("exact", "document"), ("minhash", "document"),
               ("simhash", "document")]


def repeats(n: int, work: Path, workers: int) -> int:
    """Seconds of `dataprep dedup` (the whole command) for each method and level on one document of
    n identical paragraphs (one sentence each), or on n identical documents for level document."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    dp = [sys.executable, "-m", "dataprep"]
    sources = {"one": [{"id": "one", "text": "\n".join([REPEATED] * n) + "\nA different last line."}],
               "many": [{"id": f"d{i:08d}", "text": REPEATED} for i in range(n)]}
    for name, records in sources.items():
        (work / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        subprocess.run([*dp, "ingest", "--input", str(work / f"{name}.jsonl"), "--output", str(work / name),
                        "--workers", str(workers), "--quiet"], check=True, capture_output=True)
    print(f"{n:,} identical paragraphs in one document (identical documents for level document), {workers} workers;"
          f" seconds of the stage (manifest wall_time_s) and of the whole command")
    print(f"{'method':<9}{'level':<11}{'stage s':>9}{'command s':>11}")
    for method, level in REPEAT_RUNS:
        out = work / f"{method}-{level}"
        r = run_measured([*dp, "dedup", "--input", str(work / ("many" if level == "document" else "one")),
                          "--output", str(out), "--method", method, "--level", level, "--workers", str(workers),
                          "--quiet"])
        man = json.loads((out / "manifest.json").read_text())
        print(f"{method:<9}{level:<11}{man['wall_time_s']:>9.2f}{r['wall_s']:>11.2f}   kept {man['rows_kept']} "
              f"of {man['rows_in']:,} documents")
    return 0


def datasketch_child(ingested: str, limit: int) -> None:
    import psutil
    import pyarrow.parquet as pq
    from datasketch import MinHash, MinHashLSH

    from dataprep import text as T
    from dataprep.corpus import Corpus
    from dataprep.stages.dedup import DedupConfig

    cfg = DedupConfig()
    corpus = Corpus.open(ingested)
    rss0 = psutil.Process().memory_info().rss
    lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm)
    done = dups = nbytes = 0
    t0 = time.perf_counter()
    for shard in corpus.shard_paths:
        table = pq.read_table(shard, columns=["id", "text"])
        for doc_id, text in zip(table["id"].to_pylist(), table["text"].to_pylist()):
            m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed)
            m.update_batch([s.encode("utf-8") for s in T.shingles(text, cfg.ngram)])
            dups += bool(lsh.query(m))
            lsh.insert(doc_id, m)
            done += 1
            nbytes += len(text.encode())
            if done >= limit:
                break
        if done >= limit:
            break
    wall = time.perf_counter() - t0
    rss1 = psutil.Process().memory_info().rss
    print(json.dumps({"docs": done, "bytes": nbytes, "seconds": wall, "dups": dups,
                      "index_bytes_per_doc": (rss1 - rss0) / max(done, 1)}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--datasketch-docs", type=int, default=100_000)
    ap.add_argument("--workdir", default=str(ROOT / "bench_out" / "dedup"))
    ap.add_argument("--datatrove-python", default=None)
    ap.add_argument("--make-datatrove-venv", action="store_true")
    ap.add_argument("--skip", action="append", default=[], choices=["datasketch", "datatrove", "sha1"])
    ap.add_argument("--reuse", action="store_true",
                    help="keep the corpus already generated and ingested in --workdir (same --docs)")
    ap.add_argument("--repeats", type=int, default=None, metavar="N",
                    help="time one document of N identical paragraphs instead (see above)")
    ap.add_argument("--_datasketch", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._datasketch:
        datasketch_child(args._datasketch[0], int(args._datasketch[1]))
        return 0
    if args.repeats:
        return repeats(args.repeats, Path(args.workdir) / "repeats", args.workers)

    work = Path(args.workdir)
    src = work / "corpus.jsonl"
    py = sys.executable
    dp = [py, "-m", "dataprep"]
    size = prepare_corpus(work, args.docs, args.reuse, generate, args.workers)

    rows = []
    for name, extra in [("ours (defaults)", []), ("ours (sha1, as datasketch)", ["--hash", "sha1", "--scheme",
                                                                               "permutations"])]:
        if "sha1" in args.skip and "sha1" in name:
            continue
        out = work / ("near-" + ("sha1" if extra else "defaults"))
        r = run_measured([*dp, "dedup", "--input", str(work / "ingested"), "--output", str(out),
                          "--method", "minhash", "--workers", str(args.workers), "--quiet", *extra])
        man = json.loads((out / "manifest.json").read_text())
        rows.append((name, args.docs, size, r["wall_s"], r["peak_tree_rss"], man["dedup"]["index_bytes_per_item"],
                     man["rows_rejected"]))

    if "datasketch" not in args.skip:
        limit = min(args.datasketch_docs, args.docs)
        r = run_measured([py, __file__, "--_datasketch", str(work / "ingested"), str(limit)])
        d = json.loads(r["stdout"].strip().splitlines()[-1])
        rows.append(("datasketch per-doc", d["docs"], d["bytes"], d["seconds"], r["peak_tree_rss"],
                     d["index_bytes_per_doc"], d["dups"]))

    if "datatrove" not in args.skip:
        dt = ensure_datatrove(ROOT, args.datatrove_python, args.make_datatrove_venv)
        if dt is None:
            print("datatrove: skipped (no venv; pass --datatrove-python or --make-datatrove-venv)")
        else:
            script = work / "datatrove_minhash.py"
            script.write_text(DATATROVE_SCRIPT)
            dsrc = work / "dt_in"
            dsrc.mkdir()
            with open(src, encoding="utf-8") as f:  # one file per worker: datatrove splits work by file
                lines = f.readlines()
            per = -(-len(lines) // args.workers)
            for k in range(args.workers):
                (dsrc / f"part-{k}.jsonl").write_text("".join(lines[k * per:(k + 1) * per]), encoding="utf-8")
            del lines
            try:
                r = run_measured([dt, str(script), str(dsrc), str(work / "datatrove"), str(args.workers)])
                rows.append(("datatrove default", args.docs, size, r["wall_s"], r["peak_tree_rss"],
                             float("nan"), None))
            except SystemExit as e:
                print(f"datatrove: failed ({e})")

    print(f"\n{'pipeline':<28}{'docs':>10}{'docs/s':>10}{'MB/s':>8}{'peak RSS':>11}{'index B/doc':>13}{'dups':>8}")
    for name, n, nbytes, wall, rss, ib, dups in rows:
        print(f"{name:<28}{n:>10,}{n / wall:>10,.0f}{nbytes / wall / 1e6:>8.2f}{mb(rss):>11}{ib:>13,.0f}"
              f"{'' if dups is None else f'{dups:,}':>8}")
    rate = {name: n / wall for name, n, _, wall, *_ in rows}
    for ours in ("ours (defaults)", "ours (sha1, as datasketch)"):
        for other in ("datasketch per-doc", "datatrove default"):
            if ours in rate and other in rate:
                print(f"{ours} / {other}: {rate[ours] / rate[other]:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
