# One runner for developers and CI. `make demo` and `make test` set everything up themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps

.PHONY: setup demo test test-fast lint typecheck protos protos-check clean

setup: $(STAMPS)/system $(STAMPS)/venv

$(STAMPS)/system: tools/setup-system.sh
	bash tools/setup-system.sh
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/venv: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@mkdir -p $(STAMPS) && touch $@

demo: setup
	$(PY) -m clients.cli demo --output demo-output

test: setup protos-check
	$(PY) -m pytest -n 2 -q

test-fast: setup
	$(PY) -m pytest -q -x -m "not postgres and not pcsc"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(PY) -m mypy server hardware_sim clients tests

protos: setup
	$(PY) tools/gen_protos.py

protos-check: setup
	$(PY) tools/gen_protos.py --check

clean:
	rm -rf $(STAMPS) demo-output var .pytest_cache .mypy_cache
