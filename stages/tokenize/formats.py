"""Writers for tokenized shards. Each takes one shard: a flat token array and the documents'
token counts (in shard order), and writes its files atomically (temporary name, then rename).

Formats and the references they follow:
- megatron: Megatron-LM's indexed dataset (megatron/core/datasets/indexed_dataset.py): ``.bin``
  holds the tokens; ``.idx`` is b"MMIDIDX\\x00\\x00", version <Q 1, dtype code <B, sequence count
  <Q, document count <Q, then int32 sequence lengths, int64 byte pointers, int64 document indices
  ([0, 1, ..., n]: one sequence per document). dtype codes: 8 = uint16, 4 = int32.
- hf: Parquet with an ``input_ids`` list column (one row per document, or per packed ``seq_len``
  sequence), read by ``datasets.load_dataset("parquet", data_files=...)``; hf-disk: the same rows
  as a ``datasets`` save_to_disk folder per shard, read by ``datasets.load_from_disk``.
- numpy: ``.npy`` (np.save, loads with np.load(mmap_mode="r")); nanogpt: flat ``.bin`` of tokens
  as nanoGPT's train.py memory-maps them.
- nanotron: datatrove/nanotron ``.ds`` (raw little-endian tokens), ``.ds.index`` (uint64 end
  position of each document, in tokens) and ``.ds.metadata`` ("name|bytes per token", count).
- mds: MosaicML Streaming shards through ``streaming.MDSWriter`` (optional dependency).
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa

from dataprep.corpus import tmp_path, write_table
from dataprep.stage import StageError

FORMATS = ("megatron", "hf", "hf-disk", "numpy", "nanogpt", "nanotron", "mds")
VERSIONS = {"megatron": "MMIDIDX v1", "hf": "parquet input_ids", "hf-disk": "datasets save_to_disk",
            "numpy": "npy v1", "nanogpt": "raw tokens",
            "nanotron": "datatrove .ds/.ds.index", "mds": "streaming MDS"}
MEGATRON_CODES = {np.dtype(np.uint16): 8, np.dtype(np.int32): 4}


def _write_atomic(path: Path, chunks: list[bytes | memoryview]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    with open(tmp, "wb") as f:
        for c in chunks:
            f.write(c)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def megatron_dtype(dtype: np.dtype) -> np.dtype:
    """Megatron has no uint32 code; ids above 65535 are stored as int32 (as its own builder does)."""
    return np.dtype(np.uint16) if dtype == np.uint16 else np.dtype(np.int32)


def write_megatron(prefix: Path, tokens: np.ndarray, lengths: np.ndarray) -> list[Path]:
    dtype = megatron_dtype(tokens.dtype)
    data = tokens.astype(dtype, copy=False)
    n = len(lengths)
    pointers = np.zeros(n, dtype=np.int64)
    if n:
        np.cumsum(lengths[:-1] * dtype.itemsize, out=pointers[1:])
    header = b"MMIDIDX\x00\x00" + struct.pack("<Q", 1) + struct.pack("<B", MEGATRON_CODES[dtype])
    header += struct.pack("<Q", n) + struct.pack("<Q", n + 1)
    bin_path, idx_path = prefix.with_suffix(".bin"), prefix.with_suffix(".idx")
    _write_atomic(bin_path, [memoryview(np.ascontiguousarray(data)).cast("B")])
    _write_atomic(idx_path, [header, lengths.astype(np.int32).tobytes(), pointers.tobytes(),
                             np.arange(n + 1, dtype=np.int64).tobytes()])
    return [bin_path, idx_path]


def hf_table(tokens: np.ndarray, lengths: np.ndarray, columns: dict[str, list], seq_len: int | None) -> pa.Table:
    value_type = pa.uint16() if tokens.dtype == np.uint16 else pa.uint32()
    if seq_len:  # packed: consecutive documents cut into seq_len rows (the last may be shorter)
        offsets = np.append(np.arange(0, len(tokens), seq_len), len(tokens)) if len(tokens) else np.zeros(1)
        return pa.table({"input_ids": _lists(offsets, tokens, value_type)})
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pa.table({**{k: pa.array(v) for k, v in columns.items()}, "input_ids": _lists(offsets, tokens, value_type)})


def write_hf(path: Path, table: pa.Table) -> list[Path]:
    write_table(table, path)
    return [path]


def write_hf_disk(folder: Path, table: pa.Table) -> list[Path]:
    """A `datasets` save_to_disk folder (load with datasets.load_from_disk). The fingerprint is
    derived from the content so the same shard gives the same bytes."""
    import hashlib
    import shutil

    import datasets

    datasets.disable_progress_bars()
    digest = hashlib.sha256()
    for col in table.columns:
        for chunk in col.chunks:
            for buf in chunk.buffers():
                if buf is not None:
                    digest.update(buf)
    tmp = tmp_path(folder)
    shutil.rmtree(tmp, ignore_errors=True)
    datasets.Dataset(table, fingerprint=digest.hexdigest()[:16]).save_to_disk(str(tmp))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _lists(offsets: np.ndarray, tokens: np.ndarray, value_type: pa.DataType) -> pa.Array:
    values = pa.array(tokens, value_type)
    if offsets[-1] < 2**31:
        return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values)
    return pa.LargeListArray.from_arrays(pa.array(offsets.astype(np.int64)), values)


def write_numpy(path: Path, tokens: np.ndarray) -> list[Path]:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, np.lib.format.header_data_from_array_1_0(tokens))
    header = buf.getvalue()
    _write_atomic(path, [header, memoryview(np.ascontiguousarray(tokens)).cast("B")])
    return [path]


def write_nanogpt(path: Path, tokens: np.ndarray) -> list[Path]:
    _write_atomic(path, [memoryview(np.ascontiguousarray(tokens)).cast("B")])
    return [path]


def write_nanotron(path: Path, tokens: np.ndarray, lengths: np.ndarray, tokenizer_name: str) -> list[Path]:
    ends = np.cumsum(lengths, dtype=np.uint64) if len(lengths) else np.zeros(0, np.uint64)
    index, meta = Path(f"{path}.index"), Path(f"{path}.metadata")
    _write_atomic(path, [memoryview(np.ascontiguousarray(tokens.astype(tokens.dtype.newbyteorder("<")))).cast("B")])
    _write_atomic(index, [ends.astype("<u8").tobytes()])
    _write_atomic(meta, [f"{tokenizer_name}|{tokens.dtype.itemsize}\n{len(tokens)}\n".encode()])
    return [path, index, meta]


def write_mds(folder: Path, tokens: np.ndarray, lengths: np.ndarray, ids: list[str]) -> list[Path]:
    try:
        from streaming import MDSWriter
    except ImportError:
        raise StageError("format mds: needs the mosaicml-streaming package (pip install mosaicml-streaming)") from None
    import shutil

    tmp = tmp_path(folder)
    shutil.rmtree(tmp, ignore_errors=True)
    kind = "uint16" if tokens.dtype == np.uint16 else "uint32"
    with MDSWriter(out=str(tmp), columns={"id": "str", "tokens": f"ndarray:{kind}"}, compression=None) as w:
        start = 0
        for doc_id, n in zip(ids, lengths.tolist()):
            w.write({"id": doc_id, "tokens": tokens[start:start + n]})
            start += n
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return sorted(p for p in folder.rglob("*") if p.is_file())


def read_megatron(prefix: Path) -> tuple[np.ndarray, np.ndarray]:
    """(tokens, lengths) of a Megatron shard, read with our own parser (tests also use megatron-core)."""
    idx = prefix.with_suffix(".idx").read_bytes()
    assert idx[:9] == b"MMIDIDX\x00\x00", "not a Megatron index"
    code = idx[17]
    n = struct.unpack("<Q", idx[18:26])[0]
    lengths = np.frombuffer(idx, dtype=np.int32, count=n, offset=34)
    dtype = {8: np.uint16, 4: np.int32}[code]
    return np.fromfile(prefix.with_suffix(".bin"), dtype=dtype), lengths


def describe(formats: list[str]) -> dict:
    return {f: VERSIONS[f] for f in formats}


def dump_json(path: Path, data: dict) -> None:
    _write_atomic(path, [(json.dumps(data, indent=1, sort_keys=True) + "\n").encode()])
