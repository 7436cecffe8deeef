"""rebalance: token shares met within a point, repetition capped, infeasible targets reported (or
stopped with strict), byte-identical output for any worker count, temperature sampling, replay,
sources, quality order, token counts from a tokenizer, and the engine's accounting of added copies."""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner

from conftest import read_corpus, read_rejected, write_jsonl
from dataprep.cli import _stage_command
from dataprep.config import ConfigError, parse
from dataprep.corpus import Corpus, shard_digest, write_table
from dataprep.executor import LocalExecutor
from dataprep.registry import register
from dataprep.runner import check_accounting, parse_pipeline, run_pipeline, run_stage
from dataprep.stage import AccountingError, StageError
from dataprep.stages.rebalance import RebalanceConfig, RebalanceStage, select_copies, solve_mix

# one token per character, so a test can count tokens from the text alone
FLAT = {"chars_per_token": {"default": 1.0, "zh": 1.0, "en": 1.0, "fr": 1.0}}


def make_corpus(folder: Path, n: int, *, seed: int = 0, shard_rows: int = 500, langs=("zh", "en", "fr"),
                domains=("web", "code", "math", None), quality: bool = True, prefix: str = "d") -> Path:
    """A finished corpus of ``n`` documents with lang, domain (None: counts as web) and quality."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    shards = []
    for s in range(0, n, shard_rows):
        rows = []
        for i in range(s, min(n, s + shard_rows)):
            row = {"id": f"{prefix}{i:06d}", "text": "字" * rng.randint(20, 300), "lang": rng.choice(langs),
                   "domain": rng.choice(domains)}
            if quality:
                row["quality"] = round(rng.random(), 4)
            rows.append(row)
        table = pa.Table.from_pylist(rows)
        name = f"part-{s // shard_rows:05d}.parquet"
        size = write_table(table, folder / name)
        shards.append({"file": name, "rows": table.num_rows, "bytes": size, "digest": shard_digest(folder / name)})
    (folder / "manifest.json").write_text(json.dumps({"fingerprint": f"test:{folder.name}:{n}:{seed}", "rows": n,
                                                      "shards": shards}))
    return folder


def rebalance(main: Path | None, out: Path, workers: int = 1, **options) -> dict:
    stage = RebalanceStage(parse(RebalanceConfig, options))
    with LocalExecutor(workers) as ex:
        return run_stage(stage, Corpus.open(main) if main else None, out, ex).manifest


def shares_out(rows: list[dict], key) -> dict[str, float]:
    tokens: Counter = Counter()
    for r in rows:
        tokens[key(r)] += len(r["text"])
    total = sum(tokens.values())
    return {k: v / total for k, v in tokens.items()}


def original(doc_id: str) -> str:
    return doc_id.split("#r")[0]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("rebalance")
    return {"main": make_corpus(d / "main", 3000),
            "code": make_corpus(d / "code", 600, seed=1, langs=("en",), domains=(None,), quality=False, prefix="c"),
            "math": make_corpus(d / "math", 400, seed=2, langs=("en",), domains=("math",), prefix="m"),
            "general": make_corpus(d / "general", 1500, seed=3, langs=("en",), domains=("web",), prefix="g")}


JOINT = {"zh": {"web": 0.3, "code": 0.05, "math": 0.05}, "en": {"web": 0.2, "other": 0.05}, "other": {"web": 0.05}}


@pytest.mark.parametrize("tokens", [400_000, None])
def test_feasible_shares_are_met_within_a_point_and_no_document_exceeds_max_epochs(corpora, tmp_path, tokens):
    m = rebalance(corpora["main"], tmp_path / "out", by="lang+domain", shares=JOINT, tokens=tokens,
                  sources=[{"input": str(corpora["code"]), "share": 0.2, "name": "code"},
                           {"input": str(corpora["math"]), "share": 0.1}], **FLAT)
    rows = read_corpus(tmp_path / "out")

    def label(r: dict) -> str:
        if r["id"][0] in "cm":
            return {"c": "code", "m": "math"}[r["id"][0]]
        lang, domain = r["lang"] if r["lang"] in ("zh", "en") else "other", r["domain"] or "web"
        return f"{lang}/{domain if lang == 'zh' or domain == 'web' else 'other'}"

    got = shares_out(rows, label)
    want = {"zh/web": 0.3, "zh/code": 0.05, "zh/math": 0.05, "en/web": 0.2, "en/other": 0.05, "other/web": 0.05,
            "code": 0.2, "math": 0.1}
    assert got.keys() == want.keys() and all(abs(got[k] - v) <= 0.01 for k, v in want.items()), got
    assert not any(r["lang"] == "fr" and r["domain"] in ("code", "math") for r in rows), "in no bucket"
    copies = Counter(original(r["id"]) for r in rows)
    assert max(copies.values()) <= 4 and max(copies.values()) > 1
    assert len({r["id"] for r in rows}) == len(rows), "every copy has its own id"
    assert all(r["repeat"] == (int(r["id"].split("#r")[1]) if "#r" in r["id"] else 0) for r in rows)
    rejected = read_rejected(tmp_path / "out")
    assert m["rows_in"] == 4000 and m["rows_in"] + m["rows_added"] == m["rows_kept"] + m["rows_rejected"]
    assert m["rows_added"] == len(rows) - len(copies) and m["rows_rejected"] == len(rejected)
    assert {r["reason"] for r in rejected} == {"rebalance:downsampled", "rebalance:unlisted"}
    assert not copies.keys() & {r["id"] for r in rejected}
    report = m["rebalance"]
    assert report["feasible"] and report["rows_out"] == len(rows)
    if tokens:
        assert abs(report["tokens_out"] - tokens) < 1000
    for b in report["buckets"]:
        assert abs(b["achieved_share"] - b["target_share"]) <= 0.01 and b["epochs"] <= 4


def test_without_a_budget_the_scarcest_bucket_sets_the_total_at_max_epochs(corpora, tmp_path):
    m = rebalance(corpora["main"], tmp_path / "out", by="lang", shares={"zh": 0.5, "en": 0.3, "fr": 0.2},
                  max_epochs=2, **FLAT)
    report = m["rebalance"]
    epochs = {b["bucket"]: b["epochs"] for b in report["buckets"]}
    limit = report["limited_by"].split()[-1]
    assert epochs[limit] == pytest.approx(2, abs=0.01) and max(epochs.values()) <= 2
    got = shares_out(read_corpus(tmp_path / "out"), lambda r: r["lang"])
    assert got == pytest.approx({"zh": 0.5, "en": 0.3, "fr": 0.2}, abs=0.01)
    # natural shares: the total is the corpus itself, every document once
    natural = {b["bucket"]: b["tokens_available"] for b in report["buckets"]}
    total = sum(natural.values())
    m = rebalance(corpora["main"], tmp_path / "nat", by="lang", **FLAT,
                  shares={k: v / total for k, v in natural.items()})
    assert m["rows_added"] == 0 and m["rows_rejected"] <= 3


def test_infeasible_target_reports_the_best_feasible_mix_and_strict_stops(corpora, tmp_path, capsys):
    opts = dict(by="domain", shares={"web": 0.5, "code": 0.2, "math": 0.3}, tokens=2_500_000, **FLAT)
    m = rebalance(corpora["main"], tmp_path / "out", **opts)
    report = m["rebalance"]
    assert not report["feasible"]
    assert [line.split(":")[0] for line in report["infeasible"]] == ["bucket web", "bucket code", "bucket math",
                                                                      "budget"]
    assert any("can be met exactly up to" in n for n in report["notes"])
    out = capsys.readouterr()
    assert "NOT MET: bucket" in out.out and "warning: rebalance: target not met" in out.err
    # every bucket is short even at max_epochs: all at 4 epochs, the budget not reached and said so
    assert all(b["epochs"] == pytest.approx(4) for b in report["buckets"])
    assert any(line.startswith("budget: only") for line in report["infeasible"])

    opts["tokens"] = 1_700_000  # math cannot take 30% (4 epochs of it are ~28%); web and code take the rest
    m = rebalance(corpora["main"], tmp_path / "best", **opts)
    report = m["rebalance"]
    by = {b["bucket"]: b for b in report["buckets"]}
    assert [line.split(":")[0] for line in report["infeasible"]] == ["bucket math"]
    assert by["math"]["epochs"] == pytest.approx(4, abs=1e-3) and by["math"]["achieved_share"] < 0.3
    assert abs(report["tokens_out"] - 1_700_000) < 1000
    rest = by["web"]["achieved_share"] / by["code"]["achieved_share"]
    assert rest == pytest.approx(0.5 / 0.2, rel=0.02), "the shortfall is spread in proportion to the shares"
    with pytest.raises(StageError, match=r"^rebalance: target not met \(strict\): bucket math: [\d,]+ tokens, its "
                                         r"share 30\.0% .*max_epochs 4\); best feasible share") as e:
        rebalance(corpora["main"], tmp_path / "strict", strict=True, **opts)
    assert "\n" not in str(e.value)


def test_same_seed_same_bytes_for_any_worker_count(corpora, tmp_path):
    opts = dict(by="lang", shares={"zh": 0.4, "en": 0.3, "other": 0.1}, tokens=300_000, order="hash", seed=7,
                sources=[{"input": str(corpora["code"]), "share": 0.2, "name": "code"}])

    def files(out: Path) -> dict[str, bytes]:
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.parquet"))
                if "_state" not in p.parts}

    rebalance(corpora["main"], tmp_path / "w1", workers=1, **opts)
    rebalance(corpora["main"], tmp_path / "w2", workers=2, **opts)
    one, two = files(tmp_path / "w1"), files(tmp_path / "w2")
    assert one == two and len(one) > 10
    rebalance(corpora["main"], tmp_path / "seed8", **{**opts, "seed": 8})
    assert files(tmp_path / "seed8") != one, "the seed chooses which documents"


def test_quality_chooses_what_is_kept_and_repeated(corpora, tmp_path):
    rebalance(corpora["main"], tmp_path / "out", by="lang", shares={"zh": 0.6, "en": 0.2, "fr": 0.2}, tokens=400_000,
              **FLAT)
    rows, rejected = read_corpus(tmp_path / "out"), read_rejected(tmp_path / "out")
    for lang in ("en", "fr"):  # downsampled: the best are kept
        kept = [r["quality"] for r in rows if r["lang"] == lang]
        dropped = [r["quality"] for r in rejected if r["lang"] == lang]
        assert dropped and min(kept) >= max(dropped)
    zh = defaultdict(int)  # repeated: the best get the extra copy
    for r in rows:
        if r["lang"] == "zh":
            zh[(original(r["id"]), r["quality"])] += 1
    most = max(zh.values())
    assert min(q for (_, q), n in zh.items() if n == most) >= max(q for (_, q), n in zh.items() if n < most)


def test_temperature_sampling_follows_n_to_the_one_over_t(corpora, tmp_path):
    m = rebalance(corpora["main"], tmp_path / "out", by="lang", temperature=3.0, **FLAT)
    buckets = m["rebalance"]["buckets"]
    n = np.array([b["tokens_available"] for b in buckets], float)
    p = n ** (1 / 3.0) / (n ** (1 / 3.0)).sum()
    assert [b["target_share"] for b in buckets] == pytest.approx(p.tolist(), abs=1e-6)
    got = shares_out(read_corpus(tmp_path / "out"), lambda r: r["lang"])
    assert all(abs(got[b["bucket"]] - b["target_share"]) <= 0.01 for b in buckets)
    flat = rebalance(corpora["main"], tmp_path / "t1", by="lang", temperature=1.0, **FLAT)
    assert flat["rows_added"] == 0 and flat["rows_rejected"] <= 3, "T = 1 keeps the corpus as it is"


def test_replay_mixes_a_general_corpus_at_its_share(corpora, tmp_path):
    m = rebalance(corpora["main"], tmp_path / "out", by="lang", shares={"zh": 0.8, "other": 0.05}, **FLAT,
                  replay={"input": str(corpora["general"]), "share": 0.15})
    rows = read_corpus(tmp_path / "out")
    got = shares_out(rows, lambda r: "replay" if r["id"].startswith("g") else r["lang"] if r["lang"] == "zh" else "o")
    assert got == pytest.approx({"zh": 0.8, "o": 0.05, "replay": 0.15}, abs=0.01)
    assert {b["source"] for b in m["rebalance"]["buckets"]} == {"main", "replay"}
    assert any(p.name.startswith("replay-part-") for p in (tmp_path / "out").glob("*.parquet"))


def test_ids_colliding_across_corpora_are_an_error_unless_prefixed(corpora, tmp_path):
    replay = {"input": str(corpora["main"]), "share": 0.1}
    with pytest.raises(StageError, match=r"id 'd\d+' is in both .* \(set id_prefix on a source\)"):
        rebalance(corpora["main"], tmp_path / "clash", replay=replay)
    rebalance(corpora["main"], tmp_path / "ok", replay={**replay, "id_prefix": "old/"}, tokens=100_000)
    ids = [r["id"] for r in read_corpus(tmp_path / "ok")]
    assert any(i.startswith("old/d") for i in ids) and len(set(ids)) == len(ids)


def test_counts_tokens_with_a_tokenizer(corpora, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(["字字 字字字字 字"] * 50, trainers.BpeTrainer(vocab_size=300, show_progress=False))
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    texts = {r["id"]: r["text"] for r in read_corpus(corpora["main"])}
    exact = sum(len(tok.encode(t, add_special_tokens=False).ids) for t in texts.values())
    m = rebalance(corpora["main"], tmp_path / "exact", tokenizer=str(path))
    assert m["rebalance"]["token_count"]["tokens"] == exact and m["rows_added"] == m["rows_rejected"] == 0
    m = rebalance(corpora["main"], tmp_path / "sample", tokenizer=str(tmp_path), tokenizer_sample=0.1)
    count = m["rebalance"]["token_count"]
    assert "0.1" in count["method"] or "10.00%" in count["method"]
    assert count["tokens"] == pytest.approx(exact, rel=0.02)
    with pytest.raises(StageError, match=r"rebalance.tokenizer: .*nope does not exist"):
        rebalance(corpora["main"], tmp_path / "bad", tokenizer=str(tmp_path / "nope"))


def test_solver_and_selection():
    avail, share = np.array([100.0, 1000.0, 50.0]), np.array([0.5, 0.3, 0.2])
    targets, total, limit, scarce = solve_mix(avail, share, 4, None)  # bucket 0: 400 tokens at most = 50% of 800
    assert total == pytest.approx(800) and limit == 0 and scarce
    assert targets == pytest.approx([400, 240, 160])
    targets, total, limit, scarce = solve_mix(avail, share, 40, None)  # bucket 1 used once sets the total
    assert total == pytest.approx(1000 / 0.3) and limit == 1 and not scarce
    targets, *_ = solve_mix(avail, share, 4, 2000)  # buckets 0 and 2 capped; bucket 1 takes the rest
    assert targets == pytest.approx([400, 1400, 200])
    targets, *_ = solve_mix(np.array([100.0, 0.0]), np.array([0.5, 0.5]), 4, None)  # no data: left out
    assert targets == pytest.approx([100, 0])
    bucket = np.array([0, 0, 0, 0, -1])
    copies = select_copies(bucket, np.array([10, 10, 10, 10, 10]), np.array([0.0, -1.0, -2.0, -3.0, 0.0]),
                           np.arange(5, dtype=np.uint64), np.array([60.0]), 4)
    assert copies.tolist() == [1, 1, 2, 2, -1], "one epoch for all, the extra 20 tokens to the two best"


def test_check_accounting_counts_added_copies():
    ok = {"rows_in": 5, "rows_added": 3, "rows_kept": 6, "rows_rejected": 2, "reasons": {"x": 2}}
    check_accounting("s", "t", ok)
    check_accounting("s", "t", {"rows_in": 2, "rows_kept": 1, "rows_rejected": 1, "reasons": {"x": 1}})  # old marker
    with pytest.raises(AccountingError, match=r"5 rows in \+ 2 added copies but 6 kept \+ 2 rejected"):
        check_accounting("s", "t", {**ok, "rows_added": 2})
    with pytest.raises(AccountingError):
        check_accounting("s", "t", {**ok, "rows_added": -1, "rows_kept": 2})


@pytest.mark.parametrize("options,message", [
    ({"shares": {"zh": 0.5, "en": 0.3}}, r"^shares: sum to 0\.8, must sum to 1; every share is of the output"),
    ({"shares": {"zh": 0.5}, "sources": [{"input": "CODE", "share": 0.2}]}, r"^shares: sum to 0\.5, must sum to 0\.8"),
    ({"shares": {"zh": 1.0}, "temperature": 2.0}, r"^shares/temperature: give one of them"),
    ({"by": "lang+domain", "shares": {"zh": 1.0}}, r"^shares\.zh: with by=lang\+domain each value is a mapping"),
    ({"shares": {"zh": {"web": 1.0}}}, r"^shares\.zh: with by=lang each value is a number"),
    ({"sources": [{"input": "/no/such/corpus", "share": 0.2}]}, r"^sources\[0\]\.input: .*not a dataprep corpus"),
    ({"sources": [{"input": "CODE", "share": 1.5}]}, r"^sources\[0\]\.share: must be in \(0, 1\)"),
    ({"replay": {"input": "CODE", "share": 0.6}, "sources": [{"input": "CODE", "share": 0.4, "name": "c"}]},
     r"^sources/replay: their shares sum to 1"),
    ({"max_epochs": 0}, r"^max_epochs: must be in \[1, 100\]"),
    ({"temperature": 0.0}, r"^temperature: must be > 0"),
])
def test_config_mistakes_are_one_line_naming_the_key(corpora, options, message):
    options = json.loads(json.dumps(options).replace("CODE", str(corpora["code"])))
    with pytest.raises(ConfigError, match=message):
        parse(RebalanceConfig, options)


def test_pipeline_yaml_blends_sources_after_the_previous_stage(corpora, tmp_path):
    register(RebalanceStage)  # until the entry point is installed
    rows = [{"id": f"p{i}", "text": ("中文内容" if i % 2 else "english words ") * (5 + i % 9),
             "lang": "zh" if i % 2 else "en"} for i in range(400)]
    write_jsonl(tmp_path / "in.jsonl", rows)
    code = tmp_path / "code"
    shutil.copytree(corpora["code"], code)
    cfg = {"workdir": str(tmp_path / "w"), "seed": 3, "stages": [
        {"ingest": {"paths": [str(tmp_path / "in.jsonl")], "promote": ["lang"], "shard_rows": 150}},
        {"rebalance": {"by": "lang", "shares": {"zh": 0.6, "en": 0.2},
                       "sources": [{"input": str(code), "share": 0.2, "name": "code"}]}}]}
    pipe, stages = parse_pipeline(cfg)
    assert stages[1].config.seed == 3 and stages[1].config.sources[0].fingerprint
    runs = run_pipeline(pipe, stages, workers=1)
    report = runs[1].manifest["rebalance"]
    assert [b["bucket"] for b in report["buckets"]] == ["zh", "en", "code"]
    assert all(abs(b["achieved_share"] - b["target_share"]) <= 0.01 for b in report["buckets"])
    assert run_pipeline(pipe, stages, workers=1)[1].skipped
    manifest = json.loads((code / "manifest.json").read_text())
    (code / "manifest.json").write_text(json.dumps({**manifest, "fingerprint": "changed"}))
    runs = run_pipeline(*parse_pipeline(cfg), workers=1)
    assert runs[0].skipped and not runs[1].skipped, "a changed source corpus reruns the stage"
    cfg["stages"][1]["rebalance"]["inputs"] = [str(corpora["main"])]
    with pytest.raises(StageError, match="rebalance.inputs: only for the command line"):
        run_pipeline(*parse_pipeline(cfg), workers=1)


def test_command_line_takes_several_inputs(corpora, tmp_path):
    command = _stage_command("rebalance", RebalanceStage)
    result = CliRunner().invoke(command, [
        "-i", str(corpora["main"]), "-i", str(corpora["general"]), "-i", str(corpora["code"]),
        "-o", str(tmp_path / "out"), "--workers", "1", "--by", "lang", "--shares", "{zh: 0.3, en: 0.4, fr: 0.1}",
        "--sources", json.dumps([{"input": str(corpora["code"]), "share": 0.2}]), "--tokens", "200000"])
    assert result.exit_code == 0, result.output
    assert "achieved" in result.output and "rebalance" in result.output
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert m["rows_in"] == 3000 + 1500 + 600, "main and general merged as the main corpus, code a source"
    assert {b["source"] for b in m["rebalance"]["buckets"]} == {"main", "code"}
    assert any(p.name.startswith("in1-part-") for p in (tmp_path / "out").glob("*.parquet"))
    assert all(abs(b["achieved_share"] - b["target_share"]) <= 0.01 for b in m["rebalance"]["buckets"])
