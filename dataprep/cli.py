"""The ``dataprep`` command: ``run`` for YAML pipelines, one subcommand per stage, ``inspect``.

Stage subcommands and their options are generated from each stage's config dataclass, the same
schema the YAML uses, so the two can never disagree.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import traceback
import types
import typing
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Literal, Union

import click

from dataprep import __version__
from dataprep.config import ConfigError, field_help, parse
from dataprep.corpus import MANIFEST, Corpus, CorpusError, read_parquet
from dataprep.executor import WorkerImportError, WorkerLost, interrupted_message
from dataprep.storage import RemoteWorkdir, StorageError, is_remote, upload
from dataprep.stage import AccountingError, StageError

USER_ERRORS = (ConfigError, CorpusError, StageError, AccountingError, WorkerImportError, StorageError)

# What failed, from the innermost function of an OSError's traceback that names one (errors that
# name the operation themselves, such as the corpus writers' OutputError, are user errors above).
_OPERATIONS = {"mkdir": "create folder", "makedirs": "create folder", "open": "open", "touch": "create",
               "read_text": "read", "read_bytes": "read", "write_text": "write", "write_bytes": "write",
               "rename": "rename", "replace": "rename", "unlink": "remove", "rmdir": "remove", "rmtree": "remove",
               "iterdir": "list", "scandir": "list", "listdir": "list", "glob": "list", "stat": "read"}


def _functions(e: BaseException) -> list[str]:
    """Names of the functions an exception passed through, outermost first; for an error raised
    in a worker, the worker's frames (sent back as text) come last."""
    names = []
    tb = e.__traceback__
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    remote = getattr(e.__cause__, "tb", None)  # concurrent.futures' _RemoteTraceback
    if isinstance(remote, str):
        names += [line.rsplit(" in ", 1)[1] for line in remote.splitlines()
                  if line.lstrip().startswith("File ") and " in " in line]
    return names


def _os_error_line(e: OSError) -> str:
    if not e.filename:
        return str(e.strerror or e)
    what = next((_OPERATIONS[n] for n in reversed(_functions(e)) if n in _OPERATIONS), "access")
    target = f"{e.filename} -> {e.filename2}" if e.filename2 else str(e.filename)
    return f"cannot {what} {target}: {e.strerror or e}"


def error_line(e: BaseException) -> str:
    """The one line a user sees for an error (``--debug`` adds the traceback)."""
    if isinstance(e, USER_ERRORS):
        text = f"{type(e).__name__}: {e}"
    elif isinstance(e, WorkerLost):
        text = str(e)
    elif isinstance(e, BrokenProcessPool):
        text = "a worker process died (killed by the system, out of memory?); rerun the same command to resume"
    elif isinstance(e, OSError):
        text = _os_error_line(e)
    else:
        text = f"{type(e).__name__}: {e} (unexpected; rerun with --debug and report the traceback)"
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


class Stopped(click.ClickException):
    """A run ended by a signal (Ctrl-C, SIGTERM, SIGHUP): one line, exit status 128 + signal."""

    def __init__(self, signum: int):
        super().__init__(interrupted_message(signum))
        self.exit_code = 128 + signum

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


def debug_requested(ctx: click.Context) -> bool:
    return bool(ctx.params.get("debug")) or os.environ.get("DATAPREP_DEBUG", "") not in ("", "0")


class DataprepGroup(click.Group):
    """Turns every error into a one-line message instead of a traceback (``--debug`` shows it)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt as e:  # Ctrl-C, or dataprep.executor.Interrupted (SIGTERM, SIGHUP)
            if debug_requested(ctx):
                traceback.print_exc()
            raise Stopped(getattr(e, "signum", signal.SIGINT)) from None
        except Exception as e:  # noqa: BLE001 - the one place where errors become messages
            if debug_requested(ctx):
                traceback.print_exc()
            raise click.ClickException(error_line(e)) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(super().list_commands(ctx), key=lambda n: (n not in ("run", "inspect", "report"), n))


@click.group(cls=DataprepGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="dataprep")
@click.option("--debug", is_flag=True,
              help="Show the full traceback of an error, for bug reports (or set DATAPREP_DEBUG=1).")
def cli(debug: bool) -> None:
    """Turn raw text into LLM pretraining data.

    Run a whole YAML pipeline with `dataprep run CONFIG.yaml`, or one stage at a time with its
    subcommand (`dataprep STAGE --input ... --output DIR`). Every stage writes a corpus folder:
    Parquet shards, manifest.json, and _rejected/ with the reason for every dropped document.

    An error is one line; `dataprep --debug ...` shows its traceback. Ctrl-C stops a run (exit
    status 130); rerunning the same command resumes it.

    \b
    Examples:
      dataprep run configs/sample.yaml --workdir work/sample
      dataprep ingest --input 'data/*.jsonl.gz' --output work/raw
      dataprep clean --input work/raw --output work/clean --normalization NFKC
      dataprep inspect work/sample/02-clean
    """


def _summary(runs: list) -> str:
    lines = [f"{'stage':<16}{'rows in':>12}{'kept':>12}{'rejected':>12}{'time s':>9}  status"]
    for r in runs:
        m = r.manifest
        status = "cached" if r.skipped else (f"ran {r.tasks_run}/{m.get('tasks', 0)} tasks")
        if m.get("rows_added"):  # deliberate copies (rebalance's repeats) are part of `kept`
            status += f", kept includes {m['rows_added']:,} copies"
        lines.append(f"{r.out_dir.name:<16}{m.get('rows_in', 0):>12,}{m.get('rows_kept', 0):>12,}"
                     f"{m.get('rows_rejected', 0):>12,}{m.get('wall_time_s', 0):>9.1f}  {status}")
    return "\n".join(lines)


@cli.command("run")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--workdir", type=click.Path(file_okay=False), help="Output folder (overrides `workdir:` in the YAML).")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes (default: the YAML's, else CPU count).")
@click.option("--executor", type=click.Choice(["local", "ray"]), help="Where tasks run (overrides `executor:` in the YAML).")
@click.option("--ray-address", metavar="ADDRESS", help="With --executor ray: `auto` or ray://HOST:PORT (default: start Ray here).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@click.option("--no-report", is_flag=True, help="Do not write WORKDIR/report.html and report.md at the end.")
def run_cmd(config: str, workdir: str | None, workers: int | None, executor: str | None, ray_address: str | None,
            quiet: bool, no_report: bool) -> None:
    """Run the stages of a YAML pipeline in order, each into WORKDIR/NN-stage/.

    Reruns skip stages and shards already complete for the same input and config; a changed
    config reruns that stage and the ones after it. All options are checked before work starts.
    At the end, WORKDIR/report.html and report.md sum the run up (see `dataprep report`).

    \b
    Example:
      dataprep run configs/sample.yaml --workdir work/sample --workers 2
      dataprep run configs/sample.yaml --executor ray --ray-address auto
    """
    from dataprep.runner import load_pipeline, run_pipeline

    pipe, stages = load_pipeline(config)
    runs = run_pipeline(pipe, stages, workdir=workdir, workers=workers, quiet=quiet,
                        executor=_executor_choice(pipe.executor, executor, ray_address))
    click.echo(_summary(runs))
    where = str(workdir or pipe.workdir)
    if is_remote(where):
        click.echo(f"output: {where.rstrip('/')}/{runs[-1].out_dir.name} (local mirror: {runs[-1].out_dir})")
    else:
        click.echo(f"output: {runs[-1].out_dir}")
    if not no_report:
        _report_after_run(where, stages, quiet)


def _executor_choice(configured: Any, executor: str | None, ray_address: str | None) -> Any:
    """The executor the command-line options ask for, over the YAML's (None: the YAML's)."""
    from dataprep.executor import ExecutorConfig

    if executor is None and ray_address is None:
        return None
    cfg = configured if isinstance(configured, ExecutorConfig) else ExecutorConfig(type=configured or "local")
    if executor is not None and executor != cfg.type:
        cfg = ExecutorConfig(type=executor)  # type: ignore[arg-type]
    if ray_address is not None:
        if cfg.type != "ray":
            raise click.UsageError("--ray-address goes with --executor ray")
        cfg = dataclasses.replace(cfg, address=ray_address)
    return cfg


def _report_after_run(where: str, stages: list, quiet: bool) -> None:
    """The run's report; the data is complete whatever happens here, so a report that cannot be
    written is one line on stderr, not a failed run. For a workdir on object storage it is made in
    the local mirror and uploaded next to the stage folders."""
    from dataprep.report import ReportError, plan_of, write_report

    remote = RemoteWorkdir(where) if is_remote(where) else None
    root = remote.local if remote is not None else Path(where)
    try:
        path = write_report(root, planned=plan_of(stages), quiet=quiet)
        if remote is not None:
            for name in ("report.html", "report.md"):
                if (root / name).exists():
                    upload(root / name, remote.remote(name))
            path = remote.remote("report.html")
    except ReportError as e:
        click.echo(f"report skipped: {e}", err=True)
    except Exception as e:  # noqa: BLE001 - see the docstring
        if debug_requested(click.get_current_context().find_root()):
            traceback.print_exc()
        click.echo(f"report not written: {error_line(e)}; `dataprep report {root}` retries it", err=True)
    else:
        click.echo(f"report: {path}")


@cli.command("report")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("-c", "--config", type=click.Path(dir_okay=False),
              help="The pipeline's YAML: lists the stages not yet run, and marks stages run with another config.")
@click.option("-o", "--output", type=click.Path(file_okay=False),
              help="Folder for report.html and report.md [default: PATH].")
@click.option("-n", "--samples", default=3, show_default=True, type=click.IntRange(min=0),
              help="Sample documents to show per removal reason.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def report_cmd(path: str, config: str | None, output: str | None, samples: int, quiet: bool) -> None:
    """Write PATH/report.html and PATH/report.md for a workdir, a partial one, or one stage's folder.

    The HTML page is self-contained (plots inline, nothing loaded from anywhere): the funnel of
    documents, characters and tokens per stage with the reasons for every removal, the language
    and domain mix against the rebalancing targets, quality score histograms, dedup clusters,
    tokens per shard, split and bucket, time per stage, sample documents for every removal
    reason, and every stage's config. Needs matplotlib: pip install 'dataprep[report]'.

    \b
    Examples:
      dataprep report work/sample
      dataprep report work/sample --config configs/sample.yaml   # also lists stages not yet run
      dataprep report work/sample/09-quality -o /tmp/quality-report
    """
    from dataprep.report import ReportError, plan_of, write_report
    from dataprep.runner import load_pipeline

    planned = plan_of(load_pipeline(config)[1]) if config else None
    try:
        html = write_report(path, out_dir=output, planned=planned, samples=samples, quiet=quiet)
    except ReportError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"report: {html}")
    click.echo(f"summary: {html.with_name('report.md')}")


@cli.command("inspect")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("-n", "--rows", "n", default=3, show_default=True, help="Sample rows to show.")
@click.option("--width", default=100, show_default=True, help="Characters of text to show per row.")
def inspect_cmd(path: str, n: int, width: int) -> None:
    """Show a corpus folder (rows, columns, sample rows, rejection reasons) or a pipeline workdir.

    \b
    Examples:
      dataprep inspect work/sample            # one line per stage
      dataprep inspect work/sample/03-dedup   # one corpus in detail
    """
    root = Path(path)
    if not (root / MANIFEST).exists():
        stage_dirs = sorted(p for p in root.iterdir() if (p / MANIFEST).exists())
        if not stage_dirs:
            raise CorpusError(f"{root}: neither a corpus folder nor a workdir with finished stages")
        from dataprep.runner import StageRun

        runs = [StageRun(p.name, p, json.loads((p / MANIFEST).read_text()), skipped=True) for p in stage_dirs]
        click.echo(_summary(runs).replace("cached", "done"))
        return
    corpus = Corpus.open(root)
    m = corpus.manifest
    click.echo(f"corpus: {root}  (stage {m.get('stage')}, {len(m.get('shards', []))} shards)")
    click.echo(f"rows: {m.get('rows', 0):,}   in: {m.get('rows_in', 0):,}   rejected: {m.get('rows_rejected', 0):,}"
               f"   chars in/out: {m.get('chars_in', 0):,} / {m.get('chars_out', 0):,}")
    click.echo("columns: " + ", ".join(f"{c['name']}:{c['type']}" for c in m.get("schema", [])))
    if corpus.shard_paths and n > 0:
        click.echo("sample rows:")
        shown = 0
        for p in corpus.shard_paths:
            for row in read_parquet(p).slice(0, n - shown).to_pylist():
                text = str(row.pop("text", "")).replace("\n", "\\n")
                text = text[:width] + ("…" if len(text) > width else "")
                click.echo(f"  {row.pop('id', '?')}: {text}")
                extra = {k: v for k, v in row.items() if v is not None}
                if extra:
                    click.echo("    " + json.dumps(extra, ensure_ascii=False, default=str)[:width * 2])
                shown += 1
            if shown >= n:
                break
    reasons = m.get("reasons", {})
    if reasons:
        click.echo("rejected by reason:")
        for reason, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            click.echo(f"  {reason:<40}{count:>10,}")
    counters = m.get("counters", {})
    if counters:
        click.echo("counters:")
        for k, v in counters.items():
            click.echo(f"  {k:<40}{v:>10,}")
    quality = m.get("quality")
    if quality:
        click.echo(f"quality (preset {quality.get('preset')}): score histogram per language, bins of 0.1 from 0 to 1:")
        for lang, hist in quality.get("histogram", {}).items():
            click.echo(f"  {lang:<8}" + "".join(f"{x:>7,}" for x in hist))
        if quality.get("cuts"):
            click.echo("cut lines and sentences by rule:")
            for rule, c in sorted(quality["cuts"].items(), key=lambda kv: -kv[1].get("chars", 0)):
                click.echo(f"  {rule:<40}{c.get('units', 0):>10,} units{c.get('chars', 0):>12,} chars")
        violated = {k: v for k, v in quality.get("violations", {}).items() if v}
        if violated:
            click.echo("documents violating each rule (whether or not it was their reason):")
            for rule, count in sorted(violated.items(), key=lambda kv: (-kv[1], kv[0])):
                click.echo(f"  {rule:<40}{count:>10,}")
    tok = m.get("tokenize")
    if tok:  # training files rather than Parquet shards
        t = tok["tokenizer"]
        click.echo(f"tokenizer: {t['path']} ({t['kind']}, {t['vocab_size']:,} ids, sha256 {t['sha256'][:12]}), "
                   f"dtype {tok['dtype']}, bos {tok['bos_id']}, eos {tok['eos_id']}")
        click.echo(f"formats: {', '.join(tok['formats'])}")
        click.echo("tokens by shard:")
        for k, v in tok["tokens_by_shard"].items():
            click.echo(f"  {k:<40}{v:>10,}")
        if tok.get("tokens_by_lang"):
            click.echo("tokens by language: " + ", ".join(f"{k} {v:,}" for k, v in tok["tokens_by_lang"].items()))


# --- stage subcommands, generated from the config dataclasses -----------------------------------


def _click_option(name: str, tp: Any, help_text: str, default: Any) -> click.Option:
    flag = "--" + name.replace("_", "-")
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            tp, origin, args = rest[0], typing.get_origin(rest[0]), typing.get_args(rest[0])
    shown = "" if default is dataclasses.MISSING else f" [default: {json.dumps(default, ensure_ascii=False, default=str)}]"
    help_text = (help_text or "") + shown
    if tp is bool:
        return click.Option([f"{flag}/--no-{flag[2:]}"], default=None, help=help_text)
    if origin is Literal:
        return click.Option([flag], type=click.Choice([str(a) for a in args]), default=None, help=help_text)
    if origin is list and args and args[0] in (str, int, float):
        return click.Option([flag], type=args[0], multiple=True, help=help_text + " (repeatable)")
    if tp in (int, float, str):
        return click.Option([flag], type=tp, default=None, help=help_text)
    return click.Option([flag], default=None, metavar="YAML", help=help_text + " (YAML/JSON value)")


def _is_text(tp: Any) -> bool:
    """Options whose command-line value is taken as given (strings, optional strings, choices);
    the rest (numbers aside, which click converts) are read as YAML."""
    if tp is str or typing.get_origin(tp) is Literal:
        return True
    if typing.get_origin(tp) in (Union, types.UnionType):
        return all(a is type(None) or _is_text(a) for a in typing.get_args(tp))
    return False


def open_corpus(path: str) -> Corpus:
    """A corpus folder, local or on object storage (its manifest and shards copied into the cache)."""
    if not is_remote(path):
        return Corpus.open(path)
    parent, _, folder = path.rstrip("/").rpartition("/")
    remote = RemoteWorkdir(parent)
    manifest = remote.manifest(folder)
    if manifest is None:
        raise CorpusError(f"{path}: not a dataprep corpus (no manifest.json there)")
    remote.pull(folder, only=["manifest.json", *[s["file"] for s in manifest.get("shards", [])]])
    return Corpus.open(remote.local / folder)


def _stage_command(name: str, cls: type) -> click.Command:
    fields = field_help(cls.Config)

    def callback(input: tuple[str, ...] | str, output: str, workers: int | None, executor: str | None,
                 ray_address: str | None, quiet: bool, **opts: Any) -> None:
        import yaml

        if isinstance(input, str):
            input = (input,)
        from dataprep.executor import make_executor
        from dataprep.runner import run_remote_stage, run_stage

        values: dict[str, Any] = {}
        for key, value in opts.items():
            if value is None or value == ():
                continue
            tp = fields[key][0]
            if isinstance(value, str) and not _is_text(tp):
                value = yaml.safe_load(value)
                if typing.get_origin(tp) is list and isinstance(value, (str, int, float)):
                    value = [value]  # `--formats hf` as well as `--formats '[hf, megatron]'`
            if isinstance(value, tuple) and len(value) == 1 and value[0].strip().startswith("["):
                value = yaml.safe_load(value[0])  # a repeatable option given as a YAML list: --promote '[url, source]'
            values[key] = list(value) if isinstance(value, tuple) else value
        if cls.cli_input:
            values[cls.cli_input] = list(input)
            source = None
        else:
            source = open_corpus(input[0])
        stage = cls(parse(cls.Config, values, name))
        with make_executor(_executor_choice("local", executor, ray_address) or "local", workers) as ex:
            if is_remote(output):
                parent, _, folder = output.rstrip("/").rpartition("/")
                remote = RemoteWorkdir(parent)
                run = run_remote_stage(remote, stage, source, remote.local / folder, ex, quiet=quiet, label=name)
            else:
                run = run_stage(stage, source, output, ex, quiet=quiet, label=name)
        click.echo(_summary([run]))

    params: list[click.Parameter] = [
        click.Option(["-i", "--input"], multiple=bool(cls.cli_input), required=True,
                     help="Input files or glob patterns (repeatable)." if cls.cli_input else "Input corpus folder."),
        click.Option(["-o", "--output"], required=True, type=click.Path(file_okay=False), help="Output corpus folder."),
        click.Option(["--workers"], type=click.IntRange(min=1), default=None, help="Worker processes (default: CPU count)."),
        click.Option(["--executor"], type=click.Choice(["local", "ray"]), default=None,
                     help="Where tasks run: local processes (default) or Ray."),
        click.Option(["--ray-address"], metavar="ADDRESS", default=None,
                     help="With --executor ray: `auto` or ray://HOST:PORT (default: start Ray here)."),
        click.Option(["-q", "--quiet"], is_flag=True, help="No progress bars."),
    ]
    for fname, (tp, help_text, default) in fields.items():
        if fname == cls.cli_input:
            continue
        params.append(_click_option(fname, tp, help_text, default))
    doc = (cls.help or cls.__doc__ or name).strip()
    return click.Command(name, callback=lambda **kw: callback(**kw), params=params, help=doc,
                         short_help=doc.splitlines()[0])


def _add_stage_commands(only: str | None = None) -> None:
    """Add the installed stages' and commands' subcommands; ``only``: just the one of that name
    (a command that runs one stage does not import the others; help lists them all)."""
    from dataprep.registry import all_stages, extra_commands

    for name, cls in all_stages(only).items():
        if name not in cli.commands:
            cli.add_command(_stage_command(name, cls))
    for cmd in extra_commands(only):
        cli.add_command(cmd)


def _invoked(args: list[str]) -> str | None:
    """The subcommand a command line names, when it is an installed stage or command."""
    from importlib.metadata import entry_points

    while args and args[0] in ("--debug",):
        args = args[1:]
    if not args or args[0].startswith("-"):
        return None
    names = {ep.name for group in ("dataprep.stages", "dataprep.commands") for ep in entry_points(group=group)}
    return args[0] if args[0] in names else None


def main() -> None:
    _add_stage_commands(_invoked(sys.argv[1:]) or None)
    cli(prog_name="dataprep")


if __name__ == "__main__":
    main()
    sys.exit(0)
