"""Entry point of ``dataprep`` and ``python -m dataprep``.

A command that runs stages starts the workers' fork server first (``executor.start_forkserver``):
it imports the engine and the stages in the background while this process loads the CLI, which
takes about 0.3 s off every run. Help, ``inspect`` and one-worker runs skip it.
"""

import sys


def _runs_workers(args: list[str]) -> bool:
    if not args or {"-h", "--help"} & set(args) or "--workers=1" in args:
        return False
    if any(a == "--workers" and b == "1" for a, b in zip(args, args[1:])):
        return False
    if args[0] == "run":
        return True
    from importlib.metadata import entry_points

    return args[0] in {ep.name for ep in entry_points(group="dataprep.stages")}


def main() -> None:
    if _runs_workers(sys.argv[1:]):
        from dataprep.executor import start_forkserver

        start_forkserver()
    from dataprep.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
