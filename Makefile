# One runner for developers and CI. `make demo` and `make test` set everything up themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps

.PHONY: setup demo test test-fast fuzz-long test-hil pcscd lint typecheck protos protos-check clean bench

setup: $(STAMPS)/system $(STAMPS)/venv

$(STAMPS)/system: tools/setup-system.sh
	bash tools/setup-system.sh
	@mkdir -p $(STAMPS) && touch $@

# pyscard builds from source against swig + libpcsclite-dev, hence the system stamp first.
$(STAMPS)/venv: pyproject.toml $(STAMPS)/system
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,pcsc]"
	@mkdir -p $(STAMPS) && touch $@

# The benchmark harness and Locust need the load and bench extras (Locust, psutil, ReportLab,
# py-spy, Splink), which `make setup` leaves out; they get a stamp of their own.
$(STAMPS)/bench: pyproject.toml $(STAMPS)/venv
	$(PY) -m pip install -q -e ".[dev,pcsc,load,bench]"
	@mkdir -p $(STAMPS) && touch $@

# Every figure into bench/results.json and a table; BENCH_ARGS passes options (python -m bench -h).
bench: $(STAMPS)/bench
	$(PY) -m bench $(BENCH_ARGS)

# pcscd with the vpcd virtual reader, for the hardware-in-the-loop tests. The leading '-'
# lets a laptop without pcscd (or root) run the suite: those tests then skip with a reason.
pcscd: setup
	-PYTHON=$(PY) bash tools/start-pcscd.sh

demo: setup
	$(PY) -m clients.cli demo --output demo-output

test: setup protos-check pcscd
	$(PY) -m pytest -n 2 -q

test-hil: setup pcscd
	$(PY) -m pytest -q -m pcsc tests/hil

fuzz-long: setup
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-5000} $(PY) -m pytest -q tests/fuzz -m "not postgres"

test-fast: setup
	$(PY) -m pytest -q -x -m "not postgres and not pcsc"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# bench/ and load/ are checked too, against the extras they import (Locust, ReportLab).
typecheck: setup $(STAMPS)/bench
	$(PY) -m mypy server hardware_sim clients tests bench load

protos: setup
	$(PY) tools/gen_protos.py

protos-check: setup
	$(PY) tools/gen_protos.py --check

clean:
	rm -rf $(STAMPS) demo-output var .pytest_cache .mypy_cache
