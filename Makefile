# make demo : install into .venv, run the sample pipeline (configs/sample.yaml), show the result
# make test : install into .venv with the test extras (and Ray), run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-mds install install-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml setup.py dataprep/_kernels.c | $(BIN)/python
	$(BIN)/pip install -q -e '.[report]'
	touch $@

# The tests read Megatron files back with megatron-core, which needs PyTorch: the CPU build
# (torch==2.13.0) is installed first so that megatron-core does not pull a CUDA build.
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test,ray]'
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q megatron-core
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/dataprep run configs/sample.yaml
	$(BIN)/dataprep inspect work/sample

test: install-test
	$(BIN)/python -m pytest -q

# MosaicML Streaming pins numpy<2.2 and pulls torch 2.14 with torchvision, which does not fit the
# main test venv: the MDS writer is checked in a venv of its own (several GB; not part of `make test`).
test-mds:
	$(PYTHON) -m venv .venv-mds
	.venv-mds/bin/pip install -q -e '.[test]' mosaicml-streaming
	.venv-mds/bin/python -m pytest -q -p no:cacheprovider tests/test_tokenize.py -k mds

bench: install-test
	$(BIN)/python benchmarks/bench_ingest.py

clean:
	rm -rf work bench_out .pytest_cache
