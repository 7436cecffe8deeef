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

A task writes its shard while it reads the documents' tokens: ``open_writer`` gives a writer per
format that is handed the shard's tokens chunk by chunk, in order, and then closed. Only a chunk is
in memory for megatron, numpy, nanogpt, nanotron and mds, so memory does not follow the shard
size; hf holds one Parquet row group (HF_ROW_GROUP rows) at a time; hf-disk, which ``datasets``
writes from one table, holds the shard's tokens once. The whole-array functions (``write_megatron``
...) write through the same writers.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

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
    return _write_whole(MegatronWriter(prefix, tokens.dtype, lengths), tokens)


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
    return _write_whole(NumpyWriter(path, tokens.dtype, len(tokens)), tokens)


def write_nanogpt(path: Path, tokens: np.ndarray) -> list[Path]:
    return _write_whole(NanogptWriter(path, tokens.dtype), tokens)


def write_nanotron(path: Path, tokens: np.ndarray, lengths: np.ndarray, tokenizer_name: str) -> list[Path]:
    return _write_whole(NanotronWriter(path, tokens.dtype, lengths, tokenizer_name), tokens)


def write_mds(folder: Path, tokens: np.ndarray, lengths: np.ndarray, ids: list[str]) -> list[Path]:
    return _write_whole(MdsWriter(folder, tokens.dtype, lengths, ids), tokens)


# --- streaming writers ---------------------------------------------------------------------------

class ShardWriter:
    """Writes one shard in one format from its tokens, given in order: ``add(pos, chunk)`` with
    ``pos`` the shard offset of ``chunk[0]`` (chunks hold whole documents), then ``close()``, which
    returns the files written; ``abort()`` removes what an unfinished writer left."""

    def add(self, pos: int, chunk: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> list[Path]:
        raise NotImplementedError

    def abort(self) -> None:
        pass


class _Stream:
    """One file written atomically: a header, then the tokens as ``dtype`` (converted a chunk at a time)."""

    def __init__(self, path: Path, dtype: np.dtype, header: bytes = b""):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.dtype, self.tmp = path, np.dtype(dtype), tmp_path(path)
        self.f = open(self.tmp, "wb")
        self.f.write(header)

    def write(self, chunk: np.ndarray) -> None:
        if len(chunk):
            self.f.write(memoryview(np.ascontiguousarray(chunk.astype(self.dtype, copy=False))).cast("B"))

    def close(self) -> Path:
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        self.f.close()
        self.tmp.unlink(missing_ok=True)


class MegatronWriter(ShardWriter):
    def __init__(self, prefix: Path, dtype: np.dtype, lengths: np.ndarray):
        self.prefix, self.lengths, self.dtype = prefix, lengths, megatron_dtype(np.dtype(dtype))
        self.bin = _Stream(prefix.with_suffix(".bin"), self.dtype)

    def add(self, pos: int, chunk: np.ndarray) -> None:
        self.bin.write(chunk)

    def close(self) -> list[Path]:
        n, lengths, dtype = len(self.lengths), self.lengths, self.dtype
        pointers = np.zeros(n, dtype=np.int64)
        if n:
            np.cumsum(lengths[:-1] * dtype.itemsize, out=pointers[1:])
        header = b"MMIDIDX\x00\x00" + struct.pack("<Q", 1) + struct.pack("<B", MEGATRON_CODES[dtype])
        header += struct.pack("<Q", n) + struct.pack("<Q", n + 1)
        bin_path, idx_path = self.bin.close(), self.prefix.with_suffix(".idx")
        _write_atomic(idx_path, [header, lengths.astype(np.int32).tobytes(), pointers.tobytes(),
                                 np.arange(n + 1, dtype=np.int64).tobytes()])
        return [bin_path, idx_path]

    def abort(self) -> None:
        self.bin.abort()


class NumpyWriter(ShardWriter):
    def __init__(self, path: Path, dtype: np.dtype, total: int):
        import io

        buf = io.BytesIO()
        header = np.lib.format.header_data_from_array_1_0(np.zeros(0, dtype))
        header["shape"] = (int(total),)
        np.lib.format.write_array_header_1_0(buf, header)
        self.file = _Stream(path, dtype, buf.getvalue())

    def add(self, pos: int, chunk: np.ndarray) -> None:
        self.file.write(chunk)

    def close(self) -> list[Path]:
        return [self.file.close()]

    def abort(self) -> None:
        self.file.abort()


class NanogptWriter(NumpyWriter):
    def __init__(self, path: Path, dtype: np.dtype):
        self.file = _Stream(path, dtype)


class NanotronWriter(ShardWriter):
    def __init__(self, path: Path, dtype: np.dtype, lengths: np.ndarray, tokenizer_name: str):
        dtype = np.dtype(dtype)
        self.path, self.lengths, self.name, self.itemsize = path, lengths, tokenizer_name, dtype.itemsize
        self.file = _Stream(path, dtype.newbyteorder("<"))

    def add(self, pos: int, chunk: np.ndarray) -> None:
        self.file.write(chunk)

    def close(self) -> list[Path]:
        lengths = self.lengths
        ends = np.cumsum(lengths, dtype=np.uint64) if len(lengths) else np.zeros(0, np.uint64)
        index, meta = Path(f"{self.path}.index"), Path(f"{self.path}.metadata")
        self.file.close()
        _write_atomic(index, [ends.astype("<u8").tobytes()])
        _write_atomic(meta, [f"{self.name}|{self.itemsize}\n{int(lengths.sum())}\n".encode()])
        return [self.path, index, meta]

    def abort(self) -> None:
        self.file.abort()


# Rows per Parquet row group, and the writer's options: those of dataprep.corpus.write_table, which
# hf shards were written with, so a shard written a row group at a time has the same bytes.
HF_ROW_GROUP = 32768


def _parquet_options(names: list[str]) -> dict:
    return dict(compression="zstd", write_statistics=False, use_dictionary=[c for c in names if c != "text"],
                write_page_checksum=True)


class HfWriter(ShardWriter):
    """hf Parquet, one row group (HF_ROW_GROUP rows: documents, or packed seq_len rows) at a time:
    its tokens are gathered into one buffer, written, and dropped."""

    def __init__(self, path: Path, dtype: np.dtype, lengths: np.ndarray, columns: dict[str, list],
                 seq_len: int | None):
        self.path, self.dtype, self.seq_len = path, np.dtype(dtype), seq_len
        self.value_type = pa.uint16() if self.dtype == np.uint16 else pa.uint32()
        total = int(lengths.sum())
        if seq_len:  # packed: consecutive documents cut into seq_len rows (the last may be shorter)
            self.ends = np.minimum(np.arange(seq_len, total + seq_len, seq_len, dtype=np.int64), total)
            self.columns: dict[str, pa.Array] = {}
        else:
            self.ends = np.cumsum(lengths, dtype=np.int64)
            self.columns = {k: pa.array(v) for k, v in columns.items()}
        self.lengths, self.raw_columns = lengths, columns
        self.large = total >= 2**31
        self.n_groups = -(-len(self.ends) // HF_ROW_GROUP)
        self.group, self.buf, self.writer = 0, None, None
        self.tmp = tmp_path(path)

    def _bounds(self, g: int) -> tuple[int, int, int, int]:
        r0, r1 = g * HF_ROW_GROUP, min((g + 1) * HF_ROW_GROUP, len(self.ends))
        return r0, r1, int(self.ends[r0 - 1]) if r0 else 0, int(self.ends[r1 - 1])

    def add(self, pos: int, chunk: np.ndarray) -> None:
        while len(chunk):
            r0, r1, lo, hi = self._bounds(self.group)
            if self.buf is None:
                self.buf = np.empty(hi - lo, self.dtype)
            take = min(hi - pos, len(chunk))
            self.buf[pos - lo:pos - lo + take] = chunk[:take]
            pos, chunk = pos + take, chunk[take:]
            if pos == hi:
                self._flush()

    def _flush(self) -> None:
        r0, r1, lo, hi = self._bounds(self.group)
        values = pa.array(self.buf if self.buf is not None else np.zeros(0, self.dtype), self.value_type)
        offsets = np.zeros(r1 - r0 + 1, dtype=np.int64)
        offsets[1:] = self.ends[r0:r1] - lo
        if self.large:
            lists = pa.LargeListArray.from_arrays(pa.array(offsets), values)
        else:
            lists = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values)
        table = pa.table({**{k: a.slice(r0, r1 - r0) for k, a in self.columns.items()}, "input_ids": lists})
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.tmp, table.schema, **_parquet_options(table.column_names))
        self.writer.write_table(table, row_group_size=HF_ROW_GROUP)
        self.group, self.buf = self.group + 1, None

    def close(self) -> list[Path]:
        if self.n_groups == 0:  # no rows: the table as a whole (its column types come from no values)
            tokens = np.zeros(0, self.dtype)
            return write_hf(self.path, hf_table(tokens, self.lengths, self.raw_columns, self.seq_len))
        while self.group < self.n_groups:  # row groups of documents without tokens, if any are left
            self._flush()
        self.writer.close()
        with open(self.tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(self.tmp, self.path)
        return [self.path]

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.tmp.unlink(missing_ok=True)


class HfDiskWriter(ShardWriter):
    """hf-disk: ``datasets`` writes the folder from one table, so the shard's tokens are gathered
    into one buffer (of the token dtype) first."""

    def __init__(self, folder: Path, dtype: np.dtype, lengths: np.ndarray, columns: dict[str, list],
                 seq_len: int | None):
        self.folder, self.lengths, self.columns, self.seq_len = folder, lengths, columns, seq_len
        self.tokens = np.empty(int(lengths.sum()), np.dtype(dtype))

    def add(self, pos: int, chunk: np.ndarray) -> None:
        self.tokens[pos:pos + len(chunk)] = chunk

    def close(self) -> list[Path]:
        table = hf_table(self.tokens, self.lengths, self.columns, self.seq_len)
        self.tokens = None
        return write_hf_disk(self.folder, table)


class MdsWriter(ShardWriter):
    def __init__(self, folder: Path, dtype: np.dtype, lengths: np.ndarray, ids: list[str]):
        try:
            from streaming import MDSWriter
        except ImportError:
            raise StageError("format mds: needs the mosaicml-streaming package "
                             "(pip install mosaicml-streaming)") from None
        import shutil

        self.folder, self.tmp = folder, tmp_path(folder)
        shutil.rmtree(self.tmp, ignore_errors=True)
        kind = "uint16" if np.dtype(dtype) == np.uint16 else "uint32"
        self.writer = MDSWriter(out=str(self.tmp), columns={"id": "str", "tokens": f"ndarray:{kind}"},
                                compression=None)
        self.writer.__enter__()
        self.ids, self.lengths, self.dtype = ids, lengths.tolist(), np.dtype(dtype)
        self.doc, self.start = 0, 0  # next document, and where its tokens start in the shard

    def add(self, pos: int, chunk: np.ndarray) -> None:
        end = pos + len(chunk)
        while self.doc < len(self.lengths) and self.start + self.lengths[self.doc] <= end:
            n = self.lengths[self.doc]
            self.writer.write({"id": self.ids[self.doc], "tokens": chunk[self.start - pos:self.start - pos + n].copy()})
            self.doc, self.start = self.doc + 1, self.start + n

    def close(self) -> list[Path]:
        import shutil

        self.add(self.start, np.zeros(0, self.dtype))  # documents without tokens at the end, if any
        self.writer.__exit__(None, None, None)
        shutil.rmtree(self.folder, ignore_errors=True)
        os.replace(self.tmp, self.folder)
        return sorted(p for p in self.folder.rglob("*") if p.is_file())

    def abort(self) -> None:
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)


def _write_whole(writer: ShardWriter, tokens: np.ndarray) -> list[Path]:
    try:
        writer.add(0, tokens)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


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
