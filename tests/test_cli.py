import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import click
from click.testing import CliRunner

from conftest import write_jsonl
from dataprep import __version__
from dataprep.cli import DataprepGroup, _add_stage_commands, cli, error_line
from dataprep.registry import all_stages

_add_stage_commands()


def invoke(*args):
    result = CliRunner().invoke(cli, list(map(str, args)))
    assert "Traceback" not in result.output
    return result


def test_help_lists_every_stage():
    out = invoke("--help").output
    for name in ["run", "inspect", *all_stages()]:
        assert f"  {name} " in out


@pytest.mark.parametrize("name", sorted(all_stages()))
def test_every_stage_has_help_with_examples_and_its_options(name):
    result = invoke(name, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output and "--input" in result.output and "--output" in result.output
    cls = all_stages()[name]
    for field in cls.Config.__dataclass_fields__:
        if field != cls.cli_input:
            assert "--" + field.replace("_", "-") in result.output


def test_version():
    assert invoke("--version").output.strip().endswith(__version__)
    out = subprocess.run([sys.executable, "-m", "dataprep", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout


def test_stage_subcommand_options_reach_the_config(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"key": "k1", "body": "x\r\ny"}, {"key": "k2", "body": "ＡＢ"}])
    r = invoke("ingest", "-i", tmp_path / "a.jsonl", "-o", tmp_path / "raw", "--text-field", "body",
               "--id-field", "key", "--promote", "key", "-q")
    assert r.exit_code == 0, r.output
    r = invoke("clean", "-i", tmp_path / "raw", "-o", tmp_path / "clean", "--normalization", "NFKC", "-q")
    assert r.exit_code == 0, r.output
    out = invoke("inspect", tmp_path / "clean", "-n", "2").output
    assert "rows: 2" in out and "k1: x\\ny" in out and "k2: AB" in out
    bad = invoke("clean", "-i", tmp_path / "raw", "-o", tmp_path / "c2", "--normalization", "NFD")
    assert bad.exit_code == 2 and "NFD" in bad.output


def test_inspect_shows_rejections_and_workdir_summary(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "text": "ok"}, {"id": "2", "text": ""}])
    (tmp_path / "cfg.yaml").write_text(f"workdir: {tmp_path / 'w'}\nstages:\n  - ingest: {{paths: ['{tmp_path / 'a.jsonl'}']}}\n  - clean: {{}}\n")
    r = invoke("run", tmp_path / "cfg.yaml", "-q")
    assert r.exit_code == 0, r.output
    assert "01-ingest" in r.output and "02-clean" in r.output
    detail = invoke("inspect", tmp_path / "w" / "01-ingest").output
    assert "ingest:empty_text" in detail and "columns: id:string, text:large_string" in detail
    summary = invoke("inspect", tmp_path / "w").output
    assert "01-ingest" in summary and "02-clean" in summary
    again = invoke("run", tmp_path / "cfg.yaml", "-q")
    assert again.output.count("cached") == 2


def test_missing_corpus_is_a_clear_error(tmp_path):
    r = invoke("clean", "-i", tmp_path / "nothing", "-o", tmp_path / "out")
    assert r.exit_code == 1 and "not a dataprep corpus" in r.output


def test_tokenizer_train_info_and_tokenize_errors(tmp_path):
    import json

    records = [{"id": f"d{i}", "text": f"第{i}篇文档：数据清洗 and cleaning number {i}.\n    indented code line"}
               for i in range(40)]
    write_jsonl(tmp_path / "in.jsonl", records)
    assert invoke("ingest", "-i", tmp_path / "in.jsonl", "-o", tmp_path / "raw", "--quiet").exit_code == 0
    r = invoke("tokenizer", "train", "-i", tmp_path / "raw", "-o", tmp_path / "tok", "--vocab-size", "400")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["eos_token"] == "<|endoftext|>"
    r = invoke("tokenizer", "info", tmp_path / "tok" / "tokenizer.json", "--text", "数据 cleaning")
    assert r.exit_code == 0 and json.loads(r.output)["ids"]
    r = invoke("tokenizer", "train", "-i", tmp_path / "nowhere", "-o", tmp_path / "tok2")
    assert r.exit_code != 0 and "not a corpus folder" in r.output
    r = invoke("tokenize", "-i", tmp_path / "raw", "-o", tmp_path / "out", "--tokenizer", tmp_path / "none.json")
    assert r.exit_code != 0 and "does not exist" in r.output
    r = invoke("tokenize", "-i", tmp_path / "raw", "-o", tmp_path / "out", "--tokenizer", tmp_path / "tok",
               "--add-bos", "--formats", "[megatron, hf]", "--quiet")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "megatron" / "train-00000.idx").exists()
    r = invoke("inspect", tmp_path / "out")
    assert r.exit_code == 0 and "tokens by shard" in r.output and "train-00000" in r.output


# --- errors: one line, the traceback only with --debug ----------------------------------------------


def dataprep(*args, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "DATAPREP_DEBUG"}
    return subprocess.run([sys.executable, "-m", "dataprep", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env={**environ, **env})


def error_of(result: subprocess.CompletedProcess) -> str:
    """The one line a failed command printed."""
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.fixture
def jsonl(tmp_path) -> Path:
    return write_jsonl(tmp_path / "in.jsonl", [{"id": str(i), "text": f"text {i}"} for i in range(5)])


# Output folders that cannot be made. Tests run as root, for whom a read-only mode (chmod 0o555)
# does not stop a write: these fail for root too (a path under a regular file: ENOTDIR; a new
# folder in /proc: ENOENT).
@pytest.mark.parametrize("case", ["missing corpus", "no input file", "missing config", "output under a file",
                                  "output in /proc"])
def test_user_errors_are_one_line(tmp_path, jsonl, case):
    (tmp_path / "blocker").write_text("a file")
    args, needle = {
        "missing corpus": (["clean", "-i", tmp_path / "nothing", "-o", tmp_path / "out"], "not a dataprep corpus"),
        "no input file": (["ingest", "-i", tmp_path / "none" / "*.jsonl", "-o", tmp_path / "out"], "no file matches"),
        "missing config": (["run", tmp_path / "none.yaml"], f"{tmp_path / 'none.yaml'}: config file not found"),
        "output under a file": (["ingest", "-i", jsonl, "-o", tmp_path / "blocker" / "out"],
                                f"{tmp_path / 'blocker'}"),
        "output in /proc": (["ingest", "-i", jsonl, "-o", "/proc/dataprep-test/out"], "/proc/dataprep-test"),
    }[case]
    if case == "output in /proc" and not Path("/proc/self").exists():
        pytest.skip("no /proc here")
    line = error_of(dataprep(*args))
    assert needle in line and "Traceback" not in line
    if case.startswith("output"):
        assert "cannot create folder" in line


def test_debug_option_and_variable_show_the_traceback(tmp_path):
    args = ["clean", "-i", tmp_path / "nothing", "-o", tmp_path / "out"]
    plain = error_of(dataprep(*args))
    for result in (dataprep("--debug", *args), dataprep(*args, DATAPREP_DEBUG="1")):
        assert result.returncode == 1
        assert result.stderr.startswith("Traceback (most recent call last):")
        assert "raise CorpusError" in result.stderr and result.stderr.splitlines()[-1] == plain


def _group_running(fn) -> click.Group:
    """A copy of the dataprep command group (same options, same error handling) with one command."""
    group = DataprepGroup("dataprep", params=list(cli.params), callback=cli.callback)
    group.command("act")(fn)
    return group


def test_os_errors_name_the_operation_and_the_path(tmp_path):
    (tmp_path / "blocker").write_text("a file")
    cases = [(lambda: (tmp_path / "blocker" / "sub").mkdir(), f"cannot create folder {tmp_path / 'blocker' / 'sub'}: "
                                                              "Not a directory"),
             (lambda: os.rename(tmp_path / "a", tmp_path / "b"), f"cannot access {tmp_path / 'a'} -> {tmp_path / 'b'}: "
                                                                 "No such file or directory"),
             (lambda: (tmp_path / "missing.txt").read_text(), f"cannot open {tmp_path / 'missing.txt'}: "
                                                              "No such file or directory")]
    for fn, expected in cases:
        result = CliRunner().invoke(_group_running(fn), ["act"])
        assert result.exit_code == 1 and result.output == f"Error: {expected}\n"


def test_unexpected_errors_are_one_line_too_and_debug_shows_them():
    result = CliRunner().invoke(_group_running(lambda: 1 / 0), ["act"])
    assert result.exit_code == 1
    assert result.output == ("Error: ZeroDivisionError: division by zero "
                             "(unexpected; rerun with --debug and report the traceback)\n")
    result = CliRunner().invoke(_group_running(lambda: 1 / 0), ["--debug", "act"])
    assert result.exit_code == 1 and "Traceback (most recent call last)" in result.output and "1 / 0" in result.output


def test_keyboard_interrupt_is_one_line_and_exit_130():
    def interrupted():
        raise KeyboardInterrupt

    result = CliRunner().invoke(_group_running(interrupted), ["act"])
    assert result.exit_code == 130 and result.output == "interrupted; rerun the same command to resume\n"


def _mkdir(path: str) -> None:
    Path(path).mkdir()


def test_os_error_raised_in_a_worker_keeps_its_path_and_operation(tmp_path):
    from dataprep.executor import LocalExecutor

    (tmp_path / "blocker").write_text("a file")
    target = tmp_path / "blocker" / "sub"
    with pytest.raises(NotADirectoryError) as info:
        with LocalExecutor(2) as ex:
            ex.map(_mkdir, [str(target), str(target)])
    assert error_line(info.value) == f"cannot create folder {target}: Not a directory"


def _die(_: int) -> None:
    os._exit(1)  # as the out-of-memory killer would end it


def test_a_worker_that_dies_is_one_line():
    from concurrent.futures.process import BrokenProcessPool

    from dataprep.executor import LocalExecutor

    with pytest.raises(BrokenProcessPool) as info:
        with LocalExecutor(2) as ex:
            ex.map(_die, [1, 2])
    assert error_line(info.value) == ("a worker process died (killed by the system, out of memory?); "
                                      "rerun the same command to resume")


PLUGIN = """
from pathlib import Path

from dataprep.registry import register
from dataprep.stages.clean import CleanStage


@register
class BlockedStage(CleanStage):
    \"\"\"clean, but one task tries to make a folder under a regular file.\"\"\"

    name = "blocked"

    def run_task(self, task, state, out):
        if not task.key.endswith("2"):  # one task fails, so which error comes first is not a race
            return super().run_task(task, state, out)
        (Path(BLOCKER) / task.key).mkdir()
"""


def test_errors_raised_in_workers_are_one_line(tmp_path, jsonl):
    (tmp_path / "blocker").write_text("a file")
    (tmp_path / "blocked_stage.py").write_text(f"BLOCKER = {str(tmp_path / 'blocker')!r}\n" + PLUGIN)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"workdir: {tmp_path / 'w'}\nplugins: [blocked_stage]\nstages:\n"
                   f"  - ingest: {{paths: ['{jsonl}'], shard_rows: 1}}\n  - blocked: {{}}\n")
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    line = error_of(dataprep("run", cfg, "--workers", "2", "-q", PYTHONPATH=path))
    assert line.startswith(f"Error: cannot create folder {tmp_path / 'blocker'}/part-")
    assert line.endswith(": Not a directory")
    debug = dataprep("--debug", "run", cfg, "--workers", "2", "-q", PYTHONPATH=path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    assert "in run_task" in debug.stderr  # the worker's frames
    assert debug.stderr.splitlines()[-1] == line


@pytest.mark.parametrize("args, starts", [(["--debug", "run", "c.yaml"], True), (["--debug", "inspect", "x"], False),
                                          (["--debug"], False)])
def test_global_options_before_the_command_still_start_the_fork_server_early(args, starts):
    from dataprep.__main__ import _runs_workers

    assert _runs_workers(args)[0] is starts


def test_list_options_take_repeats_or_a_yaml_list(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "text": "hello there", "url": "u", "source": "s", "x": 1}])
    for i, args in enumerate((["--promote", "url", "--promote", "source"], ["--promote", "[url, source]"])):
        r = invoke("ingest", "-i", tmp_path / "a.jsonl", "-o", tmp_path / f"raw{i}", *args, "-q")
        assert r.exit_code == 0, r.output
        manifest = json.loads((tmp_path / f"raw{i}" / "manifest.json").read_text())
        assert manifest["config"]["promote"] == ["url", "source"]
        assert {"url", "source"} <= {c["name"] for c in manifest["schema"]}
