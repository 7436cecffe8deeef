"""dataprep.ftmodel (the compiled dataprep._fasttext) predicts exactly what the fasttext binding
predicts: the same labels in the same order and bit-identical float32 probabilities, on lid.176.ftz
and on small supervised models trained here (softmax, hs, ova; word bigrams; quantized ones)."""

import csv
import glob
import json
import random
from pathlib import Path

import numpy as np
import pytest

from dataprep import classifier, ftmodel

ROOT = Path(__file__).resolve().parents[1]
LID = ROOT / "dataprep" / "models" / "lid.176.ftz"

pytestmark = pytest.mark.skipif(ftmodel._F is None, reason="dataprep._fasttext is not built")


def binding(path):
    import fasttext

    fasttext.FastText.eprint = lambda *a, **k: None  # the load-time warning
    return fasttext.load_model(str(path))


@pytest.fixture(scope="module")
def lid():
    return binding(LID), ftmodel.load(LID, strict=True)


def differences(ref, fast, texts, k, threshold=0.0):
    """Indices of the texts whose labels or probabilities (compared bit for bit) differ."""
    l1, p1 = ref.predict(texts, k=k, threshold=threshold)
    l2, p2 = fast.predict(texts, k=k, threshold=threshold)
    assert type(l2) is list and type(p2) is list and len(l2) == len(p2) == len(texts)
    return [i for i in range(len(texts))
            if l1[i] != l2[i] or p1[i].dtype != p2[i].dtype or p1[i].shape != p2[i].shape
            or p1[i].tobytes() != p2[i].tobytes()]


def assert_same(ref, fast, texts, k, threshold=0.0):
    bad = differences(ref, fast, texts, k, threshold)
    if bad:
        i = bad[0]
        raise AssertionError(f"{len(bad)} of {len(texts)} texts differ (k={k}, threshold={threshold}); first "
                             f"{texts[i][:200]!r}: {ref.predict([texts[i]], k=k, threshold=threshold)} != "
                             f"{fast.predict([texts[i]], k=k, threshold=threshold)}")


# --- texts --------------------------------------------------------------------------------------

PIECES = ["the", "Cat", "de", "und", "hello", "wörld", "façade", "ñandú", "的", "中文", "这是一个测试",
          "日本語のテキスト", "한국어", "Привет", "مرحبا", "שלום", "नमस्ते", "ελληνικά", "😀", "👩‍👩‍👧",
          "e\u0301", "a\u0308\u0301\u0323", "\u0301\u0302\u0303\u0304", "\u00e9\u00e8\u00ea", "\xa0", "\xff\xfe",
          "\U00020000\U0002a6d6", "\ud7ff\ue000\uffff", "</s>", "<s>", "__label__en", "__label__zh", "__label__x",
          "__label__", "_label__en", "x__label__en", "0", "123", "3.14", "!!", "\x01\x1c\x1f\x7f\x85",
          "\u2028\u3000"]
SEPARATORS = [" ", "  ", "\t", "\r", "\x0b", "\x0c", "\x00", " \t\r\x0b\x0c\x00 "]
ALPHABETS = ["abcdefghij", "的一是不了人我在有他这为之大来以个中上们", "\u0300\u0301\u0302\u0303\u0308",
             "ÀÉÎÕÜàéîõüßøå", "😀😁😂🤣🙂", "\U0001d400\U0001d401\U00010400", "абвгдеёжз"]


def random_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = ["", " ", "\t", "\x00", "</s>", "a </s> b", "__label__en", "__label__en hello", "\x0b\x0c\r",
             "x" * 10_000, "的" * 10_000, "é" * 10_000, "😀" * 10_000, "\u0301" * 10_000,
             " ".join(["w"] * 3000), "ab" * 5000 + " " + "的" * 3000]
    while len(texts) < n:
        parts = []
        for _ in range(rng.randrange(0, 40)):
            r = rng.random()
            if r < 0.55:
                parts.append(rng.choice(PIECES))
            elif r < 0.9:
                parts.append("".join(rng.choice(rng.choice(ALPHABETS)) for _ in range(rng.randrange(1, 12))))
            elif r < 0.97:
                parts.append("".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(1, 8))))
            else:
                parts.append(rng.choice(PIECES) * rng.randrange(50, 500))
            parts.append(rng.choice(SEPARATORS) if rng.random() < 0.3 else " ")
        if rng.random() < 0.3:
            parts.insert(0, rng.choice(SEPARATORS))
        texts.append("".join(parts) if rng.random() < 0.95 else "".join(parts).replace(" ", ""))
    return [t.replace("\n", " ") for t in texts]


def sample_texts() -> list[str]:
    texts = []
    for path in sorted(glob.glob(str(ROOT / "sample_data" / "raw" / "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            texts += [json.loads(line)["text"].replace("\n", " ") for line in f if line.strip()]
    return texts


def udhr_texts() -> list[str]:
    path = ROOT.parent / "shared" / "data" / "langid" / "udhr2_lines.tsv"
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as f:
        return [r["text"].replace("\n", " ") for r in csv.DictReader(f, delimiter="\t")]


# --- lid.176 ------------------------------------------------------------------------------------


def test_lid176_supported(lid):
    _, fast = lid
    assert fast is not None
    assert fast.info["loss"] == "hs" and fast.info["quant_input"] and fast.info["pruneidx_size"] > 0
    assert len(fast.labels) == 176 and fast.labels[0] == "__label__en"


@pytest.mark.parametrize("k", [1, -1])
def test_lid176_sample_data(lid, k):
    texts = sample_texts()
    assert len(texts) > 1000
    assert_same(*lid, texts, k)


@pytest.mark.parametrize("k", [1, -1])
def test_lid176_udhr(lid, k):
    texts = udhr_texts()
    if not texts:
        pytest.skip("udhr2_lines.tsv is absent")
    assert_same(*lid, texts, k)


@pytest.mark.parametrize("k", [1, -1])
def test_lid176_random_text(lid, k):
    assert_same(*lid, random_texts(3000, seed=k), k)


@pytest.mark.parametrize("k, threshold", [(3, 0.0), (5, 0.1), (-1, 0.5), (2, 1.0), (1_000_000, 0.0), (-1, 1e-7)])
def test_lid176_k_and_threshold(lid, k, threshold):
    texts = sample_texts()[::7] + random_texts(300, seed=7)
    assert_same(*lid, texts, k, threshold)


def test_comparison_can_fail(lid):
    """The comparison sees a change of one label's order and of one ulp of a probability."""
    ref, fast = lid
    texts = ["hello world", "这是一个测试"]
    labels, probs = fast.predict(texts, k=2)
    l1, p1 = ref.predict(texts, k=2)
    assert labels == l1
    bumped = [p.copy() for p in probs]
    bumped[1][0] = np.nextafter(bumped[1][0], np.float32(1))
    assert bumped[1].tobytes() != p1[1].tobytes()
    assert differences(ref, fast, texts, 1) == []
    assert differences(ref, fast, texts + ["x"], 1, threshold=0.0) == []

    class Swapped:
        def predict(self, t, k, threshold):
            l, p = fast.predict(t, k=k, threshold=threshold)
            return [x[::-1] for x in l], p

    assert differences(ref, Swapped(), texts, 2) == [0, 1]


def test_shapes_and_types(lid):
    ref, fast = lid
    for texts in (["hello world", "", "__label__en"], []):
        l1, p1 = ref.predict(texts, k=3)
        l2, p2 = fast.predict(texts, k=3)
        assert l1 == l2 and [type(x) for x in l2] == [type(x) for x in l1]
        assert [(p.dtype, p.shape) for p in p1] == [(p.dtype, p.shape) for p in p2]
    for text in ("hello world", "", "这是", "x" * 5000):  # one line: a tuple and a float64 array
        for k in (1, 4, -1):
            (l1, p1), (l2, p2) = ref.predict(text, k=k), fast.predict(text, k=k)
            assert l1 == l2 and type(l1) is type(l2) is tuple
            assert p1.dtype == p2.dtype == np.float64 and p1.tobytes() == p2.tobytes()


def test_errors_match(lid):
    ref, fast = lid
    for model in (ref, fast):
        with pytest.raises(ValueError, match="one line at a time"):
            model.predict(["fine", "two\nlines"])
        with pytest.raises(ValueError, match="k needs to be 1 or higher"):
            model.predict(["hello"], k=0)
        with pytest.raises(ValueError, match="k needs to be 1 or higher"):
            model.predict(["hello"], k=-2)
        with pytest.raises(TypeError):
            model.predict(["lone \ud800 surrogate"])


def test_load_falls_back(tmp_path, monkeypatch):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"not a model at all")
    assert ftmodel.load(bad) is None
    assert ftmodel.load(tmp_path / "missing.bin") is None
    with pytest.raises(ValueError):
        ftmodel.load(bad, strict=True)
    truncated = tmp_path / "truncated.ftz"
    truncated.write_bytes(LID.read_bytes()[:100_000])
    assert ftmodel.load(truncated) is None
    monkeypatch.setenv("DATAPREP_PURE_PYTHON", "1")
    assert ftmodel.load(LID) is None


def test_threads_share_a_model(lid):
    from concurrent.futures import ThreadPoolExecutor

    ref, fast = lid
    texts = sample_texts()[:400]
    want = ref.predict(texts, k=2)
    with ThreadPoolExecutor(4) as pool:
        for labels, probs in pool.map(lambda _: fast.predict(texts, k=2), range(8)):
            assert labels == want[0] and all(a.tobytes() == b.tobytes() for a, b in zip(probs, want[1]))


# --- models trained here ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def train_file(tmp_path_factory):
    """Labelled lines from the sample data, prepared as the classifiers prepare them."""
    rows = []
    for path in sorted(glob.glob(str(ROOT / "sample_data" / "raw" / "*.jsonl"))):
        label = "__label__" + Path(path).stem.replace("-", "_")
        with open(path, encoding="utf-8") as f:
            rows += [f"{label} {classifier.prepare_text(json.loads(line)['text'], 600)}\n" for line in f if line.strip()]
    random.Random(0).shuffle(rows)
    path = tmp_path_factory.mktemp("ft") / "train.txt"
    path.write_text("".join(rows), encoding="utf-8")
    return path


MODELS = {  # name: (train_supervised arguments, quantize arguments or None)
    "softmax-dim16": (dict(loss="softmax", dim=16, wordNgrams=1, minn=2, maxn=4, bucket=20_000), None),
    "softmax-bigrams-dim10-nochar": (dict(loss="softmax", dim=10, wordNgrams=2, bucket=20_000), None),
    "hs-bigrams-dim16": (dict(loss="hs", dim=16, wordNgrams=2, minn=2, maxn=4, bucket=20_000), None),
    "ova-dim16-minn1": (dict(loss="ova", dim=16, wordNgrams=1, minn=1, maxn=5, bucket=20_000), None),
    "hs-quantized-pruned": (dict(loss="hs", dim=12, wordNgrams=1, minn=2, maxn=4, bucket=20_000),
                            dict(qnorm=True, retrain=True, cutoff=1500)),
    # qout needs >= 256 output rows: trained on the same lines with 300 made-up labels
    "softmax-bigrams-quantized-qout-300labels": (dict(loss="softmax", dim=16, wordNgrams=2, minn=2, maxn=3,
                                                      bucket=3_000), dict(qnorm=False, qout=True, dsub=3, cutoff=0)),
    "classifier-recipe": (dict(loss="softmax", dim=16, wordNgrams=2, minCount=1, bucket=3_000),
                          dict(qnorm=True, retrain=True, cutoff=classifier.QUANTIZE_CUTOFF)),
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def trained(request, train_file, tmp_path_factory):
    import fasttext

    train, quantize = MODELS[request.param]
    if "300labels" in request.param:
        lines = train_file.read_text(encoding="utf-8").splitlines()
        train_file = train_file.with_name("train-300.txt")
        train_file.write_text("".join(f"__label__c{i % 300} {line.split(' ', 1)[1]}\n" for i, line in enumerate(lines)),
                              encoding="utf-8")
    # fastText initialises only part of the matrix with one thread: as dataprep.classifier trains
    with classifier._zeroed_allocations() as zeroed:
        threads = 1 if zeroed else classifier._FULL_INIT_THREADS
        model = fasttext.train_supervised(str(train_file), epoch=3, lr=0.2, thread=threads, seed=0, verbose=0,
                                          **train)
        if quantize:
            model.quantize(input=str(train_file), epoch=1, lr=0.2, thread=threads, verbose=0, **quantize)
    path = tmp_path_factory.mktemp("model") / f"{request.param}.{'ftz' if quantize else 'bin'}"
    model.save_model(str(path))
    return request.param, binding(path), ftmodel.load(path, strict=True)


@pytest.mark.parametrize("k, threshold", [(1, 0.0), (-1, 0.0), (2, 0.2)])
def test_trained_models(trained, train_file, k, threshold):
    name, ref, fast = trained
    lines = train_file.read_text(encoding="utf-8").splitlines()
    texts = [line.split(" ", 1)[1] if " " in line else "" for line in lines[:400]]
    texts += lines[400:450]  # with their label token
    texts += [t for t in random_texts(400, seed=11) if len(t) < 3000]
    assert_same(ref, fast, texts, k, threshold)


def test_trained_models_settings(trained):
    name, _, fast = trained
    info = fast.info
    assert info["loss"] == MODELS[name][0]["loss"]
    assert info["word_ngrams"] == MODELS[name][0]["wordNgrams"]
    assert info["quant_input"] == (MODELS[name][1] is not None)
    if name == "hs-quantized-pruned":
        assert info["pruneidx_size"] > 0
    if name == "softmax-bigrams-quantized-qout-300labels":
        assert info["quant_output"] and info["pruneidx_size"] == -1


def patched_lid(tmp_path, offset: int, value: int) -> Path:
    """lid.176.ftz with the int32 at `offset` replaced (4: version, 32: loss, 36: model)."""
    data = bytearray(LID.read_bytes())
    data[offset:offset + 4] = value.to_bytes(4, "little", signed=True)
    path = tmp_path / f"lid-{offset}-{value}.ftz"
    path.write_bytes(bytes(data))
    return path


def test_unsupported_models_fall_back(tmp_path):
    assert ftmodel.load(patched_lid(tmp_path, 36, 2)) is None  # skipgram: not a classifier
    assert ftmodel.load(patched_lid(tmp_path, 32, 9)) is None  # no such loss
    assert ftmodel.load(patched_lid(tmp_path, 4, 13)) is None  # a file format from the future
    with pytest.raises(ValueError, match="not a supervised model"):
        ftmodel.load(patched_lid(tmp_path, 36, 1), strict=True)


def test_format_version_11(tmp_path):
    """fastText reads supervised models of version 11 without character n-grams (maxn = 0)."""
    path = patched_lid(tmp_path, 4, 11)
    fast = ftmodel.load(path, strict=True)
    assert fast.info["maxn"] == 0
    texts = sample_texts()[::5] + random_texts(200, seed=5)
    assert_same(binding(path), fast, texts, 1)
    assert_same(binding(path), fast, texts, -1)


def test_nan_in_model_raises_as_fasttext_does(tmp_path):
    """fastText throws on a NaN dot product with a dense matrix; so does the module."""
    data = bytearray(LID.read_bytes())
    root = len(data) - 2 * 16 * 4  # lid.176's output matrix ends the file: row 174 (the tree's root), column 0
    data[root:root + 4] = np.float32("nan").tobytes()
    path = tmp_path / "nan.ftz"
    path.write_bytes(bytes(data))
    for model in (binding(path), ftmodel.load(path, strict=True)):
        with pytest.raises(RuntimeError, match="Encountered NaN"):
            model.predict(["hello world"])
