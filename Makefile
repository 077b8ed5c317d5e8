# Two commands: `make book` builds the whole book; `make test` runs the whole test suite.
# Both create .venv and install the pinned dependencies (requirements.txt) when missing or changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book book-clean test check-claims lint bench data pdf clean

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

test: $(STAMP)
	$(BIN)/python -m pytest

# Strict: exits non-zero unless every registered claim passed in the last build (missing counts as failed).
check-claims: $(STAMP)
	$(BIN)/python -m lmalign claims

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_exact.py

# Regenerate src/lmalign/data/wordmodel/ from the wordfreq and vaderSentiment packages (pinned in requirements-data.txt,
# installed into .venv only by this target; the book itself builds from the committed files).
data: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-data.txt
	$(BIN)/python -m lmalign.book.make_wordmodel

clean:
	rm -rf _build
