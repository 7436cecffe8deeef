"""The corpus on disk: a folder of Parquet shards, ``manifest.json`` and ``_rejected/`` shards.

Every file is written under a temporary name and renamed when complete, so a reader never
sees half a shard and a killed run leaves nothing that looks finished.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

MANIFEST = "manifest.json"
REJECTED = "_rejected"
EDITS = "_edits"
# /2: shards carry Parquet page checksums and manifests a digest of each shard's tail
FORMAT = "dataprep-corpus/2"
DIGEST_TAIL = 1 << 16  # bytes at the end of a shard (its Parquet footer and last pages) that the digest covers

# Rejected rows always carry these, on top of whatever columns the document had.
REJECT_COLUMNS = {"reason": pa.string(), "stage": pa.string()}


class CorpusError(RuntimeError):
    """A corpus folder that cannot be read."""


class OutputError(CorpusError):
    """An output that cannot be written (read-only folder, disk full, missing parent, ...)."""


def _write_error(path: Path, e: OSError, what: str = "write") -> OutputError:
    return OutputError(f"cannot {what} {e.filename or path}: {e.strerror or e}")


def ensure_dir(path: Path) -> Path:
    """``mkdir -p`` with a one-line error naming the folder."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _write_error(path, e, "create folder") from None
    return path


def tmp_path(path: Path) -> Path:
    return path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    ensure_dir(path.parent)
    tmp = tmp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise _write_error(path, e) from None


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode())


def read_parquet(path: str | Path, columns: list[str] | None = None, threads: bool = False) -> pa.Table:
    """Read one Parquet file whole. Workers read with one thread (the executor runs a task per core).

    ``ParquetFile.read`` rather than ``pq.read_table``: the latter goes through ``pyarrow.dataset``,
    whose first use imports pandas (about 0.2 s in every worker process).
    """
    try:
        with pq.ParquetFile(path, page_checksum_verification=True) as f:
            return f.read(columns=columns, use_threads=threads)
    except FileNotFoundError:
        raise CorpusError(f"{path}: shard missing") from None
    except (pa.ArrowException, OSError) as e:
        raise CorpusError(f"{path}: unreadable Parquet shard ({str(e).splitlines()[0]})") from None


def write_table(table: pa.Table, path: Path) -> int:
    """Write one Parquet shard atomically; deterministic bytes for the same table. Returns bytes.

    Pages carry CRC-32 checksums, which ``read_parquet`` verifies, so a damaged page is an error
    naming the file rather than wrong rows."""
    ensure_dir(path.parent)
    tmp = tmp_path(path)
    try:
        # no dictionary for the text column: its values are (nearly) all distinct, and the writer would
        # build a dictionary page for every row group before falling back to plain encoding
        pq.write_table(table, tmp, compression="zstd", row_group_size=32768, write_statistics=False,
                       use_dictionary=[c for c in table.column_names if c != "text"], write_page_checksum=True)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return path.stat().st_size
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise _write_error(path, e) from None


def shard_digest(path: Path) -> str:
    """A cheap content check of a written file: xxh3-64 of its size and its last 64 KiB, which
    hold a Parquet file's footer (row counts, page offsets and sizes). Truncated, swapped or
    rewritten shards change it; damage inside earlier pages is caught by the page checksums."""
    import xxhash

    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - DIGEST_TAIL))
        tail = f.read()
    return xxhash.xxh3_64(size.to_bytes(8, "little") + tail).hexdigest()


def check_file(folder: Path, record: dict) -> str | None:
    """What is wrong with a file a manifest or task marker lists (None: it is as recorded)."""
    path = folder / record["file"]
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return f"{path}: missing (listed in the manifest)"
    except OSError as e:
        return f"{path}: cannot read ({e.strerror})"
    if "bytes" in record and size != record["bytes"]:
        return f"{path}: {size:,} bytes on disk, {record['bytes']:,} when written (truncated or replaced)"
    if "digest" in record:
        if shard_digest(path) != record["digest"]:
            return f"{path}: content differs from when it was written (replaced or corrupted)"
    elif "rows" in record and path.suffix == ".parquet":
        try:
            rows = pq.read_metadata(path).num_rows
        except (pa.ArrowException, OSError) as e:
            return f"{path}: not a readable Parquet file ({str(e).splitlines()[0]})"
        if rows != record["rows"]:
            return f"{path}: {rows:,} rows on disk, {record['rows']:,} when written (replaced)"
    return None


def verify_files(folder: Path, manifest: dict) -> None:
    """Check every shard and file a manifest lists (size, digest, rows) before it is trusted."""
    for key in ("shards", "rejected_shards", "files"):
        for record in manifest.get(key, []):
            problem = check_file(folder, record)
            if problem:
                raise CorpusError(f"{problem}; remove {folder} and rerun to recompute it")


def clear_temporaries(folder: Path) -> None:
    """Remove half-written files a killed run left behind."""
    if folder.exists():
        for p in folder.rglob(".tmp-*"):
            p.unlink(missing_ok=True)


def schema_json(schema: pa.Schema) -> list[dict]:
    return [{"name": f.name, "type": str(f.type)} for f in schema]


@dataclass
class Corpus:
    """A finished corpus folder (one with a manifest)."""

    path: Path
    manifest: dict
    verified: bool = False  # its files were checked against the manifest (or just written)

    def verify(self) -> None:
        if not self.verified:
            verify_files(self.path, self.manifest)
            self.verified = True

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Corpus":
        path = Path(path)
        mpath = path / MANIFEST
        if not mpath.exists():
            if path.is_dir() and any(path.glob("*.parquet")):
                return cls(path, {"shards": [{"file": p.name} for p in sorted(path.glob("*.parquet"))]})
            raise CorpusError(f"{path}: not a dataprep corpus (no {MANIFEST}); run a stage that writes one first")
        try:
            manifest = json.loads(mpath.read_text())
        except json.JSONDecodeError as e:
            raise CorpusError(f"{mpath}: unreadable manifest ({e})") from None
        return cls(path, manifest)

    @property
    def shard_paths(self) -> list[Path]:
        return [self.path / s["file"] for s in self.manifest.get("shards", [])]

    @property
    def rejected_paths(self) -> list[Path]:
        return [self.path / s["file"] for s in self.manifest.get("rejected_shards", [])]

    @property
    def rows(self) -> int:
        if "rows" in self.manifest:
            return int(self.manifest["rows"])
        return sum(pq.ParquetFile(p).metadata.num_rows for p in self.shard_paths)

    @property
    def fingerprint(self) -> str:
        return self.manifest.get("fingerprint") or "unfingerprinted:" + ",".join(
            f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in self.shard_paths
        )

    def read_shard(self, i: int, columns: list[str] | None = None) -> pa.Table:
        return read_parquet(self.shard_paths[i], columns, threads=True)

    def iter_tables(self, columns: list[str] | None = None) -> Iterator[pa.Table]:
        for p in self.shard_paths:
            yield read_parquet(p, columns, threads=True)

    def read_all(self, columns: list[str] | None = None) -> pa.Table:
        tables = list(self.iter_tables(columns))
        return pa.concat_tables(tables, promote_options="default") if tables else pa.table({})

    def read_rejected(self) -> pa.Table:
        tables = [read_parquet(p, threads=True) for p in self.rejected_paths]
        return pa.concat_tables(tables, promote_options="default") if tables else pa.table({})


def rejected_table(rows: pa.Table, reasons: pa.Array | list, stage: str, extra: dict | None = None) -> pa.Table:
    """Attach ``reason``/``stage`` (and any extra columns such as ``dup_of``) to dropped rows."""
    n = rows.num_rows
    out = rows
    for name, col in {"reason": reasons, "stage": [stage] * n, **(extra or {})}.items():
        arr = col if isinstance(col, (pa.Array, pa.ChunkedArray)) else pa.array(col, type=pa.string())
        if name in out.column_names:
            out = out.drop_columns([name])
        out = out.append_column(name, arr)
    return out


def split_by_reason(table: pa.Table, reasons: list[str | None] | pa.Array, stage: str,
                    extra: dict[str, list] | None = None) -> tuple[pa.Table, pa.Table]:
    """Split a batch by a reason column: null keeps the row, a string rejects it with that reason.

    Accounting holds by construction: every input row lands in exactly one of the two outputs.
    """
    import pyarrow.compute as pc

    reasons = reasons if isinstance(reasons, (pa.Array, pa.ChunkedArray)) else pa.array(reasons, type=pa.string())
    if len(reasons) != table.num_rows:
        raise ValueError(f"reason column has {len(reasons)} values for {table.num_rows} rows")
    dropped = pc.is_valid(reasons)
    kept = table.filter(pc.invert(dropped))
    rej_rows = table.filter(dropped)
    rej_extra = {k: pa.array(v, type=pa.string()).filter(dropped) for k, v in (extra or {}).items()}
    rejected = rejected_table(rej_rows, reasons.filter(dropped), stage, rej_extra)
    return kept, rejected
