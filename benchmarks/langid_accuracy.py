"""Language-identification accuracy on the UDHR lines in ../shared/data/langid/ (41 languages):
the raw lid.176 model versus the langid stage (same model + text preparation + script-aware
corrections), overall and per language.

    python benchmarks/langid_accuracy.py [--data PATH] [--model PATH]

fastText says `no` for Norwegian, which the data labels `nb` (Bokmål); both sides count `no` as `nb`.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dataprep.config import parse  # noqa: E402
from dataprep.stages.langid import LangidConfig, LangidStage, load_model, parse_label  # noqa: E402

SAME = {"no": "nb"}


def load(path: Path) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        return [(r["label_iso639_1"], r["text"]) for r in csv.DictReader(f, delimiter="\t")]


def accuracy(gold: list[str], pred: list[str]) -> tuple[float, dict[str, float]]:
    right, total = Counter(), Counter()
    for g, p in zip(gold, pred):
        total[g] += 1
        right[g] += SAME.get(p, p) == g
    return sum(right.values()) / len(gold), {lang: right[lang] / total[lang] for lang in sorted(total)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "langid" / "udhr2_lines.tsv"))
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    if not Path(args.data).exists():
        print(f"skipped: {args.data} is absent")
        return 0
    rows = load(Path(args.data))
    gold = [g for g, _ in rows]
    texts = [t for _, t in rows]
    model = load_model(args.model)
    raw = [parse_label(l[0])[0] for l in model.predict([" ".join(t.split()) for t in texts], k=1)[0]]
    stage = LangidStage(parse(LangidConfig, {"model": args.model, "min_score": 0.0}))
    ours = stage.predict(texts)[0]
    raw_all, raw_by = accuracy(gold, raw)
    our_all, our_by = accuracy(gold, ours)
    print(f"{len(rows):,} lines, {len(raw_by)} languages")
    print(f"{'lang':<6}{'lines':>6}{'raw':>8}{'stage':>8}{'diff':>8}")
    counts = Counter(gold)
    for lang in raw_by:
        diff = our_by[lang] - raw_by[lang]
        print(f"{lang:<6}{counts[lang]:>6}{raw_by[lang]:>8.1%}{our_by[lang]:>8.1%}{diff * 100:>+7.1f}")
    print(f"{'all':<6}{len(rows):>6}{raw_all:>8.1%}{our_all:>8.1%}{(our_all - raw_all) * 100:>+7.1f}")
    worst = min(our_by[lang] - raw_by[lang] for lang in raw_by)
    ok = our_by["zh"] >= 0.99 and our_all >= raw_all and worst >= -0.01
    print(f"criteria (zh >= 99%, overall >= raw, no language > 1 point worse): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
