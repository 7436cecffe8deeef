"""The domain stage: code and math found by rules alone on sample_data, hand-written Chinese and
English documents of every domain, metadata that decides before the rules, determinism across
worker counts, config mistakes named by key, the manifest, and the optional fastText classifier."""

import json
from importlib.metadata import entry_points
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from click.testing import CliRunner

from conftest import ROOT, read_corpus, read_rejected, write_jsonl
from dataprep.config import ConfigError, parse
from dataprep.corpus import Corpus
from dataprep.executor import make_executor
from dataprep.runner import run_stage
from dataprep.stage import StageError
from dataprep.stages.domain import DomainConfig, DomainStage, glob_regex
from dataprep.stages.domain import model as M
from dataprep.stages.domain.cli import domain_train
from dataprep.stages.ingest import IngestConfig, IngestStage

TRUTH = json.loads((ROOT / "sample_data" / "truth.json").read_text())["docs"]
METADATA = {"sources": {"code": "code", "edu": "math", "papers": "math"}, "urls": {"git.example/*": "code"}}


def stage(**cfg) -> DomainStage:
    return DomainStage(parse(DomainConfig, cfg, "domain"))


def tag(texts: list[str], **cfg) -> list[str]:
    kept, _, _ = stage(**cfg).tag(pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": texts}))
    return kept["domain"].to_pylist()


def ingest(paths: list[Path], out: Path, ex, **cfg) -> Corpus:
    run_stage(IngestStage(parse(IngestConfig, {"paths": [str(p) for p in paths], **cfg}, "ingest")), None, out, ex)
    return Corpus.open(out)


def precision_recall(rows: list[dict], domain: str) -> tuple[float, float]:
    hits = sum(1 for r in rows if r["domain"] == domain and TRUTH[r["id"]]["domain"] == domain)
    tagged = sum(1 for r in rows if r["domain"] == domain)
    actual = sum(1 for r in rows if TRUTH[r["id"]]["domain"] == domain)
    return hits / max(tagged, 1), hits / max(actual, 1)


# --- sample_data ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory):
    """The sample corpus tagged by the rules alone (ingested without its url and source columns)
    and with a metadata map."""
    work = tmp_path_factory.mktemp("domain")
    raw = sorted((ROOT / "sample_data" / "raw").glob("*.jsonl"))
    with make_executor("local", 1) as ex:
        bare = ingest(raw, work / "bare", ex, promote=[])
        full = ingest(raw, work / "full", ex)
        rules = run_stage(stage(), bare, work / "rules", ex)
        meta = run_stage(stage(**METADATA), full, work / "meta", ex)
    return rules, meta


@pytest.mark.parametrize("domain", ["code", "math"])
def test_sample_code_and_math_are_found_by_the_rules_alone(sample_runs, domain):
    rules, _ = sample_runs
    assert not {"url", "source"} & {c["name"] for c in rules.manifest["schema"]}
    rows = read_corpus(rules.out_dir)
    precision, recall = precision_recall(rows, domain)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
    assert rules.manifest["domain"]["by"] == {"rules": len(rows)}


@pytest.mark.parametrize("domain", ["code", "math"])
def test_sample_with_the_metadata_map(sample_runs, domain):
    _, meta = sample_runs
    rows = read_corpus(meta.out_dir)
    assert precision_recall(rows, domain) == (1.0, 1.0)
    by_source = [r for r in rows if r["source"] in METADATA["sources"]]
    assert by_source and all(r["domain_by"] == "source" for r in by_source)


def test_sample_keeps_every_row_and_counts_domains_in_the_manifest(sample_runs):
    rules, _ = sample_runs
    m = rules.manifest
    assert m["rows_in"] == m["rows_kept"] == len(TRUTH) and m["rows_rejected"] == 0
    d = m["domain"]
    # 24 programs and 24 math documents, and one homework page quoting a maths question (quotes.jsonl)
    assert sum(d["docs"].values()) == len(TRUTH) and d["docs"]["code"] == 24 and d["docs"]["math"] == 25
    assert sum(d["chars"].values()) == m["chars_in"]
    assert d["order"] == ["code", "math", "academic", "qa/forum", "news", "encyclopedia"]
    assert m["counters"]["domain:code"] == 24 and m["counters"]["domain_by:rules"] == len(TRUTH)
    assert not [k for k in m["counters"] if k.startswith("domain_chars:")]
    row = read_corpus(rules.out_dir)[0]
    assert list(row["domain_scores"]) == d["order"] and all(0 <= v <= 1 for v in row["domain_scores"].values())


# --- hand-written documents ----------------------------------------------------------------------------

CODE = {
    "python, Chinese comments": (
        "# 计算平均值\ndef average(nums):\n    # 空列表返回 0\n    if not nums:\n        return 0\n"
        "    return sum(nums) / len(nums)\n\n\n# 测试\nprint(average([1, 2, 3]))  # 输出 2.0"),
    "java, Chinese javadoc": (
        "/**\n * 用户服务类\n * @author 张三\n */\npublic class UserService {\n    // 根据ID查询用户\n"
        "    public User findById(Long id) {\n        return userMapper.selectById(id);\n    }\n}"),
    "markdown tutorial, Chinese": (
        "在 Python 中读取 CSV 文件，最简单的办法是用 pandas：\n```python\nimport pandas as pd\n\n"
        "df = pd.read_csv(\"data.csv\")  # 读取数据\nprint(df.head())\n```\n运行后会输出前五行。"),
    "shell script": (
        "#!/bin/bash\n# 备份数据库\nset -e\nDATE=$(date +%F)\nmysqldump -u root mydb > /backup/mydb-$DATE.sql\n"
        "echo \"备份完成\""),
    "go": "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"你好\")\n}",
    "rust": (
        "use std::collections::HashMap;\n\nfn count(words: &[&str]) -> HashMap<String, usize> {\n"
        "    let mut m = HashMap::new();\n    for w in words {\n"
        "        *m.entry(w.to_string()).or_insert(0) += 1;\n    }\n    m\n}"),
    "sql, Chinese comment": (
        "-- 查询每个部门的平均工资\nSELECT dept, AVG(salary) AS avg_salary\nFROM employees\nWHERE hired > '2020-01-01'\n"
        "GROUP BY dept\nORDER BY avg_salary DESC;"),
    "javascript, Chinese strings": (
        "// 登录校验\nconst form = document.querySelector('#login');\nform.addEventListener('submit', (e) => {\n"
        "  if (!form.user.value) {\n    alert('请输入用户名');\n    e.preventDefault();\n  }\n});"),
}
MATH = {
    "word problem, pencils": "小明有15支铅笔，送给同学6支，又买了8支，现在小明有多少支铅笔？",
    "word problem, rectangle": "一个长方形的周长是36厘米，长是10厘米，它的宽是多少厘米？",
    "word problem, travel": "甲乙两地相距240千米，一辆汽车从甲地开往乙地，每小时行驶60千米，几小时可以到达？",
    "equation": "解方程：3x + 5 = 20。\n解：3x = 15，x = 5。",
    "function": "已知函数f(x)=x²-2x+3，求f(x)在区间[0,3]上的最大值和最小值。",
    "geometry proof": "证明：三角形的内角和等于180°。\n证明：过点A作直线DE平行于BC，则∠DAB=∠B，∠EAC=∠C，所以∠B+∠BAC+∠C=180°。",
    "latex proof": (
        "Theorem. The square root of 2 is irrational.\n"
        "Proof. Suppose $\\sqrt{2} = p/q$ with $p, q$ coprime. Then $p^2 = 2q^2$, so $p$ is even; write $p = 2k$. "
        "Then $q^2 = 2k^2$ and $q$ is even too, a contradiction."),
    "exam sheet": "1. 计算：(1) 25 × 4 + 36 ÷ 6；(2) 1.5 + 2.75 - 0.25。\n2. 解方程：2x - 7 = 9。\n3. 一个圆的半径是3厘米，求它的面积。（π取3.14）",
    "english word problem": (
        "A tank holds 120 litres and leaks 4 litres per hour. How many hours until it is half empty?"),
}
OTHER = {
    "news, zh": ("news", (
        "新华社北京3月5日电（记者王明）国家统计局5日发布数据显示，2023年全国粮食总产量达到13908亿斤，比上年增加177.6亿斤，增长1.3%。国家统计局农村司司长表示，粮食生产再获丰收，"
        "为稳定经济大盘提供了有力支撑。")),
    "news, en": ("news", (
        "BEIJING, March 5 (Reuters) - China's grain output rose 1.3% last year, the statistics bureau said on "
        "Tuesday, according to a statement published on its website. Officials said the harvest would support "
        "prices.")),
    "encyclopedia, zh": ("encyclopedia", (
        "长城，又称万里长城，是中国古代的军事防御工程，位于中国北部。长城始建于春秋战国时期，东起山海关，西至嘉峪关，总长度超过2万千米。1987年，长城被列为世界文化遗产。")),
    "encyclopedia, en": ("encyclopedia", (
        "Lyon is a city in France. It is located at the confluence of the Rhône and Saône, about 470 km south-east "
        "of Paris, and has a population of 522,969.")),
    "academic, zh": ("academic", (
        "摘要：本文提出一种基于字符n元组的中文文本去重方法。实验结果表明，该方法在三个数据集上均优于基线[1]。\n关键词：去重；哈希；中文\n参考文献\n"
        "[1] 王明, 李华. 中文网页去重研究[J]. 计算机学报, 2019.")),
    "academic, en": ("academic", (
        "Abstract\nWe propose a method for near-duplicate detection. Prior work [1, 2] relies on MinHash (Broder, "
        "1997). Our experiments show gains of 4.1 points (Table 2).\nReferences\n"
        "[1] A. Broder et al. On the resemblance and containment of documents. 1997.")),
    "forum asking a price, zh": ("qa/forum", (
        "楼主的电脑内存8G，硬盘512G，想再加一根16G内存条，大概需要多少钱？有没有懂的朋友推荐一下？\n回复：金士顿或者三星都可以，一根16G的大概两百多块。")),
    "q and a, en": ("qa/forum", (
        "Q: How do I reset my router to factory settings?\n"
        "A: Hold the reset button on the back for 10 seconds until the lights blink.\n"
        "Thanks in advance, that worked!")),
    "recipe, zh": ("web", (
        "准备200克面粉、2个鸡蛋和100毫升牛奶。先把鸡蛋打散，加入牛奶搅拌均匀，再分三次加入面粉，搅成没有颗粒的面糊。平底锅刷一层薄油，小火加热后倒入一勺面糊，摊开煎1分钟，翻面再煎半分钟即可。")),
    "sports report, en": ("web", (
        "Manchester City beat Arsenal 3-1. Haaland scored twice in the first half, and Foden added a third after "
        "67 minutes. City now lead the table by 4 points with 10 games left.")),
    "hard-wrapped novel": ("web", (
        "He said that if they wanted to go, they could;\nfor the rest of us, there was nothing to do but wait.\n"
        "return to the house, he told them, and do not\nlet anyone in until I come back.\n"
        "while the others slept, she kept watch;\nfor the night was long and cold.")),
    "clauses of a law": ("web", (
        "Section 1. Definitions; for the purposes of this Act:\n(a) \"Agency\" means any department of the State;\n"
        "(b) \"Person\" means an individual, partnership or corporation;\n"
        "(c) \"Record\" means any document, in any form.")),
    "poem": ("web", (
        "Roses are red,\nViolets are blue;\nSugar is sweet,\nAnd so are you.")),
    "novel opening": ("web", (
        "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
        "foolishness.")),
    "Chinese prose with ASCII semicolons": ("web", (
        "- 去重与降噪:基于SimHash算法剔除重复文本,过滤低质量广告;\n- 语言平衡:通过语种识别模型(如FastText)确保中英文数据比例合理;\n"
        "- 数学推理:在GSM8K数据集上,准确率从62%提升至78%;")),
}


@pytest.mark.parametrize("name", list(CODE))
def test_code_with_chinese_comments_and_strings_is_code(name):
    assert tag([CODE[name]]) == ["code"]


@pytest.mark.parametrize("name", list(MATH))
def test_chinese_word_problems_and_proofs_are_math(name):
    assert tag([MATH[name]]) == ["math"]


@pytest.mark.parametrize("name", list(OTHER))
def test_other_domains_and_look_alikes(name):
    expected, text = OTHER[name]
    assert tag([text]) == [expected]


def test_real_chinese_prose_is_neither_code_nor_math():
    rows = [json.loads(line) for line in (ROOT / "tests" / "data" / "zh_encyclopedic.jsonl").read_text().splitlines()]
    domains = tag([r["text"] for r in rows])
    assert not [(r["id"], d) for r, d in zip(rows, domains) if d in ("code", "math")]
    assert domains[0] == "encyclopedia"  # 阿司匹林（英语：Aspirin），也称乙酰水杨酸……


def test_real_chinese_web_pages_are_neither_code_nor_math(shared_data):
    texts = [p.read_text(encoding="utf-8") for p in sorted((shared_data / "seeds_text").glob("*.txt"))]
    assert texts
    assert not {"code", "math"} & set(tag(texts))


def test_rules_read_only_the_start_of_long_documents():
    text = "这是一段普通的说明文字。" * 200 + "\n" + CODE["python, Chinese comments"] * 20
    assert tag([text], max_chars=2000) == ["web"]
    assert tag([text]) == tag([text], max_chars=0) == ["code"]


# --- metadata, own domains, priority, drop ------------------------------------------------------------


def test_source_then_url_then_rules_decide():
    cfg = {"sources": {"wiki": "encyclopedia"}, "urls": {"*.wikipedia.org": "encyclopedia", "github.com/*": "code",
                                                        "github.com/*/docs/*": "web"}}
    table = pa.table({
        "id": list("abcdefg"),
        "text": [MATH["equation"], MATH["equation"], MATH["equation"], "plain words", "plain words",
                 MATH["equation"], CODE["shell script"]],
        "url": ["https://zh.wikipedia.org/wiki/方程", "HTTPS://WWW.GITHUB.COM:443/a/b?x=1", "github.com", None,
                "https://github.com/a/docs/intro", "https://example.org/", "https://wikipedia.org/"],
        "source": [None, None, None, "wiki", "web", "web", None],
    })
    kept, rejected, counts = stage(**cfg).tag(table)
    got = [(r["domain"], r["domain_by"]) for r in kept.select(["domain", "domain_by"]).to_pylist()]
    assert got == [("encyclopedia", "url"), ("code", "url"), ("math", "rules"), ("encyclopedia", "source"),
                   ("web", "url"), ("math", "rules"), ("code", "rules")]
    assert rejected.num_rows == 0
    assert counts["domain_by:url"] == 3 and counts["domain_by:source"] == 1 and counts["domain_by:rules"] == 3


def test_glob_translation():
    assert glob_regex("*.wiki[!x]?.org") == r"^.*\.wiki[^x].\.org$"
    assert glob_regex("a[b") == r"^a\[b$"


def test_missing_metadata_columns_are_named():
    table = pa.table({"id": ["a"], "text": ["x"]})
    with pytest.raises(StageError, match="domain.urls: the corpus has no column 'url'"):
        stage(urls={"*.gov": "news"}).tag(table)
    with pytest.raises(StageError, match="domain.sources: the corpus has no column 'src'"):
        stage(sources={"a": "code"}, source_column="src").tag(table)


def test_own_domains_priority_and_extra_cues():
    legal = "原告张三诉被告李四买卖合同纠纷一案，本院受理后依法组成合议庭，判决书如下。"
    cfg = {"domains": {"legal": {"patterns": ["判决书|原告|被告|合议庭"]}}}
    assert tag([legal, MATH["word problem, pencils"]], **cfg) == ["legal", "math"]
    scores = stage(**cfg).scores(pl.Series([legal]))
    assert scores.columns[0] == "legal" and scores["legal"][0] == 1.0
    # a tie of full scores goes to the earlier domain in priority order
    both = "解方程：3x + 5 = 20。解：x = 5。原告被告判决书合议庭"
    assert tag([both], **cfg) == ["legal"]
    assert tag([both], **cfg, priority=["math"]) == ["math"]
    # more cues for a built-in domain, a stricter threshold for another
    fortran = "PROGRAM HELLO\nPRINT *, 'HI'\nEND PROGRAM"
    assert tag([fortran]) == ["web"]
    assert tag([fortran], domains={"code": {"patterns": ["PROGRAM ", "PRINT ", "END "]}}) == ["code"]
    assert tag([MATH["word problem, pencils"]], domains={"math": {"threshold": 1.0}}) == ["web"]


def test_drop_rejects_a_domain_and_accounting_holds(tmp_path):
    docs = [{"id": f"d{i}", "text": text} for i, text in enumerate([*CODE.values(), *MATH.values(), "你好，世界。"])]
    write_jsonl(tmp_path / "in.jsonl", docs)
    with make_executor("local", 1) as ex:
        raw = ingest([tmp_path / "in.jsonl"], tmp_path / "raw", ex)
        run = run_stage(stage(drop=["math", "web"]), raw, tmp_path / "out", ex)
    m = run.manifest
    assert m["rows_in"] == m["rows_kept"] + m["rows_rejected"] == len(docs)
    assert m["reasons"] == {"domain:dropped": len(MATH) + 1}
    assert {r["domain"] for r in read_rejected(tmp_path / "out")} == {"math", "web"}
    assert {r["domain"] for r in read_corpus(tmp_path / "out")} == {"code"}
    assert m["domain"]["docs"] == {"code": len(CODE), "math": len(MATH), "web": 1}
    assert m["domain"]["dropped"] == ["math", "web"]


# --- determinism, config ----------------------------------------------------------------------------------


def test_same_input_gives_the_same_bytes_for_any_worker_count(tmp_path):
    texts = [*CODE.values(), *MATH.values(), *(t for _, t in OTHER.values())]
    docs = [{"id": f"d{i:03d}", "text": texts[i % len(texts)], "url": f"https://site{i % 3}.example/p{i}"}
            for i in range(90)]
    write_jsonl(tmp_path / "in.jsonl", docs)
    cfg = {"urls": {"site1.example": "news"}, "drop": ["academic"]}
    outs = []
    for workers in (1, 2):
        with make_executor("local", workers) as ex:
            raw = ingest([tmp_path / "in.jsonl"], tmp_path / f"raw{workers}", ex, shard_rows=20)
            run = run_stage(stage(**cfg), raw, tmp_path / f"d{workers}", ex)
        files = [s["file"] for s in run.manifest["shards"] + run.manifest["rejected_shards"]]
        assert len(run.manifest["shards"]) == 5
        outs.append([(tmp_path / f"d{workers}" / f).read_bytes() for f in files])
        assert run.manifest["rows_in"] == run.manifest["rows_kept"] + run.manifest["rows_rejected"] == 90
    assert outs[0] == outs[1]


@pytest.mark.parametrize("cfg, message", [
    ({"urls": {"*.wikipedia.org": "encylopedia"}}, r"^urls\.\*\.wikipedia\.org: unknown domain 'encylopedia'"),
    ({"sources": {"code": "kode"}}, r"^sources\.code: unknown domain 'kode'"),
    ({"drop": ["spam"]}, r"^drop\[0\]: unknown domain 'spam'"),
    ({"priority": ["math", "legal"]}, r"^priority\[1\]: unknown domain 'legal'"),
    ({"priority": ["math", "math"]}, r"^priority: a domain is named twice"),
    ({"domains": {"legal": {"patterns": ["判决书(", "x"]}}}, r"^domains\.legal\.patterns\[0\]: not a valid regular"),
    ({"domains": {"legal": {"per_kchar": 0}}}, r"^domains\.legal\.per_kchar: a positive number"),
    ({"domains": {"legal": {"threshold": 2}}}, r"^domains\.legal\.threshold: a number in \(0, 1\]"),
    ({"domains": {"legal": {"weight": 2}}}, r"^domains\.legal\.weight: unknown key"),
    ({"domains": {"web": {}}}, r"^domains\.web: `web` is the fallback domain"),
    ({"domains": {"my domain": {}}}, r"^domains\.my domain: a domain name is"),
    ({"domains": {"code": {"per_kchar": 3}}}, r"^domains\.code\.per_kchar: code is scored by its lines"),
    ({"threshold": 0}, r"^threshold: a number in \(0, 1\]"),
    ({"model_threshold": 1.5}, r"^model_threshold: a number between 0 and 1"),
    ({"max_chars": -1}, r"^max_chars: must be >= 0"),
    ({"urls": {"a b": "code"}}, r"^urls\.a b: a URL glob is expected"),
    ({"drop": "web"}, r"^drop: expected list of string"),
    ({"treshold": 0.5}, r"^treshold: unknown key"),
])
def test_config_mistakes_are_one_line_naming_the_key(cfg, message):
    with pytest.raises(ConfigError, match=message) as e:
        parse(DomainConfig, cfg)
    assert "\n" not in str(e.value)


def test_a_yaml_pipeline_runs_the_stage(tmp_path):
    from dataprep.registry import all_stages, register
    from dataprep.runner import parse_pipeline, run_pipeline

    if "domain" not in all_stages():  # before the entry point is installed
        register(DomainStage)
    write_jsonl(tmp_path / "in.jsonl", [{"id": f"d{i}", "text": t} for i, t in enumerate(CODE.values())])
    pipe, stages = parse_pipeline({"workdir": str(tmp_path / "work"), "stages": [
        {"ingest": {"paths": [str(tmp_path / "in.jsonl")]}}, {"domain": {"drop": ["web"]}}]})
    runs = run_pipeline(pipe, stages, workers=1, quiet=True)
    assert runs[-1].manifest["domain"]["docs"] == {"code": len(CODE)}
    with pytest.raises(ConfigError, match=r"stages\[1\]\.domain\.drop\[0\]: unknown domain"):
        parse_pipeline({"stages": [{"ingest": {"paths": [str(tmp_path / "in.jsonl")]}},
                                   {"domain": {"drop": ["junk"]}}]})


def test_registered_as_a_stage_and_a_command():
    # needs `domain = "dataprep.stages.domain:DomainStage"` ([project.entry-points."dataprep.stages"]) and
    # `domain-train = "dataprep.stages.domain.cli:domain_train"` ([project.entry-points."dataprep.commands"])
    stages = {ep.name: ep for ep in entry_points(group="dataprep.stages")}
    commands = {ep.name: ep for ep in entry_points(group="dataprep.commands")}
    assert stages["domain"].load() is DomainStage
    assert commands["domain-train"].load() is domain_train


# --- the classifier ---------------------------------------------------------------------------------------

TINY = {"epochs": 5, "dim": 8, "bucket": 4096, "lr": 0.5}


def labelled_sample() -> list[tuple[str, str]]:
    pairs = []
    for path in sorted((ROOT / "sample_data" / "raw").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            domain = TRUTH[record["id"]]["domain"]
            if domain in ("code", "math", "news") and TRUTH[record["id"]]["lang"] in ("zh", "en"):
                pairs.append((domain, record["text"]))
    return pairs


@pytest.fixture(scope="module")
def domain_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "domain.bin"
    M.train(labelled_sample(), path, valid_share=0.0, **TINY)
    return path


def test_a_sure_model_label_decides_before_the_rules(domain_model):
    texts = [CODE["python, Chinese comments"], "plain words about a park"]
    table = pa.table({"id": ["a", "b"], "text": texts})
    kept, _, _ = stage(model=str(domain_model), model_threshold=0.0).tag(table)
    rows = kept.to_pylist()
    assert all(r["domain_by"] == "model" for r in rows)
    assert {r["domain"] for r in rows} <= {"code", "math", "news"}
    assert all(0 <= r["domain_scores"]["model"] <= 1 for r in rows)
    kept, _, _ = stage(model=str(domain_model), model_threshold=1.0).tag(table)
    assert kept["domain_by"].to_pylist() == ["rules", "rules"]


def test_training_is_reproducible_and_reports_per_domain(domain_model, tmp_path):
    again = tmp_path / "again.bin"
    info = M.train(list(reversed(labelled_sample())), again, valid_share=0.0, **TINY)
    assert again.read_bytes() == domain_model.read_bytes()
    assert set(info["counts"]["by_domain"]) == {"code", "math", "news"}
    assert info["labels"] == ["__label__code", "__label__math", "__label__news"]


def test_model_labels_must_be_domains_of_the_stage(domain_model, tmp_path):
    with pytest.raises(StageError, match="labels math, news are not domains"):
        M.load(domain_model, ["code", "web"])
    with pytest.raises(StageError, match="domain model not found"):
        stage(model=str(tmp_path / "none.bin")).prepare(None)
    with pytest.raises(ConfigError, match="at least two domains"):
        M.train([("code", "x = 1")], tmp_path / "m.bin")


def test_domain_train_command(tmp_path):
    rows = [{"text": text, "topic": domain} for domain, text in labelled_sample()]
    write_jsonl(tmp_path / "labelled.jsonl", rows + [{"text": "no label"}])
    out = tmp_path / "models" / "d.bin"
    args = ["-i", str(tmp_path / "labelled.jsonl"), "--label-column", "topic", "--labels", "[code, math]",
            "--epochs", "5", "--dim", "8", "--bucket", "4096", "--valid-share", "0.3"]
    r = CliRunner().invoke(domain_train, [*args, "-o", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "held-out accuracy" in r.output
    info = json.loads(out.with_suffix(".json").read_text())
    assert set(info["counts"]["by_domain"]) == {"code", "math"}
    r = CliRunner().invoke(domain_train, [*args[:4], "--labels", "[poetry]", "-o", str(tmp_path / "x.bin")])
    assert r.exit_code == 1 and "no labelled documents" in r.output and r.output.count("\n") == 1
