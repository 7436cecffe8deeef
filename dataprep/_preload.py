"""Imported once by the fork server that starts worker processes (see ``executor.start_forkserver``):
each worker is forked from it with these modules already loaded instead of importing them itself.

Loads the engine, every installed stage, and pandas: pyarrow imports pandas on its first
``pa.array`` call (0.2-0.3 s) when pandas is installed. A module that fails to import is skipped
here; the worker that needs it reports the error as usual.
"""

import importlib
from importlib.metadata import entry_points


def _load() -> None:
    names = ["dataprep.runner", *sorted({ep.module for ep in entry_points(group="dataprep.stages")}), "pandas"]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a broken optional module must not stop the fork server
            pass


_load()
