import csv
import json
import re

import pyarrow as pa
import pytest
from click.testing import CliRunner

from conftest import read_corpus, read_rejected
from dataprep import text as T
from dataprep.config import ConfigError, parse
from dataprep.stage import StageError
from dataprep.stages.langid import (LangidConfig, LangidStage, chinese_script, correct_cjk, han_share, load_model,
                                    parse_label, prepare_text)

pytest.importorskip("fasttext")


def stage(**options) -> LangidStage:
    return LangidStage(parse(LangidConfig, options))


def table(texts: list[str]) -> pa.Table:
    return pa.table({"id": [str(i) for i in range(len(texts))], "text": texts})


def run(texts: list[str], **options):
    kept, rejected = stage(**options).apply(table(texts), None)
    return kept.to_pylist(), rejected.to_pylist()


ZH = "数据清洗是大模型预训练中非常重要的一步，需要去掉重复和低质量的网页。"
# A Han-only web line lid.176 calls Bulgarian (0.42); it gives zh 0.033.
WEB_LINE = "凡有事情人们都会在网络上交流，正确的道理和邪说歪理很容易就会露出其真容。"
EN = "Data cleaning is one of the most important steps before pretraining a large language model."


def test_common_languages():
    texts = [ZH, EN, "Это предложение написано на русском языке для проверки.",
             "これは日本語の文章です。言語判定のテストに使います。", "이 문장은 언어 판별을 시험하기 위한 한국어 문장입니다.",
             "Ceci est une phrase écrite en français pour tester la détection.", "هذه جملة مكتوبة باللغة العربية للاختبار."]
    kept, rejected = run(texts, min_score=0.0)
    assert [r["lang"] for r in kept] == ["zh", "en", "ru", "ja", "ko", "fr", "ar"] and not rejected
    assert all(0.5 < r["lang_score"] <= 1.0 for r in kept)


def test_script_rule_han_text_is_chinese_whatever_the_call():
    assert correct_cjk("ja", "联合国大会通过并颁布") == "zh"
    assert correct_cjk("ja", "『世界人権宣言』") == "ja"  # 権 is the Japanese form (Chinese: 权/權)
    assert correct_cjk("zh", "これは日本語です") == "ja"
    assert correct_cjk("zh", "한국어 문장") == "ko"
    assert correct_cjk("bg", WEB_LINE) == "zh"
    assert correct_cjk("ko", "昆明还将医疗保障纳入年度考核，对落实不力的单位进行通报。") == "zh"
    assert correct_cjk("de", "iPhone电池健康度下降怎么办") == "zh"  # 10 Han words of 11
    assert correct_cjk("en", "世界人権宣言") == "ja"  # the kanji rule holds for any call
    assert correct_cjk("bg", "列夫・托尔斯泰的小说") == "zh"  # the katakana middle dot is not kana
    assert correct_cjk("wuu", "据统计，去年全市新增就业岗位五万多个。") == "zh"
    assert correct_cjk("yue", "风雨过后总会有彩虹，坚持下去就会看到希望。") == "zh"
    assert correct_cjk("yue", "佢哋今日去咗邊度食飯呀？") == "yue"  # Cantonese-only 佢, 哋, 咗
    # not Han text: English-dominated lines, parallel Chinese/English lines, kana
    assert correct_cjk("en", "The Baichuan 2 report (百川2技术报告) explains how the data was cleaned.") == "en"
    assert correct_cjk("en", "训练数据 / Training data") == "en"
    assert correct_cjk("bg", "東京のホテル") == "bg"
    assert correct_cjk("en", "Data cleaning") == "en"


def test_han_share_counts_words():
    assert han_share("MySQL索引优化实战") == pytest.approx(6 / 7)  # a Latin run is one word
    assert han_share("2024年3月，GPU价格") == pytest.approx(4 / 5)  # numbers and punctuation do not count
    assert han_share("训练数据 / Training data") == pytest.approx(4 / 6)
    assert han_share("Data cleaning") == 0.0 and han_share("12345") == 0.0


# Han text lid.176 calls something else: a web line, sample_data sentences, headings
# and titles. Raw label in the comment.
MISLABELLED_HAN = [
    WEB_LINE,  # bg
    "记者在福州走访时看到，快递柜周边的环境比过去整洁了许多。",  # sr
    "昆明还将医疗保障纳入年度考核，对落实不力的单位进行通报。",  # ko
    "徐明说，接下来要把更多精力放在非遗保护的细节上，让服务更贴心。",  # sh
    "孙婷介绍说，博物馆会定期公布非遗保护的进展情况，接受社会监督。",  # kk
    "扫码进群领红包！减肥神药一周瘦十斤！高仿名表批发！",  # uk
    "友情链接",  # de
    "温故而知新",  # ru
    "MySQL索引优化实战",  # ml
    "Redis缓存穿透与雪崩",  # pt
    "医生建议他少吃油腻的食物，多喝水。",  # ja
]


def model_probability(text: str, lang: str) -> float:
    labels, probs = load_model(None).predict(prepare_text(text, 2000), k=-1)
    return dict(zip(labels, probs)).get(f"__label__{lang}", 0.0)


def han_probability(text: str) -> float:
    """The model's mass on languages written in Han characters (what a corrected Han call scores)."""
    labels, probs = load_model(None).predict(prepare_text(text, 2000), k=-1)
    han = {"zh", "ja", "wuu", "yue", "gan", "hak", "nan", "lzh", "cdo", "hsn", "cjy"}
    return min(sum(p for label, p in zip(labels, probs) if label.removeprefix("__label__") in han), 1.0)


def test_han_text_lid176_mislabels_comes_out_chinese_with_the_zh_score():
    raw, _ = run(MISLABELLED_HAN, correct_scripts=False, min_score=0.0)
    assert all(r["lang"] != "zh" for r in raw)
    assert len({r["lang"] for r in raw} - {"ja", "ko", "wuu", "yue"}) >= 8
    kept, _ = run(MISLABELLED_HAN, min_score=0.0, top_k=2)
    assert [r["lang"] for r in kept] == ["zh"] * len(MISLABELLED_HAN)
    assert kept[0]["zh_script"] == "Hans"
    for r, text in zip(kept, MISLABELLED_HAN):  # the model's Han-language mass, not the top label's score
        assert r["lang_score"] == pytest.approx(han_probability(text), rel=1e-6)
        assert r["lang_score"] >= model_probability(text, "zh")
        assert r["lang_top"][0]["lang"] != "zh" and 0.0 < r["lang_score"] <= 1.0  # lang_top: the model's own ranking
    assert kept[0]["lang_score"] == pytest.approx(0.402, abs=0.001)  # zh alone is 0.033, 6th in lid.176's list


def test_han_text_is_judged_by_the_zh_threshold():
    kept, rejected = run([WEB_LINE, ZH])
    assert [r["lang"] for r in kept] == ["zh"]
    assert [(r["lang"], r["reason"]) for r in rejected] == [("zh", "langid:below_threshold")]
    kept, rejected = run([WEB_LINE, ZH], thresholds={"zh": 0.3}, allow=["zh"])
    assert [r["lang"] for r in kept] == ["zh", "zh"] and not rejected


def test_paragraph_shares_use_the_script_rule():
    doc = "\n".join(MISLABELLED_HAN[:5])
    kept, _ = run([doc, doc + "\n" + EN], paragraphs=True, min_score=0.0)
    assert [r["lang"] for r in kept] == ["zh", "zh"]
    assert dict(kept[0]["lang_shares"]) == {"zh": 1.0} and kept[0]["lang_mix"] == 0.0
    assert set(dict(kept[1]["lang_shares"])) == {"zh", "en"} and 0.0 < kept[1]["lang_mix"] < 0.5


_CLAUSE = re.compile(r"[^，、；。：！？,;:!?（）()「」『』“”《》\s]{4,}")


def test_udhr_and_web_han_text_lid176_mislabels_is_chinese(shared_data):
    """Chinese UDHR lines, their clauses and the Chinese seed web pages' sentences that raw
    lid.176 calls anything but zh come out zh; the Japanese UDHR lines stay Japanese."""
    with open(shared_data / "langid" / "udhr2_lines.tsv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    chinese = set()
    for r in rows:
        if r["label_iso639_1"] == "zh":
            chinese.add(r["text"])
            chinese.update(c for c in _CLAUSE.findall(r["text"]) if han_share(c) == 1.0)
    for path in sorted((shared_data / "seeds_text").glob("*.txt")):
        for paragraph in T.split_paragraphs(path.read_text(encoding="utf-8")):
            chinese.update(s for s in T.split_sentences(paragraph) if han_share(s) == 1.0)
    chinese = sorted(chinese)
    raw, _ = run(chinese, correct_scripts=False, min_score=0.0)
    missed = [text for text, r in zip(chinese, raw) if r["lang"] != "zh"]
    other_script = {r["lang"] for r in raw} - {"zh", "ja", "ko", "wuu", "yue"}
    assert len(missed) >= 40 and len(other_script) >= 10  # ja, and Armenian, German, Serbian, ...
    kept, _ = run(missed, min_score=0.0)
    assert {text: r["lang"] for text, r in zip(missed, kept) if r["lang"] != "zh"} == {}
    japanese = [r["text"] for r in rows if r["label_iso639_1"] == "ja"]
    kept, _ = run(japanese, min_score=0.0)
    assert {r["lang"] for r in kept} == {"ja"}


def test_traditional_and_simplified_script():
    assert chinese_script("这个国家的经济发展很快") == "Hans"
    assert chinese_script("這個國家的經濟發展很快") == "Hant"
    assert chinese_script("中文") is None
    kept, _ = run(["這個國家的經濟發展很快，人們的生活越來越好。", ZH, EN], min_score=0.0)
    assert [(r["lang"], r["zh_script"]) for r in kept] == [("zh", "Hant"), ("zh", "Hans"), ("en", None)]


def test_empty_emoji_and_number_only_text_have_no_language():
    kept, rejected = run(["", "🎉🎉🎉 👍", "12345 678", "!!! ???"], min_score=0.0)
    assert [(r["lang"], r["lang_score"]) for r in kept] == [("und", 0.0)] * 4 and not rejected
    kept, rejected = run(["🎉🎉🎉", EN])
    assert [r["reason"] for r in rejected] == ["langid:below_threshold"] and kept[0]["lang"] == "en"


def test_allowlist_thresholds_and_groups():
    texts = [ZH, EN, "Ovo je rečenica na hrvatskom jeziku za provjeru.", "Ово је реченица на српском језику."]
    kept, rejected = run(texts, allow=["zh", "sh"], groups={"sh": ["sr", "hr", "bs", "sh"]})
    assert [r["lang"] for r in kept] == ["zh", "sh", "sh"]
    assert [(r["id"], r["lang"], r["reason"], r["stage"]) for r in rejected] == [("1", "en", "langid:not_allowed", "langid")]
    kept, rejected = run([EN, ZH], thresholds={"en": 1.0})
    assert [r["lang"] for r in kept] == ["zh"] and [r["reason"] for r in rejected] == ["langid:below_threshold"]


def test_mixed_document_paragraph_shares():
    mixed = "\n".join([ZH, ZH.replace("数据", "文本"), EN])
    kept, _ = run([mixed, EN], paragraphs=True, min_score=0.0)
    shares = dict(kept[0]["lang_shares"])
    assert kept[0]["lang"] == "zh" and set(shares) == {"zh", "en"}
    assert kept[0]["lang_mix"] == pytest.approx(shares["en"]) and 0.3 < kept[0]["lang_mix"] < 0.8
    assert dict(kept[1]["lang_shares"]) == {"en": 1.0} and kept[1]["lang_mix"] == 0.0


def test_exempt_rows_are_labelled_but_kept():
    t = table(["def f(x):\n    return x + 1", "def g(y):\n    return y * 2"]).append_column("source", pa.array(["code", "web"]))
    kept, rejected = LangidStage(parse(LangidConfig, {"exempt": {"source": ["code"]}, "min_score": 0.99})).apply(t, None)
    assert [r["id"] for r in kept.to_pylist()] == ["0"] and kept.to_pylist()[0]["lang"]
    assert [r["reason"] for r in rejected.to_pylist()] == ["langid:below_threshold"]
    with pytest.raises(StageError, match="no column 'kind'"):
        LangidStage(parse(LangidConfig, {"exempt": {"kind": ["x"]}})).apply(t, None)


def test_top_k():
    kept, _ = run([EN], top_k=3, min_score=0.0)
    top = kept[0]["lang_top"]
    assert len(top) == 3 and top[0]["lang"] == "en" and top[0]["score"] >= top[1]["score"] >= top[2]["score"]


def test_very_long_document_uses_a_capped_prefix():
    assert len(prepare_text("word " * 1_000_000, 2000)) <= 2000
    kept, _ = run([ZH * 20000, "http://x.example/a <b>tag</b>\n" + EN * 5000])
    assert [r["lang"] for r in kept] == ["zh", "en"]
    prepared = prepare_text("see https://a.example/x and <a href='y'>this</a>\nnext&amp;line", 100)
    assert prepared.split() == ["see", "and", "this", "next", "line"] and "\n" not in prepared


def test_missing_and_corrupt_model_are_clear_errors(tmp_path):
    with pytest.raises(StageError, match=r"nope\.bin: language model file not found; reinstall dataprep"):
        load_model(tmp_path / "nope.bin")
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(StageError, match=r"bad\.bin: not a readable fastText model"):
        load_model(bad)


def test_missing_model_via_cli_has_no_traceback(tmp_path):
    from dataprep.cli import _add_stage_commands, cli
    from conftest import write_jsonl

    write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "text": EN}])
    _add_stage_commands()
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", "-i", str(tmp_path / "a.jsonl"), "-o", str(tmp_path / "raw"), "-q"]).exit_code == 0
    result = runner.invoke(cli, ["langid", "-i", str(tmp_path / "raw"), "-o", str(tmp_path / "lang"),
                                 "--model", str(tmp_path / "missing.ftz"), "-q"])
    assert result.exit_code == 1 and "missing.ftz: language model file not found" in result.output
    assert "Traceback" not in result.output


def test_glotlid_style_labels(tmp_path):
    import fasttext

    assert parse_label("__label__cmn_Hani") == ("zh", "Hani")
    assert parse_label("__label__yue_Hani") == ("yue", "Hani")
    assert parse_label("__label__en") == ("en", None)
    lines = []
    for i in range(60):
        lines += [f"__label__eng_Latn the cat sat on the mat number {i} and then it slept",
                  f"__label__rus_Cyrl кошка сидела на коврике номер {i} а потом спала",
                  f"__label__cmn_Hani 猫坐在垫子上第{i}号然后睡着了"]
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    model = fasttext.train_supervised(str(tmp_path / "train.txt"), epoch=20, minn=1, maxn=3, thread=1, seed=1,
                                      verbose=0)
    model.save_model(str(tmp_path / "glot.bin"))
    kept, _ = run(["the cat sat on the mat", "кошка сидела", "猫坐在垫子上"], model=str(tmp_path / "glot.bin"),
                  min_score=0.0)
    assert [(r["lang"], r["lang_script"]) for r in kept] == [("en", "Latn"), ("ru", "Cyrl"), ("zh", "Hani")]


def test_config_validation():
    with pytest.raises(ConfigError, match="thresholds.en: a score between 0 and 1"):
        stage(thresholds={"en": 1.5})
    with pytest.raises(ConfigError, match="top_k: must be >= 1"):
        stage(top_k=0)


def test_stage_on_sample_data(tmp_path):
    from dataprep.corpus import Corpus
    from dataprep.executor import LocalExecutor
    from dataprep.runner import run_stage
    from conftest import ROOT
    from dataprep.stages.ingest import IngestConfig, IngestStage

    truth = json.loads((ROOT / "sample_data" / "truth.json").read_text())["docs"]
    with LocalExecutor(2) as ex:
        run_stage(IngestStage(parse(IngestConfig, {"paths": [str(ROOT / "sample_data/raw/web-multi.jsonl")]})), None,
                  tmp_path / "raw", ex)
        run = run_stage(stage(min_score=0.0), Corpus.open(tmp_path / "raw"), tmp_path / "lang", ex)
    rows = [r for r in read_corpus(tmp_path / "lang") if truth[r["id"]]["quality"] != "short"]
    wrong = [(r["id"], r["lang"]) for r in rows if r["lang"] != truth[r["id"]]["lang"]]
    assert len(rows) >= 140 and not wrong
    assert run.manifest["rows_in"] == run.manifest["rows_kept"] + run.manifest["rows_rejected"]
    assert not read_rejected(tmp_path / "lang")


def test_chinese_scripts_of_a_column_equal_one_text_at_a_time():
    import random

    from dataprep.stages.langid import SCRIPT_SAMPLE_CHARS, SIMPLIFIED_ONLY, TRADITIONAL_ONLY, chinese_scripts

    rng = random.Random(11)
    pool = sorted(SIMPLIFIED_ONLY) + sorted(TRADITIONAL_ONLY) + list("中文的是了 abc，。\n") + ["\U00020000", "😀"]
    texts = ["".join(rng.choice(pool) for _ in range(rng.randint(0, 1500))) for _ in range(300)] + ["", "中文"]
    assert chinese_scripts(texts) == [chinese_script(t[:SCRIPT_SAMPLE_CHARS]) for t in texts]
    assert {"Hans", "Hant", None} <= set(chinese_scripts(texts))


def test_fasttext_module_is_built_where_there_is_a_compiler():
    import shutil

    from dataprep import ftmodel

    if shutil.which("cc") or shutil.which("gcc"):
        assert ftmodel._F is not None, "a C compiler is present but dataprep._fasttext was not built"


def test_langid_uses_the_compiled_predictor_unless_told_not_to(monkeypatch):
    from dataprep import ftmodel
    from dataprep.stages import langid

    if ftmodel._F is not None:
        langid._models.clear()
        assert isinstance(langid.load_model(None), ftmodel.Model)
    monkeypatch.setenv("DATAPREP_PURE_PYTHON", "1")
    langid._models.clear()
    try:
        assert not isinstance(langid.load_model(None), ftmodel.Model)
    finally:
        langid._models.clear()
