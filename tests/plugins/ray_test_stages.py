"""A stage used only by the Ray tests: dedup, but the first task to start kills its own worker
process (SIGKILL, as the out-of-memory killer or a lost node would) before it writes anything."""

import os
import signal
from dataclasses import dataclass

from dataprep.config import option
from dataprep.registry import register
from dataprep.stages.dedup import DedupConfig, DedupStage


@dataclass
class DyingDedupConfig(DedupConfig):
    die_marker: str = option("", help="File made by the task that kills its worker; its existence stops later kills.")


@register
class DyingDedupStage(DedupStage):
    """dedup, with one worker killed mid-stage."""

    name = "dying_dedup"
    Config = DyingDedupConfig

    def run_task(self, task, state, out):
        try:
            os.close(os.open(self.config.die_marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return super().run_task(task, state, out)
        os.kill(os.getpid(), signal.SIGKILL)
