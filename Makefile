# Two commands: `make book` builds the whole book; `make test` runs the whole test suite.
# Both create .venv and install the pinned dependencies (requirements.txt) when missing or changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test check-claims lint bench clean data

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (lmalign)" >/dev/null
	@touch $(STAMP)

book: $(STAMP)
	$(BIN)/python -m lmalign build

test: $(STAMP)
	$(BIN)/python -m pytest

check-claims: $(STAMP)
	$(BIN)/python -m lmalign claims

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_exact.py

clean:
	rm -rf _build
