# The two commands a new user types: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench lint locales install dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(BIN)/quanxue demo

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

# Re-extract interface strings and merge them into the three catalogs (translate the new entries afterwards).
locales: $(VENV)/.installed-dev
	$(BIN)/pybabel extract --no-location -k _ -k __ -k lazy_gettext -k t -k gettext -o locales/messages.pot bot handlers scheduler.py
	$(BIN)/pybabel update --no-fuzzy-matching -d locales -D messages -i locales/messages.pot

clean:
	rm -rf $(VENV) quanxue.db quanxue.db-wal quanxue.db-shm
