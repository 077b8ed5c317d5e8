# Two commands: `make book` builds the whole book; `make test` runs the whole test suite.
# Both create .venv and install the pinned dependencies (requirements.txt) when missing or changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book book-clean test test-slow test-all typecheck sweep check-claims lint format bench data pdf clean

# Reinstalled only when requirements.txt or pyproject.toml changed (the stamp is older than them).
$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
	  "Python 3.11 or newer is needed; run make PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (lmalign)" >/dev/null
	@touch $(STAMP)

# Execute changed chapters (papermill), regenerate figures and the report, render the HTML book.
book: $(STAMP)
	$(BIN)/python -m lmalign build

# The same from an empty output folder: every chapter executed, the HTML rendered from scratch (as CI does).
book-clean: $(STAMP)
	rm -rf _build
	$(BIN)/python -m lmalign build --clean

# The whole book as one PDF (_build/pdf/book.pdf) from the HTML of the last `make book`: needs Debian's chromium,
# chromium-driver and poppler-utils.
pdf: $(STAMP)
	$(BIN)/python -m lmalign.book.pdf

# The fast tier (the maintainer's loop, under 3 minutes on a quiet machine): the library, the command line and one
# quick build of the whole book shared by the chapter, claim, browser and PDF tests. One pytest-xdist worker per
# core: the tests of the quick book stay together on one worker (tests/conftest.py) while the others run the rest.
test: $(STAMP)
	$(BIN)/python -m pytest --tier fast -n auto

# The slow tier alone: fresh virtual environments, chapters built in scratch copies (faults, signals, caching),
# the whole book built twice (determinism), the long fuzz runs. CI runs `make test`, then this.
test-slow: $(STAMP)
	$(BIN)/python -m pytest --tier slow

# Both tiers in one run.
test-all: $(STAMP)
	$(BIN)/python -m pytest --tier all

# Static types of the library and the book machinery (mypy, configured in pyproject.toml).
typecheck: $(STAMP)
	$(BIN)/python -m mypy

# Every chapter at random draws from its parameter ranges (seeded: a failure is reproducible); prints each claim's
# worst margin (tolerance / error) and writes _build/outputs/sweep.json for the report. A chapter with a parameter
# that states no range cannot be drawn and fails the sweep.
sweep: $(STAMP)
	$(BIN)/python -m lmalign sweep --draws 2 --seed 20261207

# Strict: exits non-zero unless every registered claim passed in the last build (missing counts as failed).
check-claims: $(STAMP)
	$(BIN)/python -m lmalign claims

# ruff check and ruff format on the library, the tests, the benchmarks and the chapters' code cells (through
# jupytext: lmalign.book.chapterlint).
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m lmalign.book.chapterlint --check

# Format the library, the tests, the benchmarks and the chapters' code cells in place.
format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/python -m lmalign.book.chapterlint --fix

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_exact.py

# Regenerate src/lmalign/data/wordmodel/ from the wordfreq and vaderSentiment packages (pinned in requirements-data.txt,
# installed into .venv only by this target; the book itself builds from the committed files).
data: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-data.txt
	$(BIN)/python -m lmalign.book.make_wordmodel

clean:
	rm -rf _build
