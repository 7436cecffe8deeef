"""Object storage: inputs and workdirs on ``s3://`` (or any URI ``pyarrow.fs`` knows).

Stages read and write local files; object storage is reached by staging through a local cache
folder on the machine that runs the pipeline (the driver):

- an input pattern on object storage (``ingest: {paths: ["s3://bucket/raw/*.jsonl.gz"]}``) is
  listed there, and each match is copied once into ``CACHE/objects/`` with the object's size
  and modification time, so a rerun copies nothing and the ingest fingerprint stays the same;
- a workdir on object storage (``workdir: s3://bucket/run1``) is worked in a local mirror,
  ``CACHE/work/<hash of the URI>/``. Each finished task's shards and marker are uploaded as soon as
  the task ends, and each stage's ``manifest.json`` last of all, once every file it lists is up.
  A stage is part of the corpus only when its manifest is (write-then-manifest): a crashed run
  leaves objects that no manifest lists, which the rerun overwrites or deletes.

A rerun on any machine reads the manifests and task markers on object storage: finished stages
are skipped without downloading them (only the shards of the stage the next one reads are),
finished tasks of an unfinished stage are downloaded, not recomputed. One object PUT is atomic
on S3, so an object is either whole or absent.

Worker processes read and write the driver's cache, so the Ray executor with an object-storage
workdir needs the cache on a path all nodes see (``storage.cache_dir``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dataprep.config import ConfigError, option

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
MiB = 1 << 20


class StorageError(RuntimeError):
    """Object storage that cannot be reached or read (a missing bucket, no credentials, ...)."""


def is_remote(path: Any) -> bool:
    """Whether ``path`` is a URI for object storage (``s3://...``), not a local path."""
    m = _SCHEME.match(str(path))
    return bool(m) and m.group(1).lower() != "file"


@dataclass
class StorageConfig:
    """``storage:`` in a pipeline's YAML: how to reach object storage."""

    endpoint_url: str | None = option(None, help="S3-compatible endpoint such as http://127.0.0.1:9000 (MinIO, "
                                                 "Ceph, a test server); default $AWS_ENDPOINT_URL, else AWS.")
    region: str | None = option(None, help="S3 region; default $AWS_REGION / $AWS_DEFAULT_REGION, else us-east-1.")
    cache_dir: str | None = option(None, help="Local folder for copies of remote inputs and the mirror of a "
                                              "remote workdir; default $DATAPREP_CACHE, else ~/.cache/dataprep.")

    def validate(self) -> None:
        if self.endpoint_url is not None and not urlparse(self.endpoint_url).netloc:
            raise ConfigError(f"endpoint_url: expected a URL such as http://host:9000, got {self.endpoint_url!r}")


_config = StorageConfig()
_filesystems: dict[tuple, Any] = {}
_lock = threading.Lock()


def configure(cfg: StorageConfig | None) -> None:
    """Use ``cfg`` for every URI opened from now on in this process."""
    global _config
    _config = cfg or StorageConfig()
    _filesystems.clear()


def cache_root() -> Path:
    return Path(_config.cache_dir or os.environ.get("DATAPREP_CACHE") or Path.home() / ".cache" / "dataprep")


def filesystem(uri: str) -> tuple[Any, str]:
    """(pyarrow filesystem, path inside it without a trailing slash) for a URI."""
    import pyarrow.fs as pafs

    scheme = _SCHEME.match(uri).group(1).lower()  # type: ignore[union-attr]
    rest = uri[len(scheme) + 3:].rstrip("/")
    if scheme == "s3":
        endpoint = _config.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        region = _config.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        key = ("s3", endpoint, region)
        with _lock:
            if key not in _filesystems:
                kw: dict[str, Any] = {}
                if endpoint:
                    parsed = urlparse(endpoint)
                    kw["endpoint_override"] = parsed.netloc
                    kw["scheme"] = parsed.scheme or "https"
                if region:
                    kw["region"] = region
                _filesystems[key] = pafs.S3FileSystem(**kw)
        return _filesystems[key], rest
    try:
        fs, path = pafs.FileSystem.from_uri(uri)
    except (ValueError, OSError) as e:  # pyarrow's ArrowInvalid is a ValueError
        raise StorageError(f"{uri}: cannot open this storage ({e})") from None
    return fs, path.rstrip("/")


def _error(uri: str, e: Exception) -> StorageError:
    text = " ".join(str(e).split())
    return StorageError(f"{uri}: {text}")


def _join(uri: str, rel: str) -> str:
    return f"{uri.rstrip('/')}/{rel}" if rel else uri.rstrip("/")


def list_files(uri: str) -> dict[str, Any]:
    """Every object under ``uri`` (a prefix), by path relative to it; {} when there is none."""
    import pyarrow.fs as pafs

    fs, base = filesystem(uri)
    try:
        infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    except OSError as e:
        raise _error(uri, e) from None
    return {i.path[len(base) + 1:]: i for i in infos if i.type == pafs.FileType.File}


def glob(pattern: str) -> list[tuple[str, Any]]:
    """(URI, file info) of the objects a pattern matches, sorted: a single object, every object
    under a prefix ("folder"), or ``*``, ``?``, ``[...]`` and ``**`` patterns as for local files."""
    import pyarrow.fs as pafs

    fs, path = filesystem(pattern)
    scheme = pattern[:pattern.index("://") + 3]
    magic = re.search(r"[*?\[]", path)
    if not magic:
        try:
            info = fs.get_file_info(path)
        except OSError as e:
            raise _error(pattern, e) from None
        if info.type == pafs.FileType.File:
            return [(scheme + path, info)]
        return sorted((_join(scheme + path, rel), i) for rel, i in list_files(scheme + path).items())
    base = path[:magic.start()].rsplit("/", 1)[0]
    regex = re.compile(_glob_regex(path))
    found = list_files(scheme + base)
    return sorted((scheme + base + "/" + rel, i) for rel, i in found.items() if regex.fullmatch(base + "/" + rel))


def _glob_regex(pattern: str) -> str:
    """A glob as a regex over object keys: ``*`` and ``?`` within one path part, ``**/`` across parts."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            j = i
            while j < len(pattern) and pattern[j] not in "*?":
                j += 1
            out.append(fnmatch.translate(pattern[i:j])[4:-3])  # '(?s:' ... ')\Z'
            i = j
    return "".join(out)


def download(uri: str, dest: Path, info: Any = None) -> Path:
    """Copy one object to ``dest`` (whole, then renamed into place), with the object's time."""
    from dataprep.corpus import ensure_dir, tmp_path

    fs, path = filesystem(uri)
    ensure_dir(dest.parent)
    tmp = tmp_path(dest)
    try:
        with fs.open_input_stream(path) as src, open(tmp, "wb") as out:
            while True:
                block = src.read(8 * MiB)
                if not block:
                    break
                out.write(block)
        if info is not None and info.mtime_ns is not None:
            os.utime(tmp, ns=(info.mtime_ns, info.mtime_ns))
        os.replace(tmp, dest)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise _error(uri, e) from None
    return dest


def upload(src: Path, uri: str) -> None:
    fs, path = filesystem(uri)
    try:
        with open(src, "rb") as f, fs.open_output_stream(path) as out:
            while True:
                block = f.read(8 * MiB)
                if not block:
                    break
                out.write(block)
    except OSError as e:
        raise _error(uri, e) from None


def delete(uri: str) -> None:
    fs, path = filesystem(uri)
    try:
        fs.delete_file(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise _error(uri, e) from None


def read_bytes(uri: str) -> bytes | None:
    """An object's bytes, or None when it does not exist."""
    fs, path = filesystem(uri)
    try:
        with fs.open_input_stream(path) as f:
            return f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        if "does not exist" in str(e) or "NoSuchKey" in str(e) or "Path does not exist" in str(e):
            return None
        raise _error(uri, e) from None


def stage_inputs(pattern: str) -> list[Path]:
    """Local copies of the objects a pattern matches, under ``CACHE/objects/SCHEME/BUCKET/KEY``; an
    object whose copy has its size and time is not copied again."""
    matches = glob(pattern)
    if not matches:
        return []
    out = []
    for uri, info in matches:
        scheme, rest = uri.split("://", 1)
        dest = cache_root() / "objects" / scheme / rest
        try:
            st = dest.stat()
            fresh = st.st_size == info.size and (info.mtime_ns is None or st.st_mtime_ns == info.mtime_ns)
        except FileNotFoundError:
            fresh = False
        if not fresh:
            download(uri, dest, info)
        out.append(dest)
    return out


def uri_of_copy(path: Path) -> str | None:
    """The URI a local copy made by ``stage_inputs`` was copied from (None for any other path)."""
    try:
        rel = Path(path).resolve().relative_to((cache_root() / "objects").resolve())
    except ValueError:
        return None
    scheme, _, rest = rel.as_posix().partition("/")
    return f"{scheme}://{rest}"


# --- a workdir on object storage -------------------------------------------------------------


# Files of a stage folder that stay in the local mirror: the lock, temporaries, and the global
# pass's state, which holds local paths (a rerun elsewhere runs the global pass again).
def _stays_local(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return (name == ".lock" or name.startswith(".tmp-") or rel == "_state.pkl" or rel.startswith("_state/"))


class RemoteWorkdir:
    """A workdir on object storage and its local mirror (see the module's docstring)."""

    def __init__(self, uri: str):
        self.uri = uri.rstrip("/")
        filesystem(self.uri)  # a bad URI fails here, before any work
        digest = hashlib.sha256(self.uri.encode()).hexdigest()[:16]
        self.local = cache_root() / "work" / digest
        self._pushed: dict[str, set[str]] = {}

    def remote(self, rel: str) -> str:
        return _join(self.uri, rel)

    def manifest(self, stage_dir: str) -> dict | None:
        import json

        data = read_bytes(self.remote(f"{stage_dir}/manifest.json"))
        if data is None:
            return None
        try:
            return json.loads(self._to_local(data.decode()))
        except ValueError:
            return None

    def stage_file(self, stage_dir: str) -> dict | None:
        import json

        data = read_bytes(self.remote(f"{stage_dir}/_stage.json"))
        try:
            return json.loads(data) if data is not None else None
        except ValueError:
            return None

    def _to_local(self, text: str) -> str:
        return text.replace(self.uri, str(self.local))

    def _to_remote(self, text: str) -> str:
        return text.replace(str(self.local), self.uri)

    def pull(self, stage_dir: str, only: list[str] | None = None) -> None:
        """Copy a stage folder's objects (or only the files named) into the mirror where the local
        copy is missing or has another size."""
        remote = list_files(self.remote(stage_dir))
        wanted = remote if only is None else {k: v for k, v in remote.items() if k in set(only)}
        for rel, info in sorted(wanted.items()):
            if _stays_local(rel):
                continue
            dest = self.local / stage_dir / rel
            try:
                if dest.stat().st_size == info.size and rel != "manifest.json":
                    continue
            except FileNotFoundError:
                pass
            download(self.remote(f"{stage_dir}/{rel}"), dest, info)
            if rel == "manifest.json":  # paths in it name the mirror here, the workdir's URI there
                dest.write_text(self._to_local(dest.read_text()))
        self._pushed.setdefault(stage_dir, set()).update(wanted)

    def clear(self, stage_dir: str) -> None:
        """Delete a stage folder's objects: the manifest first, so no half-deleted stage looks finished."""
        remote = list_files(self.remote(stage_dir))
        for rel in sorted(remote, key=lambda r: r != "manifest.json"):
            delete(self.remote(f"{stage_dir}/{rel}"))
        self._pushed.pop(stage_dir, None)

    def push(self, stage_dir: str, files: list[str]) -> None:
        """Upload the named files of a stage folder (relative paths) that are not up yet."""
        done = self._pushed.setdefault(stage_dir, set())
        for rel in files:
            if rel in done or _stays_local(rel):
                continue
            upload(self.local / stage_dir / rel, self.remote(f"{stage_dir}/{rel}"))
            done.add(rel)

    def finish(self, stage_dir: str) -> None:
        """Upload the rest of a finished stage folder, delete objects the stage no longer has, and
        put its manifest up last."""
        folder = self.local / stage_dir
        local = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        local = [rel for rel in local if not _stays_local(rel)]
        self.push(stage_dir, [rel for rel in local if rel != "manifest.json"])
        for rel in set(list_files(self.remote(stage_dir))) - set(local):
            if not _stays_local(rel):
                delete(self.remote(f"{stage_dir}/{rel}"))
        manifest = folder / "manifest.json"
        fs, path = filesystem(self.remote(f"{stage_dir}/manifest.json"))
        try:
            with fs.open_output_stream(path) as out:
                out.write(self._to_remote(manifest.read_text()).encode())
        except OSError as e:
            raise _error(self.remote(f"{stage_dir}/manifest.json"), e) from None
        self._pushed.setdefault(stage_dir, set()).add("manifest.json")

