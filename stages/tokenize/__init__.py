"""tokenize: encode the corpus into sharded training files (Megatron .bin/.idx, HF Parquet,
numpy/nanoGPT, nanotron .ds, MDS).

``prepare`` resolves (or trains) the tokenizer, then a map over input shards encodes every
document into ``_state/enc-NNNNN.tokens`` (flat ids) with per-document offsets, shuffle keys and
split flags (``.npz``). Output shards are then planned from token totals alone: with ``shuffle``
each document goes to train/val shard ``hash(id, seed)`` and is ordered by that hash inside it (a
global shuffle that never holds the corpus in memory); without, shards are consecutive token
ranges in corpus order. Each task writes one output shard in every requested format, reading only
its own documents' tokens, a chunk at a time, and writing them to the output files as it reads
them, so its memory follows the input shards (the per-document arrays), not the output shard size.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from dataprep.config import ConfigError, option
from dataprep.corpus import atomic_write_bytes, read_parquet, rejected_table
from dataprep.stage import Stage, StageContext, StageError, Task, TaskOutput, text_chars

from . import formats as F
from . import loader as L

# Allowed values of the integer options (the upper bounds keep them within the int64 arithmetic of
# shard planning, and vocab_size within SentencePiece's int32).
INT_RANGES = {"vocab_size": (L.MIN_VOCAB_SIZE, L.MAX_VOCAB_SIZE), "train_chars": (1, 2**63 - 1),
              "shard_tokens": (1, 2**63 - 1), "seq_len": (1, 2**63 - 1), "batch_size": (1, 2**63 - 1)}

FormatName = Literal["megatron", "hf", "hf-disk", "numpy", "nanogpt", "nanotron", "mds"]


@dataclass
class TokenizeConfig:
    tokenizer: Optional[str] = option(None, help="HF tokenizer.json, a folder holding it (or tokenizer.model), a "
                                                 "SentencePiece .model, or a hub name (online). Omit with `train`.")
    train: Optional[Literal["bytelevel-bpe", "baichuan2"]] = option(
        None, help="Train a tokenizer on this corpus first (saved in OUTPUT/tokenizer/): byte-level BPE, or "
                   "Baichuan-2-like SentencePiece BPE (digits split, byte fallback, whitespace pieces).")
    vocab_size: int = option(32000, help="Vocabulary size when training (at least 260).")
    train_chars: int = option(200_000_000, help="Characters of text (first documents in corpus order) to train on.")
    add_bos: bool = option(False, help="Prepend the tokenizer's BOS token to every document.")
    add_eos: bool = option(True, help="Append the tokenizer's EOS token to every document (an error if it has none).")
    bos_token: Optional[str] = option(None, help="BOS token text, when the tokenizer's own cannot be found.")
    eos_token: Optional[str] = option(None, help="EOS token text, when the tokenizer's own cannot be found.")
    formats: list[FormatName] = option(["megatron"], help="Output formats: megatron, hf (Parquet), hf-disk "
                                                          "(save_to_disk), numpy, nanogpt, nanotron, mds.")
    shard_tokens: int = option(100_000_000, help="Target tokens per output shard.")
    seq_len: Optional[int] = option(None, help="hf format: pack documents into rows of this many tokens.")
    shuffle: bool = option(True, help="Deterministic global shuffle of documents (by hash of id and seed).")
    val_share: float = option(0.0, help="Share of documents (chosen by hash) in the validation split.")
    seed: int = option(0, help="Seed of the shuffle and of the train/validation split.")
    dtype: Literal["auto", "uint16", "uint32"] = option("auto", help="Token id type; auto = uint16 when the "
                                                                     "vocabulary fits, else uint32.")
    text_column: str = option("text", help="Column to tokenize.")
    batch_size: int = option(512, help="Documents per encode call.")

    def validate(self) -> None:
        if (self.tokenizer is None) == (self.train is None):
            raise ConfigError("tokenizer/train: give exactly one (a tokenizer to use, or a preset to train)")
        if not self.formats:
            raise ConfigError("formats: give at least one output format")
        for fmt in self.formats:
            if self.formats.count(fmt) > 1:
                raise ConfigError(f"formats: {fmt} is listed twice")
        for key, (low, high) in INT_RANGES.items():
            value = getattr(self, key)
            if value is not None and value < low:
                raise ConfigError(f"{key}: must be >= {low}, got {value}")
            if value is not None and value > high:
                raise ConfigError(f"{key}: must be <= {high}, got {value}")
        if not 0.0 <= self.val_share < 1.0:
            raise ConfigError(f"val_share: must be in [0, 1), got {self.val_share}")


def _keys(ids: list[str], seed: int) -> np.ndarray:
    f = xxhash.xxh64_intdigest
    return np.fromiter((f(i.encode("utf-8", "surrogatepass"), seed) for i in ids), np.uint64, len(ids))


def _is_val(keys: np.ndarray, share: float) -> np.ndarray:
    return (keys & np.uint64(0xFFFFFFFF)).astype(np.float64) < share * 2.0**32


def encode_shard(args: tuple) -> dict:
    """Map step: encode one input shard; write its tokens and per-document arrays; return totals."""
    cfg, info, shard, prefix = args
    table = read_parquet(shard)
    texts = table[cfg.text_column].to_pylist()
    ids = table["id"].to_pylist()
    enc = L.encoder(info)
    dtype = L.token_dtype(info.vocab_size, cfg.dtype)
    pre = [info.bos_id] if cfg.add_bos else []
    post = [info.eos_id] if cfg.add_eos else []
    lengths = np.zeros(len(texts), dtype=np.int64)
    tmp = Path(prefix + ".tokens.partial")
    with open(tmp, "wb") as f:
        for b in range(0, len(texts), cfg.batch_size):
            batch = [t or "" for t in texts[b:b + cfg.batch_size]]
            encoded = enc(batch)
            n = np.fromiter(map(len, encoded), np.int64, len(encoded)) + len(pre) + len(post)
            # one pass from the ids to the output dtype: [pre] + ids + [post] per document
            stream = itertools.chain.from_iterable(itertools.chain.from_iterable((pre, e, post) for e in encoded)
                                                   if pre or post else encoded)
            try:
                arr = np.fromiter(stream, dtype=dtype, count=int(n.sum()))
            except (OverflowError, ValueError):  # an id the dtype cannot hold, or a negative one
                raise StageError(f"tokenize: {shard}: token id outside the vocabulary ({info.vocab_size})") from None
            if len(arr) and int(arr.max()) >= info.vocab_size:
                raise StageError(f"tokenize: {shard}: token id outside the vocabulary ({info.vocab_size})")
            f.write(arr.data)
            lengths[b:b + len(batch)] = n
    tmp.replace(prefix + ".tokens")
    keys = _keys(ids, cfg.seed)
    val = _is_val(keys, cfg.val_share)
    empty = np.array([not (t or "").strip() for t in texts], dtype=bool)
    chars = np.fromiter((len(t or "") for t in texts), np.int64, len(texts))  # for the manifest's chars_in
    np.savez(prefix + ".partial.npz", lengths=lengths, keys=keys, val=val, empty=empty, chars=chars)
    Path(prefix + ".partial.npz").replace(prefix + ".npz")
    by: dict[str, dict[str, int]] = {}
    for column in ("lang", "domain"):
        if column in table.column_names:
            counts: dict[str, int] = {}
            for v, n, e in zip(table[column].to_pylist(), lengths.tolist(), empty.tolist()):
                if not e:
                    counts[str(v)] = counts.get(str(v), 0) + n
            by[column] = counts
    keep = ~empty
    return {"docs": int(keep.sum()), "empty": int(empty.sum()),
            "train_tokens": int(lengths[keep & ~val].sum()), "val_tokens": int(lengths[keep & val].sum()),
            "by": by}


# Tokens read (and handed to the writers) at a time when writing an output shard: the writers'
# memory, whatever the shard size. A document longer than this is read on its own.
CHUNK_TOKENS = 1 << 20
MAX_OPEN_FILES = 256


def read_tokens(files: list[str], dtype: np.dtype, sources: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                chunk_tokens: int | None = None):
    """Yield (pos, tokens): documents' tokens in the given order, whole documents at a time, about
    ``chunk_tokens`` (CHUNK_TOKENS) of them per chunk; document k is ``lengths[k]`` tokens at
    ``starts[k]`` of ``files[sources[k]]``, and ``pos`` is where a chunk starts in the output.
    A chunk is valid until the next one is asked for (its buffer is reused)."""
    chunk_tokens = chunk_tokens or CHUNK_TOKENS
    size = np.dtype(dtype).itemsize
    buf = np.empty(min(chunk_tokens, int(lengths.sum())), dtype)
    handles: dict[int, object] = {}
    pos = fill = 0
    try:
        for s, a, n in zip(sources.tolist(), starts.tolist(), lengths.tolist()):
            if fill and fill + n > len(buf):
                yield pos, buf[:fill]
                pos, fill = pos + fill, 0
            if n == 0:
                continue
            f = handles.pop(s, None)
            if f is None:
                if len(handles) >= MAX_OPEN_FILES:
                    handles.pop(next(iter(handles))).close()
                f = open(files[s], "rb", buffering=0)
            handles[s] = f  # most recently used last
            target = buf[fill:fill + n] if n <= len(buf) else np.empty(n, dtype)
            f.seek(a * size)
            view, got = memoryview(target).cast("B"), 0
            while got < n * size:
                k = f.readinto(view[got:])
                if not k:
                    raise StageError(f"tokenize: {files[s]} is shorter than its documents' lengths say "
                                     "(its _state folder was changed)")
                got += k
            if n > len(buf):
                yield pos, target
                pos += n
            else:
                fill += n
        if fill:
            yield pos, buf[:fill]
    finally:
        for f in handles.values():
            f.close()


class TokenizeStage(Stage):
    """Tokenize documents into training shards that trainers read directly.

    Formats: megatron (.bin/.idx for Megatron-LM's IndexedDataset), hf (Parquet input_ids, for
    datasets.load_dataset("parquet")), hf-disk (datasets.load_from_disk folders), numpy (.npy),
    nanogpt (flat .bin), nanotron (.ds + .ds.index), mds (MosaicML Streaming). Shards of
    ~shard_tokens tokens, a deterministic global shuffle, and a train/validation split;
    manifest.json lists tokens per shard, split, language and domain, the tokenizer's hash and
    BOS/EOS ids. Documents with empty text are rejected (tokenize:empty_text).

    \b
    Examples:
      dataprep tokenize -i work/dedup -o work/tokens --tokenizer tokenizer.json --formats '[megatron, hf]'
      dataprep tokenize -i work/dedup -o work/tokens --tokenizer llama/tokenizer.model --add-bos
      dataprep tokenize -i work/dedup -o work/tokens --train bytelevel-bpe --vocab-size 32000 --val-share 0.001
    """

    name = "tokenize"
    Config = TokenizeConfig
    progress_unit = "shards"

    def prepare(self, ctx: StageContext) -> dict:
        cfg = self.config
        if "mds" in cfg.formats:  # fail before any work, not after encoding
            try:
                import streaming  # noqa: F401
            except ImportError:
                raise StageError("tokenize.formats: mds needs the mosaicml-streaming package "
                                 "(pip install mosaicml-streaming)") from None
        shards = [str(p) for p in ctx.source.shard_paths]
        for shard in shards:  # before any work, so a wrong text_column costs nothing
            L.check_text_column(shard, cfg.text_column, "tokenize.text_column")
        tok_dir = ctx.out_dir / "tokenizer"
        if cfg.train:
            texts = L.training_texts(shards, cfg.text_column, cfg.train_chars, "tokenize.text_column")
            file = L.train(texts, tok_dir, cfg.train, cfg.vocab_size, key="tokenize.vocab_size")
            info = L.resolve(str(file), cfg.bos_token, cfg.eos_token)
        else:
            info = L.copy_into(L.resolve(cfg.tokenizer, cfg.bos_token, cfg.eos_token), tok_dir)
        if cfg.add_eos and info.eos_id is None:
            raise StageError(f"tokenize: the tokenizer {cfg.tokenizer or cfg.train} has no EOS token that could be "
                             "found; name it with eos_token, or set add_eos: false")
        if cfg.add_bos and info.bos_id is None:
            raise StageError(f"tokenize: the tokenizer {cfg.tokenizer or cfg.train} has no BOS token that could be "
                             "found; name it with bos_token, or set add_bos: false")
        prefixes = [str(ctx.state_dir / f"enc-{i:05d}") for i in range(len(shards))]
        summaries = ctx.map(encode_shard, [(cfg, info, s, p) for s, p in zip(shards, prefixes)], "encode")
        train_tokens = sum(s["train_tokens"] for s in summaries)
        val_tokens = sum(s["val_tokens"] for s in summaries)
        n_shards = {"train": math.ceil(train_tokens / cfg.shard_tokens) if train_tokens else 0,
                    "val": math.ceil(val_tokens / cfg.shard_tokens) if val_tokens else 0}
        n_shards["train"] = max(1, n_shards["train"])  # the first train shard also reports empty documents
        dtype = L.token_dtype(info.vocab_size, cfg.dtype).name
        plan = {"info": info.to_json(), "dtype": dtype, "summaries": summaries}
        atomic_write_bytes(ctx.state_dir / "plan.json", json.dumps(plan).encode())
        return {"info": info, "prefixes": prefixes, "inputs": shards, "n_shards": n_shards,
                "summaries": summaries, "dtype": dtype,
                "starts": {split: np.cumsum([0] + [s[f"{split}_tokens"] for s in summaries[:-1]]).tolist()
                           for split in ("train", "val")}}

    def tasks(self, source, state: dict) -> list[Task]:
        tasks = []
        for split in ("train", "val"):
            for i in range(state["n_shards"][split]):
                tasks.append(Task(key=f"{split}-{i:05d}", params=(("split", split), ("index", i))))
        return tasks

    def _members(self, state: dict, split: str, index: int, arrays: dict) -> tuple[np.ndarray, np.ndarray]:
        """Rows of one input shard that go to output shard (split, index), and those rejected there."""
        cfg = self.config
        n = state["n_shards"][split]
        keys, val, empty = arrays["keys"], arrays["val"], arrays["empty"]
        in_split = (val if split == "val" else ~val)
        if cfg.shuffle:
            bucket = ((keys >> np.uint64(32)) * np.uint64(max(n, 1)) >> np.uint64(32)).astype(np.int64)
        else:
            lengths = np.where(in_split & ~empty, arrays["lengths"], 0)
            before = np.cumsum(lengths) - lengths + arrays["start"]
            bucket = np.minimum(before // cfg.shard_tokens, max(n - 1, 0))
        mine = in_split & (bucket == index) & ~empty
        first = split == "train" and index == 0  # every empty document is rejected by the first shard's task
        return np.flatnonzero(mine), (np.flatnonzero(empty) if first else np.zeros(0, np.int64))

    def run_task(self, task: Task, state: dict, out: TaskOutput) -> None:
        """Write one output shard: first its documents (which input rows, in which order) from the
        per-input arrays, then their tokens, read from the input token files a chunk at a time and
        handed to every format's writer as they are read. No copy of the shard's tokens is made
        (hf-disk aside, see formats), so memory follows the input shards, not shard_tokens."""
        cfg = self.config
        split, index = task.param("split"), task.param("index")
        dtype = np.dtype(state["dtype"])
        need_meta = any(f in ("hf", "hf-disk", "mds") for f in cfg.formats)
        sources, starts_all, lengths_all, keys_all = [], [], [], []
        meta: dict[str, list] = {"id": [], "lang": [], "domain": []}
        rejected_tables = []
        for i, (prefix, shard) in enumerate(zip(state["prefixes"], state["inputs"])):
            z = np.load(prefix + ".npz")
            arrays = {k: z[k] for k in ("lengths", "keys", "val", "empty")}
            arrays["start"] = state["starts"][split][i]
            rows, empty_rows = self._members(state, split, index, arrays)
            if "chars" in z.files:  # (absent from the state of a run started by an earlier version)
                out.chars_in += int(z["chars"][rows].sum() + z["chars"][empty_rows].sum())
            if len(empty_rows):
                t = read_parquet(shard).take(empty_rows)
                reason = pa.array(["tokenize:empty_text"] * t.num_rows, pa.string())
                rejected_tables.append(rejected_table(t, reason, self.name, {}))
            if len(rows) == 0:
                continue
            offsets = np.zeros(len(arrays["lengths"]) + 1, dtype=np.int64)
            np.cumsum(arrays["lengths"], out=offsets[1:])
            sources.append(np.full(len(rows), i, dtype=np.int64))
            starts_all.append(offsets[rows])
            lengths_all.append(arrays["lengths"][rows])
            keys_all.append(arrays["keys"][rows])
            if need_meta:
                cols = [c for c in ("id", "lang", "domain") if c in pq.read_schema(shard).names]
                t = read_parquet(shard, cols).take(rows)
                for c in ("id", "lang", "domain"):
                    meta[c].extend(t[c].to_pylist() if c in cols else [None] * len(rows))
        lengths = np.concatenate(lengths_all) if lengths_all else np.zeros(0, np.int64)
        n_docs = len(lengths)
        if cfg.shuffle and n_docs:
            order = np.argsort(np.concatenate(keys_all), kind="stable")
        else:
            order = np.arange(n_docs)
        lengths = lengths[order]
        sources = np.concatenate(sources)[order] if n_docs else np.zeros(0, np.int64)
        starts = np.concatenate(starts_all)[order] if n_docs else np.zeros(0, np.int64)
        if need_meta:
            meta = {k: [v[o] for o in order.tolist()] for k, v in meta.items()}
        out.rows_in += n_docs
        out.rows_kept += n_docs
        for t in rejected_tables:
            out.rows_in += t.num_rows
            out.write_rejected(t)
        n_tokens = int(lengths.sum())
        self._write_formats(task.key, dtype, sources, starts, lengths, meta, state, out)
        out.count("docs", n_docs)
        out.count("tokens", n_tokens)
        out.count(f"tokens:{split}", n_tokens)
        out.count(f"shard:{task.key}", n_tokens)

    def _write_formats(self, key: str, dtype: np.dtype, sources: np.ndarray, starts: np.ndarray,
                       lengths: np.ndarray, meta: dict, state: dict, out: TaskOutput) -> None:
        cfg = self.config
        base = out.out_dir
        writers: list[F.ShardWriter] = []
        try:
            for fmt in cfg.formats:
                if fmt == "megatron":
                    writers.append(F.MegatronWriter(base / "megatron" / key, dtype, lengths))
                elif fmt in ("hf", "hf-disk"):
                    columns = {"id": meta["id"]}
                    for c in ("lang", "domain"):
                        if any(v is not None for v in meta[c]):
                            columns[c] = meta[c]
                    columns["num_tokens"] = lengths.astype(np.int32).tolist()
                    if fmt == "hf":
                        writers.append(F.HfWriter(base / "hf" / f"{key}.parquet", dtype, lengths, columns,
                                                  cfg.seq_len))
                    else:
                        writers.append(F.HfDiskWriter(base / "hf_disk" / key, dtype, lengths, columns, cfg.seq_len))
                elif fmt == "numpy":
                    writers.append(F.NumpyWriter(base / "numpy" / f"{key}.npy", dtype, int(lengths.sum())))
                elif fmt == "nanogpt":
                    writers.append(F.NanogptWriter(base / "nanogpt" / f"{key}.bin", dtype))
                elif fmt == "nanotron":
                    name = Path(state["info"].path).parent.name + "/" + Path(state["info"].path).name
                    writers.append(F.NanotronWriter(base / "nanotron" / f"{key}.ds", dtype, lengths, name))
                elif fmt == "mds":
                    writers.append(F.MdsWriter(base / "mds" / key, dtype, lengths, meta["id"]))
            files = [p + ".tokens" for p in state["prefixes"]]
            for pos, chunk in read_tokens(files, dtype, sources, starts, lengths):
                for w in writers:
                    w.add(pos, chunk)
            written: list[Path] = []
            while writers:
                written += writers[0].close()
                writers.pop(0)
        except BaseException:
            for w in writers:
                w.abort()
            raise
        for p in written:
            out.add_file(str(p.relative_to(base)))

    def finish(self, ctx: StageContext, manifest: dict) -> None:
        cfg = self.config
        state = json.loads((ctx.state_dir / "plan.json").read_text())
        info = L.TokInfo(**state["info"])
        counters = manifest.get("counters", {})
        shards = {k.split(":", 1)[1]: v for k, v in counters.items() if k.startswith("shard:")}
        manifest["counters"] = {k: v for k, v in counters.items() if not k.startswith("shard:")}
        by: dict[str, dict[str, int]] = {}
        for s in state["summaries"]:
            for column, counts in s["by"].items():
                totals = by.setdefault(column, {})
                for value, n in counts.items():
                    totals[value] = totals.get(value, 0) + n
        info_json = {**info.to_json(), "path": str(Path(info.path).relative_to(ctx.out_dir))
                     if Path(info.path).is_relative_to(ctx.out_dir) else info.path}
        manifest["tokenize"] = {
            "tokenizer": info_json,
            "dtype": state["dtype"],
            "megatron_dtype": F.megatron_dtype(np.dtype(state["dtype"])).name if "megatron" in cfg.formats else None,
            "bos_id": info.bos_id if cfg.add_bos else None,
            "eos_id": info.eos_id if cfg.add_eos else None,
            "formats": F.describe(list(cfg.formats)),
            "tokens": int(counters.get("tokens", 0)),
            "tokens_by_split": {s: int(counters.get(f"tokens:{s}", 0)) for s in ("train", "val")},
            "tokens_by_shard": dict(sorted(shards.items())),
            "tokens_by_lang": dict(sorted(by.get("lang", {}).items())),
            "tokens_by_domain": dict(sorted(by.get("domain", {}).items())),
            "documents": int(counters.get("docs", 0)),
            "seq_len": cfg.seq_len,
            "shuffle": cfg.shuffle,
            "seed": cfg.seed,
        }
        atomic_write_bytes(ctx.out_dir / "tokenize.json",
                           (json.dumps(manifest["tokenize"], indent=1, ensure_ascii=False) + "\n").encode())
        manifest["files"].append({"file": "tokenize.json"})
        for p in ctx.state_dir.glob("enc-*.tokens"):  # the per-input token files are no longer needed
            p.unlink()


__all__ = ["TokenizeConfig", "TokenizeStage", "text_chars"]
