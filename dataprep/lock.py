"""One run at a time per output folder.

A run holds an exclusive ``flock`` on ``FOLDER/.lock`` (the workdir for ``dataprep run``, and each
stage's output folder) for as long as it works there. The kernel drops the lock when the holding
process ends, however it ends, so a lock left by a killed run is stale by construction and the
next run simply takes it. The file also records who holds it, for the message a second run prints.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Iterator

from dataprep.corpus import CorpusError, ensure_dir

LOCK_FILE = ".lock"


class LockedError(CorpusError):
    """Another process is working in the same folder."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
    return f"process {info.get('pid', '?')} on {info.get('host', '?')} (`{info.get('command', '?')}`, started {started})"


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold the lock of ``folder`` (created if needed), or raise ``LockedError`` at once."""
    ensure_dir(folder)
    path = folder / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise CorpusError(f"cannot create lock file {path}: {e.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(f"{folder}: in use by {_holder(path)}; wait for it to finish or stop it") from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
