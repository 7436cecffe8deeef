"""Tokenisation into training files: ids exactly as the tokenizer gives them, read back by the
trainers' own readers (megatron-core, datasets), shards, shuffle, split, special tokens."""

from __future__ import annotations

import json
import random
import re
import string
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import SHARED_DATA, read_rejected, write_jsonl
from dataprep.config import parse
from dataprep.corpus import Corpus, shard_digest, write_table
from dataprep.executor import LocalExecutor
from dataprep.runner import run_stage
from dataprep.stage import StageError
from dataprep.stages.ingest import IngestConfig, IngestStage
from dataprep.stages.tokenize import TokenizeConfig, TokenizeStage
from dataprep.stages.tokenize import loader as L
from dataprep.stages.tokenize.formats import read_megatron

TEXTS = {
    "zh": "数据清洗是大模型预训练中最重要的环节之一。我们在2023年处理了12345篇文档，去重后保留约70%。",
    "en": "The quick brown fox jumps over the lazy dog. It's 3.14 miles away -- isn't it?",
    "code": "def add(a, b):\n    \"\"\"Sum.\"\"\"\n    return a + b\n\n\tif x == 1:\n        print('ok')\n",
    "emoji": "Great job 🎉🎉 太棒了👍🏽 — café naïve façade ½ ① ＡＢＣ",
    "mixed": "中文 and English mixed 混合在一起, with numbers 007 and symbols @#$%^&*().",
}
TOKENIZERS = SHARED_DATA / "tokenizers"


def corpus_records(n: int = 60) -> list[dict]:
    rows = []
    for i in range(n):
        kind = list(TEXTS)[i % len(TEXTS)]
        rows.append({"id": f"doc{i:04d}", "text": f"{TEXTS[kind]} #{i} " * (1 + i % 7), "lang": kind[:2]})
    rows.append({"id": "empty", "text": "BLANK ME", "lang": "xx"})
    return rows


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    """An ingested corpus in 3 shards: 60 documents, and one whose text a later stage blanked."""
    import pyarrow as pa

    d = tmp_path_factory.mktemp("tok_raw")
    write_jsonl(d / "in.jsonl", corpus_records())
    with LocalExecutor(1) as ex:
        run_stage(IngestStage(parse(IngestConfig, {"paths": [str(d / "in.jsonl")], "shard_rows": 25,
                                                   "promote": ["lang"]})), None, d / "raw", ex)
    last = Corpus.open(d / "raw").shard_paths[-1]
    t = pq.read_table(last)
    texts = ["  \n " if x == "BLANK ME" else x for x in t["text"].to_pylist()]
    write_table(t.set_column(t.column_names.index("text"), "text", pa.array(texts)), last)
    manifest = json.loads((d / "raw" / "manifest.json").read_text())
    for record in manifest["shards"]:  # the rewritten shard, as the manifest must now describe it
        if record["file"] == last.name:
            record.update(bytes=last.stat().st_size, digest=shard_digest(last))
    (d / "raw" / "manifest.json").write_text(json.dumps(manifest))
    return d / "raw"


@pytest.fixture(scope="module")
def bpe(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bpe")
    texts = [r["text"] for r in corpus_records(200)] * 3
    return L.train(texts, d, "bytelevel-bpe", 600)


def tokenize(raw: Path, out: Path, workers: int = 1, **options) -> dict:
    with LocalExecutor(workers) as ex:
        return run_stage(TokenizeStage(parse(TokenizeConfig, options)), Corpus.open(raw), out, ex).manifest


def texts_by_id(raw: Path) -> dict[str, str]:
    c = Corpus.open(raw)
    out = {}
    for p in c.shard_paths:
        t = pq.read_table(p, columns=["id", "text"])
        out.update(zip(t["id"].to_pylist(), t["text"].to_pylist()))
    return out


def shard_keys(out: Path) -> list[str]:
    return sorted(p.stem for p in (out / "megatron").glob("*.bin"))


def test_every_format_holds_exactly_the_tokenizers_ids(raw, bpe, tmp_path):
    out = tmp_path / "tok"
    man = tokenize(raw, out, tokenizer=str(bpe), formats=["megatron", "hf", "numpy", "nanogpt", "nanotron"],
                   shard_tokens=2000, val_share=0.2, seed=3)
    info = L.resolve(str(out / "tokenizer"))
    enc = L.encoder(info)
    texts = texts_by_id(raw)
    keys = shard_keys(out)
    assert any(k.startswith("val-") for k in keys) and sum(k.startswith("train-") for k in keys) >= 2
    seen = []
    for key in keys:
        tokens, lengths = read_megatron(out / "megatron" / key)
        hf = pq.read_table(out / "hf" / f"{key}.parquet")
        ids = hf["id"].to_pylist()
        assert [len(x) for x in hf["input_ids"].to_pylist()] == lengths.tolist()
        start = 0
        for doc_id, n, row in zip(ids, lengths.tolist(), hf["input_ids"].to_pylist()):
            expected = enc([texts[doc_id]])[0] + [info.eos_id]
            assert tokens[start:start + n].tolist() == expected == row
            start += n
        assert np.array_equal(np.load(out / "numpy" / f"{key}.npy"), tokens)
        assert np.array_equal(np.fromfile(out / "nanogpt" / f"{key}.bin", dtype=np.uint16), tokens)
        ds = np.fromfile(out / "nanotron" / f"{key}.ds", dtype="<u2")
        ends = np.fromfile(out / "nanotron" / f"{key}.ds.index", dtype="<u8")
        assert np.array_equal(ds, tokens) and ends.tolist() == np.cumsum(lengths).tolist()
        assert (out / "nanotron" / f"{key}.ds.metadata").read_text().splitlines()[1] == str(len(tokens))
        seen += ids
    assert sorted(seen) == sorted(i for i in texts if i != "empty")  # every document exactly once
    rejected = read_rejected(out)
    assert [(r["id"], r["reason"]) for r in rejected] == [("empty", "tokenize:empty_text")]
    t = man["tokenize"]
    assert t["tokens"] == sum(t["tokens_by_shard"].values()) == sum(t["tokens_by_split"].values())
    assert t["tokens"] == sum(t["tokens_by_lang"].values()) and set(t["tokens_by_lang"]) == {"zh", "en", "co", "em", "mi"}
    assert t["tokenizer"]["sha256"] == L.sha256_file(out / "tokenizer" / "tokenizer.json")
    assert t["eos_id"] == info.eos_id and t["bos_id"] is None and t["dtype"] == "uint16"
    assert man["rows_in"] == man["rows_kept"] + man["rows_rejected"] == len(texts)


def test_megatron_core_reads_the_shards(raw, bpe, tmp_path):
    pytest.importorskip("torch", reason="torch (CPU) is installed by `make test`; megatron-core needs it")
    idx = pytest.importorskip("megatron.core.datasets.indexed_dataset", reason="megatron-core not installed")
    out = tmp_path / "tok"
    tokenize(raw, out, tokenizer=str(bpe), formats=["megatron", "hf"], shard_tokens=3000, add_bos=True)
    info = L.resolve(str(out / "tokenizer"))
    enc = L.encoder(info)
    texts = texts_by_id(raw)
    for key in shard_keys(out):
        ds = idx.IndexedDataset(str(out / "megatron" / key))
        ids = pq.read_table(out / "hf" / f"{key}.parquet", columns=["id"])["id"].to_pylist()
        assert len(ds) == len(ids)
        for i, doc_id in enumerate(ids):
            assert ds[i].tolist() == [info.bos_id] + enc([texts[doc_id]])[0] + [info.eos_id]


def test_hf_output_loads_with_datasets(raw, bpe, tmp_path):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "tok"
    tokenize(raw, out, tokenizer=str(bpe), formats=["hf", "hf-disk"], shard_tokens=100_000)
    disk = datasets.load_from_disk(str(out / "hf_disk" / "train-00000"))
    assert disk["input_ids"] == pq.read_table(out / "hf" / "train-00000.parquet")["input_ids"].to_pylist()
    ds = datasets.load_dataset("parquet", data_files=str(out / "hf" / "train-*.parquet"), split="train",
                               cache_dir=str(tmp_path / "cache"))
    table = pq.read_table(out / "hf" / "train-00000.parquet")
    assert ds.num_rows == table.num_rows == 60
    assert ds[0]["input_ids"] == table["input_ids"][0].as_py() and ds[0]["id"] == table["id"][0].as_py()


def test_mds_output_reads_with_streaming(raw, bpe, tmp_path):
    streaming = pytest.importorskip("streaming", reason="mosaicml-streaming is not installed (it pins numpy<2.2 "
                                                        "and pulls torchvision; `make test-mds` checks it in its own venv)")
    out = tmp_path / "tok"
    tokenize(raw, out, tokenizer=str(bpe), formats=["mds", "hf"], shard_tokens=100_000)
    ds = streaming.StreamingDataset(local=str(out / "mds" / "train-00000"), shuffle=False, batch_size=1)
    hf = pq.read_table(out / "hf" / "train-00000.parquet")
    assert [ds[i]["id"] for i in range(len(ds))] == hf["id"].to_pylist()
    assert [ds[i]["tokens"].tolist() for i in range(len(ds))] == hf["input_ids"].to_pylist()


def test_packing_cuts_the_stream_into_seq_len_rows(raw, bpe, tmp_path):
    out = tmp_path / "tok"
    tokenize(raw, out, tokenizer=str(bpe), formats=["megatron", "hf"], seq_len=64, shard_tokens=100_000)
    rows = pq.read_table(out / "hf" / "train-00000.parquet")["input_ids"].to_pylist()
    assert all(len(r) == 64 for r in rows[:-1]) and 0 < len(rows[-1]) <= 64
    tokens, _ = read_megatron(out / "megatron" / "train-00000")
    assert [x for r in rows for x in r] == tokens.tolist()


def test_same_output_for_any_worker_count_and_seed_changes_order(raw, bpe, tmp_path):
    opts = dict(tokenizer=str(bpe), formats=["megatron", "hf", "hf-disk"], shard_tokens=2500, val_share=0.1, seed=7)
    tokenize(raw, tmp_path / "w1", workers=1, **opts)
    tokenize(raw, tmp_path / "w2", workers=2, **opts)
    files = sorted(p.relative_to(tmp_path / "w1") for p in (tmp_path / "w1").rglob("*")
                   if p.is_file() and p.relative_to(tmp_path / "w1").parts[0] in ("megatron", "hf", "hf_disk"))
    assert any(f.parts[0] == "hf_disk" for f in files)
    assert files
    for f in files:
        assert (tmp_path / "w1" / f).read_bytes() == (tmp_path / "w2" / f).read_bytes(), f
    tokenize(raw, tmp_path / "s8", **{**opts, "seed": 8})
    ids7 = pq.read_table(tmp_path / "w1" / "hf" / "train-00000.parquet")["id"].to_pylist()
    ids8 = pq.read_table(tmp_path / "s8" / "hf" / "train-00000.parquet")["id"].to_pylist()
    assert ids7 != ids8


def test_manifest_counts_the_characters_it_read(raw, bpe, tmp_path):
    man = tokenize(raw, tmp_path / "tok", tokenizer=str(bpe), formats=["megatron"], shard_tokens=2000,
                   val_share=0.2)
    assert man["chars_in"] == sum(len(t) for t in texts_by_id(raw).values()) > 0
    assert man["rows_in"] == len(texts_by_id(raw))


def test_unshuffled_shards_keep_corpus_order_and_target_size(raw, bpe, tmp_path):
    out = tmp_path / "tok"
    man = tokenize(raw, out, tokenizer=str(bpe), formats=["hf"], shard_tokens=2000, shuffle=False)
    ids = []
    for key in sorted(man["tokenize"]["tokens_by_shard"]):
        ids += pq.read_table(out / "hf" / f"{key}.parquet")["id"].to_pylist()
    assert ids == [i for i in texts_by_id(raw) if i != "empty"]
    sizes = list(man["tokenize"]["tokens_by_shard"].values())
    longest = max(len(x) for x in pq.read_table(out / "hf" / "train-00000.parquet")["input_ids"].to_pylist())
    assert all(s <= 2000 + longest for s in sizes) and all(s >= 2000 - longest for s in sizes[:-1])


def test_missing_eos_is_an_error(raw, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel()
    tok.train_from_iterator(list(TEXTS.values()), trainers.BpeTrainer(vocab_size=300, show_progress=False))
    tok.save(str(tmp_path / "plain.json"))
    with pytest.raises(StageError, match="no EOS token"):
        tokenize(raw, tmp_path / "out", tokenizer=str(tmp_path / "plain.json"))
    with pytest.raises(StageError, match="has no token '<eos>'"):
        tokenize(raw, tmp_path / "out2", tokenizer=str(tmp_path / "plain.json"), eos_token="<eos>")
    man = tokenize(raw, tmp_path / "out3", tokenizer=str(tmp_path / "plain.json"), add_eos=False, formats=["hf"])
    assert man["tokenize"]["eos_id"] is None and man["tokenize"]["tokens"] > 0
    with pytest.raises(StageError, match="does not exist"):
        tokenize(raw, tmp_path / "out4", tokenizer=str(tmp_path / "missing.json"))


def test_training_is_deterministic(tmp_path):
    texts = [r["text"] for r in corpus_records(100)]
    for preset in ("bytelevel-bpe", "baichuan2"):
        a = L.train(texts, tmp_path / f"{preset}-a", preset, 400)
        b = L.train(texts, tmp_path / f"{preset}-b", preset, 400)
        assert a.read_bytes() == b.read_bytes(), preset


def test_trained_sentencepiece_model_round_trips(raw, tmp_path):
    import sentencepiece as spm

    texts = [r["text"] for r in corpus_records(200)]
    model = L.train(texts, tmp_path / "sp", "baichuan2", 500)
    sp = spm.SentencePieceProcessor(model_file=str(model))
    assert [sp.id_to_piece(i) for i in sp.encode("2023")] == ["▁", "2", "0", "2", "3"]  # digits split
    assert "▁▁▁▁" in {sp.id_to_piece(i) for i in range(sp.get_piece_size())}  # indentation pieces
    out = tmp_path / "tok"
    tokenize(raw, out, tokenizer=str(model), formats=["megatron", "hf"], add_bos=True)
    texts_ = texts_by_id(raw)
    for key in shard_keys(out):
        hf = pq.read_table(out / "hf" / f"{key}.parquet")
        for doc_id, ids in zip(hf["id"].to_pylist(), hf["input_ids"].to_pylist()):
            assert ids == [sp.bos_id()] + sp.encode(texts_[doc_id]) + [sp.eos_id()]
            assert sp.decode(ids[1:-1]) == texts_[doc_id]  # byte fallback: nothing lost, emoji included


def test_the_vocabulary_read_from_the_json_is_the_librarys(bpe, tmp_path):
    """The main process reads vocabulary size and special ids from tokenizer.json without building
    the tokenizer; that must agree with the library, and files it cannot settle go to the library."""
    from tokenizers import Tokenizer, models

    unigram = Tokenizer(models.Unigram([("<unk>", 0.0), ("a", -1.0), ("b", -2.0), ("ab", -1.5)], 0, False))
    unigram.add_special_tokens(["<|endoftext|>"])
    unigram.save(str(tmp_path / "unigram.json"))
    files = [bpe, tmp_path / "unigram.json", *[TOKENIZERS / n for n in ("allenai_gpt-neox-olmo-dolma-v1_5.json",
                                                                          "allenai_dolma2.json")
                                                if (TOKENIZERS / n).exists()]]
    for file in files:
        fast = L._Vocab.of(Path(file))
        assert fast is not None, file
        tok = Tokenizer.from_file(str(file))
        assert fast.get_vocab_size() == tok.get_vocab_size(with_added_tokens=True), file
        assert fast.specials == {t.content for t in tok.get_added_tokens_decoder().values() if t.special}
        for name in ["<|endoftext|>", "<s>", "</s>", "<unk>", "a", "ab", "nope"]:
            assert fast.token_to_id(name) == tok.token_to_id(name), (file, name)
    data = json.loads(Path(bpe).read_text())
    data["added_tokens"].append({"id": 10**6, "content": "<far>", "special": True, "single_word": False,
                                 "lstrip": False, "rstrip": False, "normalized": False})
    (tmp_path / "gap.json").write_text(json.dumps(data))
    assert L._Vocab.of(tmp_path / "gap.json") is None  # ids with a gap: the library decides
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(StageError, match="is not a HuggingFace tokenizer.json"):
        L.resolve(str(tmp_path / "bad.json"))


@pytest.mark.parametrize("name,vocab,dtype", [("allenai_gpt-neox-olmo-dolma-v1_5.json", 50_280, "uint16"),
                                              ("allenai_dolma2.json", 100_278, "uint32")])
def test_real_tokenizers_ids_dtype_and_round_trip(raw, tmp_path, name, vocab, dtype):
    path = TOKENIZERS / name
    if not path.exists():
        pytest.skip(f"{path} is absent (shared reference data)")
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    man = tokenize(raw, tmp_path / "tok", tokenizer=str(path), formats=["megatron", "hf", "nanogpt"])
    t = man["tokenize"]
    assert t["dtype"] == dtype and t["tokenizer"]["vocab_size"] >= vocab - 10
    assert t["megatron_dtype"] == ("uint16" if dtype == "uint16" else "int32")
    eos = t["eos_id"]
    assert eos is not None
    texts = texts_by_id(raw)
    tokens, lengths = read_megatron(tmp_path / "tok" / "megatron" / "train-00000")
    hf = pq.read_table(tmp_path / "tok" / "hf" / "train-00000.parquet")
    start = 0
    for doc_id, n in zip(hf["id"].to_pylist(), lengths.tolist()):
        ids = tokens[start:start + n].tolist()
        assert ids == tok.encode(texts[doc_id], add_special_tokens=False).ids + [eos]
        assert tok.decode(ids[:-1]) == texts[doc_id]
        start += n
    if dtype == "uint32":
        assert tokens.max() > 65535  # ids above 2**16 survive (no uint16 overflow)
        flat = np.fromfile(tmp_path / "tok" / "nanogpt" / "train-00000.bin", dtype=np.uint32)
        assert np.array_equal(flat, tokens.astype(np.uint32))
    for kind, text in TEXTS.items():
        ids = tok.encode(text, add_special_tokens=False).ids
        assert tok.decode(ids) == text, kind


def test_mds_without_its_package_is_a_clear_error_before_any_work(raw, bpe, tmp_path):
    try:
        import streaming  # noqa: F401
        pytest.skip("mosaicml-streaming is installed here")
    except ImportError:
        pass
    with pytest.raises(StageError, match="mds needs the mosaicml-streaming package"):
        tokenize(raw, tmp_path / "tok", tokenizer=str(bpe), formats=["megatron", "mds"])
    assert not (tmp_path / "tok" / "_state" / "enc-00000.npz").exists()


# --- training on unbroken runs ------------------------------------------------------------------

RUNS = re.compile(r"\w+|[^\w\s]+|\s+")  # runs of one kind, as split_long_runs counts them


def long_run(kind: str, n: int) -> str:
    rng = random.Random(n)
    alphabet = {"letters": string.ascii_lowercase, "cjk": [chr(c) for c in range(0x4E00, 0x4E00 + 200)],
                "digits": string.digits, "spaces": " ", "symbols": "=-*#", "emoji": "🎉👍🏽😀"}[kind]
    return "".join(rng.choices(alphabet, k=n))


@pytest.mark.parametrize("kind", ["letters", "cjk", "digits", "spaces", "symbols", "emoji"])
def test_long_runs_are_cut_for_training_and_ordinary_text_is_not(kind):
    k = L.MAX_RUN_CHARS
    text = f"{TEXTS['en']} {long_run(kind, 10 * k + 7)}{TEXTS['zh']}"
    parts = L.split_long_runs(text)
    assert "".join(parts) == text
    assert max(len(r) for p in parts for r in RUNS.findall(p)) <= k
    assert len(parts) == 11
    ordinary = [*TEXTS.values(), "中" * k, " ".join([TEXTS["en"]] * 200), "\n".join([TEXTS["code"]] * 100)]
    for t in ordinary:
        assert L.split_long_runs(t) == [t]


def trainer_words(preset: str, texts: list[str]) -> list[str]:
    """What the trainer of ``preset`` counts: byte-level BPE, the pre-tokenizer's pieces of its input (one
    character a byte); SentencePiece, its sentences (it skips those over max_sentence_length bytes)."""
    from tokenizers import pre_tokenizers

    fed = list(L.trainer_input(iter(texts), preset))
    if preset == "baichuan2":
        return fed
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False)
    return [w for piece in fed for w, _ in pre.pre_tokenize_str(piece)]


@pytest.mark.parametrize("preset", L.PRESETS)
@pytest.mark.parametrize("kind", ["letters", "cjk"])
def test_what_the_trainer_sees_grows_linearly_with_an_unbroken_run(preset, kind):
    """The trainers' work per merge grows with the length of each word they hold, so a word of n characters
    costs ~n**2. With runs cut, sum(len**2) over what they are given grows 4x from a run of N to one of 4N
    characters (16x if the run stayed whole), the longest word stays bounded, and no text is lost."""
    n = 20_000
    normal = [r["text"] for r in corpus_records(60)]
    cost, longest = {}, {}
    for size in (n, 4 * n):
        texts = normal[:30] + [long_run(kind, size)] + normal[30:]
        words = trainer_words(preset, texts)
        cost[size] = sum(len(w) ** 2 for w in words)
        longest[size] = max(len(w.encode()) if preset == "baichuan2" else len(w) for w in words)
        if preset == "baichuan2":  # every line, cut only between its sentences
            lines = [line for t in texts for line in t.split("\n") if line.strip()]
            assert "".join(words) == "".join(lines)
        else:
            assert sum(map(len, words)) == sum(len(t.encode()) for t in texts)
    assert longest[4 * n] == longest[n] <= (L.SP_SENTENCE_BYTES if preset == "baichuan2" else 4 * L.MAX_RUN_CHARS)
    assert cost[4 * n] / cost[n] < 6


@pytest.mark.parametrize("preset,vocab", [("bytelevel-bpe", 600), ("baichuan2", 800)])
def test_trained_with_unbroken_runs_encoding_is_exact(preset, vocab, tmp_path):
    runs = [long_run("letters", 60_000), long_run("cjk", 60_000)]
    texts = [r["text"] for r in corpus_records(100)]
    path = L.train(texts[:50] + runs + texts[50:], tmp_path, preset, vocab)
    info = L.resolve(str(path))
    encode, decode = L.encoder(info), L.decoder(info)
    samples = [*TEXTS.values(), *runs, TEXTS["zh"] + runs[1][:5000] + TEXTS["emoji"]]
    for text, ids in zip(samples, encode(samples)):
        assert decode(ids) == text
    if preset == "bytelevel-bpe":  # the saved tokenizer encodes with the plain byte-level pre-tokenizer
        assert json.loads(path.read_text())["pre_tokenizer"]["type"] == "ByteLevel"


# --- option errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("options,message", [
    ({"train": "bytelevel-bpe", "vocab_size": -5}, "vocab_size: must be >= 260, got -5"),
    ({"train": "baichuan2", "vocab_size": 2**31}, "vocab_size: must be <= 2147483647, got 2147483648"),
    ({"train": "bytelevel-bpe", "vocab_size": "big"}, "vocab_size: expected integer, got str 'big'"),
    ({"train": "bytelevel-bpe", "train_chars": 0}, "train_chars: must be >= 1, got 0"),
    ({"tokenizer": "t.json", "shard_tokens": 0}, "shard_tokens: must be >= 1, got 0"),
    ({"tokenizer": "t.json", "shard_tokens": 2**64}, "shard_tokens: must be <= 9223372036854775807, got"),
    ({"tokenizer": "t.json", "batch_size": -1}, "batch_size: must be >= 1, got -1"),
    ({"tokenizer": "t.json", "seq_len": 0}, "seq_len: must be >= 1, got 0"),
    ({"tokenizer": "t.json", "val_share": 1}, "val_share: must be in [0, 1), got 1.0"),
    ({"tokenizer": "t.json", "val_share": -0.1}, "val_share: must be in [0, 1), got -0.1"),
    ({"tokenizer": "t.json", "formats": []}, "formats: give at least one output format"),
    ({"tokenizer": "t.json", "formats": ["hf", "hf"]}, "formats: hf is listed twice"),
    ({"tokenizer": "t.json", "train": "baichuan2"}, "tokenizer/train: give exactly one"),
])
def test_every_invalid_option_is_one_line_naming_its_key(options, message, tmp_path):
    from dataprep.config import ConfigError
    from dataprep.runner import parse_pipeline

    source = write_jsonl(tmp_path / "in.jsonl", corpus_records(5))
    with pytest.raises(ConfigError) as e:
        parse_pipeline({"stages": [{"ingest": {"paths": [str(source)]}}, {"tokenize": options}]})
    assert str(e.value).startswith(f"config: stages[1].tokenize.{message}")
    assert "\n" not in str(e.value)


def test_training_errors_name_the_option_on_the_command_line(raw, tmp_path):
    from click.testing import CliRunner

    from dataprep.cli import _add_stage_commands, cli

    _add_stage_commands()

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, list(args))
        assert result.exit_code != 0 and isinstance(result.exception, SystemExit)  # no other exception escaped
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
        return result.output.strip()

    train = ["tokenizer", "train", "-i", str(raw), "-o", str(tmp_path / "tok")]
    assert run(*train, "--vocab-size", "-5") == "Error: --vocab-size: must be >= 260, got -5"
    assert run(*train, "--max-chars", "0") == "Error: --max-chars: must be >= 1, got 0"
    assert run(*train, "--text-column", "body").startswith("Error: --text-column: ")
    assert run(*train, "--text-column", "body").endswith("has no column 'body'")
    assert run(*train, "--preset", "baichuan2", "--vocab-size", "300").startswith(
        "Error: --vocab-size: 300 is too small for this corpus; the baichuan2 preset needs")
    stage = ["tokenize", "-i", str(raw), "-o", str(tmp_path / "out"), "-q", "--workers", "1"]
    assert run(*stage, "--train", "bytelevel-bpe", "--vocab-size", "-5") == \
        "Error: ConfigError: tokenize.vocab_size: must be >= 260, got -5"
    assert run(*stage, "--train", "bytelevel-bpe", "--text-column", "body").startswith(
        "Error: StageError: tokenize.text_column: ")
    assert run(*stage, "--train", "baichuan2", "--vocab-size", "100000").startswith(
        "Error: StageError: tokenize.vocab_size: 100000 is too large for this corpus")


# --- streamed shard writing: same bytes as the whole-array path, memory independent of shard_tokens ---

class ConcatenatingTokenizeStage(TokenizeStage):
    """The reference: output shards as they were written before streaming. Every document's tokens
    are copied out of the input token files, concatenated in shard order, and each format is written
    from the whole array (with its own code here, so the comparison does not use the new writers)."""

    def run_task(self, task, state, out):
        import pyarrow as pa

        from dataprep.corpus import read_parquet, rejected_table

        cfg = self.config
        split, index = task.param("split"), task.param("index")
        dtype = np.dtype(state["dtype"])
        pieces, keys_all, lengths_all, meta = [], [], [], {"id": [], "lang": [], "domain": []}
        for i, (prefix, shard) in enumerate(zip(state["prefixes"], state["inputs"])):
            z = np.load(prefix + ".npz")
            arrays = {k: z[k] for k in ("lengths", "keys", "val", "empty")}
            arrays["start"] = state["starts"][split][i]
            rows, empty_rows = self._members(state, split, index, arrays)
            if len(empty_rows):
                t = read_parquet(shard).take(empty_rows)
                out.rows_in += t.num_rows
                out.write_rejected(rejected_table(t, pa.array(["tokenize:empty_text"] * t.num_rows), self.name, {}))
            if len(rows) == 0:
                continue
            offsets = np.concatenate([[0], np.cumsum(arrays["lengths"])])
            mm = np.memmap(prefix + ".tokens", dtype=dtype, mode="r")
            pieces += [np.array(mm[offsets[r]:offsets[r + 1]]) for r in rows.tolist()]
            lengths_all.append(arrays["lengths"][rows])
            keys_all.append(arrays["keys"][rows])
            cols = [c for c in ("id", "lang", "domain") if c in pq.read_schema(shard).names]
            t = read_parquet(shard, cols).take(rows)
            for c in ("id", "lang", "domain"):
                meta[c].extend(t[c].to_pylist() if c in cols else [None] * len(rows))
        n = len(pieces)
        order = np.argsort(np.concatenate(keys_all), kind="stable") if cfg.shuffle and n else np.arange(n)
        tokens = np.concatenate([pieces[o] for o in order]) if n else np.zeros(0, dtype)
        lengths = np.concatenate(lengths_all)[order] if n else np.zeros(0, np.int64)
        meta = {k: [v[o] for o in order.tolist()] for k, v in meta.items()}
        out.rows_in += n
        out.rows_kept += n
        self._write_whole(task.key, tokens, lengths, meta, state, out.out_dir)
        for key in ("docs", "tokens", f"tokens:{split}", f"shard:{task.key}"):
            out.count(key, n if key == "docs" else len(tokens))

    def _write_whole(self, key, tokens, lengths, meta, state, base):
        import io
        import struct

        from dataprep.corpus import write_table
        from dataprep.stages.tokenize import formats as F

        def put(path, *chunks):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"".join(bytes(c) for c in chunks))

        for fmt in self.config.formats:
            if fmt == "megatron":
                data = tokens.astype(np.uint16 if tokens.dtype == np.uint16 else np.int32)
                n = len(lengths)
                pointers = np.zeros(n, np.int64)
                pointers[1:] = np.cumsum(lengths[:-1] * data.dtype.itemsize)
                header = b"MMIDIDX\x00\x00" + struct.pack("<QBQQ", 1, 8 if data.dtype == np.uint16 else 4, n, n + 1)
                put(base / "megatron" / f"{key}.bin", data.tobytes())
                put(base / "megatron" / f"{key}.idx", header, lengths.astype(np.int32).tobytes(), pointers.tobytes(),
                    np.arange(n + 1, dtype=np.int64).tobytes())
            elif fmt in ("hf", "hf-disk"):
                columns = {"id": meta["id"]}
                columns.update({c: meta[c] for c in ("lang", "domain") if any(v is not None for v in meta[c])})
                columns["num_tokens"] = lengths.astype(np.int32).tolist()
                table = F.hf_table(tokens, lengths, columns, self.config.seq_len)
                if fmt == "hf":
                    write_table(table, base / "hf" / f"{key}.parquet")
                else:
                    F.write_hf_disk(base / "hf_disk" / key, table)
            elif fmt == "numpy":
                buf = io.BytesIO()
                np.save(buf, tokens)
                put(base / "numpy" / f"{key}.npy", buf.getvalue())
            elif fmt == "nanogpt":
                put(base / "nanogpt" / f"{key}.bin", tokens.tobytes())
            elif fmt == "nanotron":
                name = Path(state["info"].path).parent.name + "/" + Path(state["info"].path).name
                put(base / "nanotron" / f"{key}.ds", tokens.astype(tokens.dtype.newbyteorder("<")).tobytes())
                put(base / "nanotron" / f"{key}.ds.index", np.cumsum(lengths, dtype=np.uint64).astype("<u8").tobytes())
                put(base / "nanotron" / f"{key}.ds.metadata",
                    f"{name}|{tokens.dtype.itemsize}\n{len(tokens)}\n".encode())


def output_files(out: Path) -> dict[str, bytes]:
    dirs = ("megatron", "hf", "hf_disk", "numpy", "nanogpt", "nanotron")
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.relative_to(out).parts[0] in dirs}


ALL_FORMATS = ["megatron", "hf", "hf-disk", "numpy", "nanogpt", "nanotron"]


@pytest.fixture(scope="module")
def many_docs(tmp_path_factory) -> Path:
    """40,000 short documents: over one Parquet row group (32,768 rows) of hf, in 2 input shards."""
    d = tmp_path_factory.mktemp("tok_many")
    rng = random.Random(5)
    words = list(TEXTS["en"].split()) + list(TEXTS["zh"][:20])
    write_jsonl(d / "in.jsonl", [{"id": f"m{i:06d}", "text": " ".join(rng.choices(words, k=rng.randint(1, 6)))}
                                 for i in range(40_000)])
    with LocalExecutor(1) as ex:
        run_stage(IngestStage(parse(IngestConfig, {"paths": [str(d / "in.jsonl")], "shard_rows": 25_000})),
                  None, d / "raw", ex)
    return d / "raw"


@pytest.mark.parametrize("case,options,chunk", [
    ("shuffle+val", dict(shard_tokens=2000, val_share=0.2, seed=3), 1 << 20),
    ("small chunks", dict(shard_tokens=2000, val_share=0.2, seed=3), 37),  # documents longer than a chunk
    ("corpus order, bos, uint32", dict(shard_tokens=3000, shuffle=False, add_bos=True, dtype="uint32"), 50),
    ("packed", dict(shard_tokens=100_000, seq_len=7), 64),
    ("one shard", dict(shard_tokens=10**9, val_share=0.5), 1 << 20),
])
def test_streamed_shards_are_byte_identical_to_the_concatenated_ones(raw, bpe, tmp_path, monkeypatch, case,
                                                                     options, chunk):
    import dataprep.stages.tokenize as T

    monkeypatch.setattr(T, "CHUNK_TOKENS", chunk)
    opts = parse(TokenizeConfig, dict(tokenizer=str(bpe), formats=ALL_FORMATS, **options))
    with LocalExecutor(1) as ex:
        new = run_stage(TokenizeStage(opts), Corpus.open(raw), tmp_path / "new", ex).manifest
        old = run_stage(ConcatenatingTokenizeStage(opts), Corpus.open(raw), tmp_path / "old", ex).manifest
    got, want = output_files(tmp_path / "new"), output_files(tmp_path / "old")
    assert sorted(got) == sorted(want) and len(want) > 6
    for name in want:
        assert got[name] == want[name], f"{case}: {name}"
    assert new["tokenize"] == old["tokenize"]
    assert read_rejected(tmp_path / "new") == read_rejected(tmp_path / "old")


@pytest.mark.parametrize("options", [dict(), dict(seq_len=2, dtype="uint32")])
def test_streamed_hf_shards_spanning_several_row_groups_are_byte_identical(many_docs, bpe, tmp_path, options):
    opts = parse(TokenizeConfig, dict(tokenizer=str(bpe), formats=["hf", "megatron"], shard_tokens=10**9, **options))
    with LocalExecutor(1) as ex:
        run_stage(TokenizeStage(opts), Corpus.open(many_docs), tmp_path / "new", ex)
        run_stage(ConcatenatingTokenizeStage(opts), Corpus.open(many_docs), tmp_path / "old", ex)
    got, want = output_files(tmp_path / "new"), output_files(tmp_path / "old")
    assert sorted(got) == sorted(want)
    assert pq.ParquetFile(tmp_path / "new" / "hf" / "train-00000.parquet").num_row_groups >= 2
    for name in want:
        assert got[name] == want[name], name


def peak_rss_kb(cmd: list[str]) -> int:
    """Peak RSS (KB) of the largest process of ``cmd`` (run from a fresh parent, so only it counts)."""
    import subprocess
    import sys

    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, check=True)
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # MEMORY TEST: peak RSS of `dataprep tokenize` child processes, ~15 s
def test_peak_rss_does_not_grow_with_shard_tokens(bpe, tmp_path):
    """Memory check: on one ~24 MB input (~21M tokens), output shards 4x larger must not
    raise the worker's peak RSS. Before streaming, a task held ~4 copies of its shard's tokens (~85 MB
    each here at 4N, as uint32)."""
    import sys

    rng = random.Random(9)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(5000)]
    write_jsonl(tmp_path / "big.jsonl", [{"id": f"b{i:06d}", "text": " ".join(rng.choices(words, k=350))}
                                         for i in range(10_000)])
    with LocalExecutor(1) as ex:
        run_stage(IngestStage(parse(IngestConfig, {"paths": [str(tmp_path / "big.jsonl")]})), None,
                  tmp_path / "raw", ex)
    peaks = {}
    for shard_tokens in (6_000_000, 24_000_000):
        out = tmp_path / f"out-{shard_tokens}"
        peaks[shard_tokens] = peak_rss_kb([sys.executable, "-m", "dataprep", "tokenize", "-i", str(tmp_path / "raw"),
                                           "-o", str(out), "--tokenizer", str(bpe), "--workers", "1", "--quiet",
                                           "--formats", "[megatron, numpy, nanogpt, nanotron]", "--dtype", "uint32",
                                           "--shard-tokens", str(shard_tokens)])
        tokens = json.loads((out / "tokenize.json").read_text())["tokens"]
        assert 18_000_000 < tokens <= 24_000_000  # so shard_tokens N gives 4 shards and 4N one
    small, large = peaks[6_000_000], peaks[24_000_000]
    print(f"peak RSS: {small / 1e3:.0f} MB at shard_tokens N, {large / 1e3:.0f} MB at 4N")
    # Before streaming, peak RSS grew by ~87 MB from N to 4N here (copies of the shard's tokens); allow
    # half of one copy of the 4N shard's tokens (~42 MB) for allocator noise (runs differ by ~20 MB).
    slack_kb = tokens * 4 // 2 // 1000
    assert large <= small + slack_kb, f"peak RSS {small / 1e3:.0f} MB at N, {large / 1e3:.0f} MB at 4N"
