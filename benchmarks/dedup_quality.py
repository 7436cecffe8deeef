"""Near-duplicate detection quality of the dedup stage, measured on planted pairs.

Base documents (~2 KB) are generated from the English and Chinese vocabulary of sample_data/ and
also taken from sample_data/ itself; each gets one variant made by a controlled edit:

  word_sub    replace a share of the units (words; characters for Chinese) with other units
  char_sub    replace a share of the characters inside words (Chinese: same as word_sub)
  boilerplate insert boilerplate lines amounting to a share of the length, at the top and bottom
  reorder     move a share of the paragraphs to other places
  truncate    cut a share of the text off the end

Each corpus (one per language) holds every base, every variant and unrelated distractors, and runs
through the real stage (ingest + dedup) at default settings, once with MinHash and once with SimHash.
A pair counts as a true near-duplicate when its exact 5-shingle Jaccard (dataprep.text.shingles) is
>= 0.8. Recall = true planted pairs that end in one cluster / true planted pairs; precision = pairs
in predicted clusters whose Jaccard is >= 0.8 / all pairs in predicted clusters (every pair of a
cluster counts, so chaining unrelated documents is penalised).

    python benchmarks/dedup_quality.py [--pairs 40] [--seed 7] [--workdir bench_out/dedup_quality]

`mh-fast` is MinHash with the fast settings (hash: vector, scheme: one-permutation).
Targets (MinHash, default settings): recall >= 0.95 and precision >= 0.99 on pairs with
Jaccard >= 0.8; Chinese recall within 2 points of English.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import pyarrow.parquet as pq  # noqa: E402

from dataprep import text as T  # noqa: E402
from dataprep.runner import parse_pipeline, run_pipeline  # noqa: E402

METHODS = {"minhash": {"method": "minhash"},  # defaults: datasketch-identical signatures
           "mh-fast": {"method": "minhash", "hash": "vector", "scheme": "one-permutation"},
           "simhash": {"method": "simhash"}}
EDITS = ["word_sub", "char_sub", "boilerplate", "reorder", "truncate"]
RATES = [0.02, 0.05, 0.1, 0.2, 0.3]
THRESHOLD = 0.8
BOILER = {
    "en": ["Subscribe to our newsletter for the latest stories.", "Share this article on social media.",
           "Advertisement. Continue reading below.", "Copyright 2026 All rights reserved.",
           "Related: more stories from this section.", "Cookies help us deliver our services."],
    "zh": ["欢迎关注我们的公众号获取最新资讯。", "本文仅代表作者观点，不代表本站立场。", "广告：点击了解更多优惠活动。",
           "版权所有，未经授权不得转载。", "相关阅读：更多精彩内容请点击这里。", "责任编辑：小编"],
}


def sample_texts(lang: str) -> list[str]:
    """sample_data documents of this language that are long enough and in no planted cluster."""
    truth = json.loads((ROOT / "sample_data" / "truth.json").read_text(encoding="utf-8"))
    clustered = {m for c in truth["duplicate_clusters"] for m in c["members"]}
    out = []
    for path in sorted((ROOT / "sample_data" / "raw").glob("web-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            t = row["text"]
            if row["id"] in clustered or len(t) < 400 or len(t) > 20000:
                continue
            if (lang == "zh") == (T.cjk_share(t) > 0.5) and (lang == "zh" or re.search(r"[A-Za-z]{3}", t)):
                out.append(t)
    return out


class Generator:
    """Random ~2 KB documents from a language's unit vocabulary (unigram frequencies of sample_data)."""

    def __init__(self, lang: str, corpus: list[str], rng: random.Random):
        self.lang, self.rng = lang, rng
        if lang == "zh":
            units = [c for t in corpus for c in t if "\u4e00" <= c <= "\u9fff"]
        else:
            units = [w.lower() for t in corpus for w in re.findall(r"[A-Za-z]+", t)]
        counts: dict[str, int] = defaultdict(int)
        for u in units:
            counts[u] += 1
        self.vocab = sorted(counts)
        self.weights = [counts[u] for u in self.vocab]

    def units(self, k: int) -> list[str]:
        return self.rng.choices(self.vocab, self.weights, k=k)

    def sentence(self) -> str:
        if self.lang == "zh":
            u = self.units(self.rng.randint(12, 30))
            cut = self.rng.randint(4, len(u) - 4)
            return "".join(u[:cut]) + "，" + "".join(u[cut:]) + "。"
        u = self.units(self.rng.randint(8, 20))
        return " ".join(u).capitalize() + "."

    def document(self, target_bytes: int = 2000) -> str:
        paras, size = [], 0
        while size < target_bytes:
            p = ("" if self.lang == "zh" else " ").join(self.sentence() for _ in range(self.rng.randint(2, 5)))
            paras.append(p)
            size += len(p.encode())
        return "\n\n".join(paras)


def edit(text: str, kind: str, rate: float, lang: str, gen: Generator, rng: random.Random) -> str:
    if kind == "word_sub" or (kind == "char_sub" and lang == "zh"):
        if lang == "zh":
            chars = list(text)
            pos = [i for i, c in enumerate(chars) if "\u4e00" <= c <= "\u9fff"]
            for i in rng.sample(pos, round(rate * len(pos))):
                chars[i] = gen.units(1)[0]
            return "".join(chars)
        tokens = re.split(r"(\s+)", text)
        pos = [i for i, t in enumerate(tokens) if t.strip()]
        for i in rng.sample(pos, round(rate * len(pos))):
            tokens[i] = gen.units(1)[0]
        return "".join(tokens)
    if kind == "char_sub":  # English: a share of the letters changed in place
        chars = list(text)
        pos = [i for i, c in enumerate(chars) if c.isalpha()]
        for i in rng.sample(pos, round(rate * len(pos))):
            chars[i] = rng.choice("abcdefghijklmnopqrstuvwxyz")
        return "".join(chars)
    if kind == "boilerplate":
        lines, size = [], 0
        while size < rate * len(text):
            line = rng.choice(BOILER[lang])
            lines.append(line)
            size += len(line)
        half = len(lines) // 2
        return "\n".join(lines[:half] + [text] + lines[half:])
    if kind == "reorder":
        paras = text.split("\n\n")
        for _ in range(max(1, round(rate * len(paras)))):
            p = paras.pop(rng.randrange(len(paras)))
            paras.insert(rng.randrange(len(paras) + 1), p)
        return "\n\n".join(paras)
    if kind == "truncate":
        return text[: round(len(text) * (1 - rate))]
    raise ValueError(kind)


def jaccard(a: str, b: str) -> float:
    x, y = set(T.shingles(a)), set(T.shingles(b))
    return len(x & y) / len(x | y) if x | y else 1.0


def build(lang: str, pairs: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Documents and planted pairs (with their true Jaccard) for one language."""
    rng = random.Random(f"{seed}-{lang}")
    real = sample_texts(lang)
    gen = Generator(lang, real, rng)
    docs, planted = [], []
    n = 0
    for kind in EDITS:
        for rate in RATES:
            for _ in range(pairs):
                base = gen.document()
                variant = edit(base, kind, rate, lang, gen, rng)
                a, b = f"{lang}-{n:06d}a", f"{lang}-{n:06d}b"
                docs += [{"id": a, "text": base}, {"id": b, "text": variant}]
                planted.append({"a": a, "b": b, "kind": kind, "rate": rate, "origin": "generated",
                                "jaccard": jaccard(base, variant)})
                n += 1
    for i, base in enumerate(real):  # real text: one edit each, kinds and rates taken in turn
        kind, rate = EDITS[i % len(EDITS)], RATES[(i // len(EDITS)) % len(RATES)]
        variant = edit(base, kind, rate, lang, gen, rng)
        a, b = f"{lang}-{n:06d}a", f"{lang}-{n:06d}b"
        docs += [{"id": a, "text": base}, {"id": b, "text": variant}]
        planted.append({"a": a, "b": b, "kind": kind, "rate": rate, "origin": "sample", "jaccard": jaccard(base, variant)})
        n += 1
    for i in range(pairs * 10):  # unrelated documents
        docs.append({"id": f"{lang}-x{i:06d}", "text": gen.document()})
    return docs, planted


def predicted_pairs(clusters: Path) -> set[tuple[str, str]]:
    out = set()
    for members in pq.read_table(clusters, columns=["members"])["members"].to_pylist():
        m = sorted(members)
        out.update((a, b) for i, a in enumerate(m) for b in m[i + 1:])
    return out


def prf(tp_found: int, truth: int, good_pred: int, pred: int) -> tuple[float, float, float]:
    r = tp_found / truth if truth else float("nan")
    p = good_pred / pred if pred else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=40, help="planted pairs per language, edit kind and rate")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", default=str(ROOT / "bench_out" / "dedup_quality"))
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    results = {}
    for lang in ("en", "zh"):
        docs, planted = build(lang, args.pairs, args.seed)
        texts = {d["id"]: d["text"] for d in docs}
        src = work / f"{lang}.jsonl"
        src.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
        for method, opts in METHODS.items():
            pipe, stages = parse_pipeline({"workdir": str(work / f"{lang}-{method}"), "stages": [
                {"ingest": {"paths": [str(src)]}}, {"dedup": opts}]})
            run_pipeline(pipe, stages, workers=args.workers)
            pred = predicted_pairs(work / f"{lang}-{method}" / "02-dedup" / "clusters.parquet")
            planted_set = {(p["a"], p["b"]) for p in planted}
            pred_j = {pair: next((p["jaccard"] for p in planted if (p["a"], p["b"]) == pair), None)
                      if pair in planted_set else jaccard(texts[pair[0]], texts[pair[1]]) for pair in pred}
            results[(lang, method)] = (planted, pred, pred_j)

    print(f"{'method':<8}{'lang':<5}{'rate':>6}{'pairs':>7}{'J>=0.8':>8}{'prec':>8}{'recall':>8}{'F1':>7}"
          f"{'found<0.8':>11}   (per edit kind: recall on J>=0.8)")
    summary = {}
    for (lang, method), (planted, pred, pred_j) in results.items():
        by_pair = {(p["a"], p["b"]): p for p in planted}
        for rate in RATES + ["all"]:
            rows = [p for p in planted if rate == "all" or p["rate"] == rate]
            true = [p for p in rows if p["jaccard"] >= THRESHOLD]
            found = [p for p in true if (p["a"], p["b"]) in pred]
            low_found = [p for p in rows if p["jaccard"] < THRESHOLD and (p["a"], p["b"]) in pred]
            ids = {x for p in rows for x in (p["a"], p["b"])}
            pred_here = [pair for pair in pred if rate == "all" or (pair in by_pair and by_pair[pair]["rate"] == rate)
                         or (pair not in by_pair and (pair[0] in ids or pair[1] in ids))]
            good = sum(1 for pair in pred_here if pred_j[pair] >= THRESHOLD)
            p, r, f = prf(len(found), len(true), good, len(pred_here))
            kinds = []
            for kind in EDITS:
                t = [x for x in true if x["kind"] == kind]
                if t:
                    kinds.append(f"{kind} {sum((x['a'], x['b']) in pred for x in t) / len(t):.2f}")
            print(f"{method:<8}{lang:<5}{rate!s:>6}{len(rows):>7}{len(true):>8}{p:>8.3f}{r:>8.3f}{f:>7.3f}"
                  f"{len(low_found):>11}   {', '.join(kinds)}")
            if rate == "all":
                summary[(lang, method)] = (p, r)
    print()
    ok = True
    for method in METHODS:
        (pe, re_), (pz, rz) = summary[("en", method)], summary[("zh", method)]
        verdict = pe >= 0.99 and pz >= 0.99 and re_ >= 0.95 and rz >= 0.95 and re_ - rz <= 0.02
        print(f"{method}: J>=0.8 pairs  en P={pe:.3f} R={re_:.3f}   zh P={pz:.3f} R={rz:.3f}   "
              f"zh recall - en recall = {rz - re_:+.3f}   targets {'met' if verdict else 'NOT met'}")
        ok &= verdict if method != "simhash" else True
    for lang in ("en", "zh"):
        planted, pred, _ = results[(lang, "simhash")]
        for cut in (0.9, 0.95):
            true = [p for p in planted if p["jaccard"] >= cut]
            hit = sum((p["a"], p["b"]) in pred for p in true)
            print(f"simhash {lang}: recall on pairs with J>={cut}: {hit / max(len(true), 1):.3f} ({hit}/{len(true)})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
