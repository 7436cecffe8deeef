"""Word n-gram repetition (stages/quality/kernel.py): the compiled kernel gives exactly what its numpy
twin gives, and both give the hand-computed values."""

import threading
import time

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataprep.stages.quality import kernel as K
from dataprep.stages.quality import signals as S

needs_kernel = pytest.mark.skipif(not hasattr(K._K, "ngram_repetition"),
                                  reason="dataprep._kernels is not built, or was built without ngram_repetition")

TOP = (1, 2, 3, 4)
DUP = (1, 2, 5, 6, 7, 8, 9, 10, 13)
# word hashes: a few, so n-grams repeat; 0 and 2**64 - 1 for the wrapping arithmetic
HASHES = [0, 1, 2, 0x9E3779B97F4A7C15, 2**63, 2**64 - 1]


def batch(docs: list[list[tuple[int, int]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(h, lengths, doc, n_docs) of documents given as lists of (hash, characters) words."""
    words = [w for d in docs for w in d]
    h = np.array([w[0] for w in words], dtype=np.uint64)
    lengths = np.array([w[1] for w in words], dtype=np.int64)
    doc = np.repeat(np.arange(len(docs), dtype=np.int64), [len(d) for d in docs])
    return h, lengths, doc, len(docs)


def twin(h, lengths, doc, n_docs, top=TOP, dup=DUP):
    return ([K.repetition(h, lengths, doc, n_docs, n, True) for n in top],
            [K.repetition(h, lengths, doc, n_docs, n, False) for n in dup])


def compiled(h, lengths, doc, n_docs, top=TOP, dup=DUP):
    starts = np.searchsorted(doc, np.arange(n_docs + 1)).astype(np.int64)
    raw = K._K.ngram_repetition(np.ascontiguousarray(h, np.uint64), np.ascontiguousarray(lengths, np.int64),
                                starts, tuple(top), tuple(dup))
    assert len(raw) == len(top) + len(dup)
    out = [np.frombuffer(r, np.float64) for r in raw]
    return out[:len(top)], out[len(top):]


def assert_identical(a, b):
    for x, y in zip(a[0] + a[1], b[0] + b[1], strict=True):
        assert x.dtype == y.dtype == np.float64
        assert x.tobytes() == y.tobytes(), (x, y)


def both_paths(docs, top=TOP, dup=DUP):
    """The twin's values, after checking that the compiled kernel (where built) gives the same."""
    args = batch(docs)
    expected = twin(*args, top, dup)
    if hasattr(K._K, "ngram_repetition"):
        assert_identical(compiled(*args, top, dup), expected)
    return expected


words_strategy = st.tuples(st.sampled_from(HASHES), st.integers(0, 6))  # equal hashes may differ in length
docs_strategy = st.lists(st.lists(words_strategy, max_size=30), max_size=7)


# --- compiled vs twin ------------------------------------------------------------------------------


@needs_kernel
@given(docs_strategy)
def test_compiled_matches_twin_on_random_words(docs):
    args = batch(docs)
    assert_identical(compiled(*args), twin(*args))


@needs_kernel
@given(st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=40), max_size=5), st.data())
def test_compiled_matches_twin_on_random_hashes(hashes, data):
    docs = [[(x, data.draw(st.integers(1, 20))) for x in d] for d in hashes]
    args = batch(docs)
    assert_identical(compiled(*args), twin(*args))


@needs_kernel
def test_compiled_matches_twin_on_real_text():
    """ngram_signals as a whole, on English and Chinese text with repeats, both paths."""
    texts = pl.Series([
        "The cat sat on the mat. The cat sat on the mat. The dog sat on the log, and the cat sat.",
        "buy now buy now buy now cheap price buy now best price cheap cheap",
        "今天天气很好，我们去公园散步。今天天气很好，我们去公园散步。明天也许会下雨。",
        "", "one", "two words", "Ein Satz auf Deutsch, noch ein Satz auf Deutsch.",
        "价格优惠价格优惠价格优惠，欢迎选购。" * 20, "short",
    ] * 3)
    fast = S.ngram_signals(texts)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATAPREP_PURE_PYTHON", "1")
        assert not K.available()
        slow = S.ngram_signals(texts)
    assert fast.equals(slow)
    assert fast["top_2gram_frac"][1] > 0 and fast["dup_5gram_frac"][7] > 0 and fast["top_bigram_frac"][2] > 0


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 10, 13])
def test_documents_of_0_1_n_minus_1_and_n_words(n):
    w = (7, 3)
    lengths = sorted({0, 1, max(n - 1, 0), n})
    docs = [[w] * k for k in lengths] + [[]] + [[w] * k for k in reversed(lengths)] + [[]]
    top, dup = both_paths(docs, (n,), (n,))
    for d, doc in enumerate(docs):
        k = len(doc)
        # a document of n words holds one n-gram: nothing repeats; fewer than n words hold none
        assert top[0][d] == 0.0 and dup[0][d] == 0.0, (n, k)


def test_repeats_across_document_boundaries_are_not_counted():
    a, b, c = (11, 1), (22, 2), (33, 3)
    docs = [[a, b, c], [a, b, c], [a, b], [c, a, b], []]
    top, dup = both_paths(docs, (1, 2, 3), (1, 2, 3))
    for values in top + dup:
        assert values.tolist() == [0.0] * len(docs)
    # the same words in one document do repeat
    top, dup = both_paths([[a, b, c, a, b, c]], (2, 3), (2, 3))
    assert [t[0] for t in top] == [2 * 5.0, 2 * 6.0]  # "b c" x2; "a b c" x2
    assert [d[0] for d in dup] == [6.0, 6.0]


@pytest.mark.parametrize("words", [10**5])
def test_one_word_repeated(words):
    """Values of a document of one word repeated, both paths; the kernel stays linear."""
    n_top, n_dup = (1, 2, 3, 4), (5, 6, 7, 8, 9, 10, 13)
    top, dup = both_paths([[(5, 4)] * words, [(5, 4)] * 3], n_top, n_dup)
    for n, values in zip(n_top, top):
        assert values.tolist() == [(words - n + 1) * 4.0 * n, (3 - n + 1) * 4.0 * n if n <= 2 else 0.0]
    for values in dup:
        assert values.tolist() == [(words - 1) * 4.0, 0.0]  # every word but the first is covered


@needs_kernel
def test_compiled_is_linear_on_huge_repeats():
    """10**6 copies of one word, and of a two-word phrase, in one document: one n-gram (or two)
    repeated throughout, each size in a fraction of a second (a table that degraded with repeats
    would take hours)."""
    for doc in (np.full(10**6, 3, np.uint64), np.tile(np.array([3, 4], np.uint64), 5 * 10**5)):
        lengths = np.ones(doc.size, np.int64)
        t0 = time.perf_counter()
        top, dup = compiled(doc, lengths, np.zeros(doc.size, np.int64), 1, (2, 3, 4), (5, 10, 13))
        assert time.perf_counter() - t0 < 10
        period = 1 if doc[0] == doc[1] else 2  # the first repeat starts at the period
        # the n-gram at the even windows is the most frequent: ceil(windows / period) x n characters
        assert [t[0] for t in top] == [-(-(doc.size - n + 1) // period) * float(n) for n in (2, 3, 4)]
        assert [d[0] for d in dup] == [doc.size - float(period)] * 3


# --- hand-computed values --------------------------------------------------------------------------


A, B = (101, 1), (202, 2)  # "a" of 1 character, "b" of 2
THE, CAT, SAT = (1, 3), (2, 3), (3, 3)


def test_top_by_hand():
    # "a b a b a": bigrams ab, ba, ab, ba (count 2, 3 characters each) -> 6; trigrams aba, bab, aba
    # (aba: count 2, 4 characters) -> 8; 4-grams abab, baba never repeat -> 0; words: a x3 (1
    # character) -> 3, b x2 (2 characters) -> 4.
    # "the cat sat the cat sat": "the cat" x2 (6 characters) -> 12; "the cat sat" x2 -> 18;
    # 4-grams all differ -> 0; each word twice -> 6.
    top, _ = both_paths([[A, B, A, B, A], [THE, CAT, SAT, THE, CAT, SAT]], (2, 3, 4, 1), ())
    assert [t.tolist() for t in top] == [[6.0, 12.0], [8.0, 18.0], [0.0, 0.0], [4.0, 6.0]]


def test_dup_by_hand():
    # "a b a b a": repeat bigrams at 2 (ab) and 3 (ba) cover words 2..4: a + b + a = 4 characters;
    # the repeat trigram at 2 covers the same words; no 4-gram repeats.
    # "the cat sat the cat sat": repeats at 3 (bigrams at 3 and 4, trigram at 3) cover the last
    # three words: 9 characters; unigrams: the second "the cat sat" again.
    _, dup = both_paths([[A, B, A, B, A], [THE, CAT, SAT, THE, CAT, SAT]], (), (2, 3, 4, 1))
    assert [d.tolist() for d in dup] == [[4.0, 9.0], [4.0, 9.0], [0.0, 0.0], [4.0, 9.0]]
    # overlapping repeats are counted once: "a a a a" bigrams at 1, 2 cover words 1..3
    _, dup = both_paths([[A] * 4], (), (2,))
    assert dup[0].tolist() == [3.0]


def test_top_uses_the_characters_of_the_longest_occurrence():
    """Two words with one hash but different lengths are one n-gram for both paths: count x the
    characters of its (longest) occurrence."""
    top, dup = both_paths([[(9, 1), (9, 3)]], (1,), (1,))
    assert top[0].tolist() == [6.0] and dup[0].tolist() == [3.0]


def test_per_doc_max_with_empty_documents():
    values = np.array([1.0, 5.0, 2.0, 7.0])
    assert K._per_doc(values, np.array([0, 0, 1, 1]), 3, "max").tolist() == [5.0, 7.0, 0.0]
    assert K._per_doc(values, np.array([1, 1, 3, 3]), 5, "max").tolist() == [0.0, 5.0, 0.0, 7.0, 0.0]
    assert K._per_doc(np.array([]), np.array([], np.int64), 2, "max").tolist() == [0.0, 0.0]


# --- the dispatcher and the entry point --------------------------------------------------------------


def test_dispatcher_follows_the_environment(monkeypatch):
    h, lengths, doc, n_docs = batch([[A, B, A, B, A], [], [THE, CAT, SAT, THE, CAT, SAT]])
    monkeypatch.setenv("DATAPREP_PURE_PYTHON", "1")
    assert not K.available()
    slow = K.ngram_repetition(h, lengths, doc, n_docs, (2, 3), (5, 2))
    monkeypatch.delenv("DATAPREP_PURE_PYTHON")
    assert K.available() == hasattr(K._K, "ngram_repetition")
    fast = K.ngram_repetition(h, lengths, doc, n_docs, (2, 3), (5, 2))
    assert_identical(fast, slow)
    assert [t.tolist() for t in fast[0]] == [[6.0, 0.0, 12.0], [8.0, 0.0, 18.0]]
    assert all(a.flags.writeable for a in fast[0] + fast[1])
    assert K.ngram_repetition(h, lengths, doc, n_docs) == ([], [])
    with pytest.raises(ValueError):
        K.ngram_repetition(h, lengths, doc, n_docs, (0,))


@needs_kernel
def test_entry_point_checks_its_arguments():
    h = np.array([1, 2, 1], np.uint64)
    lengths = np.array([1, 1, 1], np.int64)
    ok = np.array([0, 3], np.int64)
    f = K._K.ngram_repetition
    assert [np.frombuffer(r).tolist() for r in f(h, lengths, ok, (1,), (1,))] == [[2.0], [1.0]]
    assert f(np.empty(0, np.uint64), np.empty(0, np.int64), np.zeros(1, np.int64), (2,), ()) == (b"",)
    for bad in [(h, lengths[:2], ok), (h, lengths, np.array([0, 2], np.int64)), (h, lengths, np.array([1, 3])),
                (h, lengths, np.array([0, 2, 1, 3], np.int64)), (h, lengths, np.empty(0, np.int64)),
                (h, np.array([1, -1, 1], np.int64), ok)]:
        with pytest.raises(ValueError):
            f(*bad, (2,), (2,))
    with pytest.raises(ValueError):
        f(h, lengths, ok, (0,), ())
    with pytest.raises(TypeError):
        f(h, lengths, ok, ("2",), ())


@needs_kernel
def test_compiled_runs_in_threads():
    """The loop runs without the GIL; concurrent calls give the single-threaded values."""
    rng = np.random.default_rng(3)
    h = rng.integers(0, 50, 200_000).astype(np.uint64)
    lengths = rng.integers(1, 8, h.size).astype(np.int64)
    doc = np.repeat(np.arange(400, dtype=np.int64), 500)
    expected = compiled(h, lengths, doc, 400)
    results = [None] * 4

    def run(k):
        results[k] = compiled(h, lengths, doc, 400)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert_identical(r, expected)
