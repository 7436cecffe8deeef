"""Stage discovery. The engine never imports a stage by name: installed stages come from the
``dataprep.stages`` entry-point group, and plugin modules named in a pipeline's ``plugins:``
list add theirs with ``@register``."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from dataprep.config import ConfigError

_registered: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator for stages defined outside the installed package."""
    _registered[cls.name] = cls
    return cls


def load_plugins(modules: list[str]) -> None:
    for mod in modules:
        try:
            importlib.import_module(mod)
        except ImportError as e:
            raise ConfigError(f"plugins: cannot import {mod!r} ({e})") from None


_broken: dict[str, str] = {}


def all_stages(only: str | None = None) -> dict[str, type]:
    """Installed and registered stages (``only``: just the one of that name, if installed). A
    stage whose module fails to import is left out and remembered, so one broken optional
    dependency does not take the whole CLI down."""
    stages = {}
    for ep in entry_points(group="dataprep.stages"):
        if only is not None and ep.name != only:
            continue
        try:
            stages[ep.name] = ep.load()
        except Exception as e:  # noqa: BLE001 - reported when the stage is asked for
            _broken[ep.name] = f"{type(e).__name__}: {e}"
    stages.update(_registered)
    return stages


def get_stage(name: str) -> type:
    stages = all_stages()
    if name in _broken and name not in stages:
        raise ConfigError(f"stage {name!r} is installed but cannot be loaded: {_broken[name]}")
    if name not in stages:
        raise ConfigError(f"unknown stage {name!r}; known stages: {', '.join(sorted(stages))}")
    return stages[name]


def extra_commands(only: str | None = None) -> list:
    """Click commands contributed through the `dataprep.commands` entry-point group."""
    cmds = []
    for ep in entry_points(group="dataprep.commands"):
        if only is not None and ep.name != only:
            continue
        try:
            cmds.append(ep.load())
        except Exception as e:  # noqa: BLE001
            _broken[ep.name] = f"{type(e).__name__}: {e}"
    return cmds
