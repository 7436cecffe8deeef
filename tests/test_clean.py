import pyarrow as pa
import pytest

from conftest import read_corpus, read_rejected, write_jsonl
from dataprep.config import parse
from dataprep.executor import LocalExecutor
from dataprep.runner import run_stage
from dataprep.corpus import Corpus
from dataprep.stages.clean import CleanConfig, CleanStage, clean_text, has_visible
from dataprep.stages.ingest import IngestConfig, IngestStage

DEFAULT = CleanConfig()


@pytest.mark.parametrize("raw,expected,rules", [
    ("a\r\nb\rc", "a\nb\nc", ["newlines"]),
    ("nul\x00 and bell\x07", "nul and bell", ["control"]),
    ("zero\u200bwidth\ufeff", "zerowidth", ["zero_width"]),
    ("e\u0301", "\u00e9", ["nfc"]),
    ("too   many \t spaces  \nline   ", "too many spaces\nline", ["whitespace"]),
    ("p1\n\n\n\n\np2", "p1\n\np2", ["whitespace"]),
    ("  padded  ", "padded", ["whitespace", "strip"]),
    ("\n lead", "lead", ["strip"]),
    ("def f():\n    return  1\n", "def f():\n    return 1", ["whitespace", "strip"]),
    ("already clean", "already clean", []),
    ("中文\u3000\u3000全角空格", "中文 全角空格", ["whitespace"]),
    ("ZWJ family 👨\u200d👩\u200d👧 kept", "ZWJ family 👨\u200d👩\u200d👧 kept", []),
])
def test_clean_rules(raw, expected, rules):
    assert clean_text(raw, DEFAULT) == (expected, rules)


def test_nfkc_folds_full_width():
    assert clean_text("ＡＢＣ１２３", CleanConfig(normalization="NFKC")) == ("ABC123", ["nfkc"])
    assert clean_text("ＡＢＣ１２３", DEFAULT) == ("ＡＢＣ１２３", [])


def test_stage_records_edits_and_rejects_empty(tmp_path):
    write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "fine"}, {"id": "b", "text": "x\r\ny"},
                                         {"id": "c", "text": "\u200b\x00"}])
    with LocalExecutor(1) as ex:
        run_stage(IngestStage(parse(IngestConfig, {"paths": [str(tmp_path / "in.jsonl")]})), None, tmp_path / "raw", ex)
        run = run_stage(CleanStage(DEFAULT), Corpus.open(tmp_path / "raw"), tmp_path / "clean", ex)
    assert [(r["id"], r["text"]) for r in read_corpus(tmp_path / "clean")] == [("a", "fine"), ("b", "x\ny")]
    rejected = read_rejected(tmp_path / "clean")
    assert [(r["id"], r["reason"], r["text"]) for r in rejected] == [("c", "clean:empty", "\u200b\x00")]
    edits = pa.concat_tables([__import__("pyarrow.parquet").parquet.read_table(tmp_path / "clean" / f["file"])
                              for f in run.manifest["files"]]).to_pylist()
    assert edits == [{"id": "b", "rules": ["newlines"], "chars_before": 4, "chars_after": 3},
                     {"id": "c", "rules": ["control", "zero_width"], "chars_before": 2, "chars_after": 0}]
    assert run.manifest["counters"] == {"changed:control": 1, "changed:newlines": 1, "changed:zero_width": 1,
                                        "changed_docs": 2}


INVISIBLE_ONLY = [
    "\u200e\u200f",                               # LRM, RLM
    "\u202a\u202b\u202c\u202d\u202e",             # embeddings and overrides
    "\u2066\u2067\u2068\u2069",                   # isolates
    "\ufeff\u00ad \u200b",                         # BOM, soft hyphen, zero-width space: removed by clean
    " \u200e \n\t\u2067\u3000",                    # bidi marks among whitespace
    "\u200d\u200c",                                # joiners alone
    "\u061c\u180e\u2060\u2061\U000e0001\U000e0041",  # other format characters (Cf)
    "\u034f\ufe0f\u3164\u115f",                    # other default-ignorables: CGJ, variation selector, fillers
]


@pytest.mark.parametrize("text", INVISIBLE_ONLY)
def test_text_without_visible_characters_is_empty(text):
    assert not has_visible(text)
    assert not has_visible(clean_text(text, DEFAULT)[0])


@pytest.mark.parametrize("text", ["a", "\u200eשלום\u200f", "👨\u200d👩\u200d👧", "\u2800", "e\u0301", "\u0301",
                                  "\u00a0x"])
def test_text_with_a_visible_character_is_not_empty(text):
    assert has_visible(text)


def test_bidi_marks_and_joiners_inside_text_are_kept():
    text = "السعر \u200e100\u200e دولار \u2067abc\u2069 👨\u200d👩"
    assert clean_text(text, DEFAULT) == (text, [])


def test_stage_rejects_documents_with_no_visible_character(tmp_path):
    docs = [{"id": f"inv-{i}", "text": t} for i, t in enumerate(INVISIBLE_ONLY)]
    docs += [{"id": "rtl", "text": "\u200fשלום\u200f"}, {"id": "emoji", "text": "\u200e👍\ufe0f"}]
    write_jsonl(tmp_path / "in.jsonl", docs)
    with LocalExecutor(1) as ex:
        run_stage(IngestStage(parse(IngestConfig, {"paths": [str(tmp_path / "in.jsonl")]})), None, tmp_path / "raw", ex)
        run = run_stage(CleanStage(DEFAULT), Corpus.open(tmp_path / "raw"), tmp_path / "clean", ex)
    m = run.manifest
    assert [(r["id"], r["text"]) for r in read_corpus(tmp_path / "clean")] == [("rtl", "\u200fשלום\u200f"),
                                                                              ("emoji", "\u200e👍\ufe0f")]
    rejected = read_rejected(tmp_path / "clean")
    assert [(r["id"], r["reason"]) for r in rejected] == [(d["id"], "clean:empty") for d in docs[:len(INVISIBLE_ONLY)]]
    assert [r["text"] for r in rejected] == INVISIBLE_ONLY  # rejected rows keep their original text
    assert m["rows_in"] == m["rows_kept"] + m["rows_rejected"] == len(docs)


# --- The whole-column path (clean_column) against the per-document reference (clean_documents) ---------

import itertools
import json
import re
import sys
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from dataprep.stages.clean import (HAS_VISIBLE, VISIBLE_CHARS, WHITESPACE, change_pattern, clean_column,
                                   clean_documents)

ROOT = Path(__file__).resolve().parents[1]
MAIN_CONFIGS = [CleanConfig(normalization=n, strip=s) for n in ("NFC", "NFKC", "none") for s in (True, False)]
ALL_CONFIGS = [CleanConfig(normalization=n, strip=s, remove_control=c, remove_zero_width=z, remove_joiners=j,
                           normalize_newlines=nl, collapse_spaces=w)
               for n, s, c, z, j, nl, w in itertools.product(("NFC", "NFKC", "none"), *[(True, False)] * 6)]


def cfg_id(cfg: CleanConfig) -> str:
    return ",".join(f"{k}={v}" for k, v in vars(cfg).items())


def assert_batch_matches_reference(texts: list[str], cfg: CleanConfig) -> None:
    cleaned, reasons, rules = clean_documents(texts, cfg)
    column = pa.array(texts, pa.large_string())
    out, out_reasons, edits = clean_column(pa.chunked_array([column[:len(texts) // 2], column[len(texts) // 2:]]), cfg)
    assert out.to_pylist() == cleaned
    assert out.equals(pa.array(cleaned, pa.large_string()))
    assert out_reasons.to_pylist() == reasons
    assert edits == [(i, r, len(t), len(c)) for i, (t, c, r) in enumerate(zip(texts, cleaned, rules)) if r]


def sample_texts() -> list[str]:
    return [json.loads(line)["text"] for f in sorted((ROOT / "sample_data" / "raw").glob("*.jsonl"))
            for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]


# Every character (or sequence) a rule touches, and some it must leave alone.
SPECIALS = [
    "\r\n", "\r", "\n", "\n\n", "\n\n\n", "\n\n\n\n", "\r\n\r\n\r\n", "\u2028", "\u2029", "\x85",
    "\x00", "\x07", "\x08", "\x0b", "\x0c", "\x0e", "\x1b", "\x1c", "\x1f", "\x7f", "\x80", "\x84", "\x86", "\x9f",
    " ", "  ", "   ", "\t", "\t\t", " \t ", "\u00a0", "\u00a0\u00a0", "\u3000", "\u3000\u3000", " \u3000",
    "\u1680", "\u2000", "\u2003", "\u2009", "\u200a", "\u202f", "\u205f", "\u2007\u2007",
    "\u200b", "\u2060", "\ufeff", "\u00ad", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c",
    "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u061c", "\u180e", "\u2061", "\U000e0001",
    "\U000e0041", "\u034f", "\ufe0f", "\u3164", "\u115f", "\uffa0",
    "e\u0301", "\u0301", "a\u0323\u0307", "a\u0307\u0323", "\u212b", "\u2126", "\u1100\u1161\u11a8", "\uac00\u11a8",
    "\ufb01", "\u00bd", "\u2460", "\U0001d400", "\u00b2", "\u2122", "\ufb00", "\u0149",
    "ＡＢＣ１２３", "，。！？", "ｶﾞｷﾞ", "\uff61", "\u309b", "\u30ac", "\u304b\u3099",
    "👨\u200d👩\u200d👧", "👍🏽", "🇫🇷", "❤\ufe0f",
    "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",  # flag tag sequence
    "\u0915\u094d\u200d\u0937", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "שלום", "\u2800",
]
CONTEXTS = ["{}", "{}abc def", "abc{}def", "abc def{}", "abc {} def", "abc\n{}\ndef", "    {}x", "x\n  {}  y",
            "中文{}字", "{}{}{}", " {} ", "a{}\n", "\n{}b", "ab {}\t\ncd"]
ADVERSARIAL = [c.format(s, s, s) for s in SPECIALS for c in CONTEXTS] + [
    "", " ", "\n", "\t \n", "\r\n", "\u00a0", "\u3000", "\u200b", "x", "already clean", "  padded  ",
    "def f():\n\treturn  1\t\n\n\n\n", "trailing\u00a0\nspaces\u3000\n", *INVISIBLE_ONLY,
]


def test_whitespace_class_is_pythons():
    """WHITESPACE (the RE2 stand-in for Python's \\s in the column check) is exactly Python's whitespace."""
    cls = re.compile(f"[{WHITESPACE}]")
    assert [c for c in range(sys.maxunicode + 1) if cls.match(chr(c))] == \
        [c for c in range(sys.maxunicode + 1) if chr(c).isspace()]


def test_visible_chars_are_visible():
    ranges = re.findall(r"(.)(?:-(.))?", VISIBLE_CHARS.encode().decode("unicode_escape"))
    chars = [chr(c) for lo, hi in ranges for c in range(ord(lo), ord(hi or lo) + 1)]
    assert len(chars) > 40000
    assert all(has_visible(c) for c in chars)
    column = pa.array(chars)
    assert pa.compute.match_substring_regex(column, HAS_VISIBLE).to_pylist() == [True] * len(chars)


def test_change_pattern_reads_in_re2():
    for cfg in ALL_CONFIGS:
        pattern = change_pattern(cfg)
        if pattern is not None:
            pa.compute.match_substring_regex(pa.array(["x"]), pattern)


@pytest.mark.parametrize("cfg", MAIN_CONFIGS, ids=cfg_id)
def test_batch_matches_reference_on_sample_data(cfg):
    texts = sample_texts()
    assert len(texts) > 1000
    assert_batch_matches_reference(texts, cfg)


@pytest.mark.parametrize("cfg", ALL_CONFIGS, ids=cfg_id)
def test_batch_matches_reference_on_adversarial_texts(cfg):
    assert_batch_matches_reference(ADVERSARIAL, cfg)


def test_batch_on_empty_and_unchanged_columns():
    for cfg in MAIN_CONFIGS:
        out, reasons, edits = clean_column(pa.chunked_array([], pa.large_string()), cfg)
        assert (len(out), len(reasons), edits) == (0, 0, [])
        column = pa.array(["fine text", "中文"], pa.large_string())
        out, reasons, edits = clean_column(column, cfg)
        assert out.equals(column) and reasons.null_count == 2 and edits == []


ALPHABET = sorted({c for s in SPECIALS for c in s} | set("ab \n中é.") | {"\u0327", "\u0300", "\u00c7"})
RANDOM_TEXT = st.text(st.one_of(st.sampled_from(ALPHABET), st.characters(codec="utf-8")), max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.lists(RANDOM_TEXT, min_size=1, max_size=20), st.sampled_from(ALL_CONFIGS))
def test_batch_matches_reference_on_random_text(texts, cfg):
    assert_batch_matches_reference(texts, cfg)


@pytest.fixture(scope="module")
def sample_raw(tmp_path_factory):
    """sample_data plus the adversarial texts, ingested once (ingest drops the empty text)."""
    folder = tmp_path_factory.mktemp("clean-sample")
    write_jsonl(folder / "adversarial.jsonl", [{"id": f"adv-{i}", "text": t} for i, t in enumerate(ADVERSARIAL)])
    paths = [str(ROOT / "sample_data" / "raw" / "*.jsonl"), str(folder / "adversarial.jsonl")]
    with LocalExecutor(1) as ex:
        run_stage(IngestStage(parse(IngestConfig, {"paths": paths, "shard_rows": 700})), None, folder / "raw", ex)
    return folder


@pytest.mark.parametrize("cfg", MAIN_CONFIGS, ids=cfg_id)
def test_stage_output_matches_per_document_reference(sample_raw, cfg, tmp_path):
    """Kept and rejected rows, _edits/ and the counters are those of the per-document path on every row."""
    rows = read_corpus(sample_raw / "raw")
    texts = [r["text"] for r in rows]
    cleaned, reasons, rules = clean_documents(texts, cfg)
    assert any(reasons) and any(rules)
    with LocalExecutor(1) as ex:
        run = run_stage(CleanStage(cfg), Corpus.open(sample_raw / "raw"), tmp_path / "clean", ex)
    assert read_corpus(tmp_path / "clean") == [{**r, "text": c} for r, c, why in zip(rows, cleaned, reasons) if not why]
    assert [(r["id"], r["reason"], r["text"]) for r in read_rejected(tmp_path / "clean")] == \
        [(r["id"], why, r["text"]) for r, why in zip(rows, reasons) if why]
    edits = pa.concat_tables([pq.read_table(tmp_path / "clean" / f["file"]) for f in run.manifest["files"]]).to_pylist()
    assert edits == [{"id": r["id"], "rules": rr, "chars_before": len(t), "chars_after": len(c)}
                     for r, t, c, rr in zip(rows, texts, cleaned, rules) if rr]
    counters = {"changed_docs": len(edits)}
    for rr in rules:
        for name in rr:
            counters[f"changed:{name}"] = counters.get(f"changed:{name}", 0) + 1
    assert run.manifest["counters"] == counters
