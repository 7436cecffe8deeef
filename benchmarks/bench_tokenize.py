"""Tokenisation throughput and memory: the tokenize stage vs bare `Tokenizer.encode_batch` on the
same texts in the same run (encode_batch_fast, as the stage calls), vs datatrove's DocumentTokenizer where it is installed, and the stage's
peak RSS on a corpus and on one 4x larger (it should stay flat).

    python benchmarks/bench_tokenize.py [--docs 40000] [--tokenizer PATH] [--workers 2] [--shard-tokens N]
        [--datatrove-python PATH]
    python benchmarks/bench_tokenize.py --training [--bare]

The corpus is generated (~2 KB documents, half English-like, half Chinese-like). The tokenizer
defaults to ../shared/data/tokenizers/allenai_gpt-neox-olmo-dolma-v1_5.json when present, else a
byte-level BPE trained here on the generated text. Our stage writes Megatron .bin/.idx; its time
includes reading Parquet, encoding, the global shuffle and writing the shards. Its peak RSS is also
measured with output shards 4x larger on the same corpus (it should not grow: the shards are
streamed to their files).

``--training`` times `dataprep tokenizer train` instead, for each preset, on 300 ordinary documents
plus one unbroken document (random letters, or CJK characters, no spaces) of N and of 4N characters
(the 4N ones are 1 MB of UTF-8); the time should follow the input (ratio ~4 or less, not 16).
``--bare`` adds the bare byte-level BPE trainer fed the same texts uncut, at shorter runs.
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
from _measure import mb, run_measured  # noqa: E402

DEFAULT_TOKENIZER = ROOT.parent / "shared" / "data" / "tokenizers" / "allenai_gpt-neox-olmo-dolma-v1_5.json"

DATATROVE_SCRIPT = r'''
import sys, time
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.tokens import DocumentTokenizer
def main():
    src, work, tok, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    t0 = time.perf_counter()
    LocalPipelineExecutor(pipeline=[JsonlReader(src), DocumentTokenizer(output_folder=f"{work}/out",
                          tokenizer_name_or_path=tok, eos_token="<|endoftext|>", shuffle_documents=False)],
                          tasks=workers, workers=workers, logging_dir=f"{work}/logs").run()
    print("seconds", time.perf_counter() - t0)


if __name__ == "__main__":
    main()
'''


def generate(path: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    words = ["".join(rng.choice("etaoinshrdlucmfwypvbgkjqxz") for _ in range(rng.randint(1, 9))) for _ in range(20000)]
    han = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            if i % 2:
                text = " ".join(rng.choices(words, k=330))
            else:
                text = "".join(rng.choice(han) + ("，" if rng.random() < 0.05 else "") for _ in range(650))
            f.write(json.dumps({"id": f"d{i:08d}", "text": text}, ensure_ascii=False) + "\n")


def bare_child(corpus: str, tokenizer: str) -> None:
    """Bare encode_batch_fast (encode_batch before tokenizers 0.20) over the corpus texts (read
    beforehand), in one process: what the stage itself calls."""
    import pyarrow.parquet as pq
    from tokenizers import Tokenizer

    from dataprep.corpus import Corpus

    tok = Tokenizer.from_file(tokenizer)
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)
    texts = [t for p in Corpus.open(corpus).shard_paths for t in pq.read_table(p, columns=["text"])["text"].to_pylist()]
    t0 = time.perf_counter()
    n = 0
    for i in range(0, len(texts), 512):
        n += sum(len(e.ids) for e in encode(texts[i:i + 512], add_special_tokens=False))
    print(json.dumps({"seconds": time.perf_counter() - t0, "tokens": n + len(texts)}))  # + one EOS each


def training_docs(kind: str, run_chars: int) -> list[str]:
    """300 ordinary documents (English-like and Chinese-like, ~1.5 KB) with one unbroken run in the middle."""
    rng = random.Random(1)
    words = ["".join(rng.choice("etaoinshrdlucmfwypvbgkjqxz") for _ in range(rng.randint(1, 9))) for _ in range(3000)]
    han = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    docs = [" ".join(rng.choices(words, k=300)) if i % 2 else
            "，".join("".join(rng.choices(han, k=20)) for _ in range(30)) + "。" for i in range(300)]
    alphabet = "abcdefghijklmnopqrstuvwxyz" if kind == "letters" else [chr(c) for c in range(0x4E00, 0x4E00 + 6000)]
    docs.insert(150, "".join(random.Random(2).choices(alphabet, k=run_chars)))
    return docs


def bare_train_child(kind: str, run_chars: int) -> None:
    """The bare HF byte-level BPE trainer on the same texts, uncut (vocabulary 1000)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    docs = training_docs(kind, run_chars)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t0 = time.perf_counter()
    tok.train_from_iterator(docs, trainers.BpeTrainer(vocab_size=1000, show_progress=False,
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    print(json.dumps({"seconds": time.perf_counter() - t0}))


def training_bench(work: Path, bare: bool) -> int:
    dp = [sys.executable, "-m", "dataprep"]
    sizes = {"letters": (250_000, 1_000_000), "cjk": (87_500, 350_000)}  # the larger: 1 MB of UTF-8
    vocab = {"bytelevel-bpe": 1000, "baichuan2": 8000}  # baichuan2 keeps ~6,000 distinct characters
    print(f"{'preset':<15}{'run':<9}{'N chars':>10}{'s':>8}{'4N chars':>10}{'s':>8}{'ratio':>7}")
    for kind, (n, n4) in sizes.items():
        corpora = {}
        for size in (n, n4):
            src = work / f"train-{kind}-{size}.jsonl"
            src.write_text("".join(json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n"
                                   for i, t in enumerate(training_docs(kind, size))), encoding="utf-8")
            corpora[size] = work / f"train-{kind}-{size}"
            subprocess.run([*dp, "ingest", "-i", str(src), "-o", str(corpora[size]), "--quiet"], check=True,
                           stdout=subprocess.DEVNULL)
        for preset, v in vocab.items():
            secs = {}
            for size in (n, n4):
                out = work / f"tok-{kind}-{size}-{preset}"
                r = run_measured([*dp, "tokenizer", "train", "-i", str(corpora[size]), "-o", str(out),
                                  "--preset", preset, "--vocab-size", str(v)])
                secs[size] = r["wall_s"]
            print(f"{preset:<15}{kind:<9}{n:>10,}{secs[n]:>8.2f}{n4:>10,}{secs[n4]:>8.2f}{secs[n4] / secs[n]:>7.1f}")
        if bare:  # runs 5x shorter: uncut, the full-size ones take minutes
            secs = {size: json.loads(run_measured([sys.executable, __file__, "--_bare_train", kind, str(size)])
                                     ["stdout"].strip().splitlines()[-1])["seconds"] for size in (n // 5, 4 * n // 5)}
            print(f"{'bare, uncut':<15}{kind:<9}{n // 5:>10,}{secs[n // 5]:>8.2f}{4 * n // 5:>10,}"
                  f"{secs[4 * n // 5]:>8.2f}{secs[4 * n // 5] / secs[n // 5]:>7.1f}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=40_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--tokenizer", default=None)
    ap.add_argument("--workdir", default=str(ROOT / "bench_out" / "tokenize"))
    ap.add_argument("--datatrove-python", default=str(ROOT / "bench_out" / "datatrove-venv" / "bin" / "python"))
    ap.add_argument("--shard-tokens", type=int, default=10_000_000,
                    help="output shard size: memory is bounded by it, so both corpora span several shards")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of ours vs bare; best of each")
    ap.add_argument("--training", action="store_true", help="time tokenizer training on unbroken runs instead")
    ap.add_argument("--bare", action="store_true", help="with --training: also the bare trainer on uncut texts")
    ap.add_argument("--_bare", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--_bare_train", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._bare:
        bare_child(*args._bare)
        return 0
    if args._bare_train:
        bare_train_child(args._bare_train[0], int(args._bare_train[1]))
        return 0

    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if args.training:
        return training_bench(work, args.bare)
    py, dp = sys.executable, [sys.executable, "-m", "dataprep"]
    corpora = {}
    for scale in (1, 4):
        src = work / f"corpus-{scale}x.jsonl"
        generate(src, args.docs * scale, seed=scale)
        corpora[scale] = work / f"ingested-{scale}x"
        subprocess.run([*dp, "ingest", "-i", str(src), "-o", str(corpora[scale]), "--quiet",
                        "--workers", str(args.workers)], check=True)
    tokenizer = args.tokenizer or (str(DEFAULT_TOKENIZER) if DEFAULT_TOKENIZER.exists() else None)
    if tokenizer is None:
        subprocess.run([*dp, "tokenizer", "train", "-i", str(corpora[1]), "-o", str(work / "tok"),
                        "--vocab-size", "32000"], check=True, stdout=subprocess.DEVNULL)
        tokenizer = str(work / "tok" / "tokenizer.json")
    print(f"tokenizer: {tokenizer}\ncorpus: {args.docs:,} docs (and {4 * args.docs:,} for the memory check)")

    def ours(scale: int, tag: str, shard_tokens: int = args.shard_tokens) -> tuple[float, int, int, int]:
        out = work / f"out-{scale}x-{tag}"
        shutil.rmtree(out, ignore_errors=True)
        r = run_measured([*dp, "tokenize", "-i", str(corpora[scale]), "-o", str(out), "--tokenizer", tokenizer,
                          "--formats", "[megatron]", "--workers", str(args.workers), "--quiet",
                          "--shard-tokens", str(shard_tokens)])
        tokens = json.loads((out / "tokenize.json").read_text())["tokens"]
        return r["wall_s"], tokens, r["peak_tree_rss"], r["peak_proc_rss"]

    best_ours, best_bare = None, None
    for k in range(args.rounds):  # interleaved, so machine noise hits both sides alike
        res = ours(1, str(k))
        best_ours = min(best_ours or res, res)
        r = run_measured([py, __file__, "--_bare", str(corpora[1]), tokenizer])
        d = json.loads(r["stdout"].strip().splitlines()[-1])
        best_bare = min(best_bare or (d["seconds"], d["tokens"]), (d["seconds"], d["tokens"]))
    w4, n4, rss4, proc4 = ours(4, "big")
    _, _, rss_s4, proc_s4 = ours(1, "shard4x", 4 * args.shard_tokens)  # output shards 4x larger, same input

    rows = [("dataprep tokenize (end to end)", best_ours[1], best_ours[0], best_ours[2]),
            ("bare encode_batch_fast (encode)", best_bare[1], best_bare[0], None)]
    dt = Path(args.datatrove_python)
    if dt.exists():
        script = work / "datatrove_tokenize.py"
        script.write_text(DATATROVE_SCRIPT)
        dsrc = work / "dt_in"
        dsrc.mkdir()
        lines = (work / "corpus-1x.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
        per = -(-len(lines) // args.workers)
        for k in range(args.workers):
            (dsrc / f"part-{k}.jsonl").write_text("".join(lines[k * per:(k + 1) * per]), encoding="utf-8")
        try:
            r = run_measured([str(dt), str(script), str(dsrc), str(work / "datatrove"), tokenizer, str(args.workers)])
            rows.append(("datatrove DocumentTokenizer", best_ours[1], r["wall_s"], r["peak_tree_rss"]))
        except SystemExit as e:
            print(f"datatrove: failed ({e})")
    else:
        print(f"datatrove: skipped ({dt} absent; see benchmarks/bench_dedup.py --make-datatrove-venv)")

    print(f"\n{'pipeline':<34}{'tokens':>12}{'seconds':>9}{'tokens/s':>12}{'peak RSS':>11}")
    for name, n, w, rss in rows:
        print(f"{name:<34}{n:>12,}{w:>9.2f}{n / w:>12,.0f}{mb(rss) if rss else '-':>11}")
    rate = {name: n / w for name, n, w, _ in rows}
    print(f"\nstage / bare encode_batch_fast: {rate[rows[0][0]] / rate[rows[1][0]]:.2f} (target >= 0.95)")
    if "datatrove DocumentTokenizer" in rate:
        print(f"stage / datatrove: {rate[rows[0][0]] / rate['datatrove DocumentTokenizer']:.1f}x (target >= 2x)")
    print(f"peak RSS, all processes: {mb(best_ours[2])} at {args.docs:,} docs, {mb(rss4)} at {4 * args.docs:,} docs "
          f"({n4 / w4:,.0f} tokens/s at 4x)")
    print(f"peak RSS, largest process: {mb(best_ours[3])} at {args.docs:,} docs, {mb(proc4)} at {4 * args.docs:,} docs")
    print(f"peak RSS at {args.docs:,} docs, shard_tokens {args.shard_tokens:,} vs {4 * args.shard_tokens:,}: "
          f"{mb(best_ours[2])} vs {mb(rss_s4)} (all processes), {mb(best_ours[3])} vs {mb(proc_s4)} (largest process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
