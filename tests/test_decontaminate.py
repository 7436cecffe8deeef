"""Decontamination: eval passages planted with light edits are found, common phrases are not, and
the report names the benchmark item."""

import csv
import json
import random
import re
import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, read_corpus, read_rejected, write_jsonl
from dataprep import ngrams as G
from dataprep import text as T
from dataprep.cli import _add_stage_commands, cli
from dataprep.config import ConfigError, parse
from dataprep.corpus import Corpus
from dataprep.executor import make_executor
from dataprep.runner import parse_pipeline, run_pipeline, run_stage
from dataprep.stages.decontaminate import DecontaminateConfig, DecontaminateStage, cut_passages

SAMPLE_EVAL = ROOT / "sample_data" / "eval" / "sample_eval.jsonl"
# Items of sample_eval.jsonl meant to be planted in the sample corpus (see docs/decontaminate.md).
PLANTED_SAMPLE_ITEMS = {"en-03", "en-07", "en-11", "zh-02", "zh-09", "zh-14"}


def hosts(lang: str) -> list[str]:
    """Prose documents of the sample corpus to plant passages in."""
    rows = [json.loads(line) for line in (ROOT / "sample_data" / "raw" / f"web-{lang}.jsonl").open(encoding="utf-8")]
    return [r["text"] for r in rows if (800 if lang == "en" else 300) < len(r["text"]) < 5000]


def vocabulary() -> tuple[list[str], list[str]]:
    words, chars = set(), set()
    for text in hosts("en"):
        words.update(re.findall(r"[a-z]{3,}", text))
    for text in hosts("zh"):
        chars.update(c for c in text if "\u4e00" <= c <= "\u9fff")
    return sorted(words), sorted(chars)


def en_passage(rng: random.Random, words: list[str], n: int) -> str:
    out, left = [], n
    while left:
        k = min(left, rng.randint(6, 14))
        out.append(" ".join(rng.choice(words) for _ in range(k)).capitalize() + rng.choice([".", "?", ",", ";"]))
        left -= k
    return " ".join(out)


def zh_passage(rng: random.Random, chars: list[str], n: int) -> str:
    out, left = [], n
    while left:
        k = min(left, rng.randint(6, 14))
        piece = [rng.choice(chars) for _ in range(k)]
        if rng.random() < 0.3:  # a number or a Latin word inside Chinese text
            piece[rng.randrange(k)] = rng.choice(["3", "12", "GDP", "2024", "A"])
        out.append("".join(piece) + rng.choice("，。；？"))
        left -= k
    return "".join(out)


FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in map(chr, range(0x21, 0x7F))}


def edit_en(rng: random.Random, text: str, words: list[str], subs: int) -> str:
    """Whitespace, punctuation, case, `subs` changed words (a whole word or one letter), maybe full-width."""
    tokens = text.split(" ")
    for i in rng.sample(range(len(tokens)), subs):
        w = tokens[i]
        if rng.random() < 0.5:
            tokens[i] = rng.choice(words) + (w[-1] if not w[-1].isalpha() else "")
        else:
            j = rng.randrange(len(w.rstrip(".?,;")) or 1)
            tokens[i] = w[:j] + ("x" if w[j:j + 1] != "x" else "q") + w[j + 1:]
    out = []
    for t in tokens:
        t = t.upper() if rng.random() < 0.05 else t
        t = t.rstrip(".?,;") + rng.choice(["", "", ",", ".", "!", " -"]) if rng.random() < 0.2 else t
        out.append(t)
    text = "".join(t + rng.choice([" ", " ", " ", "  ", "\n", " \t"]) for t in out).strip()
    if rng.random() < 0.25:
        text = "".join(FULL_WIDTH.get(c, "\u3000" if c == " " else c) for c in text)
    return text


def edit_zh(rng: random.Random, text: str, chars: list[str], subs: int) -> str:
    """Spaces, punctuation half/full width or dropped, `subs` changed characters, maybe full-width digits."""
    han = [i for i, c in enumerate(text) if "\u4e00" <= c <= "\u9fff"]
    s = list(text)
    for i in rng.sample(han, subs):
        s[i] = rng.choice([c for c in chars[:50] if c != s[i]])
    swap = {"，": ",", "。": ".", "；": ";", "？": "?"}
    out = []
    for c in s:
        if c in swap and rng.random() < 0.5:
            c = rng.choice([swap[c], "", "、"])
        out.append(c + (" " if rng.random() < 0.05 else ""))
    text = "".join(out)
    if rng.random() < 0.3:
        text = "".join(FULL_WIDTH.get(c, c) if c.isascii() and c.isalnum() else c for c in text)
    return text


def planted_set(seed: int = 7, per_lang: int = 120):
    """Eval items (en and zh) and documents holding an edited copy of one item each, plus clean
    documents. Texts of 30-100 units get 0-2 changed words/characters; texts of 8-29 units only
    formatting edits (whitespace, punctuation, case, full-width forms)."""
    rng = random.Random(seed)
    words, chars = vocabulary()
    items, docs, truth = [], [], {}
    host = {"en": hosts("en"), "zh": hosts("zh")}
    for lang in ("en", "zh"):
        for i in range(per_lang):
            short = i % 5 == 0
            n = rng.randint(8, 29) if short else rng.randint(30, 100)
            subs = 0 if short else i % 3
            passage = en_passage(rng, words, n) if lang == "en" else zh_passage(rng, chars, n)
            item = {"id": f"{lang}-q{i:03d}", "question": passage, "answer": "B"}
            items.append(item)
            copy = edit_en(rng, passage, words, subs) if lang == "en" else edit_zh(rng, passage, chars, subs)
            h = rng.choice(host[lang])
            cut = h.find("\n", len(h) // 3) if "\n" in h[len(h) // 3:] else len(h)
            doc_id = f"doc-{lang}-{i:03d}"
            docs.append({"id": doc_id, "text": h[:cut] + "\n" + copy + "\n" + h[cut:]})
            truth[doc_id] = (item["id"], lang, subs)
    for lang in ("en", "zh"):
        for j, h in enumerate(host[lang][:40]):
            docs.append({"id": f"clean-{lang}-{j:03d}", "text": h})
    rng.shuffle(docs)
    return items, docs, truth


def run(tmp_path, docs, against, workers=1, name="w", **opts):
    """ingest + decontaminate as a YAML pipeline; returns the decontaminate folder."""
    write_jsonl(tmp_path / "docs.jsonl", docs)
    opts.setdefault("index_dir", str(tmp_path / "index-cache"))
    pipe, stages = parse_pipeline({"workdir": str(tmp_path / name), "stages": [
        {"ingest": {"paths": [str(tmp_path / "docs.jsonl")], "shard_rows": 100}},
        {"decontaminate": {"against": [str(a) for a in against], **opts}},
    ]})
    run_pipeline(pipe, stages, workers=workers)
    return tmp_path / name / "02-decontaminate"


def report(folder):
    return pq.read_table(folder / "contamination.parquet").to_pylist()


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("planted")
    items, docs, truth = planted_set()
    write_jsonl(tmp / "bench.jsonl", items)
    out = run(tmp, docs, [tmp / "bench.jsonl"])
    return tmp, items, docs, truth, out


def test_planted_passages_are_found_in_both_languages(planted):
    tmp, items, docs, truth, out = planted
    rejected = {r["id"]: r for r in read_rejected(out)}
    found = {lang: [] for lang in ("en", "zh")}
    for doc_id, (item, lang, subs) in truth.items():
        r = rejected.get(doc_id)
        found[lang].append(r is not None and r["reason"] == "contaminated:bench" and r["eval_item"] == item)
    recall = {lang: sum(v) / len(v) for lang, v in found.items()}
    assert recall["en"] >= 0.95 and recall["zh"] >= 0.95, recall
    assert not [i for i in rejected if i.startswith("clean-")]
    rows = {(r["id"], r["item"]): r for r in report(out)}
    for doc_id, r in rejected.items():
        row = rows[(doc_id, r["eval_item"])]
        assert row["benchmark"] == "bench" and row["decision"] == "contaminated"
        assert row["origin"].startswith(str(tmp / "bench.jsonl") + ":")
        text = next(d["text"] for d in docs if d["id"] == doc_id)
        assert text[row["doc_start"]:row["doc_end"]][:300] == row["text"]
    m = json.loads((out / "manifest.json").read_text())
    b = m["decontaminate"]["benchmarks"]["bench"]
    assert b["documents_removed"] == len(rejected) == m["reasons"]["contaminated:bench"]
    assert b["items"] == len(items) and b["items_found"] == len(rejected)
    assert m["rows_in"] == m["rows_kept"] + m["rows_rejected"]


def test_common_phrases_are_not_contamination(tmp_path):
    """Idioms, question stems and boilerplate shared with eval items flag nothing; boilerplate of a
    full n-gram that more than `common_docs` documents carry is a common phrase; the document
    holding the whole item is still found."""
    words, chars = vocabulary()
    rng = random.Random(3)
    license_en = "Permission is hereby granted, free of charge, to any person obtaining a copy of this software"
    notice_zh = "本网站所刊登的各种新闻信息和专题资料均为本网站版权所有，未经协议授权禁止下载使用"
    stem_en = "Which of the following statements about the water cycle is correct?"
    stem_zh = "下列关于水循环的说法中，正确的是哪一项？"
    items = [
        {"id": "lic", "question": f"The notice '{license_en}' opens which licence? {en_passage(rng, words, 30)}"},
        {"id": "idiom-en",
         "question": f"Explain why people say the early bird catches the worm. {en_passage(rng, words, 20)}"},
        {"id": "stem-en-1", "question": stem_en,
         "choices": ["Transpiration moves water from plants into the air", "Clouds are made only of water vapour"]},
        {"id": "stem-en-2", "question": stem_en,
         "choices": ["Groundwater can feed rivers during dry weather", "Snow never reaches the sea"]},
        {"id": "notice", "question": f"阅读下面的声明：{notice_zh}。{zh_passage(rng, chars, 40)}"},
        {"id": "idiom-zh", "question": f"请解释成语画蛇添足和守株待兔的意思。{zh_passage(rng, chars, 30)}"},
        {"id": "stem-zh-1", "question": stem_zh, "choices": ["植物的蒸腾作用把水分送回大气层"]},
        {"id": "stem-zh-2", "question": stem_zh, "choices": ["地下水在旱季可以补给附近的河流"]},
    ]
    write_jsonl(tmp_path / "evalset.jsonl", items)
    docs = []
    for i, h in enumerate(hosts("en")[:14]):
        docs.append({"id": f"en-{i}", "text": f"{h}\n{license_en}, subject to the following conditions.\n"
                                              f"As they say, the early bird catches the worm.\n{stem_en}"})
    for i, h in enumerate(hosts("zh")[:14]):
        docs.append({"id": f"zh-{i}", "text": f"{h}\n{notice_zh}。\n这真是画蛇添足。{stem_zh}"})
    docs.append({"id": "has-lic", "text": hosts("en")[20] + "\n" + items[0]["question"]})
    docs.append({"id": "has-notice", "text": hosts("zh")[20] + "\n" + items[4]["question"]})
    out = run(tmp_path, docs, [tmp_path / "evalset.jsonl"])
    assert {r["id"] for r in read_rejected(out)} == {"has-lic", "has-notice"}
    rows = report(out)
    common = {r["id"] for r in rows if r["decision"] == "common_phrase"}
    assert common == {f"en-{i}" for i in range(14)} | {f"zh-{i}" for i in range(14)}
    m = json.loads((out / "manifest.json").read_text())["decontaminate"]
    assert m["benchmarks"]["evalset"]["template_ngrams_left_out"] > 0 and m["ngrams_ignored_as_common"] > 0


def test_real_text_formula_phrases_are_not_contamination(shared_data, tmp_path):
    """Real text: the articles of the Universal Declaration of Human Rights share formula phrases
    of up to 10 words / characters ("contrary to the purposes and principles of the United
    Nations", "违背联合国的宗旨和原则"); half of its lines (English, Chinese) are the eval set, the
    other half and real Chinese web pages are documents, with edited copies of eval lines planted
    in the web pages. Every copy is found and nothing else."""
    rows = list(csv.reader((shared_data / "langid" / "udhr2_lines.tsv").open(encoding="utf-8"), delimiter="\t"))[1:]
    pages = [p.read_text(encoding="utf-8") for p in sorted((shared_data / "seeds_text").glob("*.txt"))]
    rng = random.Random(1)
    words, chars = vocabulary()
    items, docs, truth = [], [], {}
    for lang, variant in (("en", ""), ("zh", "Hans")):
        lines = [r[4] for r in rows if r[0] == lang and r[1] == variant]
        for i, line in enumerate(lines[1::2]):
            items.append({"id": f"{lang}-{i}", "question": line})
            n = len(G.normalized_units(line))
            if n >= 8:
                subs = 0 if n < 30 else i % 3
                copy = edit_en(rng, line, words, subs) if lang == "en" else edit_zh(rng, line, chars, subs)
                page = pages[i % len(pages)]
                docs.append({"id": f"plant-{lang}-{i}", "text": page[:len(page) // 2] + "\n" + copy + "\n"
                                                                + page[len(page) // 2:]})
                truth[f"plant-{lang}-{i}"] = f"{lang}-{i}"
        others = lines[0::2]
        docs += [{"id": f"other-{lang}-{j}", "text": "\n".join(others[j:j + 3])} for j in range(0, len(others), 3)]
    docs += [{"id": f"page-{k}", "text": p} for k, p in enumerate(pages)]
    write_jsonl(tmp_path / "udhr.jsonl", items)
    out = run(tmp_path, docs, [tmp_path / "udhr.jsonl"])
    found = {r["id"]: r["eval_item"] for r in read_rejected(out)}
    assert found == truth and len(truth) > 50


def test_one_and_two_workers_write_the_same_bytes(tmp_path):
    items, docs, _ = planted_set(seed=11, per_lang=30)
    write_jsonl(tmp_path / "bench.jsonl", items)
    raw = run(tmp_path, docs, [tmp_path / "bench.jsonl"]).parent / "01-ingest"
    source = Corpus.open(raw)
    outs = {}
    for workers in (1, 2):
        with make_executor("local", workers) as ex:
            for mode in ("remove", "cut"):
                cfg = parse(DecontaminateConfig, {"against": [str(tmp_path / "bench.jsonl")], "mode": mode,
                                                  "index_dir": str(tmp_path / "index-cache")})
                outs[mode, workers] = tmp_path / f"{mode}{workers}"
                run_stage(DecontaminateStage(cfg), source, outs[mode, workers], ex)
    for mode in ("remove", "cut"):
        one, two = outs[mode, 1], outs[mode, 2]
        files = sorted(p.relative_to(one) for p in one.rglob("*.parquet") if "_state" not in p.parts)
        assert files == sorted(p.relative_to(two) for p in two.rglob("*.parquet") if "_state" not in p.parts)
        assert {"_rejected", "_edits" if mode == "cut" else "_rejected"} <= {f.parts[0] for f in files}
        for f in files:
            assert (one / f).read_bytes() == (two / f).read_bytes(), f


def test_cut_mode_removes_the_passage_and_records_the_edit(tmp_path):
    words, _ = vocabulary()
    rng = random.Random(5)
    passage = en_passage(rng, words, 60)
    host = hosts("en")[0] + "\n" + hosts("en")[1]
    mid = host.find("\n")
    docs = [{"id": "long", "text": host[:mid] + "\n" + passage + "\n" + host[mid:]},
            {"id": "short", "text": "Intro line.\n" + passage}]
    write_jsonl(tmp_path / "b.jsonl", [{"id": "p1", "passage": passage}])
    out = run(tmp_path, docs, [tmp_path / "b.jsonl"], mode="cut", cut_margin=20)
    kept = {r["id"]: r["text"] for r in read_corpus(out)}
    assert set(kept) == {"long"} and passage[:60] not in kept["long"]
    assert host[:mid - 30] in kept["long"] and host[mid + 60:] in kept["long"]
    edits = pq.read_table(next((out / "_edits").glob("*.parquet"))).to_pylist()
    assert [(e["id"], e["benchmark"], e["item"]) for e in edits] == [("long", "b", "p1")]
    e = edits[0]
    assert e["chars_before"] - e["chars_after"] >= len(passage) and len(e["cut_starts"]) == 1
    rejected = read_rejected(out)
    assert [(r["id"], r["reason"]) for r in rejected] == [("short", "contaminated:b")]
    counters = json.loads((out / "manifest.json").read_text())["counters"]
    assert counters["cut:b"] == 1 and counters["removed:b"] == 1


def test_cut_passages_keeps_words_whole_and_drops_short_remnants():
    text = "alpha beta gamma delta epsilon zeta eta theta"
    assert cut_passages(text, [(11, 16)], 3) == ("alpha\nepsilon zeta eta theta", [(6, 22)])  # "gamma" +-3
    assert cut_passages(text, [(0, 5), (17, 22)], 8) == ("zeta eta theta", [(0, 30)])  # the two cuts meet
    assert cut_passages("aa bb cc dd ee ff gggggg", [(0, 2), (12, 14)], 3) == ("gggggg", [(0, 17)])  # "cc" < 3
    assert cut_passages("短文本", [(0, 3)], 0) == ("", [(0, 3)])


def test_every_format_names_its_items(tmp_path):
    datasets = pytest.importorskip("datasets")
    words, _ = vocabulary()
    rng = random.Random(9)
    recs = [{"qid": f"q{i}", "question": en_passage(rng, words, 25), "choices": ["yes", "no"]} for i in range(4)]
    write_jsonl(tmp_path / "a.jsonl", recs)
    (tmp_path / "b.json").write_text(json.dumps(recs))
    with open(tmp_path / "c.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["qid", "question", "A", "B"])
        w.writeheader()
        w.writerows({"qid": r["qid"], "question": r["question"], "A": "yes", "B": "no"} for r in recs)
    pq.write_table(pa.Table.from_pylist(recs), tmp_path / "d.parquet")
    datasets.Dataset.from_list(recs).save_to_disk(str(tmp_path / "e_hf"))
    datasets.DatasetDict({"test": datasets.Dataset.from_list(recs[:2]),
                          "validation": datasets.Dataset.from_list(recs[2:])}).save_to_disk(str(tmp_path / "f_hf"))
    docs = [{"id": "d", "text": "Some words first. " + recs[3]["question"] + " And after."}]
    against = ["a=" + str(tmp_path / "a.jsonl"), tmp_path / "b.json", tmp_path / "c.csv", tmp_path / "d.parquet",
               tmp_path / "e_hf", tmp_path / "f_hf"]
    out = run(tmp_path, docs, against)
    rows = report(out)
    assert sorted((r["benchmark"], r["item"]) for r in rows) == [
        ("a", "q3"), ("b", "q3"), ("c", "q3"), ("d", "q3"), ("e_hf", "q3"), ("f_hf", "q3")]
    origins = {r["benchmark"]: r["origin"] for r in rows}
    assert origins["a"].endswith("a.jsonl:4") and origins["c"].endswith("c.csv:5")
    assert origins["d"].endswith("d.parquet#3") and origins["f_hf"].endswith("validation#1")
    assert [r["reason"] for r in read_rejected(out)] == ["contaminated:a"]
    m = json.loads((out / "manifest.json").read_text())["decontaminate"]["benchmarks"]
    assert m["c"]["fields"] == ["question", "A", "B"] and m["e_hf"]["fields"] == ["question", "choices"]


def test_the_index_is_cached_and_follows_the_eval_files(tmp_path):
    words, _ = vocabulary()
    rng = random.Random(2)
    q = [en_passage(rng, words, 30) for _ in range(3)]
    write_jsonl(tmp_path / "e.jsonl", [{"id": "x", "question": q[0]}])
    docs = [{"id": "d1", "text": q[0]}, {"id": "d2", "text": q[1]}]
    out = run(tmp_path, docs, [tmp_path / "e.jsonl"])
    m1 = json.loads((out / "manifest.json").read_text())
    cache_use = lambda: json.loads((out / "_state" / "index_cache.json").read_text())["sources_read_from_cache"]  # noqa: E731
    assert cache_use() == 0 and "sources_read_from_cache" not in json.dumps(m1)  # the manifest is history-free
    assert list((tmp_path / "index-cache").glob("*.npz"))
    out = run(tmp_path, docs, [tmp_path / "e.jsonl"], mode="cut")  # another config: the stage runs again
    assert cache_use() == 1
    write_jsonl(tmp_path / "e.jsonl", [{"id": "x", "question": q[1]}])  # same path, new content
    out = run(tmp_path, docs, [tmp_path / "e.jsonl"], mode="cut")
    m3 = json.loads((out / "manifest.json").read_text())
    assert m3["fingerprint"] != m1["fingerprint"]
    assert cache_use() == 0
    assert [r["id"] for r in read_rejected(out)] == ["d2"]


def test_sample_eval_set_indexes_and_flags_only_planted_items(tmp_path):
    """sample_eval.jsonl: every item indexed; on the sample corpus exactly the pages that quote an
    item (sample_data/raw/quotes.jsonl, labelled in truth.json) are found, each with its item."""
    pipe, stages = parse_pipeline({"workdir": str(tmp_path), "stages": [
        {"ingest": {"paths": [str(ROOT / "sample_data" / "raw" / "*.jsonl")]}},
        {"decontaminate": {"against": [str(SAMPLE_EVAL)], "index_dir": str(tmp_path / "idx")}}]})
    run_pipeline(pipe, stages, workers=1)
    m = json.loads((tmp_path / "02-decontaminate" / "manifest.json").read_text())
    b = m["decontaminate"]["benchmarks"]["sample_eval"]
    assert b["items"] == 36 and b["items_without_text"] == 0
    assert b["fields"] == ["question", "passage", "answer", "choices"]
    truth = json.loads((ROOT / "sample_data" / "truth.json").read_text())["docs"]
    planted = {d: label["eval_item"] for d, label in truth.items() if label["quality"] == "contaminated"}
    assert set(planted.values()) == PLANTED_SAMPLE_ITEMS
    rejected = {r["id"]: r for r in read_rejected(tmp_path / "02-decontaminate")}
    assert set(rejected) == set(planted)
    assert all(r["reason"] == "contaminated:sample_eval" and r["eval_item"] == planted[d] for d, r in rejected.items())
    assert {r["item"] for r in report(tmp_path / "02-decontaminate") if r["decision"] == "contaminated"} \
        == PLANTED_SAMPLE_ITEMS


def test_bad_eval_input_is_one_line_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _add_stage_commands()
    write_jsonl(tmp_path / "docs.jsonl", [{"id": "1", "text": "hello world"}])
    assert CliRunner().invoke(cli, ["ingest", "-i", "docs.jsonl", "-o", "raw", "-q"]).exit_code == 0
    (tmp_path / "broken.jsonl").write_text('{"question": "fine one two three four five six seven eight"}\n\n{oops\n')
    write_jsonl(tmp_path / "nofields.jsonl", [{"foo": "bar", "baz": 1}])
    (tmp_path / "ok.jsonl").write_text('{"question": "a b c d e f g h i"}\n')
    cases = [(["--against", "missing.jsonl"], f"ConfigError: decontaminate.against: missing.jsonl: no such file "
                                               f"or folder (relative to {tmp_path})"),
             (["--against", "broken.jsonl"], "StageError: decontaminate.against: broken.jsonl:3: not valid JSON"),
             (["--against", "nofields.jsonl"], "StageError: decontaminate.against: nofields.jsonl: none of the "
                                               "fields question,"),
             (["--against", "ok.jsonl", "--fields", "title"], "StageError: decontaminate.against: ok.jsonl: none "
                                                              "of the fields title found (fields seen: question)"),
             ([], "ConfigError: decontaminate.against: give at least one evaluation set")]
    for args, expected in cases:
        r = CliRunner().invoke(cli, ["decontaminate", "-i", "raw", "-o", "out", "-q", "--index-dir", "idx", *args])
        assert r.exit_code == 1 and "Traceback" not in r.output, r.output
        assert r.output.count("\n") == 1 and r.output.startswith("Error: " + expected), r.output
        assert args[-1:] != ["nofields.jsonl"] or "(fields seen: baz, foo)" in r.output
    with pytest.raises(ConfigError, match="min_ngram"):
        parse(DecontaminateConfig, {"against": ["ok.jsonl"], "min_ngram": 20})
    with pytest.raises(ConfigError, match="both be benchmark 'ok'"):
        parse(DecontaminateConfig, {"against": ["ok.jsonl", "./ok.jsonl"]})


# --- units and n-grams -------------------------------------------------------------------------------

ALPHABET = list("abcXYZ 的一是不了。，ー！12 \n\tÉé\u0301ß‐ａＢ１２한국어カタｶﾞ①½㎡ﬁΐ_-'") + \
    ["hello", "WORLD", "\u3000", "\u00a0", "\u1100\u1161", "e\u0323\u0301", "🙂"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from(ALPHABET), max_size=60).map("".join), min_size=1, max_size=6))
def test_units_are_the_dedup_units_and_spans_point_at_them(texts):
    u = G.units_of(texts)
    for d, text in enumerate(texts):
        expected = T.units(T.normalize_for_dedup(text))
        assert G.normalized_units(text) == expected
        a, b = u.first[d], u.first[d + 1]
        assert b - a == len(expected)
        starts, ends = G.unit_spans(text)
        assert len(starts) == len(expected) and all(0 <= s < e <= len(text) for s, e in zip(starts, ends))
        for s, e, unit in zip(starts.tolist(), ends.tolist(), expected):
            assert unit in T.normalize_for_dedup(text[s:e]).replace(" ", "")
        if u.exact[d]:
            assert u.start[a:b].tolist() == starts.tolist() and u.end[a:b].tolist() == ends.tolist()
        alone = G.units_of([text])
        assert alone.hashes.tolist() == u.hashes[a:b].tolist()


def test_characters_above_the_table_normalise_to_themselves():
    chars = "".join(chr(c) for c in range(G.TABLE_SIZE, 0x110000) if not 0xD800 <= c < 0xE000)
    assert unicodedata.is_normalized("NFKC", chars) and chars.casefold() == chars
    assert not T._DIGIT.search(chars) and not G._SPACE_RE.search(chars) and not G._CJK_UNIT.search(chars)
    assert all(unicodedata.category(m.group())[0] not in "PS" for m in T._NON_WORD.finditer(chars))
    assert not any(unicodedata.combining(c) for c in chars)


def test_windows_of_equal_units_hash_equal_and_weigh_scripts():
    u = G.units_of(["alpha beta gamma delta", "x alpha beta gamma delta y", "中文字符串中文", "Alpha, BETA gamma!"])
    w = G.Windows(u.hashes)
    h = lambda d, i, k: int(w.hash(np.array([u.first[d] + i]), np.array([u.first[d] + i + k]))[0])  # noqa: E731
    assert h(0, 0, 4) == h(1, 1, 4)
    assert h(0, 0, 3) == h(3, 0, 3) and h(0, 0, 3) != h(0, 1, 3) and h(0, 0, 2) != h(0, 0, 3)
    assert h(2, 0, 2) == h(2, 5, 2)  # 中文 twice
    mixed = G.units_of(["one two three 四五六七八九十"])
    a, b = G.full_windows(mixed, 2, 4)  # a window: 2 words or 4 CJK characters; a word weighs two characters
    assert list(zip(a.tolist(), b.tolist())) == [(0, 2), (1, 3), (2, 5), (3, 7), (4, 8), (5, 9), (6, 10)]
