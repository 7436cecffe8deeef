"""The compiled dedup kernels give exactly what their pure-Python/numpy twins give."""

import contextlib
import hashlib
import os
import shutil
import unicodedata

import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import write_jsonl
from dataprep import text as T
from dataprep.executor import LocalExecutor
from dataprep.runner import run_stage
from dataprep.stages.dedup import DedupConfig, DedupStage
from dataprep.stages.dedup import kernel as K
from dataprep.stages.dedup.minhash import signatures
from dataprep.stages.dedup.vector import SINGLE_UNIT

needs_kernel = pytest.mark.skipif(K._K is None, reason="dataprep._kernels is not built")

ALPHABET = list("abcde 的一是不了 。，ー！Ab12 \n\tÉé‐ａｂ한국어カタ_") + [
    "hello", "WORLD", "\u3000", "\xa0", "\u2028", "ß", "İ", "ΣΑΣ", "ﬁ", "\u0390", "e\u0301", "①", "٣", "😀", "\U00020000"]
ASCII_WORDS = ["the", "Cat", "  ", "\t", "\n", "a1b2", "_", "x-y", "...", "!?", "\x00", "\x7f", "\x1c", "  q"]
texts_strategy = st.lists(st.one_of(st.lists(st.sampled_from(ALPHABET), max_size=80).map("".join),
                                    st.text(max_size=120),
                                    st.text(st.characters(max_codepoint=127), max_size=120),  # the ASCII path
                                    st.lists(st.sampled_from(ASCII_WORDS), max_size=60).map(" ".join)),
                          min_size=1, max_size=8)


@contextlib.contextmanager
def python_path():
    """Run the pure-Python path inside the block."""
    os.environ["DATAPREP_PURE_PYTHON"] = "1"
    try:
        yield
    finally:
        del os.environ["DATAPREP_PURE_PYTHON"]


def test_kernel_is_built_where_there_is_a_compiler():
    if shutil.which("cc") or shutil.which("gcc"):
        assert K._K is not None, "a C compiler is present but dataprep._kernels was not built (pip install -e . again)"


@needs_kernel
def test_sha1_and_xxh32_match_the_reference_implementations():
    rng = np.random.default_rng(1)
    for shani in (True, False):
        K._K.use_sha_extensions(shani)
        for n in list(range(0, 140)) + [1000, 4097]:
            data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
            assert K._K.sha1_32(data) == int.from_bytes(hashlib.sha1(data).digest()[:4], "little"), (shani, n)
            assert K._K.xxh32(data) == xxhash.xxh32_intdigest(data), n
    K._K.use_sha_extensions(True)


@needs_kernel
def test_normalisation_table_is_the_python_definition():
    fold, multi = (np.frombuffer(b, np.uint32) for b in K.tables())
    multi = multi.reshape(-1, 4)
    single = SINGLE_UNIT

    def expected_codes(out: str) -> list[int]:
        return [ord(o) | (K._SPACE if o.isspace() else K._SINGLE if single.match(o) else K._WORD) << 24 for o in out]

    for cp in range(K.TABLE_SIZE):
        if 0xD800 <= cp < 0xE000:
            assert fold[cp] == cp
            continue
        e = int(fold[cp])
        got = [int(x) for x in multi[e & 0xFFFFFF][1:1 + multi[e & 0xFFFFFF][0]]] if e & K._MULTI else [e]
        assert got == expected_codes(K.char_output(chr(cp))), hex(cp)
    # Above the table every character is kept as it is, as part of a word.
    rest = "".join(map(chr, range(K.TABLE_SIZE, 0x110000)))
    assert rest.casefold() == rest and not T._DIGIT.search(rest) and not K._SPACE_RE.search(rest)
    assert not single.search(rest)
    assert not {unicodedata.category(m.group())[0] for m in T._NON_WORD.finditer(rest)} & {"P", "S"}


@needs_kernel
@settings(max_examples=60, deadline=None)
@given(texts_strategy, st.integers(1, 6))
def test_shingle_hashes_match_the_python_path(texts, n):
    for kind in ("sha1", "xxh32", "vector"):
        h, counts = K.shingle_hashes(texts, n, kind)
        with python_path():
            ph, pcounts = K.shingle_hashes(texts, n, kind)
        if kind == "vector":  # both give every n-gram in order, repeats included
            assert h.tolist() == ph.tolist() and counts.tolist() == pcounts.tolist()
        else:  # text.shingles gives distinct n-grams
            ends, pends = np.cumsum(counts), np.cumsum(pcounts)
            for a, b, pa_, pb in zip(ends - counts, ends, pends - pcounts, pends):
                assert set(h[a:b].tolist()) == set(ph[pa_:pb].tolist())


@needs_kernel
@settings(max_examples=40, deadline=None)
@given(texts_strategy, st.integers(0, 2**32 - 1), st.sampled_from([8, 64, 128]),
       st.sampled_from(["sha1", "xxh32", "vector"]), st.sampled_from(["permutations", "one-permutation"]))
def test_signatures_match_the_python_path(texts, seed, num_perm, hash_name, scheme):
    sig = signatures(texts, num_perm, seed, 5, hash_name, scheme=scheme)
    with python_path():
        want = signatures(texts, num_perm, seed, 5, hash_name, scheme=scheme)
    assert np.array_equal(sig, want)


@needs_kernel
@settings(max_examples=40, deadline=None)
@given(texts_strategy, st.sampled_from(["sha1", "xxh32", "vector"]), st.sampled_from(["permutations", "one-permutation"]))
def test_signatures_keep_the_shingle_hashes_verification_uses(texts, hash_name, scheme):
    """with_hashes: the same signatures, plus 32 bits of every shingle hash and the count per text."""
    sig, h, counts = signatures(texts, 16, 1, 5, hash_name, scheme=scheme, with_hashes=True)
    shingles, n = K.shingle_hashes(texts, 5, hash_name)
    assert np.array_equal(sig, signatures(texts, 16, 1, 5, hash_name, scheme=scheme))
    assert h.dtype == np.uint32 and np.array_equal(h, K.verification_hashes(shingles)) and np.array_equal(counts, n)
    with python_path():
        want_sig, want_h, want_counts = signatures(texts, 16, 1, 5, hash_name, scheme=scheme, with_hashes=True)
    assert np.array_equal(sig, want_sig) and len(h) == counts.sum() and len(want_h) == want_counts.sum()
    per_text = lambda h, c: [set(x.tolist()) for x in np.split(h, np.cumsum(c)[:-1])]  # noqa: E731
    assert per_text(h, counts) == per_text(want_h, want_counts)  # the Python path drops repeated shingles


@needs_kernel

def test_sig_agreement_matches_numpy():
    rng = np.random.default_rng(9)
    sigs = rng.integers(0, 5, (50, 16)).astype(np.uint32)  # small values: many agreements
    cut = 20
    parts = [sigs[:cut].ravel(), sigs[cut:].ravel()]
    part_of = np.array([0] * cut + [1] * (50 - cut), np.int32)
    row_of = np.concatenate([np.arange(cut), np.arange(50 - cut)]).astype(np.int64)
    pairs = rng.integers(0, 50, (300, 2)).astype(np.int64)
    want = np.count_nonzero(sigs[pairs[:, 0]] == sigs[pairs[:, 1]], axis=1)
    assert K.sig_agreement(parts, part_of, row_of, pairs, 16).tolist() == want.tolist()
    with python_path():
        assert K.sig_agreement(parts, part_of, row_of, pairs, 16).tolist() == want.tolist()
    if K.available():
        with pytest.raises(IndexError):
            K._K.sig_agreement(parts, part_of, row_of, np.array([[0, 50]], np.int64), 16)
        with pytest.raises(IndexError):
            K._K.sig_agreement([parts[0]], part_of, row_of, pairs, 16)

@pytest.mark.parametrize("dtype", [np.uint32, np.uint64])
def test_pair_jaccard_matches_the_python_path(dtype):
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 60, 40)
    h = rng.integers(0, 50, counts.sum()).astype(dtype)  # small values: many repeats and overlaps
    pairs = rng.integers(0, 40, (300, 2))
    starts = np.cumsum(counts) - counts
    cut = int(starts[17])  # two parts, split between items
    part_of = (np.arange(40) >= 17).astype(np.int32)
    start_of = np.where(part_of == 1, starts - cut, starts)
    got = K.pair_jaccard([h[:cut], h[cut:]], part_of, start_of, counts, pairs)
    with python_path():
        want = K.pair_jaccard([h], np.zeros(40, np.int32), starts, counts, pairs)
    assert got == want
    assert got == K.pair_jaccard([h], np.zeros(40, np.int32), starts, counts, pairs)
    a, b = (set(h[starts[i]:starts[i] + counts[i]].tolist()) for i in pairs[0])
    assert got[0] == (len(a & b) / len(a | b) if a | b else 1.0)
    if K.available():
        with pytest.raises(IndexError, match="outside its part"):
            K._K.pair_jaccard([h[:cut]], np.zeros(40, np.int32), starts, counts, np.zeros((1, 2), np.int64),
                              np.dtype(dtype).itemsize)


@needs_kernel
def test_stage_output_is_the_same_with_and_without_the_kernel(tmp_path):
    rng = np.random.default_rng(9)
    words = ["alpha", "beta", "gamma", "delta", "数据", "处理", "去重", "Straße", "ＡＢＣ", "١٢٣"]
    base = [" ".join(rng.choice(words, 60)) for _ in range(40)]
    docs = [{"id": f"d{i:03d}", "text": t} for i, t in enumerate(base)]
    docs += [{"id": f"n{i:03d}", "text": t.replace("alpha", "ALPHA!", 1) + " 去重"} for i, t in enumerate(base[:15])]
    write_jsonl(tmp_path / "in.jsonl", docs)
    from dataprep.stages.ingest import IngestConfig, IngestStage

    with LocalExecutor(1) as ex:
        run_stage(IngestStage(IngestConfig(paths=[str(tmp_path / "in.jsonl")])), None, tmp_path / "ing", ex, quiet=True)
        from dataprep.corpus import Corpus

        src = Corpus.open(tmp_path / "ing")
        for name, cfg in [("sha1", {"hash": "sha1", "scheme": "permutations"}), ("fast", {})]:
            run_stage(DedupStage(DedupConfig(num_perm=64, **cfg)), src, tmp_path / f"k-{name}", ex, quiet=True)
            with python_path():
                run_stage(DedupStage(DedupConfig(num_perm=64, **cfg)), src, tmp_path / f"p-{name}", ex, quiet=True)
            kept = sorted(p.relative_to(tmp_path / f"k-{name}") for p in (tmp_path / f"k-{name}").rglob("*.parquet")
                          if "_state" not in p.parts)
            assert kept
            for rel in kept:
                assert (tmp_path / f"k-{name}" / rel).read_bytes() == (tmp_path / f"p-{name}" / rel).read_bytes(), rel
            assert (tmp_path / f"k-{name}" / "manifest.json").exists()
    assert os.environ.get("DATAPREP_PURE_PYTHON") is None


@needs_kernel
def test_components_match_the_python_union_find():
    rng = np.random.default_rng(8)
    left, right = rng.integers(0, 500, (2, 400))
    labels = K.components(500, left, right)
    with python_path():
        assert labels.tolist() == K.components(500, left, right).tolist()
    assert all(labels[a] == labels[b] for a, b in zip(left, right)) and (labels <= np.arange(500)).all()


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 3000), bands=st.integers(1, 5),
       distinct=st.integers(1, 400), small=st.integers(2, 40), threads=st.integers(1, 3))
def test_band_pairs_match_the_numpy_grouping(seed, n, bands, distinct, small, threads):
    """Per band, equal keys among the usable items: all pairs of small groups, star + chain of large
    ones (few distinct keys make large groups; many make the kernel's partitions matter)."""
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, distinct, (bands, n)).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    usable = np.flatnonzero(rng.random(n) < 0.9)
    got = K.band_pairs(keys, usable, small, threads)
    with python_path():
        want = K.band_pairs(keys, usable, small, threads)
    assert got.dtype == np.uint64 and got.tolist() == want.tolist()


@needs_kernel
def test_band_pairs_partition_large_inputs():
    """Above 4096 items the kernel partitions each band by key bits before grouping."""
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 15000, (3, 40000)).astype(np.uint64) * np.uint64(0xD6E8FEB86659FD93)
    keys[1, :50] = 5  # one group above the small-group size
    usable = np.arange(40000)
    got = K.band_pairs(keys, usable, 32)
    with python_path():
        want = K.band_pairs(keys, usable, 32)
    assert len(got) > 40000 and got.tolist() == want.tolist()


@needs_kernel
def test_long_texts_cross_the_kernels_chunks():
    rng = np.random.default_rng(12)
    pieces = ["word", "Other", "12", ", ", "  ", "\n", "ünï", "数据", "x" * 300]
    ascii_only = " ".join(rng.choice(pieces[:6], 6000))  # ~25k characters, several 4096-character chunks
    mixed = " ".join(rng.choice(pieces, 6000))
    for text in (ascii_only, mixed, "y" * 10000):
        for kind in ("sha1", "xxh32", "vector"):
            h, counts = K.shingle_hashes([text], 5, kind)
            with python_path():
                ph, _ = K.shingle_hashes([text], 5, kind)
            assert set(h.tolist()) == set(ph.tolist()), kind
