"""Near-duplicate detection quality of the dedup stage, measured on planted copies.

Base documents come from three places: ~2 KB documents generated from the English and Chinese
vocabulary of sample_data/, sample_data's own documents (not its planted duplicates nor its
`repetitive` pages), and real text from the reference folder ../shared/data when it is there (the
UDHR in English and simplified Chinese, the seed web articles), cut into ~2 KB documents at line
ends. Each base gets variants made by one edit:

  word_sub    replace a share of the units (English words, Chinese characters) with other units
  char_sub    English only: replace a share of the letters inside words
  boilerplate insert boilerplate lines amounting to a share of the length, at the top and bottom
  reorder     move a share of the paragraphs to other places
  truncate    cut a share of the text off the end
  whitespace  change a share of the whitespace (spaces to line breaks, doubled spaces, ...)

Generated bases get one variant each (40 per language, edit and rate by default). A real base gets
eleven: five with 3% of its units replaced, five with 30%, and one other edit (edits and rates in
turn). Substitutions replace each unit (letter) with probability `rate`, so a short "3%" copy
may have 5% of its units replaced, as copies in the wild do.

What a pair of a base and its variant should be:

  copy     must be found: word_sub <= 3%; boilerplate, reorder, whitespace at any rate;
           truncate <= 20% (four fifths of the text kept)
  rewrite  must not be flagged: word_sub >= 30%, or char_sub touching >= 30% of the words
  grey     not scored, shown in the table: word_sub 5-20%, truncate 30%, char_sub below 30% of
           the words (letter edits change whole words: 3% of letters is ~13% of the words)

Pairs of documents from different bases (including 400 unrelated distractors per language) must
not be flagged; two variants of one real base are not scored. Each corpus (one per language) runs
through the real stage (ingest + dedup) at default settings, with MinHash, MinHash with the fast
settings (`mh-fast`: hash vector, scheme one-permutation) and SimHash. A pair is flagged when both
documents end in one cluster (every pair of a cluster counts, so chaining is penalised).
Recall = copies flagged / copies; precision = copies flagged / (copies + rewrites + unrelated pairs
flagged). `J` in the table is the mean exact shingle Jaccard at the shingle size in use.

    python benchmarks/dedup_quality.py [--pairs 40] [--seed 7] [--workdir bench_out/dedup_quality]
                                       [--set ngram=5 --set threshold=0.6 ...]

`--set KEY=VALUE` changes a dedup option for every method (to compare settings on the same pairs).

Targets (MinHash, both settings): recall >= 0.90 per language on copies with 3% of their units
replaced, recall >= 0.95 on all copies, precision >= 0.99 overall, no 30%-rewritten copy flagged.
The exit status is 0 when they are met.
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
import yaml  # noqa: E402

from dataprep import text as T  # noqa: E402
from dataprep.config import parse  # noqa: E402
from dataprep.runner import parse_pipeline, run_pipeline  # noqa: E402
from dataprep.stages.dedup import DedupConfig  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
METHODS = {"minhash": {"method": "minhash"},  # defaults: datasketch-identical signatures
           "mh-fast": {"method": "minhash", "hash": "vector", "scheme": "one-permutation"},
           "simhash": {"method": "simhash"}}
EDITS = {"en": ["word_sub", "char_sub", "boilerplate", "reorder", "truncate", "whitespace"],
         "zh": ["word_sub", "boilerplate", "reorder", "truncate", "whitespace"]}  # zh char_sub = word_sub
RATES = [0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3]
REAL_VARIANTS = 5  # copies with 3% and with 30% of the units replaced, per real base
HAN = re.compile(r"[\u4e00-\u9fff]")
BOILER = {
    "en": ["Subscribe to our newsletter for the latest stories.", "Share this article on social media.",
           "Advertisement. Continue reading below.", "Copyright 2026 All rights reserved.",
           "Related: more stories from this section.", "Cookies help us deliver our services."],
    "zh": ["欢迎关注我们的公众号获取最新资讯。", "本文仅代表作者观点，不代表本站立场。", "广告：点击了解更多优惠活动。",
           "版权所有，未经授权不得转载。", "相关阅读：更多精彩内容请点击这里。", "责任编辑：小编"],
}


def is_lang(text: str, lang: str) -> bool:
    """Chinese: most non-space characters are Han (kana or hangul texts have too few units to edit);
    English (or another language written with spaces): almost none are CJK, so its units are words."""
    if lang == "zh":
        return len(HAN.findall(text)) / max(len("".join(text.split())), 1) >= 0.5
    return T.cjk_share(text) < 0.02 and bool(re.search(r"[A-Za-z]{3}", text))


def sample_texts(lang: str) -> list[str]:
    """sample_data documents of this language that are long enough, in no planted cluster and not
    one of its `repetitive` pages (one sentence many times: its distinct shingles are those of one
    sentence, so editing 3% of its words halves its shingle Jaccard; exact dedup and quality filters
    are what catches such pages)."""
    truth = json.loads((ROOT / "sample_data" / "truth.json").read_text(encoding="utf-8"))
    skip = {m for c in truth["duplicate_clusters"] for m in c["members"]}
    skip |= {i for i, d in truth["docs"].items() if d.get("quality") == "repetitive"}
    out = []
    for path in sorted((ROOT / "sample_data" / "raw").glob("web-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            t = row["text"]
            if row["id"] not in skip and 400 <= len(t) <= 20000 and is_lang(t, lang):
                out.append(t)
    return out


def shared_texts(lang: str, target_bytes: int = 2000) -> list[str]:
    """Real text from the reference folder (empty when it is absent), cut at line ends into
    documents of about ``target_bytes``."""
    if not SHARED.exists():
        return []
    sources = []
    udhr = SHARED / "langid" / "udhr2_lines.tsv"
    if udhr.exists():
        rows = [line.split("\t") for line in udhr.read_text(encoding="utf-8").splitlines()[1:]]
        variant = "Hans" if lang == "zh" else ""
        sources.append("\n".join(r[4] for r in rows if len(r) > 4 and r[0] == lang and r[1] == variant))
    sources += [p.read_text(encoding="utf-8") for p in sorted((SHARED / "seeds_text").glob("*.txt"))]
    docs = []
    for text in sources:
        if not is_lang(text, lang):
            continue
        lines: list[str] = []
        pieces = [p for line in text.splitlines()  # a line longer than a document is cut at sentence ends
                  for p in (T.split_sentences(line) if len(line.encode()) > target_bytes else [line])]
        for line in pieces:
            lines.append(line)
            if len("\n".join(lines).encode()) >= target_bytes:
                docs.append("\n".join(lines))
                lines = []
        if len("\n".join(lines).encode()) >= target_bytes // 2:
            docs.append("\n".join(lines))
    return [d for d in docs if is_lang(d, lang)]


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


def edit(text: str, kind: str, rate: float, lang: str, gen: Generator, rng: random.Random) -> tuple[str, float]:
    """The edited text and the share of its units (words; Chinese characters) that changed. The
    substitutions replace each unit (letter) with probability ``rate``, so a "3%" copy of a short
    document may have 5% of its units replaced, as copies in the wild do."""
    if kind == "word_sub" and lang == "zh":
        chars = list(text)
        pos = [i for i, c in enumerate(chars) if "\u4e00" <= c <= "\u9fff"]
        for i in pos:
            if rng.random() < rate:
                chars[i] = gen.units(1)[0]
        return "".join(chars), changed_share(text, "".join(chars))
    if kind == "word_sub":
        tokens = re.split(r"(\s+)", text)
        pos = [i for i, t in enumerate(tokens) if t.strip()]
        for i in pos:
            if rng.random() < rate:
                tokens[i] = gen.units(1)[0]
        return "".join(tokens), changed_share(text, "".join(tokens))
    if kind == "char_sub":  # English: a share of the letters changed in place
        chars = list(text)
        pos = [i for i, c in enumerate(chars) if c.isalpha()]
        for i in pos:
            if rng.random() < rate:
                chars[i] = rng.choice("abcdefghijklmnopqrstuvwxyz")
        return "".join(chars), changed_share(text, "".join(chars))
    if kind == "boilerplate":
        lines, size = [], 0
        while size < rate * len(text):
            line = rng.choice(BOILER[lang])
            lines.append(line)
            size += len(line)
        half = len(lines) // 2
        return "\n".join(lines[:half] + [text] + lines[half:]), 0.0
    if kind == "reorder":
        paras = text.split("\n\n") if "\n\n" in text else text.split("\n")
        sep = "\n\n" if "\n\n" in text else "\n"
        for _ in range(max(1, round(rate * len(paras)))):
            p = paras.pop(rng.randrange(len(paras)))
            paras.insert(rng.randrange(len(paras) + 1), p)
        return sep.join(paras), 0.0
    if kind == "truncate":
        return text[: round(len(text) * (1 - rate))], 0.0
    if kind == "whitespace":  # English: other whitespace between words; Chinese: spaces between characters
        if lang == "zh":
            chars = list(text)
            for i in rng.sample(range(len(chars)), round(rate * len(chars))):
                chars[i] += rng.choice([" ", "\n", "\u3000"])
            return "".join(chars), 0.0
        tokens = re.split(r"(\s+)", text)
        pos = [i for i, t in enumerate(tokens) if t and not t.strip()]
        for i in rng.sample(pos, round(rate * len(pos))):
            tokens[i] = rng.choice(["  ", "\n", "\t", " \n "])
        return "".join(tokens), 0.0
    raise ValueError(kind)


def changed_share(before: str, after: str) -> float:
    """Share of unit positions (normalised words, or characters of CJK text) that differ."""
    a, b = T.units(T.normalize_for_dedup(before)), T.units(T.normalize_for_dedup(after))
    if len(a) != len(b):  # a substitution never changes the number of units; be safe anyway
        return 1.0
    return sum(x != y for x, y in zip(a, b)) / max(len(a), 1)


def truth_class(kind: str, rate: float, share: float) -> str:
    if kind == "word_sub":
        return "copy" if rate <= 0.03 else "rewrite" if rate >= 0.3 else "grey"
    if kind == "char_sub":
        return "rewrite" if share >= 0.3 else "grey"
    if kind == "truncate":
        return "copy" if rate <= 0.2 else "grey"
    return "copy"


def jaccard(a: str, b: str, n: int) -> float:
    x, y = set(T.shingles(a, n)), set(T.shingles(b, n))
    return len(x & y) / len(x | y) if x | y else 1.0


def build(lang: str, pairs: int, seed: int, ngram: int) -> tuple[list[dict], list[dict]]:
    """Documents and planted pairs (base, variant, with their ``ngram``-shingle Jaccard) for one language."""
    rng = random.Random(f"{seed}-{lang}")
    sample = sample_texts(lang)
    gen = Generator(lang, sample, rng)
    docs, planted = [], []

    def plant(base_id: str, base: str, kind: str, rate: float, origin: str, k: int) -> None:
        variant, share = edit(base, kind, rate, lang, gen, rng)
        vid = f"{base_id}v{k}"
        docs.append({"id": vid, "text": variant})
        planted.append({"a": base_id, "b": vid, "kind": kind, "rate": rate, "origin": origin,
                        "class": truth_class(kind, rate, share), "jaccard": jaccard(base, variant, ngram)})

    n = 0
    for kind in EDITS[lang]:
        for rate in RATES:
            for _ in range(pairs):
                base_id = f"{lang}-g{n:06d}"
                base = gen.document()
                docs.append({"id": base_id, "text": base})
                plant(base_id, base, kind, rate, "generated", 0)
                n += 1
    others = [(kind, rate) for kind in EDITS[lang] if kind != "word_sub" for rate in RATES]
    for origin, texts in (("sample", sample), ("shared", shared_texts(lang))):
        for i, base in enumerate(texts):  # 3% replaced, 30% replaced (REAL_VARIANTS each), one other edit
            base_id = f"{lang}-{origin[:2]}{i:05d}"
            docs.append({"id": base_id, "text": base})
            for k in range(REAL_VARIANTS):
                plant(base_id, base, "word_sub", 0.03, origin, 2 * k)
                plant(base_id, base, "word_sub", 0.3, origin, 2 * k + 1)
            plant(base_id, base, *others[i % len(others)], origin, 2 * REAL_VARIANTS)
    for i in range(pairs * 10):  # unrelated documents
        docs.append({"id": f"{lang}-x{i:06d}", "text": gen.document()})
    return docs, planted


def predicted_pairs(clusters: Path) -> set[tuple[str, str]]:
    out = set()
    for members in pq.read_table(clusters, columns=["members"])["members"].to_pylist():
        m = sorted(members)
        out.update((a, b) for i, a in enumerate(m) for b in m[i + 1:])
    return out


def base_of(doc_id: str) -> str:
    return doc_id.split("v")[0] if "v" in doc_id else doc_id


def score(planted: list[dict], pred: set[tuple[str, str]]) -> dict:
    """Counts for one language and method."""
    by_pair = {(p["a"], p["b"]): p for p in planted}
    found = {pair for pair in by_pair if pair in pred}
    wrong_unrelated = sum(1 for a, b in pred if base_of(a) != base_of(b))
    copies = [p for p in planted if p["class"] == "copy"]
    rewrites = [p for p in planted if p["class"] == "rewrite"]
    sub3 = [p for p in planted if p["kind"] == "word_sub" and p["rate"] == 0.03]
    hit = lambda ps: sum((p["a"], p["b"]) in found for p in ps)  # noqa: E731
    origins = sorted({p["origin"] for p in sub3})
    return {"copies": len(copies), "copies_found": hit(copies), "sub3": len(sub3), "sub3_found": hit(sub3),
            "sub3_by_origin": {o: (hit([p for p in sub3 if p["origin"] == o]), sum(p["origin"] == o for p in sub3))
                               for o in origins},
            "rewrites": len(rewrites), "rewrites_flagged": hit(rewrites), "unrelated_flagged": wrong_unrelated,
            "rewrite_max_j": max((p["jaccard"] for p in rewrites), default=float("nan"))}


def ratio(a: int, b: int) -> float:
    return a / b if b else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=40, help="generated pairs per language, edit kind and rate")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", default=str(ROOT / "bench_out" / "dedup_quality"))
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a dedup option for every method, e.g. ngram=5 (YAML value)")
    args = ap.parse_args()
    overrides = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    cfg = parse(DedupConfig, {"method": "minhash", **overrides})
    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    results, planted_by_lang = {}, {}
    for lang in ("en", "zh"):
        docs, planted = build(lang, args.pairs, args.seed, cfg.ngram)
        planted_by_lang[lang] = planted
        src = work / f"{lang}.jsonl"
        src.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
        origins = defaultdict(int)
        for p in planted:
            origins[p["origin"]] += 1
        print(f"{lang}: {len(docs):,} documents, planted pairs by origin: {dict(origins)}")
        for method, opts in METHODS.items():
            pipe, stages = parse_pipeline({"workdir": str(work / f"{lang}-{method}"), "stages": [
                {"ingest": {"paths": [str(src)]}}, {"dedup": {**opts, **overrides}}]})
            run_pipeline(pipe, stages, workers=args.workers)
            results[(lang, method)] = predicted_pairs(work / f"{lang}-{method}" / "02-dedup" / "clusters.parquet")
    print(f"\n{'settings' if overrides else 'defaults'}: ngram {cfg.ngram}, threshold {cfg.threshold}, "
          f"{cfg.num_perm} permutations, {'x'.join(map(str, cfg.lsh()))} bands x rows, verify {cfg.verify}; "
          f"J = mean {cfg.ngram}-shingle Jaccard")

    for method in METHODS:
        print(f"\n{method}: share of pairs flagged, by edit and rate")
        print(f"{'edit':<12}{'rate':>6}  {'class':<8}" + "".join(f"{lang + ' pairs':>10}{'J':>6}{'found':>7}"
                                                            for lang in ("en", "zh")))
        kinds = EDITS["en"] + [k for k in EDITS["zh"] if k not in EDITS["en"]]
        for kind in kinds:
            for rate in RATES:
                cells, classes = "", set()
                for lang in ("en", "zh"):
                    rows = [p for p in planted_by_lang[lang] if p["kind"] == kind and p["rate"] == rate]
                    classes |= {p["class"] for p in rows}
                    if rows:
                        hit = sum((p["a"], p["b"]) in results[(lang, method)] for p in rows)
                        cells += f"{len(rows):>10}{sum(p['jaccard'] for p in rows) / len(rows):>6.2f}" \
                                 f"{hit / len(rows):>7.3f}"
                    else:
                        cells += f"{'-':>10}{'':>6}{'':>7}"
                print(f"{kind:<12}{rate:>6.2f}  {'/'.join(sorted(classes)):<8}{cells}")

    print()
    ok = True
    for method in METHODS:
        s = {lang: score(planted_by_lang[lang], results[(lang, method)]) for lang in ("en", "zh")}
        tot = {k: s["en"][k] + s["zh"][k] for k in s["en"] if k not in ("sub3_by_origin", "rewrite_max_j")}
        wrong = tot["rewrites_flagged"] + tot["unrelated_flagged"]
        precision = ratio(tot["copies_found"], tot["copies_found"] + wrong)
        parts = []
        for lang in ("en", "zh"):
            x = s[lang]
            p = ratio(x["copies_found"], x["copies_found"] + x["rewrites_flagged"] + x["unrelated_flagged"])
            by_origin = ", ".join(f"{o} {ratio(n_found, n):.3f}" for o, (n_found, n) in x["sub3_by_origin"].items())
            parts.append(f"{lang}: 3%-edited recall {ratio(x['sub3_found'], x['sub3']):.3f} ({x['sub3_found']}/"
                         f"{x['sub3']}; {by_origin}), copies recall {ratio(x['copies_found'], x['copies']):.3f} "
                         f"({x['copies_found']}/{x['copies']}), precision {p:.3f}, 30%-rewritten flagged "
                         f"{x['rewrites_flagged']}/{x['rewrites']} (highest J {x['rewrite_max_j']:.2f}), "
                         f"unrelated pairs flagged {x['unrelated_flagged']}")
        met = (all(ratio(s[lang]["sub3_found"], s[lang]["sub3"]) >= 0.90 and
                   ratio(s[lang]["copies_found"], s[lang]["copies"]) >= 0.95 for lang in ("en", "zh"))
               and precision >= 0.99 and tot["rewrites_flagged"] == 0)
        print(f"{method}: precision overall {precision:.3f}   targets {'met' if met else 'NOT met'}"
              f"{'' if method != 'simhash' else ' (not required of SimHash)'}")
        for line in parts:
            print("  " + line)
        if method != "simhash":
            ok &= met
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
