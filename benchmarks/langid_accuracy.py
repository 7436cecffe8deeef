"""Language-identification accuracy on the UDHR lines in ../shared/data/langid/ (41 languages):
the raw lid.176 model versus the langid stage (same model + text preparation + script-aware
corrections), overall and per language; `kept` is the share of lines labelled right with a
score of at least 0.5 (the default `min_score`). Then the same on the Chinese lines cut into
clauses at Chinese punctuation (Han only, 4 characters or more), where lid.176 also says
languages of other scripts.

    python benchmarks/langid_accuracy.py [--data PATH] [--model PATH]

fastText says `no` for Norwegian, which the data labels `nb` (Bokmål); both sides count `no` as `nb`.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dataprep.config import parse  # noqa: E402
from dataprep.stages.langid import LangidConfig, LangidStage, han_share, load_model, parse_label  # noqa: E402

SAME = {"no": "nb"}
MIN_SCORE = 0.5
CLAUSE = re.compile(r"[^，、；。：！？,;:!?（）()「」『』“”《》\s]{4,}")


def load(path: Path) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        return [(r["label_iso639_1"], r["text"]) for r in csv.DictReader(f, delimiter="\t")]


def accuracy(gold: list[str], pred: list[str], scores: list[float] | None = None,
             min_score: float = 0.0) -> tuple[float, dict[str, float]]:
    """Share of lines labelled right (and scoring at least min_score), overall and per language."""
    right, total = Counter(), Counter()
    for i, (g, p) in enumerate(zip(gold, pred)):
        total[g] += 1
        right[g] += SAME.get(p, p) == g and (scores is None or scores[i] >= min_score)
    return sum(right.values()) / len(gold), {lang: right[lang] / total[lang] for lang in sorted(total)}


def raw_predict(model, texts: list[str]) -> tuple[list[str], list[float]]:
    labels, probs = model.predict([" ".join(t.split()) for t in texts], k=1)
    return [parse_label(l[0])[0] for l in labels], [min(float(p[0]), 1.0) for p in probs]


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
    raw, raw_scores = raw_predict(model, texts)
    stage = LangidStage(parse(LangidConfig, {"model": args.model, "min_score": 0.0}))
    ours, our_scores = stage.predict(texts)[:2]
    raw_all, raw_by = accuracy(gold, raw)
    our_all, our_by = accuracy(gold, ours)
    raw_kept_all, raw_kept = accuracy(gold, raw, raw_scores, MIN_SCORE)
    our_kept_all, our_kept = accuracy(gold, ours, our_scores, MIN_SCORE)
    print(f"{len(rows):,} lines, {len(raw_by)} languages")
    print(f"{'lang':<6}{'lines':>6}{'raw':>8}{'stage':>8}{'diff':>8}{'kept raw':>10}{'stage':>8}")
    counts = Counter(gold)
    for lang in raw_by:
        diff = our_by[lang] - raw_by[lang]
        print(f"{lang:<6}{counts[lang]:>6}{raw_by[lang]:>8.1%}{our_by[lang]:>8.1%}{diff * 100:>+7.1f}"
              f"{raw_kept[lang]:>10.1%}{our_kept[lang]:>8.1%}")
    print(f"{'all':<6}{len(rows):>6}{raw_all:>8.1%}{our_all:>8.1%}{(our_all - raw_all) * 100:>+7.1f}"
          f"{raw_kept_all:>10.1%}{our_kept_all:>8.1%}")
    clauses = sorted({c for g, t in rows if g == "zh" for c in CLAUSE.findall(t) if han_share(c) == 1.0})
    raw_c = raw_predict(model, clauses)[0]
    ours_c = stage.predict(clauses)[0]
    wrong = Counter(lang for lang in raw_c if lang != "zh")
    print(f"zh clauses: {len(clauses)}, raw {accuracy(['zh'] * len(clauses), raw_c)[0]:.1%} "
          f"(wrong: {', '.join(f'{k} {v}' for k, v in wrong.most_common())}), "
          f"stage {accuracy(['zh'] * len(clauses), ours_c)[0]:.1%}")
    worst = min(our_by[lang] - raw_by[lang] for lang in raw_by)
    ok = our_by["zh"] >= 0.99 and our_all >= raw_all and worst >= -0.01
    print(f"criteria (zh >= 99%, overall >= raw, no language > 1 point worse): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
