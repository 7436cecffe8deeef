"""dedup: exact, MinHash-LSH and SimHash deduplication of documents, paragraphs or sentences.

One entry in a pipeline is one pass; chain several (exact document, then MinHash document, then
exact paragraph). The global work happens in ``prepare``: a map over shards computes per-item keys
(an item is a document, or one paragraph or sentence of it) into ``_state/map-*.npz``, then a
reduce groups equal keys (per band for MinHash, per block for SimHash), verifies candidates,
clusters them with union-find, picks survivors and writes one decision file per shard. ``apply``
then drops or edits the shard's rows from its decision file.
"""

from __future__ import annotations

import json
import math
import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dataprep.config import ConfigError, config_hash, option
from dataprep.corpus import (Corpus, atomic_write_bytes, atomic_write_json, read_parquet, split_by_reason,
                             write_table)
from dataprep.stage import Stage, StageContext, StageError, Task, TaskOutput, text_chars

from . import kernel
from . import minhash as mh
from . import simhash as sh
from .cluster import SMALL_GROUP, items_of, normalize_exact_many, unit_spans


@dataclass
class DedupConfig:
    method: Literal["exact", "minhash", "simhash"] = option("minhash", help="exact hashes, MinHash-LSH, or SimHash.")
    level: Literal["document", "paragraph", "sentence"] = option(
        "document", help="What is deduplicated: whole documents, or repeated paragraphs/sentences across the corpus.")
    keep: Literal["first", "longest", "best"] = option(
        "first", help="Which copy of a duplicate document survives: smallest id, longest text, or highest "
                      "`quality_column` (ties: smallest id). Repeated paragraphs/sentences keep their first "
                      "occurrence in corpus order.")
    quality_column: str = option("quality", help="Column read by keep=best.")
    ngram: int = option(3, help="Shingle size in units (a CJK character or a word), see dataprep.text.shingles.")
    threshold: float = option(0.7, help="Jaccard similarity from which two items are near-duplicates (minhash).")
    num_perm: int = option(128, help="MinHash permutations.")
    bands: Optional[int] = option(None, help="LSH bands; with `rows`, overrides the choice made from `threshold`.")
    rows: Optional[int] = option(None, help="LSH rows per band.")
    hash: Literal["sha1", "xxh32", "vector"] = option(
        "vector", help="Shingle hash: vector (64-bit hashes of the shingles' code points, the fastest), xxh32, or "
                       "sha1 (with scheme=permutations: datasketch's bit-identical signatures).")
    scheme: Literal["permutations", "one-permutation"] = option(
        "one-permutation", help="MinHash scheme: one-permutation hashing with densification (one hash per "
                                "shingle, the fastest), or num_perm permutations of every shingle hash "
                                "(datasketch's; with hash=sha1 its exact signatures).")
    verify: Literal["exact", "estimate", "none"] = option(
        "exact", help="Check LSH candidates by exact shingle Jaccard, by signature agreement, or not at all.")
    hamming: int = option(3, help="SimHash: maximum Hamming distance between 64-bit fingerprints.")
    normalize: Literal["light", "full", "none"] = option(
        "light", help="Exact method: `light` = NFKC, casefold, whitespace collapsed; `full` also folds digits "
                      "and drops punctuation (as shingles do); `none` = raw text.")
    max_removed_share: float = option(0.5, help="Paragraph/sentence level: reject a document that would lose more "
                                                "than this share of its characters.")
    exempt: dict[str, list[str]] = option({}, help="Leave rows whose column has one of these values out of the "
                                                    "pass, e.g. {source: [code]} (a `}` line repeats in every program).")
    against: Optional[str] = option(None, help="Output folder of an earlier dedup run with the same method and "
                                               "level; documents duplicating it are dropped (it is not re-added).")
    seed: int = option(1, help="MinHash permutation seed.")

    def validate(self) -> None:
        if self.ngram < 1 or self.num_perm < 1:
            raise ConfigError("ngram and num_perm: must be >= 1")
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError("threshold: must be in (0, 1]")
        if (self.bands is None) != (self.rows is None):
            raise ConfigError("bands/rows: give both or neither")
        if self.bands is not None and (self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm):
            raise ConfigError(f"bands x rows: must be positive with bands*rows <= num_perm ({self.num_perm})")
        if not 0 <= self.hamming < 64:
            raise ConfigError("hamming: must be in [0, 63]")
        if not 0.0 <= self.max_removed_share <= 1.0:
            raise ConfigError("max_removed_share: must be in [0, 1]")

    def lsh(self) -> tuple[int, int]:
        if self.bands is not None:
            return self.bands, self.rows
        return mh.lsh_params(self.threshold, self.num_perm)


# --- map: per-shard keys ------------------------------------------------------------------------


def map_shard(args: tuple[DedupConfig, str, str]) -> int:
    """Compute one shard's item keys into ``out`` (.npz); return the number of items."""
    cfg, shard, out = args
    names = pq.read_schema(shard).names
    for column in cfg.exempt:
        if column not in names:
            raise StageError(f"dedup.exempt: the corpus has no column {column!r}")
    # one reader thread: the executor already runs a task per core
    table = read_parquet(shard, ["id", "text", *[c for c in cfg.exempt if c not in ("id", "text")]])
    texts = table["text"].to_pylist()
    text_chars = sum(len(t) for t in texts if t is not None)  # the apply's characters in, without a rescan
    for column, values in cfg.exempt.items():
        if column not in table.column_names:
            raise StageError(f"dedup.exempt: the corpus has no column {column!r}")
        wanted = set(values)
        texts = [None if v in wanted else t for t, v in zip(texts, table[column].to_pylist())]
    doc, unit, item_texts = items_of(texts, cfg.level)
    arrays: dict[str, np.ndarray] = {"doc": np.asarray(doc, np.int32), "unit": np.asarray(unit, np.int32),
                                     "chars": np.fromiter(map(len, item_texts), np.int64, len(item_texts)),
                                     "text_chars": np.int64(text_chars), **_pack_ids(table["id"])}
    if cfg.method == "exact":
        import xxhash

        f = xxhash.xxh3_64_intdigest
        arrays["keys"] = np.fromiter((f(t.encode("utf-8", "surrogatepass"))
                                      for t in normalize_exact_many(item_texts, cfg.normalize)),
                                     np.uint64, len(item_texts))
    elif cfg.method == "minhash":
        bands, rows = cfg.lsh()
        if keeps_shingles(cfg):  # raw uint32, written batch by batch as the kernel returns them
            tmp = shingle_file(out).with_name("partial-" + shingle_file(out).name)
            parts, counts = [], []
            with open(tmp, "wb") as f:
                for s, h, c in mh.signature_batches(item_texts, cfg.num_perm, cfg.seed, cfg.ngram, cfg.hash, cfg.scheme,
                                                    with_hashes=True):
                    f.write(h)
                    parts.append(s)
                    counts.append(c)
            sigs = np.concatenate(parts) if parts else np.empty((0, cfg.num_perm), np.uint32)
            arrays["nshingles"] = np.concatenate(counts) if counts else np.empty(0, np.int64)
            tmp_sigs = sig_file(out).with_name("partial-" + sig_file(out).name)
            tmp_sigs.write_bytes(np.ascontiguousarray(sigs, np.uint32).tobytes())
            tmp_sigs.replace(sig_file(out))
            tmp.replace(shingle_file(out))
        else:
            sigs = mh.signatures(item_texts, cfg.num_perm, cfg.seed, cfg.ngram, cfg.hash, scheme=cfg.scheme)
        arrays["keys"] = mh.band_keys(sigs, bands, rows)
        arrays["empty"] = np.all(sigs == mh.EMPTY, axis=1)
        if cfg.verify == "estimate":
            arrays["sigs"] = sigs
    else:
        arrays["keys"] = np.fromiter((sh.fingerprint(t, cfg.ngram) for t in item_texts), np.uint64, len(item_texts))
    tmp = Path(out).with_name(Path(out).stem + ".partial.npz")
    np.savez(tmp, **arrays)
    tmp.replace(out)
    return len(item_texts)


INDEX_FORMAT = 2  # layout of map files; a reference index made with another is made again


def keeps_shingles(cfg: DedupConfig) -> bool:
    """Exact verification: the map keeps every item's shingle hashes (4 bytes each) until the
    clusters are known, so candidates are never read and hashed a second time."""
    return cfg.method == "minhash" and cfg.verify == "exact"


def shingle_file(map_file: str | Path) -> Path:
    """A map file's shingle hashes: raw uint32, item after item (counts in the map file's nshingles)."""
    p = Path(map_file)
    return p.with_name(p.stem + ".shingles.u32")


def sig_file(map_file: str | Path) -> Path:
    """A map file's MinHash signatures, kept next to its shingle hashes for exact verification:
    raw uint32, one row of num_perm values per item."""
    p = Path(map_file)
    return p.with_name(p.stem + ".sigs.u32")


def map_done(cfg: DedupConfig, map_file: str | Path) -> bool:
    return Path(map_file).exists() and (not keeps_shingles(cfg) or (shingle_file(map_file).exists()
                                                                     and sig_file(map_file).exists()))


def _pack_ids(ids: pa.ChunkedArray) -> dict[str, np.ndarray]:
    """A shard's document ids as two arrays (offsets, UTF-8 bytes), so the reduce need not reread them."""
    arr = ids.combine_chunks().cast(pa.large_string())
    if len(arr) == 0:
        return {"id_offsets": np.zeros(1, np.int64), "id_data": np.empty(0, np.uint8)}
    offsets = np.frombuffer(arr.buffers()[1], np.int64, len(arr) + 1, arr.offset * 8)
    size = int(offsets[-1] - offsets[0])
    data = np.frombuffer(arr.buffers()[2], np.uint8, size, int(offsets[0])) if size else np.empty(0, np.uint8)
    return {"id_offsets": offsets - offsets[0], "id_data": data}


def _text_chars(map_file: str) -> int | None:
    with np.load(map_file) as z:
        return int(z["text_chars"]) if "text_chars" in z else None


def load_ids(map_file: str, shard: str) -> pa.Array:
    """Document ids of one shard, from its map file (or from the shard, for a map file without them)."""
    with np.load(map_file) as z:
        if "id_offsets" in z:
            offsets = z["id_offsets"]
            return pa.LargeStringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets),
                                                    pa.py_buffer(z["id_data"])).cast(pa.string())
    return read_parquet(shard, ["id"])["id"].combine_chunks()


# --- reduce: candidates, clusters, decisions ----------------------------------------------------

@dataclass
class Items:
    """All items of the corpus (and of a reference corpus, which comes first), as parallel arrays."""

    shard: np.ndarray
    doc: np.ndarray
    unit: np.ndarray
    chars: np.ndarray
    keys: np.ndarray  # (items,); MinHash: (bands, items)
    reference: np.ndarray  # True for items of the --against corpus
    sigs: np.ndarray | None
    empty: np.ndarray | None
    nshingles: np.ndarray | None = None  # exact verification: shingles per item, in its part's shingle file


def load_items(parts: list[tuple[str, bool]]) -> Items:
    loaded = [(i, np.load(p), ref) for i, (p, ref) in enumerate(parts)]
    cat = lambda name: np.concatenate([z[name] for _, z, _ in loaded], axis=-1) if loaded else np.empty(0)  # noqa: E731
    sizes = [len(z["doc"]) for _, z, _ in loaded]
    return Items(
        shard=np.repeat(np.arange(len(loaded), dtype=np.int32), sizes),
        doc=cat("doc"), unit=cat("unit"), chars=cat("chars"), keys=cat("keys"),
        reference=np.repeat(np.array([ref for _, _, ref in loaded], dtype=bool), sizes),
        sigs=cat("sigs") if loaded and "sigs" in loaded[0][1] else None,
        empty=cat("empty") if loaded and "empty" in loaded[0][1] else None,
        nshingles=cat("nshingles") if loaded and "nshingles" in loaded[0][1] else None,
    )


def near_duplicate_edges(cfg: DedupConfig, items: Items, parts: list[str], executor
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Verified pairs for minhash, and for simhash edges with the same clusters as its pairs (see
    simhash.near_pairs): (left items, right items, similarities), left < right, ascending."""
    if cfg.method == "simhash":  # reference pairs were settled before
        return sh.near_pairs(items.keys, cfg.hamming, items.reference)
    # documents too short for any shingle cannot be near-duplicates; exact dedup catches copies
    codes = lsh_pairs(items.keys, np.flatnonzero(~items.empty), executor, Path(parts[-1]).parent)
    left, right = (codes >> np.uint64(32)).astype(np.int64), (codes & np.uint64(0xFFFFFFFF)).astype(np.int64)
    del codes
    if items.reference.any():
        new = ~(items.reference[left] & items.reference[right])  # reference pairs were settled before
        left, right = left[new], right[new]
    if cfg.verify == "none":
        return left, right, np.full(len(left), np.nan)
    if cfg.verify == "estimate":
        sims = np.concatenate([np.empty(0)] + [np.mean(items.sigs[left[c:c + 65536]] == items.sigs[right[c:c + 65536]],
                                                       axis=1) for c in range(0, len(left), 65536)])
    else:
        sims = verify_exact(items, [str(shingle_file(p)) for p in parts], [str(sig_file(p)) for p in parts],
                            left, right, executor, cfg.num_perm, prefilter_agreement(cfg),
                            scratch=Path(parts[-1]).parent)
    keep = sims >= cfg.threshold
    return left[keep], right[keep], sims[keep]


def lsh_pairs(keys: np.ndarray, usable: np.ndarray, executor, scratch: Path) -> np.ndarray:
    """``kernel.band_pairs`` with the bands spread over the executor's workers as tasks (on a
    cluster, over its nodes): the band keys go to a file in ``scratch`` that every task
    memory-maps, each task writes the pairs of its bands to a file, and this process merges them
    into the same sorted distinct codes. One worker: the kernel here."""
    workers = getattr(executor, "workers", 1) or 1
    bands = keys.shape[0] if keys.ndim == 2 else 0
    if executor is None or workers <= 1 or bands < 2:
        return kernel.band_pairs(keys, usable, SMALL_GROUP)
    paths = {"keys": scratch / "lsh-keys.npy", "usable": scratch / "lsh-usable.npy"}
    np.save(paths["keys"], np.ascontiguousarray(keys, np.uint64))
    np.save(paths["usable"], np.ascontiguousarray(usable, np.int64))
    bounds = np.linspace(0, bands, min(workers, bands) + 1).astype(np.int64).tolist()
    jobs = [(str(paths["keys"]), str(paths["usable"]), lo, hi, str(scratch / f"lsh-pairs-{lo}.npy"))
            for lo, hi in zip(bounds, bounds[1:])]
    try:
        outputs = executor.map(band_pairs_task, jobs)
        codes = np.concatenate([np.load(p) for p in outputs])
    finally:
        for p in [*paths.values(), *(Path(j[-1]) for j in jobs)]:
            p.unlink(missing_ok=True)
    return kernel.sorted_distinct(codes)


def band_pairs_task(args: tuple) -> str:
    """One task of ``lsh_pairs``: the candidate pairs of bands [lo, hi), written to ``out``."""
    keys_path, usable_path, lo, hi, out = args
    keys = np.load(keys_path, mmap_mode="r")
    usable = np.load(usable_path, mmap_mode="r")
    np.save(out, kernel.band_pairs(keys[lo:hi], usable, SMALL_GROUP))
    return out


# Exact verification first compares the pair's MinHash signatures, which the map kept: a pair
# sharing fewer than threshold - PREFILTER_SIGMAS standard deviations of the estimate's values
# (sqrt(t(1-t)/num_perm), the binomial spread of the agreement of num_perm independent values at
# Jaccard t) cannot reasonably be at the threshold, and is not read. At 128 permutations and 0.7 that
# is 8 x 0.041: pairs agreeing on under 38% of their values. LSH candidates are mostly such pairs
# (a band match at Jaccard 0.2 to 0.4 is common in a large corpus); the rest get the exact Jaccard.
PREFILTER_SIGMAS = 8.0


def prefilter_agreement(cfg: DedupConfig) -> int:
    """The fewest shared MinHash values for which a candidate pair is verified exactly."""
    t = cfg.threshold
    cut = t - PREFILTER_SIGMAS * math.sqrt(t * (1.0 - t) / cfg.num_perm)
    return max(0, math.floor(cut * cfg.num_perm))


def verify_exact(items: Items, files: list[str], sig_files: list[str], left: np.ndarray, right: np.ndarray,
                 executor, num_perm: int, min_agree: int, scratch: Path | None = None) -> np.ndarray:
    """Jaccard of each candidate pair, on the workers (pairs split evenly), from the map's
    signature and shingle files (``files[part]``, ``sig_files[part]``, memory-mapped; an item's
    hashes start where the previous item's of its part end): exact for pairs whose signatures share
    at least ``min_agree`` values, the signature estimate (below the threshold) for the others.
    With ``scratch`` (a folder), the pairs and item positions go to the workers as files there,
    which they memory-map, instead of as copies in every task's arguments."""
    if len(left) == 0:
        return np.empty(0)
    counts = items.nshingles.astype(np.int64)
    ends = np.cumsum(counts)
    first = np.searchsorted(items.shard, np.arange(len(files)))  # first item of each part
    where = {"part_of": items.shard.astype(np.int32), "start_of": ends - counts - np.concatenate([[0], ends])[first][items.shard],
             "count_of": counts, "row_of": np.arange(len(items.shard), dtype=np.int64) - first[items.shard],
             "left": np.ascontiguousarray(left, np.int64), "right": np.ascontiguousarray(right, np.int64)}
    del counts, ends
    if scratch is not None:
        for name, arr in where.items():
            np.save(Path(scratch) / f"verify-{name}.npy", arr)
        where = {name: str(Path(scratch) / f"verify-{name}.npy") for name in where}
    n = len(left)
    njobs = max(1, min(getattr(executor, "workers", 1) or 1, n // 2000))
    bounds = np.linspace(0, n, njobs + 1).astype(np.int64).tolist()
    jobs = [(files, sig_files, where, lo, hi, num_perm, min_agree) for lo, hi in zip(bounds, bounds[1:])]
    run = executor.map if executor is not None else (lambda fn, xs: [fn(x) for x in xs])
    try:
        return np.concatenate(run(jaccard_of_pairs, jobs))
    finally:
        if scratch is not None:
            for path in where.values():
                Path(path).unlink(missing_ok=True)


class _Mapped:
    """Read-only memory maps of raw uint32 files whose resident pages can be dropped between chunks
    of work, so a worker's memory stays bounded by a chunk's items, not by the files' size (the
    pages stay in the page cache, where the next chunk finds them)."""

    def __init__(self, paths: list[str]):
        self.maps: list[mmap.mmap | None] = []
        self.arrays: list[np.ndarray] = []
        for path in paths:
            size = os.path.getsize(path)
            if size == 0:  # an empty file cannot be memory-mapped
                self.maps.append(None)
                self.arrays.append(np.empty(0, np.uint32))
                continue
            with open(path, "rb") as f:
                m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            self.maps.append(m)
            self.arrays.append(np.frombuffer(m, np.uint32))

    def release(self) -> None:
        for m in self.maps:
            if m is not None and hasattr(m, "madvise"):
                m.madvise(mmap.MADV_DONTNEED)


VERIFY_CHUNK = 50_000  # pairs per step of a verification task (bounds the resident pages of the files)


def jaccard_of_pairs(args: tuple) -> np.ndarray:
    """Similarity of pairs of items (see verify_exact): item k is row row_of[k] of its part's
    signatures and count_of[k] hashes from start_of[k] in its part's shingle file."""
    files, sig_files, where, lo, hi, num_perm, min_agree = args
    arr = {name: np.load(v, mmap_mode="r") if isinstance(v, str) else v for name, v in where.items()}
    part_of, start_of, count_of, row_of = arr["part_of"], arr["start_of"], arr["count_of"], arr["row_of"]
    pairs = np.stack([arr["left"][lo:hi], arr["right"][lo:hi]], axis=1)
    sims = np.empty(len(pairs))
    sigs, hashes = _Mapped(sig_files), _Mapped(files)
    for c in range(0, len(pairs), VERIFY_CHUNK):
        chunk = pairs[c:c + VERIFY_CHUNK]
        agree = kernel.sig_agreement(sigs.arrays, part_of, row_of, chunk, num_perm)
        sigs.release()
        out = agree / num_perm
        close = agree >= min_agree
        if close.any():
            out[close] = kernel.pair_jaccard(hashes.arrays, part_of, start_of, count_of, chunk[close])
            hashes.release()
        sims[c:c + len(chunk)] = out
    return sims


def cluster(cfg: DedupConfig, items: Items, parts: list[str], executor) -> tuple[np.ndarray, dict[int, float]]:
    """(root per item: the smallest item of its cluster, similarity per root: the lowest verified
    similarity of the cluster's pairs, 1.0 for exact copies, NaN when not verified). ``parts``: the
    map files the items came from, in order."""
    n = len(items.doc)
    if cfg.method == "exact":
        order = np.argsort(items.keys, kind="stable")
        k = items.keys[order]
        same = np.flatnonzero(k[1:] == k[:-1])
        left, right, sims = order[same], order[same + 1], np.ones(len(same))
    else:
        left, right, sims = near_duplicate_edges(cfg, items, parts, executor)
    roots = kernel.components(n, left, right)
    edge_root = roots[left]
    low = np.ones(n)
    np.minimum.at(low, edge_root, sims)  # NaN (unverified) wins, as it should
    return roots, {r: float(low[r]) for r in np.unique(edge_root).tolist()}


def _clusters_of(roots: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(members, starts, sizes): items in clusters of two or more, grouped by root (ascending) and
    ascending within a cluster; where each cluster starts in ``members`` and its size."""
    joined = np.flatnonzero(np.bincount(roots, minlength=len(roots))[roots] > 1)
    members = joined[np.argsort(roots[joined], kind="stable")]
    r = roots[members]
    starts = np.flatnonzero(np.concatenate([[True], r[1:] != r[:-1]])) if len(r) else np.empty(0, np.int64)
    sizes = np.diff(np.concatenate([starts, [len(members)]])).astype(np.int64)
    return members, starts, sizes


def _item_ids(items: Items, id_cols: list[pa.Array], which: np.ndarray) -> pa.Array:
    """The document ids of the given items."""
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in id_cols])]).astype(np.int64)
    flat = pa.concat_arrays([c.cast(pa.string()) for c in id_cols]) if id_cols else pa.array([], pa.string())
    return flat.take(pa.array(offsets[items.shard[which]] + items.doc[which]))


def _decision_tables(shard_of: np.ndarray, row: np.ndarray, cluster: pa.Array, count: np.ndarray,
                     dup_of: pa.Array, units: pa.Array, n_shards: int) -> list[pa.Table]:
    order = np.lexsort((row, shard_of))
    shard_of, row = shard_of[order], row[order]
    take = pa.array(order)
    cluster, dup_of, units, count = cluster.take(take), dup_of.take(take), units.take(take), count[order]
    bounds = np.searchsorted(shard_of, np.arange(n_shards + 1))
    return [pa.table({"row": pa.array(row[a:b], pa.int32()), "cluster": cluster[a:b],
                      "count": pa.array(count[a:b], pa.int32()), "dup_of": dup_of[a:b],
                      "units": units[a:b]})
            for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())]


def document_decisions(cfg: DedupConfig, items: Items, roots: np.ndarray, sims: dict[int, float],
                       id_cols: list[pa.Array], quality: list | None, first_shard: int,
                       n_shards: int) -> tuple[pa.Table, list[pa.Table]]:
    """clusters.parquet and one decision table per shard, for documents (one item each). The
    survivor: the first reference member if any, else by policy (`first`: smallest id; `longest`;
    `best`), ties broken by id, then by corpus order."""
    members, starts, sizes = _clusters_of(roots)
    cl = np.repeat(np.arange(len(starts)), sizes)
    ids = _item_ids(items, id_cols, members)
    id_rank = np.empty(len(members), np.int64)
    id_rank[np.asarray(pc.sort_indices(ids))] = np.arange(len(members))  # UTF-8 order = code point order
    ref = items.reference[members]
    if cfg.keep == "longest":
        policy = -items.chars[members].astype(np.float64)
    elif cfg.keep == "best":
        q = np.array([quality[m] if quality[m] is not None else np.nan for m in members.tolist()], dtype=np.float64)
        policy = np.where(np.isnan(q), np.inf, -q)
    else:
        policy = np.zeros(len(members))
    policy = np.where(ref, 0.0, policy)
    by_id = np.where(ref, 0, id_rank)
    order = np.lexsort((members, by_id, policy, ~ref, cl))  # last key first: cluster, reference, policy, id
    keep = order[starts]  # position in `members` of each cluster's survivor
    keep_ids = ids.take(pa.array(keep))
    clusters = pa.table({
        "cluster": keep_ids, "members": pa.ListArray.from_arrays(pa.array(np.concatenate([starts, [len(members)]]),
                                                                          pa.int32()), ids),
        "kept": keep_ids, "size": pa.array(sizes, pa.int32()),
        "similarity": pa.array([sims.get(r, float("nan")) for r in roots[members[starts]].tolist()], pa.float32())})
    new = np.flatnonzero(~ref)
    is_kept = np.zeros(len(members), bool)
    is_kept[keep] = True
    kept_of_new = keep_ids.take(pa.array(cl[new]))
    dup_of = pc.if_else(pa.array(is_kept[new]), pa.scalar(None, pa.string()), kept_of_new)
    decisions = _decision_tables(items.shard[members[new]] - first_shard, items.doc[members[new]],
                                 kept_of_new, sizes[cl[new]], dup_of,
                                 pa.array([[]] * len(new), pa.list_(pa.int32())), n_shards)
    return clusters, decisions


def unit_decisions(items: Items, roots: np.ndarray, sims: dict[int, float], id_cols: list[pa.Array],
                   first_shard: int, n_shards: int) -> tuple[pa.Table, list[pa.Table]]:
    """clusters.parquet and decision tables for paragraphs/sentences: the first occurrence in corpus
    order (reference first) survives; a document's entry lists every unit cut from it and names
    the first cluster it belongs to."""
    members, starts, sizes = _clusters_of(roots)
    ids = _item_ids(items, id_cols, members).to_pylist()
    labels = [f"{i}#{u}" for i, u in zip(ids, items.unit[members].tolist())]
    cluster_rows = {"cluster": [], "members": [], "kept": []}
    decisions: list[dict] = [dict() for _ in range(n_shards)]
    for c, (a, size) in enumerate(zip(starts.tolist(), sizes.tolist())):
        keep = a  # members are in corpus order
        cluster_rows["cluster"].append(labels[keep])
        cluster_rows["members"].append(labels[a:a + size])
        cluster_rows["kept"].append(ids[keep])
        for k in range(a, a + size):
            m = int(members[k])
            if items.reference[m]:
                continue
            d = decisions[int(items.shard[m]) - first_shard].setdefault(int(items.doc[m]), {
                "cluster": labels[keep], "count": size, "dup_of": None, "units": []})
            if k != keep:
                d["units"].append(int(items.unit[m]))
                d["dup_of"] = d["dup_of"] or ids[keep]
    clusters = pa.table({"cluster": pa.array(cluster_rows["cluster"], pa.string()),
                         "members": pa.array(cluster_rows["members"], pa.list_(pa.string())),
                         "kept": pa.array(cluster_rows["kept"], pa.string()), "size": pa.array(sizes, pa.int32()),
                         "similarity": pa.array([sims.get(r, float("nan")) for r in roots[members[starts]].tolist()],
                                                pa.float32())})
    tables = []
    for dec in decisions:
        rows = sorted(dec)
        tables.append(pa.table({
            "row": pa.array(rows, pa.int32()),
            "cluster": pa.array([dec[r]["cluster"] for r in rows], pa.string()),
            "count": pa.array([dec[r]["count"] for r in rows], pa.int32()),
            "dup_of": pa.array([dec[r]["dup_of"] for r in rows], pa.string()),
            "units": pa.array([sorted(dec[r]["units"]) for r in rows], pa.list_(pa.int32())),
        }))
    return clusters, tables


class DedupStage(Stage):
    """Remove exact and near-duplicate documents, or repeated paragraphs and sentences.

    `method: exact | minhash | simhash` with `level: document | paragraph | sentence`; chain several
    entries in the YAML. Dropped documents go to _rejected/ with reason `dedup:METHOD:LEVEL` and
    `dup_of` (the id kept); kept documents carry `dup_cluster` and `dup_count`; clusters.parquet lists
    every cluster with its members, the id kept and its similarity. Repeated paragraphs/sentences are
    cut from the text (listed in _edits/); a document losing more than max_removed_share is rejected.

    \b
    Examples:
      dataprep dedup -i work/clean -o work/exact --method exact
      dataprep dedup -i work/exact -o work/near --method minhash --keep longest
      dataprep dedup -i work/near -o work/para --method exact --level paragraph
      dataprep dedup -i work/new_crawl -o work/fresh --method minhash --against work/last_month_near
    """

    name = "dedup"
    Config = DedupConfig

    def _label(self) -> str:
        return f"dedup:{self.config.method}:{self.config.level}"

    def prepare(self, ctx: StageContext) -> dict:
        cfg = self.config
        if cfg.method == "minhash":
            kernel.warn_if_missing()
        src = ctx.source
        shard_paths = [str(p) for p in src.shard_paths]
        maps = [str(ctx.state_dir / f"map-{i:05d}.npz") for i in range(len(shard_paths))]
        todo = [(cfg, s, m) for s, m in zip(shard_paths, maps) if not map_done(cfg, m)]
        ctx.map(map_shard, todo, "keys")

        ref_parts, ref_shards = self._reference(ctx)
        items = load_items([(p, True) for p in ref_parts] + [(m, False) for m in maps])
        all_shards = ref_shards + shard_paths
        roots, sims = cluster(cfg, items, ref_parts + maps, ctx.executor)
        for part in maps:  # the shingle hashes served verification only (the reference keeps its own)
            shingle_file(part).unlink(missing_ok=True)
            sig_file(part).unlink(missing_ok=True)

        id_cols = [load_ids(m, p) for m, p in zip(ref_parts + maps, all_shards)]
        quality = None
        if cfg.keep == "best" and cfg.level == "document":
            if cfg.quality_column not in [c["name"] for c in src.manifest.get("schema", [])]:
                raise StageError(f"dedup.keep=best: the corpus has no {cfg.quality_column!r} column")
            q_by_shard = [read_parquet(p, [cfg.quality_column], threads=True)[cfg.quality_column].to_pylist()
                          if i >= len(ref_shards) else [None] * len(id_cols[i]) for i, p in enumerate(all_shards)]
            quality = [q_by_shard[s][d] for s, d in zip(items.shard.tolist(), items.doc.tolist())]
        first_shard = len(ref_shards)
        if cfg.level == "document":
            clusters, decisions = document_decisions(cfg, items, roots, sims, id_cols, quality, first_shard,
                                                     len(shard_paths))
        else:
            clusters, decisions = unit_decisions(items, roots, sims, id_cols, first_shard, len(shard_paths))
        for i, table in enumerate(decisions):
            write_table(table, ctx.state_dir / f"decide-{i:05d}.parquet")
        write_table(clusters, ctx.state_dir / "clusters.parquet")
        bands, rows = cfg.lsh() if cfg.method == "minhash" else (0, 0)
        index_bytes = int(items.keys.nbytes + (items.sigs.nbytes if items.sigs is not None else 0))
        atomic_write_json(ctx.state_dir / "summary.json", {
            "clusters": clusters.num_rows, "items": int(len(items.doc)), "bands": bands, "rows": rows,
            "index_bytes": index_bytes, "index_bytes_per_item": round(index_bytes / max(len(items.doc), 1), 1)})
        return {"dir": str(ctx.state_dir), "shards": {Path(p).name: i for i, p in enumerate(shard_paths)},
                "chars": {i: _text_chars(m) for i, m in enumerate(maps)}}

    def _reference(self, ctx: StageContext) -> tuple[list[str], list[str]]:
        """Map files and shards of the --against corpus (keys computed the same way)."""
        if not self.config.against:
            return [], []
        ref = Path(self.config.against)
        try:
            manifest = json.loads((ref / "manifest.json").read_text())
        except (OSError, json.JSONDecodeError):
            raise StageError(f"dedup.against: {ref} is not a finished dedup output (no readable manifest.json)") from None
        theirs = manifest.get("config", {})
        mine = {k: v for k, v in vars(self.config).items() if k not in ("against", "keep", "quality_column", "exempt")}
        diff = [k for k, v in mine.items() if theirs.get(k) != v]
        if manifest.get("stage") != "dedup" or diff:
            raise StageError(f"dedup.against: {ref} was not made by dedup with the same settings (differs in: "
                             f"{', '.join(diff) or 'stage'})")
        # The reference's kept documents are its output shards. Their keys (and, for exact
        # verification, shingle hashes) are computed once and kept in the reference folder, under a
        # key naming the reference's fingerprint and every setting that shapes them.
        kept = Corpus(ref, manifest)
        key = config_hash({"index": INDEX_FORMAT, "reference": manifest.get("fingerprint"), "config": mine,
                           "exempt": self.config.exempt})
        index = ref / "_index" / key
        try:
            index.mkdir(parents=True, exist_ok=True)
        except OSError:  # a read-only reference: keep the index with this run's state
            index = ctx.state_dir / "reference-index"
            index.mkdir(parents=True, exist_ok=True)
        parts = [str(index / f"ref-{i:05d}.npz") for i in range(len(kept.shard_paths))]
        todo = [(self.config, str(s), p) for s, p in zip(kept.shard_paths, parts) if not map_done(self.config, p)]
        ctx.map(map_shard, todo, "reference keys")
        return parts, [str(p) for p in kept.shard_paths]

    def run_task(self, task: Task, state: dict, out: TaskOutput) -> None:
        cfg = self.config
        table = read_parquet(task.inputs[0])
        out.rows_in += table.num_rows
        index = state["shards"][Path(task.inputs[0]).name]
        chars_in = (state.get("chars") or {}).get(index)  # counted by the map
        if chars_in is None:  # state of an earlier version
            chars_in = text_chars(table)
        out.chars_in += chars_in
        dec = read_parquet(Path(state["dir"]) / f"decide-{index:05d}.parquet").to_pylist()
        by_row = {d["row"]: d for d in dec}
        n = table.num_rows
        reasons: list[str | None] = [None] * n
        dup_of: list[str | None] = [None] * n
        cluster = [by_row[r]["cluster"] if r in by_row else None for r in range(n)]
        count = [by_row[r]["count"] if r in by_row else 1 for r in range(n)]
        if cfg.level == "document":
            for r, d in by_row.items():
                if d["dup_of"] is not None:
                    reasons[r], dup_of[r] = self._label(), d["dup_of"]
        else:
            table = self._cut_units(table, by_row, reasons, dup_of, out)
        for name, col in (("dup_cluster", pa.array(cluster, pa.string())), ("dup_count", pa.array(count, pa.int32()))):
            if name in table.column_names:
                table = table.drop_columns([name])
            table = table.append_column(name, col)
        kept, rejected = split_by_reason(table, reasons, self.name, extra={"dup_of": dup_of})
        # documents: the kept text is what came in less the dropped rows; units: the kept text changed
        out.write_kept(kept, chars=chars_in - text_chars(rejected) if cfg.level == "document" else None)
        out.write_rejected(rejected)

    def _cut_units(self, table: pa.Table, by_row: dict, reasons: list, dup_of: list, out: TaskOutput) -> pa.Table:
        texts = table["text"].to_pylist()
        ids = table["id"].to_pylist()
        edits = {"id": [], "units_removed": [], "chars_before": [], "chars_after": []}
        for r, d in by_row.items():
            if not d["units"]:
                continue
            text = texts[r]
            spans = unit_spans(text, self.config.level)  # once per document: a repeat is any of its units
            new = cut_spans(text, [spans[u] for u in d["units"]]).strip()
            removed_share = 1 - len(new.strip()) / max(len(text.strip()), 1)
            if not new.strip() or removed_share > self.config.max_removed_share:
                reasons[r], dup_of[r] = self._label(), d["dup_of"]
                out.count("docs_mostly_duplicate")
                continue
            texts[r] = new
            edits["id"].append(ids[r])
            edits["units_removed"].append(len(d["units"]))
            edits["chars_before"].append(len(text))
            edits["chars_after"].append(len(new))
            out.count(f"{self.config.level}s_removed", len(d["units"]))
        out.count("docs_edited", len(edits["id"]))
        out.write_edits(pa.table({"id": pa.array(edits["id"], pa.string()),
                                  "units_removed": pa.array(edits["units_removed"], pa.int32()),
                                  "chars_before": pa.array(edits["chars_before"], pa.int64()),
                                  "chars_after": pa.array(edits["chars_after"], pa.int64())}))
        idx = table.column_names.index("text")
        return table.set_column(idx, table.schema.field(idx), pa.array(texts, table.schema.field(idx).type))

    def finish(self, ctx: StageContext, manifest: dict) -> None:
        atomic_write_bytes(ctx.out_dir / "clusters.parquet", (ctx.state_dir / "clusters.parquet").read_bytes())
        manifest["files"].append({"file": "clusters.parquet"})
        manifest["dedup"] = json.loads((ctx.state_dir / "summary.json").read_text())


def cut_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """Remove each [a, b) span and the whitespace right after it."""
    pieces, pos = [], 0
    for a, b in sorted(spans):
        if a < pos:
            continue
        pieces.append(text[pos:a])
        while b < len(text) and text[b].isspace():
            b += 1
        pos = b
    pieces.append(text[pos:])
    return "".join(pieces)
