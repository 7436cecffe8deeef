"""Executors run a function over a list of items. ``local`` uses processes on this machine; a Ray
executor can implement the same two methods. Stages never see which one runs them."""

from __future__ import annotations

import importlib
import multiprocessing
import os
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from importlib.util import find_spec
from typing import Any, Callable, Iterable, Iterator


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def start_forkserver() -> None:
    """Start this process's fork server (once; later calls do nothing). It imports
    ``dataprep._preload`` before it forks any worker, and runs in the background: a caller that
    starts it early overlaps those imports with its own."""
    from multiprocessing import forkserver

    if getattr(start_forkserver, "_done", False):
        return
    start_forkserver._done = True  # type: ignore[attr-defined]
    multiprocessing.get_context("forkserver").set_forkserver_preload(["dataprep._preload"])
    forkserver.ensure_running()


class Executor:
    """Interface: ``imap_unordered`` yields ``(index, result)`` as items finish; ``map`` keeps order."""

    workers: int = 1

    def imap_unordered(self, fn: Callable, items: list) -> Iterator[tuple[int, Any]]:
        raise NotImplementedError

    def map(self, fn: Callable, items: list) -> list:
        results: list = [None] * len(items)
        for i, r in self.imap_unordered(fn, items):
            results[i] = r
        return results

    def close(self) -> None:
        pass

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class LocalExecutor(Executor):
    """A process pool (forkserver start) on this machine; ``workers=1`` runs in this process."""

    def __init__(self, workers: int | None = None):
        self.workers = workers or default_workers()
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            start_forkserver()
            if "pandas" not in sys.modules and find_spec("pandas") is not None:
                # this process needs it too once it builds Arrow arrays: import it while the workers run
                threading.Thread(target=importlib.import_module, args=("pandas",), daemon=True).start()
            ctx = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
        return self._pool

    def imap_unordered(self, fn: Callable, items: Iterable) -> Iterator[tuple[int, Any]]:
        items = list(items)
        if self.workers <= 1 or len(items) <= 1:
            for i, item in enumerate(items):
                yield i, fn(item)
            return
        pool = self._get_pool()
        # Keep at most 2x workers in flight so results (and memory) stay bounded.
        pending: dict[Future, int] = {}
        it = iter(enumerate(items))
        try:
            for i, item in it:
                pending[pool.submit(fn, item)] = i
                if len(pending) >= 2 * self.workers:
                    break
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=lambda f: pending[f]):
                    i = pending.pop(fut)
                    yield i, fut.result()
                    nxt = next(it, None)
                    if nxt is not None:
                        pending[pool.submit(fn, nxt[1])] = nxt[0]
        finally:
            for fut in pending:
                fut.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def make_executor(kind: str = "local", workers: int | None = None) -> Executor:
    if kind == "local":
        return LocalExecutor(workers)
    raise ValueError(f"unknown executor {kind!r}; available: local")
