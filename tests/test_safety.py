"""The safety stage: obfuscated spellings match and map back to the original text, scores are
densities, news that mentions a topic survives, planted unsafe documents go, sample documents stay,
list files are checked, and the output is the same for any number of workers."""

import json
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from conftest import ROOT, read_corpus, read_rejected, write_jsonl
from dataprep.config import ConfigError, parse
from dataprep.stages.safety import SafetyConfig, SafetyStage
from dataprep.stages.safety import matcher as M
from dataprep.stages.safety.terms import BUILTIN_LISTS, load_lexicon

TRUTH = json.loads((ROOT / "sample_data" / "truth.json").read_text())
UNSAFE = ROOT / "sample_data" / "raw" / "unsafe.jsonl"


@pytest.fixture(scope="module")
def stage() -> SafetyStage:
    return SafetyStage(SafetyConfig())


def found_terms(stage: SafetyStage, text: str) -> dict[str, int]:
    found = stage.matcher.find(text)
    return {stage.matcher.lexicon.terms[t].text: len(spans) for t, spans in found.terms.items()}


def score(texts: list[str], langs: list[str] | None = None, **cfg):
    cols = {"id": [f"d{i}" for i in range(len(texts))], "text": texts}
    if langs is not None:
        cols["lang"] = langs
    return SafetyStage(parse(SafetyConfig, cfg, "safety")).score(pa.table(cols))


# --- matching through obfuscation ------------------------------------------------------------------


@pytest.mark.parametrize("text,term", [
    ("赌 博", "赌博"), ("赌*博", "赌博"), ("赌·博", "赌博"), ("賭博", "赌博"), ("注 册 送 彩 金", "注册送彩金"),
    ("p*o*r*n", "porn"), ("p o r n", "porn"), ("p.o.r.n", "porn"), ("po*rn", "porn"), ("PORN", "porn"),
    ("ｐｏｒｎ", "porn"), ("p0rn", "porn"), ("pоrn", "porn"),  # the last with a Cyrillic о
    ("p\u200bo\u200br\u200bn", "porn"), ("pòrn", "porn"), ("c4s1n0 b0nus", "casino bonus"),
    ("ONLINE-CASINO", "online casino"), ("onlinecasino", "online casino"), ("online _ casino", "online casino"),
    ("ｆｒｅｅ ｓｐｉｎｓ", "free spins"), ("$ex videos", "sex videos"), ("ＡＶ女优", "av女优"), ("18禁", "18禁"), ("AV女優", "av女优"),
    ("p o r n  v i d e o s", "porn videos"), ("S E X  C A M S", "sex cams"),  # wider gaps stay word breaks
])
def test_obfuscated_spellings_match(stage, text, term):
    assert found_terms(stage, f"Intro text. {text} and more.") == {term: 1}


@pytest.mark.parametrize("text", [
    "alphabet soup", "a skilled worker", "the cas ino", "赌，博", "赌\n博", "p, o, r, n", "2018禁止吸烟",
    "赌…博", "赌    博", "Sussex", "scorn and popcorn", "露点温度", "上门服务", "the bookkeeper", "antiporn", "人気女優の新作映画",
])
def test_words_inside_other_words_and_punctuated_clauses_do_not_match(stage, text):
    assert found_terms(stage, text) == {}


def test_longest_term_wins_and_overlaps_count_once(stage):
    assert found_terms(stage, "no deposit bonus") == {"no deposit bonus": 1}
    assert found_terms(stage, "日本av女优") == {"日本av": 1}  # `av女优` overlaps it: not counted again


@pytest.mark.parametrize("text,seen", [
    ("Hello there, p*o*r*n here", "p*o*r*n"),
    ("ﬁne ﬂowers … ｃａｓｉｎｏ", "ｃａｓｉｎｏ"),  # the ligatures expand under NFKC (ﬁ: fi) before the match
    ("前言\u200b賭 場开户", "賭 場开户"),
    ("x\u0301y p0rn", "p0rn"),
])
def test_matches_map_back_to_the_original_characters(stage, text, seen):
    found = stage.matcher.find(text)
    spans = [s for spans in found.terms.values() for s in spans]
    (start, end), = M.original_spans(text, spans)
    assert text[start:end] == seen


def test_rejected_rows_show_the_terms_as_written_in_the_text():
    text = "p*o*r*n, p*o*r*n, live sex cams and free porn videos, nude pics"
    kept, rejected, _ = score([text])
    detail = rejected["detail"][0].as_py()
    assert rejected["reason"].to_pylist() == ["safety:porn"]
    assert "porn ×2 ('p*o*r*n')" in detail and "threshold 20" in detail


# --- scores ------------------------------------------------------------------------------------------

ZH_FILLER = "今天的天气很好，我们一起去公园散步，路上看到很多孩子在放风筝。"
EN_FILLER = "The weather was fine and we walked through the park, where children were flying kites. "


def test_score_is_weight_per_thousand_characters_with_a_floor_for_short_texts():
    spam = "注册送彩金，百家乐，娱乐城。"  # three terms of weight 8
    kept, rejected, _ = score([spam, spam + ZH_FILLER * 100], dry_run=True)
    long_chars = len(spam + ZH_FILLER * 100)
    assert kept["safety_gambling_matches"].to_pylist() == [3, 3]
    assert kept["safety_gambling"].to_pylist() == [24.0, round(1000 * 24 / long_chars, 3)]  # short: as if 1,000 chars
    assert kept["safety_reason"].to_pylist() == ["safety:gambling", None]
    assert kept["safety_porn"].to_pylist() == [0.0, 0.0]


def test_one_mention_in_a_long_text_is_kept_but_a_spam_page_is_removed():
    article = EN_FILLER * 12 + "A casino opened in the old hotel last year. " + EN_FILLER * 12
    page = "Best online casino! Claim your bonus: free spins, no deposit bonus, bet now. " * 5
    kept, rejected, _ = score([article, page])
    assert kept["id"].to_pylist() == ["d0"] and kept["safety_gambling"][0].as_py() < 1
    assert rejected["reason"].to_pylist() == ["safety:gambling"]


NEWS = {
    "en_casino_once": (
        "The harbour district has changed more in the past decade than in the fifty years before it. Warehouses "
        "that once stored grain and timber now hold studios, a climbing gym and a small brewery, and the old ferry "
        "terminal has been turned into a covered market that opens every weekend.\n"
        "City planners say the change began when the port authority moved its container traffic to a new terminal "
        "further down the coast. A proposal to build a casino on the site was debated for two years and finally "
        "rejected by the council, which chose a mix of housing, parks and small businesses instead.\n"
        "The next phase of the project will add a primary school and a library branch, and the council has "
        "promised to publish a full report on housing costs in the district before the end of the year."),
    "en_gambling_policy": (
        "Lawmakers in the state assembly voted on Tuesday to delay a bill that would have allowed online casinos to "
        "operate under state licences, sending the measure back to committee for further study.\n"
        "Supporters of the bill argued that residents already gamble on offshore websites and that regulation "
        "would bring in tax revenue and consumer protection. Opponents, including several addiction counsellors, "
        "said that online gambling is far harder to supervise than a physical casino and that problem gambling "
        "among young adults has risen since sports betting was legalised three years ago.\n"
        "The state's lottery commission said it would publish data on sports betting revenue and on calls to its "
        "gambling helpline before the committee meets again. One neighbouring state allows online poker but not "
        "other games, while another has banned all forms of online wagering."),
    "en_attack_report": (
        "Police said on Sunday that three people had been arrested in connection with the bombing of a railway "
        "depot on Friday night, in which no one was injured.\n"
        "Investigators believe the device was placed by members of a small extremist group that has claimed "
        "responsibility for two earlier attacks on infrastructure. Officials did not describe it as a terrorist "
        "attack at first, but the national prosecutor's office took over the case under the country's terrorism "
        "laws. Train services resumed on Sunday afternoon after engineers inspected the tracks."),
    "en_art_history": (
        "The exhibition brings together more than eighty paintings and drawings from the museum's collection. The "
        "third room is devoted to the human figure, including several nude studies that the artist made as a "
        "student at the academy, and a short film shows conservators cleaning one of the large canvases."),
    "zh_gambling_crackdown": (
        "近日，某市公安局网安支队成功破获一起跨境网络赌博案，抓获犯罪嫌疑人23名，冻结涉案资金1200余万元。"
        "经查，该团伙自2022年起搭建赌博网站，以“高额返利”为诱饵招揽赌客，通过境外服务器组织网络赌博活动，"
        "累计参赌人员逾万人，涉案流水超过3亿元。\n"
        "警方提醒，网络赌博危害极大，不少人因参赌倾家荡产。广大市民要自觉远离赌博，切勿轻信“稳赚不赔”等虚假宣传，"
        "发现涉赌线索请及时向公安机关举报。"),
    "zh_porn_crackdown": (
        "记者从省“扫黄打非”办公室获悉，今年以来，全省共查处涉及淫秽色情信息的网络案件47起，关闭违法网站和账号1300余个。"
        "其中，某地警方破获一起利用境外服务器传播色情视频的案件，抓获犯罪嫌疑人9名。有关负责人表示，"
        "将继续加大对网络直播、短视频等平台的巡查力度，为未成年人营造清朗的网络空间。"),
    "zh_counter_terror": (
        "为检验反恐应急处置能力，市反恐怖工作领导小组办公室于昨日在火车站广场组织开展了一次综合演练。"
        "演练模拟恐怖分子在人员密集场所实施爆炸袭击并劫持人质，公安、消防、医疗等多部门协同处置。"
        "有关负责人表示，要坚持预防为主，严厉打击暴恐活动，防范恐怖袭击发生。"),
    "zh_history": (
        "阿拔斯王朝建立于公元750年，定都巴格达。王朝前期，哈里发重视学术，设立智慧宫，组织学者翻译希腊、波斯和印度的典籍。"
        "九世纪以后，地方总督的势力逐渐增强，哈里发的实际权力日益衰落。1258年，蒙古军队攻陷巴格达，阿拔斯王朝灭亡。"),
    "zh_lottery": (
        "本期体育彩票开奖结果揭晓，全国共中出一等奖3注。据统计，本期彩票销量较上期增长百分之八。"
        "体彩中心提醒广大购彩者理性购彩，量力而行。彩票公益金将用于全民健身和青少年体育事业。"),
}


def test_news_reports_on_gambling_porn_and_terrorism_survive():
    kept, rejected, _ = score(list(NEWS.values()), dry_run=True)
    assert rejected.num_rows == 0
    by_name = dict(zip(NEWS, kept.to_pylist()))
    assert all(r["safety_reason"] is None for r in by_name.values()), {n: r["safety_detail"] for n, r in
                                                                        by_name.items()}
    assert by_name["en_gambling_policy"]["safety_gambling_matches"] >= 8  # the terms are found, the density is low
    assert by_name["zh_gambling_crackdown"]["safety_gambling_matches"] >= 5
    for r in by_name.values():
        assert max(r["safety_porn"], r["safety_gambling"], r["safety_violence"]) < 20


def test_real_chinese_encyclopedic_text_is_untouched():
    docs = [json.loads(line) for line in (Path(__file__).parent / "data" / "zh_encyclopedic.jsonl").open()]
    kept, rejected, counts = score([d["text"] for d in docs])
    assert rejected.num_rows == 0 and kept.num_rows == len(docs)
    assert max(kept["safety_violence"].to_pylist() + kept["safety_porn"].to_pylist()) < 5


# --- options -------------------------------------------------------------------------------------------

SPAM_ZH = "澳门娱乐城注册送彩金，百家乐真人荷官，首存即送，提款秒到！"


def test_thresholds_per_category_and_language_and_min_matches():
    assert score([SPAM_ZH])[1]["reason"].to_pylist() == ["safety:gambling"]
    assert score([SPAM_ZH], thresholds={"gambling": None})[0].num_rows == 1  # scored, never rejected
    assert score([SPAM_ZH], threshold=100)[0].num_rows == 1
    kept, rejected, _ = score([SPAM_ZH, SPAM_ZH], ["zh", "en"], languages={"zh": {"gambling": None}})
    assert kept["id"].to_pylist() == ["d0"] and rejected["id"].to_pylist() == ["d1"]
    assert score(["注册送彩金，娱乐城，百家乐。"], min_matches=4)[0].num_rows == 1


def test_exempt_rows_are_scored_but_kept():
    table = pa.table({"id": ["a", "b"], "text": [SPAM_ZH, SPAM_ZH], "source": ["news-archive", "crawl"]})
    kept, rejected, counts = SafetyStage(parse(SafetyConfig, {"exempt": {"source": ["news-archive"]}})).score(table)
    assert kept["id"].to_pylist() == ["a"] and kept["safety_gambling"][0].as_py() > 20
    assert rejected["id"].to_pylist() == ["b"] and counts["exempt_over_threshold"] == 1


def test_an_empty_shard_gets_the_columns():
    empty = pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())})
    kept, rejected, counts = SafetyStage(SafetyConfig()).score(empty)
    assert kept.num_rows == rejected.num_rows == 0 and "safety_violence_matches" in kept.column_names

def test_rescoring_replaces_the_columns():
    kept, _, _ = score(["plain text"], dry_run=True)
    again, _, _ = SafetyStage(SafetyConfig()).score(kept.drop_columns(["safety_reason", "safety_detail"]))
    assert again.column_names.count("safety_porn") == 1


def test_own_lists_with_new_categories_and_per_category_files(tmp_path):
    folder = tmp_path / "lists"
    folder.mkdir()
    (folder / "drugs.en.txt").write_text("# my list\nbuy cocaine | 10\nmeth lab | 10\n\ncocaine\n")
    (folder / "gambling.txt").write_text("lottery | 30\n")
    extra = tmp_path / "violence-mine.txt"
    extra.write_text("storm the castle | 25\n")
    stage = SafetyStage(parse(SafetyConfig, {"lists": str(folder), "violence_lists": [str(extra)]}))
    assert stage.matcher.categories == ("gambling", "violence", "drugs")
    kept, rejected, _ = stage.score(pa.table({"id": ["a", "b", "c"], "text": [
        "Buy cocaine here, b u y  c o c a i n e now", "lottery and lottery", "Storm the castle! storm-the-castle"]}))
    assert rejected["reason"].to_pylist() == ["safety:drugs", "safety:gambling", "safety:violence"]
    assert "safety_drugs" in rejected.column_names and "safety_porn" not in rejected.column_names


def test_edited_lists_change_the_fingerprint(tmp_path):
    folder = tmp_path / "lists"
    folder.mkdir()
    (folder / "gambling.txt").write_text("lottery | 30\n")
    before = SafetyStage(parse(SafetyConfig, {"lists": str(folder)})).version
    (folder / "gambling.txt").write_text("lottery | 31\n")
    assert SafetyStage(parse(SafetyConfig, {"lists": str(folder)})).version != before


@pytest.mark.parametrize("content,message", [
    (None, r"gambling_lists: .*missing\.txt: no such file"),
    ("# only a comment\n\n", r"gambling_lists: .*bad\.txt: the list has no terms"),
    ("casino | lots\n", r"gambling_lists: .*bad\.txt:1: weight must be a positive number, got 'lots'"),
    ("casino | -2\n", r"bad\.txt:1: weight must be a positive number"),
    ("ok term\n | 3\n", r"bad\.txt:2: a weight without a term"),
    ("casino\nx\n", r"bad\.txt:2: term 'x' is too short"),
    (b"caf\xe9\n", r"bad\.txt: not UTF-8 text \(byte 3\)"),
])
def test_bad_list_files_are_named_in_one_line(tmp_path, content, message):
    path = tmp_path / ("missing.txt" if content is None else "bad.txt")
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        parse(SafetyConfig, {"gambling_lists": [str(path)]}, "safety")


@pytest.mark.parametrize("cfg,message", [
    ({"lists": "/no/such/folder"}, r"safety\.lists: /no/such/folder: no such folder"),
    ({"thresholds": {"drugs": 5}}, r"safety\.thresholds\.drugs: unknown category; the lists have: porn, gambling, vio"),
    ({"languages": {"en": {"porn": 0}}}, r"safety\.languages\.en\.porn: a positive number is expected"),
    ({"threshold": -1}, r"safety\.threshold: a positive number"),
    ({"min_matches": 0}, r"safety\.min_matches: must be >= 1"),
])
def test_config_mistakes_name_the_key(cfg, message):
    with pytest.raises(ConfigError, match=message):
        parse(SafetyConfig, cfg, "safety")


def test_yaml_stage_checks_its_lists_before_any_work(tmp_path):
    from dataprep.runner import parse_pipeline

    stages = [{"ingest": {"paths": [str(UNSAFE)]}}, {"safety": {"gambling_lists": [str(tmp_path / "none.txt")]}}]
    with pytest.raises(ConfigError, match=r"^config: stages\[1\]\.safety\.gambling_lists: .*none\.txt: no such file$"):
        parse_pipeline({"workdir": str(tmp_path / "w"), "stages": stages})
    _, built = parse_pipeline({"workdir": str(tmp_path / "w"), "stages": [stages[0], {"safety": {"threshold": 30}}]})
    assert isinstance(built[1], SafetyStage) and built[1].config.threshold == 30

def test_cli_errors_are_one_line_and_help_has_examples(tmp_path):
    from dataprep.cli import _add_stage_commands, cli

    _add_stage_commands()
    (tmp_path / "empty").mkdir()
    write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "hello"}])
    runner = CliRunner()
    ingest = ["ingest", "-i", tmp_path / "in.jsonl", "-o", tmp_path / "raw", "-q"]
    assert runner.invoke(cli, list(map(str, ingest))).exit_code == 0
    missing, empty = tmp_path / "none.txt", tmp_path / "empty"
    for args, message in [
        (["--gambling-lists", missing], f"Error: ConfigError: safety.gambling_lists: {missing}: no such file"),
        (["--lists", empty], f"Error: ConfigError: safety.lists: {empty}: no list files"),
    ]:
        result = runner.invoke(cli, list(map(str, ["safety", "-i", tmp_path / "raw", "-o", tmp_path / "out", *args])))
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert result.output.strip().splitlines() == [result.output.strip()] and result.output.startswith(message)
    help_text = runner.invoke(cli, ["safety", "--help"]).output
    assert "Examples:" in help_text and "--gambling-lists" in help_text and "--dry-run" in help_text


def test_builtin_lists_are_small_documented_and_parse():
    lexicon = load_lexicon(None, {})
    assert lexicon.categories == ("porn", "gambling", "violence")
    files = sorted(BUILTIN_LISTS.glob("*.txt"))
    assert [f.name for f in files] == [f"{c}.{lang}.txt" for c in ("gambling", "porn", "violence")
                                       for lang in ("en", "zh")]
    for f in files:
        count = sum(t.where.split(": ", 1)[1].rsplit(":", 1)[0] == str(f) for t in lexicon.terms)
        assert 20 <= count <= 200, (f.name, count)
    readme = (BUILTIN_LISTS / "README.md").read_text()
    for word in ("weight", "min_chars", "--lists", "--gambling-lists", *[f.name for f in files]):
        assert word in readme


def test_a_term_listed_twice_in_a_category_counts_once(tmp_path):
    path = tmp_path / "gambling.txt"
    path.write_text("online casino | 3\nOnline-Casino | 5\nlottery\n")
    stage = SafetyStage(parse(SafetyConfig, {"lists": str(tmp_path)}))
    found = stage.matcher.find("an online casino")
    assert found.hits == [1] and found.weight == [5.0]


# --- the stage on sample_data, as a YAML pipeline, with 1 and 2 workers ------------------------------


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory):
    from dataprep.runner import parse_pipeline, run_pipeline

    outs = {}
    for workers in (1, 2):
        work = tmp_path_factory.mktemp(f"safety{workers}")
        pipe, stages = parse_pipeline({"workdir": str(work), "stages": [
            {"ingest": {"paths": [str(ROOT / "sample_data" / "raw" / "*.jsonl")], "promote": ["url", "source"],
                        "shard_rows": 400}},
            {"safety": {}}]})
        run_pipeline(pipe, stages, workers=workers)
        outs[workers] = work / "02-safety"
    return outs


def test_planted_unsafe_documents_are_removed_and_sample_documents_survive(sample_runs):
    out = sample_runs[2]
    kept = {r["id"]: r for r in read_corpus(out)}
    rejected = {r["id"]: r for r in read_rejected(out)}
    unsafe = [json.loads(line)["id"] for line in UNSAFE.open()]
    assert len(unsafe) >= 12 and set(kept) | set(rejected) == set(TRUTH["docs"])
    assert {d for d, label in TRUTH["docs"].items() if label["quality"] == "unsafe"} == set(unsafe)
    for doc_id in unsafe:
        category = doc_id.split("-")[2]
        assert doc_id in rejected, (doc_id, kept.get(doc_id, {}).get(f"safety_{category}"))
        assert rejected[doc_id]["reason"] == f"safety:{category}" and rejected[doc_id]["stage"] == "safety"
        assert rejected[doc_id]["detail"].startswith(category)
    # Of the sample corpus, only planted spam pages that advertise casinos (keyword-stuffed ads:
    # "澳门线上娱乐城注册送彩金！", "best casino bonus today!!!") are removed, as gambling; see docs/safety.md.
    flagged = {d: r["reason"] for d, r in rejected.items() if d not in unsafe}
    assert all(TRUTH["docs"][d]["quality"] == "spam" and reason == "safety:gambling" for d, reason in flagged.items())
    assert all("casino" in rejected[d]["text"] or "娱乐城" in rejected[d]["text"] for d in flagged)
    assert len(flagged) == 12
    good = [d for d, label in TRUTH["docs"].items() if label["quality"] != "spam" and d not in unsafe]
    assert all(d in kept for d in good)
    m = json.loads((out / "manifest.json").read_text())
    assert m["rows_in"] == m["rows_kept"] + m["rows_rejected"] == len(TRUTH["docs"])
    assert m["safety"]["lists"] == "built-in" and m["safety"]["categories"] == ["porn", "gambling", "violence"]
    assert m["counters"]["matched_docs:gambling"] >= len(flagged)


def test_same_bytes_for_any_worker_count(sample_runs):
    one, two = sample_runs[1], sample_runs[2]
    m1, m2 = (json.loads((d / "manifest.json").read_text()) for d in (one, two))
    assert m1["shards"] == m2["shards"] and m1["rejected_shards"] == m2["rejected_shards"]
    for rec in m1["shards"] + m1["rejected_shards"]:
        assert (one / rec["file"]).read_bytes() == (two / rec["file"]).read_bytes()
    assert m1["reasons"] == m2["reasons"] and m1["counters"] == m2["counters"]



def test_rust_prefilter_flags_exactly_the_texts_python_matches(stage):
    """find_many asks polars (Rust regex, no look-around) which canonical texts have a match; it
    must say yes exactly where Python's regex finds one, or matches would be lost (or time wasted)."""
    import random

    import polars as pl

    m = stage.matcher
    rng = random.Random(3)
    terms = [t.text for t in m.lexicon.terms]
    texts = []
    for term in terms:
        spaced = " ".join(term)
        for t in (term, spaced, term.upper(), term.replace(" ", "*")):
            texts += [t, f"x{t}", f"{t}x", f"1{t}1", f" {t} ", f"Intro. {t}, more.", f"{t}\n{t}", f"a-{t}-b"]
    texts += ["alphabet soup", "between the bets", "Sussex", "scorn and popcorn", "", "a", "赌", "露点温度"]
    texts += [" ".join(rng.choice(terms) + rng.choice(["", "s", "x", "ing"]) for _ in range(3)) for _ in range(500)]
    texts += [r["text"] for r in map(json.loads, UNSAFE.read_text(encoding="utf-8").splitlines())]
    canon = pl.Series([M.canonical(t) for t in texts])
    for rx, pattern in zip(m.regexes, m.rust_patterns):
        rust = canon.str.contains(pattern).to_list()
        python = [rx.search(c) is not None for c in canon.to_list()]
        assert rust == python
        assert 0 < sum(python) < len(texts)
    many = m.find_many(texts)
    assert [(f.hits, f.weight, f.terms) for f in many] == \
        [(f.hits, f.weight, f.terms) for f in (m.find(t) for t in texts)]
