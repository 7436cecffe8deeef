"""Stages used only by the engine tests: a slow copy of clean (to kill a run mid-stage) and a
stage that loses rows (to show the runner refuses it)."""

import time
from dataclasses import dataclass

from dataprep.config import option
from dataprep.registry import register
from dataprep.stage import Stage
from dataprep.stages.clean import CleanConfig, CleanStage


@dataclass
class SlowCleanConfig(CleanConfig):
    delay: float = option(0.3, help="Seconds to sleep per task.")


@register
class SlowCleanStage(CleanStage):
    """clean, but slow."""

    name = "slowclean"
    Config = SlowCleanConfig

    def run_task(self, task, state, out):
        time.sleep(self.config.delay)
        super().run_task(task, state, out)


@dataclass
class LossyConfig:
    pass


@register
class LossyStage(Stage):
    """Drops the first row of every shard without rejecting it."""

    name = "lossy"
    Config = LossyConfig

    def apply(self, table, state):
        return table.slice(1), table.slice(0, 0)
