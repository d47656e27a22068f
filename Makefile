# Flux packages. `make run` starts everything; `make test` checks everything.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
PYTEST_ARGS ?=

.PHONY: run test install lint stress clean bench bench-quick

$(VENV)/.installed: requirements-dev.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "uv==0.13.9"
	UV_PYTHON_DOWNLOADS=never $(UV) pip sync -q --python $(PY) requirements-dev.lock
	touch $@

install: $(VENV)/.installed

run: install
	DJANGO_DEBUG=1 $(PY) -m flux.devservers run

test: install
	FLUX_TESTING=1 $(PY) -m flux.devservers exec sh -c '\
	  $(PY) -m pytest --durations=15 $(PYTEST_ARGS) && \
	  $(PY) manage.py makemigrations --check --dry-run && \
	  $(VENV)/bin/ruff check . && \
	  $(VENV)/bin/mypy .'

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/mypy .

stress: install
	FLUX_TESTING=1 FLUX_STRESS=1 $(PY) -m flux.devservers exec $(PY) -m pytest -m "slow or not slow" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var

bench: install
	$(PY) -m bench.run

bench-quick: install
	$(PY) -m bench.run --quick
