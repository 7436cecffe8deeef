"""langid throughput: the stage's per-shard work (text preparation, batched fastText prediction,
script corrections, Traditional/Simplified detection, Arrow columns, filtering) versus a bare
``model.predict`` over the same prepared texts, in one process: the predictor the stage uses
(``dataprep.ftmodel`` where it is built) and the ``fasttext`` binding.

    python benchmarks/bench_langid.py [--docs 50000] [--repeat 5]

Texts are sample_data/ documents cycled to --docs (about 1.1 KB each on average).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dataprep.config import parse  # noqa: E402
from dataprep.stages.langid import LangidConfig, LangidStage, load_model, prepare_text  # noqa: E402


def sample_texts(n: int) -> list[str]:
    texts = []
    for path in sorted((ROOT / "sample_data" / "raw").glob("*.jsonl")):
        texts += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]
    texts = [t for t in texts if len(t) < 20_000]
    return [texts[i % len(texts)] for i in range(n)]


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    texts = sample_texts(args.docs)
    stage = LangidStage(parse(LangidConfig, {"min_score": 0.0}))
    model = load_model(None)  # what the stage predicts with
    import fasttext

    fasttext.FastText.eprint = lambda *a, **k: None
    binding = fasttext.load_model(str(ROOT / "dataprep" / "models" / "lid.176.ftz"))
    prepared = [prepare_text(t, stage.config.max_chars) for t in texts]
    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": texts})
    bs = stage.config.batch_size

    def bare(m) -> None:
        for i in range(0, len(prepared), bs):
            m.predict(prepared[i:i + bs], k=1)

    # interleaved runs, best of each, so drifting machine load hits every side alike
    runs = [(timed(lambda: bare(model)), timed(lambda: bare(binding)), timed(lambda: stage.apply(table, None)))
            for _ in range(args.repeat)]
    t_bare, t_binding, t_stage = (min(r[i] for r in runs) for i in range(3))
    mb = sum(len(t.encode()) for t in texts) / 1e6
    print(f"{len(texts):,} documents, {mb:,.1f} MB, one process, best of {args.repeat}; "
          f"the stage predicts with {type(model).__module__}.{type(model).__name__}")
    print(f"{'':40}{'docs/s':>12}{'MB/s':>9}")
    print(f"{'bare predict, the stage predictor':40}{len(texts) / t_bare:>12,.0f}{mb / t_bare:>9.1f}")
    print(f"{'bare predict, fasttext binding':40}{len(texts) / t_binding:>12,.0f}{mb / t_binding:>9.1f}")
    print(f"{'langid stage (apply)':40}{len(texts) / t_stage:>12,.0f}{mb / t_stage:>9.1f}")
    print(f"stage / bare binding: {t_binding / t_stage:.2f}; stage / bare stage predictor: {t_bare / t_stage:.2f}")


if __name__ == "__main__":
    main()
