"""Executors run a function over a list of items: ``local`` uses processes on this machine, ``ray``
tasks on a Ray cluster. Both implement ``imap_unordered``; stages never see which one runs them, and
the output is the same (results are put back in the items' order)."""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Any, Callable, Iterable, Iterator, Literal

import dataprep
from dataprep.config import ConfigError, option

# Set only while the fork server starts: what ``dataprep._preload`` restores there (this process's
# sys.path and current directory, and the environment variables changed for the start).
FORKSERVER_SETUP = "_DATAPREP_FORKSERVER_SETUP"


class WorkerImportError(RuntimeError):
    """The workers run another copy of dataprep than this process."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGHUP in a command-line run (``stop_on_signals``). A KeyboardInterrupt,
    so that every signal unwinds a run the same way: the executor aborts (its workers stop), locks
    are released, and the tasks already finished are kept for the rerun."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def interrupted_message(signum: int) -> str:
    what = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    return f"{what}; rerun the same command to resume"


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def stop_on_signals() -> None:
    """Make SIGINT, SIGTERM and SIGHUP raise ``Interrupted`` in the main thread (the default for
    SIGTERM and SIGHUP is to die on the spot, leaving the workers to run on). A second signal
    while the first unwinds ends the process at once."""

    def second(signum: int, frame: Any) -> None:
        os.write(2, (interrupted_message(signum) + "\n").encode())
        os._exit(128 + signum)

    def first(signum: int, frame: Any) -> None:
        for s in STOP_SIGNALS:
            signal.signal(s, second)
        raise Interrupted(signum)

    for s in STOP_SIGNALS:
        signal.signal(s, first)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def start_forkserver(modules: list[str] | None = None) -> None:
    """Start this process's fork server (once; later calls do nothing). It imports
    ``dataprep._preload`` before it forks any worker, and runs in the background: a caller that
    starts it early overlaps those imports with its own. ``modules``: the stage modules its workers
    will need (default: every installed stage); a command that runs one stage names its module, so
    the first task does not wait for the imports of all the others.

    The fork server is a new ``python -c`` process, and such a process puts its current directory
    first on ``sys.path``: started from a checkout of dataprep (or any folder holding a
    ``dataprep/`` or ``stages/`` package) it would import that copy instead of this process's
    (multiprocessing passes it this process's ``sys.path``, which it does not use). So it starts
    without that entry (``PYTHONSAFEPATH`` on Python 3.11+; before that, from an empty folder),
    and ``dataprep._preload`` gives it this process's ``sys.path`` and current directory before it
    imports anything else. It ignores SIGINT from its start, and so do the workers it forks: the
    process that owns them stops them (``LocalExecutor.abort``)."""
    from multiprocessing import forkserver

    if getattr(start_forkserver, "_done", False):
        return
    start_forkserver._done = True  # type: ignore[attr-defined]
    multiprocessing.get_context("forkserver").set_forkserver_preload(["dataprep._preload"])
    cwd = os.getcwd()
    changed = ["PYTHONSAFEPATH"] if sys.version_info >= (3, 11) else []
    setup = {"sys_path": [cwd if p == "" else p for p in sys.path if isinstance(p, str)], "cwd": cwd,
             "env": {name: os.environ.get(name) for name in changed}, "modules": modules}
    saved = {name: os.environ.get(name) for name in [FORKSERVER_SETUP, *changed]}
    empty = None
    # an ignored signal stays ignored across exec: no Ctrl-C can reach the fork server mid-import
    in_main_thread = threading.current_thread() is threading.main_thread()
    old_sigint = signal.getsignal(signal.SIGINT) if in_main_thread else None
    if old_sigint is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.environ[FORKSERVER_SETUP] = json.dumps(setup)
        if changed:
            os.environ["PYTHONSAFEPATH"] = "1"
        else:
            import tempfile

            empty = tempfile.mkdtemp(prefix="dataprep-forkserver-")
            os.chdir(empty)
        forkserver.ensure_running()
    finally:
        if empty is not None:
            os.chdir(cwd)
            os.rmdir(empty)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if old_sigint is not None:
            signal.signal(signal.SIGINT, old_sigint)


_import_problem: str | None = None  # in a worker: why it must not run tasks


def _init_worker(origin: str) -> None:
    """Runs first in every worker: end with the process that owns the pool, and check that this
    worker runs the same dataprep as that process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        # The pool's owner keeps its end of this pipe open while it lives: however it ends (a
        # signal, SIGKILL, a crash), the pipe closes and the worker exits, even mid-task.
        def exit_with_parent() -> None:
            from multiprocessing.connection import wait as wait_for

            wait_for([parent.sentinel])
            os._exit(1)

        threading.Thread(target=exit_with_parent, name="dataprep-exit-with-parent", daemon=True).start()
    global _import_problem
    if os.path.realpath(dataprep.__file__) != os.path.realpath(origin):
        _import_problem = (f"the worker processes import dataprep from {os.path.dirname(dataprep.__file__)}, "
                           f"this process from {os.path.dirname(origin)} (a copy found first on its sys.path, "
                           "such as the current folder with `python -m`); run the `dataprep` command instead, "
                           "or from another folder")


def release_memory() -> None:
    """Hand freed memory back to the operating system: collect garbage, then ask glibc's malloc
    to return the free parts of its heaps (``malloc_trim``). Without it a process keeps the peak
    of everything it did before: a worker the heap of its largest task, the main process of a
    pipeline the heap of its largest global pass, for every stage after it."""
    import gc

    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _malloc_trim() -> Any:
    if not hasattr(_malloc_trim, "fn"):
        fn = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                fn = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc only
                if fn is not None:
                    fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
            except OSError:
                fn = None
        _malloc_trim.fn = fn  # type: ignore[attr-defined]
    return _malloc_trim.fn  # type: ignore[attr-defined]


def _call(fn: Callable, item: Any) -> Any:
    if _import_problem is not None:
        raise WorkerImportError(_import_problem)
    try:
        return fn(item)
    finally:
        release_memory()  # the next task starts from what this process needs, not this task's peak


class Executor:
    """Interface: ``imap_unordered`` yields ``(index, result)`` as items finish; ``map`` keeps order.
    Used as a context manager, it closes when the block ends, and aborts (stops running tasks
    without waiting for them) when the block raises."""

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

    def abort(self) -> None:
        self.close()

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


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
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                             initializer=_init_worker, initargs=(dataprep.__file__,))
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
                pending[pool.submit(_call, fn, item)] = i
                if len(pending) >= 2 * self.workers:
                    break
            while pending:
                # with a timeout: a signal that the kernel hands to another thread of this process
                # runs its Python handler (Ctrl-C) only once the main thread wakes up
                done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=lambda f: pending[f]):
                    i = pending.pop(fut)
                    yield i, fut.result()
                    nxt = next(it, None)
                    if nxt is not None:
                        pending[pool.submit(_call, fn, nxt[1])] = nxt[0]
        finally:
            for fut in pending:
                fut.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def abort(self) -> None:
        """Stop the workers now (an error, Ctrl-C, SIGTERM): tasks still running are lost, and
        a rerun does them again."""
        if self._pool is not None:
            for process in list((getattr(self._pool, "_processes", None) or {}).values()):
                process.terminate()
        self.close()


class WorkerLost(RuntimeError):
    """A task's worker process or node died more often than the executor retries it."""


# Ray errors that mean the process or node running a task was lost, not that the task raised
_RAY_LOST = ("WorkerCrashedError", "NodeDiedError", "OwnerDiedError", "ObjectLostError", "LocalRayletDiedError",
             "RayActorError", "TaskUnschedulableError")


def _ray_call(fn: Callable, item: Any, version: str, cwd: str) -> Any:
    """Runs in a Ray worker: the same wrapper as a local worker's task, in the driver's current
    folder where this node has it (relative paths then mean what they mean to the driver; a worker
    of a cluster started elsewhere runs in the folder `ray start` ran in)."""
    if dataprep.__version__ != version:
        raise WorkerImportError(f"the Ray workers run dataprep {dataprep.__version__}, this process "
                                f"{version}; install the same version on every node")
    if os.getcwd() != cwd and os.path.isdir(cwd):
        os.chdir(cwd)
    try:
        return fn(item)
    finally:
        release_memory()


def _check_ray_import_path() -> None:
    """Ray puts the driver's current folder first on its workers' ``sys.path``: started in a folder
    holding another copy of dataprep (a checkout, with dataprep installed elsewhere), the workers
    would run that copy. Refuse, as the local executor does."""
    here = os.path.join(os.getcwd(), "dataprep", "__init__.py")
    ours = os.path.realpath(dataprep.__file__)
    if os.path.exists(here) and os.path.realpath(here) != ours:
        raise WorkerImportError(f"the Ray workers would import dataprep from {os.path.dirname(here)} (Ray puts the "
                                f"current folder first on their sys.path), this process from {os.path.dirname(ours)}; "
                                "run from another folder")


class RayExecutor(Executor):
    """Tasks on a Ray cluster: ``address`` None starts a Ray instance on this machine (stopped at
    the end), ``auto`` joins the cluster this machine belongs to, ``ray://host:10001`` a remote one.
    Every node must see the paths the stages use (a shared file system) or work through object
    storage (``s3://`` workdirs). A task whose worker or node dies is retried (``max_retries``);
    tasks write their outputs under a temporary name and rename them, so a retried task writes the
    same bytes as one that ran once."""

    def __init__(self, workers: int | None = None, address: str | None = None, num_cpus_per_task: float = 1.0,
                 max_retries: int = 3):
        try:
            import ray
        except ImportError:
            raise ConfigError("executor ray: Ray is not installed; pip install 'dataprep[ray]'") from None
        import logging

        _check_ray_import_path()
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING,
                                      "configure_logging": True}
            if address is None and not os.environ.get("RAY_ADDRESS"):
                # a new instance here; ray.init() alone would join the cluster a `ray start` on this
                # machine recorded (even one that has stopped since) and refuse num_cpus
                address = "local"
                kwargs["num_cpus"] = workers or default_workers()
            try:
                ray.init(address=address, **kwargs)
            except ConnectionError as e:
                raise ConfigError(f"executor ray: cannot reach the Ray cluster at {address}: {e}") from None
            self._started = True
        cpus = float(ray.cluster_resources().get("CPU", 1))
        self.workers = workers or max(1, int(cpus // num_cpus_per_task))
        self._remote = ray.remote(_ray_call).options(num_cpus=num_cpus_per_task, max_retries=max_retries,
                                                     retry_exceptions=False)
        self._pending: list = []

    def imap_unordered(self, fn: Callable, items: Iterable) -> Iterator[tuple[int, Any]]:
        ray = self._ray
        items = list(items)
        if not items:
            return
        fn_ref = ray.put(fn)  # shipped once, not with every task
        cwd = os.getcwd()
        pending: dict[Any, int] = {}
        self._pending = []
        it = iter(enumerate(items))

        def submit(i: int, item: Any) -> None:
            ref = self._remote.remote(fn_ref, item, dataprep.__version__, cwd)
            pending[ref] = i

        try:
            for i, item in it:
                submit(i, item)
                if len(pending) >= 2 * self.workers:
                    break
            while pending:
                self._pending = list(pending)
                done, _ = ray.wait(list(pending), num_returns=1, timeout=0.2)
                for ref in sorted(done, key=lambda r: pending[r]):
                    i = pending.pop(ref)
                    yield i, self._result(ref)
                    nxt = next(it, None)
                    if nxt is not None:
                        submit(*nxt)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            self._pending = []

    def _result(self, ref: Any) -> Any:
        from ray import exceptions as rx

        try:
            return self._ray.get(ref)
        except rx.RayTaskError as e:
            cause = e.cause if isinstance(e.cause, BaseException) else None
            if cause is None:
                raise
            if hasattr(cause, "add_note"):
                cause.add_note(f"in a Ray worker:\n{e.traceback_str if hasattr(e, 'traceback_str') else e}")
            raise cause from None
        except rx.RayError as e:
            if type(e).__name__ in _RAY_LOST:
                raise WorkerLost(f"a Ray worker or node was lost more often than tasks are retried ({type(e).__name__}); "
                                 "rerun the same command to resume") from e
            raise

    def close(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
        self._started = False

    def abort(self) -> None:
        for ref in self._pending:
            self._ray.cancel(ref, force=True)
        self._pending = []
        self.close()


EXECUTORS = ("local", "ray")


@dataclass
class ExecutorConfig:
    """``executor:`` in a pipeline's YAML, as a name (``local``, ``ray``) or a mapping."""

    type: Literal["local", "ray"] = option("local", help="`local` processes on this machine, or `ray` tasks.")
    address: str | None = option(None, help="Ray cluster: unset starts Ray on this machine; `auto` joins this "
                                            "machine's cluster; `ray://host:10001` a remote one.")
    num_cpus_per_task: float = option(1.0, help="CPUs Ray reserves for each task.")
    max_retries: int = option(3, help="Times Ray runs a task again whose worker or node died.")

    def validate(self) -> None:
        if self.num_cpus_per_task <= 0:
            raise ConfigError("num_cpus_per_task: must be > 0")
        if self.max_retries < 0:
            raise ConfigError("max_retries: must be >= 0")


def make_executor(kind: "str | ExecutorConfig" = "local", workers: int | None = None) -> Executor:
    cfg = kind if isinstance(kind, ExecutorConfig) else ExecutorConfig(type=kind)  # type: ignore[arg-type]
    if cfg.type == "local":
        return LocalExecutor(workers)
    if cfg.type == "ray":
        return RayExecutor(workers, cfg.address, cfg.num_cpus_per_task, cfg.max_retries)
    raise ConfigError(f"unknown executor {cfg.type!r}; available: {', '.join(EXECUTORS)}")
