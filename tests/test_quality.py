"""The quality stage: signals in the right units per language, published thresholds, cuts of
furniture lines and sentences, planted junk in sample_data, and real Chinese web pages."""

import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from conftest import ROOT, read_corpus, read_rejected, write_jsonl
from dataprep.config import ConfigError, parse
from dataprep.stages.quality import QualityConfig, QualityStage
from dataprep.stages.quality import rules as R
from dataprep.stages.quality import signals as S

TRUTH = json.loads((ROOT / "sample_data" / "truth.json").read_text())
EXEMPT = {"source": ["code", "edu", "papers"]}  # code and math are not judged as web prose


def score(texts: list[str], langs: list[str] | None = None, **cfg):
    cols = {"id": [f"d{i}" for i in range(len(texts))], "text": texts}
    if langs is not None:
        cols["lang"] = langs
    stage = QualityStage(parse(QualityConfig, cfg, "quality"))
    return stage.score(pa.table(cols))


ZH_GOOD = ("北京市是中华人民共和国的首都，也是全国的政治中心和文化中心。它位于华北平原的北部，背靠燕山，"
           "毗邻天津市和河北省。北京有着三千多年的建城史和八百多年的建都史，是世界上拥有世界文化遗产数最多的城市。\n"
           "北京的气候为典型的暖温带半湿润大陆性季风气候，夏季高温多雨，冬季寒冷干燥，春、秋短促。"
           "全年无霜期一百八十至两百天，西部山区较短。城市的年平均降雨量在六百毫米左右，降水季节分配很不均匀。")
EN_GOOD = ("The river rises in the northern hills and flows south for about two hundred kilometres before it "
           "reaches the sea. Along the way it passes through three market towns, each of which grew up around "
           "an old crossing. In the nineteenth century the valley was known for its mills, and several of the "
           "buildings still stand today, now used as museums and workshops.\n"
           "Farmers in the lower valley grow wheat and barley, while the upper slopes are given over to sheep. "
           "The climate is mild, with most of the rain falling in the autumn and winter months, and the river "
           "floods the meadows near its mouth in most years.")


# --- signals ---------------------------------------------------------------------------------------


def test_chinese_is_measured_in_characters_and_chinese_sentences():
    sig = S.doc_signals(pl.Series([ZH_GOOD]), pl.Series(["zh"])).row(0, named=True)
    assert sig["words"] == len(pl.Series([ZH_GOOD]).str.extract_all(r"\p{Han}")[0])  # every Han character a word
    assert sig["sentences"] == ZH_GOOD.count("。")
    assert sig["mean_word_length"] == 0.0  # no space-separated words to measure
    assert sig["cjk_share"] == 1.0 and sig["stop_words"] >= 5


def test_language_groups_from_the_lang_column_or_the_script():
    texts = pl.Series([ZH_GOOD, EN_GOOD, "これは日本語の文です。ひらがながあります。", "한국어 문장입니다."])
    assert S.language_groups(texts, None).to_list() == ["zh", "word", "cjk", "cjk"]
    assert S.language_groups(texts, pl.Series(["zh", "en", "ja", None])).to_list() == ["zh", "word", "cjk", "cjk"]


def test_repetition_signals_match_their_definitions():
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
    text = " ".join(words + words)  # the second half repeats the first
    sig = S.doc_signals(pl.Series([text]), pl.Series(["word"])).row(0, named=True)
    assert sig["dup_5gram_frac"] == pytest.approx(0.5)  # repeat occurrences cover the second half only
    assert sig["dup_10gram_frac"] == pytest.approx(0.5)
    lines = "one line here\none line here\nanother line\n"
    sig = S.doc_signals(pl.Series([lines]), pl.Series(["word"])).row(0, named=True)
    assert sig["dup_line_frac"] == pytest.approx(1 / 3)


def test_rules_that_do_not_fit_a_language_are_skipped_by_design():
    kept, rejected, _, _ = score([ZH_GOOD, EN_GOOD], ["zh", "en"])
    assert kept.num_rows == 2, rejected.to_pylist()
    gopher_words = R.BY_NAME["gopher_min_mean_word_length"]
    assert gopher_words.applies("word") and not gopher_words.applies("zh")
    # English text under Chinese rules would fail (no Chinese stop words): the rule is not applied
    assert not R.BY_NAME["zh_stop_words"].applies("word")


# --- cuts and rejections -----------------------------------------------------------------------------


def test_furniture_lines_and_sentences_are_cut_and_recorded():
    page = ("首页 | 新闻 | 财经 | 科技 | 体育\n" + ZH_GOOD + "\n版权所有 © 2024 某某网 京ICP备12345678号\n"
            "扫码关注官方公众号，获取更多本地资讯\n上一篇：某某新闻 下一篇：另一条新闻")
    kept, rejected, edits, counts = score([page], ["zh"])
    assert kept.num_rows == 1
    assert kept["text"][0].as_py() == ZH_GOOD
    cut = edits.to_pylist()
    assert {c["reason"] for c in cut} == {"quality:boilerplate_line"} and len(cut) == 4
    assert all(c["id"] == "d0" and c["unit"] == "line" for c in cut)
    assert counts["cut_units:quality:boilerplate_line"] == 4


def test_ads_are_cut_and_a_mostly_ad_document_is_rejected_with_the_cut_rule():
    spam = "加微信abc12345领取优惠券，限时优惠！\n专业代开发票，无抵押贷款，联系电话：13812345678\n" * 3 + "今天天气很好。"
    kept, rejected, _, _ = score([spam, ZH_GOOD], ["zh", "zh"])
    assert kept["id"].to_pylist() == ["d1"]
    assert rejected["reason"].to_pylist() == ["quality:ad_line"]
    assert rejected["text"][0].as_py() == spam  # rejected rows keep their original text


def test_every_document_gets_a_score_and_signals():
    kept, rejected, _, _ = score([ZH_GOOD, EN_GOOD, "spam " * 300], ["zh", "en", "en"])
    both = kept.to_pylist() + rejected.to_pylist()
    assert all(0.0 <= r["quality"] <= 1.0 for r in both)
    assert all(isinstance(r["quality_signals"], dict) and "chars" in r["quality_signals"] for r in both)
    assert min(r["quality"] for r in kept.to_pylist()) > max(r["quality"] for r in rejected.to_pylist())


def test_dry_run_keeps_everything_and_says_what_would_happen():
    kept, rejected, _, _ = score(["spam " * 300, EN_GOOD], ["en", "en"], dry_run=True)
    assert kept.num_rows == 2 and rejected.num_rows == 0
    assert kept["quality_reason"].to_pylist()[0].startswith("quality:") and kept["quality_reason"][1].as_py() is None
    assert kept["text"][0].as_py() == "spam " * 300


def test_thresholds_and_per_language_overrides():
    short_en = "A short note about the river and the town that has only a few words in it."
    assert score([short_en], ["en"], preset="gopher")[1]["reason"].to_pylist() == ["quality:gopher_min_words"]
    assert score([short_en], ["en"], preset="gopher", thresholds={"gopher_min_words": 5})[0].num_rows == 1
    off = {"en": {"gopher_min_words": None}}
    assert score([short_en], ["en"], preset="gopher", languages=off)[0].num_rows == 1


@pytest.mark.parametrize("cfg,message", [
    ({"thresholds": {"no_such_rule": 1}}, r"thresholds\.no_such_rule: unknown rule"),
    ({"skip_rules": ["nope"]}, r"skip_rules: unknown rule 'nope'"),
    ({"languages": {"zh": {"nope": 1}}}, r"languages\.zh\.nope: unknown rule"),
    ({"line_rules": ["nope"]}, r"line_rules: unknown rule 'nope'"),
    ({"min_quality": 2}, r"min_quality: a number between 0 and 1"),
    ({"preset": "strict"}, r"preset: expected"),
])
def test_config_mistakes_name_the_key(cfg, message):
    with pytest.raises(ConfigError, match=message):
        parse(QualityConfig, cfg, "quality")


def test_same_input_gives_the_same_bytes_for_any_worker_count(tmp_path):
    from dataprep.corpus import Corpus
    from dataprep.executor import make_executor
    from dataprep.runner import run_stage
    from dataprep.stages.ingest import IngestConfig, IngestStage

    docs = [{"id": f"d{i}", "text": (ZH_GOOD if i % 3 else EN_GOOD) + ("\n加微信abc12345领取优惠券" if i % 4 == 0 else "")}
            for i in range(60)]
    write_jsonl(tmp_path / "in.jsonl", docs)
    outs = []
    for workers in (1, 2):
        with make_executor("local", workers) as ex:
            run_stage(IngestStage(parse(IngestConfig, {"paths": [str(tmp_path / "in.jsonl")], "shard_rows": 20},
                                        "ingest")), None, tmp_path / f"raw{workers}", ex)
            run = run_stage(QualityStage(QualityConfig()), Corpus.open(tmp_path / f"raw{workers}"),
                            tmp_path / f"q{workers}", ex)
        outs.append([(tmp_path / f"q{workers}" / s["file"]).read_bytes() for s in run.manifest["shards"]])
        assert run.manifest["rows_in"] == run.manifest["rows_kept"] + run.manifest["rows_rejected"] == 60
        q = run.manifest["quality"]
        assert sum(sum(h) for h in q["histogram"].values()) == 60
        assert q["cuts"]["quality:ad_line"]["units"] == 15
    assert outs[0] == outs[1]


def test_an_empty_shard_with_exempt_rules_is_scored_without_error():
    """A shard emptied by an earlier stage still goes through (the exempt mask must stay boolean)."""
    empty = pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string()),
                      "source": pa.array([], pa.string())})
    stage = QualityStage(parse(QualityConfig, {"exempt": EXEMPT}, "quality"))
    kept, rejected, *_ = stage.score(empty)
    assert kept.num_rows == rejected.num_rows == 0


# --- sample_data: every planted kind ------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_quality(tmp_path_factory):
    """ingest -> clean -> langid -> quality on sample_data (no dedup, so furniture is the quality
    stage's to cut)."""
    from dataprep.runner import parse_pipeline, run_pipeline

    work = tmp_path_factory.mktemp("q")
    pipe, stages = parse_pipeline({"workdir": str(work), "stages": [
        {"ingest": {"paths": [str(ROOT / "sample_data" / "raw" / "*.jsonl")], "promote": ["url", "source"]}},
        {"clean": {}}, {"langid": {"min_score": 0.0}}, {"quality": {"exempt": EXEMPT}}]})
    run_pipeline(pipe, stages, workers=2)
    return work / "04-quality"


def test_sample_junk_is_removed_and_good_documents_survive_in_every_language(sample_quality):
    kept = {r["id"]: r for r in read_corpus(sample_quality)}
    rejected = {r["id"]: r for r in read_rejected(sample_quality)}
    assert len(kept) + len(rejected) == len(TRUTH["docs"])
    by_kind: dict = {}
    for doc_id, label in TRUTH["docs"].items():
        by_kind.setdefault(label["quality"], []).append(doc_id)
    for kind in ("spam", "repetitive", "short"):
        survivors = [d for d in by_kind[kind] if d in kept]
        assert not survivors, f"{kind} kept: {survivors}"
    good_rejected = [(d, rejected[d]["reason"]) for d in by_kind["good"] if d in rejected]
    assert not good_rejected
    assert {TRUTH["docs"][d]["lang"] for d in by_kind["good"]} <= {r["lang"] for r in kept.values()} | {"und"}


def test_sample_boilerplate_pages_lose_their_furniture_lines(sample_quality):
    kept = {r["id"]: r for r in read_corpus(sample_quality)}
    furniture = {line for lines in TRUTH["boilerplate_lines"].values() for line in lines}
    pages = [d for d, label in TRUTH["docs"].items() if label["quality"] == "boilerplate"]
    assert pages
    for doc_id in pages:
        if doc_id in kept:
            left = [ln for ln in kept[doc_id]["text"].split("\n") if ln.strip() in furniture]
            assert not left, (doc_id, left)
            assert len(kept[doc_id]["text"]) > 100  # the article itself stays


def test_sample_manifest_reports_rules_and_score_distributions(sample_quality):
    m = json.loads((sample_quality / "manifest.json").read_text())
    q = m["quality"]
    assert q["preset"] == "default" and len(q["histogram_bins"]) == 11
    assert {"zh", "en"} <= set(q["histogram"]) and all(len(h) == 10 for h in q["histogram"].values())
    assert sum(sum(h) for h in q["histogram"].values()) == m["rows_in"]
    assert q["cuts"]["quality:boilerplate_line"]["units"] > 0
    assert sum(m["reasons"].values()) == m["rows_rejected"]


# --- real Chinese web pages ----------------------------------------------------------------------------

# Furniture lines of the project's source pages (../shared/data/seeds_text/): dates and site
# navigation, an ad block, front matter and reference links, an attribution tail, a
# related-articles block. Each must be cut; the body lines listed must stay.
SEED_FURNITURE = {
    "000": ["2026/4/6 12:22:39 网站建设 项目流程", "需要专业的网站建设服务?", "立即咨询"],
    "002": ["tags:", "*   [https://github.com/PaddlePaddle/Paddle](https://github.com/PaddlePaddle/Paddle)"],
    "003": ["返回搜狐，查看更多 责任编辑："],
    "004": ["相关文章:", "ubuntu电脑调用摄像头拍摄照片"],
}
SEED_BODY = {
    "000": "Baichuan系列的核心创新集中在三大维度",
    "001": "训练数据是模型能力的基石。",
    "002": "在人工智能领域，每一次核心技术的开放都可能重塑竞争格局。",
    "003": "Baichuan2 has increased its mathematical ability by 49%",
    "004": "Base模型通过海量无标注文本",
}


@pytest.mark.parametrize("labelled", [False, True], ids=["by-script", "labelled"])
def test_real_chinese_web_pages_keep_their_body_and_lose_their_furniture(shared_data, labelled):
    files = sorted((shared_data / "seeds_text").glob("*.txt"))
    texts = [f.read_text(encoding="utf-8") for f in files]
    # labelled: as langid would say, with the bilingual page 000 taken as Chinese
    langs = ["en" if f.name.startswith("003") else "zh" for f in files] if labelled else None
    kept, rejected, edits, _ = score(texts, langs)
    assert rejected.num_rows == 0, rejected.select(["id", "reason"]).to_pylist()
    out = {files[int(i[1:])].name[:3]: t for i, t in zip(kept["id"].to_pylist(), kept["text"].to_pylist())}
    for key, lines in SEED_FURNITURE.items():
        for line in lines:
            assert line not in out[key], (key, line)
    for key, body in SEED_BODY.items():
        assert body in out[key], key
    for key, text in zip((f.name[:3] for f in files), texts):
        assert len(out[key]) > 0.5 * len(text.split("相关文章")[0]), key  # the body is most of each page


def test_real_chinese_encyclopedic_text_is_kept():
    """At least 95% of the characters of openly licensed Chinese encyclopedic text survive the
    default preset. The text (Chinese Wikipedia's 阿司匹林 article, Stellarium's sky-culture
    descriptions, The Debian Administrator's Handbook in Simplified Chinese; CC BY-SA) and its
    exact origin are described in tests/data/README.md."""
    docs = [json.loads(line) for line in (Path(__file__).parent / "data" / "zh_encyclopedic.jsonl").open()]
    assert len(docs) >= 50
    kept, rejected, edits, _ = score([d["text"] for d in docs], ["zh"] * len(docs))
    total = sum(len(d["text"]) for d in docs)
    assert rejected.num_rows == 0, rejected.select(["id", "reason"]).to_pylist()
    kept_chars = sum(len(t) for t in kept["text"].to_pylist())
    assert kept_chars >= 0.95 * total, edits.to_pylist()


def test_signals_in_batches_equal_signals_in_one_pass(monkeypatch):
    texts = []
    for path in sorted((ROOT / "sample_data" / "raw").glob("*.jsonl")):
        texts += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()][:40]
    texts += ["", "\n\n", "重复的句子。重复的句子。重复的句子。"]
    series = pl.Series(texts)
    groups = S.language_groups(series, None)
    whole = S.doc_signals(series, groups)
    monkeypatch.setattr(S, "SIGNAL_BATCH", 7)
    batched = S.doc_signals(series, groups)
    assert len(texts) > 7 * 3 and whole.height == len(texts)
    assert batched.equals(whole)
