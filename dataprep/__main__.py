"""Entry point of ``dataprep`` and ``python -m dataprep``.

A command that runs stages starts the workers' fork server first (``executor.start_forkserver``):
it imports the engine and the stages in the background while this process loads the CLI, which
takes about 0.3 s off every run. Help, ``inspect`` and one-worker runs skip it.

Ctrl-C, SIGTERM and SIGHUP stop a run with one line and exit status 128 + the signal's number
(``executor.stop_on_signals``; the CLI prints the line once the workers are stopped).
"""

import gc
import signal
import sys

GLOBAL_FLAGS = {"--debug"}


def _runs_workers(args: list[str]) -> tuple[bool, list[str] | None]:
    """(whether the command starts workers, the stage modules they need: None for all)."""
    while args and args[0] in GLOBAL_FLAGS:
        args = args[1:]
    if not args or {"-h", "--help"} & set(args) or "--workers=1" in args:
        return False, None
    if any(a == "--workers" and b == "1" for a, b in zip(args, args[1:])):
        return False, None
    if "--executor=ray" in args or any(a == "--executor" and b == "ray" for a, b in zip(args, args[1:])):
        return False, None  # Ray starts its own workers
    if args[0] == "run":
        return True, None
    from importlib.metadata import entry_points

    modules = [ep.module for ep in entry_points(group="dataprep.stages") if ep.name == args[0]]
    return bool(modules), modules[:1] or None


def main() -> None:
    from dataprep.executor import interrupted_message, start_forkserver, stop_on_signals

    stop_on_signals()
    try:
        runs, modules = _runs_workers(sys.argv[1:])
        if runs:
            start_forkserver(modules)
        from dataprep.cli import main as cli_main

        # the modules loaded so far stay for the whole command: the full collections after each
        # global pass and stage (executor.release_memory) then skip their objects
        gc.collect()
        gc.freeze()
        cli_main()
    except KeyboardInterrupt as e:  # while starting up; inside a command the CLI prints it
        signum = getattr(e, "signum", signal.SIGINT)
        print(interrupted_message(signum), file=sys.stderr)
        sys.exit(128 + signum)


if __name__ == "__main__":
    main()
