"""Imported once by the fork server that starts worker processes (see ``executor.start_forkserver``):
each worker is forked from it with these modules already loaded instead of importing them itself.

First it takes the starting process's ``sys.path`` and current directory (the fork server was
started without its own current directory on ``sys.path``, so that a ``dataprep/`` or ``stages/``
folder there cannot shadow the installed package), and ignores SIGINT, which the workers inherit:
Ctrl-C reaches every process of the terminal's process group, and the workers' owner stops them.

Then it loads the engine, the stages the command will run (every installed stage unless it named
them), and pandas: pyarrow imports pandas on its first
``pa.array`` call (0.2-0.3 s) when pandas is installed. A module that fails to import is skipped
here; the worker that needs it reports the error as usual. Last, the loaded objects are frozen
(``gc.freeze``): the garbage collector of the workers no longer walks them.
"""

import gc
import importlib
import json
import os
import signal
import sys
from importlib.metadata import entry_points

from dataprep.executor import FORKSERVER_SETUP


def _take_setup() -> list[str] | None:
    """Apply the starting process's setup; return the stage modules it asked for (None: all)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raw = os.environ.pop(FORKSERVER_SETUP, None)
    if raw is None:  # a fork server that dataprep did not start
        return None
    setup = json.loads(raw)
    for name, value in setup["env"].items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    sys.path[:] = setup["sys_path"]
    try:
        os.chdir(setup["cwd"])
    except OSError:
        pass  # gone since; each worker moves to its owner's current directory anyway
    return setup.get("modules")


def _load(modules: list[str] | None) -> None:
    if modules is None:
        modules = sorted({ep.module for ep in entry_points(group="dataprep.stages")})
    names = ["dataprep.runner", *modules, "pandas"]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a broken optional module must not stop the fork server
            pass


_load(_take_setup())
# Everything loaded so far lives as long as the workers: out of the garbage collector's sight, the
# full collection each worker runs after every task (executor.release_memory) takes microseconds
# instead of ~70 ms of walking the imported modules' objects (and their pages stay shared).
gc.collect()
gc.freeze()
