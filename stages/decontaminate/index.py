"""The index of evaluation n-grams: built per source file, kept in a cache, merged for a run.

Per source, every segment (one string of an item) gives its full windows (``ngrams.full_windows``)
with their place in it; a segment too short for one window but of at least ``min_ngram`` words'
worth of units gives one *whole* gram of all its units (GPT-3 shortened n for short benchmarks
in the same spirit, down to 8). The arrays are kept in the cache folder under a key hashing the
source's content, the options that shape grams and the file layout, so the next run with the
same eval files reads them instead of reading and hashing the files again.

The merged index of a run holds, sorted by gram hash: the distinct hashes (8 bytes each) with the
first entry of each (8), and per entry its segment (4), its first unit in the segment (4) and its
length in units (2): 26 bytes per distinct n-gram occurring once, plus a Bloom filter of 2 bytes
per distinct n-gram that lets 1.4% of the windows not in the index through to the binary search
of the hashes, 28 bytes in all (up to 32 when the filter's power-of-two size rounds up). Per
segment it keeps the item, the field and the length in units (10 bytes).
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from dataprep import ngrams as G
from dataprep.config import config_hash
from dataprep.corpus import atomic_write_bytes, ensure_dir, write_table
from dataprep.stage import StageError

from .evalsets import EvalItems, EvalSource, read_items

INDEX_FORMAT = 1  # layout of cached index files; a file of another layout is built again
BATCH_CHARS = 1 << 21
FILTER_BITS_PER_KEY = 16
SOURCE_ARRAYS = ("hash", "seg", "pos", "length", "whole", "seg_units", "seg_short", "seg_item", "seg_field",
                 "item_hash", "stats", "labels_offsets", "labels_data", "origins_offsets", "origins_data",
                 "fields_offsets", "fields_data")


@dataclass(frozen=True)
class GramOptions:
    ngram: int
    ngram_cjk: int
    min_ngram: int

    def key(self) -> dict:
        return {"ngram": self.ngram, "ngram_cjk": self.ngram_cjk, "min_ngram": self.min_ngram}


def segment_grams(texts: list[str], opts: GramOptions) -> dict[str, np.ndarray]:
    """Grams of every segment: ``hash``, ``seg`` (index into texts), ``pos`` (first unit),
    ``length`` (units), ``whole`` (a short segment's single gram); and per segment ``seg_units``,
    ``seg_short`` (under two windows' worth of units) and ``seg_hash`` (all its units as one gram)."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("hash", "seg", "pos", "length", "whole", "seg_units",
                                                           "seg_short", "seg_hash")}
    full = opts.ngram * opts.ngram_cjk  # a window's weight (G.weights)
    start = 0
    while start < len(texts):
        end, chars = start, 0
        while end < len(texts) and (end == start or chars + len(texts[end]) <= BATCH_CHARS):
            chars += len(texts[end])
            end += 1
        u = G.units_of(texts[start:end])
        counts = np.diff(u.first)
        a, b = G.full_windows(u, opts.ngram, opts.ngram_cjk)
        seg = np.searchsorted(u.first, a, side="right") - 1
        has_full = np.zeros(len(counts), dtype=bool)
        has_full[seg] = True
        cum = np.concatenate([[0], np.cumsum(G.weights(u.cjk, opts.ngram, opts.ngram_cjk))])
        weight = cum[u.first[1:]] - cum[u.first[:-1]]
        short = np.flatnonzero(~has_full & (counts > 0) & (weight >= opts.min_ngram * opts.ngram_cjk))
        a = np.concatenate([a, u.first[short]])
        b = np.concatenate([b, u.first[short + 1]])
        seg = np.concatenate([seg, short])
        w = G.Windows(u.hashes)
        parts["hash"].append(w.hash(a, b))
        parts["seg"].append(seg + start)
        parts["pos"].append((a - u.first[seg]).astype(np.int32))
        parts["length"].append((b - a).astype(np.int16))
        parts["whole"].append(np.arange(len(a)) >= len(a) - len(short))
        parts["seg_units"].append(counts.astype(np.int32))
        parts["seg_short"].append(weight < 2 * full)
        parts["seg_hash"].append(w.hash(u.first[:-1], u.first[1:]))
        start = end
    types = {"hash": np.uint64, "seg": np.int64, "pos": np.int32, "length": np.int16, "whole": bool,
             "seg_units": np.int32, "seg_short": bool, "seg_hash": np.uint64}
    return {k: np.concatenate(v).astype(types[k]) if v else np.empty(0, types[k]) for k, v in parts.items()}


def item_hashes(seg_item: np.ndarray, seg_hash: np.ndarray, n_items: int) -> np.ndarray:
    """One hash per item of the sequence of its segments (equal items, equal hashes)."""
    if len(seg_item) == 0:
        return np.zeros(n_items, np.uint64)
    first = np.searchsorted(seg_item, np.arange(n_items))
    place = (np.arange(len(seg_item)) - first[seg_item]).astype(np.uint64)
    with np.errstate(over="ignore"):
        v = G._fmix64(seg_hash + place * np.uint64(0x9E3779B97F4A7C15))
    out = np.zeros(n_items, np.uint64)
    np.add.at(out, seg_item, v)
    return G._fmix64(out)


# --- one source, cached ---------------------------------------------------------------------------


def _pack(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    data = [s.encode("utf-8", "surrogatepass") for s in strings]
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in data], dtype=np.int64)])
    return offsets, np.frombuffer(b"".join(data), dtype=np.uint8)


def _unpack(offsets: np.ndarray, data: np.ndarray) -> list[str]:
    raw = data.tobytes()
    return [raw[a:b].decode("utf-8", "surrogatepass") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


def source_key(source: EvalSource, digest: str, opts: GramOptions, fields: list[str], id_field: str | None) -> str:
    return config_hash({"format": INDEX_FORMAT, "hash": G.HASH_VERSION, "path": source.path, "digest": digest,
                        "grams": opts.key(), "fields": fields, "id_field": id_field})


def build_source(source: EvalSource, opts: GramOptions, fields: list[str], id_field: str | None) -> dict:
    items: EvalItems = read_items(source, fields, id_field)
    grams = segment_grams(items.seg_text, opts)
    field_id = {f: i for i, f in enumerate(items.fields)}
    seg_item = np.asarray(items.seg_item, dtype=np.int32)
    item_hash = item_hashes(seg_item, grams.pop("seg_hash"), len(items.labels))
    arrays = {**grams, "seg_item": seg_item, "item_hash": item_hash,
              "seg_field": np.asarray([field_id[f] for f in items.seg_field], dtype=np.int16),
              "stats": np.array([len(items.labels), len(items.seg_text), len(np.unique(grams["seg"])),
                                 items.without_text], dtype=np.int64)}
    for name, values in (("labels", items.labels), ("origins", items.origins), ("fields", items.fields)):
        arrays[f"{name}_offsets"], arrays[f"{name}_data"] = _pack(values)
    return arrays


def load_source(source: EvalSource, digest: str, opts: GramOptions, fields: list[str], id_field: str | None,
                cache: Path) -> tuple[dict, bool]:
    """A source's arrays from the cache, or built and stored there; True when read from the cache."""
    path = cache / f"{source_key(source, digest, opts, fields, id_field)}.npz"
    if path.exists():
        try:
            with np.load(path) as z:
                if set(SOURCE_ARRAYS) <= set(z.files):
                    return {k: z[k] for k in z.files}, True
        except (OSError, ValueError, EOFError):
            pass  # damaged or incomplete: built again below
    arrays = build_source(source, opts, fields, id_field)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())
    return arrays, False


def cache_folder(index_dir: str | None, fallback: Path) -> Path:
    """``index_dir``, else $XDG_CACHE_HOME (or ~/.cache)/dataprep/decontaminate; a folder that cannot
    be created or written to gives way to ``fallback`` (the run's own state)."""
    if index_dir:
        folder = Path(index_dir)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = Path(base) / "dataprep" / "decontaminate"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            return folder
    except OSError:
        pass
    if index_dir:
        raise StageError(f"decontaminate.index_dir: cannot write to {index_dir}")
    return ensure_dir(fallback)


# --- the merged index of a run ---------------------------------------------------------------------


def merge(sources: list[EvalSource], parts: list[dict], out: Path) -> dict:
    """Join the sources' arrays into the run's index under ``out`` (npy files, memory-mapped by the
    workers, plus items.parquet); return its summary. N-grams of the stems that questions share
    (``templates``) are left out."""
    ensure_dir(out)
    hashes, seg, pos, length, whole = [], [], [], [], []
    seg_item, seg_field, seg_units, seg_short, item_bench, item_hash = [], [], [], [], [], []
    bench_rows: dict[str, list] = {"benchmark": [], "item": [], "origin": []}
    fields: list[str] = []
    summary: dict = {"benchmarks": {}}
    n_items = n_segs = 0
    for b, (src, z) in enumerate(zip(sources, parts)):
        names = _unpack(z["fields_offsets"], z["fields_data"])
        for f in names:
            if f not in fields:
                fields.append(f)
        local = np.array([fields.index(f) for f in names], dtype=np.int16)
        labels = _unpack(z["labels_offsets"], z["labels_data"])
        hashes.append(z["hash"].astype(np.uint64))
        seg.append(z["seg"].astype(np.int64) + n_segs)
        pos.append(z["pos"])
        length.append(z["length"])
        whole.append(z["whole"])
        seg_item.append(z["seg_item"].astype(np.int64) + n_items)
        seg_field.append(local[z["seg_field"]])
        seg_units.append(z["seg_units"])
        seg_short.append(z["seg_short"])
        item_hash.append(z["item_hash"])
        item_bench.append(np.full(len(labels), b, dtype=np.int16))
        bench_rows["benchmark"] += [src.name] * len(labels)
        bench_rows["item"] += labels
        bench_rows["origin"] += _unpack(z["origins_offsets"], z["origins_data"])
        items, segments, indexed, without = (int(x) for x in z["stats"])
        summary["benchmarks"][src.name] = {"path": src.path, "fields": names, "items": items, "segments": segments,
                                           "segments_indexed": indexed, "segments_too_short": segments - indexed,
                                           "items_without_text": without, "ngrams": int(len(z["hash"]))}
        n_items += len(labels)
        n_segs += len(z["seg_units"])
    cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.empty(0, dt)  # noqa: E731
    h, s, p = cat(hashes, np.uint64), cat(seg, np.int64), cat(pos, np.int32)
    ln, wh = cat(length, np.int16), cat(whole, bool)
    s_item, bench = cat(seg_item, np.int32), cat(item_bench, np.int16)
    stems = templates(h, s_item[s], cat(seg_short, bool)[s], cat(item_hash, np.uint64))
    for b, src in enumerate(sources):
        summary["benchmarks"][src.name]["template_ngrams_left_out"] = int(np.count_nonzero(
            stems & (bench[s_item[s]] == b)))
    keep = ~stems
    h, s, p, ln, wh = h[keep], s[keep], p[keep], ln[keep], wh[keep]
    order = np.lexsort((p, s, h))
    h, s, p, ln = h[order], s[order], p[order], ln[order]
    new = np.concatenate([[True], h[1:] != h[:-1]]) if len(h) else np.zeros(0, bool)
    keys = h[new]
    key_first = np.append(np.flatnonzero(new), len(h)).astype(np.int64)
    log2, bits = filter_bits(keys)
    arrays = {"keys": keys, "key_first": key_first, "entry_seg": s.astype(np.int32), "entry_pos": p,
              "entry_len": ln, "seg_item": s_item, "seg_field": cat(seg_field, np.int16),
              "seg_units": cat(seg_units, np.int32), "item_bench": bench, "filter": bits,
              "short_lengths": np.unique(ln[wh[order]]).astype(np.int64)}
    for name, arr in arrays.items():
        buf = io.BytesIO()
        np.save(buf, arr)
        atomic_write_bytes(out / f"{name}.npy", buf.getvalue())
    write_table(pa.table({k: pa.array(v, pa.string()) for k, v in bench_rows.items()}), out / "items.parquet")
    meta = {"fields": fields, "benchmarks": [s.name for s in sources], "filter_log2": log2,
            "build": config_hash([int(len(keys)), str(np.bitwise_xor.reduce(keys)) if len(keys) else "0"])}
    atomic_write_bytes(out / "meta.json", json.dumps(meta).encode())
    nbytes = sum(int(arrays[k].nbytes) for k in ("keys", "key_first", "entry_seg", "entry_pos", "entry_len", "filter"))
    summary.update({"ngrams": int(len(h)), "distinct_ngrams": int(len(keys)), "index_bytes": nbytes,
                    "index_bytes_per_ngram": round(nbytes / max(len(h), 1), 1),
                    "short_lengths": arrays["short_lengths"].tolist()})
    return summary


def templates(h: np.ndarray, item: np.ndarray, short: np.ndarray, item_hash: np.ndarray) -> np.ndarray:
    """Entries whose n-gram is a stem that items share: it occurs in a short segment (under two
    windows' worth of units, a question rather than a passage) of two or more items that differ.
    Such text ("Which of the following statements about the water cycle is correct?", "下列关于
    水循环的说法中，正确的是哪一项") names no item; a passage that several questions share is long
    and stays, and so do items repeated verbatim (one content)."""
    idx = np.flatnonzero(short)
    if len(idx) == 0:
        return np.zeros(len(h), dtype=bool)
    pairs = np.unique(np.stack([h[idx], item_hash[item[idx]]], axis=1), axis=0)
    shared, counts = np.unique(pairs[:, 0], return_counts=True)
    return np.isin(h, shared[counts > 1])


def filter_bits(keys: np.ndarray) -> tuple[int, np.ndarray]:
    """A Bloom filter over the (well mixed) keys with two probes, the top and the bottom ``log2``
    bits of a key, and FILTER_BITS_PER_KEY bits per key (at least 4096): a window that is not in
    the index passes it with probability ~(1 - e^(-2/16))^2 = 1.4%. Returns (log2, bits)."""
    log2 = min(32, max(12, int(np.ceil(np.log2(max(len(keys), 1) * FILTER_BITS_PER_KEY)))))
    bits = np.zeros(1 << (log2 - 6), dtype=np.uint64)
    for probe in _probes(keys, log2):
        np.bitwise_or.at(bits, (probe >> np.uint64(6)).astype(np.int64), np.uint64(1) << (probe & np.uint64(63)))
    return log2, bits


def _probes(h: np.ndarray, log2: int) -> tuple[np.ndarray, np.ndarray]:
    return h >> np.uint64(64 - log2), h & np.uint64((1 << log2) - 1)


# --- lookups in the workers -------------------------------------------------------------------------


class Lookup:
    """The parts of the merged index that finding hits needs, memory-mapped."""

    _open: dict[tuple[str, str], "Lookup"] = {}

    def __init__(self, folder: str, meta: dict):
        load = lambda name: np.load(os.path.join(folder, f"{name}.npy"), mmap_mode="r")  # noqa: E731
        self.keys = load("keys")
        self.filter = load("filter")
        self.short_lengths = [int(k) for k in load("short_lengths")]
        self.log2 = int(meta["filter_log2"])

    @classmethod
    def get(cls, folder: str) -> "Lookup":
        """The index in ``folder``, opened once per process (again if it was rebuilt since)."""
        meta_text = Path(folder, "meta.json").read_text()
        if (folder, meta_text) not in cls._open:
            cls._open.clear()
            cls._open[(folder, meta_text)] = cls(folder, json.loads(meta_text))
        return cls._open[(folder, meta_text)]

    def find(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions in h, key indexes) of the hashes that are in the index."""
        if len(self.keys) == 0 or len(h) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        passed = np.ones(len(h), dtype=np.uint64)
        for probe in _probes(h, self.log2):
            passed &= self.filter[(probe >> np.uint64(6)).astype(np.int64)] >> (probe & np.uint64(63))
        maybe = np.flatnonzero(passed & np.uint64(1))
        at = np.searchsorted(self.keys, h[maybe])
        at[at == len(self.keys)] = 0
        hit = self.keys[at] == h[maybe]
        return maybe[hit], at[hit]
